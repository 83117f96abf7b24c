//! Bringing the cache up to date with a folder: decode on worker threads, embed in batches,
//! store each batch in one transaction. Unchanged files are not touched, changed ones are
//! embedded again, deleted ones dropped, broken ones reported with their reason (and, when
//! the content is at fault, remembered, so they are not decoded again until they change; a
//! file that could not be read is tried again next run). Damaged cache rows are embedded
//! again and reported.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::Result;
use serde::Serialize;

use super::cache::{key_path, path_key, Cache};
use super::scan::{self, FileEntry, ScanOptions};
use crate::decode;
use crate::engine::{Embedder, BATCH};
use crate::model::INPUT_SIZE;

/// Progress, as it happens (for a progress bar or the TUI).
#[derive(Debug, Clone)]
pub enum Event {
    /// What the run will do.
    Plan {
        found: usize,
        cached: usize,
        to_embed: usize,
        removed: usize,
    },
    /// `done` of the `to_embed` files have been decoded and embedded (or failed).
    Progress { done: usize, total: usize },
    /// A file that cannot be used, with the reason.
    Skipped { path: PathBuf, reason: String },
    /// Every usable-looking file of the folder, in scan order (paths relative to the root),
    /// with what the cache already knows of it; sent once, before any embedding starts, so a
    /// viewer can show cached photos at once.
    Listed(Vec<Listed>),
    /// A file was embedded (path relative to the root) and stored in the cache.
    Embedded { rel: PathBuf, embedding: Vec<f32> },
}

/// A file of the folder as the cache knows it before this run embeds anything.
#[derive(Debug, Clone)]
pub struct Listed {
    pub rel: PathBuf,
    pub state: ListedState,
}

