//! `simtui bench tui`: how fast the TUI answers. The real event loop, workers and view run
//! against a 160×48 crossterm backend that writes its escape sequences to a sink, with key
//! presses injected on a schedule:
//! 1. start-up on a cached folder of 10 000 photos: time to the first frame, and to the first
//!    frame that shows the folder with the query's neighbours;
//! 2. key press → finished frame while the same folder is being indexed from scratch.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde::Serialize;

use super::Options;
use crate::engine::Embedder;
use crate::explain::{Method, Params};
use crate::index::{scan, Cache, ScanOptions};
use crate::tui::app::{App, Config};
use crate::tui::blocks::ColorMode;
use crate::tui::event_loop::{FrameTiming, Input, Loop};
use crate::tui::worker::{WorkerConfig, Workers};

const PHOTOS: usize = 10_000;

/// Keys at set times (relative to when the script starts).
struct Script {
    keys: Vec<(Duration, KeyCode)>,
    next: usize,
    start: Option<Instant>,
    /// Waits for this before starting the clock.
    armed: std::sync::Arc<AtomicBool>,
}

impl Input for Script {
    fn poll(&mut self, timeout: Duration) -> Result<Option<(TermEvent, Instant)>> {
        if !self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(timeout);
            return Ok(None);
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        let Some(&(due, code)) = self.keys.get(self.next) else {
            std::thread::sleep(timeout);
            return Ok(None);
        };
        let due = start + due;
        let now = Instant::now();
        if due > now + timeout {
            std::thread::sleep(timeout);
            return Ok(None);
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next += 1;
        Ok(Some((
            TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)),
            due.max(now),
        )))
    }
}

fn terminal() -> Result<Terminal<CrosstermBackend<std::io::Sink>>> {
    Ok(Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, 160, 48)),
        },
    )?)
}

/// A database in which every photo of `dir` is already embedded (with stand-in embeddings:
/// start-up reads them, it does not look at them), made once.
fn cached_db(embedder: &Embedder, dir: &Path, db: &Path) -> Result<()> {
    let mut cache = Cache::open(db)?;
    let scanned = scan(dir, ScanOptions::default())?;
    let have = cache.rows(embedder.model_id())?.len();
    if have == scanned.files.len() {
        return Ok(());
    }
    eprintln!(
        "filling {} with {} cached rows …",
        db.display(),
        scanned.files.len()
    );
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 6.0
    };
    for chunk in scanned.files.chunks(500) {
        let embeddings: Vec<Vec<f32>> = chunk
            .iter()
            .map(|_| (0..crate::model::EMBEDDING_DIM).map(|_| next()).collect())
            .collect();
        let rows: Vec<_> = chunk
            .iter()
            .zip(&embeddings)
            .map(|(f, e)| (f, e.as_slice()))
            .collect();
        cache.store(embedder.model_id(), &rows, &[])?;
    }
    Ok(())
}

fn config(dir: &Path, db: &Path) -> WorkerConfig {
    WorkerConfig {
        root: dir.to_path_buf(),
        db: db.to_path_buf(),
        scan: ScanOptions::default(),
        weights: None,
        preprocess: Default::default(),
        params: Params::default(),
        space: centred(),
        export_dir: std::env::temp_dir(),
    }
}

fn new_app(dir: &Path) -> App {
    App::new(Config {
        root: dir.to_path_buf(),
        k: 10,
        method: Method::Gradcam,
        space: centred(),
        export_dir: std::env::temp_dir(),
    })
}

/// The space `simtui DIR` ranks by.
fn centred() -> crate::space::Space {
    crate::space::Space::bundled(crate::space::Similarity::Centred)
        .expect("the bundled weights hold the head batch-norm")
}

/// The TUI's event loop as `simtui DIR` runs it (no graphics protocol, true colour), with
/// scripted input and `on_frame` called after every frame.
fn drive(
    app: &mut App,
    input: &mut Script,
    rx: &mpsc::Receiver<crate::tui::action::Msg>,
    workers: &Workers,
    on_frame: &mut dyn FnMut(&App, FrameTiming),
) -> Result<()> {
    let mut terminal = terminal()?;
    Loop {
        terminal: &mut terminal,
        app,
        colors: ColorMode::TrueColor,
        painter: None,
        input,
        messages: rx,
        workers,
        interrupted: &AtomicBool::new(false),
        on_frame,
    }
    .run()
}

#[derive(Serialize, Default)]
struct Startup {
    first_frame_ms: Vec<f64>,
    usable_frame_ms: Vec<f64>,
}

