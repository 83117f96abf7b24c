//! `explain` and `report`: saliency maps of a pair, or of a query and its neighbours. Both
//! only parse, call the pair service (`explain::pair`) and print.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::index::{index_folder, FolderArgs};
use super::output::{self, human, JsonPath};
use super::same_file;
use crate::engine::Embedder;
use crate::explain::faithfulness::Scores;
use crate::explain::pair::{self, always, PairService, Photo};
use crate::explain::{Baseline, Explainer, Method, Params, SaliencyMap, DEFAULT_METHOD};
use crate::render::figure::{self, Look, Panel, ReportRow};
use crate::render::{raw_map, Scale};
use crate::search::EmbeddingMatrix;
use crate::space::Space;

/// `--method`: the saliency methods as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// The cells' Shapley values for the cosine, refined to 14×14 by gradient × activation,
    /// each cell's share moving at most one cell (sums to the score)
    RefinedShapley,
    /// Shapley values of the 7×7 cells for the cosine of their pooled feature (sums to the
    /// score; no backward pass)
    Shapley,
    /// The exact cell split refined to 14×14 by gradient × activation, each cell's share moving
    /// at most one cell (still sums to the score)
    RefinedDecomposition,
    /// Exact split of the similarity into the 7×7 cells of the last feature map (no backward pass)
    Decomposition,
    /// |∂T/∂x|, the largest over the colour channels
    Gradient,
    /// ∂T/∂x · x summed over channels (x relative to the grey image)
    GradXInput,
    /// Gradient magnitude averaged over noisy copies of the image
    Smoothgrad,
    /// Path integral of the gradient from a baseline image; sums to T(x) − T(baseline)
    IntegratedGradients,
    /// Grad-CAM on T at the input of the head convolution (7×7×320)
    Gradcam,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::RefinedShapley => Method::RefinedShapley,
            MethodArg::Shapley => Method::Shapley,
            MethodArg::RefinedDecomposition => Method::RefinedDecomposition,
            MethodArg::Decomposition => Method::Decomposition,
            MethodArg::Gradient => Method::Gradient,
            MethodArg::GradXInput => Method::GradXInput,
            MethodArg::Smoothgrad => Method::Smoothgrad,
            MethodArg::IntegratedGradients => Method::IntegratedGradients,
            MethodArg::Gradcam => Method::Gradcam,
        }
    }
}

impl From<Method> for MethodArg {
    fn from(m: Method) -> MethodArg {
        match m {
            Method::RefinedShapley => MethodArg::RefinedShapley,
            Method::Shapley => MethodArg::Shapley,
            Method::RefinedDecomposition => MethodArg::RefinedDecomposition,
            Method::Decomposition => MethodArg::Decomposition,
            Method::Gradient => MethodArg::Gradient,
            Method::GradXInput => MethodArg::GradXInput,
            Method::Smoothgrad => MethodArg::Smoothgrad,
            Method::IntegratedGradients => MethodArg::IntegratedGradients,
            Method::Gradcam => MethodArg::Gradcam,
        }
    }
}

/// `--baseline` of integrated gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineArg {
    /// Uniform grey (pixel 127, the zero of the normalised input)
    Grey,
    /// Black
    Black,
    /// A Gaussian-blurred copy of the image (σ = 12 px at 224×224)
    Blur,
}

impl From<BaselineArg> for Baseline {
    fn from(b: BaselineArg) -> Baseline {
        match b {
            BaselineArg::Grey => Baseline::Grey,
            BaselineArg::Black => Baseline::Black,
            BaselineArg::Blur => Baseline::Blur,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct MethodArgs {
    /// Saliency method
    #[arg(long, value_enum, default_value_t = MethodArg::from(DEFAULT_METHOD))]
    pub method: MethodArg,
    /// SmoothGrad: number of noisy samples (1–10000)
    #[arg(long, default_value_t = Params::default().smooth_samples, value_parser = |s: &str| parse_count_in(s, 10_000))]
    pub samples: usize,
    /// SmoothGrad: noise σ as a fraction of the input range (above 0, at most 10)
    #[arg(long, default_value_t = Params::default().smooth_sigma, value_parser = parse_sigma)]
    pub sigma: f32,
    /// Integrated gradients: number of steps (1–512; each step holds one 224×224 input)
    #[arg(long, default_value_t = Params::default().ig_steps, value_parser = |s: &str| parse_count_in(s, 512))]
    pub steps: usize,
    /// Integrated gradients: baseline image
    #[arg(long, value_enum, default_value_t = BaselineArg::Grey)]
    pub baseline: BaselineArg,
    /// Seed of the SmoothGrad noise and of the random ordering in the faithfulness check
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// A count from 1 to `max`.
fn parse_count_in(s: &str, max: usize) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("use a number from 1 to {max}")),
        Err(e) => Err(e.to_string()),
    }
}

/// `--sigma`: finite, above 0 and at most 10 input ranges.
fn parse_sigma(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 10.0 {
        Ok(v)
    } else {
        Err(format!("{s}: use a number above 0 and at most 10"))
    }
}

impl MethodArgs {
    fn method(&self) -> Method {
        self.method.into()
    }

