//! The saliency worker: the pair on screen (latest wins, cancelled when replaced) and exports
//! (all of them, in order). It decodes and prepares both photos, computes the pair's maps and
//! their faithfulness, draws the overlays and builds the exported figure. Decoded photos and
//! computed pairs are kept in small [`BoundedCache`]s.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use image::RgbImage;

use super::export::{export_stem, write_new_png};
use super::previews::shrink;
use super::{wait_for, Shared, WorkerConfig};
use crate::decode;
use crate::engine::Embedder;
use crate::explain::faithfulness::{self, Faithfulness};
use crate::explain::{Explainer, PairExplanation, Prepared};
use crate::render::figure::{self, Panel};
use crate::render::{display_map, overlay, Scale};
use crate::tui::action::{ExplainRequest, Faith, Msg, PairKey, PairMaps};
use crate::tui::cache::BoundedCache;
use crate::tui::jobs::Latest;
use crate::tui::{log, sanitize};

/// Decoded and prepared photos kept (a pair, and a few recently left).
const LOADED_KEPT: usize = 6;
/// Computed pairs kept.
const COMPUTED_KEPT: usize = 16;

/// Work for the saliency worker: the current pair (replaced with [`Latest::set`], which
/// cancels the one being computed) and exports (added with [`Latest::amend`]: all of them).
#[derive(Default)]
pub(super) struct Explains {
    pub(super) wanted: Option<ExplainRequest>,
    /// The generation whose `wanted` was last taken.
    taken: u64,
    pub(super) exports: VecDeque<ExplainRequest>,
}

/// Starts the saliency thread; it waits for the indexer's model first.
pub(super) fn spawn(
    tx: Sender<Msg>,
    wish: Arc<Latest<Explains>>,
    embedder: Shared<Arc<Embedder>>,
    config: Arc<WorkerConfig>,
) {
    std::thread::Builder::new()
        .name("saliency".into())
        .spawn(move || {
            let Some(embedder) = wait_for(&embedder) else {
                return;
            };
            match embedder {
                Ok(e) => SaliencyWorker::new(&e, &config, tx).run(&wish),
                Err(e) => fail_all(&wish, &tx, &e),
            }
        })
        .expect("spawn saliency thread");
}

/// The next job: exports first, then the wanted pair if it is new since the last take.
fn next_job(e: &mut Explains, generation: u64) -> Option<Job> {
    if let Some(r) = e.exports.pop_front() {
        return Some(Job::Export(r));
    }
    if e.taken != generation {
        e.taken = generation;
        if let Some(r) = e.wanted.clone() {
            return Some(Job::Explain(r, generation));
        }
    }
    None
}

/// Without a model every wish fails, with the reason.
fn fail_all(wish: &Latest<Explains>, tx: &Sender<Msg>, reason: &str) {
    while let Some((wanted, exports)) = wish.take(|e, _| {
        (e.wanted.is_some() || !e.exports.is_empty())
            .then(|| (e.wanted.take(), e.exports.drain(..).collect::<Vec<_>>()))
    }) {
        if let Some(r) = wanted {
            let _ = tx.send(Msg::Map {
                key: r.key,
                result: Err(reason.to_string()),
            });
        }
        for _ in exports {
            let _ = tx.send(Msg::Exported(Err(reason.to_string())));
        }
    }
}

/// A photo ready to explain and to draw on.
struct Loaded {
    /// Full resolution (for exports).
    photo: RgbImage,
    prepared: Prepared,
}

struct Computed {
    pair: PairExplanation,
    millis: f64,
    faith: Option<[Faithfulness; 2]>,
}

enum Job {
    Explain(ExplainRequest, u64),
    Export(ExplainRequest),
}

struct SaliencyWorker<'a> {
    explainer: Explainer<'a>,
    config: &'a WorkerConfig,
    tx: Sender<Msg>,
    loaded: BoundedCache<PathBuf, Arc<Loaded>>,
    computed: BoundedCache<PairKey, Computed>,
}

