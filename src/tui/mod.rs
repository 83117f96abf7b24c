//! `simtui DIR`: the terminal UI. Elm-shaped: [`app::App`] is the state, [`action::Action`]s
//! change it through `App::update`, [`view::view`] draws it without side effects, and the
//! [`event_loop`] merges key events, worker messages and ticks. Model work, decoding and
//! saliency run on worker threads ([`worker`]), so a key press is answered in the next frame.
//! The terminal's lifecycle (raw mode, panic hook, signals, watchdog) is in [`terminal`].
//! This file owns the options the TUI takes and its start-up wiring.

pub mod action;
pub mod app;
pub mod blocks;
pub mod cache;
pub mod event_loop;
pub mod graphics;
pub mod jobs;
pub mod log;
pub mod sanitize;
pub mod scroll;
pub mod terminal;
pub mod view;
pub mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::explain::{Method, Params};
use crate::index::{Cache, ScanOptions};
use crate::model::Preprocess;
use app::{App, Config};
use blocks::ColorMode;
use event_loop::Loop;
use graphics::{Graphics, Painter};
use terminal::{TerminalGuard, TerminalInput, HUNG_UP};
use worker::{WorkerConfig, Workers};

/// The colours of half-block photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colors {
    /// True colour when the terminal announces it (COLORTERM) or is known to have it.
    #[default]
    Auto,
    TrueColor,
    /// The xterm 256-colour palette.
    Ansi256,
}

/// How the TUI looks and where it writes.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub graphics: Graphics,
    pub colors: Colors,
    /// Where `e` writes PNGs (default: the current folder).
    pub export_dir: Option<PathBuf>,
    /// Neighbours shown.
    pub k: usize,
    /// Saliency method shown first.
    pub method: Method,
    /// Log file (default: simtui.log in the cache folder).
    pub log: Option<PathBuf>,
}

pub struct Options {
    pub dir: PathBuf,
    pub db: Option<PathBuf>,
    pub scan: ScanOptions,
    pub weights: Option<PathBuf>,
    pub preprocess: Preprocess,
    /// The score neighbours are ranked by and maps explain (centred unless asked otherwise).
    pub space: crate::space::Space,
    pub tui: TuiOptions,
}

fn default_log_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "simtui")
        .map(|d| d.cache_dir().join("simtui.log"))
        .unwrap_or_else(|| std::env::temp_dir().join("simtui.log"))
}

/// Opens the TUI on `options.dir` and runs it until the user quits.
pub fn run(options: Options) -> Result<ExitCode> {
    let dir = &options.dir;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is a file, not a folder of photos", dir.display()),
        Err(e) => bail!("cannot open folder {}: {e}", dir.display()),
    }
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!(
            "`simtui DIR` is interactive and needs a terminal; in scripts use `simtui index`, `similar`, `dups` or `explain` (with --json)"
        );
    }
    let log_path = options.tui.log.clone().unwrap_or_else(default_log_path);
    log::init(&log_path)?;
    let db = match &options.db {
        Some(p) => p.clone(),
        None => Cache::default_path(dir)?,
    };
    let export_dir = match &options.tui.export_dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    // What the terminal can draw: asked in raw mode (no reply or key is echoed), within
    // probe::DEADLINE; a protocol asked for by name that cannot work is an error here, with
    // the terminal as it was.
    let raw = terminal::RawMode::enable()?;
    let mux = graphics::Multiplexer::detect();
    let replies = match graphics::queries(options.tui.graphics, &mux) {
        Some(q) => Some(terminal::probe(&q)?),
        None => None,
    };
    let choice = graphics::decide(
        options.tui.graphics,
        &mux,
        viuer::is_iterm_supported(),
        replies.as_ref(),
    )?;
    raw.keep();
    let driver = choice.driver;
    let colors = match options.tui.colors {
        Colors::Auto => ColorMode::detect(),
        Colors::TrueColor => ColorMode::TrueColor,
        Colors::Ansi256 => ColorMode::Ansi256,
    };
    log::write(&format!(
        "folder {}, index {}, graphics {driver:?} ({mux:?}), colours {colors:?}",
        dir.display(),
        db.display()
    ));

    terminal::install_panic_hook(&log_path);
    let interrupted = terminal::catch_signals()?;
    // Ends the process if the terminal hangs up or a signal goes unanswered (see watchdog).
    let loop_done = Arc::new(AtomicBool::new(false));
    terminal::watchdog(interrupted.clone(), loop_done.clone())?;

    let (tx, rx) = mpsc::channel();
    let workers = Workers::start(
        tx,
        WorkerConfig {
            root: dir.clone(),
            db,
            scan: options.scan,
            weights: options.weights.clone(),
            preprocess: options.preprocess,
            params: Params::default(),
            space: options.space.clone(),
            export_dir: export_dir.clone(),
        },
    );
    let mut app = App::new(Config {
        root: dir.clone(),
        k: options.tui.k,
        method: options.tui.method,
        space: options.space.clone(),
        export_dir,
    });
    app.log_hint = sanitize::path(&log_path);
    if let Some(fallback) = &choice.fallback {
        log::write(&fallback.line());
        app.say(fallback.line());
    }
    app.pictures.images = choice.images();

    // A closure, so that a failed setup step also reaches the hang-up check and the shutdown
    // below instead of returning past them.
    let result = (|| -> Result<()> {
        let _guard = TerminalGuard;
        let mut terminal = terminal::enter()?;
        Loop {
            terminal: &mut terminal,
            app: &mut app,
            colors,
            painter: driver.map(Painter::new).transpose()?,
            input: &mut TerminalInput::default(),
            messages: &rx,
            workers: &workers,
            interrupted: &interrupted,
            on_frame: &mut |_, _| {},
        }
        .run()
    })();
    loop_done.store(true, Ordering::SeqCst);
    terminal::restore_terminal();
    workers.shutdown(Duration::from_secs(5));
    if terminal::terminal_hung_up() {
        // The terminal went away before the watchdog's next look: a write to it failed, or
        // its SIGHUP stopped the loop (exit 129 either way, not the 130 of a signal).
        log::write(HUNG_UP);
        return Ok(ExitCode::from(129));
    }
    if let Err(e) = &result {
        log::write(&format!("error: {e:#}"));
    }
    result?;
    if app.exports_pending > 0 {
        // Not eprintln!: it panics when stderr is gone.
        let _ = writeln!(
            std::io::stderr(),
            "{} export(s) were still being computed and were not written",
            app.exports_pending
        );
    }
    if interrupted.load(Ordering::SeqCst) {
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}
