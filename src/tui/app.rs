//! The TUI's state and its one way of changing: [`App::update`] with an [`Action`]. Keys,
//! worker results and ticks all become actions; the work they start (decoding previews,
//! computing maps, exporting) leaves as [`Command`]s for the event loop to hand to workers,
//! so every transition here is testable without a terminal or a model.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use image::RgbImage;

use super::sanitize;
use crate::explain::Method;
use crate::index::{Event, Listed, ListedState};
use crate::search::EmbeddingMatrix;

pub const DEFAULT_K: usize = 10;
pub const MAX_K: usize = 100;
/// Decoded previews kept in memory (each at most [`super::worker::PREVIEW_SIDE`] px a side).
const PREVIEW_CACHE: usize = 48;
/// How long a status message stays before the key hints return.
pub const STATUS_SECONDS: u64 = 10;
/// Computed pair maps kept in memory.
const MAP_CACHE: usize = 64;

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

/// Deletion and insertion AUCs of one map, with the random ordering's as the yardstick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faith {
    pub deletion: f32,
    pub insertion: f32,
    pub random_deletion: f32,
    pub random_insertion: f32,
}

/// A pair's maps, drawn over both photos (same scale and colour map as the PNG export).
#[derive(Debug, Clone)]
pub struct PairMaps {
    pub score: f32,
    pub query: Arc<RgbImage>,
    pub neighbour: Arc<RgbImage>,
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
    pub key: PairKey,
    pub query: PathBuf,
    pub neighbour: PathBuf,
}

pub struct Config {
    pub root: PathBuf,
    pub k: usize,
    pub method: Method,
    pub export_dir: PathBuf,
}

pub struct App {
    pub root: PathBuf,
    pub root_name: String,
    pub entries: Vec<Entry>,
    by_rel: HashMap<PathBuf, usize>,
    /// Embeddings of the embedded entries; row i belongs to `row_entry[i]`.
    pub matrix: EmbeddingMatrix,
    row_entry: Vec<usize>,
    /// Whether the folder has been listed (entries are known).
    pub listed: bool,
    /// Unreadable entries found while scanning (not in `entries`).
    pub scan_errors: Vec<(String, String)>,

    pub filter: String,
    pub filter_editing: bool,
    /// Indices into `entries` that match the filter, in order.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub file_cursor: usize,
    pub focus: Focus,

    /// Queries visited, like a browser's history; `history[hist_pos]` is the query.
    pub history: Vec<usize>,
    pub hist_pos: usize,

    pub k: usize,
    /// Neighbours of the query: (entry, cosine), best first.
    pub neighbours: Vec<(usize, f32)>,
    pub nb_cursor: usize,

    pub show_saliency: bool,
    pub method: Method,
    pub maps: HashMap<PairKey, Slot<PairMaps>>,
    map_order: VecDeque<PairKey>,
    pub previews: HashMap<usize, Slot<Arc<RgbImage>>>,
    preview_order: VecDeque<usize>,

    pub progress: Progress,
    pub model_ready: bool,
    pub status: Option<String>,
    status_at: Option<Instant>,
    pub help: bool,
    pub quit: bool,
    pub export_dir: PathBuf,
    /// Where the log is, for error messages.
    pub log_hint: String,
    /// Exports asked for and not yet written.
    pub exports_pending: usize,

    /// Work for the event loop to hand out.
    pub commands: Vec<Command>,
    last_previews: Vec<(usize, PathBuf)>,
    last_explain: Option<ExplainRequest>,
    /// Screen rows of the lists, for mouse clicks and paging (set by the view's layout).
    pub list_rows: ListRows,
    /// New embeddings arrived since the neighbours were last computed.
    neighbours_dirty: bool,
    last_refresh: Instant,
}

/// Where the two lists are on screen: (first row, first column, width, height) of each
/// list's inner area, and the first visible row of each.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListRows {
    pub files: (u16, u16, u16, u16),
    pub neighbours: (u16, u16, u16, u16),
}

