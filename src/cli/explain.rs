//! `explain` and `report`: saliency maps of a pair, or of a query and its neighbours.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use serde::Serialize;

use super::{display, list_images, report_failure, same_file};
use crate::decode;
use crate::engine::Embedder;
use crate::explain::faithfulness::{self, Faithfulness};
use crate::explain::{Baseline, Explainer, Method, Params, Prepared, SaliencyMap, DEFAULT_METHOD};
use crate::render::figure::{self, Panel, ReportRow};
use crate::render::{raw_map, Scale};
use crate::search::EmbeddingMatrix;

#[derive(Args, Debug, Clone)]
pub struct MethodArgs {
    /// Saliency method
    #[arg(long, value_enum, default_value_t = DEFAULT_METHOD)]
    pub method: Method,
    /// SmoothGrad: number of noisy samples
    #[arg(long, default_value_t = Params::default().smooth_samples)]
    pub samples: usize,
    /// SmoothGrad: noise σ as a fraction of the input range
    #[arg(long, default_value_t = Params::default().smooth_sigma)]
    pub sigma: f32,
    /// Integrated gradients: number of steps
    #[arg(long, default_value_t = Params::default().ig_steps)]
    pub steps: usize,
    /// Integrated gradients: baseline image
    #[arg(long, value_enum, default_value_t = Baseline::Grey)]
    pub baseline: Baseline,
    /// Seed of the SmoothGrad noise and of the random ordering in the faithfulness check
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl MethodArgs {
    fn params(&self) -> Params {
        Params {
            smooth_samples: self.samples,
            smooth_sigma: self.sigma,
            ig_steps: self.steps,
            ig_baseline: self.baseline,
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
    #[command(flatten)]
    pub method: MethodArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The query image
    pub image: PathBuf,
    /// Folder to search for neighbours
    #[arg(long = "in", value_name = "DIR")]
    pub dir: PathBuf,
    /// Number of neighbours
    #[arg(short, default_value_t = 5)]
    pub k: usize,
    /// Output PNG
    #[arg(short, long, value_name = "PNG")]
    pub output: PathBuf,
    #[command(flatten)]
    pub method: MethodArgs,
}

/// A decoded image ready to explain.
struct Loaded {
    path: PathBuf,
    photo: RgbImage,
    prepared: Prepared,
}

fn load(explainer: &Explainer, path: &Path) -> Result<Loaded> {
    let photo = decode::load_rgb(path)?;
    let prepared = explainer.prepare(explainer.embedder.preprocess.prepare(&photo))?;
    Ok(Loaded {
        path: path.to_path_buf(),
        photo,
        prepared,
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| display(p))
}

#[derive(Serialize)]
struct Side {
    path: String,
    width: u32,
    height: u32,
    /// Peak of the map in the image's pixels (EXIF-oriented).
    peak: (u32, u32),
    faithfulness: Option<FaithSummary>,
}

#[derive(Serialize)]
struct FaithSummary {
    deletion_auc: f32,
    insertion_auc: f32,
    random_deletion_auc: f32,
    random_insertion_auc: f32,
}

impl From<&Faithfulness> for FaithSummary {
    fn from(f: &Faithfulness) -> Self {
        Self {
            deletion_auc: f.deletion_auc,
            insertion_auc: f.insertion_auc,
            random_deletion_auc: f.random_deletion_auc,
            random_insertion_auc: f.random_insertion_auc,
        }
    }
}

#[derive(Serialize)]
struct ExplainOutput {
    score: f32,
    method: Method,
    a: Side,
    b: Side,
    files: Vec<String>,
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
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn explain(embedder: &Embedder, args: &ExplainArgs) -> Result<ExitCode> {
    let method = args.method.method;
    let explainer = Explainer::new(embedder, args.method.params());
    let a = load(&explainer, &args.a)?;
    let b = load(&explainer, &args.b)?;
    let t = Instant::now();
    let pair = explainer.explain_pair(method, &a.prepared, &b.prepared)?;
    let map_ms = t.elapsed().as_secs_f64() * 1e3;
    let evaluate = args.eval || args.json || args.output.is_some();
    let faith = if evaluate {
        let seed = args.method.seed;
        Some((
            faithfulness::evaluate(
                embedder,
                &a.prepared.input,
                &b.prepared.embedding,
                &pair.a,
                seed,
            )?,
            faithfulness::evaluate(
                embedder,
                &b.prepared.input,
                &a.prepared.embedding,
                &pair.b,
                seed,
            )?,
        ))
    } else {
        None
    };

    let mut files = Vec::new();
    let (an, bn) = (file_name(&a.path), file_name(&b.path));
    if let Some(out) = &args.output {
        let fig = figure::pair(
            &Panel {
                name: &an,
                photo: &a.photo,
                map: &pair.a,
                faithfulness: faith.as_ref().map(|f| &f.0),
            },
            &Panel {
                name: &bn,
                photo: &b.photo,
                map: &pair.b,
                faithfulness: faith.as_ref().map(|f| &f.1),
            },
            pair.score,
            method,
        );
        save_png(&fig, out)?;
        files.push(display(out));
    }
    if let Some(prefix) = &args.raw_out {
        let scale = Scale::shared(&[&pair.a, &pair.b]);
        for (suffix, map, photo) in [("a", &pair.a, &a.photo), ("b", &pair.b, &b.photo)] {
            let path = PathBuf::from(format!("{}-{suffix}.png", prefix.display()));
            save_png(&raw_map(map, &scale, photo.width(), photo.height()), &path)?;
            files.push(display(&path));
        }
    }

    let side = |l: &Loaded, map: &SaliencyMap, f: Option<&Faithfulness>| Side {
        path: display(&l.path),
        width: l.photo.width(),
        height: l.photo.height(),
        peak: figure::peak_px(map, &l.photo),
        faithfulness: f.map(FaithSummary::from),
    };
    let out = ExplainOutput {
        score: pair.score,
        method,
        a: side(&a, &pair.a, faith.as_ref().map(|f| &f.0)),
        b: side(&b, &pair.b, faith.as_ref().map(|f| &f.1)),
        files,
        map_ms,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        writeln!(
            stdout,
            "{an} ↔ {bn}: cosine {:.4}, method {} ({map_ms:.0} ms)",
            out.score,
            method.name()
        )?;
        for (k, s) in [("A", &out.a), ("B", &out.b)] {
            write!(
                stdout,
                "  {k} {}: peak at ({}, {}) px",
                file_name(Path::new(&s.path)),
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
        for f in &out.files {
            writeln!(stdout, "wrote {f}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(embedder: &Embedder, args: &ReportArgs) -> Result<ExitCode> {
    let method = args.method.method;
    let explainer = Explainer::new(embedder, args.method.params());
    let query = load(&explainer, &args.image)?;
    let candidates: Vec<PathBuf> = list_images(&args.dir)?
        .into_iter()
        .filter(|p| !same_file(p, &query.path))
        .collect();
    let mut found = Vec::new();
    for e in embedder.embed_paths(&candidates)? {
        match e.result {
            Ok(v) => found.push((e.path, v)),
            Err(err) => report_failure(&err),
        }
    }
    let (paths, embeddings): (Vec<PathBuf>, Vec<Vec<f32>>) = found.into_iter().unzip();
    let matrix = EmbeddingMatrix::new(paths, &embeddings);
    let mut neighbours = Vec::new();
    for (i, score) in matrix.top_k(&query.prepared.embedding, args.k, None) {
        let n = load(&explainer, &matrix.paths[i])?;
        let pair = explainer.explain_pair(method, &query.prepared, &n.prepared)?;
        neighbours.push((n, pair, score));
    }
    let names: Vec<String> = neighbours
        .iter()
        .map(|(n, _, _)| file_name(&n.path))
        .collect();
    let rows: Vec<ReportRow> = neighbours
        .iter()
        .zip(&names)
        .map(|((n, pair, score), name)| ReportRow {
            query_map: &pair.a,
            neighbour: Panel {
                name,
                photo: &n.photo,
                map: &pair.b,
                faithfulness: None,
            },
            score: *score,
        })
        .collect();
    let fig = figure::report(
        &file_name(&query.path),
        &query.photo,
        &rows,
        method,
        &display(&args.dir),
    );
    save_png(&fig, &args.output)?;
    for (name, (_, _, score)) in names.iter().zip(&neighbours) {
        println!("{score:.4}  {name}");
    }
    println!("wrote {}", display(&args.output));
    Ok(ExitCode::SUCCESS)
}
