//! Command-line definitions and dispatch. Only argument handling and output formatting live
//! here; the work is done by `engine`, `bench` and friends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::bench::{self, BenchArgs};
use crate::engine::{self, Embedder};
use crate::model::{imagenet_labels, Preprocess};

#[derive(Parser, Debug)]
#[command(
    name = "simtui",
    version,
    about = "Explore a folder of photos by visual similarity and see why two images look alike",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Folder of photos to explore
    pub dir: Option<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

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
        /// How many classes to show per image
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// One JSON object per line: {"path", "top": [{"index", "label", "prob"}]}
        #[arg(long)]
        json: bool,
    },
    /// Measure forward throughput and saliency cost, against PyTorch when it is installed
    Bench(BenchArgs),
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let pre = Preprocess {
        grayscale: cli.model.grayscale,
    };
    let weights = cli.model.weights.as_deref();
    match cli.command {
        Some(Command::Embed { images, json }) => {
            embed(&Embedder::new(weights, pre)?, &images, json)
        }
        Some(Command::Classify { images, top, json }) => {
            classify(&Embedder::new(weights, pre)?, &images, top, json)
        }
        Some(Command::Bench(args)) => {
            bench::run(&Embedder::new(weights, pre)?, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let dir = cli.dir.unwrap_or_else(|| PathBuf::from("."));
            neighbours_of_folder(&Embedder::new(weights, pre)?, &dir)
        }
    }
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Decode errors already name their file: `{:#}` prints the chain "x.jpg: cannot decode: …".
fn report_failure(err: &anyhow::Error) {
    eprintln!("error: {err:#}");
}

fn exit_code(failures: usize) -> ExitCode {
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failures} input(s) failed");
        ExitCode::FAILURE
    }
}

#[derive(Serialize)]
struct EmbeddingLine<'a> {
    path: String,
    embedding: &'a [f32],
}

fn embed(embedder: &Embedder, images: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failures = 0;
    for e in embedder.embed_paths(images)? {
        match &e.result {
            Ok(v) if json => {
                let line = EmbeddingLine {
                    path: display(&e.path),
                    embedding: v,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            }
            Ok(v) => {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.4}")).collect();
                writeln!(
                    out,
                    "{}\tdim={} norm={norm:.3} [{} …]",
                    display(&e.path),
                    v.len(),
                    head.join(" ")
                )?;
            }
            Err(err) => {
                failures += 1;
                report_failure(err);
            }
        }
    }
    Ok(exit_code(failures))
}

#[derive(Serialize)]
struct ClassLine {
    path: String,
    top: Vec<ClassScore>,
}

#[derive(Serialize)]
struct ClassScore {
    index: usize,
    label: &'static str,
    prob: f32,
}

fn classify(embedder: &Embedder, images: &[PathBuf], top: usize, json: bool) -> Result<ExitCode> {
    let labels = imagenet_labels();
    let mut out = std::io::stdout().lock();
    let mut failures = 0;
    for e in embedder.embed_paths(images)? {
        let v = match &e.result {
            Ok(v) => v,
            Err(err) => {
                failures += 1;
                report_failure(err);
                continue;
            }
        };
        let t = candle_core::Tensor::from_slice(v, (1, v.len()), &candle_core::Device::Cpu)?;
        let probs = embedder.class_probabilities(&t)?.remove(0);
        let best: Vec<ClassScore> = engine::top_k(&probs, top)
            .into_iter()
            .map(|(index, prob)| ClassScore {
                index,
                label: labels[index],
                prob,
            })
            .collect();
        if json {
            let line = ClassLine {
                path: display(&e.path),
                top: best,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(out, "{}", display(&e.path))?;
            for c in best {
                writeln!(out, "  {:6.2}%  {} ({})", c.prob * 100.0, c.label, c.index)?;
            }
        }
    }
    Ok(exit_code(failures))
}

/// Supported photo extensions (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Until the TUI lands: embed every photo directly in `dir` and print its nearest neighbours.
fn neighbours_of_folder(embedder: &Embedder, dir: &Path) -> Result<ExitCode> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    paths.sort();
    if paths.is_empty() {
        anyhow::bail!(
            "no photos ({}) in {}",
            IMAGE_EXTENSIONS.join(", "),
            dir.display()
        );
    }
    eprintln!("embedding {} photos in {} …", paths.len(), dir.display());
    let mut ok = Vec::new();
    let mut failures = 0;
    for e in embedder.embed_paths(&paths)? {
        match e.result {
            Ok(v) => ok.push((e.path, v)),
            Err(err) => {
                failures += 1;
                report_failure(&err);
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for (i, (p, v)) in ok.iter().enumerate() {
        let scores: Vec<f32> = ok.iter().map(|(_, w)| engine::cosine(v, w)).collect();
        let mut ranked = engine::top_k(&scores, 4);
        ranked.retain(|(j, _)| *j != i);
        ranked.truncate(3);
        let row: Vec<String> = ranked
            .iter()
            .map(|(j, s)| format!("{} {:.3}", name(&ok[*j].0), s))
            .collect();
        writeln!(out, "{:<36} → {}", name(p), row.join(", "))?;
    }
    Ok(exit_code(failures))
}
