//! Command-line definitions and dispatch. Only argument handling and output formatting live
//! here; the work is done by `engine`, `bench` and friends.

/// A line on stderr. Unlike `eprintln!` it does not panic when stderr is a closed pipe
/// (`simtui index … 2>&1 | head -1`) or a terminal that hung up: the message is dropped.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bench;
mod compare;
mod embed;
mod explain;
mod index;
pub mod output;
mod region;
mod tui_args;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::engine::Embedder;
use crate::model::Preprocess;
use crate::space::{Similarity, Space};

pub use bench::BenchArgs;
pub use explain::{BaselineArg, ExplainArgs, MethodArg, ReportArgs};
pub use index::{ExportFormat, ExportSpace, FolderArgs};
pub use tui_args::{ColorsArg, GraphicsArg, TuiArgs};

/// Default `dups` threshold in the centred space: the best F1 on the tuning half of the
/// near-duplicate set built from the fixtures (crop, JPEG q20, 1/4 downscale, +20 brightness,
/// mirror; `tests/heldout.rs` `table_duplicate_threshold`); on the held-out half it finds 96.8 %
/// of the duplicate pairs at precision 1.000.
pub const DEFAULT_DUP_THRESHOLD: f32 = 0.685;

/// The seed's default for the plain cosine (`--similarity plain`), kept as it was.
pub const PLAIN_DUP_THRESHOLD: f32 = 0.90;

#[derive(Parser, Debug)]
#[command(
    name = "simtui",
    version,
    about = "Explore a folder of photos by visual similarity and see why two images look alike",
    after_help = "Exit status: 0 all good; 1 some inputs were skipped or failed (each is named on stderr); 2 usage error or nothing could be done; 130 interrupted."
)]
pub struct Cli {
    /// Folder of photos to explore
    pub dir: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    #[command(flatten)]
    pub folder: FolderArgs,

    #[command(flatten)]
    pub tui: TuiArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Use this EfficientNet-Lite0 safetensors checkpoint instead of the bundled one
    #[arg(long, global = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Colour-blind similarity: feed the luminance to all three channels
    #[arg(long, global = true)]
    pub grayscale: bool,

    /// Most memory decoding may hold at once, in MiB (larger JPEGs decode at reduced size,
    /// other larger images are refused)
    #[arg(long, global = true, value_name = "MIB", default_value_t = crate::engine::DEFAULT_MEMORY_LIMIT >> 20,
          value_parser = clap::value_parser!(u64).range(16..=1 << 20))]
    pub max_image_mb: u64,

    /// The score that ranks, groups and is explained: centred (unrelated photos near 0,
    /// duplicates near 1) or plain (the raw cosine, ~0.2–0.3 for any two photos)
    #[arg(long, global = true, value_enum, default_value_t = SimilarityArg::Centred)]
    pub similarity: SimilarityArg,
}

/// `--similarity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimilarityArg {
    /// cos(φ(a) − μ, φ(b) − μ), μ the model's prior mean feature (space "centred-v1")
    Centred,
    /// cos(φ(a), φ(b)) of the raw pooled features
    Plain,
}

impl From<SimilarityArg> for Similarity {
    fn from(s: SimilarityArg) -> Similarity {
        match s {
            SimilarityArg::Centred => Similarity::Centred,
            SimilarityArg::Plain => Similarity::Plain,
        }
    }
}

