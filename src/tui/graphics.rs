//! Full-resolution photos through a terminal graphics protocol: kitty and sixel encoded here
//! (see `print_at` for why), iTerm2 through viuer, which also asks the terminal at start-up
//! which protocol it speaks. Such images live outside ratatui's cell buffer, so whenever what
//! they show or where changes, the old ones are removed first (kitty: delete command; iTerm2
//! and sixel: a full redraw) and the new ones are printed after the frame, in cells of the
//! terminal's real shape.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Result};
use image::{DynamicImage, RgbImage};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::log;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GraphicsArg {
    /// A graphics protocol when the terminal has one and we are not inside tmux/screen,
    /// else half-blocks
    #[default]
    Auto,
    /// Half-block characters in true colour (or 256 colours): works everywhere
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
pub fn choose(arg: GraphicsArg) -> Result<Option<Protocol>> {
    let kitty = || viuer::get_kitty_support() != viuer::KittySupport::None;
    match arg {
        GraphicsArg::Blocks => Ok(None),
        GraphicsArg::Auto => {
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
        GraphicsArg::Kitty => {
            if !kitty() {
                bail!("this terminal does not answer the kitty graphics query; use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Kitty))
        }
        GraphicsArg::Iterm => {
            if !viuer::is_iterm_supported() {
                bail!("this terminal does not identify as iTerm2/WezTerm (TERM_PROGRAM); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Iterm))
        }
        GraphicsArg::Sixel => {
            if !viuer::is_sixel_supported() {
                bail!("this terminal does not report sixel support (device attributes); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Sixel))
        }
    }
}

/// What is on screen: each image's cells and identity.
type Shown = Vec<(Rect, usize)>;

pub struct Painter {
    pub protocol: Protocol,
    shown: Option<Shown>,
    /// The terminal's cell size in pixels, as of the last [`Painter::cell_size`].
    cell: (f64, f64),
    /// Whether the log already says that the cell size is assumed.
    warned_cell_size: bool,
}

impl Painter {
    pub fn new(protocol: Protocol) -> Self {
        Painter {
            protocol,
            shown: None,
            cell: ASSUMED_CELL,
            warned_cell_size: false,
        }
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

    fn wanted(&self, images: &[(Rect, Arc<RgbImage>)]) -> Shown {
        images
            .iter()
            .map(|(r, img)| {
                let cells = image_cells(img.width(), img.height(), *r, self.cell);
                (cells, Arc::as_ptr(img) as usize)
            })
            .collect()
    }

    /// Before the frame: removes stale images. Returns whether images must be printed after.
    pub fn before<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        images: &[(Rect, Arc<RgbImage>)],
    ) -> Result<bool>
    where
        B::Error: Send + Sync + 'static,
    {
        let wanted = self.wanted(images);
        if self.shown.as_ref() == Some(&wanted) {
            return Ok(false);
        }
        match self.protocol {
            Protocol::Kitty => {
                let mut out = std::io::stdout().lock();
                // Delete every image placement of ours (a=d, d=A: all, and free the data; q=2: no reply).
                out.write_all(b"\x1b_Ga=d,d=A,q=2\x1b\\")?;
                out.flush()?;
            }
            // Text cells drawn over them erase sixel and iTerm2 images: redraw everything.
            Protocol::Iterm | Protocol::Sixel => terminal.clear()?,
        }
        self.shown = None;
        Ok(true)
    }

    /// After the frame: prints the images into their cells.
    pub fn after(&mut self, images: &[(Rect, Arc<RgbImage>)]) -> Result<()> {
        for (area, img) in images {
            let cells = image_cells(img.width(), img.height(), *area, self.cell);
            if cells.is_empty() {
                continue;
            }
            match self.protocol {
                Protocol::Sixel => {
                    let data = sixel(img, cells, self.cell)?;
                    print_at(cells, data.as_bytes())?;
                    continue;
                }
                Protocol::Kitty => {
                    print_at(cells, &kitty(img, cells, self.cell)?)?;
                    continue;
                }
                Protocol::Iterm => {}
            }
            let config = viuer::Config {
                x: cells.x,
                y: cells.y as i16,
                width: Some(cells.width as u32),
                height: Some(cells.height as u32),
                absolute_offset: true,
                restore_cursor: true,
                transparent: false,
                truecolor: true,
                use_kitty: false,
                use_iterm: true,
                use_sixel: false,
                ..viuer::Config::default()
            };
            let img = at_most_shown(img, cells, self.cell).into_owned();
            viuer::print(&DynamicImage::ImageRgb8(img), &config).map_err(|e| {
                anyhow::anyhow!("cannot draw the photo through {:?}: {e}", self.protocol)
            })?;
        }
        self.shown = Some(self.wanted(images));
        Ok(())
    }
}

/// Writes an image sequence with the cursor at `cells`' top left, and puts the cursor back.
///
/// Sixel and kitty images are encoded here rather than by viuer: its sixel printer sizes
/// images for 6×12-pixel cells whatever the terminal's are (in xterm's 9×18 cells a photo
/// filled two thirds of its panel), and its kitty printer, on a local kitty, waits after each
/// image for the terminal's status report by reading stdin: a key pressed meanwhile (holding
/// `j` through the list) broke that wait, so the protocol was given up for half-blocks, and
/// the key was lost.
fn print_at(cells: Rect, data: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
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

/// Base64 characters per kitty graphics chunk (the protocol's maximum).
const KITTY_CHUNK: usize = 4096;

/// `img` as kitty graphics commands that show it stretched over `cells`: the pixels sent
/// inline (`t=d`, zlib-compressed RGB), so it works over ssh too and needs no temporary file;
/// at most the pixels the cells show; `q=2`, so the terminal sends no replies into the
/// keyboard input; `C=1`, so the cursor stays put.
fn kitty(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let img = at_most_shown(img, cells, cell);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(img.as_raw())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish()?);
    let mut out = Vec::with_capacity(b64.len() + 64 * (b64.len() / KITTY_CHUNK + 1));
    let n = b64.len().div_ceil(KITTY_CHUNK).max(1);
    for i in 0..n {
        let chunk = &b64.as_bytes()
            [(i * KITTY_CHUNK).min(b64.len())..((i + 1) * KITTY_CHUNK).min(b64.len())];
        let more = u8::from(i + 1 < n);
        if i == 0 {
            write!(
                out,
                "\x1b_Ga=T,f=24,o=z,t=d,q=2,C=1,s={},v={},c={},r={},m={more};",
                img.width(),
                img.height(),
                cells.width,
                cells.height
            )?;
        } else {
            write!(out, "\x1b_Gq=2,m={more};")?;
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\x1b\\");
    }
    Ok(out)
}

/// Cell size assumed when the terminal does not say (a common 10-point font).
const ASSUMED_CELL: (f64, f64) = (10.0, 20.0);

/// xterm draws at most 1000×1000 sixel pixels by default (its maxGraphicSize) and drops the
/// rest of a larger image.
const MAX_SIXEL_SIDE: f64 = 1000.0;

/// The pixel size of one terminal cell, as the terminal reports it; `None` where it reports
/// zeros (the kernel's default when a terminal does not fill them in).
fn cell_pixels() -> Option<(f64, f64)> {
    let ws = crossterm::terminal::window_size().ok()?;
    (ws.width > 0 && ws.height > 0 && ws.columns > 0 && ws.rows > 0).then(|| {
        (
            ws.width as f64 / ws.columns as f64,
            ws.height as f64 / ws.rows as f64,
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

/// The pixel size that shows a `w`×`h` image as large as fits in `cells` of `cell` pixels,
/// aspect kept, with no side above `max_side`.
fn fitted_pixels(
    w: u32,
    h: u32,
    cells: Rect,
    cell: (f64, f64),
    max_side: Option<f64>,
) -> (u32, u32) {
    let box_w = cells.width as f64 * cell.0;
    let box_h = cells.height as f64 * cell.1;
    let mut scale = (box_w / w as f64).min(box_h / h as f64);
    if let Some(m) = max_side {
        scale = scale.min(m / w.max(h) as f64);
    }
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

/// `img` with no more pixels than `cells` show (the terminal scales it to them anyway):
/// less to encode and to send.
fn at_most_shown(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Cow<'_, RgbImage> {
    let (w, h) = fitted_pixels(img.width(), img.height(), cells, cell, None);
    if w < img.width() {
        Cow::Owned(image::imageops::resize(
            img,
            w,
            h,
            image::imageops::FilterType::Triangle,
        ))
    } else {
        Cow::Borrowed(img)
    }
}

/// `img` as a sixel sequence sized for `cells`.
fn sixel(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Result<String> {
    let (w, h) = fitted_pixels(img.width(), img.height(), cells, cell, Some(MAX_SIXEL_SIDE));
    let resized = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
    icy_sixel::sixel_string(
        resized.as_raw(),
        w as i32,
        h as i32,
        icy_sixel::PixelFormat::RGB888,
        icy_sixel::DiffusionMethod::Auto,
        icy_sixel::MethodForLargest::Auto,
        icy_sixel::MethodForRep::Auto,
        icy_sixel::Quality::AUTO,
    )
    .map_err(|e| anyhow::anyhow!("cannot encode the photo as sixel: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_sixel_photo_fills_its_cells_at_the_terminals_cell_size() {
        let cells = Rect::new(10, 2, 40, 15);
        let px = |w, h, cell| fitted_pixels(w, h, cells, cell, Some(MAX_SIXEL_SIDE));
        // xterm with a 9-point font: 9×18-pixel cells, a box of 360×270 pixels.
        assert_eq!(px(1024, 768, (9.0, 18.0)), (360, 270));
        assert_eq!(px(400, 300, (9.0, 18.0)), (360, 270));
        // A portrait photo is bounded by the height.
        assert_eq!(px(600, 900, (9.0, 18.0)), (180, 270));
        // Large cells: held to xterm's 1000-pixel limit, aspect kept.
        assert_eq!(px(1600, 1200, (40.0, 80.0)), (1000, 750));
    }

    /// Splits kitty graphics commands into (control data, payload).
    fn kitty_commands(data: &[u8]) -> Vec<(String, String)> {
        let text = std::str::from_utf8(data).unwrap();
        assert!(text.starts_with("\x1b_G") && text.ends_with("\x1b\\"));
        text.split("\x1b\\")
            .filter(|c| !c.is_empty())
            .map(|c| {
                let body = c
                    .strip_prefix("\x1b_G")
                    .expect("each command opens with ESC _G");
                let (keys, payload) = body.split_once(';').unwrap();
                (keys.to_string(), payload.to_string())
            })
            .collect()
    }

    #[test]
    fn kitty_images_go_inline_in_chunks_and_ask_for_no_reply() {
        use base64::Engine as _;
        use std::io::Read as _;
        // Noise, so the compressed image needs several chunks.
        let mut seed = 7u32;
        let img = RgbImage::from_fn(900, 600, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(seed >> 24) as u8, (seed >> 16) as u8, (seed >> 8) as u8])
        });
        // 50×20 cells of 8×16 pixels show at most 400×267 of it: no more is sent.
        let cells = Rect::new(3, 4, 50, 20);
        let cmds = kitty_commands(&kitty(&img, cells, (8.0, 16.0)).unwrap());
        assert!(cmds.len() > 2, "{} commands", cmds.len());
        let first = &cmds[0].0;
        for key in [
            "a=T", "f=24", "o=z", "t=d", "q=2", "C=1", "s=400", "v=267", "c=50", "r=20", "m=1",
        ] {
            assert!(first.split(',').any(|k| k == key), "{key} in {first}");
        }
        for (i, (keys, payload)) in cmds.iter().enumerate() {
            let last = i + 1 == cmds.len();
            assert!(keys.contains("q=2"), "chunk {i} asks for no reply: {keys}");
            assert!(keys.ends_with(if last { "m=0" } else { "m=1" }), "{keys}");
            assert!(payload.len() <= KITTY_CHUNK && (last || payload.len() % 4 == 0));
        }
        let b64: String = cmds.iter().map(|(_, p)| p.as_str()).collect();
        let z = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut rgb = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut rgb)
            .unwrap();
        let expected =
            image::imageops::resize(&img, 400, 267, image::imageops::FilterType::Triangle);
        assert_eq!(rgb, expected.into_raw(), "the pixels sent are the photo's");

        // A photo smaller than its cells goes as it is (the terminal scales it up).
        let small = RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]));
        let cmds = kitty_commands(&kitty(&small, cells, (8.0, 16.0)).unwrap());
        assert_eq!(cmds.len(), 1);
        assert!(
            cmds[0].0.contains("s=40,v=30,c=50,r=20,m=0"),
            "{}",
            cmds[0].0
        );
    }

    #[test]
    fn the_sixel_sequence_declares_the_fitted_size() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]));
        let data = sixel(&img, Rect::new(0, 0, 20, 5), (8.0, 16.0)).unwrap();
        assert!(
            data.starts_with("\x1bP"),
            "a DCS sequence: {:?}",
            &data[..8]
        );
        assert!(data.ends_with("\x1b\\"));
        // Raster attributes: aspect 1:1, then width and height in pixels (107 × 80 fits 160 × 80).
        assert!(
            data.contains("\"1;1;107;80"),
            "{:?}",
            &data[..40.min(data.len())]
        );
    }
}
