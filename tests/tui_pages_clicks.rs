//! Paging (PgUp/PgDn) and mouse clicks in the TUI, at the level of `App::update`: a folder
//! longer than the file list, laid out at a fixed terminal size, so paging moves by what is
//! on screen and a click on a scrolled list picks the row under the pointer.

#[path = "support/tui_app.rs"]
mod tui_app;

use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use simtui::tui::action::Action;
use simtui::tui::app::{App, Focus};
use tui_app::{app_over, basis, cached, key};

const PHOTOS: usize = 20;

/// 20 embedded photos p00.jpg … p19.jpg, each close to its neighbours in name.
fn app() -> App {
    let listing = (0..PHOTOS)
        .map(|i| cached(&format!("p{i:02}.jpg"), basis(&[(i, 1.0), (i + 1, 0.5)])))
        .collect();
    // The lists' places on an 80×16 terminal.
    app_over(listing, Some(Rect::new(0, 0, 80, 16)))
}

fn query_name(app: &App) -> String {
    app.files.entries[app.query().unwrap()].name.clone()
}

/// The number of file rows on screen, checked to be fewer than the photos (so pages differ).
fn file_rows(app: &App) -> usize {
    let rows = app.layout().files.3 as usize;
    assert!(
        (3..PHOTOS).contains(&rows),
        "{rows} file rows at 80×16 for {PHOTOS} photos"
    );
    rows
}

#[test]
fn page_down_and_up_move_by_a_screen_of_files_and_stop_at_the_ends() {
    let mut app = app();
    let page = file_rows(&app) - 1;
    assert_eq!(query_name(&app), "p00.jpg");
    key(&mut app, KeyCode::PageDown);
    assert_eq!(query_name(&app), format!("p{page:02}.jpg"));
    key(&mut app, KeyCode::PageDown);
    assert_eq!(query_name(&app), format!("p{:02}.jpg", 2 * page));
    for _ in 0..PHOTOS {
        key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(query_name(&app), "p19.jpg", "stops at the last photo");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(query_name(&app), format!("p{:02}.jpg", 19 - page));
    for _ in 0..PHOTOS {
        key(&mut app, KeyCode::PageUp);
    }
    assert_eq!(query_name(&app), "p00.jpg", "stops at the first photo");

    // In the neighbours, a page moves the neighbour cursor, not the query.
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Neighbours);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.neighbours.cursor, 2, "the last of k = 3");
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.neighbours.cursor, 0);
    assert_eq!(query_name(&app), "p00.jpg");
}

#[test]
fn a_click_selects_the_row_under_the_pointer_in_a_scrolled_list() {
    let mut app = app();
    let rows = file_rows(&app);
    let (y, x, w, h) = app.layout().files;
    // At the end of the list, the window shows its last `rows` photos.
    key(&mut app, KeyCode::End);
    assert_eq!(query_name(&app), "p19.jpg");
    app.update(Action::Click {
        column: x + 1,
        row: y,
    });
    assert_eq!(
        query_name(&app),
        format!("p{:02}.jpg", PHOTOS - rows),
        "the top row on screen, not the list's first"
    );
    assert_eq!(app.focus, Focus::Files);

    // Back at the top: the third row is the third photo.
    key(&mut app, KeyCode::Home);
    app.update(Action::Click {
        column: x + w - 2,
        row: y + 2,
    });
    assert_eq!(query_name(&app), "p02.jpg");

    // A click on the second neighbour selects it and moves the focus; the query stays.
    let (ny, nx, _, _) = app.layout().neighbours;
    let second = app.neighbours.list[1].0;
    app.update(Action::Click {
        column: nx + 1,
        row: ny + 1,
    });
    assert_eq!(app.focus, Focus::Neighbours);
    assert_eq!(app.neighbour().unwrap().0, second);
    assert_eq!(query_name(&app), "p02.jpg");

    // A click on the file list's bottom border, or on the status bar, changes nothing.
    let before = (query_name(&app), app.neighbours.cursor);
    let inside = |(ry, rx, rw, rh): (u16, u16, u16, u16), c: u16, r: u16| {
        c >= rx && c < rx + rw && r >= ry && r < ry + rh
    };
    for (column, row) in [(x + 1, y + h), (79, 15)] {
        let layout = app.layout();
        assert!(
            !inside(layout.files, column, row) && !inside(layout.neighbours, column, row),
            "({column}, {row}) is outside both lists: {layout:?}"
        );
        app.update(Action::Click { column, row });
    }
    assert_eq!((query_name(&app), app.neighbours.cursor), before);
    assert_eq!(app.focus, Focus::Neighbours);
}
