//! The TUI's messages: [`Action`]s change the app (keys, clicks, the layout after a draw,
//! ticks, worker results), [`Command`]s leave it for the workers, and [`Msg`]s are what the
//! workers send back, with the values they carry.

use std::path::PathBuf;
use std::sync::Arc;

use image::RgbImage;

use crate::explain::Method;
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
    /// The method these maps are of: the exact decomposition (instant, from the cells the
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExplainRequest {
    /// Draw both signs (exports only: the screen gets both drawings anyway).
    pub signed: bool,
    pub key: PairKey,
    pub query: PathBuf,
    pub neighbour: PathBuf,
}

/// Where the two lists are on screen: (first row, first column, width, height) of each
/// list's inner area, and the first visible row of each.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ListRows {
    pub files: (u16, u16, u16, u16),
    pub neighbours: (u16, u16, u16, u16),
}