/// One start on the cached folder: (first frame, first frame with the folder and neighbours).
fn start_once(dir: &Path, db: &Path) -> Result<(f64, f64)> {
    let t0 = Instant::now();
    let (tx, rx) = mpsc::channel();
    let workers = Workers::start(tx, config(dir, db));
    let mut app = new_app(dir);
    let mut first = None;
    let mut usable = None;
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    let mut input = Script {
        keys: vec![(Duration::ZERO, KeyCode::Char('q'))],
        next: 0,
        start: None,
        armed: armed.clone(),
    };
    drive(&mut app, &mut input, &rx, &workers, &mut |app, f| {
        let ms = (f.done_at - t0).as_secs_f64() * 1e3;
        first.get_or_insert(ms);
        if usable.is_none() && app.files.entries.len() >= PHOTOS && !app.neighbours.list.is_empty()
        {
            usable = Some(ms);
            armed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    })?;
    workers.shutdown(Duration::from_secs(10));
    Ok((
        first.context("no frame drawn")?,
        usable.context("the folder never showed")?,
    ))
}

#[derive(Serialize)]
struct Latency {
    keys: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    embedded_meanwhile: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Keys every 80 ms while the folder is embedded from scratch.
fn keys_while_indexing(dir: &Path, seconds: f64) -> Result<Latency> {
    let db = std::env::temp_dir().join(format!("simtui-bench-tui-{}.sqlite", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let (tx, rx) = mpsc::channel();
    let workers = Workers::start(tx, config(dir, &db));
    let mut app = new_app(dir);
    // A person browsing: down the list, into the neighbours, follow, back, more neighbours,
    // filter and clear; `s` turns the overlay on part of the time (maps compute meanwhile).
    let pattern = [
        KeyCode::Char('j'),
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::Tab,
        KeyCode::Char('j'),
        KeyCode::Enter,
        KeyCode::Backspace,
        KeyCode::Char('+'),
        KeyCode::Char('-'),
        KeyCode::Tab,
        KeyCode::Char('s'),
        KeyCode::Char('j'),
        KeyCode::Char('j'),
        KeyCode::Char('s'),
        KeyCode::Char('/'),
        KeyCode::Char('1'),
        KeyCode::Esc,
        KeyCode::Char('G'),
        KeyCode::Char('g'),
    ];
    let n = ((seconds * 1e3) / 80.0) as usize;
    let keys: Vec<(Duration, KeyCode)> = (0..n)
        .map(|i| {
            (
                Duration::from_millis(80 * i as u64),
                pattern[i % pattern.len()],
            )
        })
        .chain(std::iter::once((
            Duration::from_millis(80 * n as u64 + 200),
            KeyCode::Char('q'),
        )))
        .collect();
    let armed = std::sync::Arc::new(AtomicBool::new(false));
    let mut input = Script {
        keys,
        next: 0,
        start: None,
        armed: armed.clone(),
    };
    let mut latencies = Vec::new();
    let mut embedded_at_start = None;
    let mut embedded_now = 0;
    drive(&mut app, &mut input, &rx, &workers, &mut |app, f| {
        // Start once the folder is listed and embedding is under way.
        if app.files.entries.len() >= PHOTOS && app.progress.done > 0 {
            armed.store(true, std::sync::atomic::Ordering::SeqCst);
            embedded_at_start.get_or_insert(app.progress.done);
        }
        embedded_now = app.progress.done;
        if let Some(at) = f.input_at {
            latencies.push((f.done_at - at).as_secs_f64() * 1e3);
        }
    })?;
    let still_indexing = app.progress.done < app.progress.to_embed;
    workers.shutdown(Duration::from_secs(10));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    anyhow::ensure!(
        still_indexing,
        "indexing finished before the keys did: not measured under load"
    );
    // The final `q` draws no frame.
    latencies.sort_by(f64::total_cmp);
    anyhow::ensure!(!latencies.is_empty(), "no key was answered");
    Ok(Latency {
        keys: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        embedded_meanwhile: embedded_now - embedded_at_start.unwrap_or(0),
    })
}

pub(super) fn run(embedder: &Embedder, args: &Options) -> Result<()> {
    let dir: PathBuf = super::index::photo_set_10k(args)?;
    let db = dir.with_extension("tui.sqlite");
    cached_db(embedder, &dir, &db)?;

    let mut startup = Startup::default();
    // The first start also warms the page cache (the database, the photos' metadata).
    let _ = start_once(&dir, &db)?;
    for _ in 0..5 {
        let (first, usable) = start_once(&dir, &db)?;
        startup.first_frame_ms.push(first);
        startup.usable_frame_ms.push(usable);
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let latency = keys_while_indexing(&dir, args.seconds.max(5.0) * 4.0)?;

    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "photos": PHOTOS,
                "startup": startup,
                "first_frame_median_ms": median(&startup.first_frame_ms),
                "usable_frame_median_ms": median(&startup.usable_frame_ms),
                "key_to_frame_while_indexing": latency,
            })
        );
    } else {
        println!(
            "start-up on a cached folder of {PHOTOS} photos (160×48, median of 5): first frame {:.1} ms (target < 300), folder and neighbours on screen {:.0} ms",
            median(&startup.first_frame_ms),
            median(&startup.usable_frame_ms)
        );
        println!(
            "key press → finished frame while indexing ({} keys, {} photos embedded meanwhile): p50 {:.1} ms, p95 {:.1} ms (target < 50), max {:.1} ms",
            latency.keys, latency.embedded_meanwhile, latency.p50_ms, latency.p95_ms, latency.max_ms
        );
    }
    Ok(())
}
