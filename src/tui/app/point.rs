//! Point mode and region search, as state changes: a cursor cell on one photo of the pair,
//! whose row (or column) of the pair's cell correspondence the other photo shows; a rectangle
//! of cells selected on the query the way vim's visual mode selects, and the search for it
//! (the first pass ranked here from the worker's region feature, refinement in the
//! background). The correspondence arrives once per pair, so moving the cursor redraws and
//! never runs the network.

use std::path::PathBuf;
use std::time::Instant;

use super::{App, FileState, Focus, Slot};
use crate::explain::correspondence::cell_box;
use crate::index::region::{Region, REFINE_CANDIDATES};
use crate::tui::action::{Command, PairCells, RegionHit, RegionJob};
use crate::tui::{log, sanitize};

/// Cells across and down the last feature map: one per 32 pixels of the 224-pixel input.
pub const GRID: usize = (crate::model::INPUT_SIZE / 32) as usize;

/// Which photo the point cursor is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Query,
    Neighbour,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub on: bool,
    /// (column, row) on the grid of the photo on `side`.
    pub cursor: (usize, usize),
    pub side: Side,
    /// Where a selection was anchored (on the query); it spans to the cursor.
    pub anchor: Option<(usize, usize)>,
}

impl Point {
    pub(super) fn new() -> Self {
        Point {
            on: false,
            cursor: (GRID / 2, GRID / 2),
            side: Side::Query,
            anchor: None,
        }
    }

    /// The cursor's cell, numbered row-major over the grid.
    pub fn cell(&self) -> usize {
        self.cursor.1 * GRID + self.cursor.0
    }

    /// The selection from the anchor to the cursor (the cursor's cell without an anchor), as
    /// cells [x0, y0, x1, y1).
    pub fn selection(&self) -> [usize; 4] {
        let (a, c) = (self.anchor.unwrap_or(self.cursor), self.cursor);
        [
            a.0.min(c.0),
            a.1.min(c.1),
            a.0.max(c.0) + 1,
            a.1.max(c.1) + 1,
        ]
    }
}

/// Cells [x0, y0, x1, y1) as pixels [x0, y0, x1, y1) of a `width`×`height` photo: the
/// network sees the whole photo squeezed to its input, so cells split each side evenly.
pub fn cells_to_pixels(cells: [usize; 4], width: u32, height: u32) -> [u32; 4] {
    let first = cell_box((GRID, GRID), cells[1] * GRID + cells[0], width, height);
    let last = cell_box(
        (GRID, GRID),
        (cells[3] - 1) * GRID + cells[2] - 1,
        width,
        height,
    );
    // A photo under 7 px on a side has empty cells: at least one pixel, inside the photo.
    let x1 = last[2].max(first[0] + 1).min(width.max(1));
    let y1 = last[3].max(first[1] + 1).min(height.max(1));
    [first[0].min(x1 - 1), first[1].min(y1 - 1), x1, y1]
}

#[derive(Debug, Clone, PartialEq)]
pub enum RegionPhase {
    /// The region is being cropped and embedded.
    Embedding,
    /// First-pass results are listed; the best windows are being computed.
    Refining,
    Refined,
    Failed(String),
}

/// A region search and its results, which replace the neighbour list while it lasts.
#[derive(Debug, Clone)]
pub struct RegionSearch {
    pub id: u64,
    /// The entry the region is of.
    pub query: usize,
    /// The selection in cells [x0, y0, x1, y1).
    pub cells: [usize; 4],
    /// The selection in the query's upright pixels.
    pub region: Region,
    /// The query's upright (width, height).
    pub query_size: (u32, u32),
    pub phase: RegionPhase,
    /// Every candidate, best first (the list shows the first k).
    pub hits: Vec<RegionHit>,
    pub(super) started: Instant,
    /// Milliseconds from Enter to the first-pass list, and to the refined list.
    pub first_ms: Option<f64>,
    pub refined_ms: Option<f64>,
}

impl App {
    /// The pair's correspondence, when it has arrived.
    pub fn pair_cells(&self) -> Option<&PairCells> {
        let (q, (n, _)) = (self.query()?, self.neighbour()?);
        match self.pictures.cells.get(&(q, n)) {
            Some(Slot::Ready(c)) => Some(c),
            _ => None,
        }
    }

    pub(super) fn point_toggle(&mut self) {
        if self.point.on {
            self.point.on = false;
            self.point.anchor = None;
            return;
        }
        if self.query().is_none() {
            self.say("point mode needs a query photo");
            return;
        }
        self.point = Point {
            on: true,
            ..Point::new()
        };
    }

