//! Photos in any terminal: each cell shows two pixels, the upper as the foreground colour of
//! '▀' and the lower as the background. Written straight into the ratatui buffer, so it works
//! in tmux, over ssh and in tests, and diffs like any other cell.

use image::RgbImage;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use crate::render::{fit, resize_rgb};

/// How cell colours are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// 24-bit RGB.
    TrueColor,
    /// The nearest of the xterm 256 colours.
    Ansi256,
}

impl ColorMode {
    /// True colour when the terminal says so (COLORTERM), or is known to have it.
    pub fn detect() -> ColorMode {
        let env = |k: &str| std::env::var(k).unwrap_or_default().to_lowercase();
        let colorterm = env("COLORTERM");
        let term = env("TERM");
        let program = env("TERM_PROGRAM");
        if colorterm.contains("truecolor")
            || colorterm.contains("24bit")
            || term.contains("direct")
            || term.contains("kitty")
            || term.contains("alacritty")
            || term.contains("wezterm")
            || [
                "iterm.app",
                "wezterm",
                "vscode",
                "ghostty",
                "apple_terminal",
            ]
            .iter()
            .any(|p| program == *p)
        {
            ColorMode::TrueColor
        } else {
            ColorMode::Ansi256
        }
    }

    pub fn color(self, [r, g, b]: [u8; 3]) -> Color {
        match self {
            ColorMode::TrueColor => Color::Rgb(r, g, b),
            ColorMode::Ansi256 => Color::Indexed(ansi_colours::ansi256_from_rgb((r, g, b))),
        }
    }
}

/// The pixel size of a cell assumed where the terminal reports none (a common 10-point font):
/// twice as tall as wide, which half-blocks split into square pixels.
pub const ASSUMED_CELL: (f64, f64) = (10.0, 20.0);

/// Where a half-block photo goes in its panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Every cell the photo touches, the half-filled first or last row included.
    pub cells: Rect,
    /// The size it is resized to: one pixel per column, two per row.
    pub pixels: (u32, u32),
    /// The photo starts in the lower half of its first row (the upper half is background),
    /// so that it is centred to the half row.
    pub lower_start: bool,
}

impl Placed {
    /// Where the centre of cell (`column`, `row`) falls in the photo, as fractions of its
    /// width and height; `None` outside it.
    pub fn fraction_at(&self, column: u16, row: u16) -> Option<(f64, f64)> {
        let (pw, ph) = self.pixels;
        let inside = self
            .cells
            .contains(ratatui::layout::Position::new(column, row));
        if !inside || pw == 0 || ph == 0 {
            return None;
        }
        let half = (row - self.cells.y) as f64 * 2.0 + 1.0 - self.lower_start as u8 as f64;
        Some((
            ((column - self.cells.x) as f64 + 0.5) / pw as f64,
            (half / ph as f64).clamp(0.0, 1.0),
        ))
    }
}

/// The cell area an image of `w`×`h` pixels takes when fitted into `area` in cells of
/// [`ASSUMED_CELL`]'s shape, centred; see [`placement_in`].
pub fn placement(w: u32, h: u32, area: Rect) -> (Rect, u32, u32) {
    placement_in(w, h, area, ASSUMED_CELL)
}

/// [`placed`] as (cells, pixel width, pixel height).
pub fn placement_in(w: u32, h: u32, area: Rect, cell: (f64, f64)) -> (Rect, u32, u32) {
    let p = placed(w, h, area, cell);
    (p.cells, p.pixels.0, p.pixels.1)
}

