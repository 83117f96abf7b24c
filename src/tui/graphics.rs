//! Full-resolution photos through a terminal graphics protocol (kitty, iTerm2, sixel; kitty
//! through tmux as Unicode placeholders): which one the terminal gets ([`choose`]), and the
//! [`Painter`] that has the photos encoded (by `render::terminal`'s drivers) on encoder
//! threads and prints them around each frame. Directly placed images live outside
//! ratatui's cell buffer, so whenever one is no longer wanted where it is, the old ones are
//! removed first (kitty: delete command; iTerm2 and sixel: a full redraw) and the wanted
//! ones are printed after the frame. Placeholder images are text in the buffer (the view
//! draws them); the painter only sends their data.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

use super::cache::BoundedCache;
use super::jobs::Latest;
use super::log;
use crate::render::terminal::probe::Replies;
use crate::render::terminal::tmux::TmuxInfo;
use crate::render::terminal::{self as drivers, kitty, Placement};
pub use crate::render::terminal::{Driver, Protocol};
pub use why::{Fallback, Images};

mod why;

/// How photos are drawn, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Graphics {
    /// A graphics protocol when the terminal answers to one (inside tmux: kitty through
    /// passthrough, or sixel drawn by tmux 3.4+), else half-blocks.
    #[default]
    Auto,
    /// Half-block characters in true colour (or 256 colours): works everywhere.
    Blocks,
    Kitty,
    Iterm,
    Sixel,
}

/// The multiplexer simtui runs in, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Multiplexer {
    None,
    Tmux(TmuxInfo),
    /// GNU screen: it passes no graphics through.
    Screen,
}

impl Multiplexer {
    /// From the environment; inside tmux, asks tmux about the pane.
    pub fn detect() -> Multiplexer {
        let term = std::env::var("TERM").unwrap_or_default();
        if std::env::var_os("TMUX").is_some() {
            return Multiplexer::Tmux(tmux_info());
        }
        if std::env::var_os("STY").is_some() || term.starts_with("screen") {
            return Multiplexer::Screen;
        }
        if term.starts_with("tmux") {
            // TERM says tmux but TMUX is unset (su, ssh from inside tmux): no tmux to ask.
            return Multiplexer::Tmux(TmuxInfo::default());
        }
        Multiplexer::None
    }
}

/// Asks tmux (the `tmux` of the server in `$TMUX`) for its version, the pane's
/// `allow-passthrough` and the outer terminal's name.
fn tmux_info() -> TmuxInfo {
    use crate::render::terminal::tmux::{parse_passthrough, parse_version};
    let pane = std::env::var("TMUX_PANE").ok();
    // `tmux COMMAND [-t PANE] ARGS…`: the target before the format or option name.
    let ask = |args: &[&str]| -> Option<String> {
        let mut cmd = std::process::Command::new("tmux");
        cmd.arg(args[0]);
        if let Some(p) = &pane {
            cmd.args(["-t", p]);
        }
        cmd.args(&args[1..]);
        let out = cmd.stdin(std::process::Stdio::null()).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let shown = ask(&[
        "display-message",
        "-p",
        "#{version}|#{client_termname}|#{client_termtype}",
    ])
    .unwrap_or_default();
    let mut fields = shown.splitn(3, '|');
    let version = fields.next().unwrap_or_default();
    let client = fields.next().unwrap_or_default();
    let client_type = fields.next().unwrap_or_default();
    TmuxInfo {
        version: parse_version(version),
        passthrough: ask(&["show-options", "-Apv", "allow-passthrough"])
            .is_some_and(|v| parse_passthrough(&v)),
        client_term: client.to_string(),
        client_type: client_type.to_string(),
    }
}

/// The queries to send the terminal at start-up: kitty's (wrapped for tmux where it can pass)
/// and the device attributes, which every terminal answers last. `None`: nothing to ask.
pub fn queries(arg: Graphics, mux: &Multiplexer) -> Option<Vec<u8>> {
    use crate::render::terminal::probe::DEVICE_ATTRIBUTES;
    let mut q = Vec::new();
    match (arg, mux) {
        (Graphics::Blocks | Graphics::Iterm, _) | (Graphics::Auto, Multiplexer::Screen) => {
            return None
        }
        (_, Multiplexer::Tmux(t)) if t.passthrough => {
            q.extend(drivers::tmux::passthrough(kitty::QUERY))
        }
        (_, Multiplexer::Tmux(_)) => {}
        _ => q.extend_from_slice(kitty::QUERY),
    }
    q.extend_from_slice(DEVICE_ATTRIBUTES);
    Some(q)
}

/// What start-up decided, and why where photos are half-blocks though images were possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `None`: half-blocks.
    pub driver: Option<Driver>,
    pub fallback: Option<Fallback>,
    /// Why photos are half-blocks where nothing better was on offer (the help says it; the
    /// status bar does not).
    pub plain: Option<&'static str>,
}

