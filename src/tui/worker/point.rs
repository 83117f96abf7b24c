//! Point mode's and region search's workers, each a thread on its own [`Latest`] wish (newest
//! wins): the cells worker computes a pair's correspondence (both photos loaded by the pair
//! service, one network pass each, then `explain::correspondence`); the region worker embeds
//! a selected region and refines a search's candidates by their best windows
//! (`index::region`), a batch at a time, stopping when a newer search replaces it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use anyhow::Result;
use image::RgbImage;

use super::{wait_for, Shared, WorkerConfig};
use crate::engine::{Embedder, BATCH};
use crate::explain::correspondence::Correspondence;
use crate::explain::pair::{PairService, Photo};
use crate::explain::Explainer;
use crate::index::region;
use crate::tui::action::{CellsRequest, Msg, PairCells, RegionHit, RegionJob};
use crate::tui::cache::BoundedCache;
use crate::tui::jobs::Latest;
use crate::tui::log;

/// Photos kept loaded by the cells worker (a pair, and a few recently left).
const LOADED_KEPT: usize = 4;

/// The newest wish of `wish` when it is new since `taken` (then it is marked taken).
fn newest<T: Clone>(wish: &Latest<Option<T>>, taken: &mut u64) -> Option<(T, u64)> {
    wish.take(|w, generation| {
        if generation == *taken {
            return None;
        }
        *taken = generation;
        w.clone().map(|j| (j, generation))
    })
}

/// Waits for the indexer's model, then runs `work` with it; without a model, `fail` answers
/// every wish with the reason.
fn with_model<T>(
    name: &str,
    wish: Arc<Latest<Option<T>>>,
    embedder: Shared<Arc<Embedder>>,
    work: impl FnOnce(&Embedder, &Latest<Option<T>>) + Send + 'static,
    fail: impl Fn(T, &str) + Send + 'static,
) where
    T: Clone + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match wait_for(&embedder) {
            Some(Ok(e)) => work(&e, &wish),
            Some(Err(reason)) => {
                let mut taken = 0;
                while let Some((job, _)) = newest(&wish, &mut taken) {
                    fail(job, &reason);
                }
            }
            None => {}
        })
        .expect("spawn point-mode thread");
}

pub(super) fn spawn_cells(
    tx: Sender<Msg>,
    wish: Arc<Latest<Option<CellsRequest>>>,
    embedder: Shared<Arc<Embedder>>,
    config: Arc<WorkerConfig>,
) {
    let fail_tx = tx.clone();
    with_model(
        "cells",
        wish,
        embedder,
        move |embedder, wish| {
            let service = PairService::new(Explainer::in_space(
                embedder,
                config.params,
                config.space.clone(),
            ));
            let mut photos = BoundedCache::new(LOADED_KEPT);
            let mut taken = 0;
            while let Some((r, generation)) = newest(wish, &mut taken) {
                let run = std::panic::AssertUnwindSafe(|| {
                    cells(&service, &mut photos, &r, &|| wish.is_current(generation))
                });
                let result = match std::panic::catch_unwind(run) {
                    Ok(Some(r)) => r.map_err(|e| format!("{e:#}")),
                    Ok(None) => continue,
                    Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
                };
                if let Err(e) = &result {
                    log::write(&format!(
                        "correspondence of {} ↔ {}: {e}",
                        r.query.display(),
                        r.neighbour.display()
                    ));
                }
                if tx
                    .send(Msg::Cells {
                        pair: r.pair,
                        result,
                    })
                    .is_err()
                {
                    return;
                }
            }
        },
        move |r: CellsRequest, reason| {
            let _ = fail_tx.send(Msg::Cells {
                pair: r.pair,
                result: Err(reason.to_string()),
            });
        },
    );
}

/// The pair's correspondence; `None` when a newer wish replaced it between the photos.
fn cells(
    service: &PairService,
    photos: &mut BoundedCache<PathBuf, Arc<Photo>>,
    r: &CellsRequest,
    current: &dyn Fn() -> bool,
) -> Option<Result<PairCells>> {
    let mut load = |path: &Path| -> Result<Arc<Photo>> {
        if let Some(p) = photos.get(path) {
            return Ok(p.clone());
        }
        let p = Arc::new(service.load(path)?);
        photos.insert(path.to_path_buf(), p.clone());
        Ok(p)
    };
    let a = match load(&r.query) {
        Ok(a) => a,
        Err(e) => return Some(Err(e)),
    };
    if !current() {
        return None;
    }
    let computed = load(&r.neighbour).and_then(|b| {
        let matrix = Correspondence::between(
            &service.explainer.space,
            &a.prepared.cells,
            &b.prepared.cells,
        )?;
        Ok(PairCells {
            matrix: Arc::new(matrix),
            sizes: [a.image.dimensions(), b.image.dimensions()],
        })
    });
    Some(computed)
}