/// Where an image of `w`×`h` pixels goes when fitted into `area`, centred, in cells of
/// `cell` pixels (the terminal's real shape), with the size it is resized to: one column
/// per cell, two rows per cell. A half-block pixel is `cell.0` wide and `cell.1 / 2` tall, so
/// the photo is counted `h · 2·cell.0 / cell.1` such pixels high to keep its shape on screen
/// (in xterm's 8×17 cells, 1:2 drew photos 6 % too tall; in kitty's 8×19, 19 %). It is
/// centred to the half row: the free half rows above and below differ by at most one (in
/// whole rows it sat up to a row above centre).
pub fn placed(w: u32, h: u32, area: Rect, cell: (f64, f64)) -> Placed {
    let (max_w, max_h) = (area.width as u32, area.height as u32 * 2);
    if w == 0 || h == 0 || max_w == 0 || max_h == 0 {
        return Placed {
            cells: Rect::new(area.x, area.y, 0, 0),
            pixels: (0, 0),
            lower_start: false,
        };
    }
    let (pw, ph) = if cell.1 == 2.0 * cell.0 {
        // Square half-block pixels: exactly the shared fit (snapshots depend on its rounding).
        fit(w, h, max_w, max_h)
    } else {
        let tall = h as f64 * 2.0 * cell.0 / cell.1;
        let s = (max_w as f64 / w as f64).min(max_h as f64 / tall);
        (
            ((w as f64 * s).round() as u32).clamp(1, max_w),
            ((tall * s).round() as u32).clamp(1, max_h),
        )
    };
    let top = (max_h - ph) / 2;
    let lower_start = top % 2 == 1;
    let cw = pw as u16;
    let ch = (ph + top % 2).div_ceil(2) as u16;
    let x = area.x + (area.width - cw.min(area.width)) / 2;
    let y = area.y + (top / 2) as u16;
    Placed {
        cells: Rect::new(x, y, cw, ch.min(area.height)),
        pixels: (pw, ph),
        lower_start,
    }
}

/// Draws `img` into `area`, fitted and centred, keeping its aspect ratio in cells of `cell`
/// pixels.
pub fn draw(img: &RgbImage, area: Rect, cell: (f64, f64), buf: &mut Buffer, mode: ColorMode) {
    draw_as(img, img.dimensions(), area, cell, buf, mode)
}