impl Choice {
    /// How photos are drawn, for the help popup and the status bar.
    pub fn images(&self) -> Images {
        Images {
            protocol: self.driver.map(why::name),
            fallback: self.fallback.clone(),
            plain: self.plain,
        }
    }
}

/// The way to draw photos, from what was asked for, the multiplexer, whether the terminal
/// is iTerm2/WezTerm by name, and the replies to [`queries`] (`None`: none were sent). A
/// protocol asked for by name that cannot work is an error, not a quiet fallback.
pub fn decide(
    arg: Graphics,
    mux: &Multiplexer,
    iterm: bool,
    replies: Option<&Replies>,
) -> Result<Choice> {
    let tmux = match mux {
        Multiplexer::Tmux(t) => Some(t),
        _ => None,
    };
    let in_tmux = tmux.is_some();
    let silent = replies.is_some_and(|r| r.attributes.is_none());
    let kitty = match tmux {
        // Inside tmux kitty images are placeholders, which older kittys show as boxes.
        Some(t) => {
            t.kitty_without_placeholders().is_none()
                && (t.kitty_placeholders() || replies.is_some_and(Replies::kitty_ok))
        }
        None => replies.is_some_and(Replies::kitty_ok),
    };
    let old_kitty = |t: &TmuxInfo| {
        t.kitty_without_placeholders().map(|(a, b, c)| {
            format!("kitty {a}.{b}.{c} draws no Unicode placeholders (kitty 0.28 and later do)")
        })
    };
    let sixel = replies.is_some_and(Replies::sixel) && tmux.is_none_or(TmuxInfo::draws_sixel);
    let version = |t: &TmuxInfo| match t.version {
        Some((a, b)) => format!("tmux {a}.{b}"),
        None => "tmux".to_string(),
    };
    let driver = |protocol| Driver { protocol, in_tmux };
    let blocks = |marker: &str, reason: String, fix: Option<&str>| Choice {
        driver: None,
        fallback: Some(Fallback::new(marker, reason, fix)),
        plain: None,
    };
    match arg {
        Graphics::Blocks => Ok(Choice {
            driver: None,
            fallback: None,
            plain: Some("--graphics blocks asks for them"),
        }),
        Graphics::Auto => {
            if *mux == Multiplexer::Screen {
                return Ok(blocks(
                    "GNU screen",
                    "GNU screen passes no graphics through".into(),
                    None,
                ));
            }
            if iterm && !in_tmux {
                return Ok(Choice {
                    driver: Some(driver(Protocol::Iterm)),
                    fallback: None,
                    plain: None,
                });
            }
            if kitty {
                return Ok(Choice {
                    driver: Some(driver(Protocol::Kitty)),
                    fallback: None,
                    plain: None,
                });
            }
            if sixel {
                return Ok(Choice {
                    driver: Some(driver(Protocol::Sixel)),
                    fallback: None,
                    plain: None,
                });
            }
            Ok(match tmux {
                Some(t) if !t.passthrough => blocks(
                    "tmux allow-passthrough off",
                    format!("{} does not pass graphics through", version(t)),
                    Some("`set -g allow-passthrough on` lets kitty images through"),
                ),
                Some(t) if old_kitty(t).is_some() => blocks(
                    "kitty too old for tmux",
                    format!(
                        "through {}, {}",
                        version(t),
                        old_kitty(t).unwrap_or_default()
                    ),
                    None,
                ),
                Some(t) => blocks(
                    "no images outside tmux",
                    format!(
                        "the terminal outside {} answers no kitty graphics query{}",
                        version(t),
                        if t.draws_sixel() {
                            " and reports no sixel"
                        } else {
                            ", and tmux before 3.4 draws no sixel"
                        }
                    ),
                    None,
                ),
                None if silent => blocks(
                    "the terminal did not answer",
                    format!(
                        "the terminal did not answer its device attributes within {} ms",
                        crate::render::terminal::probe::DEADLINE.as_millis()
                    ),
                    None,
                ),
                None => Choice {
                    driver: None,
                    fallback: None,
                    plain: Some(
                        "the terminal answers no kitty graphics query and reports no sixel",
                    ),
                },
            })
        }
        Graphics::Kitty => {
            if !kitty {
                if let Some(why) = tmux.and_then(old_kitty) {
                    bail!("kitty images cannot pass tmux here: {why}; use --graphics blocks (or auto)");
                }
                let hint = match tmux {
                    Some(t) if !t.passthrough => {
                        " (inside tmux: `set -g allow-passthrough on` lets it through)"
                    }
                    _ => "",
                };
                bail!("this terminal does not answer the kitty graphics query{hint}; use --graphics blocks (or auto)");
            }
            Ok(Choice {
                driver: Some(driver(Protocol::Kitty)),
                fallback: None,
                plain: None,
            })
        }
        Graphics::Iterm => {
            if in_tmux || *mux == Multiplexer::Screen {
                bail!("iTerm2 images do not pass through a multiplexer; use --graphics blocks (or auto)");
            }
            if !iterm {
                bail!("this terminal does not identify as iTerm2/WezTerm (TERM_PROGRAM); use --graphics blocks (or auto)");
            }
            Ok(Choice {
                driver: Some(driver(Protocol::Iterm)),
                fallback: None,
                plain: None,
            })
        }
        Graphics::Sixel => {
            if !sixel {
                let hint = match tmux {
                    Some(t) if !t.draws_sixel() => " (tmux draws sixel from 3.4 on)",
                    _ => "",
                };
                bail!("this terminal does not report sixel support (device attributes){hint}; use --graphics blocks (or auto)");
            }
            Ok(Choice {
                driver: Some(driver(Protocol::Sixel)),
                fallback: None,
                plain: None,
            })
        }
    }
}

