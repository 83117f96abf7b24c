//! Report figures: a pair with its heatmaps, a colour bar with units and the faithfulness
//! figures; and a query with its top-k neighbours.

use image::{Rgb, RgbImage};

use super::text::{self, Style};
use super::{colour_on, fit, overlay, resize_rgb, Scale};
use crate::explain::faithfulness::Scores;
use crate::explain::{Method, SaliencyMap};

const MARGIN: u32 = 24;
const GAP: u32 = 24;
const INK: [u8; 3] = [20, 20, 28];
const MUTED: [u8; 3] = [90, 90, 100];
const BAR_W: u32 = 22;

/// One image of a figure: the photo (upright, any size), its map and a caption.
pub struct Panel<'a> {
    pub name: &'a str,
    pub photo: &'a RgbImage,
    pub map: &'a SaliencyMap,
    pub faithfulness: Option<&'a Scores>,
}

/// Short, readable number for axis labels.
pub fn format_value(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(0.01..1000.0).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// Cuts `s` to at most `max` pixels wide in `style`, ending with "…" when cut.
fn ellipsize(s: &str, max: f32, style: &Style) -> String {
    if text::width(s, style) <= max {
        return s.to_string();
    }
    let mut out: String = s.to_string();
    while !out.is_empty() && text::width(&format!("{out}…"), style) > max {
        out.pop();
    }
    format!("{out}…")
}

fn blit(dst: &mut RgbImage, src: &RgbImage, x: u32, y: u32) {
    image::imageops::replace(dst, src, x as i64, y as i64);
}

/// A vertical colour bar (top = scale.hi) with five labelled ticks; returns its total width.
fn colour_bar(img: &mut RgbImage, x: u32, y: u32, h: u32, scale: &Scale) -> u32 {
    for dy in 0..h {
        let t = 1.0 - dy as f32 / (h - 1).max(1) as f32;
        let c = colour_on(scale, t);
        for dx in 0..BAR_W {
            img.put_pixel(x + dx, y + dy, Rgb(c));
        }
    }
    let style = Style::new(13.0, INK);
    let mut widest = 0f32;
    for i in 0..=4 {
        let t = i as f32 / 4.0;
        let ty = y + ((1.0 - t) * (h - 1) as f32) as u32;
        for dx in 0..5 {
            img.put_pixel(x + BAR_W + dx, ty, Rgb(INK));
        }
        let mut label = format_value(scale.lo + t * (scale.hi - scale.lo));
        if i == 4 {
            label.push_str(" (p99.5)");
        }
        if i == 0 && scale.is_signed() {
            label.push_str(" (−p99.5)");
        }
        let lh = text::line_height(&style);
        widest = widest.max(text::draw(
            img,
            (x + BAR_W + 8) as f32,
            ty as f32 - lh / 2.0,
            &label,
            &style,
        ));
    }
    BAR_W + 8 + widest.ceil() as u32
}

fn faithfulness_line(name: &str, f: &Scores) -> String {
    format!(
        "{name}: deletion AUC {:.3} (random {:.3}; lower is better) · insertion AUC {:.3} (random {:.3}; higher is better)",
        f.deletion_auc, f.random_deletion_auc, f.insertion_auc, f.random_insertion_auc
    )
}

/// Title (bold) and a muted subtitle at the top, each cut to the figure's width.
fn header(img: &mut RgbImage, title: &str, subtitle: &str, title_px: f32, sub_px: f32) {
    let width = (img.width() - 2 * MARGIN) as f32;
    let t = Style::new(title_px, INK).bold();
    let s = Style::new(sub_px, MUTED);
    text::draw(
        img,
        MARGIN as f32,
        MARGIN as f32,
        &ellipsize(title, width, &t),
        &t,
    );
    let y = MARGIN as f32 + text::line_height(&t) + 6.0;
    text::draw(img, MARGIN as f32, y, &ellipsize(subtitle, width, &s), &s);
}

/// Peak of a map in the photo's pixel coordinates.
pub fn peak_px(map: &SaliencyMap, photo: &RgbImage) -> (u32, u32) {
    let (fx, fy) = map.peak();
    (
        (fx * photo.width() as f32) as u32,
        (fy * photo.height() as f32) as u32,
    )
}

/// How a figure draws its maps and names its score.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// Both signs on a diverging map (red alike, blue against) instead of the positive part.
    pub signed: bool,
    /// The score's name in the title, e.g. "centred similarity".
    pub score_name: &'a str,
}

impl Default for Look<'_> {
    fn default() -> Self {
        Look {
            signed: false,
            score_name: "cosine similarity",
        }
    }
}

/// Query and neighbour side by side with their overlays on one shared scale, a title with the
/// file names, score and method, a colour bar with units and the faithfulness figures.
pub fn pair(a: &Panel, b: &Panel, score: f32, method: Method) -> RgbImage {
    pair_in(a, b, score, method, Look::default())
}

