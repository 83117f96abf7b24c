//! Full-resolution photos through a terminal graphics protocol (kitty, iTerm2, sixel), encoded
//! here (see `encode` for why not by viuer, which still asks the terminal at start-up which
//! protocol it speaks) on encoder threads, and placed in cells of the terminal's real shape.
//! Such images live outside ratatui's cell buffer, so whenever one is no longer wanted where it
//! is, the old ones are removed first (kitty: delete command; iTerm2 and sixel: a full redraw)
//! and the wanted ones are printed after the frame.

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::cache::BoundedCache;
use super::jobs::Latest;
use super::log;

mod encode;
use encode::encode;

/// How photos are drawn, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Graphics {
    /// A graphics protocol when the terminal has one and we are not inside tmux/screen,
    /// else half-blocks.
    #[default]
    Auto,
    /// Half-block characters in true colour (or 256 colours): works everywhere.
    Blocks,
    Kitty,
    Iterm,
    Sixel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kitty,
    Iterm,
    Sixel,
}

/// Inside tmux or GNU screen, escape-sequence graphics do not reach the outer terminal as
/// placed images.
pub fn in_multiplexer() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    std::env::var_os("TMUX").is_some()
        || std::env::var_os("STY").is_some()
        || term.starts_with("screen")
        || term.starts_with("tmux")
}

