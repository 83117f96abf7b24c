//! `simtui DIR`: the terminal UI. Elm-shaped: [`app::App`] is the state, [`app::Action`]s
//! change it through `App::update`, [`view::view`] draws it without side effects, and one
//! event loop merges key events, worker messages and ticks. Model work, decoding and saliency
//! run on worker threads ([`worker`]), so a key press is answered in the next frame.

pub mod app;
pub mod blocks;
pub mod graphics;
pub mod log;
pub mod sanitize;
pub mod view;
pub mod worker;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use crossterm::event::{
    self, DisableMouseCapture, Event as TermEvent, MouseButton, MouseEventKind,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::Terminal;

use crate::explain::{Params, DEFAULT_METHOD};
use crate::index::{Cache, ScanOptions};
use crate::model::Preprocess;
use app::{Action, App, Config};
use blocks::ColorMode;
use graphics::{GraphicsArg, Painter};
use view::Display;
use worker::{WorkerConfig, Workers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorsArg {
    /// True colour when the terminal announces it (COLORTERM) or is known to have it
    #[default]
    Auto,
    Truecolor,
    /// The xterm 256-colour palette
    #[value(name = "256")]
    Ansi256,
}

#[derive(Args, Debug, Clone)]
pub struct TuiArgs {
    /// How photos are drawn: a graphics protocol, or half-block characters
    #[arg(long, value_enum, default_value_t)]
    pub graphics: GraphicsArg,
    /// Colours of half-block photos
    #[arg(long, value_enum, default_value_t)]
    pub colors: ColorsArg,
    /// Where `e` writes PNGs (default: the current folder); existing files are never replaced
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// Number of neighbours shown (change with + and -)
    #[arg(short, default_value_t = app::DEFAULT_K)]
    pub k: usize,
    /// Saliency method shown first (cycle with m)
    #[arg(long, value_enum, default_value_t = crate::cli::MethodArg::from(DEFAULT_METHOD))]
    pub method: crate::cli::MethodArg,
    /// Log file (default: simtui.log in the cache folder)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

pub struct Options {
    pub dir: PathBuf,
    pub db: Option<PathBuf>,
    pub scan: ScanOptions,
    pub weights: Option<PathBuf>,
    pub preprocess: Preprocess,
    pub tui: TuiArgs,
}

/// Where key presses come from: the terminal, or a script (benchmarks).
pub trait Input {
    /// The next event within `timeout`, with the moment it happened.
    fn poll(&mut self, timeout: Duration) -> Result<Option<(TermEvent, Instant)>>;
}

struct TerminalInput;

impl Input for TerminalInput {
    fn poll(&mut self, timeout: Duration) -> Result<Option<(TermEvent, Instant)>> {
        if event::poll(timeout)? {
            let ev = event::read()?;
            Ok(Some((ev, Instant::now())))
        } else {
            Ok(None)
        }
    }
}

/// Raw mode, alternate screen and mouse capture off again; safe to call more than once.
fn restore_terminal() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// The log line of an exit because the terminal went away.
const HUNG_UP: &str = "the terminal hung up: exiting";

/// How long the event loop has to stop by itself after SIGTERM or SIGHUP.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Starts a thread that ends the process when the terminal hangs up (exit 129), or when a
/// termination signal has not stopped the event loop within [`STOP_GRACE`] (exit 130). The
/// event loop cannot be relied on for either: crossterm 0.29's reader never returns from `poll`
/// once the terminal is gone (it re-reads the dead tty forever at 100 % CPU; crossterm issue
/// #793), so a closed terminal window or a dropped ssh session would leave simtui spinning.
/// The index loses nothing: each batch is committed in its own transaction.
fn watchdog(interrupted: Arc<AtomicBool>, loop_done: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("simtui-watchdog".into())
        .spawn(move || {
            let mut signalled: Option<Instant> = None;
            loop {
                std::thread::sleep(Duration::from_millis(200));
                if loop_done.load(Ordering::SeqCst) {
                    return;
                }
                if terminal_hung_up() {
                    log::write(HUNG_UP);
                    std::process::exit(129);
                }
                if interrupted.load(Ordering::SeqCst) {
                    let since = *signalled.get_or_insert_with(Instant::now);
                    if since.elapsed() >= STOP_GRACE {
                        log::write("signalled, and the event loop did not stop: exiting");
                        // The UI thread may be stuck in a write to a stalled terminal, holding
                        // stdout's lock: restore from a thread of its own, wait for it briefly,
                        // and exit either way.
                        let (done, restored) = mpsc::channel();
                        std::thread::spawn(move || {
                            restore_terminal();
                            let _ = done.send(());
                        });
                        let _ = restored.recv_timeout(Duration::from_millis(500));
                        std::process::exit(130);
                    }
                }
            }
        })
        .context("cannot start the watchdog thread")?;
    Ok(())
}

/// Whether the terminal on stdin has hung up: its other end (the terminal window, the ssh
/// connection, tmux) is gone. Polling reports it without reading anything. Only POLLHUP
/// counts: macOS answers POLLNVAL for some live terminal devices.
fn terminal_hung_up() -> bool {
    #[cfg(unix)]
    {
        let mut fd = libc::pollfd {
            fd: 0,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the length given, zero timeout; poll only writes revents.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & libc::POLLHUP != 0
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Restores the terminal when dropped: on return, on error and while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
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
    // Before raw mode: this may ask the terminal what it can draw.
    let protocol = graphics::choose(options.tui.graphics)?;
    let colors = match options.tui.colors {
        ColorsArg::Auto => ColorMode::detect(),
        ColorsArg::Truecolor => ColorMode::TrueColor,
        ColorsArg::Ansi256 => ColorMode::Ansi256,
    };
    log::write(&format!(
        "folder {}, index {}, graphics {protocol:?}, colours {colors:?}",
        dir.display(),
        db.display()
    ));

    // The terminal is restored before the panic message is printed, so it stays readable.
    // A panic on the UI thread ends the program: restore the terminal, then print it. Workers
    // catch their own panics and report them as errors; the hook only logs theirs, since the
    // UI is still on screen.
    let previous = std::panic::take_hook();
    let ui_thread = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        log::write(&format!("panic: {info}"));
        if std::thread::current().id() == ui_thread {
            restore_terminal();
            previous(info);
        }
    }));
    // SIGTERM, SIGHUP (and SIGINT, if one arrives despite raw mode) end the loop cleanly.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .context("cannot install the signal handler")?;
    }

    // Ends the process if the terminal hangs up or a signal goes unanswered (see watchdog).
    let loop_done = Arc::new(AtomicBool::new(false));
    watchdog(interrupted.clone(), loop_done.clone())?;

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
            export_dir: export_dir.clone(),
        },
    );
    let mut app = App::new(Config {
        root: dir.clone(),
        k: options.tui.k,
        method: options.tui.method.into(),
        export_dir,
    });
    app.log_hint = sanitize::path(&log_path);

    // A closure, so that a failed setup step also reaches the hang-up check and the shutdown
    // below instead of returning past them.
    let result = (|| -> Result<()> {
        let _guard = TerminalGuard;
        enable_raw_mode().context("cannot switch the terminal to raw mode")?;
        crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
        // Clicks only (X10 + SGR coordinates), not crossterm's any-motion capture: moving the
        // mouse sends nothing, so no input races a graphics protocol's replies.
        std::io::stdout().write_all(b"\x1b[?1000h\x1b[?1006h")?;
        // Never dropped: ratatui's Drop re-shows the cursor and `eprintln!`s if that fails,
        // which panics once the terminal has hung up (stderr answers EIO). restore_terminal
        // shows the cursor anyway; the leak is two screen buffers at exit.
        let mut terminal =
            std::mem::ManuallyDrop::new(Terminal::new(CrosstermBackend::new(std::io::stdout()))?);
        terminal.hide_cursor()?;
        terminal.clear()?;
        let mut painter = protocol.map(Painter::new).transpose()?;
        event_loop(
            &mut terminal,
            &mut app,
            colors,
            painter.as_mut(),
            &mut TerminalInput,
            &rx,
            &mut |c| workers.send(c),
            &interrupted,
            &mut |_, _| {},
        )
    })();
    loop_done.store(true, Ordering::SeqCst);
    restore_terminal();
    workers.shutdown(Duration::from_secs(5));
    if terminal_hung_up() {
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

/// One finished frame, for measurements: when its input arrived (if it answers one) and
/// when it was on screen.
#[derive(Debug, Clone, Copy)]
pub struct FrameTiming {
    pub input_at: Option<Instant>,
    pub done_at: Instant,
}

const TICK: Duration = Duration::from_millis(250);
/// Worker messages handled before a frame is drawn (a flood cannot starve the screen).
const MESSAGES_PER_FRAME: usize = 256;

/// Runs until the app quits: input and worker messages become actions, each batch of them
/// one frame. `send` hands the app's commands to the workers.
#[allow(clippy::too_many_arguments)]
pub fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    colors: ColorMode,
    mut painter: Option<&mut Painter>,
    input: &mut dyn Input,
    rx: &Receiver<app::Msg>,
    send: &mut dyn FnMut(app::Command),
    interrupted: &AtomicBool,
    on_frame: &mut dyn FnMut(&App, FrameTiming),
) -> Result<()>
where
    B::Error: Send + Sync + 'static,
{
    draw(terminal, app, colors, &mut painter)?;
    on_frame(
        app,
        FrameTiming {
            input_at: None,
            done_at: Instant::now(),
        },
    );
    let mut last_tick = Instant::now();
    loop {
        let mut dirty = false;
        let mut input_at = None;
        // Wait briefly for input; worker messages are picked up after.
        if let Some((ev, at)) = input.poll(Duration::from_millis(20))? {
            input_at = Some(at);
            dirty |= handle_term_event(app, ev, &mut painter);
            // Keys typed ahead are handled before drawing.
            while let Some((ev, _)) = input.poll(Duration::ZERO)? {
                dirty |= handle_term_event(app, ev, &mut painter);
            }
        }
        for msg in rx.try_iter().take(MESSAGES_PER_FRAME) {
            app.update(Action::Worker(msg));
            dirty = true;
        }
        // Photos encoded for a graphics protocol since the last frame are printed by the next.
        if let Some(p) = painter.as_deref_mut() {
            dirty |= p.poll_ready();
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            app.update(Action::Tick);
            dirty = true;
        }
        if interrupted.load(Ordering::SeqCst) {
            app.quit = true;
        }
        for c in app.commands.drain(..) {
            send(c);
        }
        if app.quit {
            return Ok(());
        }
        if dirty {
            draw(terminal, app, colors, &mut painter)?;
            on_frame(
                app,
                FrameTiming {
                    input_at,
                    done_at: Instant::now(),
                },
            );
        }
    }
}

