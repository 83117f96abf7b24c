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

use super::output::{self, human, JsonPath};
use super::{note_skipped, same_file};
use crate::engine::Embedder;
use crate::index::{self, Cache, Event, Indexed, ScanOptions, Summary};
use crate::search::EmbeddingMatrix;
use crate::space::Space;

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
    /// These options, with what `top` (given before the subcommand) adds.
    pub fn or(self, top: &FolderArgs) -> FolderArgs {
        FolderArgs {
            db: self.db.or_else(|| top.db.clone()),
            no_recursive: self.no_recursive || top.no_recursive,
            follow_links: self.follow_links || top.follow_links,
        }
    }

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
    #[serde(skip_serializing_if = "Option::is_none")]
    folder_bytes: Option<String>,
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
        let folder = JsonPath::new(dir);
        let o = IndexOutput {
            folder: folder.path,
            folder_bytes: folder.path_bytes,
            db: db.to_string_lossy().into_owned(),
            summary: &summary,
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&o)?)?;
    } else {
        writeln!(out, "{}", human(dir))?;
        writeln!(out, "  found        {:>7}", summary.found)?;
        writeln!(out, "  embedded     {:>7}", summary.embedded)?;
        writeln!(out, "  from cache   {:>7}", summary.from_cache)?;
        writeln!(out, "  removed      {:>7}", summary.removed)?;
        writeln!(out, "  skipped      {:>7}", summary.skipped.len())?;
        if summary.unsupported > 0 {
            writeln!(out, "  unsupported  {:>7}", summary.unsupported)?;
        }
        for s in &summary.skipped {
            writeln!(
                out,
                "    {}: {}",
                crate::text::sanitize(&s.path),
                crate::text::sanitize(&s.reason)
            )?;
        }
        writeln!(out, "  index        {}", human(&db))?;
        if summary.interrupted {
            writeln!(out, "  interrupted: run again to finish")?;
        }
    }
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if !summary.skipped.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// 0 when every file of the folder was usable, 1 when some were skipped (named by `index`).
fn folder_exit(summary: &Summary, dir: &Path) -> ExitCode {
    note_skipped(summary.skipped.len(), dir);
    if summary.interrupted {
        ExitCode::from(130)
    } else if summary.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[derive(Serialize)]
struct Hit {
    #[serde(flatten)]
    path: JsonPath,
    score: f32,
}

pub fn similar(
    embedder: &Embedder,
    space: &Space,
    image: &Path,
    dir: &Path,
    k: usize,
    args: &FolderArgs,
    json: bool,
) -> Result<ExitCode> {
    let (summary, indexed) = index_folder(embedder, dir, args, json)?;
    let q = index::query::embed_like_index(embedder, image)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let exclude = full.iter().position(|p| same_file(p, image));
    let matrix = EmbeddingMatrix::in_space(full, &indexed.embeddings, space.clone());
    let ranked = matrix.top_k(&q, k.min(matrix.len()), exclude);
    let mut out = std::io::stdout().lock();
    if json {
        let hits: Vec<Hit> = ranked
            .iter()
            .map(|&(i, score)| Hit {
                path: JsonPath::new(&matrix.paths[i]),
                score,
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
    } else {
        if ranked.is_empty() {
            writeln!(out, "no photos to compare with in {}", human(dir))?;
        }
        for &(i, score) in &ranked {
            writeln!(out, "{score:.4}  {}", human(&matrix.paths[i]))?;
        }
    }
    Ok(folder_exit(&summary, dir))
}

#[derive(Serialize)]
struct DupGroup {
    members: Vec<Hit>,
}

pub fn dups(
    embedder: &Embedder,
    space: &Space,
    dir: &Path,
    threshold: f32,
    args: &FolderArgs,
    json: bool,
) -> Result<ExitCode> {
    let (summary, indexed) = index_folder(embedder, dir, args, json)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let matrix = EmbeddingMatrix::in_space(full, &indexed.embeddings, space.clone());
    let groups = matrix.duplicate_groups(threshold);
    let mut out = std::io::stdout().lock();
    if json {
        let groups: Vec<DupGroup> = groups
            .iter()
            .map(|g| DupGroup {
                members: g
                    .members
                    .iter()
                    .map(|m| Hit {
                        path: JsonPath::new(&matrix.paths[m.row]),
                        score: m.score,
                    })
                    .collect(),
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&groups)?)?;
    } else if groups.is_empty() {
        writeln!(
            out,
            "no near-duplicates at {} similarity ≥ {threshold}",
            space.similarity().name()
        )?;
    } else {
        for (i, g) in groups.iter().enumerate() {
            writeln!(out, "group {} ({} images)", i + 1, g.members.len())?;
            for m in &g.members {
                writeln!(out, "  {:.4}  {}", m.score, human(&matrix.paths[m.row]))?;
            }
        }
    }
    Ok(folder_exit(&summary, dir))
}

/// `export --space`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportSpace {
    /// The raw 1280-d pooled features, as the index stores them
    Raw,
    /// Unit vectors of the centred space (φ − μ normalised): inner product = centred score
    Centred,
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
    vectors: Option<&Space>,
    dir: &Path,
    format: ExportFormat,
    out_path: &Path,
    force: bool,
    args: &FolderArgs,
) -> Result<ExitCode> {
    let (summary, indexed) = index_folder(embedder, dir, args, false)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let side = PathBuf::from(format!("{}.paths.json", out_path.display()));
    let mut outputs = vec![out_path.to_path_buf()];
    if matches!(format, ExportFormat::Npy) {
        outputs.push(side.clone());
    }
    let photos: Vec<&Path> = full.iter().map(PathBuf::as_path).collect();
    output::check_outputs(&outputs, force, &photos)?;
    let paths: Vec<JsonPath> = full.iter().map(|p| JsonPath::new(p)).collect();
    // Which numbers are written: "raw" or the centred space's version.
    let space_name = vectors.map_or("raw", Space::version);
    let rows: Vec<Vec<f32>> = match vectors {
        None => indexed.embeddings.clone(),
        Some(s) => indexed.embeddings.iter().map(|e| s.unit(e)).collect(),
    };
    let file = std::fs::File::create(out_path)
        .with_context(|| format!("cannot write {}", human(out_path)))?;
    let mut w = std::io::BufWriter::new(file);
    match format {
        ExportFormat::Npy => {
            let cols = crate::model::EMBEDDING_DIM;
            if let Some((p, e)) = full
                .iter()
                .zip(&indexed.embeddings)
                .find(|(_, e)| e.len() != cols)
            {
                anyhow::bail!(
                    "the index holds {} values for {}, not {cols}: run `simtui index` again",
                    e.len(),
                    human(p)
                );
            }
            write_npy(&mut w, rows.len(), cols, rows.iter().flatten().copied())?;
            // A list of path strings, as before; names that are not UTF-8 are written as
            // objects {"path", "path_bytes"} so that a script can still find them.
            let listed: Vec<serde_json::Value> = paths
                .iter()
                .map(|p| match &p.path_bytes {
                    None => serde_json::Value::String(p.path.clone()),
                    Some(_) => serde_json::to_value(p).unwrap_or_default(),
                })
                .collect();
            std::fs::write(&side, serde_json::to_string_pretty(&listed)?)
                .with_context(|| format!("cannot write {}", human(&side)))?;
            note!(
                "wrote {} ({} × {cols}, {space_name} vectors) and {}",
                human(out_path),
                paths.len(),
                human(&side)
            );
        }
        ExportFormat::Jsonl => {
            #[derive(Serialize)]
            struct Line<'a> {
                #[serde(flatten)]
                path: &'a JsonPath,
                embedding: &'a [f32],
                space: &'a str,
            }
            for (p, e) in paths.iter().zip(&rows) {
                let line = Line {
                    path: p,
                    embedding: e,
                    space: space_name,
                };
                writeln!(w, "{}", serde_json::to_string(&line)?)?;
            }
            note!(
                "wrote {} ({} lines, {space_name} vectors)",
                human(out_path),
                paths.len()
            );
        }
    }
    w.flush()?;
    Ok(folder_exit(&summary, dir))
}