    pub(super) fn point_move(&mut self, dx: i8, dy: i8) {
        let step = |v: usize, d: i8| (v as isize + d as isize).clamp(0, GRID as isize - 1) as usize;
        self.point.cursor = (step(self.point.cursor.0, dx), step(self.point.cursor.1, dy));
    }

    /// The cursor goes to the other photo, onto the cell its current cell matches best
    /// (where the correspondence is known; the same place otherwise). A selection stays on
    /// the query, so it is dropped.
    pub(super) fn point_swap(&mut self) {
        let cell = self.point.cell();
        let best = self.pair_cells().map(|c| {
            let m = &c.matrix;
            let line = match self.point.side {
                Side::Query => m.row(cell),
                Side::Neighbour => m.column(cell),
            };
            let best = (0..line.len())
                .max_by(|&i, &j| line[i].total_cmp(&line[j]))
                .unwrap_or(cell);
            (best % GRID, best / GRID)
        });
        if let Some(c) = best {
            self.point.cursor = c;
        }
        self.point.side = match self.point.side {
            Side::Query => Side::Neighbour,
            Side::Neighbour => Side::Query,
        };
        self.point.anchor = None;
    }

    pub(super) fn point_select(&mut self) {
        if self.point.side != Side::Query {
            self.say("regions are selected on the query: x puts the cursor back on it");
            return;
        }
        self.point.anchor = match self.point.anchor {
            Some(_) => None,
            None => Some(self.point.cursor),
        };
    }

    /// Starts the search for the selection (or the cursor's cell): its pixels need the
    /// query's size, which comes with the pair's correspondence.
    pub(super) fn region_search(&mut self) {
        let Some(q) = self.query() else {
            return;
        };
        if self.point.side != Side::Query {
            self.say("regions are searched from the query: x puts the cursor back on it");
            return;
        }
        let Some(size) = self.pair_cells().map(|c| c.sizes[0]) else {
            let failed =
                self.neighbour()
                    .and_then(|(n, _)| match self.pictures.cells.get(&(q, n)) {
                        Some(Slot::Failed(why)) => Some(why.clone()),
                        _ => None,
                    });
            match failed {
                // Enter again would not help: say why, once.
                Some(why) => self.say(format!("cannot search from this pair: {why}")),
                None => self.say(if self.neighbour().is_none() {
                    "no other photo to search"
                } else {
                    "the query's cells are still being computed: Enter again in a moment"
                }),
            }
            return;
        };
        let cells = self.point.selection();
        let [x0, y0, x1, y1] = cells_to_pixels(cells, size.0, size.1);
        let region = Region { x0, y0, x1, y1 };
        self.region_ids += 1;
        let id = self.region_ids;
        self.region = Some(RegionSearch {
            id,
            query: q,
            cells,
            region,
            query_size: size,
            phase: RegionPhase::Embedding,
            hits: Vec::new(),
            started: Instant::now(),
            first_ms: None,
            refined_ms: None,
        });
        log::write(&format!(
            "region search {id}: {region} of {}",
            self.files.entries[q].name
        ));
        self.commands.push(Command::Region(Some(RegionJob::Embed {
            id,
            query: self.files.path_of(q),
            region,
        })));
        self.point.on = false;
        self.point.anchor = None;
        self.focus = Focus::Neighbours;
        self.neighbours.cursor = 0;
        self.refresh_neighbours(false);
    }

    /// Esc: point mode first, then the region results.
    pub(super) fn leave(&mut self) {
        if self.point.on {
            self.point.on = false;
            self.point.anchor = None;
        } else if self.region.is_some() {
            self.drop_region();
            self.neighbours.cursor = 0;
            self.refresh_neighbours(false);
        }
    }

    /// Forgets the region search, cancelling its work.
    pub(super) fn drop_region(&mut self) {
        if let Some(r) = self.region.take() {
            if matches!(r.phase, RegionPhase::Embedding | RegionPhase::Refining) {
                self.commands.push(Command::Region(None));
            }
        }
    }