/// The protocol to draw photos with (`None`: half-blocks). Queries the terminal, so it must
/// run before raw mode and before anything else reads the keyboard. A protocol asked for by
/// name that the terminal does not answer to is an error, not a quiet fallback.
pub fn choose(arg: Graphics) -> Result<Option<Protocol>> {
    let kitty = || viuer::get_kitty_support() != viuer::KittySupport::None;
    match arg {
        Graphics::Blocks => Ok(None),
        Graphics::Auto => {
            if in_multiplexer() {
                return Ok(None);
            }
            Ok(if viuer::is_iterm_supported() {
                Some(Protocol::Iterm)
            } else if kitty() {
                Some(Protocol::Kitty)
            } else if viuer::is_sixel_supported() {
                Some(Protocol::Sixel)
            } else {
                None
            })
        }
        Graphics::Kitty => {
            if !kitty() {
                bail!("this terminal does not answer the kitty graphics query; use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Kitty))
        }
        Graphics::Iterm => {
            if !viuer::is_iterm_supported() {
                bail!("this terminal does not identify as iTerm2/WezTerm (TERM_PROGRAM); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Iterm))
        }
        Graphics::Sixel => {
            if !viuer::is_sixel_supported() {
                bail!("this terminal does not report sixel support (device attributes); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Sixel))
        }
    }
}

/// One encoded image: the same photo (by identity), cells and cell size give the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    image: usize,
    cells: Rect,
    /// The cell size in pixels, as `f64` bits.
    cell: (u64, u64),
}

/// An image to encode for a key.
struct Job {
    key: Key,
    image: Arc<RgbImage>,
    cell: (f64, f64),
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
    pub protocol: Protocol,
    /// The images on screen now, printed after the frames that wanted them.
    shown: Option<Vec<Key>>,
    /// The images wanted when the screen's images were last removed.
    cleared_for: Vec<Key>,
    /// The terminal's cell size in pixels, as of the last [`Painter::cell_size`].
    cell: (f64, f64),
    /// Whether the log already says that the cell size is assumed.
    warned_cell_size: bool,
    encoded: BoundedCache<Key, Encoded>,
    /// An encoding that failed, reported by the next frame that still wants that photo.
    failed: Option<(Key, String)>,
    wishes: Arc<Latest<Wishes>>,
    done: Receiver<Done>,
    out: Box<dyn Write + Send>,
}

impl Painter {
    pub fn new(protocol: Protocol) -> Result<Self> {
        Self::with_output(protocol, Box::new(std::io::stdout()))
    }

    /// A painter writing its escape sequences to `out` (tests capture them).
    fn with_output(protocol: Protocol, out: Box<dyn Write + Send>) -> Result<Self> {
        let wishes = Arc::new(Latest::new(Wishes::default()));
        let (tx, done) = mpsc::channel();
        for i in 0..ENCODERS {
            let w = wishes.clone();
            let tx = tx.clone();
            let started = std::thread::Builder::new()
                .name(format!("simtui-graphics-{i}"))
                .spawn(move || encoder(protocol, &w, &tx));
            if let Err(e) = started {
                // Let the threads already started end.
                wishes.stop();
                return Err(e).context("cannot start a graphics encoder thread");
            }
        }
        Ok(Painter {
            protocol,
            shown: None,
            cleared_for: Vec::new(),
            cell: ASSUMED_CELL,
            warned_cell_size: false,
            encoded: BoundedCache::new(KEEP_ENCODED),
            failed: None,
            wishes,
            done,
            out,
        })
    }

    /// The terminal's cell size in pixels, asked afresh (a resize or a font change moves it);
    /// [`ASSUMED_CELL`] where the terminal does not say, logged once. Frames place photos
    /// with it, so call it once per frame, before the view.
    pub fn cell_size(&mut self) -> (f64, f64) {
        self.cell = match cell_pixels() {
            Some(c) => c,
            None => {
                if !self.warned_cell_size {
                    self.warned_cell_size = true;
                    log::write(&format!(
                        "the terminal does not report its size in pixels (TIOCGWINSZ): photos assume {}×{}-pixel cells",
                        ASSUMED_CELL.0, ASSUMED_CELL.1
                    ));
                }
                ASSUMED_CELL
            }
        };
        self.cell
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
                let cells = image_cells(img.width(), img.height(), *area, self.cell);
                let key = Key {
                    image: Arc::as_ptr(img) as usize,
                    cells,
                    cell: (self.cell.0.to_bits(), self.cell.1.to_bits()),
                };
                (!cells.is_empty()).then(|| (key, img.clone()))
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
        if self.protocol == Protocol::Kitty {
            // Delete every image placement of ours (a=d, d=A: all, and free the data; q=2: no
            // reply).
            self.out.write_all(b"\x1b_Ga=d,d=A,q=2\x1b\\")?;
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
                    bail!("cannot draw the photo through {:?}: {e}", self.protocol);
                }
                // A photo already scrolled past: no reason to give the protocol up.
                log::write(&format!("{:?} encoding failed: {e}", self.protocol));
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
                        cell: self.cell,
                    }),
                }
            }
            w.queue = missing;
            Ok(())
        })?;
        let shown = self.shown.get_or_insert_with(Vec::new);
        for (key, bytes) in ready_now {
            print_at(&mut self.out, key.cells, &bytes)?;
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
fn encoder(protocol: Protocol, wishes: &Latest<Wishes>, tx: &Sender<Done>) {
    while let Some(job) = wishes.take(|w, _| {
        let job = w.queue.pop_front()?;
        w.running.insert(job.key);
        Some(job)
    }) {
        let result =
            std::panic::catch_unwind(|| encode(protocol, &job.image, job.key.cells, job.cell))
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

/// Cell size assumed when the terminal does not say (a common 10-point font).
const ASSUMED_CELL: (f64, f64) = (10.0, 20.0);

/// The pixel size of one terminal cell, as the terminal reports it; `None` where it reports
/// zeros (the kernel's default when a terminal does not fill them in).
fn cell_pixels() -> Option<(f64, f64)> {
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

/// The cells a `w`×`h` image takes when a graphics protocol shows it as large as fits in
/// `area`, centred. The terminal stretches an image over whole cells, so the box follows the
/// cells' real shape (`cell`, in pixels): assuming half-block cells (1:2) stretched photos
/// by 20 % in kitty with a 7×17-pixel cell.
pub fn image_cells(w: u32, h: u32, area: Rect, cell: (f64, f64)) -> Rect {
    if area.is_empty() || w == 0 || h == 0 {
        return Rect::new(area.x, area.y, 0, 0);
    }
    let scale = (area.width as f64 * cell.0 / w as f64).min(area.height as f64 * cell.1 / h as f64);
    let cw = ((w as f64 * scale / cell.0).round() as u16).clamp(1, area.width);
    let ch = ((h as f64 * scale / cell.1).round() as u16).clamp(1, area.height);
    Rect::new(
        area.x + (area.width - cw) / 2,
        area.y + (area.height - ch) / 2,
        cw,
        ch,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn photos_take_cells_of_their_own_shape_at_the_terminals_cell_size() {
        let area = Rect::new(50, 1, 60, 40);
        // 1024×683 in 7×17-pixel cells (kitty, 9 pt): the width bounds it, 60 cells = 420 px,
        // so 280 px high = 16.5 → 16 rows, centred.
        let c = image_cells(1024, 683, area, (7.0, 17.0));
        assert_eq!((c.width, c.height), (60, 16));
        assert_eq!((c.x, c.y), (50, 1 + 12));
        // The shape on screen is the photo's within a cell's rounding.
        let shown = (c.width as f64 * 7.0) / (c.height as f64 * 17.0);
        assert!((shown - 1024.0 / 683.0).abs() < 0.1, "{shown}");
        // A portrait photo in 9×18 cells: the height bounds it (40 rows = 720 px).
        let c = image_cells(600, 900, area, (9.0, 18.0));
        assert_eq!((c.width, c.height), (53, 40));
        assert_eq!(c.x, 50 + 3);
        // Degenerate panels take nothing.
        assert!(image_cells(100, 100, Rect::new(0, 0, 0, 5), (8.0, 16.0)).is_empty());
        assert_eq!(
            image_cells(100, 100, Rect::new(0, 0, 1, 1), (8.0, 16.0)).area(),
            1
        );
    }

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
    fn frames_never_wait_for_encoding_and_print_each_photo_once_it_is_ready() {
        let photo = |shade: u8| {
            Arc::new(RgbImage::from_fn(300, 200, |x, y| {
                image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
            }))
        };
        let (a, b, c) = (photo(10), photo(120), photo(240));
        let (left, right) = (Rect::new(0, 0, 40, 20), Rect::new(40, 0, 40, 20));
        let out = Captured::default();
        let mut p = Painter::with_output(Protocol::Kitty, Box::new(out.clone())).unwrap();
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
