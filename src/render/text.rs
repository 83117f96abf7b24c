//! Text into RGB images with the bundled DejaVu Sans (for exported figures).

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;

struct Fonts {
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| Fonts {
        regular: FontRef::try_from_slice(include_bytes!("../../assets/fonts/DejaVuSans.ttf"))
            .expect("bundled DejaVuSans.ttf parses"),
        bold: FontRef::try_from_slice(include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf"))
            .expect("bundled DejaVuSans-Bold.ttf parses"),
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub px: f32,
    pub bold: bool,
    pub color: [u8; 3],
}

impl Style {
    pub fn new(px: f32, color: [u8; 3]) -> Self {
        Self {
            px,
            bold: false,
            color,
        }
    }

    pub fn bold(self) -> Self {
        Self { bold: true, ..self }
    }
}

fn font(style: &Style) -> &'static FontRef<'static> {
    if style.bold {
        &fonts().bold
    } else {
        &fonts().regular
    }
}

/// Width in pixels of `text` set in `style`.
pub fn width(text: &str, style: &Style) -> f32 {
    let f = font(style).as_scaled(PxScale::from(style.px));
    let mut w = 0.0;
    let mut prev = None;
    for ch in text.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Height of one line (ascent − descent) in `style`.
pub fn line_height(style: &Style) -> f32 {
    let f = font(style).as_scaled(PxScale::from(style.px));
    f.ascent() - f.descent()
}

/// Draws `text` with its top-left corner at (x, y), anti-aliased over what is there. Text
/// running past the image edge is clipped. Returns the width drawn.
pub fn draw(img: &mut RgbImage, x: f32, y: f32, text: &str, style: &Style) -> f32 {
    let f = font(style).as_scaled(PxScale::from(style.px));
    let baseline = y + f.ascent();
    let mut caret = x;
    let mut prev = None;
    let (w, h) = (img.width() as i32, img.height() as i32);
    for ch in text.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            caret += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(style.px, point(caret, baseline));
        caret += f.h_advance(id);
        prev = Some(id);
        let Some(outline) = font(style).outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i32 + gx as i32;
            let py = bounds.min.y as i32 + gy as i32;
            if px < 0 || py < 0 || px >= w || py >= h {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            let a = coverage.clamp(0.0, 1.0);
            for (c, t) in p.0.iter_mut().zip(style.color) {
                *c = (*c as f32 * (1.0 - a) + t as f32 * a).round() as u8;
            }
        });
    }
    caret - x
}