/// Draws `img` fitted into `area` as kitty Unicode placeholders (the view, inside tmux): the
/// cells of its virtual placement numbered by row and column, its id in their foreground;
/// the rest of the panel blank.
pub fn draw_placeholders(img: &Arc<RgbImage>, area: Rect, cell: (f64, f64), buf: &mut Buffer) {
    let cells = drivers::image_cells(img.width(), img.height(), area, cell);
    let id = kitty::placeholder_id(Arc::as_ptr(img) as usize);
    let colour = Color::Indexed(kitty::placeholder_colour(id));
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let c = &mut buf[(x, y)];
            c.reset();
            if cells.contains(ratatui::layout::Position { x, y }) {
                c.set_symbol(&kitty::placeholder(y - cells.y, x - cells.x, id))
                    .set_fg(colour);
            }
        }
    }
}

/// One encoded image: the same photo (by identity) and placement give the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    image: usize,
    at: Placement,
}

/// An image to encode for a key.
struct Job {
    key: Key,
    image: Arc<RgbImage>,
}

/// An encoded image sequence, with its photo kept alive so that no other photo can take its
/// address (the key's identity) while the entry exists.
type Encoded = (Arc<RgbImage>, Arc<Vec<u8>>);

/// Encodings finished (or failed) on an encoder thread.
type Done = (Key, Arc<RgbImage>, Result<Vec<u8>, String>);

/// The encoder threads' work: a wish list that each frame replaces, so photos scrolled past
/// are not encoded once they are no longer wanted.
#[derive(Default)]
struct Wishes {
    queue: VecDeque<Job>,
    running: HashSet<Key>,
}

/// Encoded images kept; beyond this, the least recently wanted are dropped (those on screen
/// are wanted by every frame, so they stay).
const KEEP_ENCODED: usize = 16;
/// Encoder threads: the two photos of a pair are encoded side by side.
const ENCODERS: usize = 2;

