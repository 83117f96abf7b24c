//! Sixel: the image as six-pixel bands of palette colours, drawn from the cursor's cell
//! corner (xterm with `-ti vt340`, foot, WezTerm, mlterm, tmux 3.4+ built with sixel).

use anyhow::Result;
use image::RgbImage;

use super::{filled, Placement};

/// `img` as a sixel sequence at `at`'s pixel size (the terminal shows sixel pixels 1:1),
/// cropped at its centre where `at` is cut to whole cells (inside tmux).
pub fn encode(img: &RgbImage, at: &Placement) -> Result<String> {
    let resized = filled(img, at.pixels);
    icy_sixel::sixel_string(
        resized.as_raw(),
        at.pixels.0 as i32,
        at.pixels.1 as i32,
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
    use super::super::{place, MAX_SIXEL_SIDE};
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn a_sixel_photo_fills_its_panel_at_the_terminals_cell_size() {
        let cells = Rect::new(10, 2, 40, 15);
        let px = |w, h, cell| place(w, h, cells, cell, false, Some(MAX_SIXEL_SIDE)).pixels;
        // xterm with a 9-point font: 9×18-pixel cells, a box of 360×270 pixels.
        assert_eq!(px(1024, 768, (9.0, 18.0)), (360, 270));
        assert_eq!(px(400, 300, (9.0, 18.0)), (360, 270));
        // A portrait photo is bounded by the height, and centred: (360 − 180) / 2 = 90 px =
        // 10 cells in.
        assert_eq!(px(600, 900, (9.0, 18.0)), (180, 270));
        let p = place(600, 900, cells, (9.0, 18.0), false, None);
        assert_eq!(p.cells.x, 10 + 10);
        // Large cells: held to xterm's 1000-pixel limit, aspect kept.
        assert_eq!(px(1600, 1200, (40.0, 80.0)), (1000, 750));
    }

    #[test]
    fn the_sixel_sequence_declares_the_fitted_size() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]));
        let at = place(64, 48, Rect::new(0, 0, 20, 5), (8.0, 16.0), false, None);
        let data = encode(&img, &at).unwrap();
        assert!(
            data.starts_with("\x1bP"),
            "a DCS sequence: {:?}",
            &data[..8]
        );
        assert!(data.ends_with("\x1b\\"));
        // Raster attributes: aspect 1:1, then width and height in pixels (106 × 80 fits
        // 160 × 80), started (160 − 106) / 2 = 27 px = 3 cells in.
        assert!(
            data.contains("\"1;1;106;80"),
            "{:?}",
            &data[..40.min(data.len())]
        );
        assert_eq!(at.cells.x, 3);
    }
}
