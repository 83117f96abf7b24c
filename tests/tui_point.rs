//! Point mode and region search in the TUI, at the level of `App::update` and the rendered
//! screen (no model: the correspondence, the region's feature and the refined results arrive
//! as the workers would send them). Keys: `p` point mode, hjkl/arrows move the cursor, a click
//! on a photo puts it there, `x` swaps photos, `v` selects, Enter searches, Esc leaves.

#[path = "support/tui_app.rs"]
mod tui_app;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::KeyCode;
use image::{Rgb, RgbImage};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use simtui::explain::correspondence::Correspondence;
use simtui::index::region::Region;
use simtui::tui::action::{Action, Command, Msg, PairCells, RegionHit, RegionJob};
use simtui::tui::app::{cells_to_pixels, App, Focus, RegionPhase, Side, GRID};
use simtui::tui::blocks::{self, ColorMode};
use simtui::tui::view::{self, Display, Photos};
use tui_app::{app_over, basis, cached, key, keys};

const CELLS: usize = GRID * GRID;
/// The query's upright size in pixels, as the correspondence reports it.
const QUERY_SIZE: (u32, u32) = (700, 350);

/// Five photos: beach (the query) with beach_2 its nearest, and three others.
fn app() -> App {
    let listing = vec![
        cached("beach.jpg", basis(&[(0, 1.0)])),
        cached("beach_2.jpg", basis(&[(0, 1.0), (1, 0.3)])),
        cached("city.jpg", basis(&[(2, 1.0)])),
        cached("city_night.jpg", basis(&[(2, 1.0), (3, 0.5)])),
        cached("forest.jpg", basis(&[(4, 1.0), (0, 0.4)])),
    ];
    app_over(listing, Some(Rect::new(0, 0, 160, 48)))
}

fn name(app: &App, e: usize) -> String {
    app.files.entries[e].name.clone()
}

fn neighbour_names(app: &App) -> Vec<String> {
    app.neighbours.list.iter().map(|n| name(app, n.0)).collect()
}

fn entry(app: &App, n: &str) -> usize {
    app.files.entries.iter().position(|e| e.name == n).unwrap()
}

/// A correspondence whose every query cell i pairs most strongly with neighbour cell
/// `(i + 7) % 49` (one row down), 0.01 each, and weakly (0.001) with the rest.
fn correspondence() -> Correspondence {
    let mut matrix = vec![0.001f32; CELLS * CELLS];
    for a in 0..CELLS {
        matrix[a * CELLS + (a + GRID) % CELLS] = 0.01;
    }
    let score = matrix.iter().sum();
    Correspondence {
        grid: (GRID, GRID),
        matrix,
        score,
    }
}

/// The pair's cells arrive from the worker (answering the wish point mode sent).
fn cells_arrive(app: &mut App) {
    let asked = app.commands.iter().rev().find_map(|c| match c {
        Command::Cells(Some(r)) => Some(r.pair),
        _ => None,
    });
    let pair = (app.query().unwrap(), app.neighbour().unwrap().0);
    assert_eq!(asked, Some(pair), "point mode asks for the pair's cells");
    app.update(Action::Worker(Msg::Cells {
        pair,
        result: Ok(PairCells {
            matrix: Arc::new(correspondence()),
            sizes: [QUERY_SIZE, (400, 400)],
        }),
    }));
}

/// A mid-grey preview of `w`×`h` for `entry`.
fn preview_arrives(app: &mut App, entry: usize, w: u32, h: u32) {
    app.update(Action::Worker(Msg::Preview {
        entry,
        result: Ok(Arc::new(RgbImage::from_pixel(w, h, Rgb([128, 128, 128])))),
    }));
}