/// Draws photos through a graphics protocol. Encoding a photo (sixel: 50–140 ms on this
/// machine; kitty 4–11 ms) happens on encoder threads, so a frame never waits for it: the
/// frame is drawn with the photo's cells left blank, and the photo is printed by the first
/// frame after its bytes are ready ([`Painter::poll_ready`] asks for that frame).
pub struct Painter {
    pub driver: Driver,
    /// The images on screen now, printed after the frames that wanted them.
    shown: Option<Vec<Key>>,
    /// The images wanted when the screen's images were last removed.
    cleared_for: Vec<Key>,
    /// The terminal's cell size in pixels, as of the last [`Painter::set_cell`].
    cell: (f64, f64),
    encoded: BoundedCache<Key, Encoded>,
    /// An encoding that failed, reported by the next frame that still wants that photo.
    failed: Option<(Key, String)>,
    wishes: Arc<Latest<Wishes>>,
    done: Receiver<Done>,
    out: Box<dyn Write + Send>,
}

impl Painter {
    pub fn new(driver: Driver) -> Result<Self> {
        Self::with_output(driver, Box::new(std::io::stdout()))
    }

    /// A painter writing its escape sequences to `out` (tests capture them).
    fn with_output(driver: Driver, out: Box<dyn Write + Send>) -> Result<Self> {
        let wishes = Arc::new(Latest::new(Wishes::default()));
        let (tx, done) = mpsc::channel();
        for i in 0..ENCODERS {
            let w = wishes.clone();
            let tx = tx.clone();
            let started = std::thread::Builder::new()
                .name(format!("simtui-graphics-{i}"))
                .spawn(move || encoder(driver, &w, &tx));
            if let Err(e) = started {
                // Let the threads already started end.
                wishes.stop();
                return Err(e).context("cannot start a graphics encoder thread");
            }
        }
        Ok(Painter {
            driver,
            shown: None,
            cleared_for: Vec::new(),
            cell: super::blocks::ASSUMED_CELL,
            encoded: BoundedCache::new(KEEP_ENCODED),
            failed: None,
            wishes,
            done,
            out,
        })
    }

    /// The terminal's cell size in pixels, for the frames that follow (the event loop asks
    /// the terminal each frame: a resize or a font change moves it).
    pub fn set_cell(&mut self, cell: (f64, f64)) {
        self.cell = cell;
    }

    /// Forget what is shown (after a resize the terminal may have moved or cut images).
    pub fn invalidate(&mut self) {
        self.shown = None;
    }

    /// Takes in finished encodings; returns whether any arrived (a frame should print them,
    /// or report a failure).
    pub fn poll_ready(&mut self) -> bool {
        let mut any = false;
        while let Ok((key, image, result)) = self.done.try_recv() {
            any = true;
            match result {
                Ok(bytes) => {
                    self.encoded.insert(key, (image, Arc::new(bytes)));
                }
                Err(e) => self.failed = Some((key, e)),
            }
        }
        any
    }

    fn wanted(&self, images: &[(Rect, Arc<RgbImage>)]) -> Vec<(Key, Arc<RgbImage>)> {
        images
            .iter()
            .filter_map(|(area, img)| {
                let at =
                    drivers::placement(self.driver, img.width(), img.height(), *area, self.cell);
                let key = Key {
                    image: Arc::as_ptr(img) as usize,
                    at,
                };
                (!at.cells.is_empty()).then(|| (key, img.clone()))
            })
            .collect()
    }

