//! The TUI's state and its one way of changing: [`App::update`] with an [`Action`]. Keys,
//! worker results, the layout and ticks all become actions; the work they start (decoding
//! previews, computing maps, exporting) leaves as [`Command`]s for the event loop to hand to
//! workers, so every transition here is testable without a terminal or a model. The state's
//! parts are in `state`; moving through lists and history in `navigate`; worker results in
//! `messages`; what is asked of the workers in `work`; point mode and region search in
//! `point`, and the pictures they put on the photos in `marks`.

mod marks;
mod messages;
mod navigate;
mod point;
mod state;
mod work;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::{Action, Command, ListRows, PairKey, PairMaps};
use crate::explain::Method;

pub use marks::Marked;
pub use point::{cells_to_pixels, Point, RegionPhase, RegionSearch, Side, GRID};
use state::Sent;
pub use state::{
    Entry, FileState, Files, Focus, History, Neighbours, Overlay, Phase, Pictures, Progress, Slot,
};

pub const DEFAULT_K: usize = 10;
pub const MAX_K: usize = 100;
/// How long a status message stays before the key hints return.
pub const STATUS_SECONDS: u64 = 10;

pub struct Config {
    pub root: PathBuf,
    pub k: usize,
    pub method: Method,
    /// The score that ranks the neighbours.
    pub space: crate::space::Space,
    pub export_dir: PathBuf,
}

pub struct App {
    pub files: Files,
    pub focus: Focus,
    pub history: History,
    pub neighbours: Neighbours,
    pub overlay: Overlay,
    /// Point mode: a cursor cell on one photo of the pair.
    pub point: Point,
    /// A region search whose results replace the neighbour list.
    pub region: Option<RegionSearch>,
    /// Region searches started (the last one's id).
    region_ids: u64,
    pub pictures: Pictures,
    pub progress: Progress,
    pub model_ready: bool,
    /// A message for the status bar, shown for [`STATUS_SECONDS`].
    pub status: Option<String>,
    status_at: Option<Instant>,
    pub help: bool,
    pub quit: bool,
    export_dir: PathBuf,
    /// Where the log is, for error messages.
    pub log_hint: String,
    /// Exports asked for and not yet written.
    pub exports_pending: usize,
    /// `q` was pressed with exports pending: quit once they are written.
    pub finishing_exports: bool,
    /// Work for the event loop to hand out.
    pub commands: Vec<Command>,
    sent: Sent,
    /// Screen rows of the lists, for mouse clicks and paging (from [`Action::Layout`]).
    layout: ListRows,
}