#[test]
fn p_enters_point_mode_where_hjkl_move_the_cursor_and_stop_at_the_edges() {
    let mut app = app();
    keys(&mut app, "j");
    assert_eq!(
        name(&app, app.query().unwrap()),
        "beach_2.jpg",
        "j moves the list"
    );
    keys(&mut app, "kp");
    assert!(app.point.on);
    assert_eq!(app.point.cursor, (3, 3), "starts at the centre");
    assert_eq!(app.point.side, Side::Query);
    keys(&mut app, "jj");
    assert_eq!(app.point.cursor, (3, 5));
    assert_eq!(
        name(&app, app.query().unwrap()),
        "beach.jpg",
        "in point mode j moves the cursor, not the list"
    );
    keys(&mut app, "hhhhhhhhhh");
    assert_eq!(app.point.cursor, (0, 5), "clamped at the left edge");
    keys(&mut app, "jjjjjj");
    assert_eq!(app.point.cursor, (0, 6), "clamped at the bottom");
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.point.cursor, (1, 5), "arrows move it too");
    keys(&mut app, "llllllllkkkkkkkk");
    assert_eq!(app.point.cursor, (6, 0), "clamped at the top right");
    key(&mut app, KeyCode::Esc);
    assert!(
        !app.point.on && !app.quit,
        "Esc leaves point mode, and only that"
    );
    keys(&mut app, "j");
    assert_eq!(name(&app, app.query().unwrap()), "beach_2.jpg");
    keys(&mut app, "kpp");
    assert!(!app.point.on, "p toggles");
    // Backspace, as the help says, leaves point mode too, and does not go back in history.
    keys(&mut app, "p");
    key(&mut app, KeyCode::Backspace);
    assert!(!app.point.on, "⌫ leaves point mode");
    assert_eq!(
        name(&app, app.query().unwrap()),
        "beach.jpg",
        "the query stays"
    );
}

#[test]
fn cells_of_a_photo_smaller_than_the_grid_are_still_a_pixel() {
    // 5×5 px: a cell is under one pixel; the region is never empty, never outside.
    let [x0, y0, x1, y1] = cells_to_pixels([0, 0, 1, 1], 5, 5);
    assert!(
        x1 > x0 && y1 > y0 && x1 <= 5 && y1 <= 5,
        "{x0},{y0},{x1},{y1}"
    );
    let [x0, y0, x1, y1] = cells_to_pixels([6, 6, 7, 7], 5, 5);
    assert!(
        x1 > x0 && y1 > y0 && x1 <= 5 && y1 <= 5,
        "{x0},{y0},{x1},{y1}"
    );
    assert_eq!(cells_to_pixels([0, 0, 7, 7], 700, 350), [0, 0, 700, 350]);
}

#[test]
fn a_click_on_a_photo_puts_the_cursor_on_the_cell_under_it() {
    let mut app = app();
    let (q, n) = (app.query().unwrap(), app.neighbour().unwrap().0);
    preview_arrives(&mut app, q, 700, 350);
    preview_arrives(&mut app, n, 400, 400);
    let layout = app.layout();
    // Where the 700×350 preview sits in the query's panel, in cells (as the view draws it).
    let (y, x, w, h) = layout.photos[0];
    let (at, _, _) = blocks::placement_in(700, 350, Rect::new(x, y, w, h), blocks::ASSUMED_CELL);
    // A point at 90 % across and 10 % down is in cell (6, 0); the click enters point mode.
    let click = |fx: f64, fy: f64, r: Rect| Action::Click {
        column: r.x + (fx * r.width as f64) as u16,
        row: r.y + (fy * r.height as f64) as u16,
    };
    app.update(click(0.9, 0.1, at));
    assert!(app.point.on);
    assert_eq!((app.point.side, app.point.cursor), (Side::Query, (6, 0)));
    app.update(click(0.2, 0.8, at));
    assert_eq!(app.point.cursor, (1, 5));
    // Above the wide photo (the panel's blank margin): nothing moves.
    let query_at = at;
    assert!(query_at.y > y, "a 2:1 photo leaves a margin in its panel");
    app.update(Action::Click {
        column: query_at.x + 2,
        row: y,
    });
    assert_eq!((app.point.side, app.point.cursor), (Side::Query, (1, 5)));
    // A click on the neighbour's photo puts the cursor there.
    let (y, x, w, h) = layout.photos[1];
    let (at, _, _) = blocks::placement_in(400, 400, Rect::new(x, y, w, h), blocks::ASSUMED_CELL);
    app.update(click(0.5, 0.5, at));
    assert_eq!(
        (app.point.side, app.point.cursor),
        (Side::Neighbour, (3, 3))
    );
    // Under the help popup a click on a photo is no point on it.
    key(&mut app, KeyCode::Esc);
    assert!(!app.point.on);
    keys(&mut app, "?");
    app.update(click(0.5, 0.5, at));
    assert!(
        !app.point.on,
        "a click under the help popup does not enter point mode"
    );
}