    /// Before the frame: removes the images on screen unless the frame only adds to them.
    /// Adding needs no removal when the new images' cells have stayed blank since the last
    /// removal, which holds when the same images were wanted then (their cells were left to
    /// the protocol, blank, ever since); so a photo printed once its encoding is ready leaves
    /// the other one alone. Otherwise the cells may hold text or half-blocks (the help popup
    /// draws photos as half-blocks), which a sixel image narrower than its cells would let
    /// show at its edge.
    pub fn before<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        images: &[(Rect, Arc<RgbImage>)],
    ) -> Result<()>
    where
        B::Error: Send + Sync + 'static,
    {
        let wanted: Vec<Key> = self.wanted(images).into_iter().map(|(k, _)| k).collect();
        if let Some(shown) = &self.shown {
            if wanted == self.cleared_for && shown.iter().all(|k| wanted.contains(k)) {
                return Ok(());
            }
        }
        if self.driver.protocol == Protocol::Kitty {
            // Delete every image of ours (all placements, and free the data; no reply).
            // Placeholder cells of a deleted image show nothing until it is sent again.
            if self.driver.in_tmux {
                self.out
                    .write_all(&drivers::tmux::passthrough(kitty::DELETE_ALL))?;
            } else {
                self.out.write_all(kitty::DELETE_ALL)?;
            }
            self.out.flush()?;
        }
        // And redraw every cell: text drawn over sixel and iTerm2 images erases them, and the
        // cells left to a photo must be blank until it is printed (kitty deletes images, not
        // the text or half-blocks under them).
        terminal.clear()?;
        self.shown = Some(Vec::new());
        self.cleared_for = wanted;
        Ok(())
    }

    /// After the frame: prints the wanted images whose encodings are ready into their cells,
    /// and hands the rest to the encoder threads.
    pub fn after(&mut self, images: &[(Rect, Arc<RgbImage>)]) -> Result<()> {
        let wanted = self.wanted(images);
        let mut ready_now = Vec::new();
        let wishes = self.wishes.clone();
        wishes.set(|w| -> Result<()> {
            // Under the lock: an encoder sends its result before it stops counting as
            // running, so whatever is neither received nor running must be asked for.
            self.poll_ready();
            if let Some((key, e)) = self.failed.take() {
                if wanted.iter().any(|(k, _)| *k == key) {
                    bail!(
                        "cannot draw the photo through {:?}: {e}",
                        self.driver.protocol
                    );
                }
                // A photo already scrolled past: no reason to give the protocol up.
                log::write(&format!("{:?} encoding failed: {e}", self.driver.protocol));
            }
            let shown = self.shown.get_or_insert_with(Vec::new);
            let mut missing = VecDeque::new();
            for (key, image) in &wanted {
                if shown.contains(key) {
                    continue;
                }
                match self.encoded.get(key) {
                    Some((_, bytes)) => ready_now.push((*key, bytes.clone())),
                    None if w.running.contains(key) => {}
                    None => missing.push_back(Job {
                        key: *key,
                        image: image.clone(),
                    }),
                }
            }
            w.queue = missing;
            Ok(())
        })?;
        let shown = self.shown.get_or_insert_with(Vec::new);
        for (key, bytes) in ready_now {
            print_at(&mut self.out, key.at.cells, &bytes)?;
            shown.push(key);
        }
        for (key, _) in &wanted {
            self.encoded.touch(key);
        }
        Ok(())
    }
}

impl Drop for Painter {
    fn drop(&mut self) {
        self.wishes.stop();
    }
}

/// An encoder thread: takes the next wish, encodes it, sends it back; ends when the painter
/// is dropped.
fn encoder(driver: Driver, wishes: &Latest<Wishes>, tx: &Sender<Done>) {
    while let Some(job) = wishes.take(|w, _| {
        let job = w.queue.pop_front()?;
        w.running.insert(job.key);
        Some(job)
    }) {
        let id = kitty::placeholder_id(job.key.image);
        let result =
            std::panic::catch_unwind(|| drivers::encode(driver, &job.image, &job.key.at, id))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the encoder panicked")))
                .map_err(|e| format!("{e:#}"));
        let key = job.key;
        // Sent before it stops counting as running: see `Painter::after`.
        if tx.send((key, job.image, result)).is_err() {
            return;
        }
        wishes.amend(|w| w.running.remove(&key));
    }
}