impl App {
    pub fn new(config: Config) -> Self {
        App {
            files: Files::new(config.root, config.space),
            focus: Focus::Files,
            history: History::default(),
            neighbours: Neighbours {
                k: config.k.clamp(1, MAX_K),
                list: Vec::new(),
                cursor: 0,
                dirty: false,
                last_refresh: Instant::now(),
            },
            overlay: Overlay {
                show: false,
                method: config.method,
                signed: false,
            },
            point: Point::new(),
            region: None,
            region_ids: 0,
            pictures: Pictures::new(),
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
            finishing_exports: false,
            commands: Vec::new(),
            sent: Sent::default(),
            layout: ListRows::default(),
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
        if self.files.filter_editing {
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
        if self.point.on && !alt {
            let point = match key.code {
                KeyCode::Char('h') | KeyCode::Left => Some(Action::PointMove { dx: -1, dy: 0 }),
                KeyCode::Char('l') | KeyCode::Right => Some(Action::PointMove { dx: 1, dy: 0 }),
                KeyCode::Char('k') | KeyCode::Up => Some(Action::PointMove { dx: 0, dy: -1 }),
                KeyCode::Char('j') | KeyCode::Down => Some(Action::PointMove { dx: 0, dy: 1 }),
                KeyCode::Char('x') => Some(Action::PointSwap),
                KeyCode::Char('v') => Some(Action::PointSelect),
                KeyCode::Enter => Some(Action::RegionSearch),
                KeyCode::Esc | KeyCode::Backspace => Some(Action::Leave),
                _ => None,
            };
            if point.is_some() {
                return point;
            }
        }
        if self.region.is_some() && matches!(key.code, KeyCode::Esc | KeyCode::Backspace) {
            return Some(Action::Leave);
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
            KeyCode::Char('d') => Action::ToggleSigned,
            KeyCode::Char('e') => Action::Export,
            KeyCode::Char('o') => Action::Open,
            KeyCode::Char('p') => Action::PointToggle,
            KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
            KeyCode::Char('/') => Action::FilterStart,
            KeyCode::Esc if !self.files.filter.is_empty() => Action::FilterCancel,
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
        self.history.query()
    }

    /// The selected neighbour (entry, cosine).
    pub fn neighbour(&self) -> Option<(usize, f32)> {
        self.neighbours.selected()
    }

    /// Where the lists were on screen in the last frame laid out.
    pub fn layout(&self) -> ListRows {
        self.layout
    }

    /// The current pair's key, if there is a pair.
    pub fn pair_key(&self) -> Option<PairKey> {
        Some((self.query()?, self.neighbour()?.0, self.overlay.method))
    }

    pub fn current_maps(&self) -> Option<&Slot<PairMaps>> {
        self.pictures.maps.get(&self.pair_key()?)
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
                if self.history.pos > 0 {
                    self.history.pos -= 1;
                    self.query_changed(true);
                } else {
                    self.say("at the start of the history");
                }
            }
            Action::Forward => {
                if self.history.pos + 1 < self.history.visited.len() {
                    self.history.pos += 1;
                    self.query_changed(true);
                } else {
                    self.say("at the end of the history");
                }
            }
            Action::MoreK => self.set_k(self.neighbours.k + 1),
            Action::LessK => self.set_k(self.neighbours.k.saturating_sub(1)),
            // Point mode draws the correspondence over the photos, not the maps: `s` and `m`
            // leave it for the maps they ask for.
            Action::ToggleSaliency if self.point.on => {
                self.point_toggle();
                self.overlay.show = true;
            }
            Action::ToggleSaliency => self.overlay.show = !self.overlay.show,
            Action::ToggleSigned => {
                self.overlay.signed = !self.overlay.signed;
                self.overlay.show = true;
                self.pictures.draw_signed(self.overlay.signed);
            }
            Action::CycleMethod => {
                if self.point.on {
                    self.point_toggle();
                }
                self.overlay.method = self.overlay.method.next();
                self.overlay.show = true;
            }
            Action::Export => self.export(),
            Action::Open => {
                let entry = match self.focus {
                    Focus::Files => self.query(),
                    Focus::Neighbours => self.neighbour().map(|n| n.0).or(self.query()),
                };
                if let Some(e) = entry {
                    self.commands.push(Command::Open(self.files.path_of(e)));
                }
            }
            Action::Help => self.help = !self.help,
            Action::Quit => {
                if self.help {
                    self.help = false;
                } else if self.exports_pending > 0 && !self.finishing_exports {
                    // An export the user asked for is written before simtui ends.
                    self.finishing_exports = true;
                    self.say(format!(
                        "finishing {} export{}… (q again abandons {})",
                        self.exports_pending,
                        if self.exports_pending == 1 { "" } else { "s" },
                        if self.exports_pending == 1 {
                            "it"
                        } else {
                            "them"
                        }
                    ));
                } else {
                    self.quit = true;
                }
            }
            Action::ForceQuit => self.quit = true,
            Action::FilterStart => {
                self.files.filter_editing = true;
                self.focus = Focus::Files;
            }
            Action::FilterInput(c) => {
                self.files.filter.push(c);
                self.refilter();
            }
            Action::FilterDelete => {
                self.files.filter.pop();
                self.refilter();
            }
            Action::FilterAccept => self.files.filter_editing = false,
            Action::FilterCancel => {
                self.files.filter_editing = false;
                self.files.filter.clear();
                self.refilter();
            }
            Action::Click { column, row } => self.click(column, row),
            Action::PointToggle => self.point_toggle(),
            Action::PointMove { dx, dy } => self.point_move(dx, dy),
            Action::PointSwap => self.point_swap(),
            Action::PointSelect => self.point_select(),
            Action::RegionSearch => self.region_search(),
            Action::Leave => self.leave(),
            Action::Resize => {}
            Action::Layout(rows) => {
                // Where things are on screen changes nothing that is wanted from the workers.
                self.layout = rows;
                return;
            }
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
