//! The parts of the app's state, one struct per concern: the folder's files and the list
//! over them, the history of queries, the neighbours, the overlay settings, the pictures
//! that arrived from the workers, and the indexer's progress.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use image::RgbImage;

use crate::explain::Method;
use crate::search::EmbeddingMatrix;
use crate::tui::action::{CellsRequest, ExplainRequest, PairCells, PairKey, PairMaps};
use crate::tui::cache::BoundedCache;

/// Decoded previews kept in memory (each at most [`crate::tui::worker::PREVIEW_SIDE`] px a
/// side).
const PREVIEW_CACHE: usize = 48;
/// Computed pair maps kept in memory.
const MAP_CACHE: usize = 64;
/// Pair correspondences kept in memory (49×49 values each).
const CELLS_CACHE: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum FileState {
    /// Not embedded yet (new or changed, queued in the background).
    Pending,
    /// Embedded: its row in the embedding matrix.
    Embedded(usize),
    /// Cannot be used, with the reason.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the folder.
    pub rel: PathBuf,
    /// `rel` made safe to print.
    pub name: String,
    pub state: FileState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Files,
    Neighbours,
}

/// What the background indexer is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Loading the model and reading the cache.
    Starting,
    /// Embedding new or changed files.
    Embedding,
    Done,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub phase: Phase,
    pub to_embed: usize,
    pub done: usize,
    pub started: Option<Instant>,
}

/// Something that is computed in the background.
#[derive(Debug, Clone)]
pub enum Slot<T> {
    Loading,
    Ready(T),
    Failed(String),
}

/// The folder's files, their embeddings, and the (filtered) file list with its cursor.
pub struct Files {
    pub root: PathBuf,
    /// `root` made safe to print.
    pub root_name: String,
    pub entries: Vec<Entry>,
    pub(super) by_rel: HashMap<PathBuf, usize>,
    /// Embeddings of the embedded entries; row i belongs to `row_entry[i]`.
    pub matrix: EmbeddingMatrix,
    pub(super) row_entry: Vec<usize>,
    /// Whether the folder has been listed (entries are known).
    pub listed: bool,
    /// Unreadable entries found while scanning (not in `entries`).
    pub scan_errors: Vec<(String, String)>,
    pub filter: String,
    pub filter_editing: bool,
    /// Indices into `entries` that match the filter, in order.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub cursor: usize,
}

impl Files {
    pub(super) fn new(root: PathBuf, space: crate::space::Space) -> Self {
        Files {
            root_name: crate::tui::sanitize::path(&root),
            root,
            entries: Vec::new(),
            by_rel: HashMap::new(),
            matrix: EmbeddingMatrix::in_space(Vec::new(), &[], space),
            row_entry: Vec::new(),
            listed: false,
            scan_errors: Vec::new(),
            filter: String::new(),
            filter_editing: false,
            visible: Vec::new(),
            cursor: 0,
        }
    }

    pub fn path_of(&self, entry: usize) -> PathBuf {
        self.root.join(&self.entries[entry].rel)
    }

    pub fn embedded(&self) -> usize {
        self.row_entry.len()
    }

    /// Files that cannot be used, unreadable folder entries included.
    pub fn failed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, FileState::Failed(_)))
            .count()
            + self.scan_errors.len()
    }
}

/// Queries visited, like a browser's history; `visited[pos]` is the query.
#[derive(Debug, Default)]
pub struct History {
    pub visited: Vec<usize>,
    pub pos: usize,
}

impl History {
    pub fn query(&self) -> Option<usize> {
        self.visited.get(self.pos).copied()
    }
}

/// The query's neighbours and the cursor in their list.
pub struct Neighbours {
    pub k: usize,
    /// (entry, cosine), best first.
    pub list: Vec<(usize, f32)>,
    pub cursor: usize,
    /// New embeddings arrived since the list was last computed.
    pub(super) dirty: bool,
    pub(super) last_refresh: Instant,
}

impl Neighbours {
    /// The selected neighbour (entry, cosine).
    pub fn selected(&self) -> Option<(usize, f32)> {
        self.list.get(self.cursor).copied()
    }
}

/// The saliency overlay: whether it is on, and with which method.
#[derive(Debug, Clone, Copy)]
pub struct Overlay {
    pub show: bool,
    pub method: Method,
    /// Draw both signs of the maps (red alike, blue against).
    pub signed: bool,
}

/// What the workers have drawn: previews by entry and pair maps by pair, both bounded; the
/// pairs' correspondences; and the pictures point mode and region results show, drawn here
/// from them.
pub struct Pictures {
    pub previews: BoundedCache<usize, Slot<Arc<RgbImage>>>,
    pub maps: BoundedCache<PairKey, Slot<PairMaps>>,
    /// By (query entry, neighbour entry).
    pub cells: BoundedCache<(usize, usize), Slot<PairCells>>,
    pub marked: Option<super::Marked>,
    /// How photos reach the screen, and why they are half-blocks where images might have
    /// been possible (the status bar keeps its marker, the help popup its reason).
    pub images: crate::tui::graphics::Images,
}

impl Pictures {
    pub(super) fn new() -> Self {
        Pictures {
            previews: BoundedCache::new(PREVIEW_CACHE),
            maps: BoundedCache::new(MAP_CACHE),
            cells: BoundedCache::new(CELLS_CACHE),
            marked: None,
            images: Default::default(),
        }
    }

    /// Puts the drawing `signed` asks for on screen in every pair already drawn.
    pub(super) fn draw_signed(&mut self, signed: bool) {
        for slot in self.maps.values_mut() {
            if let Slot::Ready(m) = slot {
                if m.signed != signed {
                    super::messages::swap_drawing(m);
                }
            }
        }
    }
}

/// The last wishes sent to the workers, so that only changes are sent.
#[derive(Debug, Default)]
pub(super) struct Sent {
    pub(super) previews: Vec<(usize, PathBuf)>,
    pub(super) explain: Option<ExplainRequest>,
    pub(super) cells: Option<CellsRequest>,
}