/// The `dups` and `compare` threshold when none is given, for each space (see the README for
/// how each was measured).
pub fn default_dup_threshold(similarity: Similarity) -> f32 {
    match similarity {
        Similarity::Centred => DEFAULT_DUP_THRESHOLD,
        Similarity::Plain => PLAIN_DUP_THRESHOLD,
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the 1280-d embedding (global-average-pooled EfficientNet-Lite0 feature) of images
    Embed {
        #[arg(required = true, value_name = "IMG")]
        images: Vec<PathBuf>,
        /// One JSON object per line: {"path", "embedding": [1280 floats]}
        #[arg(long)]
        json: bool,
    },
    /// Print the most likely ImageNet classes of images
    Classify {
        #[arg(required = true, value_name = "IMG")]
        images: Vec<PathBuf>,
        /// How many classes to show per image (at least 1)
        #[arg(long, default_value_t = 5, value_parser = parse_count)]
        top: usize,
        /// One JSON object per line: {"path", "top": [{"index", "label", "prob"}]}
        #[arg(long)]
        json: bool,
    },
    /// Index a folder (as needed): prints counts, and each skipped file with its reason
    Index {
        dir: PathBuf,
        #[command(flatten)]
        folder: FolderArgs,
        #[arg(long)]
        json: bool,
    },
    /// The images of a folder most similar to IMG (which may be outside it)
    Similar {
        image: PathBuf,
        /// Folder to search (indexed as needed)
        #[arg(long = "in", value_name = "DIR")]
        dir: PathBuf,
        /// Number of results (at least 1; more than the folder holds gives the whole folder)
        #[arg(short, default_value_t = 10, value_parser = parse_count)]
        k: usize,
        #[command(flatten)]
        folder: FolderArgs,
        /// [{"path", "score"}] (with --region also "first_pass_score" and "box")
        #[arg(long)]
        json: bool,
        /// Search for this rectangle of IMG (pixels of the upright photo) and say where each
        /// result holds it
        #[arg(long, value_name = "X0,Y0,X1,Y1")]
        region: Option<crate::index::region::Region>,
    },
    /// Groups of near-duplicates (each member linked to its group at cosine ≥ threshold)
    Dups {
        dir: PathBuf,
        /// Similarity at or above which two photos are near-duplicates, in [-1, 1]
        /// [default: 0.685 centred, 0.90 plain]
        #[arg(long, value_parser = parse_cosine)]
        threshold: Option<f32>,
        #[command(flatten)]
        folder: FolderArgs,
        #[arg(long)]
        json: bool,
    },
    /// Export embeddings and paths for FAISS, Qdrant or numpy
    Export {
        dir: PathBuf,
        #[arg(long, value_enum)]
        format: ExportFormat,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Replace an existing output file (never a photo of the folder)
        #[arg(long)]
        force: bool,
        /// Which vectors: the raw pooled features, or unit vectors of the centred space
        /// (ready for an inner-product index: their dot product is `similar`'s score)
        #[arg(long, value_enum, default_value_t = ExportSpace::Raw)]
        space: ExportSpace,
        #[command(flatten)]
        folder: FolderArgs,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Explain why two images look alike: saliency maps over both, PNG and JSON output
    Explain(ExplainArgs),
    /// A query and its top-k neighbours in a folder, each pair with its heatmaps, in one PNG
    Report(ReportArgs),
    /// Measure forward throughput and saliency cost, against PyTorch when it is installed
    Bench(BenchArgs),
    /// Are A and B the same picture? Prints their score; exit 0 at or above the threshold, 1 below
    Compare(compare::CompareArgs),
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    crate::engine::set_decode_memory_limit(cli.model.max_image_mb << 20);
    let pre = Preprocess {
        grayscale: cli.model.grayscale,
    };
    let weights = cli.model.weights.as_deref();
    let similarity = Similarity::from(cli.model.similarity);
    if let (Some(dir), Some(_)) = (&cli.dir, &cli.command) {
        anyhow::bail!(
            "{}: a folder before a subcommand is for the TUI (`simtui DIR`); subcommands take their folder after them",
            output::human(dir)
        );
    }
    // Folder options given before the subcommand count as well (`simtui --db X index DIR`).
    let top = cli.folder.clone();
    let merged = |f: FolderArgs| f.or(&top);
    let model = || Embedder::new(weights, pre);
    let space = |e: &Embedder| e.space(similarity);
    match cli.command {
        Some(Command::Embed { images, json }) => embed::embed(&model()?, &images, json),
        Some(Command::Index { dir, folder, json }) => {
            index::index(&model()?, &dir, &merged(folder), json)
        }
        Some(Command::Similar {
            image,
            dir,
            k,
            folder,
            json,
            region: Some(region),
        }) => {
            let e = model()?;
            let query = region::RegionQuery {
                image: &image,
                region,
            };
            region::similar_region(&e, &space(&e), query, &dir, k, &merged(folder), json)
        }
        Some(Command::Similar {
            image,
            dir,
            k,
            folder,
            json,
            region: None,
        }) => {
            let e = model()?;
            index::similar(&e, &space(&e), &image, &dir, k, &merged(folder), json)
        }
        Some(Command::Dups {
            dir,
            threshold,
            folder,
            json,
        }) => {
            let e = model()?;
            let threshold = threshold.unwrap_or_else(|| default_dup_threshold(similarity));
            index::dups(&e, &space(&e), &dir, threshold, &merged(folder), json)
        }
        Some(Command::Export {
            dir,
            format,
            output,
            force,
            space: which,
            folder,
        }) => {
            let e = model()?;
            let vectors = match which {
                ExportSpace::Raw => None,
                ExportSpace::Centred => Some(e.space(Similarity::Centred)),
            };
            index::export(
                &e,
                vectors.as_ref(),
                &dir,
                format,
                &output,
                force,
                &merged(folder),
            )
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            use std::io::Write;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "simtui", &mut script);
            std::io::stdout()
                .write_all(&script)
                .context("cannot write completions")?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Explain(args)) => {
            let e = model()?;
            explain::explain(&e, space(&e), &args)
        }
        Some(Command::Report(mut args)) => {
            args.folder = merged(args.folder);
            let e = model()?;
            explain::report(&e, space(&e), &args)
        }
        Some(Command::Classify { images, top, json }) => {
            embed::classify(&model()?, &images, top, json)
        }
        Some(Command::Compare(args)) => {
            let e = model()?;
            let threshold = args
                .threshold
                .unwrap_or_else(|| default_dup_threshold(similarity));
            compare::compare(&e, &space(&e), threshold, &args)
        }
        Some(Command::Bench(args)) => {
            crate::bench::run(&model()?, &args.into())?;
            Ok(ExitCode::SUCCESS)
        }
        None => crate::tui::run(crate::tui::Options {
            dir: cli.dir.unwrap_or_else(|| PathBuf::from(".")),
            db: cli.folder.db.clone(),
            scan: cli.folder.scan_options(),
            space: Space::for_weights(similarity, weights)?,
            weights: cli.model.weights.clone(),
            preprocess: pre,
            tui: cli.tui.into(),
        }),
    }
}

/// Decode errors already name their file: `{:#}` prints the chain "x.jpg: cannot decode: …",
/// sanitised because the name comes from the disk.
pub fn report_failure(err: &anyhow::Error) {
    note!("error: {}", crate::text::sanitize(&format!("{err:#}")));
}

/// Files of a folder that could not be used, said once on stderr after the results (their
/// reasons are listed by `simtui index DIR`).
pub fn note_skipped(skipped: usize, dir: &Path) {
    if skipped > 0 {
        note!(
            "{skipped} file(s) in {} could not be used (`simtui index {}` lists them with their reasons)",
            output::human(dir),
            output::human(dir)
        );
    }
}

/// `-k`, `--top`: a count of at least 1. Values above what there is are clamped where they are
/// used, so a huge `-k` means "all".
fn parse_count(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<u128>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(e) => Err(e.to_string()),
    }
}

/// A cosine threshold: a finite number in [-1, 1].
fn parse_cosine(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && (-1.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} is not a cosine: use a number from -1 to 1"))
    }
}

pub fn exit_code(failures: usize) -> ExitCode {
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        note!("{failures} input(s) failed");
        ExitCode::FAILURE
    }
}

/// Whether two paths name the same file (after resolving links and `..`).
pub fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
