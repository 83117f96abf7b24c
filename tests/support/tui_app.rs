//! The TUI's `App` without a terminal or a model, shared by the `update`-level tests
//! (tests/tui.rs, tests/tui_point.rs, tests/tui_pages_clicks.rs): a folder listing arrives as
//! the indexer would send it, and keys go through the app's own key table.
#![allow(dead_code)]

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use simtui::explain::Method;
use simtui::index::{Event, Listed, ListedState};
use simtui::space::Space;
use simtui::tui::action::{Action, Msg};
use simtui::tui::app::{App, Config};
use simtui::tui::view;

pub const DIM: usize = 1280;

/// An embedding with the given components set.
pub fn basis(parts: &[(usize, f32)]) -> Vec<f32> {
    let mut v = vec![0f32; DIM];
    for &(i, x) in parts {
        v[i] = x;
    }
    v
}

/// A photo already in the index.
pub fn cached(rel: &str, embedding: Vec<f32>) -> Listed {
    Listed {
        rel: PathBuf::from(rel),
        state: ListedState::Cached(embedding),
    }
}

/// The app over `/photos` holding `listing`, k = 3, Grad-CAM first, in the plain space (so
/// the synthetic embeddings' cosines are the scores shown), the model ready and the index
/// finished; with `layout`, the lists' places on a terminal of that size, as the event loop
/// reports them.
pub fn app_over(listing: Vec<Listed>, layout: Option<Rect>) -> App {
    let mut app = App::new(Config {
        root: PathBuf::from("/photos"),
        k: 3,
        method: Method::Gradcam,
        space: Space::plain(),
        export_dir: PathBuf::from("/exports"),
    });
    app.update(Action::Worker(Msg::ModelReady));
    app.update(Action::Worker(Msg::Index(Event::Listed(listing))));
    app.update(Action::Worker(Msg::IndexFinished(Ok(()))));
    if let Some(area) = layout {
        app.update(Action::Layout(view::list_rows(area)));
    }
    app
}

pub fn key(app: &mut App, code: KeyCode) {
    key_mod(app, code, KeyModifiers::NONE)
}

pub fn key_mod(app: &mut App, code: KeyCode, m: KeyModifiers) {
    if let Some(a) = app.key_action(KeyEvent::new(code, m)) {
        app.update(a);
    }
}

/// Each character of `s` as a key.
pub fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}
