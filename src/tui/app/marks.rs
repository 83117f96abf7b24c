//! The pictures point mode and region results put on the photos, drawn from the previews (or
//! the saliency overlays) and the pair's correspondence: the cursor's cell or the selection
//! spotlit on one photo, that cell's row (or column) of the correspondence as a map over the
//! other, a region and where it was found spotlit. They are drawn here, on the UI thread, once
//! per change (milliseconds), so the cursor moves without a worker round trip; the view shows
//! them like the saliency overlays, in half-blocks and through the graphics protocols alike.

use std::sync::Arc;

use image::RgbImage;

use super::point::{cells_to_pixels, Side, GRID};
use super::{App, Slot};
use crate::explain::SaliencyMap;
use crate::render::{overlay, Scale};

/// What the marked pictures show; they are redrawn when it changes.
#[derive(Debug, Clone, PartialEq)]
enum What {
    Point {
        pair: (usize, usize),
        side: Side,
        cursor: (usize, usize),
        /// The selection in cells, when one is anchored.
        selection: Option<[usize; 4]>,
        cells: bool,
        signed: bool,
    },
    Region {
        id: u64,
        query: usize,
        neighbour: Option<usize>,
        found: Option<([u32; 4], (u32, u32))>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    what: What,
    /// The pictures drawn upon, by identity (a preview or overlay that arrives redraws).
    bases: [usize; 2],
}

/// The pictures of the query's and the neighbour's panel while point mode or region results
/// are on; `None` for a panel that shows its usual picture.
#[derive(Debug, Clone)]
pub struct Marked {
    key: Key,
    pub query: Option<Arc<RgbImage>>,
    pub neighbour: Option<Arc<RgbImage>>,
}

/// Pixels outside the spotlit rectangle keep this much of their brightness.
const DIMMED: f32 = 0.35;
const SELECTION: [u8; 3] = [0, 229, 255];
const CURSOR: [u8; 3] = [255, 214, 0];

impl App {
    /// The picture under the marks of panel `side`: the saliency overlay when it is on and
    /// ready, else the preview.
    fn base(&self, side: Side) -> Option<Arc<RgbImage>> {
        if self.overlay.show {
            if let Some(Slot::Ready(m)) = self.current_maps() {
                return Some(match side {
                    Side::Query => m.query.clone(),
                    Side::Neighbour => m.neighbour.clone(),
                });
            }
        }
        self.preview(side)
    }

    fn preview(&self, side: Side) -> Option<Arc<RgbImage>> {
        let entry = match side {
            Side::Query => self.query()?,
            Side::Neighbour => self.neighbour()?.0,
        };
        match self.pictures.previews.get(&entry) {
            Some(Slot::Ready(p)) => Some(p.clone()),
            _ => None,
        }
    }

    fn marks_what(&self) -> Option<What> {
        let q = self.query()?;
        if self.point.on {
            let (n, _) = self.neighbour()?;
            return Some(What::Point {
                pair: (q, n),
                side: self.point.side,
                cursor: self.point.cursor,
                selection: self.point.anchor.map(|_| self.point.selection()),
                cells: self.pair_cells().is_some(),
                signed: self.overlay.signed,
            });
        }
        let r = self.region.as_ref()?;
        let neighbour = self.neighbour().map(|n| n.0);
        let found = neighbour
            .and_then(|n| r.hits.iter().find(|h| h.entry == n))
            .and_then(|h| h.found);
        Some(What::Region {
            id: r.id,
            query: q,
            neighbour,
            found,
        })
    }