#[test]
fn x_moves_the_cursor_to_the_cell_it_matches_best_on_the_other_photo() {
    let mut app = app();
    keys(&mut app, "p");
    cells_arrive(&mut app);
    keys(&mut app, "x");
    // Query cell (3, 3) pairs best with the neighbour's cell one row down.
    assert_eq!(
        (app.point.side, app.point.cursor),
        (Side::Neighbour, (3, 4))
    );
    keys(&mut app, "x");
    // And the neighbour's (3, 4) is matched best by the query's (3, 3).
    assert_eq!((app.point.side, app.point.cursor), (Side::Query, (3, 3)));
}

#[test]
fn the_neighbour_shows_the_cursor_cells_row_and_the_query_its_box() {
    let mut app = app();
    let (q, n) = (app.query().unwrap(), app.neighbour().unwrap().0);
    preview_arrives(&mut app, q, 700, 350);
    preview_arrives(&mut app, n, 490, 490);
    keys(&mut app, "p");
    cells_arrive(&mut app);
    let marked = app.pictures.marked.clone().expect("point mode draws");
    // The query: the cursor cell (3, 3) = pixels 300..400 × 150..200 keeps its brightness,
    // the rest is dimmed.
    let query = marked.query.expect("the query is marked");
    assert_eq!(query.get_pixel(350, 175).0, [128, 128, 128]);
    assert!(
        query.get_pixel(50, 50).0[0] < 60,
        "outside the cell is dimmed"
    );
    // The neighbour: the row's strongest cell (3, 4) = pixels 210..280 × 280..350 is drawn
    // brighter than a cell far from it.
    let nb = marked.neighbour.expect("the neighbour shows the row");
    let lum = |p: [u8; 3]| p.iter().map(|&v| v as u32).sum::<u32>();
    assert!(
        lum(nb.get_pixel(245, 315).0) > lum(nb.get_pixel(35, 35).0) + 100,
        "the matching cell glows"
    );
    // Moving the cursor redraws at once, with no new wish for the workers.
    app.commands.clear();
    keys(&mut app, "k");
    let moved = app.pictures.marked.clone().unwrap().neighbour.unwrap();
    assert!(lum(moved.get_pixel(245, 245).0) > lum(moved.get_pixel(245, 315).0) + 100);
    assert!(
        !app.commands
            .iter()
            .any(|c| matches!(c, Command::Cells(_) | Command::Region(_))),
        "{:?}",
        app.commands
    );
    // The panel under the photos says what is shown.
    let screen = render(&mut app, 160, 48);
    assert!(screen.contains("Where exactly · point"), "{screen}");
    assert!(
        screen.contains("point · query cell (3,2): where in the neighbour its share comes from"),
        "{screen}"
    );
    // 49 pairs: one at 0.01, 48 at 0.001 → 0.058 of a score of 49 × 0.058 = 2.842 (2 %).
    assert!(
        screen.contains("share +0.058 of the score 2.842 (2 %)"),
        "{screen}"
    );
    assert!(
        screen.contains("best pair: neighbour (3,3) +0.010"),
        "{screen}"
    );
    assert!(
        screen.contains("hjkl move"),
        "the status line has the mode's keys"
    );
}

