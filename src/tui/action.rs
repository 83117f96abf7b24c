//! The TUI's messages: [`Action`]s change the app (keys, clicks, the layout after a draw,
//! ticks, worker results), [`Command`]s leave it for the workers, and [`Msg`]s are what the
//! workers send back, with the values they carry.

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use crate::explain::correspondence::Correspondence;
use crate::explain::Method;
use crate::index::region::Region;
use crate::index::Event;

/// Deletion and insertion AUCs of one map, with the random ordering's as the yardstick: the
/// same figures `simtui explain --json` prints.
pub use crate::explain::faithfulness::Scores as Faith;

/// A pair's maps, drawn over both photos (same scale and colour map as the PNG export).
#[derive(Debug, Clone)]
pub struct PairMaps {
    pub score: f32,
    /// The overlays on screen: positive contributions (inferno), or both signs (diverging)
    /// after `d`.
    pub query: Arc<RgbImage>,
    pub neighbour: Arc<RgbImage>,
    /// The other drawing of the same maps, swapped in by `d`.
    pub other: [Arc<RgbImage>; 2],
    /// Whether `query`/`neighbour` are the signed drawing.
    pub signed: bool,
    /// The method these maps are of: the cells' Shapley map (instant, from the cells the
    /// photos already have) while a slower method is computed to replace it.
    pub shown: Method,
    /// A slower method is being computed and will replace these maps.
    pub refining: bool,
    pub millis: f64,
    /// Faithfulness of the query's and the neighbour's map, once measured.
    pub faith: Option<[Faith; 2]>,
    /// Why the faithfulness could not be measured.
    pub faith_error: Option<String>,
}

/// Query entry, neighbour entry, method.
pub type PairKey = (usize, usize, Method);

/// A pair's cell correspondence (point mode): the 49×49 matrix of the photos' cell pairs,
/// computed once per pair by a worker, and both photos' upright sizes in pixels (what
/// regions and boxes are given in).
#[derive(Debug, Clone)]
pub struct PairCells {
    pub matrix: Arc<Correspondence>,
    /// (width, height) of the query and of the neighbour.
    pub sizes: [(u32, u32); 2],
}

/// One result of a region search.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionHit {
    pub entry: usize,
    /// The ranking score: the first pass's, then the best window's once refined.
    pub score: f32,
    /// The region against the photo's stored pooled feature.
    pub first_pass: f32,
    /// Where the region was found, [x0, y0, x1, y1) in the photo's upright pixels, and the
    /// photo's upright size; `None` before refinement.
    pub found: Option<([u32; 4], (u32, u32))>,
}

/// Results from the background workers.
#[derive(Debug)]
pub enum Msg {
    /// The model is loaded (with its id) and the cache opened.
    ModelReady,
    Index(Event),
    IndexFinished(Result<(), String>),
    Preview {
        entry: usize,
        result: Result<Arc<RgbImage>, String>,
    },
    Map {
        key: PairKey,
        result: Result<PairMaps, String>,
    },
    Faith {
        key: PairKey,
        faith: [Faith; 2],
    },
    FaithFailed {
        key: PairKey,
        reason: String,
    },
    Exported(Result<PathBuf, String>),
    Opened(Result<PathBuf, String>),
    /// The correspondence of the pair (query entry, neighbour entry).
    Cells {
        pair: (usize, usize),
        result: Result<PairCells, String>,
    },
    /// The raw pooled feature of region search `id`'s region.
    RegionEmbedded {
        id: u64,
        result: Result<Vec<f32>, String>,
    },
    /// Region search `id`'s candidates re-scored by their best window, best first.
    RegionRefined {
        id: u64,
        result: Result<Vec<RegionHit>, String>,
    },
}

#[derive(Debug)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    SwitchFocus,
    /// On a neighbour: follow it (it becomes the query). On the file list: go to neighbours.
    Enter,
    Back,
    Forward,
    MoreK,
    LessK,
    ToggleSaliency,
    /// Both signs (diverging colours) or the positive part (inferno).
    ToggleSigned,
    CycleMethod,
    Export,
    Open,
    Help,
    /// q / Esc: closes the help first.
    Quit,
    /// Ctrl-C / Ctrl-Q: quits from anywhere.
    ForceQuit,
    FilterStart,
    FilterInput(char),
    FilterDelete,
    FilterAccept,
    FilterCancel,
    /// Select the row under a mouse click.
    Click {
        column: u16,
        row: u16,
    },
    /// Point mode on or off.
    PointToggle,
    /// Move the point cursor by cells (clamped to the grid).
    PointMove {
        dx: i8,
        dy: i8,
    },
    /// Put the point cursor on the other photo.
    PointSwap,
    /// Anchor a region selection at the cursor (or drop it).
    PointSelect,
    /// Search the folder for the selected region (the cursor cell without a selection).
    RegionSearch,
    /// Esc in point mode or over region results: leave them (point mode first).
    Leave,
    Resize,
    /// Where the lists are on screen, as the event loop laid out the last frame (for mouse
    /// clicks and paging).
    Layout(ListRows),
    Tick,
    Worker(Msg),
}

/// Work for the background, produced by `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Decode these previews, most wanted first (replaces the previous wish list).
    Previews(Vec<(usize, PathBuf)>),
    /// Compute this pair's maps (or nothing: cancels what is queued).
    Explain(Option<ExplainRequest>),
    Export(ExplainRequest),
    Open(PathBuf),
    /// Compute this pair's correspondence (or nothing: cancels what is queued).
    Cells(Option<CellsRequest>),
    /// A step of a region search (or nothing: cancels it). A newer one replaces the older.
    Region(Option<RegionJob>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellsRequest {
    pub pair: (usize, usize),
    pub query: PathBuf,
    pub neighbour: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RegionJob {
    /// Crop `region` (pixels of the upright photo) out of `query` and embed it.
    Embed {
        id: u64,
        query: PathBuf,
        region: Region,
    },
    /// Re-score the first pass's candidates (entry, path, first-pass score) by their best
    /// window against the region's feature.
    Refine {
        id: u64,
        feature: Vec<f32>,
        candidates: Vec<(usize, PathBuf, f32)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    /// Draw both signs (exports only: the screen gets both drawings anyway).
    pub signed: bool,
    pub key: PairKey,
    pub query: PathBuf,
    pub neighbour: PathBuf,
}

/// Where the two lists and the two photo panels are on screen: (first row, first column,
/// width, height) of each inner area, and the terminal's cell size in pixels (`None` where it
/// reports none), which places the photos in their panels.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ListRows {
    pub files: (u16, u16, u16, u16),
    pub neighbours: (u16, u16, u16, u16),
    /// The query's and the neighbour's photo cells.
    pub photos: [(u16, u16, u16, u16); 2],
    pub cell: Option<(f64, f64)>,
}
