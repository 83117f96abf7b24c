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

/// The cell area an image of `w`×`h` pixels takes when fitted into `area` (two pixels per
/// cell vertically), centred.
pub fn placement(w: u32, h: u32, area: Rect) -> (Rect, u32, u32) {
    let (pw, ph) = fit(w, h, area.width as u32, area.height as u32 * 2);
    let cw = pw as u16;
    let ch = ph.div_ceil(2) as u16;
    let x = area.x + (area.width - cw.min(area.width)) / 2;
    let y = area.y + (area.height - ch.min(area.height)) / 2;
    (Rect::new(x, y, cw, ch), pw, ph)
}

/// Draws `img` into `area`, fitted and centred, keeping its aspect ratio.
pub fn draw(img: &RgbImage, area: Rect, buf: &mut Buffer, mode: ColorMode) {
    if area.width == 0 || area.height == 0 || img.width() == 0 || img.height() == 0 {
        return;
    }
    let (cells, pw, ph) = placement(img.width(), img.height(), area);
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
        draw(&img, buf.area, &mut buf, ColorMode::TrueColor);
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
        draw(&img, area, &mut buf, ColorMode::Ansi256);
        assert_eq!(
            buf[(0, 0)].symbol(),
            " ",
            "above the image nothing is drawn"
        );
        let c = &buf[(5, 8)];
        assert_eq!(c.symbol(), "▀");
        assert!(matches!(c.fg, Color::Indexed(_)), "256-colour fallback");
    }
}