#[test]
fn v_and_movement_select_a_rectangle_and_enter_searches_its_pixels() {
    let mut app = app();
    let query = app.query().unwrap();
    keys(&mut app, "p");
    cells_arrive(&mut app);
    keys(&mut app, "v");
    keys(&mut app, "hhk");
    assert_eq!(app.point.selection(), [1, 2, 4, 4]);
    keys(&mut app, "lllll");
    assert_eq!(app.point.selection(), [3, 2, 7, 4], "the anchor stays put");
    keys(&mut app, "hhhhh");
    app.commands.clear();
    key(&mut app, KeyCode::Enter);
    // Cells x 1..4, y 2..4 of a 700×350 photo: 100 px a column, 50 px a row.
    let region = Region {
        x0: 100,
        y0: 100,
        x1: 400,
        y1: 200,
    };
    assert!(
        app.commands
            .contains(&Command::Region(Some(RegionJob::Embed {
                id: 1,
                query: PathBuf::from("/photos/beach.jpg"),
                region,
            }))),
        "{:?}",
        app.commands
    );
    assert!(!app.point.on, "the search leaves point mode");
    assert_eq!(app.focus, Focus::Neighbours, "so j/k browse the results");
    let r = app.region.as_ref().expect("a region search");
    assert_eq!(
        (r.query, r.region, r.phase.clone()),
        (query, region, RegionPhase::Embedding)
    );
    let screen = render(&mut app, 160, 48);
    assert!(
        screen.contains("region (100,100)-(400,200) of beach.jpg"),
        "{screen}"
    );
    assert!(
        screen.contains("searching the folder for the region"),
        "{screen}"
    );
}

#[test]
fn region_results_replace_the_neighbours_are_refined_and_esc_returns() {
    let mut app = app();
    let before = neighbour_names(&app);
    assert_eq!(before[0], "beach_2.jpg");
    keys(&mut app, "p");
    cells_arrive(&mut app);
    key(&mut app, KeyCode::Enter);
    // The region looks like the city: the first pass ranks the folder by it.
    app.commands.clear();
    app.update(Action::Worker(Msg::RegionEmbedded {
        id: 1,
        result: Ok(basis(&[(2, 1.0), (3, 0.2), (4, 0.1)])),
    }));
    assert_eq!(
        neighbour_names(&app),
        ["city.jpg", "city_night.jpg", "forest.jpg"],
        "the region's first pass replaces the list (the query itself excluded)"
    );
    let refine = app.commands.iter().find_map(|c| match c {
        Command::Region(Some(RegionJob::Refine { id, candidates, .. })) => {
            Some((*id, candidates.clone()))
        }
        _ => None,
    });
    let (id, candidates) = refine.expect("the candidates go to refinement");
    assert_eq!(id, 1);
    assert_eq!(
        candidates.len(),
        4,
        "every other embedded photo, first-pass order"
    );
    assert!(matches!(
        app.region.as_ref().unwrap().phase,
        RegionPhase::Refining
    ));
    let screen = render(&mut app, 160, 48);
    assert!(screen.contains("refining"), "{screen}");
    // A stale answer (an older search) changes nothing.
    app.update(Action::Worker(Msg::RegionRefined {
        id: 0,
        result: Ok(Vec::new()),
    }));
    assert_eq!(neighbour_names(&app)[0], "city.jpg");
    // Refined: the forest holds the region best, found at a box.
    let forest = entry(&app, "forest.jpg");
    let city = entry(&app, "city.jpg");
    app.update(Action::Worker(Msg::RegionRefined {
        id: 1,
        result: Ok(vec![
            RegionHit {
                entry: forest,
                score: 0.9,
                first_pass: 0.1,
                found: Some(([10, 20, 110, 120], (400, 300))),
            },
            RegionHit {
                entry: city,
                score: 0.8,
                first_pass: 0.95,
                found: Some(([0, 0, 400, 300], (400, 300))),
            },
        ]),
    }));
    assert_eq!(neighbour_names(&app)[..2], ["forest.jpg", "city.jpg"]);
    assert!(matches!(
        app.region.as_ref().unwrap().phase,
        RegionPhase::Refined
    ));
    // The photo on screen stays selected where it moved to.
    assert_eq!(app.neighbour().unwrap().0, city);
    let screen = render(&mut app, 160, 48);
    assert!(screen.contains("#2: found at 0,0-400,300"), "{screen}");
    keys(&mut app, "k");
    let screen = render(&mut app, 160, 48);
    assert!(screen.contains("#1: found at 10,20-110,120"), "{screen}");
    assert!(screen.contains(" best window "), "{screen}");
    // The found box is drawn over the neighbour's photo: its inside bright, outside dimmed.
    preview_arrives(&mut app, forest, 400, 300);
    let nb = app
        .pictures
        .marked
        .clone()
        .unwrap()
        .neighbour
        .expect("the box is drawn");
    assert_eq!(nb.get_pixel(60, 70).0, [128, 128, 128]);
    assert!(nb.get_pixel(300, 250).0[0] < 60);
    // Esc: back to the neighbours, without quitting.
    key(&mut app, KeyCode::Esc);
    assert!(app.region.is_none() && !app.quit);
    assert_eq!(neighbour_names(&app), before);
    // Backspace leaves region results too (and goes nowhere in the history).
    keys(&mut app, "p");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Backspace);
    assert!(app.region.is_none());
    assert_eq!(neighbour_names(&app), before);
    assert!(
        app.commands.last() == Some(&Command::Region(None)),
        "leaving a search in progress cancels it: {:?}",
        app.commands.last()
    );
}