    fn params(&self) -> Params {
        Params {
            smooth_samples: self.samples,
            smooth_sigma: self.sigma,
            ig_steps: self.steps,
            ig_baseline: self.baseline.into(),
            seed: self.seed,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// First image (the query)
    pub a: PathBuf,
    /// Second image (the neighbour)
    pub b: PathBuf,
    /// Write the pair with its heatmaps, colour bar and figures to this PNG
    #[arg(short, long, value_name = "PNG")]
    pub output: Option<PathBuf>,
    /// Also write each map as 16-bit greyscale PNG at the image's resolution: PREFIX-a.png, PREFIX-b.png
    #[arg(long, value_name = "PREFIX")]
    pub raw_out: Option<PathBuf>,
    /// Print deletion/insertion faithfulness figures (also put into --output and --json)
    #[arg(long)]
    pub eval: bool,
    /// Print one JSON object: score, method, AUCs, peaks, files written
    #[arg(long)]
    pub json: bool,
    /// Replace existing output files (never one of the two photos)
    #[arg(long)]
    pub force: bool,
    /// Draw both signs: red where a region makes the pair alike, blue where it argues against
    #[arg(long)]
    pub signed: bool,
    /// Cell-to-cell correspondence of the centred score instead of maps: -o draws the
    /// strongest pairs as lines between the photos, --json lists them with their boxes
    #[arg(long)]
    pub correspondence: bool,
    #[command(flatten)]
    pub method: MethodArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The query image
    pub image: PathBuf,
    /// Folder to search for neighbours (indexed as needed, like `similar`)
    #[arg(long = "in", value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of neighbours
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Output PNG
    #[arg(short, long, value_name = "PNG")]
    pub output: PathBuf,
    /// Replace an existing output file (never a photo of the folder or the query)
    #[arg(long)]
    pub force: bool,
    /// Draw both signs: red where a region makes the pair alike, blue where it argues against
    #[arg(long)]
    pub signed: bool,
    #[command(flatten)]
    pub method: MethodArgs,
    #[command(flatten)]
    pub folder: FolderArgs,
}

#[derive(Serialize)]
struct Side {
    #[serde(flatten)]
    path: JsonPath,
    width: u32,
    height: u32,
    /// Peak of the map in the image's pixels (EXIF-oriented).
    peak: (u32, u32),
    faithfulness: Option<Scores>,
}

#[derive(Serialize)]
struct ExplainOutput {
    score: f32,
    /// Which score: "centred-v1" or "plain".
    space: String,
    method: Method,
    a: Side,
    b: Side,
    files: Vec<JsonPath>,
    map_ms: f64,
}

fn save_png<P: image::PixelWithColorType, C: std::ops::Deref<Target = [P::Subpixel]>>(
    img: &image::ImageBuffer<P, C>,
    path: &Path,
) -> Result<()>
where
    [P::Subpixel]: image::EncodableLayout,
{
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", human(path)))
}

pub fn explain(embedder: &Embedder, space: Space, args: &ExplainArgs) -> Result<ExitCode> {
    if args.correspondence {
        return super::compare::explain_correspondence(embedder, &space, args);
    }
    let method = args.method.method();
    let service = PairService::new(Explainer::in_space(embedder, args.method.params(), space));
    let raw_paths: Vec<PathBuf> = match &args.raw_out {
        Some(prefix) => ["a", "b"]
            .iter()
            .map(|s| PathBuf::from(format!("{}-{s}.png", prefix.display())))
            .collect(),
        None => Vec::new(),
    };
    // Checked before any work, so a refused path costs nothing.
    let outputs: Vec<PathBuf> = args
        .output
        .iter()
        .cloned()
        .chain(raw_paths.clone())
        .collect();
    output::check_outputs(&outputs, args.force, &[args.a.as_path(), args.b.as_path()])?;
    let a = service.load(&args.a)?;
    let b = service.load(&args.b)?;
    let maps = service
        .maps(method, &a, &b, &always)?
        .context("the pair's maps were cancelled")?;
    let pair = &maps.explanation;
    let evaluate = args.eval || args.json || args.output.is_some();
    let scores = if evaluate {
        service.faithfulness(&a, &b, pair, &always)?
    } else {
        None
    };

    let mut files = Vec::new();
    let (an, bn) = (pair::file_name(&a.path), pair::file_name(&b.path));
    if let Some(out) = &args.output {
        save_png(
            &pair::figure(
                &a,
                &b,
                pair,
                scores.as_ref(),
                [&an, &bn],
                Look {
                    signed: args.signed,
                    score_name: pair::score_name(&service.explainer.space),
                },
            ),
            out,
        )?;
        files.push(out.clone());
    }
    if let [raw_a, raw_b] = raw_paths.as_slice() {
        let scale = Scale::shared(&[&pair.a, &pair.b]);
        for (path, map, photo) in [(raw_a, &pair.a, &a.image), (raw_b, &pair.b, &b.image)] {
            save_png(&raw_map(map, &scale, photo.width(), photo.height()), path)?;
            files.push(path.clone());
        }
    }

    let side = |p: &Photo, map: &SaliencyMap, f: Option<Scores>| Side {
        path: JsonPath::new(&p.path),
        width: p.image.width(),
        height: p.image.height(),
        peak: figure::peak_px(map, &p.image),
        faithfulness: f,
    };
    let map_ms = maps.millis;
    let out = ExplainOutput {
        score: pair.score,
        space: service.explainer.space.version().to_string(),
        method,
        a: side(&a, &pair.a, scores.map(|s| s[0])),
        b: side(&b, &pair.b, scores.map(|s| s[1])),
        files: files.iter().map(|f| JsonPath::new(f)).collect(),
        map_ms,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        writeln!(
            stdout,
            "{} ↔ {}: {} similarity {:.4}, method {} ({map_ms:.0} ms)",
            crate::text::sanitize(&an),
            crate::text::sanitize(&bn),
            service.explainer.space.similarity().name(),
            out.score,
            method.name()
        )?;
        for (k, s, name) in [("A", &out.a, &an), ("B", &out.b, &bn)] {
            write!(
                stdout,
                "  {k} {}: peak at ({}, {}) px",
                crate::text::sanitize(name),
                s.peak.0,
                s.peak.1
            )?;
            if let Some(f) = &s.faithfulness {
                write!(
                    stdout,
                    "; deletion AUC {:.3} (random {:.3}), insertion AUC {:.3} (random {:.3})",
                    f.deletion_auc, f.random_deletion_auc, f.insertion_auc, f.random_insertion_auc
                )?;
            }
            writeln!(stdout)?;
        }
        for f in &files {
            writeln!(stdout, "wrote {}", human(f))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(embedder: &Embedder, space: Space, args: &ReportArgs) -> Result<ExitCode> {
    let method = args.method.method();
    let service = PairService::new(Explainer::in_space(
        embedder,
        args.method.params(),
        space.clone(),
    ));
    let query = service.load(&args.image)?;
    // The neighbours come from the folder's cached index, as for `similar`; only the k
    // photos shown are decoded again, at full resolution, for their maps.
    let (summary, indexed) = index_folder(embedder, &args.dir, &args.folder, false)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let exclude = full.iter().position(|p| same_file(p, &query.path));
    let photos: Vec<&Path> = full
        .iter()
        .map(PathBuf::as_path)
        .chain([args.image.as_path()])
        .collect();
    output::check_output(&args.output, args.force, photos.iter().copied())?;
    let matrix = EmbeddingMatrix::in_space(full, &indexed.embeddings, space);
    let mut neighbours = Vec::new();
    for (i, score) in matrix.top_k(&query.prepared.embedding, args.k, exclude) {
        let n = service.load(&matrix.paths[i])?;
        let maps = service
            .maps(method, &query, &n, &always)?
            .context("the pair's maps were cancelled")?;
        neighbours.push((n, maps.explanation, score));
    }
    let names: Vec<String> = neighbours
        .iter()
        .map(|(n, _, _)| pair::file_name(&n.path))
        .collect();
    let rows: Vec<ReportRow> = neighbours
        .iter()
        .zip(&names)
        .map(|((n, pair, score), name)| ReportRow {
            query_map: &pair.a,
            neighbour: Panel {
                name,
                photo: &n.image,
                map: &pair.b,
                faithfulness: None,
            },
            score: *score,
        })
        .collect();
    let fig = figure::report(
        &pair::file_name(&query.path),
        &query.image,
        &rows,
        method,
        &crate::text::path(&args.dir),
        Look {
            signed: args.signed,
            score_name: pair::score_name(&service.explainer.space),
        },
    );
    save_png(&fig, &args.output)?;
    let mut stdout = std::io::stdout().lock();
    for (name, (_, _, score)) in names.iter().zip(&neighbours) {
        writeln!(stdout, "{score:.4}  {}", crate::text::sanitize(name))?;
    }
    writeln!(stdout, "wrote {}", human(&args.output))?;
    super::note_skipped(summary.skipped.len(), &args.dir);
    Ok(if summary.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
