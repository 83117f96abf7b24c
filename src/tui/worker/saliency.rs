//! The saliency worker: the pair on screen (latest wins, cancelled when replaced) and exports
//! (all of them, in order). Every step is the pair service's (`explain::pair`: load, maps,
//! faithfulness, overlays, figure), the same the command line runs; this worker only decides
//! what to compute next and keeps loaded photos and computed pairs in small [`BoundedCache`]s.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use anyhow::Result;

use super::export::{export_stem, write_new_png};
use super::previews::PREVIEW_SIDE;
use super::{wait_for, Shared, WorkerConfig};
use crate::engine::Embedder;
use crate::explain::faithfulness::Scores;
use crate::explain::pair::{self, always, Maps, PairService, Photo};
use crate::explain::{Explainer, Method};
use crate::render::figure::Look;
use crate::tui::action::{ExplainRequest, Msg, PairKey, PairMaps};
use crate::tui::cache::BoundedCache;
use crate::tui::jobs::Latest;
use crate::tui::{log, sanitize};

/// Decoded and prepared photos kept (a pair, and a few recently left).
const LOADED_KEPT: usize = 6;
/// Computed pairs kept.
const COMPUTED_KEPT: usize = 16;
/// The map drawn at once while a slower one is computed: it needs only the cells each photo's
/// one network pass kept.
const INSTANT: Method = Method::Shapley;

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

struct Computed {
    maps: Maps,
    scores: Option<[Scores; 2]>,
}

enum Job {
    Explain(ExplainRequest, u64),
    Export(ExplainRequest),
}

struct SaliencyWorker<'a> {
    service: PairService<'a>,
    config: &'a WorkerConfig,
    tx: Sender<Msg>,
    photos: BoundedCache<PathBuf, Arc<Photo>>,
    computed: BoundedCache<PairKey, Computed>,
}

type PhotoPair = (Arc<Photo>, Arc<Photo>);

/// Returned when a newer wish replaced the job being computed.
struct Cancelled;

impl<'a> SaliencyWorker<'a> {
    fn new(embedder: &'a Embedder, config: &'a WorkerConfig, tx: Sender<Msg>) -> Self {
        SaliencyWorker {
            service: PairService::new(Explainer::in_space(
                embedder,
                config.params,
                config.space.clone(),
            )),
            config,
            tx,
            photos: BoundedCache::new(LOADED_KEPT),
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

    fn load(&mut self, path: &Path) -> Result<Arc<Photo>> {
        if let Some(p) = self.photos.get(path) {
            return Ok(p.clone());
        }
        let p = Arc::new(self.service.load(path)?);
        self.photos.insert(path.to_path_buf(), p.clone());
        Ok(p)
    }

    /// Both photos of the pair, with its maps computed (once, then kept).
    fn maps(
        &mut self,
        r: &ExplainRequest,
        current: &dyn Fn() -> bool,
    ) -> Result<Result<PhotoPair, Cancelled>> {
        let a = self.load(&r.query)?;
        if !current() {
            return Ok(Err(Cancelled));
        }
        let b = self.load(&r.neighbour)?;
        if !self.computed.contains_key(&r.key) {
            let Some(maps) = self.service.maps(r.key.2, &a, &b, current)? else {
                return Ok(Err(Cancelled));
            };
            self.computed.insert(r.key, Computed { maps, scores: None });
        }
        Ok(Ok((a, b)))
    }

    /// A pair [`SaliencyWorker::maps`] has just computed (or found).
    fn computed(&self, key: PairKey) -> &Computed {
        self.computed
            .get(&key)
            .expect("the pair's maps were computed just before")
    }

    /// The pair's faithfulness figures (measured once, then kept); `None` when cancelled.
    fn scores(
        &mut self,
        r: &ExplainRequest,
        a: &Photo,
        b: &Photo,
        current: &dyn Fn() -> bool,
    ) -> Result<Option<[Scores; 2]>> {
        let c = self.computed(r.key);
        if let Some(s) = c.scores {
            return Ok(Some(s));
        }
        let Some(s) = self
            .service
            .faithfulness(a, b, &c.maps.explanation, current)?
        else {
            return Ok(None);
        };
        if let Some(c) = self.computed.get_mut(&r.key) {
            c.scores = Some(s);
        }
        Ok(Some(s))
    }

    /// The pair's maps as the screen shows them: both drawings (positive part and both signs).
    fn pair_maps(&self, key: PairKey, a: &Photo, b: &Photo, refining: bool) -> PairMaps {
        let c = self.computed(key);
        let pair = &c.maps.explanation;
        let [[query, neighbour], [sq, sn]] = pair::overlays(a, b, pair, PREVIEW_SIDE);
        PairMaps {
            score: pair.score,
            query: Arc::new(query),
            neighbour: Arc::new(neighbour),
            other: [Arc::new(sq), Arc::new(sn)],
            signed: false,
            shown: pair.method,
            refining,
            millis: c.maps.millis,
            faith: c.scores,
            faith_error: None,
        }
    }

    /// While a slower method is computed, the cells' Shapley map (from the cells both photos
    /// already carry: no network pass, ~3 ms each) is on screen at once, marked as being
    /// refined.
    fn instant(&mut self, r: &ExplainRequest, current: &dyn Fn() -> bool) -> Result<(), Cancelled> {
        let (q, n, method) = r.key;
        if method == INSTANT || self.computed.contains_key(&r.key) {
            return Ok(());
        }
        let exact = ExplainRequest {
            signed: false,
            key: (q, n, INSTANT),
            query: r.query.clone(),
            neighbour: r.neighbour.clone(),
        };
        // A failure here is reported by the method's own run just after.
        if let Ok(Ok((a, b))) = self.maps(&exact, current) {
            let maps = self.pair_maps(exact.key, &a, &b, true);
            let _ = self.tx.send(Msg::Map {
                key: r.key,
                result: Ok(maps),
            });
        }
        if current() {
            Ok(())
        } else {
            Err(Cancelled)
        }
    }

    fn explain(&mut self, r: &ExplainRequest, current: &dyn Fn() -> bool) -> Result<(), Cancelled> {
        self.instant(r, current)?;
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
        let maps = self.pair_maps(r.key, &a, &b, false);
        let have_faith = maps.faith.is_some();
        let _ = self.tx.send(Msg::Map {
            key: r.key,
            result: Ok(maps),
        });
        if have_faith || !current() {
            return Ok(());
        }
        match self.scores(r, &a, &b, current) {
            Ok(Some(faith)) => {
                let _ = self.tx.send(Msg::Faith { key: r.key, faith });
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

    /// Writes the figure of the maps on screen at once: with the faithfulness figures when
    /// they are measured already, without them otherwise (measuring takes seconds; the export
    /// should not).
    fn export(&mut self, r: &ExplainRequest) -> Result<PathBuf> {
        let (a, b) = match self.maps(r, &always)? {
            Ok(ab) => ab,
            Err(Cancelled) => unreachable!("exports are never cancelled"),
        };
        let c = self.computed(r.key);
        let names = [name_of(&r.query), name_of(&r.neighbour)];
        let fig = pair::figure(
            &a,
            &b,
            &c.maps.explanation,
            c.scores.as_ref(),
            [&names[0], &names[1]],
            Look {
                signed: r.signed,
                score_name: pair::score_name(&self.service.explainer.space),
            },
        );
        write_new_png(&fig, &self.config.export_dir, &export_stem(r))
    }
}

fn name_of(p: &Path) -> String {
    sanitize::sanitize(&pair::file_name(p))
}
