//! The indexer thread: loads the model (and shares it with the saliency worker), opens the
//! cache and brings the folder's index up to date, reporting each step as a [`Msg`].

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Result;

use super::{Shared, WorkerConfig};
use crate::engine::Embedder;
use crate::index::{self, Cache};
use crate::tui::action::Msg;
use crate::tui::log;

/// Starts the indexer; it ends with [`Msg::IndexFinished`], panics included.
pub(super) fn spawn(
    tx: Sender<Msg>,
    stop: Arc<AtomicBool>,
    embedder: Shared<Arc<Embedder>>,
    config: Arc<WorkerConfig>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| run_indexer(&tx, &stop, &embedder, &config));
            let r = match std::panic::catch_unwind(run) {
                Ok(r) => r.map_err(|e| format!("{e:#}")),
                Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
            };
            if let Err(e) = &r {
                log::write(&format!("indexing failed: {e}"));
                // The saliency worker may still wait for the model.
                let (lock, cv) = &*embedder;
                let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
                if slot.is_none() {
                    *slot = Some(Err(e.clone()));
                    cv.notify_all();
                }
            }
            let _ = tx.send(Msg::IndexFinished(r));
        })
        .expect("spawn indexer thread")
}

fn run_indexer(
    tx: &Sender<Msg>,
    stop: &AtomicBool,
    shared: &Shared<Arc<Embedder>>,
    config: &WorkerConfig,
) -> Result<()> {
    let embedder = Embedder::new(config.weights.as_deref(), config.preprocess)
        .map(Arc::new)
        .map_err(|e| format!("{e:#}"));
    {
        let (lock, cv) = &**shared;
        *lock.lock().expect("embedder lock") = Some(embedder.clone());
        cv.notify_all();
    }
    let embedder = embedder.map_err(anyhow::Error::msg)?;
    let _ = tx.send(Msg::ModelReady);
    let mut cache = Cache::open(&config.db)?;
    index::update(
        &embedder,
        &config.root,
        config.scan,
        &mut cache,
        stop,
        &mut |event| {
            let _ = tx.send(Msg::Index(event));
        },
    )?;
    Ok(())
}