    /// The region's feature arrived: the first pass ranks the folder by it at once, and the
    /// best candidates go to the worker for their best windows.
    pub(super) fn on_region_feature(&mut self, id: u64, result: Result<Vec<f32>, String>) {
        let Some(r) = self.region.as_mut().filter(|r| r.id == id) else {
            return;
        };
        let feature = match result {
            Ok(f) => f,
            Err(e) => {
                let e = sanitize::sanitize(&e);
                r.phase = RegionPhase::Failed(e.clone());
                self.say(format!("region search failed: {e}"));
                return;
            }
        };
        let exclude = match self.files.entries[r.query].state {
            FileState::Embedded(row) => Some(row),
            _ => None,
        };
        let matrix = &self.files.matrix;
        let n = self.neighbours.k.max(REFINE_CANDIDATES).min(matrix.len());
        let ranked = if matrix.is_empty() {
            Vec::new()
        } else {
            matrix.top_k(&feature, n, exclude)
        };
        r.hits = ranked
            .into_iter()
            .map(|(row, s)| RegionHit {
                entry: self.files.row_entry[row],
                score: s,
                first_pass: s,
                found: None,
            })
            .collect();
        let ms = r.started.elapsed().as_secs_f64() * 1e3;
        r.first_ms = Some(ms);
        log::write(&format!(
            "region search {id}: first pass, {} results, {ms:.0} ms after Enter",
            r.hits.len()
        ));
        let candidates: Vec<(usize, PathBuf, f32)> = r
            .hits
            .iter()
            .take(REFINE_CANDIDATES)
            .map(|h| (h.entry, self.files.path_of(h.entry), h.score))
            .collect();
        if candidates.is_empty() {
            r.phase = RegionPhase::Refined;
        } else {
            r.phase = RegionPhase::Refining;
            self.commands.push(Command::Region(Some(RegionJob::Refine {
                id,
                feature,
                candidates,
            })));
        }
        self.neighbours.cursor = 0;
        self.refresh_neighbours(false);
    }

    /// The refined candidates replace the first pass's (those beyond the refined ones keep
    /// their first-pass scores, after them).
    pub(super) fn on_region_refined(&mut self, id: u64, result: Result<Vec<RegionHit>, String>) {
        let Some(r) = self.region.as_mut().filter(|r| r.id == id) else {
            return;
        };
        match result {
            Ok(mut refined) => {
                let rest: Vec<RegionHit> = r
                    .hits
                    .iter()
                    .filter(|h| !refined.iter().any(|f| f.entry == h.entry))
                    .cloned()
                    .collect();
                refined.extend(rest);
                r.hits = refined;
                r.phase = RegionPhase::Refined;
                let ms = r.started.elapsed().as_secs_f64() * 1e3;
                r.refined_ms = Some(ms);
                log::write(&format!(
                    "region search {id}: refined, {ms:.0} ms after Enter"
                ));
            }
            Err(e) => {
                let e = sanitize::sanitize(&e);
                r.phase = RegionPhase::Failed(e.clone());
                self.say(format!("refining the region search failed: {e}"));
            }
        }
        self.refresh_neighbours(true);
    }

    /// A click on a photo: point mode, with the cursor on the clicked cell of that photo.
    /// Returns whether the click was on a photo.
    pub(super) fn photo_click(&mut self, column: u16, row: u16) -> bool {
        let panels = [
            (Side::Query, self.query()),
            (Side::Neighbour, self.neighbour().map(|n| n.0)),
        ];
        for ((side, entry), (y, x, w, h)) in panels.into_iter().zip(self.layout.photos) {
            let Some(entry) = entry else { continue };
            let inside = column >= x && column < x + w && row >= y && row < y + h;
            if !inside {
                continue;
            }
            let Some(Slot::Ready(img)) = self.pictures.previews.get(&entry) else {
                return true;
            };
            let cell = self.layout.cell.unwrap_or(crate::tui::blocks::ASSUMED_CELL);
            let at = crate::tui::blocks::placed(
                img.width(),
                img.height(),
                ratatui::layout::Rect::new(x, y, w, h),
                cell,
            );
            // The centre of the clicked cell's half-block pixels, as a fraction of the photo.
            let Some((fx, fy)) = at.fraction_at(column, row) else {
                return true;
            };
            let to_cell = |f: f64| ((f * GRID as f64) as usize).min(GRID - 1);
            if !self.point.on {
                self.point_toggle();
            }
            if self.point.side != side {
                self.point.anchor = None;
            }
            self.point.side = side;
            self.point.cursor = (to_cell(fx), to_cell(fy));
            return true;
        }
        false
    }

    pub(super) fn on_cells(&mut self, pair: (usize, usize), result: Result<PairCells, String>) {
        let slot = match result {
            Ok(c) => Slot::Ready(c),
            Err(e) => Slot::Failed(sanitize::sanitize(&e)),
        };
        self.pictures.cells.insert(pair, slot);
    }
}
