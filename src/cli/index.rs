//! `index`, `similar`, `dups`, `export`: the folder index from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{display, same_file};
use crate::decode;
use crate::engine::Embedder;
use crate::index::{self, Cache, Event, Indexed, ScanOptions, Summary};
use crate::model::INPUT_SIZE;
use crate::search::EmbeddingMatrix;

#[derive(Args, Debug, Clone)]
pub struct FolderArgs {
    /// Index database (default: one per folder in the user's cache directory)
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Only the folder itself, not its subfolders
    #[arg(long)]
    pub no_recursive: bool,
    /// Follow symbolic links (loops are detected and reported)
    #[arg(long)]
    pub follow_links: bool,
}

impl FolderArgs {
    pub fn scan_options(&self) -> ScanOptions {
        ScanOptions {
            recursive: !self.no_recursive,
            follow_links: self.follow_links,
        }
    }
}

/// Set by Ctrl-C: the pipeline finishes the batch in flight, stores it and stops.
fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    // Only one handler per process; a second registration fails harmlessly.
    let _ = ctrlc::set_handler(move || {
        if s.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        note!("\ninterrupted: storing what is embedded so far (Ctrl-C again to quit now)");
    });
    stop
}

/// Indexes `dir` (as needed) with a progress bar on stderr; returns the summary and index.
pub fn index_folder(
    embedder: &Embedder,
    dir: &Path,
    args: &FolderArgs,
    quiet: bool,
) -> Result<(Summary, Indexed)> {
    let db = match &args.db {
        Some(p) => p.clone(),
        None => Cache::default_path(dir)?,
    };
    let mut cache = Cache::open(&db)?;
    let opts = args.scan_options();
    let stop = stop_flag();
    let bar = ProgressBar::hidden();
    let mut on_event = |e: Event| match e {
        Event::Plan { to_embed, .. } if to_embed > 0 && !quiet => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(to_embed as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "embedding {bar:30} {pos}/{len} · {per_sec} · ETA {eta}",
                )
                .expect("valid template"),
            );
        }
        Event::Progress { done, .. } => bar.set_position(done as u64),
        _ => {}
    };
    let result = index::update(embedder, dir, opts, &mut cache, &stop, &mut on_event);
    bar.finish_and_clear();
    if let Ok((summary, _)) = &result {
        for p in &summary.repaired {
            note!("repaired the damaged index row of {p}: embedded again");
        }
    }
    result
}

#[derive(Serialize)]
struct IndexOutput<'a> {
    folder: String,
    db: String,
    #[serde(flatten)]
    summary: &'a Summary,
}

pub fn index(embedder: &Embedder, dir: &Path, args: &FolderArgs, json: bool) -> Result<ExitCode> {
    let (summary, _) = index_folder(embedder, dir, args, json)?;
    let db = args
        .db
        .clone()
        .map(Ok)
        .unwrap_or_else(|| Cache::default_path(dir))?;
    let mut out = std::io::stdout().lock();
    if json {
        let o = IndexOutput {
            folder: display(dir),
            db: display(&db),
            summary: &summary,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&o)?)?;
    } else {
        writeln!(out, "{}", display(dir))?;
        writeln!(out, "  found        {:>7}", summary.found)?;
        writeln!(out, "  embedded     {:>7}", summary.embedded)?;
        writeln!(out, "  from cache   {:>7}", summary.from_cache)?;
        writeln!(out, "  removed      {:>7}", summary.removed)?;
        writeln!(out, "  skipped      {:>7}", summary.skipped.len())?;
        if summary.unsupported > 0 {
            writeln!(out, "  unsupported  {:>7}", summary.unsupported)?;
        }
        for s in &summary.skipped {
            writeln!(out, "    {}: {}", s.path, s.reason)?;
        }
        writeln!(out, "  index        {}", display(&db))?;
        if summary.interrupted {
            writeln!(out, "  interrupted: run again to finish")?;
        }
    }
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Serialize)]
struct Hit {
    path: String,
    score: f32,
}

pub fn similar(
    embedder: &Embedder,
    image: &Path,
    dir: &Path,
    k: usize,
    args: &FolderArgs,
    json: bool,
) -> Result<ExitCode> {
    let (_, indexed) = index_folder(embedder, dir, args, json)?;
    let query = decode::load_rgb_reduced(image, INPUT_SIZE)?;
    let q = embedder
        .embed_images(std::slice::from_ref(&query))?
        .remove(0);
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let exclude = full.iter().position(|p| same_file(p, image));
    let matrix = EmbeddingMatrix::new(full, &indexed.embeddings);
    let hits: Vec<Hit> = matrix
        .top_k(&q, k, exclude)
        .into_iter()
        .map(|(i, score)| Hit {
            path: display(&matrix.paths[i]),
            score,
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
    } else {
        for h in &hits {
            writeln!(out, "{:.4}  {}", h.score, h.path)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn dups(
    embedder: &Embedder,
    dir: &Path,
    threshold: f32,
    args: &FolderArgs,
    json: bool,
) -> Result<ExitCode> {
    let (_, indexed) = index_folder(embedder, dir, args, json)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let groups = EmbeddingMatrix::new(full, &indexed.embeddings).duplicate_groups(threshold);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&groups)?)?;
    } else if groups.is_empty() {
        writeln!(out, "no near-duplicates at cosine ≥ {threshold}")?;
    } else {
        for (i, g) in groups.iter().enumerate() {
            writeln!(out, "group {} ({} images)", i + 1, g.members.len())?;
            for m in &g.members {
                writeln!(out, "  {:.4}  {}", m.score, m.path)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// (N, 1280) float32 .npy plus FILE.paths.json
    Npy,
    /// one {"path", "embedding"} object per line
    Jsonl,
}

/// A NumPy .npy (format 1.0) of an (rows, cols) little-endian float32 matrix.
pub fn write_npy(
    w: &mut impl Write,
    rows: usize,
    cols: usize,
    data: impl Iterator<Item = f32>,
) -> Result<()> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    for v in data {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

pub fn export(
    embedder: &Embedder,
    dir: &Path,
    format: ExportFormat,
    output: &Path,
    args: &FolderArgs,
) -> Result<ExitCode> {
    let (_, indexed) = index_folder(embedder, dir, args, false)?;
    let paths: Vec<String> = indexed
        .paths
        .iter()
        .map(|p| display(&indexed.root.join(p)))
        .collect();
    let file = std::fs::File::create(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let mut w = std::io::BufWriter::new(file);
    match format {
        ExportFormat::Npy => {
            let cols = indexed
                .embeddings
                .first()
                .map_or(crate::model::EMBEDDING_DIM, Vec::len);
            write_npy(
                &mut w,
                indexed.embeddings.len(),
                cols,
                indexed.embeddings.iter().flatten().copied(),
            )?;
            let side = PathBuf::from(format!("{}.paths.json", output.display()));
            std::fs::write(&side, serde_json::to_string_pretty(&paths)?)
                .with_context(|| format!("cannot write {}", side.display()))?;
            note!(
                "wrote {} ({} × {cols}) and {}",
                display(output),
                paths.len(),
                display(&side)
            );
        }
        ExportFormat::Jsonl => {
            for (p, e) in paths.iter().zip(&indexed.embeddings) {
                writeln!(w, "{}", serde_json::json!({ "path": p, "embedding": e }))?;
            }
            note!("wrote {} ({} lines)", display(output), paths.len());
        }
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}