#[test]
fn enter_before_the_cells_arrive_says_to_wait_and_searches_nothing() {
    let mut app = app();
    keys(&mut app, "p");
    key(&mut app, KeyCode::Enter);
    assert!(app.region.is_none());
    assert!(!app.commands.iter().any(|c| matches!(c, Command::Region(_))));
    assert!(app
        .status
        .as_deref()
        .unwrap_or("")
        .contains("still being computed"));
    // Selections belong to the query.
    cells_arrive(&mut app);
    keys(&mut app, "xv");
    assert!(app.point.anchor.is_none());
    assert!(app
        .status
        .as_deref()
        .unwrap_or("")
        .contains("selected on the query"));
}

#[test]
fn point_mode_computes_no_maps_and_s_leaves_it_for_them() {
    let mut app = app();
    keys(&mut app, "s");
    let asked = |app: &App| {
        app.commands
            .iter()
            .rev()
            .find_map(|c| match c {
                Command::Explain(r) => Some(r.is_some()),
                _ => None,
            })
            .unwrap_or(false)
    };
    assert!(asked(&app), "s asks for the pair's maps");
    keys(&mut app, "p");
    assert!(!asked(&app), "point mode withdraws the maps' request");
    keys(&mut app, "d");
    assert!(
        app.point.on && !asked(&app),
        "d recolours the point view, asks no maps"
    );
    keys(&mut app, "s");
    assert!(
        !app.point.on && app.overlay.show,
        "s leaves point mode for the maps"
    );
    assert!(asked(&app));
    keys(&mut app, "pm");
    assert!(!app.point.on && app.overlay.show && asked(&app), "m too");
}

#[test]
fn enter_after_the_cells_failed_says_why_instead_of_waiting() {
    let mut app = app();
    keys(&mut app, "p");
    let pair = (app.query().unwrap(), app.neighbour().unwrap().0);
    app.update(Action::Worker(Msg::Cells {
        pair,
        result: Err("beach_2.jpg: cannot decode".into()),
    }));
    key(&mut app, KeyCode::Enter);
    assert!(app.region.is_none());
    let status = app.status.as_deref().unwrap_or("");
    assert!(
        status.contains("cannot search") && status.contains("cannot decode"),
        "{status}"
    );
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.update(Action::Layout(view::list_rows(Rect::new(0, 0, w, h))));
    let display = Display {
        colors: ColorMode::TrueColor,
        cell: None,
        photos: Photos::HalfBlocks,
    };
    terminal.draw(|f| view::view(app, display, f)).unwrap();
    let buf = terminal.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}