/// Draws `img` where a photo of `shape` pixels goes (see [`placed`]): a map or marked picture
/// drawn over a photo of slightly different size (decoded another way) lands on exactly the
/// photo's cells and half rows.
pub fn draw_as(
    img: &RgbImage,
    shape: (u32, u32),
    area: Rect,
    cell: (f64, f64),
    buf: &mut Buffer,
    mode: ColorMode,
) {
    if area.width == 0 || area.height == 0 || img.width() == 0 || img.height() == 0 {
        return;
    }
    let at = placed(shape.0, shape.1, area, cell);
    let (pw, ph) = at.pixels;
    if pw == 0 || ph == 0 {
        return;
    }
    let small = resize_rgb(img, pw, ph);
    let skip = at.lower_start as u32;
    // The photo's pixel row shown by the half row `py` of its cells, if any.
    let pixel = |py: u32| (py >= skip && py - skip < ph).then(|| py - skip);
    for cy in 0..at.cells.height {
        for cx in 0..at.cells.width {
            let px = cx as u32;
            if px >= pw {
                continue;
            }
            let colour = |py: Option<u32>| py.map(|py| mode.color(small.get_pixel(px, py).0));
            let (upper, lower) = (
                colour(pixel(cy as u32 * 2)),
                colour(pixel(cy as u32 * 2 + 1)),
            );
            let c = &mut buf[(at.cells.x + cx, at.cells.y + cy)];
            match (upper, lower) {
                (Some(u), Some(l)) => c.set_char('▀').set_fg(u).set_bg(l),
                // The photo's first row in the lower half, its last in the upper: the other
                // half is the terminal's background.
                (None, Some(l)) => c.set_char('▄').set_fg(l).set_bg(Color::Reset),
                (Some(u), None) => c.set_char('▀').set_fg(u).set_bg(Color::Reset),
                (None, None) => continue,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pixels_per_cell_in_their_colours() {
        // 4×4: top half red, bottom half blue, drawn into exactly 4×2 cells.
        let img = RgbImage::from_fn(4, 4, |_, y| {
            if y < 2 {
                image::Rgb([255, 0, 0])
            } else {
                image::Rgb([0, 0, 255])
            }
        });
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        draw(&img, buf.area, ASSUMED_CELL, &mut buf, ColorMode::TrueColor);
        let c = &buf[(1, 0)];
        assert_eq!(c.symbol(), "▀");
        assert_eq!(c.fg, Color::Rgb(255, 0, 0));
        assert_eq!(c.bg, Color::Rgb(255, 0, 0));
        let c = &buf[(2, 1)];
        assert_eq!((c.fg, c.bg), (Color::Rgb(0, 0, 255), Color::Rgb(0, 0, 255)));
    }

    #[test]
    fn wide_image_is_centred_vertically_and_keeps_its_shape() {
        let img = RgbImage::from_pixel(200, 100, image::Rgb([10, 200, 30]));
        let area = Rect::new(0, 0, 20, 20);
        let (cells, pw, ph) = placement(200, 100, area);
        assert_eq!((pw, ph), (20, 10));
        // 30 free half rows: 15 above (7 rows and the upper half of the 8th), 15 below.
        assert_eq!(cells, Rect::new(0, 7, 20, 6));
        let mut buf = Buffer::empty(area);
        draw(&img, area, ASSUMED_CELL, &mut buf, ColorMode::Ansi256);
        assert_eq!(
            buf[(0, 0)].symbol(),
            " ",
            "above the image nothing is drawn"
        );
        let c = &buf[(5, 8)];
        assert_eq!(c.symbol(), "▀");
        assert!(matches!(c.fg, Color::Indexed(_)), "256-colour fallback");
    }

    #[test]
    fn photos_keep_their_shape_in_the_terminals_real_cells() {
        // The kingfisher's 1024×576 in a 72×40-cell panel of xterm's 8×17-pixel cells: 72
        // columns = 576 px wide, so 324 px tall = 38.1 half-block pixels of 8.5 px.
        let area = Rect::new(0, 0, 72, 40);
        let (cells, pw, ph) = placement_in(1024, 576, area, (8.0, 17.0));
        assert_eq!((pw, ph), (72, 38));
        // 42 free half rows, 21 above and below: from the lower half of row 10.
        assert_eq!(cells, Rect::new(0, 10, 72, 20));
        let shown = |pw: u32, ph: u32, cell: (f64, f64)| {
            (pw as f64 * cell.0) / (ph as f64 * cell.1 / 2.0) / (1024.0 / 576.0)
        };
        // Within one half-block pixel of the true shape, where 1:2 made it 6 % too tall.
        assert!((shown(pw, ph, (8.0, 17.0)) - 1.0).abs() < 0.015);
        let (_, pw2, ph2) = placement(1024, 576, area);
        assert!(shown(pw2, ph2, (8.0, 17.0)) < 0.95, "1:2 cells distort it");
        // kitty's 8×19 cells: the distortion 1:2 would make is larger; the fit is as true.
        let (_, pw, ph) = placement_in(1024, 576, area, (8.0, 19.0));
        assert!(
            (shown(pw, ph, (8.0, 19.0)) - 1.0).abs() < 0.015,
            "{pw}×{ph}"
        );
        // A portrait photo in wide cells is bounded by the height and stays inside.
        let (cells, pw, ph) = placement_in(600, 900, area, (12.0, 16.0));
        assert_eq!(ph, 80);
        assert!(cells.width <= 72 && cells.height == 40 && pw == cells.width as u32);
        // Cells of exactly 1:2 change nothing.
        assert_eq!(
            placement_in(1024, 576, area, (9.0, 18.0)),
            placement(1024, 576, area)
        );
        // An empty panel takes nothing.
        assert_eq!(
            placement_in(10, 10, Rect::new(3, 4, 0, 9), (8.0, 17.0))
                .0
                .area(),
            0
        );
    }

    /// The half rows a drawn photo covers in column `x`: (free above, photo, free below).
    fn half_rows(buf: &Buffer, x: u16) -> (u32, u32, u32) {
        let mut rows = Vec::new();
        for y in buf.area.top()..buf.area.bottom() {
            let c = &buf[(x, y)];
            let (upper, lower) = match c.symbol() {
                "▀" => (true, c.bg != Color::Reset),
                "▄" => (false, true),
                _ => (false, false),
            };
            rows.extend([upper, lower]);
        }
        let first = rows.iter().position(|&p| p).unwrap_or(rows.len()) as u32;
        let last = rows
            .iter()
            .rposition(|&p| p)
            .map_or(first, |l| l as u32 + 1);
        assert!(
            rows[first as usize..last as usize].iter().all(|&p| p),
            "one block"
        );
        (first, last - first, rows.len() as u32 - last)
    }

    #[test]
    fn photos_are_centred_to_the_half_row() {
        // A 16:9 landscape in panels whose free half rows are odd and even, in 1:2 and in
        // xterm's 8×17 cells: the margins above and below differ by at most one half row,
        // where whole rows left up to two more below.
        for (iw, ih, w, h, cell) in [
            (1024, 576, 20, 20, ASSUMED_CELL),
            (200, 100, 20, 20, ASSUMED_CELL),
            (1024, 576, 35, 17, ASSUMED_CELL),
            (1024, 576, 36, 17, (8.0, 17.0)),
            (1024, 576, 72, 40, (8.0, 17.0)),
            (1024, 683, 41, 30, (8.0, 19.0)),
            (1024, 683, 39, 13, (8.0, 17.0)),
        ] {
            let img = RgbImage::from_pixel(iw, ih, image::Rgb([200, 120, 40]));
            let area = Rect::new(0, 0, w, h);
            let p = placed(iw, ih, area, cell);
            let mut buf = Buffer::empty(area);
            draw(&img, area, cell, &mut buf, ColorMode::TrueColor);
            let (above, photo, below) = half_rows(&buf, w / 2);
            assert_eq!(photo, p.pixels.1, "{w}×{h}: every pixel row drawn");
            assert!(
                above.abs_diff(below) <= 1,
                "{w}×{h}: {above} above, {below} below"
            );
            assert_eq!(p.lower_start, above % 2 == 1, "{w}×{h}");
        }
        // An odd case drawn (2:1 in 20×20 cells, 30 free half rows): the first row's lower
        // half and the last row's upper half.
        let img = RgbImage::from_pixel(200, 100, image::Rgb([200, 120, 40]));
        let area = Rect::new(0, 0, 20, 20);
        let mut buf = Buffer::empty(area);
        draw(&img, area, ASSUMED_CELL, &mut buf, ColorMode::TrueColor);
        let p = placed(200, 100, area, ASSUMED_CELL);
        assert!(p.lower_start);
        let first = &buf[(10, p.cells.y)];
        assert_eq!((first.symbol(), first.bg), ("▄", Color::Reset));
        assert_eq!(first.fg, Color::Rgb(200, 120, 40));
        let last = &buf[(10, p.cells.bottom() - 1)];
        assert_eq!((last.symbol(), last.bg), ("▀", Color::Reset));
    }

    #[test]
    fn a_map_of_another_size_lands_on_its_photos_cells() {
        // The preview decoded at reduced size (512×342) and its map drawn from the full
        // photo (768×512): drawn as the preview's shape, the map covers exactly its cells.
        let area = Rect::new(3, 2, 39, 13);
        let photo = RgbImage::from_pixel(512, 342, image::Rgb([90, 90, 90]));
        let map = RgbImage::from_pixel(768, 512, image::Rgb([250, 200, 0]));
        assert_ne!(
            placed(512, 342, area, (8.0, 17.0)),
            placed(768, 512, area, (8.0, 17.0)),
            "their own shapes would place them apart"
        );
        let drawn = |img: &RgbImage| {
            let mut buf = Buffer::empty(Rect::new(0, 0, 50, 30));
            draw_as(
                img,
                (512, 342),
                area,
                (8.0, 17.0),
                &mut buf,
                ColorMode::TrueColor,
            );
            buf.content
                .iter()
                .map(|c| (c.symbol().to_string(), c.bg == Color::Reset))
                .collect::<Vec<_>>()
        };
        assert_eq!(drawn(&photo), drawn(&map));
    }

    #[test]
    fn a_click_reads_the_photo_under_the_half_row() {
        let p = placed(200, 100, Rect::new(0, 0, 20, 20), ASSUMED_CELL);
        assert!(p.lower_start);
        // The first row shows the photo's first pixel row in its lower half; the last row
        // its last pixel row in its upper half.
        assert_eq!(p.fraction_at(0, p.cells.y), Some((0.5 / 20.0, 0.0)));
        assert_eq!(
            p.fraction_at(19, p.cells.bottom() - 1),
            Some((19.5 / 20.0, 1.0))
        );
        assert_eq!(p.fraction_at(0, p.cells.y - 1), None);
    }
}