type LoadedPair = (Arc<Loaded>, Arc<Loaded>);

/// Returned when a newer wish replaced the job being computed.
struct Cancelled;

impl<'a> SaliencyWorker<'a> {
    fn new(embedder: &'a Embedder, config: &'a WorkerConfig, tx: Sender<Msg>) -> Self {
        SaliencyWorker {
            explainer: Explainer::new(embedder, config.params),
            config,
            tx,
            loaded: BoundedCache::new(LOADED_KEPT),
            computed: BoundedCache::new(COMPUTED_KEPT),
        }
    }

    fn run(mut self, wish: &Latest<Explains>) {
        while let Some(job) = wish.take(next_job) {
            match job {
                Job::Explain(r, generation) => {
                    let current = || wish.is_current(generation);
                    let run = std::panic::AssertUnwindSafe(|| self.explain(&r, &current));
                    if let Err(p) = std::panic::catch_unwind(run) {
                        let reason = crate::panic_message(&*p);
                        log::write(&format!("saliency worker panicked: {reason}"));
                        let _ = self.tx.send(Msg::Map {
                            key: r.key,
                            result: Err(format!("internal error: {reason}")),
                        });
                    }
                }
                Job::Export(r) => {
                    let run = std::panic::AssertUnwindSafe(|| self.export(&r));
                    let result = match std::panic::catch_unwind(run) {
                        Ok(r) => r.map_err(|e| format!("{e:#}")),
                        Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
                    };
                    if let Err(e) = &result {
                        log::write(&format!("export failed: {e}"));
                    }
                    let _ = self.tx.send(Msg::Exported(result));
                }
            }
        }
    }

    fn load(&mut self, path: &Path) -> Result<Arc<Loaded>> {
        if let Some(l) = self.loaded.get(path) {
            return Ok(l.clone());
        }
        let photo = decode::load_rgb(path)?;
        let input = self.explainer.embedder.preprocess.prepare(&photo);
        let prepared = self.explainer.prepare(input)?;
        let l = Arc::new(Loaded { photo, prepared });
        self.loaded.insert(path.to_path_buf(), l.clone());
        Ok(l)
    }

    /// The maps of a pair (computed once, then kept).
    fn maps(
        &mut self,
        r: &ExplainRequest,
        current: &dyn Fn() -> bool,
    ) -> Result<Result<LoadedPair, Cancelled>> {
        let a = self.load(&r.query)?;
        if !current() {
            return Ok(Err(Cancelled));
        }
        let b = self.load(&r.neighbour)?;
        if !self.computed.contains_key(&r.key) {
            if !current() {
                return Ok(Err(Cancelled));
            }
            let t = Instant::now();
            let method = r.key.2;
            let map_a = self
                .explainer
                .map(method, &a.prepared, &b.prepared.embedding)?;
            if !current() {
                return Ok(Err(Cancelled));
            }
            let map_b = self
                .explainer
                .map(method, &b.prepared, &a.prepared.embedding)?;
            let pair = PairExplanation {
                method,
                score: crate::engine::cosine(&a.prepared.embedding, &b.prepared.embedding),
                a: map_a,
                b: map_b,
            };
            self.computed.insert(
                r.key,
                Computed {
                    pair,
                    millis: t.elapsed().as_secs_f64() * 1e3,
                    faith: None,
                },
            );
        }
        Ok(Ok((a, b)))
    }

    /// A pair [`SaliencyWorker::maps`] has just computed (or found).
    fn computed(&self, key: PairKey) -> &Computed {
        self.computed
            .get(&key)
            .expect("the pair's maps were computed just before")
    }

