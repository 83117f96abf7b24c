//! The TUI's background threads and their front door, [`Workers`]: start them, hand them the
//! app's [`Command`]s, shut them down. Each job has its file: the indexer (model, cache,
//! embedding), preview decoding, the saliency worker (pair maps, faithfulness, exports), point
//! mode's correspondence and region search, the PNG writer and the system viewer. They talk to the event loop only through [`Msg`]s on one
//! channel, and the event loop talks to them through [`Latest`] wishes that newer ones
//! replace, so work that is no longer wanted is dropped instead of queued.

mod export;
mod indexer;
mod open;
mod point;
mod previews;
mod saliency;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::action::{CellsRequest, Command, Msg, RegionJob};
use super::jobs::Latest;
use crate::engine::Embedder;
use crate::explain::Params;
use crate::index::ScanOptions;
use crate::model::Preprocess;
use saliency::Explains;

pub use export::{export_stem, write_new_png};
pub use previews::{load_preview, PREVIEW_SIDE};

pub struct WorkerConfig {
    pub root: PathBuf,
    pub db: PathBuf,
    pub scan: ScanOptions,
    pub weights: Option<PathBuf>,
    pub preprocess: Preprocess,
    pub params: Params,
    /// The score the maps explain (the one the neighbour list ranks by).
    pub space: crate::space::Space,
    pub export_dir: PathBuf,
}

/// A value one thread produces once and others wait for (the model, loaded by the indexer).
type Shared<T> = Arc<(Mutex<Option<Result<T, String>>>, Condvar)>;

/// Preview decoding threads.
const PREVIEW_THREADS: usize = 2;

pub struct Workers {
    previews: Arc<Latest<Vec<(usize, PathBuf)>>>,
    explains: Arc<Latest<Explains>>,
    cells: Arc<Latest<Option<CellsRequest>>>,
    region: Arc<Latest<Option<RegionJob>>>,
    stop: Arc<AtomicBool>,
    indexer: Option<JoinHandle<()>>,
    tx: Sender<Msg>,
}

impl Workers {
    pub fn start(tx: Sender<Msg>, config: WorkerConfig) -> Workers {
        let stop = Arc::new(AtomicBool::new(false));
        let embedder: Shared<Arc<Embedder>> = Arc::new((Mutex::new(None), Condvar::new()));
        let config = Arc::new(config);

        let indexer = indexer::spawn(tx.clone(), stop.clone(), embedder.clone(), config.clone());

        let previews = Arc::new(Latest::new(Vec::new()));
        for i in 0..PREVIEW_THREADS {
            let (tx, wish) = (tx.clone(), previews.clone());
            std::thread::Builder::new()
                .name(format!("preview-{i}"))
                .spawn(move || previews::preview_worker(&tx, &wish))
                .expect("spawn preview thread");
        }

        let explains = Arc::new(Latest::new(Explains::default()));
        saliency::spawn(
            tx.clone(),
            explains.clone(),
            embedder.clone(),
            config.clone(),
        );

        let cells = Arc::new(Latest::new(None));
        point::spawn_cells(tx.clone(), cells.clone(), embedder.clone(), config.clone());
        let region = Arc::new(Latest::new(None));
        point::spawn_region(tx.clone(), region.clone(), embedder, config);

        Workers {
            previews,
            explains,
            cells,
            region,
            stop,
            indexer: Some(indexer),
            tx,
        }
    }

    pub fn send(&self, command: Command) {
        match command {
            Command::Previews(list) => self.previews.set(|v| *v = list),
            // A new pair replaces the wish (cancelling the old pair's maps); an export is
            // added to it, and cancels nothing.
            Command::Explain(r) => self.explains.set(|e| e.wanted = r),
            Command::Export(r) => self.explains.amend(|e| e.exports.push_back(r)),
            Command::Open(path) => open::open(path, self.tx.clone()),
            Command::Cells(r) => self.cells.set(|w| *w = r),
            Command::Region(j) => self.region.set(|w| *w = j),
        }
    }

    /// Stops the workers: the indexer stores the batch in flight (waited for up to `wait`).
    pub fn shutdown(mut self, wait: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.previews.stop();
        self.explains.stop();
        self.cells.stop();
        self.region.stop();
        if let Some(h) = self.indexer.take() {
            let t = Instant::now();
            while !h.is_finished() && t.elapsed() < wait {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

fn wait_for<T: Clone>(shared: &Shared<T>) -> Option<Result<T, String>> {
    let (lock, cv) = &**shared;
    let mut g = lock.lock().ok()?;
    while g.is_none() {
        g = cv.wait(g).ok()?;
    }
    g.clone()
}