/// Returns whether the screen must be redrawn.
fn handle_term_event(app: &mut App, ev: TermEvent, painter: &mut Option<&mut Painter>) -> bool {
    match ev {
        TermEvent::Key(key) => {
            if let Some(action) = app.key_action(key) {
                app.update(action);
            }
            true
        }
        TermEvent::Mouse(m) if m.kind == MouseEventKind::Down(MouseButton::Left) => {
            app.update(Action::Click {
                column: m.column,
                row: m.row,
            });
            true
        }
        TermEvent::Resize(_, _) => {
            if let Some(p) = painter {
                p.invalidate();
            }
            app.update(Action::Resize);
            true
        }
        _ => false,
    }
}

fn draw<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    colors: ColorMode,
    painter: &mut Option<&mut Painter>,
) -> Result<()>
where
    B::Error: Send + Sync + 'static,
{
    // The screen size as the frame will have it (queried from a real terminal; fixed for
    // benchmarks and tests).
    terminal.autoresize()?;
    let area = terminal.get_frame().area();
    app.list_rows = view::list_rows(area);
    // Popups are drawn in cells: while one is open, photos are too.
    let external = match painter.as_deref_mut() {
        Some(p) if !app.help => Some(p.cell_size()),
        _ => None,
    };
    let display = Display {
        colors,
        external_images: external,
    };
    let Some(p) = painter.as_deref_mut() else {
        terminal.draw(|f| view::view(app, display, f))?;
        return Ok(());
    };
    let images = match (external, view::areas(area)) {
        (Some(_), Some(a)) => view::panel_images(app, &a),
        _ => Vec::new(),
    };
    if let Err(e) = draw_with_graphics(terminal, app, display, p, &images) {
        // A terminal that stops answering the protocol (or answers it wrongly) must not end
        // the session: say so, and draw photos as half-blocks from now on.
        let protocol = p.protocol;
        log::write(&format!("{protocol:?} graphics failed: {e:#}"));
        app.say(format!(
            "{protocol:?} graphics failed ({e:#}): photos in half-blocks from now on"
        ));
        *painter = None;
        terminal.clear()?;
        return draw(terminal, app, colors, painter);
    }
    Ok(())
}

fn draw_with_graphics<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &App,
    display: Display,
    p: &mut Painter,
    images: &[(ratatui::layout::Rect, Arc<image::RgbImage>)],
) -> Result<()>
where
    B::Error: Send + Sync + 'static,
{
    p.before(terminal, images)?;
    terminal.draw(|f| view::view(app, display, f))?;
    p.after(images)
}