pub(super) fn spawn_region(
    tx: Sender<Msg>,
    wish: Arc<Latest<Option<RegionJob>>>,
    embedder: Shared<Arc<Embedder>>,
    config: Arc<WorkerConfig>,
) {
    let fail_tx = tx.clone();
    with_model(
        "region",
        wish,
        embedder,
        move |embedder, wish| {
            // The last query photo decoded (a search is often repeated on another region).
            let mut decoded: Option<(PathBuf, Arc<RgbImage>)> = None;
            let mut taken = 0;
            while let Some((job, generation)) = newest(wish, &mut taken) {
                let current = || wish.is_current(generation);
                let run = std::panic::AssertUnwindSafe(|| match &job {
                    RegionJob::Embed { id, query, region } => {
                        let result = embed(embedder, &mut decoded, query, *region);
                        Some(Msg::RegionEmbedded {
                            id: *id,
                            result: result.map_err(|e| format!("{e:#}")),
                        })
                    }
                    RegionJob::Refine {
                        id,
                        feature,
                        candidates,
                    } => refine(embedder, &config, feature, candidates, &current).map(|r| {
                        Msg::RegionRefined {
                            id: *id,
                            result: r.map_err(|e| format!("{e:#}")),
                        }
                    }),
                });
                let msg = match std::panic::catch_unwind(run) {
                    Ok(Some(m)) => m,
                    Ok(None) => continue,
                    Err(p) => failed(
                        &job,
                        &format!("internal error: {}", crate::panic_message(&*p)),
                    ),
                };
                if let Msg::RegionEmbedded { result: Err(e), .. }
                | Msg::RegionRefined { result: Err(e), .. } = &msg
                {
                    log::write(&format!("region search: {e}"));
                }
                if tx.send(msg).is_err() {
                    return;
                }
            }
        },
        move |job, reason| {
            let _ = fail_tx.send(failed(&job, reason));
        },
    );
}

/// The message that says `job` failed for `reason`.
fn failed(job: &RegionJob, reason: &str) -> Msg {
    match job {
        RegionJob::Embed { id, .. } => Msg::RegionEmbedded {
            id: *id,
            result: Err(reason.to_string()),
        },
        RegionJob::Refine { id, .. } => Msg::RegionRefined {
            id: *id,
            result: Err(reason.to_string()),
        },
    }
}

fn embed(
    embedder: &Embedder,
    decoded: &mut Option<(PathBuf, Arc<RgbImage>)>,
    query: &Path,
    region: region::Region,
) -> Result<Vec<f32>> {
    let photo = match decoded {
        Some((p, img)) if p == query => img.clone(),
        _ => {
            let img = Arc::new(crate::decode::load_rgb(query)?);
            *decoded = Some((query.to_path_buf(), img.clone()));
            img
        }
    };
    region::embed_region(embedder, &photo, region)
}

/// The candidates re-scored by their best windows, best first, a batch at a time; `None`
/// when a newer wish replaced the search.
fn refine(
    embedder: &Embedder,
    config: &WorkerConfig,
    feature: &[f32],
    candidates: &[(usize, PathBuf, f32)],
    current: &dyn Fn() -> bool,
) -> Option<Result<Vec<RegionHit>>> {
    let entries: HashMap<&Path, usize> = candidates
        .iter()
        .map(|(e, p, _)| (p.as_path(), *e))
        .collect();
    let mut hits = Vec::with_capacity(candidates.len());
    for chunk in candidates.chunks(BATCH) {
        if !current() {
            return None;
        }
        let batch: Vec<(PathBuf, f32)> = chunk.iter().map(|(_, p, s)| (p.clone(), *s)).collect();
        let refined = match region::refine(embedder, &config.space, feature, &batch) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        hits.extend(refined.found.into_iter().map(|f| RegionHit {
            entry: entries[f.path.as_path()],
            score: f.score,
            first_pass: f.first_pass,
            found: Some((f.found_box, f.size)),
        }));
        // A photo that cannot be read again is ranked by its first-pass score, with no box.
        for (path, e) in refined.failed {
            // The decode error names the file.
            log::write(&format!("region search: skipped {e:#}"));
            let first_pass = batch.iter().find(|(p, _)| *p == path).map_or(0.0, |b| b.1);
            hits.push(RegionHit {
                entry: entries[path.as_path()],
                score: first_pass,
                first_pass,
                found: None,
            });
        }
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    Some(Ok(hits))
}