    fn faith(
        &mut self,
        r: &ExplainRequest,
        a: &Loaded,
        b: &Loaded,
        current: &dyn Fn() -> bool,
    ) -> Result<Option<[Faithfulness; 2]>> {
        let c = self.computed(r.key);
        if let Some(f) = &c.faith {
            return Ok(Some(f.clone()));
        }
        let embedder = self.explainer.embedder;
        let seed = self.config.params.seed;
        let fa = faithfulness::evaluate(
            embedder,
            &a.prepared.input,
            &b.prepared.embedding,
            &c.pair.a,
            seed,
        )?;
        if !current() {
            return Ok(None);
        }
        let fb = faithfulness::evaluate(
            embedder,
            &b.prepared.input,
            &a.prepared.embedding,
            &c.pair.b,
            seed,
        )?;
        let f = [fa, fb];
        if let Some(c) = self.computed.get_mut(&r.key) {
            c.faith = Some(f.clone());
        }
        Ok(Some(f))
    }

    fn explain(&mut self, r: &ExplainRequest, current: &dyn Fn() -> bool) -> Result<(), Cancelled> {
        let (a, b) = match self.maps(r, current) {
            Ok(Ok(ab)) => ab,
            Ok(Err(Cancelled)) => return Err(Cancelled),
            Err(e) => {
                log::write(&format!(
                    "saliency of {} ↔ {}: {e:#}",
                    r.query.display(),
                    r.neighbour.display()
                ));
                let _ = self.tx.send(Msg::Map {
                    key: r.key,
                    result: Err(format!("{e:#}")),
                });
                return Ok(());
            }
        };
        let c = self.computed(r.key);
        let scale = Scale::shared(&[&display_map(&c.pair.a), &display_map(&c.pair.b)]);
        let maps = PairMaps {
            score: c.pair.score,
            query: Arc::new(overlay(&shrink(&a.photo), &c.pair.a, &scale)),
            neighbour: Arc::new(overlay(&shrink(&b.photo), &c.pair.b, &scale)),
            millis: c.millis,
            faith: c.faith.as_ref().map(faith_pair),
            faith_error: None,
        };
        let have_faith = maps.faith.is_some();
        let _ = self.tx.send(Msg::Map {
            key: r.key,
            result: Ok(maps),
        });
        if have_faith || !current() {
            return Ok(());
        }
        match self.faith(r, &a, &b, current) {
            Ok(Some(f)) => {
                let _ = self.tx.send(Msg::Faith {
                    key: r.key,
                    faith: faith_pair(&f),
                });
            }
            Ok(None) => return Err(Cancelled),
            Err(e) => {
                log::write(&format!("faithfulness: {e:#}"));
                let _ = self.tx.send(Msg::FaithFailed {
                    key: r.key,
                    reason: format!("{e:#}"),
                });
            }
        }
        Ok(())
    }

    fn export(&mut self, r: &ExplainRequest) -> Result<PathBuf> {
        let always = || true;
        let (a, b) = match self.maps(r, &always)? {
            Ok(ab) => ab,
            Err(Cancelled) => unreachable!("exports are never cancelled"),
        };
        let faith = self.faith(r, &a, &b, &always)?;
        let c = self.computed(r.key);
        let (an, bn) = (name_of(&r.query), name_of(&r.neighbour));
        let fig = figure::pair(
            &Panel {
                name: &an,
                photo: &a.photo,
                map: &c.pair.a,
                faithfulness: faith.as_ref().map(|f| &f[0]),
            },
            &Panel {
                name: &bn,
                photo: &b.photo,
                map: &c.pair.b,
                faithfulness: faith.as_ref().map(|f| &f[1]),
            },
            c.pair.score,
            r.key.2,
        );
        write_new_png(&fig, &self.config.export_dir, &export_stem(r))
    }
}

fn name_of(p: &Path) -> String {
    sanitize::sanitize(
        &p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

fn faith_pair(f: &[Faithfulness; 2]) -> [Faith; 2] {
    f.clone().map(|f| Faith {
        deletion: f.deletion_auc,
        insertion: f.insertion_auc,
        random_deletion: f.random_deletion_auc,
        random_insertion: f.random_insertion_auc,
    })
}