#[derive(Debug, Clone)]
pub enum ListedState {
    /// Unchanged since it was embedded.
    Cached(Vec<f32>),
    /// Unchanged since it failed, with the reason.
    Failed(String),
    /// New or changed: queued for embedding.
    Pending,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub found: usize,
    pub embedded: usize,
    pub from_cache: usize,
    pub removed: usize,
    pub skipped: Vec<SkippedFile>,
    /// Of the skipped files, those in a format this build does not decode (HEIC, AVIF without
    /// the `heif` feature).
    pub unsupported: usize,
    /// Files whose cache row was damaged (wrong length, NaN or infinite values) and which
    /// were therefore embedded again.
    pub repaired: Vec<String>,
    /// Stopped early (Ctrl-C); everything embedded so far is stored.
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// The usable photos of the folder and their embeddings, in path order.
pub struct Indexed {
    pub root: PathBuf,
    pub paths: Vec<PathBuf>,
    pub embeddings: Vec<Vec<f32>>,
}

impl Summary {
    fn skip(&mut self, path: &Path, reason: String) {
        if reason.starts_with("unsupported format") {
            self.unsupported += 1;
        }
        self.skipped.push(SkippedFile {
            path: path.to_string_lossy().into_owned(),
            reason,
        });
    }
}

/// Brings the cache of `root` up to date and returns its embeddings.
pub fn update(
    embedder: &Embedder,
    root: &Path,
    opts: ScanOptions,
    cache: &mut Cache,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
) -> Result<(Summary, Indexed)> {
    let model = embedder.model_id();
    let scanned = scan::scan(root, opts)?;
    let mut summary = Summary {
        found: scanned.files.len(),
        ..Summary::default()
    };
    for (path, reason) in scanned.errors {
        on_event(Event::Skipped {
            path: path.clone(),
            reason: reason.clone(),
        });
        summary.skip(&path, reason);
    }

    let (mut rows, damaged) = cache.rows_checked(model)?;
    let damaged: HashSet<Vec<u8>> = damaged.into_iter().collect();
    let failures = cache.failures(model)?;
    let present: HashSet<Vec<u8>> = scanned.files.iter().map(|f| path_key(&f.rel)).collect();
    let gone: Vec<Vec<u8>> = cache
        .all_keys()?
        .into_iter()
        .filter(|k| !present.contains(k))
        .collect();
    let mut to_embed = Vec::new();
    let mut listed = Vec::with_capacity(scanned.files.len());
    // Files that failed before and have not changed: reported after the listing.
    let mut remembered: Vec<(PathBuf, String)> = Vec::new();
    for f in &scanned.files {
        let key = path_key(&f.rel);
        let same = |size: u64, mtime: i64| size == f.size && mtime == f.mtime_ns;
        if rows.get(&key).is_some_and(|r| same(r.size, r.mtime_ns)) {
            summary.from_cache += 1;
            // Moved out: the final index is read back from the cache below.
            let row = rows.remove(&key).expect("checked above");
            listed.push(Listed {
                rel: f.rel.clone(),
                state: ListedState::Cached(row.embedding),
            });
        } else if let Some(fail) = failures.get(&key).filter(|x| same(x.size, x.mtime_ns)) {
            listed.push(Listed {
                rel: f.rel.clone(),
                state: ListedState::Failed(fail.reason.clone()),
            });
            remembered.push((root.join(&f.rel), fail.reason.clone()));
        } else {
            if damaged.contains(&key) {
                summary
                    .repaired
                    .push(root.join(&f.rel).to_string_lossy().into_owned());
            }
            listed.push(Listed {
                rel: f.rel.clone(),
                state: ListedState::Pending,
            });
            to_embed.push(f.clone());
        }
    }
    drop(rows);
    cache.remove(&gone)?;
    summary.removed = gone.len();
    on_event(Event::Plan {
        found: summary.found,
        cached: summary.from_cache,
        to_embed: to_embed.len(),
        removed: summary.removed,
    });
    on_event(Event::Listed(listed));
    for (path, reason) in remembered {
        on_event(Event::Skipped {
            path: path.clone(),
            reason: reason.clone(),
        });
        summary.skip(&path, reason);
    }

    embed_files(
        embedder,
        root,
        &to_embed,
        cache,
        stop,
        on_event,
        &mut summary,
    )?;

    // Whatever is in the cache now for this model, in scan order.
    let rows = cache.rows(model)?;
    let mut by_key: HashMap<Vec<u8>, Vec<f32>> =
        rows.into_iter().map(|(k, r)| (k, r.embedding)).collect();
    let mut indexed = Indexed {
        root: root.to_path_buf(),
        paths: Vec::new(),
        embeddings: Vec::new(),
    };
    for f in &scanned.files {
        if let Some(e) = by_key.remove(&path_key(&f.rel)) {
            indexed.paths.push(key_path(&path_key(&f.rel)));
            indexed.embeddings.push(e);
        }
    }
    Ok((summary, indexed))
}

/// Why a file could not be embedded, and whether that is worth remembering (its content is
/// at fault) or not (it could not be read: permissions, I/O).
struct Failed {
    reason: String,
    remember: bool,
}

/// Decodes `files` on worker threads (whichever finishes first joins the next batch, so one
/// slow file never stalls the model) and embeds them in batches of [`BATCH`].
fn embed_files(
    embedder: &Embedder,
    root: &Path,
    files: &[FileEntry],
    cache: &mut Cache,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event),
    summary: &mut Summary,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(files.len());
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let model = embedder.model_id();
    let done = std::thread::scope(|s| -> Result<usize> {
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<f32>, Failed>)>(BATCH * 2);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, abort) = (&next, &abort);
            s.spawn(move || loop {
                if stop.load(Ordering::Relaxed) || abort.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let path = root.join(&f.rel);
                // The image keeps its share of the decode budget until it is prepared.
                let r = decode::load_rgb_held(&path, Some(INPUT_SIZE))
                    .map(|(img, _held)| embedder.preprocess.prepare(&img))
                    .map_err(|e| Failed {
                        reason: decode::reason(&e, &path),
                        remember: !decode::is_unreadable(&e),
                    });
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut ok: Vec<(usize, Vec<f32>)> = Vec::with_capacity(BATCH);
        let mut failed: Vec<(usize, Failed)> = Vec::new();
        let mut done = 0;
        let mut flush = |ok: &mut Vec<(usize, Vec<f32>)>,
                         failed: &mut Vec<(usize, Failed)>,
                         done: &mut usize|
         -> Result<()> {
            let inputs: Vec<Vec<f32>> = ok.iter().map(|(_, x)| x.clone()).collect();
            let embs = if inputs.is_empty() {
                Vec::new()
            } else {
                embedder.embed_prepared(&inputs)?.to_vec2::<f32>()?
            };
            let stored: Vec<(&FileEntry, &[f32])> = ok
                .iter()
                .zip(&embs)
                .map(|((i, _), e)| (&files[*i], e.as_slice()))
                .collect();
            // Only content errors are remembered; unreadable files are tried again next run.
            let bad: Vec<(&FileEntry, String)> = failed
                .iter()
                .filter(|(_, f)| f.remember)
                .map(|(i, f)| (&files[*i], f.reason.clone()))
                .collect();
            cache.store(model, &stored, &bad)?;
            for (i, f) in failed.iter() {
                let path = root.join(&files[*i].rel);
                on_event(Event::Skipped {
                    path: path.clone(),
                    reason: f.reason.clone(),
                });
                summary.skip(&path, f.reason.clone());
            }
            summary.embedded += stored.len();
            for ((i, _), e) in ok.iter().zip(embs) {
                on_event(Event::Embedded {
                    rel: files[*i].rel.clone(),
                    embedding: e,
                });
            }
            *done += ok.len() + failed.len();
            on_event(Event::Progress {
                done: *done,
                total: files.len(),
            });
            ok.clear();
            failed.clear();
            Ok(())
        };
        for (i, r) in rx {
            match r {
                Ok(x) => ok.push((i, x)),
                Err(reason) => failed.push((i, reason)),
            }
            if ok.len() >= BATCH {
                if let Err(e) = flush(&mut ok, &mut failed, &mut done) {
                    abort.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        flush(&mut ok, &mut failed, &mut done)?;
        Ok(done)
    })?;
    summary.interrupted = done < files.len();
    Ok(())
}