    /// Redraws the marked pictures when what they show has changed.
    pub(super) fn mark_pictures(&mut self) {
        let Some(what) = self.marks_what() else {
            self.pictures.marked = None;
            return;
        };
        let point = matches!(what, What::Point { .. });
        let bases =
            [Side::Query, Side::Neighbour].map(
                |s| {
                    if point {
                        self.preview(s)
                    } else {
                        self.base(s)
                    }
                },
            );
        let id = |b: &Option<Arc<RgbImage>>| b.as_ref().map_or(0, |b| Arc::as_ptr(b) as usize);
        let key = Key {
            bases: [id(&bases[0]), id(&bases[1])],
            what,
        };
        if self.pictures.marked.as_ref().is_some_and(|m| m.key == key) {
            return;
        }
        let [bq, bn] = bases;
        let (query, neighbour) = match &key.what {
            What::Point { side, .. } => {
                let cell = self.point.cell();
                let map = self.pair_cells().map(|c| match side {
                    Side::Query => c.matrix.row(cell),
                    Side::Neighbour => c.matrix.column(cell),
                });
                let signed = self.overlay.signed;
                let cursor = |img: &RgbImage| {
                    let c = self.point.cursor;
                    cells_to_pixels([c.0, c.1, c.0 + 1, c.1 + 1], img.width(), img.height())
                };
                let spot = |img: &RgbImage| {
                    let sel = self.point.selection();
                    let sel = cells_to_pixels(sel, img.width(), img.height());
                    spotlight(img, sel, SELECTION, Some(cursor(img)))
                };
                let mapped = |img: &RgbImage| map.as_ref().map(|m| cell_map(img, m, signed));
                match side {
                    Side::Query => (bq.map(|b| spot(&b)), bn.and_then(|b| mapped(&b))),
                    Side::Neighbour => (
                        bq.and_then(|b| mapped(&b)),
                        bn.map(|b| spotlight(&b, cursor(&b), CURSOR, None)),
                    ),
                }
            }
            What::Region { found, .. } => {
                let r = self.region.as_ref().expect("region results are on");
                let query = bq.map(|b| {
                    let rb = r.region;
                    let rect = scale_box([rb.x0, rb.y0, rb.x1, rb.y1], r.query_size, &b);
                    spotlight(&b, rect, SELECTION, None)
                });
                let neighbour = found.and_then(|(fb, size)| {
                    bn.map(|b| spotlight(&b, scale_box(fb, size, &b), SELECTION, None))
                });
                (query, neighbour)
            }
        };
        self.pictures.marked = Some(Marked {
            key,
            query: query.map(Arc::new),
            neighbour: neighbour.map(Arc::new),
        });
    }
}

/// `rect` ([x0, y0, x1, y1) in a photo of `size`) in the pixels of `img` (the same photo
/// shrunk).
fn scale_box(rect: [u32; 4], size: (u32, u32), img: &RgbImage) -> [u32; 4] {
    let s = |v: u32, from: u32, to: u32| (v as u64 * to as u64 / from.max(1) as u64) as u32;
    [
        s(rect[0], size.0, img.width()),
        s(rect[1], size.1, img.height()),
        s(rect[2], size.0, img.width()),
        s(rect[3], size.1, img.height()),
    ]
}

/// A line width that stays visible when the picture is shrunk into a terminal panel.
fn line_width(img: &RgbImage) -> u32 {
    (img.width().max(img.height()) / 100).max(2)
}

/// `img` with everything outside `rect` dimmed and `rect` outlined in `colour`, and `cursor`
/// (when given) outlined in the cursor's colour over it. Dimming carries the rectangle even
/// where the outline is thinner than a half-block.
pub fn spotlight(
    img: &RgbImage,
    rect: [u32; 4],
    colour: [u8; 3],
    cursor: Option<[u32; 4]>,
) -> RgbImage {
    let mut out = img.clone();
    let [x0, y0, x1, y1] = rect;
    for (x, y, p) in out.enumerate_pixels_mut() {
        if x < x0 || x >= x1 || y < y0 || y >= y1 {
            for v in p.0.iter_mut() {
                *v = (*v as f32 * DIMMED).round() as u8;
            }
        }
    }
    outline(&mut out, rect, colour);
    if let Some(c) = cursor {
        outline(&mut out, c, CURSOR);
    }
    out
}

/// A frame of [`line_width`] just inside `rect`.
fn outline(img: &mut RgbImage, rect: [u32; 4], colour: [u8; 3]) {
    let t = line_width(img);
    let [x0, y0, x1, y1] = [
        rect[0].min(img.width()),
        rect[1].min(img.height()),
        rect[2].min(img.width()),
        rect[3].min(img.height()),
    ];
    for y in y0..y1 {
        for x in x0..x1 {
            let edge = x < x0 + t || x + t >= x1 || y < y0 + t || y + t >= y1;
            if edge {
                img.put_pixel(x, y, image::Rgb(colour));
            }
        }
    }
}

/// One row (or column) of the correspondence, a value per cell of the grid, drawn over `img`
/// as the saliency overlays are, on a scale of its own (both signs when `signed`).
fn cell_map(img: &RgbImage, values: &[f32], signed: bool) -> RgbImage {
    let map = SaliencyMap {
        width: GRID,
        height: GRID,
        values: values.to_vec(),
    };
    let scale = if signed {
        Scale::signed_for_pair(&map, &map)
    } else {
        Scale::for_pair(&map, &map)
    };
    overlay(img, &map, &scale)
}
