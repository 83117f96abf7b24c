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

/// The cell area an image of `w`×`h` pixels takes when fitted into `area` in cells of
/// [`ASSUMED_CELL`]'s shape, centred; see [`placement_in`].
pub fn placement(w: u32, h: u32, area: Rect) -> (Rect, u32, u32) {
    placement_in(w, h, area, ASSUMED_CELL)
}

/// The cell area an image of `w`×`h` pixels takes when fitted into `area`, centred, in cells
/// of `cell` pixels (the terminal's real shape), with the size it is resized to: one column
/// per cell, two rows per cell. A half-block pixel is `cell.0` wide and `cell.1 / 2` tall, so
/// the photo is counted `h · 2·cell.0 / cell.1` such pixels high to keep its shape on screen
/// (in xterm's 8×17 cells, 1:2 drew photos 6 % too tall; in kitty's 8×19, 19 %).
pub fn placement_in(w: u32, h: u32, area: Rect, cell: (f64, f64)) -> (Rect, u32, u32) {
    let (max_w, max_h) = (area.width as u32, area.height as u32 * 2);
    if w == 0 || h == 0 || max_w == 0 || max_h == 0 {
        return (Rect::new(area.x, area.y, 0, 0), 0, 0);
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
    let cw = pw as u16;
    let ch = ph.div_ceil(2) as u16;
    let x = area.x + (area.width - cw.min(area.width)) / 2;
    let y = area.y + (area.height - ch.min(area.height)) / 2;
    (Rect::new(x, y, cw, ch), pw, ph)
}

/// Draws `img` into `area`, fitted and centred, keeping its aspect ratio in cells of `cell`
/// pixels.
pub fn draw(img: &RgbImage, area: Rect, cell: (f64, f64), buf: &mut Buffer, mode: ColorMode) {
    if area.width == 0 || area.height == 0 || img.width() == 0 || img.height() == 0 {
        return;
    }
    let (cells, pw, ph) = placement_in(img.width(), img.height(), area, cell);
    let small = resize_rgb(img, pw, ph);
    for cy in 0..cells.height {
        for cx in 0..cells.width {
            let (px, py) = (cx as u32, cy as u32 * 2);
            if px >= pw {
                continue;
            }
            let top = small.get_pixel(px, py).0;
            let cell = &mut buf[(cells.x + cx, cells.y + cy)];
            if py + 1 < ph {
                let bottom = small.get_pixel(px, py + 1).0;
                cell.set_char('▀')
                    .set_fg(mode.color(top))
                    .set_bg(mode.color(bottom));
            } else {
                cell.set_char('▀')
                    .set_fg(mode.color(top))
                    .set_bg(Color::Reset);
            }
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
        assert_eq!(cells, Rect::new(0, 7, 20, 5));
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
        assert_eq!(cells, Rect::new(0, 10, 72, 19));
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
}