impl App {
    pub fn new(config: Config) -> Self {
        let root_name = sanitize::path(&config.root);
        App {
            root: config.root,
            root_name,
            entries: Vec::new(),
            by_rel: HashMap::new(),
            matrix: EmbeddingMatrix::new(Vec::new(), &[]),
            row_entry: Vec::new(),
            listed: false,
            scan_errors: Vec::new(),
            filter: String::new(),
            filter_editing: false,
            visible: Vec::new(),
            file_cursor: 0,
            focus: Focus::Files,
            history: Vec::new(),
            hist_pos: 0,
            k: config.k.clamp(1, MAX_K),
            neighbours: Vec::new(),
            nb_cursor: 0,
            show_saliency: false,
            method: config.method,
            maps: HashMap::new(),
            map_order: VecDeque::new(),
            previews: HashMap::new(),
            preview_order: VecDeque::new(),
            progress: Progress {
                phase: Phase::Starting,
                to_embed: 0,
                done: 0,
                started: None,
            },
            model_ready: false,
            status: None,
            status_at: None,
            help: false,
            quit: false,
            export_dir: config.export_dir,
            log_hint: "the log".into(),
            exports_pending: 0,
            commands: Vec::new(),
            last_previews: Vec::new(),
            last_explain: None,
            list_rows: ListRows::default(),
            neighbours_dirty: false,
            last_refresh: Instant::now(),
        }
    }

