//! The terminal's lifecycle around the TUI: raw mode, the start-up queries ([`probe`]),
//! alternate screen and mouse clicks on the way in; the way back out on every exit path
//! ([`TerminalGuard`], the panic hook, the watchdog), sent once; termination signals; and
//! the keyboard and cell size as the event loop's [`Input`].

use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{self, DisableMouseCapture, Event as TermEvent, KeyCode};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::layout::{Position, Size};
use ratatui::Terminal;

use super::event_loop::Input;
use super::log;
use crate::render::terminal::probe::{self, Replies, ReplySource};

/// The keyboard and mouse of the real terminal, and its cell size.
pub struct TerminalInput {
    /// Whether the log already says that the cell size is assumed.
    warned_cell_size: bool,
    /// The key that panics ([`PANIC_ON_KEY`]; a test hook).
    panic_on_key: Option<char>,
}

/// Test hook, not a feature (tests/tui_panic.rs): with `SIMTUI_PANIC_ON_KEY=<char>` in the
/// environment, that key panics on the UI thread inside the event loop, so that the restore by
/// the panic hook is tested end to end on the release binary. Read once, at start.
#[doc(hidden)]
pub const PANIC_ON_KEY: &str = "SIMTUI_PANIC_ON_KEY";

impl Default for TerminalInput {
    fn default() -> Self {
        let key = std::env::var(PANIC_ON_KEY).ok();
        TerminalInput {
            warned_cell_size: false,
            panic_on_key: key.and_then(|k| k.chars().next()),
        }
    }
}

impl Input for TerminalInput {
    fn poll(&mut self, timeout: Duration) -> Result<Option<(TermEvent, Instant)>> {
        if event::poll(timeout)? {
            let ev = event::read()?;
            if let (TermEvent::Key(k), Some(c)) = (&ev, self.panic_on_key) {
                if k.code == KeyCode::Char(c) {
                    panic!("{PANIC_ON_KEY}: key {c:?} pressed");
                }
            }
            Ok(Some((ev, Instant::now())))
        } else {
            Ok(None)
        }
    }

    fn cell_pixels(&mut self) -> Option<(f64, f64)> {
        let cell = cell_pixels();
        if cell.is_none() && !self.warned_cell_size {
            self.warned_cell_size = true;
            log::write(
                "the terminal does not report its size in pixels (TIOCGWINSZ): photos assume cells twice as tall as wide",
            );
        }
        cell
    }
}

/// The pixel size of one terminal cell, as the terminal reports it (TIOCGWINSZ); `None`
/// where it reports zeros (the kernel's default when a terminal does not fill them in).
pub fn cell_pixels() -> Option<(f64, f64)> {
    let ws = crossterm::terminal::window_size().ok()?;
    (ws.width > 0 && ws.height > 0 && ws.columns > 0 && ws.rows > 0).then(|| {
        // Whole pixels: some terminals count their padding in, and a cell a fraction too
        // large would let an image spill into the row below its cells.
        (
            (ws.width as f64 / ws.columns as f64).floor().max(1.0),
            (ws.height as f64 / ws.rows as f64).floor().max(1.0),
        )
    })
}

/// Replies read from the terminal on stdin.
struct StdinReplies;

impl ReplySource for StdinReplies {
    fn read_within(&mut self, buf: &mut [u8], timeout: Duration) -> std::io::Result<usize> {
        #[cfg(unix)]
        {
            let mut fd = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the length given.
            let ready = unsafe { libc::poll(&mut fd, 1, ms) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                return if e.kind() == std::io::ErrorKind::Interrupted {
                    Ok(0)
                } else {
                    Err(e)
                };
            }
            if ready == 0 || fd.revents & libc::POLLIN == 0 {
                return Ok(0);
            }
            // SAFETY: reads at most buf.len() bytes into buf.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(n as usize)
        }
        #[cfg(not(unix))]
        {
            let _ = (buf, timeout);
            Ok(0)
        }
    }
}

/// Sends `queries` to the terminal and reads its replies, within [`probe::DEADLINE`] in all.
/// Raw mode must be on (see [`RawMode`]), so that neither the queries' replies nor keys
/// typed meanwhile are echoed, and each reply is read whole as it comes. Keys typed before
/// the last reply cannot be handed to the event loop's reader: they are dropped, and logged.
pub fn probe(queries: &[u8]) -> Result<Replies> {
    let mut out = std::io::stdout();
    out.write_all(queries)?;
    out.flush()?;
    let started = Instant::now();
    let replies = probe::read_replies(&mut StdinReplies, probe::DEADLINE)
        .context("cannot read the terminal's replies")?;
    log::write(&format!(
        "terminal replies in {} ms: kitty graphics {:?}, device attributes {:?}{}",
        started.elapsed().as_millis(),
        replies.kitty,
        replies.attributes,
        if replies.typed.is_empty() {
            String::new()
        } else {
            format!(", {} typed byte(s) dropped", replies.typed.len())
        }
    ));
    Ok(replies)
}

/// Raw mode for the start-up queries, off again when dropped unless [`RawMode::keep`] hands
/// it on to the TUI.
pub struct RawMode(bool);

