//! Photos as terminal escape sequences: one driver per graphics protocol ([`kitty`],
//! [`sixel`], [`iterm`]), tmux passthrough as a wrapper around them ([`tmux`]), and what the
//! terminal can draw found apart from drawing ([`probe`]: the start-up queries and their
//! replies). Pure: nothing here touches the terminal; the TUI's painter writes the bytes.
//! Half-block photos, drawn into ratatui's buffer, are the TUI's (`tui::blocks`).

pub mod iterm;
pub mod kitty;
pub mod probe;
pub mod sixel;
pub mod tmux;

use anyhow::Result;
use image::RgbImage;
use ratatui::layout::Rect;

/// A graphics protocol that draws photos at the terminal's pixel resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kitty,
    Iterm,
    Sixel,
}

/// How a painter sends a photo: a protocol, and whether tmux stands between it and the
/// terminal that draws. Inside tmux kitty images go as Unicode placeholders (the image data
/// in passthrough, the cells as text tmux keeps in its grid); sixel is drawn by tmux itself
/// (3.4 and later), so it needs no wrapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Driver {
    pub protocol: Protocol,
    pub in_tmux: bool,
}

impl Driver {
    pub fn direct(protocol: Protocol) -> Driver {
        Driver {
            protocol,
            in_tmux: false,
        }
    }

    /// Whether the view draws the photo's cells (kitty placeholders) rather than leaving them
    /// to the terminal.
    pub fn placeholders(&self) -> bool {
        self.protocol == Protocol::Kitty && self.in_tmux
    }
}

/// Where a photo goes: the cells it touches, the first of them at `cells`' top left, and the
/// pixel size it is sent at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Placement {
    pub cells: Rect,
    /// The image's size in pixels.
    pub pixels: (u32, u32),
    /// Pixels from the first cell's top left to the image's (kitty's `X`, `Y`; zero for
    /// protocols that start images at a cell's corner).
    pub offset: (u32, u32),
}

/// xterm draws at most 1000×1000 sixel pixels by default (its maxGraphicSize) and drops the
/// rest of a larger image.
pub const MAX_SIXEL_SIDE: f64 = 1000.0;

/// The pixel size that shows a `w`×`h` image as large as fits in `cells` of `cell` pixels,
/// aspect kept, with no side above `max_side`.
pub fn fitted_pixels(
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
    // Rounded down (with a little slack for the float product), so that an image never
    // spills a pixel row into the cells below its own.
    let side = |v: u32| ((v as f64 * scale + 1e-6).floor() as u32).max(1);
    (side(w), side(h))
}

/// A `w`×`h` image as large as fits in the panel `area`, centred in it to the pixel: the
/// image keeps its own pixel size (no stretching to whole cells). With `sub_cell` (kitty)
/// it starts anywhere inside a cell; without (sixel), at the corner of the cell at or
/// before the centred position, so it never spills out of the panel.
pub fn place(
    w: u32,
    h: u32,
    area: Rect,
    cell: (f64, f64),
    sub_cell: bool,
    max_side: Option<f64>,
) -> Placement {
    let (cw, ch) = (cell.0.max(1.0) as u32, cell.1.max(1.0) as u32);
    if area.is_empty() || w == 0 || h == 0 {
        return Placement {
            cells: Rect::new(area.x, area.y, 0, 0),
            pixels: (0, 0),
            offset: (0, 0),
        };
    }
    let (pw, ph) = fitted_pixels(w, h, area, (cw as f64, ch as f64), max_side);
    let (free_x, free_y) = (
        (area.width as u32 * cw).saturating_sub(pw),
        (area.height as u32 * ch).saturating_sub(ph),
    );
    let (ox, oy) = (free_x / 2, free_y / 2);
    let (col, row) = (ox / cw, oy / ch);
    let offset = if sub_cell {
        (ox - col * cw, oy - row * ch)
    } else {
        (0, 0)
    };
    let cols = (offset.0 + pw).div_ceil(cw).min(area.width as u32 - col);
    let rows = (offset.1 + ph).div_ceil(ch).min(area.height as u32 - row);
    Placement {
        cells: Rect::new(
            area.x + col as u16,
            area.y + row as u16,
            cols as u16,
            rows as u16,
        ),
        pixels: (pw, ph),
        offset,
    }
}

