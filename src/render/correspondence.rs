//! The correspondence figure: two photos side by side and their strongest cell pairs as lines
//! between them, coloured and thickened by their share of the score, with a legend saying how
//! much of the score the drawn pairs carry.

use image::{Rgb, RgbImage};

use super::text::{self, Style};
use super::{colormap, fit, resize_rgb};
use crate::explain::correspondence::{CellPair, Correspondence};

const MARGIN: u32 = 24;
const GAP: u32 = 48;
const INK: [u8; 3] = [20, 20, 28];
const MUTED: [u8; 3] = [90, 90, 100];

/// Pairs drawn when the caller asks for none in particular.
pub const DEFAULT_PAIRS: usize = 12;

/// Position of a pair on the colour map and its line width, from where its contribution lies
/// between the weakest and the strongest drawn pair.
fn style_of(c: f32, (weakest, strongest): (f32, f32)) -> (f32, f32) {
    let t = if strongest > weakest {
        ((c - weakest) / (strongest - weakest)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    // Inferno's black end would vanish on dark photos; start at its purple.
    (0.3 + 0.7 * t, 1.5 + 3.5 * t)
}

/// Blends `colour` into the pixel at (x, y) with opacity `a`, if inside.
fn blend(img: &mut RgbImage, x: i64, y: i64, colour: [u8; 3], a: f32) {
    if x < 0 || y < 0 || x >= img.width() as i64 || y >= img.height() as i64 {
        return;
    }
    let p = img.get_pixel_mut(x as u32, y as u32);
    for (c, t) in p.0.iter_mut().zip(colour) {
        *c = (*c as f32 * (1.0 - a) + t as f32 * a).round() as u8;
    }
}

/// A line of `width` pixels from `p` to `q`, its edge anti-aliased over one pixel.
fn line(img: &mut RgbImage, p: (f32, f32), q: (f32, f32), width: f32, colour: [u8; 3]) {
    let r = width / 2.0;
    let (x0, x1) = (p.0.min(q.0) - r - 1.0, p.0.max(q.0) + r + 1.0);
    let (y0, y1) = (p.1.min(q.1) - r - 1.0, p.1.max(q.1) + r + 1.0);
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in y0.floor() as i64..=y1.ceil() as i64 {
        for x in x0.floor() as i64..=x1.ceil() as i64 {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let s = (((fx - p.0) * dx + (fy - p.1) * dy) / len2).clamp(0.0, 1.0);
            let (cx, cy) = (p.0 + s * dx - fx, p.1 + s * dy - fy);
            let d = (cx * cx + cy * cy).sqrt();
            let a = (r + 0.5 - d).clamp(0.0, 1.0);
            if a > 0.0 {
                blend(img, x, y, colour, a);
            }
        }
    }
}

/// A ring of radius `r` around `c` (the ends of a pair).
fn ring(img: &mut RgbImage, c: (f32, f32), r: f32, colour: [u8; 3]) {
    for y in (c.1 - r - 2.0) as i64..=(c.1 + r + 2.0) as i64 {
        for x in (c.0 - r - 2.0) as i64..=(c.0 + r + 2.0) as i64 {
            let d = ((x as f32 + 0.5 - c.0).powi(2) + (y as f32 + 0.5 - c.1).powi(2)).sqrt();
            let a = (1.5 - (d - r).abs()).clamp(0.0, 1.0);
            if a > 0.0 {
                blend(img, x, y, colour, a);
            }
        }
    }
}

/// The figure of `pairs` (from [`Correspondence::top_pairs`]) between photos `a` and `b`.
/// `names` are the captions (sanitised by the caller); `space` names the score.
pub fn figure(
    a: &RgbImage,
    b: &RgbImage,
    m: &Correspondence,
    pairs: &[CellPair],
    names: [&str; 2],
    space: &str,
) -> RgbImage {
    let (max_w, max_h) = (440, 330);
    let (aw, ah) = fit(a.width(), a.height(), max_w, max_h);
    let (bw, bh) = fit(b.width(), b.height(), max_w, max_h);
    let ph = ah.max(bh);
    let top = MARGIN + 70;
    let width = MARGIN * 2 + aw + GAP + bw;
    let height = top + ph + 32 + 3 * 24 + MARGIN;
    let mut img = RgbImage::from_pixel(width.max(640), height, Rgb([255, 255, 255]));
    let title = Style::new(22.0, INK).bold();
    text::draw(
        &mut img,
        MARGIN as f32,
        MARGIN as f32,
        &format!("{}  ↔  {}", names[0], names[1]),
        &title,
    );
    text::draw(
        &mut img,
        MARGIN as f32,
        MARGIN as f32 + text::line_height(&title) + 6.0,
        &format!(
            "score {:.3} ({space}) = sum over all {}×{} cell pairs; lines: the {} strongest pairs",
            m.score,
            m.cells(),
            m.cells(),
            pairs.len()
        ),
        &Style::new(15.0, MUTED),
    );
    let (ax, bx) = (MARGIN, MARGIN + aw + GAP);
    let (ay, by) = (top + (ph - ah) / 2, top + (ph - bh) / 2);
    image::imageops::replace(&mut img, &resize_rgb(a, aw, ah), ax as i64, ay as i64);
    image::imageops::replace(&mut img, &resize_rgb(b, bw, bh), bx as i64, by as i64);
    let centre = |cell: usize, x: u32, y: u32, w: u32, h: u32| {
        let [x0, y0, x1, y1] = m.cell_box(cell, w, h);
        (
            x as f32 + (x0 + x1) as f32 / 2.0,
            y as f32 + (y0 + y1) as f32 / 2.0,
        )
    };
    let strongest = pairs.first().map_or(0.0, |p| p.contribution);
    let range = (pairs.last().map_or(0.0, |p| p.contribution), strongest);
    // Weakest first, so the strongest lines lie on top.
    for p in pairs.iter().rev() {
        let (t, w) = style_of(p.contribution, range);
        let colour = colormap(t);
        let (pa, pb) = (centre(p.a, ax, ay, aw, ah), centre(p.b, bx, by, bw, bh));
        // A dark edge keeps the bright lines visible on light photos.
        line(&mut img, pa, pb, w + 2.0, INK);
        line(&mut img, pa, pb, w, colour);
        ring(&mut img, pa, 5.0, colour);
        ring(&mut img, pb, 5.0, colour);
    }
    let caption = Style::new(15.0, INK);
    text::draw(
        &mut img,
        ax as f32,
        (top + ph + 8) as f32,
        names[0],
        &caption,
    );
    text::draw(
        &mut img,
        bx as f32,
        (top + ph + 8) as f32,
        names[1],
        &caption,
    );

    // Legend: what the drawn pairs carry, and the colour/width key.
    let drawn: f64 = pairs.iter().map(|p| p.contribution as f64).sum();
    let share = if m.score > 0.0 {
        format!("{:.0} % of the score", 100.0 * drawn / m.score as f64)
    } else {
        "the score is not positive".to_string()
    };
    let legend = Style::new(14.0, INK);
    let y = (top + ph + 40) as f32;
    text::draw(
        &mut img,
        MARGIN as f32,
        y,
        &format!(
            "The {} drawn pairs carry {drawn:.3} of {:.3}: {share} (the other {} pairs carry the rest, some of them negative).",
            pairs.len(),
            m.score,
            m.cells() * m.cells() - pairs.len()
        ),
        &legend,
    );
    let y = y + 26.0;
    let mut x = MARGIN as f32;
    x += text::draw(
        &mut img,
        x,
        y,
        "Colour and width: share of the score, from ",
        &legend,
    );
    for (label, c) in [
        (
            crate::render::figure::format_value(pairs.last().map_or(0.0, |p| p.contribution)),
            pairs.last(),
        ),
        (
            crate::render::figure::format_value(strongest),
            pairs.first(),
        ),
    ] {
        if let Some(p) = c {
            let (t, w) = style_of(p.contribution, range);
            line(
                &mut img,
                (x + 4.0, y + 9.0),
                (x + 40.0, y + 9.0),
                w,
                colormap(t),
            );
        }
        x += 46.0;
        x += text::draw(&mut img, x, y, &label, &legend);
        if c.map(|p| p.contribution) != Some(strongest) {
            x += text::draw(&mut img, x, y, "  to  ", &legend);
        }
    }
    text::draw(
        &mut img,
        x,
        y,
        "  (per pair; each photo is cut into 7×7 cells).",
        &legend,
    );
    img
}