/// [`pair`], drawn and captioned as `look` says.
pub fn pair_in(a: &Panel, b: &Panel, score: f32, method: Method, look: Look) -> RgbImage {
    let scale = if look.signed {
        Scale::signed_for_pair(a.map, b.map)
    } else {
        Scale::for_pair(a.map, b.map)
    };
    let (max_w, max_h) = (560, 420);
    let (aw, ah) = fit(a.photo.width(), a.photo.height(), max_w, max_h);
    let (bw, bh) = fit(b.photo.width(), b.photo.height(), max_w, max_h);
    let ph = ah.max(bh);
    let caption = Style::new(15.0, INK);
    let foot = Style::new(14.0, INK);
    let panels_top = MARGIN + 72;
    let bar_x = MARGIN + aw + GAP + bw + 32;
    let lines: Vec<String> = [("A", a), ("B", b)]
        .iter()
        .filter_map(|(k, p)| p.faithfulness.map(|f| faithfulness_line(k, f)))
        .collect();
    let foot_lines = lines.len() as u32 + u32::from(!lines.is_empty());
    let footer_h = foot_lines * (text::line_height(&foot).ceil() as u32 + 6);
    let width_needed = lines
        .iter()
        .map(|l| text::width(l, &foot).ceil() as u32)
        .max()
        .unwrap_or(0);
    let width = (bar_x + BAR_W + 120 + MARGIN).max(width_needed + 2 * MARGIN);
    let height = panels_top + ph + 56 + footer_h + MARGIN;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));

    let subline = format!(
        "{} {score:.3} · method: {} · colour: {} ({}one scale for both)",
        look.score_name,
        method.name(),
        method.unit(),
        if look.signed {
            "red alike, blue against; "
        } else {
            ""
        }
    );
    header(
        &mut img,
        &format!("{}  ↔  {}", a.name, b.name),
        &subline,
        24.0,
        16.0,
    );

    let mut x = MARGIN;
    for (p, (w, h)) in [(a, (aw, ah)), (b, (bw, bh))] {
        let shown = overlay(&resize_rgb(p.photo, w, h), p.map, &scale);
        blit(&mut img, &shown, x, panels_top);
        let (px, py) = peak_px(p.map, p.photo);
        let cap = ellipsize(p.name, w as f32, &caption);
        text::draw(
            &mut img,
            x as f32,
            (panels_top + h + 8) as f32,
            &cap,
            &caption,
        );
        let peak = format!(
            "peak at ({px}, {py}) px of {}×{}",
            p.photo.width(),
            p.photo.height()
        );
        text::draw(
            &mut img,
            x as f32,
            (panels_top + h + 28) as f32,
            &peak,
            &Style::new(13.0, MUTED),
        );
        x += w + GAP;
    }
    colour_bar(&mut img, bar_x, panels_top, ph, &scale);

    let mut y = panels_top + ph + 56;
    if !lines.is_empty() {
        text::draw(
            &mut img,
            MARGIN as f32,
            y as f32,
            "Faithfulness (the score as 8×8 patches are blurred away / restored in map order):",
            &Style::new(14.0, MUTED),
        );
        y += text::line_height(&foot).ceil() as u32 + 6;
        for l in &lines {
            text::draw(&mut img, MARGIN as f32, y as f32, l, &foot);
            y += text::line_height(&foot).ceil() as u32 + 6;
        }
    }
    img
}

/// One neighbour row of a report.
pub struct ReportRow<'a> {
    pub query_map: &'a SaliencyMap,
    pub neighbour: Panel<'a>,
    pub score: f32,
}

/// The query and its top-k neighbours, one row per neighbour: the query's map for that
/// neighbour, then the neighbour's map, both on the row's own shared scale.
pub fn report(
    query_name: &str,
    query: &RgbImage,
    rows: &[ReportRow],
    method: Method,
    folder: &str,
    look: Look,
) -> RgbImage {
    let (cell_w, cell_h) = (320u32, 220u32);
    let caption = Style::new(14.0, INK);
    let top = MARGIN + 64;
    let row_h = cell_h + 34;
    let width = MARGIN * 2 + cell_w * 2 + GAP + 40 + BAR_W + 90;
    let height = top + row_h * rows.len().max(1) as u32 + MARGIN;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let subline = format!(
        "{} · method: {} · colour: {} ({}one scale per row)",
        look.score_name,
        method.name(),
        method.unit(),
        if look.signed {
            "red alike, blue against; "
        } else {
            ""
        }
    );
    header(
        &mut img,
        &format!("{query_name}: top {} in {folder}", rows.len()),
        &subline,
        22.0,
        15.0,
    );
    if rows.is_empty() {
        text::draw(
            &mut img,
            MARGIN as f32,
            top as f32,
            "no neighbours found",
            &caption,
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as u32 * row_h;
        let scale = if look.signed {
            Scale::signed_for_pair(row.query_map, row.neighbour.map)
        } else {
            Scale::for_pair(row.query_map, row.neighbour.map)
        };
        let mut x = MARGIN;
        for (photo, map, label) in [
            (query, row.query_map, format!("query: {query_name}")),
            (
                row.neighbour.photo,
                row.neighbour.map,
                format!("#{} {}  {:.3}", i + 1, row.neighbour.name, row.score),
            ),
        ] {
            let (w, h) = fit(photo.width(), photo.height(), cell_w, cell_h);
            let shown = overlay(&resize_rgb(photo, w, h), map, &scale);
            blit(&mut img, &shown, x + (cell_w - w) / 2, y + (cell_h - h) / 2);
            let label = ellipsize(&label, cell_w as f32, &caption);
            text::draw(
                &mut img,
                x as f32,
                (y + cell_h + 6) as f32,
                &label,
                &caption,
            );
            x += cell_w + GAP;
        }
        colour_bar(&mut img, x + 16, y + 10, cell_h - 20, &scale);
    }
    img
}