/// The whole cells a `w`×`h` image takes when stretched over them, as large as fits in
/// `area`, centred, in cells of `cell` pixels (kitty placeholders and iTerm2 size images in
/// cells).
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

/// Where `driver` puts a `w`×`h` image fitted into `area`.
pub fn placement(driver: Driver, w: u32, h: u32, area: Rect, cell: (f64, f64)) -> Placement {
    match (driver.protocol, driver.in_tmux) {
        (Protocol::Kitty, false) => place(w, h, area, cell, true, None),
        (Protocol::Sixel, false) => place(w, h, area, cell, false, Some(MAX_SIXEL_SIDE)),
        // tmux keeps a sixel image as whole cells and fills the part of the last row the
        // image leaves with a colour of its own (a grey band under each photo in tmux 3.5a),
        // counting the image's height in whole six-pixel sixel bands: send whole cells, cut
        // down to whole bands (at most 5 px short), the photo cropped at its centre.
        (Protocol::Sixel, true) => {
            let fitted = place(w, h, area, cell, false, Some(MAX_SIXEL_SIDE));
            whole_cells(fitted, area, cell)
        }
        // Stretched over whole cells by the terminal: sent at the pixels those cells show.
        (Protocol::Kitty, true) | (Protocol::Iterm, _) => {
            let cells = image_cells(w, h, area, cell);
            Placement {
                cells,
                pixels: fitted_pixels(w, h, cells, cell, None),
                offset: (0, 0),
            }
        }
    }
}

/// `at` cut down to the whole cells it covers (at least one), centred again in `area`, its
/// height to whole sixel bands of six pixels.
fn whole_cells(at: Placement, area: Rect, cell: (f64, f64)) -> Placement {
    let (cw, ch) = (cell.0.max(1.0) as u32, cell.1.max(1.0) as u32);
    if at.pixels == (0, 0) {
        return at;
    }
    let cols = (at.pixels.0 / cw).max(1);
    let rows = (at.pixels.1 / ch).max(1);
    Placement {
        cells: Rect::new(
            area.x + (area.width.saturating_sub(cols as u16)) / 2,
            area.y + (area.height.saturating_sub(rows as u16)) / 2,
            cols as u16,
            rows as u16,
        ),
        pixels: (cols * cw, (rows * ch / 6 * 6).max(1)),
        offset: (0, 0),
    }
}

/// `img` as the bytes that show it at `at` through `driver`; `id` names a kitty image shown
/// through placeholders (see [`kitty::placeholder_id`]).
pub fn encode(driver: Driver, img: &RgbImage, at: &Placement, id: u32) -> Result<Vec<u8>> {
    match driver.protocol {
        Protocol::Sixel => sixel::encode(img, at).map(String::into_bytes),
        Protocol::Kitty if driver.in_tmux => Ok(tmux::passthrough(
            &kitty::transmit_for_placeholders(img, at, id)?,
        )),
        Protocol::Kitty => kitty::encode(img, at),
        Protocol::Iterm => iterm::encode(img, at),
    }
}

/// `img` covering exactly `pixels`: resized with its aspect kept until it covers them, then
/// cropped to them at its centre. The same as [`sized`] when `pixels` has the image's shape
/// (to the pixel).
fn filled(img: &RgbImage, pixels: (u32, u32)) -> std::borrow::Cow<'_, RgbImage> {
    let (w, h) = img.dimensions();
    let scale = (pixels.0 as f64 / w as f64).max(pixels.1 as f64 / h as f64);
    let side = |v: u32, at_least: u32| ((v as f64 * scale + 1e-6).floor() as u32).max(at_least);
    let (rw, rh) = (side(w, pixels.0), side(h, pixels.1));
    if (rw, rh) == pixels {
        return sized(img, pixels);
    }
    let big = crate::render::resize_rgb(img, rw, rh);
    std::borrow::Cow::Owned(
        image::imageops::crop_imm(
            &big,
            (rw - pixels.0) / 2,
            (rh - pixels.1) / 2,
            pixels.0,
            pixels.1,
        )
        .to_image(),
    )
}