/// Writes an image sequence with the cursor at `cells`' top left, and puts the cursor back.
fn print_at(out: &mut impl Write, cells: Rect, data: &[u8]) -> Result<()> {
    crossterm::queue!(
        out,
        crossterm::cursor::SavePosition,
        crossterm::cursor::MoveTo(cells.x, cells.y)
    )?;
    out.write_all(data)?;
    crossterm::queue!(out, crossterm::cursor::RestorePosition)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Escape sequences written by a painter, for tests.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn take(&self) -> String {
            String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
        }
    }

    #[test]
    fn kitty_inside_tmux_needs_a_kitty_that_draws_placeholders() {
        // kitty 0.26.5 in tmux 3.3a (Xvfb) drew the placeholder grid as boxes: half-blocks
        // and a reason instead, and `--graphics kitty` is refused with the same reason.
        let mux = |client_type: &str| {
            Multiplexer::Tmux(TmuxInfo {
                version: Some((3, 3)),
                passthrough: true,
                client_term: "xterm-kitty".into(),
                client_type: client_type.into(),
            })
        };
        let silent = Replies {
            attributes: Some(vec![1, 2]),
            ..Replies::default()
        };
        let old = decide(Graphics::Auto, &mux("kitty(0.26.5)"), false, Some(&silent)).unwrap();
        assert_eq!(old.driver, None);
        let note = old.fallback.unwrap().line();
        assert!(
            note.contains("kitty 0.26.5") && note.contains("0.28"),
            "{note}"
        );
        let err = decide(Graphics::Kitty, &mux("kitty(0.26.5)"), false, Some(&silent))
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.28"), "{err}");
        let new = decide(Graphics::Auto, &mux("kitty(0.35.2)"), false, Some(&silent)).unwrap();
        assert_eq!(
            new.driver,
            Some(Driver {
                protocol: Protocol::Kitty,
                in_tmux: true
            })
        );
    }

    #[test]
    fn frames_never_wait_for_encoding_and_print_each_photo_once_it_is_ready() {
        let photo = |shade: u8| {
            Arc::new(RgbImage::from_fn(300, 200, |x, y| {
                image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
            }))
        };
        let (a, b, c) = (photo(10), photo(120), photo(240));
        let (left, right) = (Rect::new(0, 0, 40, 20), Rect::new(40, 0, 40, 20));
        let out = Captured::default();
        let mut p =
            Painter::with_output(Driver::direct(Protocol::Kitty), Box::new(out.clone())).unwrap();
        let mut term = Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        let mut frame = |p: &mut Painter, images: &[(Rect, Arc<RgbImage>)]| {
            p.before(&mut term, images).unwrap();
            p.after(images).unwrap();
            out.take()
        };
        let wait_for = |p: &mut Painter, n: usize| {
            let t = std::time::Instant::now();
            while p.encoded.len() < n {
                assert!(t.elapsed().as_secs() < 20, "encodings did not arrive");
                p.poll_ready();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        };
        let placed = |s: &str| s.matches("a=T").count();
        let deleted = |s: &str| s.contains("a=d");

        // The first frame draws no photo: both go to the encoders.
        let pair = [(left, a.clone()), (right, b.clone())];
        let s = frame(&mut p, &pair);
        assert_eq!(placed(&s), 0, "{s:?}");
        wait_for(&mut p, 2);
        // The next frame prints both, deleting nothing.
        let s = frame(&mut p, &pair);
        assert_eq!((placed(&s), deleted(&s)), (2, false));
        // A frame with nothing new writes nothing.
        assert_eq!(frame(&mut p, &pair), "");
        // Another neighbour: the old images go, the query comes back at once from what was
        // encoded, the new neighbour follows when ready.
        let next = [(left, a.clone()), (right, c.clone())];
        let s = frame(&mut p, &next);
        assert!(deleted(&s));
        assert_eq!(placed(&s), 1);
        wait_for(&mut p, 3);
        let s = frame(&mut p, &next);
        assert_eq!((placed(&s), deleted(&s)), (1, false));
        // Back to the first pair: everything is at hand.
        let s = frame(&mut p, &pair);
        assert_eq!((placed(&s), deleted(&s)), (2, true));
        // A popup hides the photos; closing it brings them back, on a cleared screen (the
        // popup's half-blocks must not show beside them).
        let s = frame(&mut p, &[]);
        assert_eq!((placed(&s), deleted(&s)), (0, true));
        assert_eq!(frame(&mut p, &[]), "");
        let s = frame(&mut p, &pair);
        assert_eq!((placed(&s), deleted(&s)), (2, true));
    }
}