    /// The action a key stands for (depends on the mode: filter typing, help).
    pub fn key_action(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            return Some(Action::ForceQuit);
        }
        if self.filter_editing {
            return match key.code {
                KeyCode::Esc => Some(Action::FilterCancel),
                KeyCode::Enter => Some(Action::FilterAccept),
                KeyCode::Backspace => Some(Action::FilterDelete),
                KeyCode::Up => Some(Action::Up),
                KeyCode::Down => Some(Action::Down),
                KeyCode::Char(c) if !ctrl => Some(Action::FilterInput(c)),
                _ => None,
            };
        }
        if self.help {
            return match key.code {
                KeyCode::Char('q') => Some(Action::Quit),
                _ => Some(Action::Help),
            };
        }
        Some(match key.code {
            KeyCode::Left if alt => Action::Back,
            KeyCode::Right if alt => Action::Forward,
            KeyCode::Char('j') | KeyCode::Down => Action::Down,
            KeyCode::Char('k') | KeyCode::Up => Action::Up,
            KeyCode::PageDown => Action::PageDown,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::Char('g') | KeyCode::Home => Action::First,
            KeyCode::Char('G') | KeyCode::End => Action::Last,
            KeyCode::Tab | KeyCode::BackTab => Action::SwitchFocus,
            KeyCode::Enter => Action::Enter,
            KeyCode::Backspace | KeyCode::Char('H') => Action::Back,
            KeyCode::Char('L') => Action::Forward,
            KeyCode::Char('+') | KeyCode::Char('=') => Action::MoreK,
            KeyCode::Char('-') | KeyCode::Char('_') => Action::LessK,
            KeyCode::Char('s') => Action::ToggleSaliency,
            KeyCode::Char('m') => Action::CycleMethod,
            KeyCode::Char('e') => Action::Export,
            KeyCode::Char('o') => Action::Open,
            KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
            KeyCode::Char('/') => Action::FilterStart,
            KeyCode::Esc if !self.filter.is_empty() => Action::FilterCancel,
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            _ => return None,
        })
    }

    /// A message for the status bar; it gives way to the key hints after [`STATUS_SECONDS`].
    pub fn say(&mut self, msg: impl Into<String>) {
        self.status = Some(msg.into());
        self.status_at = Some(Instant::now());
    }

    pub fn query(&self) -> Option<usize> {
        self.history.get(self.hist_pos).copied()
    }

    /// The selected neighbour (entry, cosine).
    pub fn neighbour(&self) -> Option<(usize, f32)> {
        self.neighbours.get(self.nb_cursor).copied()
    }

    pub fn path_of(&self, entry: usize) -> PathBuf {
        self.root.join(&self.entries[entry].rel)
    }

    pub fn embedded(&self) -> usize {
        self.row_entry.len()
    }

    pub fn failed(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, FileState::Failed(_)))
            .count()
            + self.scan_errors.len()
    }

    /// The current pair's key, if there is a pair.
    pub fn pair_key(&self) -> Option<PairKey> {
        Some((self.query()?, self.neighbour()?.0, self.method))
    }

    pub fn current_maps(&self) -> Option<&Slot<PairMaps>> {
        self.maps.get(&self.pair_key()?)
    }

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.page() as isize)),
            Action::PageDown => self.move_by(self.page() as isize),
            Action::First => self.move_by(isize::MIN / 2),
            Action::Last => self.move_by(isize::MAX / 2),
            Action::SwitchFocus => {
                self.focus = match self.focus {
                    Focus::Files => Focus::Neighbours,
                    Focus::Neighbours => Focus::Files,
                }
            }
            Action::Enter => match self.focus {
                Focus::Files => self.focus = Focus::Neighbours,
                Focus::Neighbours => self.follow(),
            },
            Action::Back => {
                if self.hist_pos > 0 {
                    self.hist_pos -= 1;
                    self.query_changed(true);
                } else {
                    self.say("at the start of the history");
                }
            }
            Action::Forward => {
                if self.hist_pos + 1 < self.history.len() {
                    self.hist_pos += 1;
                    self.query_changed(true);
                } else {
                    self.say("at the end of the history");
                }
            }
            Action::MoreK => self.set_k(self.k + 1),
            Action::LessK => self.set_k(self.k.saturating_sub(1)),
            Action::ToggleSaliency => self.show_saliency = !self.show_saliency,
            Action::CycleMethod => {
                self.method = self.method.next();
                self.show_saliency = true;
            }
            Action::Export => self.export(),
            Action::Open => {
                let entry = match self.focus {
                    Focus::Files => self.query(),
                    Focus::Neighbours => self.neighbour().map(|n| n.0).or(self.query()),
                };
                if let Some(e) = entry {
                    self.commands.push(Command::Open(self.path_of(e)));
                }
            }
            Action::Help => self.help = !self.help,
            Action::Quit => {
                if self.help {
                    self.help = false;
                } else {
                    self.quit = true;
                }
            }
            Action::ForceQuit => self.quit = true,
            Action::FilterStart => {
                self.filter_editing = true;
                self.focus = Focus::Files;
            }
            Action::FilterInput(c) => {
                self.filter.push(c);
                self.refilter();
            }
            Action::FilterDelete => {
                self.filter.pop();
                self.refilter();
            }
            Action::FilterAccept => self.filter_editing = false,
            Action::FilterCancel => {
                self.filter_editing = false;
                self.filter.clear();
                self.refilter();
            }
            Action::Click { column, row } => self.click(column, row),
            Action::Resize => {}
            Action::Tick => {
                if self
                    .status_at
                    .is_some_and(|t| t.elapsed().as_secs() >= STATUS_SECONDS)
                {
                    self.status = None;
                    self.status_at = None;
                }
            }
            Action::Worker(msg) => self.on_msg(msg),
        }
        self.plan_work();
    }

    fn page(&self) -> usize {
        let h = match self.focus {
            Focus::Files => self.list_rows.files.3,
            Focus::Neighbours => self.list_rows.neighbours.3,
        };
        (h as usize).max(2) - 1
    }

    fn move_by(&mut self, delta: isize) {
        let step = |cur: usize, len: usize| -> usize {
            if len == 0 {
                0
            } else {
                (cur as isize)
                    .saturating_add(delta)
                    .clamp(0, len as isize - 1) as usize
            }
        };
        match self.focus {
            Focus::Files => {
                let new = step(self.file_cursor, self.visible.len());
                if new != self.file_cursor || self.query() != self.visible.get(new).copied() {
                    self.file_cursor = new;
                    if let Some(&e) = self.visible.get(new) {
                        self.select_from_list(e);
                    }
                }
            }
            Focus::Neighbours => self.nb_cursor = step(self.nb_cursor, self.neighbours.len()),
        }
    }

    /// Choosing a file in the list replaces the current history entry (and drops the
    /// forward ones), as typing a new address does in a browser.
    fn select_from_list(&mut self, entry: usize) {
        if self.history.is_empty() {
            self.history.push(entry);
            self.hist_pos = 0;
        } else {
            self.history.truncate(self.hist_pos + 1);
            self.history[self.hist_pos] = entry;
        }
        self.query_changed(false);
    }

    fn follow(&mut self) {
        let Some((n, _)) = self.neighbour() else {
            self.say("no neighbour to follow");
            return;
        };
        self.history.truncate(self.hist_pos + 1);
        self.history.push(n);
        self.hist_pos = self.history.len() - 1;
        self.query_changed(true);
    }

    /// After the query changed: new neighbours, and the file list shows the query.
    fn query_changed(&mut self, sync_list: bool) {
        self.nb_cursor = 0;
        self.refresh_neighbours(false);
        if sync_list {
            if let Some(q) = self.query() {
                if !self.visible.contains(&q) {
                    self.filter.clear();
                    self.filter_editing = false;
                    self.refilter();
                }
                if let Some(pos) = self.visible.iter().position(|&e| e == q) {
                    self.file_cursor = pos;
                }
            }
        }
    }

    fn set_k(&mut self, k: usize) {
        let k = k.clamp(1, MAX_K);
        if k != self.k {
            self.k = k;
            self.refresh_neighbours(true);
        }
        self.say(format!("showing {} neighbours", self.k));
    }

    /// Recomputes the query's neighbours; `keep` keeps the selected neighbour selected.
    fn refresh_neighbours(&mut self, keep: bool) {
        self.neighbours_dirty = false;
        self.last_refresh = Instant::now();
        let selected = if keep {
            self.neighbour().map(|n| n.0)
        } else {
            None
        };
        self.neighbours.clear();
        if let Some(q) = self.query() {
            if let FileState::Embedded(row) = self.entries[q].state {
                let query = self.matrix.row(row).to_vec();
                self.neighbours = self
                    .matrix
                    .top_k(&query, self.k, Some(row))
                    .into_iter()
                    .map(|(r, s)| (self.row_entry[r], s))
                    .collect();
            }
        }
        self.nb_cursor = selected
            .and_then(|s| self.neighbours.iter().position(|n| n.0 == s))
            .unwrap_or(self.nb_cursor)
            .min(self.neighbours.len().saturating_sub(1));
    }

    fn refilter(&mut self) {
        let current = self.visible.get(self.file_cursor).copied().or(self.query());
        let needle = self.filter.to_lowercase();
        self.visible = (0..self.entries.len())
            .filter(|&i| needle.is_empty() || self.entries[i].name.to_lowercase().contains(&needle))
            .collect();
        match current.and_then(|c| self.visible.iter().position(|&e| e == c)) {
            Some(pos) => self.file_cursor = pos,
            None => {
                // The query is filtered out: the first match becomes the query, so the
                // highlighted row and the query agree.
                self.file_cursor = 0;
                if let Some(&first) = self.visible.first() {
                    if self.listed && self.query().is_some() {
                        self.select_from_list(first);
                    }
                }
            }
        }
    }

    fn click(&mut self, column: u16, row: u16) {
        // The list index under the click, if it is on a row of a list with `cursor` and `len`.
        let row_at = |(y, x, w, h): (u16, u16, u16, u16), cursor: usize, len: usize| {
            let inside = column >= x && column < x + w && row >= y && row < y + h;
            inside.then(|| {
                let (first, _) = super::view::list_window(cursor, len, h as usize);
                first + (row - y) as usize
            })
        };
        if let Some(i) = row_at(self.list_rows.files, self.file_cursor, self.visible.len()) {
            self.focus = Focus::Files;
            if i < self.visible.len() {
                self.file_cursor = i;
                self.select_from_list(self.visible[i]);
            }
        } else if let Some(i) = row_at(
            self.list_rows.neighbours,
            self.nb_cursor,
            self.neighbours.len(),
        ) {
            self.focus = Focus::Neighbours;
            if i < self.neighbours.len() {
                self.nb_cursor = i;
            }
        }
    }

    fn export(&mut self) {
        let (Some(q), Some((n, _))) = (self.query(), self.neighbour()) else {
            self.say("nothing to export: select a query with a neighbour");
            return;
        };
        self.exports_pending += 1;
        self.say(format!(
            "exporting {} ↔ {} ({}) to {}…",
            self.entries[q].name,
            self.entries[n].name,
            self.method.name(),
            sanitize::path(&self.export_dir)
        ));
        self.commands.push(Command::Export(ExplainRequest {
            key: (q, n, self.method),
            query: self.path_of(q),
            neighbour: self.path_of(n),
        }));
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::ModelReady => self.model_ready = true,
            Msg::Index(event) => self.on_index(event),
            Msg::IndexFinished(r) => {
                self.progress.phase = match r {
                    Ok(()) => Phase::Done,
                    Err(e) => Phase::Failed(sanitize::sanitize(&e)),
                };
                self.refresh_neighbours(true);
            }
            Msg::Preview { entry, result } => {
                let slot = match result {
                    Ok(img) => Slot::Ready(img),
                    Err(e) => Slot::Failed(sanitize::sanitize(&e)),
                };
                self.previews.insert(entry, slot);
                self.preview_order.retain(|&e| e != entry);
                self.preview_order.push_back(entry);
                while self.preview_order.len() > PREVIEW_CACHE {
                    if let Some(old) = self.preview_order.pop_front() {
                        self.previews.remove(&old);
                    }
                }
            }
            Msg::Map { key, result } => {
                let slot = match result {
                    Ok(m) => Slot::Ready(m),
                    Err(e) => Slot::Failed(sanitize::sanitize(&e)),
                };
                self.maps.insert(key, slot);
                self.map_order.retain(|k| *k != key);
                self.map_order.push_back(key);
                while self.map_order.len() > MAP_CACHE {
                    if let Some(old) = self.map_order.pop_front() {
                        self.maps.remove(&old);
                    }
                }
            }
            Msg::Faith { key, faith } => {
                if let Some(Slot::Ready(m)) = self.maps.get_mut(&key) {
                    m.faith = Some(faith);
                }
            }
            Msg::FaithFailed { key, reason } => {
                if let Some(Slot::Ready(m)) = self.maps.get_mut(&key) {
                    m.faith_error = Some(sanitize::sanitize(&reason));
                }
            }
            Msg::Exported(r) => {
                self.exports_pending = self.exports_pending.saturating_sub(1);
                self.say(match r {
                    Ok(p) => format!("exported {}", sanitize::path(&p)),
                    Err(e) => format!("export failed: {}", sanitize::sanitize(&e)),
                });
            }
            Msg::Opened(r) => self.say(match r {
                Ok(p) => format!("opened {}", sanitize::path(&p)),
                Err(e) => format!("cannot open: {}", sanitize::sanitize(&e)),
            }),
        }
    }

    fn rel_of(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root).unwrap_or(path).to_path_buf()
    }

    fn on_index(&mut self, event: Event) {
        match event {
            Event::Plan { to_embed, .. } => {
                self.progress.to_embed = to_embed;
                self.progress.done = 0;
                self.progress.started = Some(Instant::now());
                self.progress.phase = if to_embed > 0 {
                    Phase::Embedding
                } else {
                    Phase::Starting
                };
            }
            Event::Progress { done, total } => {
                self.progress.done = done;
                self.progress.to_embed = total;
            }
            Event::Skipped { path, reason } => {
                let rel = self.rel_of(&path);
                let reason = sanitize::sanitize(&reason);
                match self.by_rel.get(&rel) {
                    Some(&i) => self.entries[i].state = FileState::Failed(reason),
                    None => self.scan_errors.push((sanitize::path(&rel), reason)),
                }
            }
            Event::Listed(files) => self.on_listed(files),
            Event::Embedded { rel, embedding } => {
                let Some(&i) = self.by_rel.get(&rel) else {
                    return;
                };
                match self.entries[i].state {
                    FileState::Embedded(row) => self.matrix.set_row(row, &embedding),
                    _ => {
                        let row = self.matrix.push(rel, &embedding);
                        self.row_entry.push(i);
                        self.entries[i].state = FileState::Embedded(row);
                    }
                }
                // Neighbours follow new arrivals (a few times a second at most, see
                // `plan_work`); the selected one stays selected.
                self.neighbours_dirty = true;
            }
        }
    }

    fn on_listed(&mut self, files: Vec<Listed>) {
        self.entries.clear();
        self.by_rel.clear();
        let mut paths = Vec::new();
        let mut embeddings = Vec::new();
        self.row_entry.clear();
        for (i, f) in files.into_iter().enumerate() {
            let state = match f.state {
                ListedState::Cached(e) => {
                    paths.push(f.rel.clone());
                    embeddings.push(e);
                    self.row_entry.push(i);
                    FileState::Embedded(embeddings.len() - 1)
                }
                ListedState::Failed(r) => FileState::Failed(sanitize::sanitize(&r)),
                ListedState::Pending => FileState::Pending,
            };
            self.by_rel.insert(f.rel.clone(), i);
            self.entries.push(Entry {
                name: sanitize::path(&f.rel),
                rel: f.rel,
                state,
            });
        }
        self.matrix = EmbeddingMatrix::new(paths, &embeddings);
        self.listed = true;
        self.refilter();
        self.history.clear();
        self.hist_pos = 0;
        if let Some(&first) = self.visible.first() {
            self.file_cursor = 0;
            self.history.push(first);
        }
        self.query_changed(false);
    }

    /// Tells the workers what is wanted now: previews of the query and the neighbours, and
    /// the current pair's maps when the overlay is on. Only changes are sent.
    fn plan_work(&mut self) {
        if self.neighbours_dirty && self.last_refresh.elapsed() >= Duration::from_millis(200) {
            self.refresh_neighbours(true);
        }
        let mut wanted: Vec<usize> = Vec::new();
        if let Some(q) = self.query() {
            wanted.push(q);
        }
        if let Some((n, _)) = self.neighbour() {
            wanted.push(n);
        }
        // Prefetch: the next neighbours and the next files in the list.
        for (n, _) in self.neighbours.iter().skip(self.nb_cursor + 1).take(3) {
            wanted.push(*n);
        }
        for &e in self.visible.iter().skip(self.file_cursor + 1).take(2) {
            wanted.push(e);
        }
        let mut seen = HashSet::new();
        // Everything wanted that has not arrived (a preview being decoded stays on the list:
        // the new list replaces the old one in the workers).
        let previews: Vec<(usize, PathBuf)> = wanted
            .into_iter()
            .filter(|e| seen.insert(*e) && !self.previews.contains_key(e))
            .filter(|&e| !matches!(self.entries[e].state, FileState::Failed(_)))
            .map(|e| (e, self.path_of(e)))
            .collect();
        // Previews on screen are the most recently used: keep them from eviction.
        for e in [self.query(), self.neighbour().map(|n| n.0)]
            .into_iter()
            .flatten()
        {
            if let Some(pos) = self.preview_order.iter().position(|&x| x == e) {
                self.preview_order.remove(pos);
                self.preview_order.push_back(e);
            }
        }
        if previews != self.last_previews {
            self.commands.push(Command::Previews(previews.clone()));
            self.last_previews = previews;
        }

        // The pair stays wanted until its maps and their faithfulness are in, so the arrival
        // of the maps does not cancel the faithfulness measurement that follows them.
        let finished = |slot: Option<&Slot<PairMaps>>| match slot {
            Some(Slot::Ready(m)) => m.faith.is_some() || m.faith_error.is_some(),
            Some(Slot::Failed(_)) => true,
            _ => false,
        };
        let explain = match (self.show_saliency, self.pair_key()) {
            (true, Some(key)) if !finished(self.maps.get(&key)) => Some(ExplainRequest {
                key,
                query: self.path_of(key.0),
                neighbour: self.path_of(key.1),
            }),
            _ => None,
        };
        if explain != self.last_explain {
            // A pair no longer wanted that had nothing yet: the worker drops it, so forget it.
            if let Some(old) = &self.last_explain {
                if matches!(self.maps.get(&old.key), Some(Slot::Loading)) {
                    self.maps.remove(&old.key);
                }
            }
            if let Some(r) = &explain {
                self.maps.entry(r.key).or_insert(Slot::Loading);
            }
            self.commands.push(Command::Explain(explain.clone()));
            self.last_explain = explain;
        }
    }

    /// Images per second and the estimated time left, while embedding.
    pub fn rate_eta(&self) -> Option<(f64, Duration)> {
        let started = self.progress.started?;
        let secs = started.elapsed().as_secs_f64();
        if self.progress.done == 0 || secs <= 0.0 {
            return None;
        }
        let rate = self.progress.done as f64 / secs;
        let left = self.progress.to_embed.saturating_sub(self.progress.done) as f64 / rate;
        Some((rate, Duration::from_secs_f64(left)))
    }
}