/// `img` resized to exactly `pixels` (a no-op when it has that size already).
fn sized(img: &RgbImage, pixels: (u32, u32)) -> std::borrow::Cow<'_, RgbImage> {
    if img.dimensions() == pixels {
        std::borrow::Cow::Borrowed(img)
    } else {
        std::borrow::Cow::Owned(crate::render::resize_rgb(img, pixels.0, pixels.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_centred_to_the_pixel_in_their_panel() {
        // The duck, 1024×966, in a 72×29-cell panel of kitty's 8×19 cells (576×551 px): the
        // width bounds it, 576 × 543 px, 4 px free above and below: it starts 4 px into the
        // first row, at its full size (it was sent 512 px wide and scaled up).
        let area = Rect::new(40, 1, 72, 29);
        let p = place(1024, 966, area, (8.0, 19.0), true, None);
        assert_eq!(p.pixels, (576, 543));
        assert_eq!(p.offset, (0, 4));
        assert_eq!(p.cells, Rect::new(40, 1, 72, 29));
        // A landscape photo in a tall panel: rows centred, with the pixel offset in the cell.
        let p = place(1000, 500, Rect::new(0, 0, 50, 40), (8.0, 16.0), true, None);
        assert_eq!(p.pixels, (400, 200));
        // (640 − 200) / 2 = 220 px = 13 rows + 12 px.
        assert_eq!((p.cells.y, p.offset.1), (13, 12));
        assert_eq!(
            p.cells.height, 14,
            "12 + 200 px reach into a 14th row of 16"
        );
        // Sixel starts at a cell's corner: the cell at or before the centre, never spilling.
        let s = place(1000, 500, Rect::new(0, 0, 50, 40), (8.0, 16.0), false, None);
        assert_eq!((s.cells.y, s.offset), (13, (0, 0)));
        assert!(s.cells.y as u32 * 16 + 200 <= 640);
        // The xterm case from the issue: a landscape photo as wide as its 392-px panel, not
        // rounded to whole rows first (which left it 382 px wide, flush left).
        let s = place(
            1024,
            683,
            Rect::new(0, 0, 49, 30),
            (8.0, 17.0),
            false,
            Some(1000.0),
        );
        assert_eq!(s.pixels.0, 392);
        assert_eq!(s.cells.x, 0);
    }

    #[test]
    fn sixel_inside_tmux_is_sent_as_whole_cells_cropped_at_the_centre() {
        let tmux = Driver {
            protocol: Protocol::Sixel,
            in_tmux: true,
        };
        // The kingfisher, 1024×576, in a 43×25-cell panel of 8×16 cells: fitted 344×193 px,
        // 12.06 rows; tmux would pad the 13th row. Sent: 43 × 12 cells = 344×192 px (32 sixel
        // bands), centred.
        let area = Rect::new(40, 1, 43, 25);
        let p = placement(tmux, 1024, 576, area, (8.0, 16.0));
        assert_eq!(p.pixels, (344, 192));
        assert_eq!(p.cells, Rect::new(40, 1 + (25 - 12) / 2, 43, 12));
        let direct = placement(
            Driver::direct(Protocol::Sixel),
            1024,
            576,
            area,
            (8.0, 16.0),
        );
        assert_eq!(
            direct.pixels,
            (344, 193),
            "outside tmux the photo keeps every row"
        );
        // The crop keeps the centre and the shape: a photo with a red top and bottom row and
        // blue between, cropped by one row, loses a red row, never shows a stretched one.
        let mut img = RgbImage::from_pixel(1024, 576, image::Rgb([0, 0, 255]));
        for x in 0..1024 {
            img.put_pixel(x, 0, image::Rgb([255, 0, 0]));
        }
        let out = filled(&img, p.pixels);
        assert_eq!(out.dimensions(), (344, 192));
        assert!(out.get_pixel(172, 96).0[2] > 200, "the centre is kept");
        // Same shape: exactly the plain resize.
        let same = filled(&img, direct.pixels);
        assert_eq!(*same, crate::render::resize_rgb(&img, 344, 193));
    }

    #[test]
    fn whole_cell_images_take_cells_of_their_own_shape() {
        let area = Rect::new(50, 1, 60, 40);
        // 1024×683 in 7×17-pixel cells: 60 cells = 420 px, 280 px high = 16.5 → 16 rows.
        let c = image_cells(1024, 683, area, (7.0, 17.0));
        assert_eq!((c.width, c.height), (60, 16));
        assert_eq!((c.x, c.y), (50, 1 + 12));
        let c = image_cells(600, 900, area, (9.0, 18.0));
        assert_eq!((c.width, c.height), (53, 40));
        assert!(image_cells(100, 100, Rect::new(0, 0, 0, 5), (8.0, 16.0)).is_empty());
    }
}