impl RawMode {
    pub fn enable() -> Result<RawMode> {
        enable_raw_mode().context("cannot switch the terminal to raw mode")?;
        Ok(RawMode(true))
    }

    pub fn keep(mut self) {
        self.0 = false;
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = disable_raw_mode();
        }
    }
}

/// Whether the TUI's screen is up, so that the way out is sent once.
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen and mouse capture off again: sent once after [`enter`], however
/// many exit paths call it.
pub fn restore_terminal() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        return;
    }
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

/// Restores the terminal when dropped: on return, on error and while unwinding.
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// The terminal for the TUI: raw mode, the alternate screen, mouse clicks, cursor hidden and
/// the screen cleared. Hold a [`TerminalGuard`] before calling it, so a step that fails
/// leaves the terminal as it was.
///
/// The `Terminal` is never dropped: ratatui's Drop re-shows the cursor and `eprintln!`s if
/// that fails, which panics once the terminal has hung up (stderr answers EIO).
/// [`restore_terminal`] shows the cursor anyway; the leak is two screen buffers at exit.
pub fn enter() -> Result<ManuallyDrop<Terminal<QuietBackend>>> {
    enable_raw_mode().context("cannot switch the terminal to raw mode")?;
    ENTERED.store(true, Ordering::SeqCst);
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    // Clicks only (X10 + SGR coordinates), not crossterm's any-motion capture: moving the
    // mouse sends nothing, so no input races a graphics protocol's replies.
    std::io::stdout().write_all(b"\x1b[?1000h\x1b[?1006h")?;
    let mut terminal = ManuallyDrop::new(Terminal::new(QuietBackend(CrosstermBackend::new(
        std::io::stdout(),
    )))?);
    terminal.hide_cursor()?;
    terminal.clear()?;
    Ok(terminal)
}

/// crossterm's backend, except that it never asks the terminal where the cursor is.
/// ratatui's `Terminal::clear` does, to put the cursor back, and crossterm waits 2 s for
/// the answer: a terminal that never answers stalled start-up and then failed it, and every
/// clear (the painter's, when photos change) was a round trip through the keyboard input.
/// The TUI hides the cursor and never reads its position, so the origin is answered.
pub struct QuietBackend(CrosstermBackend<std::io::Stdout>);

impl Backend for QuietBackend {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.0.draw(content)
    }
    fn append_lines(&mut self, n: u16) -> std::io::Result<()> {
        self.0.append_lines(n)
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.0.hide_cursor()
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.0.show_cursor()
    }
    fn get_cursor_position(&mut self) -> std::io::Result<Position> {
        Ok(Position::ORIGIN)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> std::io::Result<()> {
        self.0.set_cursor_position(position)
    }
    fn clear(&mut self) -> std::io::Result<()> {
        self.0.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> std::io::Result<()> {
        self.0.clear_region(clear_type)
    }
    fn size(&self) -> std::io::Result<Size> {
        self.0.size()
    }
    fn window_size(&mut self) -> std::io::Result<WindowSize> {
        self.0.window_size()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Backend::flush(&mut self.0)
    }
}

/// Installs the panic hook that restores the terminal before the panic message is printed,
/// so it stays readable. A panic on the UI thread ends the program (exit 101): restore the
/// terminal, then report it and where the log is. Workers catch their own panics and report
/// them as errors; the hook only logs theirs, since the UI is still on screen.
pub fn install_panic_hook(log_path: &Path) {
    let previous = std::panic::take_hook();
    let ui_thread = std::thread::current().id();
    let log_path = super::sanitize::path(log_path);
    std::panic::set_hook(Box::new(move |info| {
        log::write(&format!("panic: {info}"));
        if std::thread::current().id() == ui_thread {
            restore_terminal();
            previous(info);
            // Not eprintln!: it panics when stderr is gone.
            let _ = writeln!(std::io::stderr(), "simtui crashed; its log: {log_path}");
        }
    }));
}

/// SIGTERM, SIGHUP (and SIGINT, if one arrives despite raw mode) raise the returned flag,
/// which ends the event loop cleanly.
pub fn catch_signals() -> Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the signal handler")?;
    Ok(interrupted)
}

/// The log line of an exit because the terminal went away.
pub const HUNG_UP: &str = "the terminal hung up: exiting";

/// How long the event loop has to stop by itself after SIGTERM or SIGHUP.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Starts a thread that ends the process when the terminal hangs up (exit 129), or when a
/// termination signal has not stopped the event loop within [`STOP_GRACE`] (exit 130). The
/// event loop cannot be relied on for either: crossterm 0.29's reader never returns from `poll`
/// once the terminal is gone (it re-reads the dead tty forever at 100 % CPU; crossterm issue
/// #793), so a closed terminal window or a dropped ssh session would leave simtui spinning.
/// The index loses nothing: each batch is committed in its own transaction.
pub fn watchdog(interrupted: Arc<AtomicBool>, loop_done: Arc<AtomicBool>) -> Result<()> {
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
pub fn terminal_hung_up() -> bool {
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
