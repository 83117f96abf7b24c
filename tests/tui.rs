//! The TUI without a terminal: `App::update` for every key, and the rendered screen (text and
//! colours) at 80×24 and 160×48 through ratatui's TestBackend. No model is loaded: the
//! folder listing, embeddings, previews and maps arrive as the workers would send them.

#[path = "support/tui_app.rs"]
mod tui_app;

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyModifiers};
use image::{Rgb, RgbImage};
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;

use simtui::explain::{Method, SaliencyMap};
use simtui::index::{Event, Listed, ListedState};
use simtui::render::{overlay, Scale};
use simtui::space::Space;
use simtui::tui::action::{Action, Command, Faith, Msg, PairMaps};
use simtui::tui::app::{App, Config, FileState, Focus, Slot};
use simtui::tui::blocks::ColorMode;
use simtui::tui::view::{self, Display, Photos};
use tui_app::{app_over, basis, cached, key, key_mod, keys};

const EVIL: &str = "evil\x1b]0;pwned\x07\x1b[2J.jpg";

/// A folder of 8: two close pairs, a loner, a crafted name, one queued and one broken file.
fn listing() -> Vec<Listed> {
    vec![
        cached("beach.jpg", basis(&[(0, 1.0)])),
        cached("beach_2.jpg", basis(&[(0, 1.0), (1, 0.3)])),
        cached("city.jpg", basis(&[(2, 1.0)])),
        cached("city_night.jpg", basis(&[(2, 1.0), (3, 0.5)])),
        cached("forest.jpg", basis(&[(4, 1.0), (0, 0.4)])),
        cached(EVIL, basis(&[(4, 1.0), (2, 0.2)])),
        Listed {
            rel: PathBuf::from("new.jpg"),
            state: ListedState::Pending,
        },
        Listed {
            rel: PathBuf::from("broken.jpg"),
            state: ListedState::Failed("truncated JPEG (unexpected end of file)".into()),
        },
    ]
}

fn app() -> App {
    app_over(listing(), None)
}

fn name(app: &App, e: usize) -> &str {
    &app.files.entries[e].name
}

fn query_name(app: &App) -> String {
    name(app, app.query().unwrap()).to_string()
}

fn neighbour_names(app: &App) -> Vec<String> {
    app.neighbours
        .list
        .iter()
        .map(|(e, _)| name(app, *e).to_string())
        .collect()
}

#[test]
fn listing_selects_the_first_photo_with_its_neighbours() {
    let app = app();
    assert_eq!(app.files.entries.len(), 8);
    assert_eq!(query_name(&app), "beach.jpg");
    assert_eq!(neighbour_names(&app)[0], "beach_2.jpg");
    assert_eq!(app.neighbours.list.len(), 3, "k = 3");
    assert!(
        app.neighbours.list.windows(2).all(|w| w[0].1 >= w[1].1),
        "best first"
    );
    assert!(matches!(app.files.entries[6].state, FileState::Pending));
    assert!(matches!(app.files.entries[7].state, FileState::Failed(_)));
}

#[test]
fn j_k_g_and_shift_g_move_through_the_files_and_change_the_query() {
    let mut app = app();
    keys(&mut app, "jj");
    assert_eq!(query_name(&app), "city.jpg");
    assert_eq!(neighbour_names(&app)[0], "city_night.jpg");
    keys(&mut app, "k");
    assert_eq!(query_name(&app), "beach_2.jpg");
    key(&mut app, KeyCode::Down);
    assert_eq!(query_name(&app), "city.jpg");
    keys(&mut app, "G");
    assert_eq!(query_name(&app), "broken.jpg");
    assert!(
        app.neighbours.list.is_empty(),
        "a broken file has no neighbours"
    );
    keys(&mut app, "g");
    assert_eq!(query_name(&app), "beach.jpg");
    keys(&mut app, "k");
    assert_eq!(query_name(&app), "beach.jpg", "stays at the top");
    // Moving in the list replaces the current history entry instead of adding one.
    keys(&mut app, "jjj");
    assert_eq!(app.history.visited.len(), 1);
}

#[test]
fn tab_enter_follow_backspace_and_forward_work_like_a_browser() {
    let mut app = app();
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Neighbours);
    keys(&mut app, "j");
    assert_eq!(app.neighbours.cursor, 1);
    assert_eq!(
        query_name(&app),
        "beach.jpg",
        "j in the neighbour list keeps the query"
    );
    let second = neighbour_names(&app)[1].clone();
    key(&mut app, KeyCode::Enter);
    assert_eq!(query_name(&app), second, "Enter follows the neighbour");
    assert_eq!(app.neighbours.cursor, 0);
    assert_eq!(app.history.visited.len(), 2);
    // The file list shows the new query.
    assert_eq!(app.files.visible[app.files.cursor], app.query().unwrap());
    key(&mut app, KeyCode::Enter);
    let third = query_name(&app);
    assert_eq!(app.history.visited.len(), 3);

    key(&mut app, KeyCode::Backspace);
    assert_eq!(query_name(&app), second);
    keys(&mut app, "H");
    assert_eq!(query_name(&app), "beach.jpg");
    key(&mut app, KeyCode::Backspace);
    assert_eq!(query_name(&app), "beach.jpg", "nothing before the start");
    assert!(app
        .status
        .as_deref()
        .unwrap()
        .contains("start of the history"));
    keys(&mut app, "L");
    assert_eq!(query_name(&app), second);
    key_mod(&mut app, KeyCode::Right, KeyModifiers::ALT);
    assert_eq!(query_name(&app), third);
    key_mod(&mut app, KeyCode::Left, KeyModifiers::ALT);
    assert_eq!(query_name(&app), second);

    // Following from the middle of the history drops the forward part.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.history.visited.len(), 3);
    assert_eq!(app.history.pos, 2);

    key(&mut app, KeyCode::Tab);
    assert_eq!(app.focus, Focus::Files);
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.focus,
        Focus::Neighbours,
        "Enter on the file list goes to its neighbours"
    );
}

#[test]
fn plus_and_minus_change_k() {
    let mut app = app();
    keys(&mut app, "+");
    assert_eq!(app.neighbours.k, 4);
    assert_eq!(app.neighbours.list.len(), 4);
    keys(&mut app, "---");
    assert_eq!(app.neighbours.k, 1);
    assert_eq!(app.neighbours.list.len(), 1);
    keys(&mut app, "-");
    assert_eq!(app.neighbours.k, 1, "at least one neighbour");
    keys(&mut app, "=");
    assert_eq!(app.neighbours.k, 2);
}

#[test]
fn slash_filters_the_file_list() {
    let mut app = app();
    keys(&mut app, "/city");
    assert!(app.files.filter_editing);
    let names: Vec<&str> = app.files.visible.iter().map(|&e| name(&app, e)).collect();
    assert_eq!(names, ["city.jpg", "city_night.jpg"]);
    // The query (beach.jpg) was filtered out: the first match takes its place.
    assert_eq!(query_name(&app), "city.jpg");
    assert_eq!(app.files.cursor, 0);
    // While typing, letters are text, not commands: "q" did not quit, "j" did not move.
    keys(&mut app, "q");
    assert!(!app.quit);
    assert!(app.files.visible.is_empty());
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.files.visible.len(), 2);
    key(&mut app, KeyCode::Enter);
    assert!(!app.files.filter_editing);
    keys(&mut app, "j");
    assert_eq!(query_name(&app), "city_night.jpg");
    // Esc clears the filter; the selection stays.
    key(&mut app, KeyCode::Esc);
    assert!(!app.quit, "first Esc clears the filter");
    assert_eq!(app.files.visible.len(), 8);
    assert_eq!(query_name(&app), "city_night.jpg");
    assert_eq!(app.files.visible[app.files.cursor], app.query().unwrap());
    // Filters match case-insensitively, anywhere in the path.
    keys(&mut app, "/NIGHT");
    assert_eq!(app.files.visible.len(), 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.files.visible.len(), 8);
}

fn explain_commands(app: &mut App) -> Vec<Option<(usize, usize, Method)>> {
    app.commands
        .drain(..)
        .filter_map(|c| match c {
            Command::Explain(r) => Some(r.map(|r| r.key)),
            _ => None,
        })
        .collect()
}

#[test]
fn s_asks_for_the_pair_maps_and_switching_neighbours_cancels_them() {
    let mut app = app();
    app.commands.clear();
    keys(&mut app, "s");
    assert!(app.overlay.show);
    let q = app.query().unwrap();
    let n0 = app.neighbours.list[0].0;
    assert_eq!(explain_commands(&mut app), [Some((q, n0, Method::Gradcam))]);
    assert!(matches!(app.current_maps(), Some(Slot::Loading)));

    key(&mut app, KeyCode::Tab);
    keys(&mut app, "j");
    let n1 = app.neighbours.list[1].0;
    // The new pair replaces the old wish; the old pair's placeholder is gone.
    assert_eq!(explain_commands(&mut app), [Some((q, n1, Method::Gradcam))]);
    assert!(!app.pictures.maps.contains_key(&(q, n0, Method::Gradcam)));

    // m cycles the method and asks again.
    keys(&mut app, "m");
    assert_eq!(app.overlay.method, Method::Gradcam.next());
    assert_eq!(
        explain_commands(&mut app),
        [Some((q, n1, app.overlay.method))]
    );

    // s hides the overlay and withdraws the wish.
    keys(&mut app, "s");
    assert!(!app.overlay.show);
    assert_eq!(explain_commands(&mut app), [None]);
}

#[test]
fn maps_then_faithfulness_arrive_and_the_wish_ends_only_after_both() {
    let mut app = app();
    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    app.commands.clear();
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(pair_maps(None)),
    }));
    assert!(
        explain_commands(&mut app).is_empty(),
        "the maps alone do not end the wish: faithfulness is still being measured"
    );
    app.update(Action::Worker(Msg::Faith {
        key,
        faith: faith(),
    }));
    assert_eq!(explain_commands(&mut app), [None]);
    match app.current_maps() {
        Some(Slot::Ready(m)) => assert_eq!(m.faith, Some(faith())),
        other => panic!("maps not ready: {other:?}"),
    }
}

#[test]
fn the_instant_map_shows_first_and_the_asked_for_method_replaces_it() {
    let mut app = app();
    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    app.commands.clear();
    // The worker's first answer: the cells' Shapley map, marked as being refined.
    let mut instant = pair_maps(None);
    instant.shown = Method::Shapley;
    instant.refining = true;
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(instant),
    }));
    let t = render(&mut app, 160, 48);
    let screen = text(&t);
    assert!(
        screen.contains("overlay on · shapley") && screen.contains("refining to gradcam"),
        "{screen}"
    );
    assert!(explain_commands(&mut app).is_empty(), "the wish stays open");
    // The method's own maps replace it.
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(pair_maps(Some(faith()))),
    }));
    let screen = text(&render(&mut app, 160, 48));
    assert!(!screen.contains("refining"), "{screen}");
    assert!(screen.contains("overlay on · gradcam"), "{screen}");
    assert_eq!(explain_commands(&mut app), [None]);
}

#[test]
fn d_swaps_to_both_signs_and_back_in_every_drawn_pair() {
    let mut app = app();
    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    let maps = pair_maps(Some(faith()));
    let (positive, signed) = (maps.query.clone(), maps.other[0].clone());
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(maps),
    }));
    let on_screen = |app: &App| match app.current_maps() {
        Some(Slot::Ready(m)) => m.query.clone(),
        other => panic!("maps not ready: {other:?}"),
    };
    assert!(Arc::ptr_eq(&on_screen(&app), &positive));
    keys(&mut app, "d");
    assert!(app.overlay.signed);
    assert!(Arc::ptr_eq(&on_screen(&app), &signed));
    assert!(text(&render(&mut app, 160, 48)).contains("against"));
    // Maps arriving while signed is on come in the signed drawing too.
    let mut fresh = pair_maps(None);
    fresh.other[0] = signed.clone();
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(fresh),
    }));
    assert!(Arc::ptr_eq(&on_screen(&app), &signed));
    keys(&mut app, "d");
    assert!(!app.overlay.signed);
    assert!(!Arc::ptr_eq(&on_screen(&app), &signed));
}

#[test]
fn q_finishes_a_pending_export_first_and_a_second_q_abandons_it() {
    let mut app = app();
    keys(&mut app, "e");
    assert_eq!(app.exports_pending, 1);
    keys(&mut app, "q");
    assert!(!app.quit, "the export the user asked for is written first");
    assert_eq!(
        app.status.as_deref(),
        Some("finishing 1 export… (q again abandons it)")
    );
    app.update(Action::Worker(Msg::Exported(Ok(PathBuf::from(
        "/exports/x.png",
    )))));
    assert!(app.quit, "quits once the export is written");

    let mut again = self::app();
    keys(&mut again, "e");
    keys(&mut again, "q");
    assert!(!again.quit);
    keys(&mut again, "q");
    assert!(again.quit, "a second q abandons it");
    assert_eq!(again.exports_pending, 1, "and the exit says so (tui::run)");
}

#[test]
fn e_exports_the_current_pair_and_o_opens_the_focused_photo() {
    let mut app = app();
    app.commands.clear();
    keys(&mut app, "e");
    let q = app.query().unwrap();
    let n = app.neighbours.list[0].0;
    let exports: Vec<Command> = app
        .commands
        .drain(..)
        .filter(|c| matches!(c, Command::Export(_)))
        .collect();
    match exports.as_slice() {
        [Command::Export(r)] => {
            assert_eq!(r.key, (q, n, Method::Gradcam));
            assert_eq!(r.query, PathBuf::from("/photos/beach.jpg"));
            assert_eq!(r.neighbour, PathBuf::from("/photos/beach_2.jpg"));
        }
        other => panic!("expected one export, got {other:?}"),
    }
    assert!(app.status.as_deref().unwrap().contains("/exports"));
    app.commands.clear();
    app.update(Action::Worker(Msg::Exported(Ok(PathBuf::from(
        "/exports/x.png",
    )))));
    assert_eq!(app.status.as_deref(), Some("exported /exports/x.png"));

    let opened = |app: &mut App| -> Vec<Command> {
        app.commands
            .drain(..)
            .filter(|c| matches!(c, Command::Open(_)))
            .collect()
    };
    keys(&mut app, "o");
    assert_eq!(
        opened(&mut app),
        [Command::Open(PathBuf::from("/photos/beach.jpg"))]
    );
    key(&mut app, KeyCode::Tab);
    keys(&mut app, "o");
    assert_eq!(
        opened(&mut app),
        [Command::Open(PathBuf::from("/photos/beach_2.jpg"))]
    );

    // Nothing to export without a neighbour.
    key(&mut app, KeyCode::Tab);
    keys(&mut app, "G");
    app.commands.clear();
    keys(&mut app, "e");
    assert!(!app.commands.iter().any(|c| matches!(c, Command::Export(_))));
    assert!(app
        .status
        .as_deref()
        .unwrap()
        .starts_with("nothing to export"));
}

#[test]
fn help_quit_and_ctrl_c() {
    let mut app = app();
    keys(&mut app, "?");
    assert!(app.help);
    key(&mut app, KeyCode::Esc);
    assert!(!app.help && !app.quit, "Esc closes the help first");
    keys(&mut app, "q");
    assert!(app.quit);

    let mut app = self::app();
    key(&mut app, KeyCode::Esc);
    assert!(app.quit);

    let mut app = self::app();
    key_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit);

    // Ctrl-C quits even from the help or while typing a filter.
    let mut app = self::app();
    keys(&mut app, "?");
    key_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit);
    let mut app = self::app();
    keys(&mut app, "/be");
    key_mod(&mut app, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(app.quit);
}

#[test]
fn previews_are_asked_for_until_they_arrive() {
    let mut app = app();
    let first = app.query().unwrap();
    let wanted_first = |app: &App| {
        app.commands.iter().any(
            |c| matches!(c, Command::Previews(list) if list.first().map(|p| p.0) == Some(first)),
        )
    };
    assert!(wanted_first(&app), "the query's preview is asked for first");
    // Three quick moves: the wish list moves on before the first preview arrives...
    keys(&mut app, "jjj");
    app.commands.clear();
    // ...and coming back asks for it again.
    keys(&mut app, "g");
    assert!(wanted_first(&app));
    // Once it has arrived it is not asked for any more.
    app.update(Action::Worker(Msg::Preview {
        entry: first,
        result: Ok(Arc::new(photo(8, 8, 0))),
    }));
    app.commands.clear();
    keys(&mut app, "jg");
    assert!(!app.commands.iter().any(|c| matches!(
        c,
        Command::Previews(list) if list.iter().any(|p| p.0 == first)
    )));
}

#[test]
fn faithfulness_failure_is_shown_and_ends_the_wish() {
    let mut app = app();
    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(pair_maps(None)),
    }));
    app.commands.clear();
    app.update(Action::Worker(Msg::FaithFailed {
        key,
        reason: "out of memory".into(),
    }));
    assert_eq!(explain_commands(&mut app), [None]);
    let t = render(&mut app, 160, 48);
    assert!(text(&t).contains("faithfulness not measured: out of memory"));
}

#[test]
fn a_remembered_failure_is_counted_once() {
    let mut app = app();
    assert_eq!(app.files.failed(), 1);
    app.update(Action::Worker(Msg::Index(Event::Skipped {
        path: PathBuf::from("/photos/broken.jpg"),
        reason: "truncated JPEG (unexpected end of file)".into(),
    })));
    assert_eq!(app.files.failed(), 1);
}

#[test]
fn a_photo_embedded_in_the_background_joins_the_neighbours() {
    let mut app = app();
    keys(&mut app, "G");
    keys(&mut app, "k");
    assert_eq!(query_name(&app), "new.jpg");
    assert!(app.neighbours.list.is_empty());
    app.update(Action::Worker(Msg::Index(Event::Embedded {
        rel: PathBuf::from("new.jpg"),
        embedding: basis(&[(2, 1.0), (3, 0.45)]),
    })));
    // Neighbours refresh at most every 200 ms while embeddings stream in.
    std::thread::sleep(std::time::Duration::from_millis(210));
    app.update(Action::Tick);
    assert!(matches!(app.files.entries[6].state, FileState::Embedded(_)));
    assert_eq!(neighbour_names(&app)[0], "city_night.jpg");
    assert_eq!(app.files.embedded(), 7);
    // A broken file reported while indexing is marked with its reason.
    app.update(Action::Worker(Msg::Index(Event::Skipped {
        path: PathBuf::from("/photos/city.jpg"),
        reason: "cannot decode".into(),
    })));
    assert_eq!(
        app.files.entries[2].state,
        FileState::Failed("cannot decode".into())
    );
}

#[test]
fn mouse_click_selects_a_file() {
    let mut app = app();
    render(&mut app, 80, 24);
    let (y, x, _, _) = app.layout().files;
    app.update(Action::Click {
        column: x + 2,
        row: y + 3,
    });
    assert_eq!(query_name(&app), "city_night.jpg");
}

// ---- rendering -------------------------------------------------------------------------

fn photo(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            seed.wrapping_mul(40).wrapping_add(60),
        ])
    })
}

/// A map that is hot in the top-left quarter only.
fn hot_top_left() -> SaliencyMap {
    let (w, h) = (7, 7);
    let values = (0..w * h)
        .map(|i| if i % w < 3 && i / w < 3 { 1.0 } else { 0.0 })
        .collect();
    SaliencyMap {
        width: w,
        height: h,
        values,
    }
}

fn faith() -> [Faith; 2] {
    [
        Faith {
            deletion_auc: 0.41,
            insertion_auc: 0.88,
            random_deletion_auc: 0.76,
            random_insertion_auc: 0.80,
        },
        Faith {
            deletion_auc: 0.83,
            insertion_auc: 0.71,
            random_deletion_auc: 0.80,
            random_insertion_auc: 0.79,
        },
    ]
}

fn pair_maps(faith: Option<[Faith; 2]>) -> PairMaps {
    let map = hot_top_left();
    let scale = Scale::shared(&[&map, &map]);
    let signed = Scale::signed_for_pair(&map, &map);
    PairMaps {
        score: 0.912,
        query: Arc::new(overlay(&photo(160, 120, 1), &map, &scale)),
        neighbour: Arc::new(overlay(&photo(120, 160, 2), &map, &scale)),
        other: [
            Arc::new(overlay(&photo(160, 120, 1), &map, &signed)),
            Arc::new(overlay(&photo(120, 160, 2), &map, &signed)),
        ],
        signed: false,
        shown: Method::Gradcam,
        refining: false,
        millis: 1234.0,
        faith,
        faith_error: None,
    }
}

/// The app after the user turned the overlay on and everything has arrived.
fn shown_app() -> App {
    let mut app = app();
    let q = app.query().unwrap();
    let n = app.neighbours.list[0].0;
    app.update(Action::Worker(Msg::Preview {
        entry: q,
        result: Ok(Arc::new(photo(160, 120, 1))),
    }));
    app.update(Action::Worker(Msg::Preview {
        entry: n,
        result: Ok(Arc::new(photo(120, 160, 2))),
    }));
    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(pair_maps(Some(faith()))),
    }));
    app
}

fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.update(Action::Layout(view::list_rows(ratatui::layout::Rect::new(
        0, 0, w, h,
    ))));
    let display = Display {
        colors: ColorMode::TrueColor,
        cell: None,
        photos: Photos::HalfBlocks,
    };
    terminal.draw(|f| view::view(app, display, f)).unwrap();
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn hex(c: Color) -> String {
    match c {
        Color::Rgb(r, g, b) => format!("{r:02x}{g:02x}{b:02x}"),
        Color::Reset => "------".into(),
        other => format!("{other:?}"),
    }
}

/// The colours of the query photo's cells, one row per line: "fg/bg" per cell ("▄fg/bg"
/// where the fg is the lower half).
fn image_colours(t: &Terminal<TestBackend>, w: u16, h: u16) -> String {
    let a = view::areas(ratatui::layout::Rect::new(0, 0, w, h)).unwrap();
    let cells = a.image_cells()[0];
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in cells.top()..cells.bottom() {
        let row: Vec<String> = (cells.left()..cells.right())
            .filter(|&x| matches!(buf[(x, y)].symbol(), "▀" | "▄"))
            .map(|x| {
                // A photo centred to the half row starts in the lower half ("▄") of a cell.
                let lower = if buf[(x, y)].symbol() == "▄" {
                    "▄"
                } else {
                    ""
                };
                format!("{lower}{}/{}", hex(buf[(x, y)].fg), hex(buf[(x, y)].bg))
            })
            .collect();
        if !row.is_empty() {
            s.push_str(&row.join(" "));
            s.push('\n');
        }
    }
    s
}

#[test]
fn screen_80x24_with_saliency() {
    let mut app = shown_app();
    let t = render(&mut app, 80, 24);
    // The verdicts fit even at 80 columns (faith() beats random for the query, not the
    // neighbour), and the status bar keeps its key hints.
    let screen = text(&t);
    let line = |label: &str| {
        screen
            .lines()
            .find(|l| l.contains(label) && l.contains("del"))
            .unwrap_or_else(|| panic!("no {label} line: {screen}"))
            .to_string()
    };
    assert!(line("query").contains("✓"), "{screen}");
    assert!(line("neighbour").contains("✗"), "{screen}");
    assert!(
        screen
            .lines()
            .last()
            .unwrap()
            .trim_end()
            .ends_with("? help"),
        "the status bar ends with where the keys are: {screen}"
    );
    insta::assert_snapshot!("screen_80x24", text(&t));
    insta::assert_snapshot!("heatmap_cells_80x24", image_colours(&t, 80, 24));
}

#[test]
fn screen_160x48_with_saliency_and_help() {
    let mut app = shown_app();
    let t = render(&mut app, 160, 48);
    insta::assert_snapshot!("screen_160x48", text(&t));
    keys(&mut app, "?");
    let t = render(&mut app, 160, 48);
    insta::assert_snapshot!("help_160x48", text(&t));
}

#[test]
fn heatmap_cells_are_hot_where_the_map_is() {
    let mut app = shown_app();
    let t = render(&mut app, 160, 48);
    let a = view::areas(t.backend().buffer().area).unwrap();
    let cells = a.image_cells()[0];
    let (img_cells, _, _) = simtui::tui::blocks::placement(160, 120, cells);
    let buf = t.backend().buffer();
    let at = |fx: f32, fy: f32| {
        let x = img_cells.x + (fx * img_cells.width as f32) as u16;
        let y = img_cells.y + (fy * img_cells.height as f32) as u16;
        match buf[(x, y)].fg {
            Color::Rgb(r, g, b) => (r, g, b),
            c => panic!("not true colour: {c:?}"),
        }
    };
    // Inferno's top is bright yellow: the hot corner is far more yellow (red + green, little
    // blue) than the cold corner, which the overlay only dims.
    let (hr, hg, _) = at(0.15, 0.15);
    let (cr, cg, _) = at(0.85, 0.85);
    assert!(
        hr > 200 && hg > 150,
        "hot corner is yellow: {:?}",
        at(0.15, 0.15)
    );
    assert!(
        (hr as u32 + hg as u32) > (cr as u32 + cg as u32) + 100,
        "cold corner is darker: {:?}",
        at(0.85, 0.85)
    );
}

/// The query panel's half rows in column `x`: which show the photo ("▀" both halves unless
/// its background is the terminal's, "▄" the lower half).
fn photo_half_rows(t: &Terminal<TestBackend>, panel: ratatui::layout::Rect, x: u16) -> Vec<bool> {
    let buf = t.backend().buffer();
    (panel.top()..panel.bottom())
        .flat_map(|y| {
            let c = &buf[(x, y)];
            match c.symbol() {
                "▀" => [true, c.bg != Color::Reset],
                "▄" => [false, true],
                _ => [false, false],
            }
        })
        .collect()
}

#[test]
fn a_landscape_photo_is_centred_to_the_half_row_and_its_map_lands_on_it() {
    // A 300×161 preview (decoded at reduced size) and its map drawn from the larger decode
    // (450×242): fitted by their own shapes they would differ by a half row.
    let (w, h) = (160, 48);
    let panel = view::areas(ratatui::layout::Rect::new(0, 0, w, h))
        .unwrap()
        .image_cells()[0];
    let own =
        |iw, ih| simtui::tui::blocks::placed(iw, ih, panel, simtui::tui::blocks::ASSUMED_CELL);
    assert_ne!(
        own(300, 161),
        own(450, 242),
        "the sizes are chosen to differ"
    );
    let mut app = app();
    let q = app.query().unwrap();
    app.update(Action::Worker(Msg::Preview {
        entry: q,
        result: Ok(Arc::new(photo(300, 161, 1))),
    }));
    let t = render(&mut app, w, h);
    let columns = |t: &Terminal<TestBackend>| {
        (panel.left()..panel.right())
            .map(|x| photo_half_rows(t, panel, x))
            .collect::<Vec<_>>()
    };
    let photo_cells = columns(&t);
    let photo_rows = &photo_cells[panel.width as usize / 2];
    let first = photo_rows.iter().position(|&p| p).unwrap();
    let last = photo_rows.iter().rposition(|&p| p).unwrap();
    let (above, below) = (first, photo_rows.len() - 1 - last);
    assert_eq!(last + 1 - first, own(300, 161).pixels.1 as usize);
    assert!(
        above.abs_diff(below) <= 1,
        "{above} half rows above, {below} below"
    );
    assert_eq!(
        above % 2,
        1,
        "an odd margin: the photo starts in a cell's lower half"
    );

    keys(&mut app, "s");
    let key = app.pair_key().unwrap();
    let mut maps = pair_maps(None);
    let map = hot_top_left();
    maps.query = Arc::new(overlay(
        &photo(450, 242, 1),
        &map,
        &Scale::shared(&[&map, &map]),
    ));
    app.update(Action::Worker(Msg::Map {
        key,
        result: Ok(maps),
    }));
    let t = render(&mut app, w, h);
    assert!(
        text(&t).contains(" gradcam "),
        "the map is on screen:\n{}",
        text(&t)
    );
    assert_eq!(
        columns(&t),
        photo_cells,
        "the map covers exactly its photo's half rows"
    );
}

#[test]
fn why_photos_are_half_blocks_stays_in_the_status_bar_and_the_help() {
    use simtui::render::terminal::probe::Replies;
    use simtui::render::terminal::tmux::TmuxInfo;
    use simtui::tui::graphics::{decide, Graphics, Multiplexer};
    let tmux = |passthrough| {
        Multiplexer::Tmux(TmuxInfo {
            version: Some((3, 3)),
            passthrough,
            client_term: "xterm-256color".into(),
            client_type: "xterm".into(),
        })
    };
    let answered = Replies {
        attributes: Some(vec![1, 2]),
        ..Replies::default()
    };
    // `auto` inside tmux without passthrough, once the start-up line has given way to the
    // key hints: the marker stays at the status bar's right end, the reason is in `?`.
    let choice = decide(Graphics::Auto, &tmux(false), false, Some(&answered)).unwrap();
    assert_eq!(choice.driver, None);
    let mut app = app();
    app.pictures.images = choice.images();
    let status = |app: &mut App, w| {
        text(&render(app, w, 30))
            .lines()
            .last()
            .unwrap()
            .to_string()
    };
    // While the start-up line says it in full, it has the whole bar.
    let line = choice.fallback.as_ref().unwrap().line();
    app.say(line.clone());
    let shown = status(&mut app, 110);
    assert!(
        shown.contains(&line[..60]) && !shown.contains("allow-passthrough off"),
        "{shown}"
    );
    // It gives way after STATUS_SECONDS (as Tick does).
    app.status = None;
    let line = status(&mut app, 110);
    assert!(
        line.trim_end()
            .ends_with("half-blocks: tmux allow-passthrough off"),
        "{line}"
    );
    assert!(line.contains("? help"), "the hints stay beside it: {line}");
    // Narrow: a short form that points at the help.
    let line = status(&mut app, 80);
    assert!(line.trim_end().ends_with("half-blocks (? why)"), "{line}");
    keys(&mut app, "?");
    // The popup's inside, between its double borders, as one line of words.
    let screen = text(&render(&mut app, 110, 30));
    let inside: Vec<&str> = screen.lines().filter_map(|l| l.split('║').nth(1)).collect();
    let help = inside
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains(
            "Images: half-blocks because tmux 3.3 does not pass graphics through. \
             `set -g allow-passthrough on` lets kitty images through"
        ),
        "{help}"
    );
    keys(&mut app, "?");

    // A terminal that simply has no graphics, or `--graphics blocks`: nothing to explain in
    // the status bar; the help says half-blocks.
    for (arg, mux, why) in [
        (
            Graphics::Auto,
            Multiplexer::None,
            "Images: half-blocks, as the terminal answers no kitty graphics query",
        ),
        (
            Graphics::Blocks,
            tmux(false),
            "Images: half-blocks, as --graphics blocks asks for them",
        ),
    ] {
        let choice = decide(arg, &mux, false, Some(&answered)).unwrap();
        app.pictures.images = choice.images();
        let line = status(&mut app, 110);
        assert!(!line.contains("half-blocks"), "{line}");
        assert!(line.trim_end().ends_with("? help"), "{line}");
        keys(&mut app, "?");
        assert!(text(&render(&mut app, 110, 30)).contains(why));
        keys(&mut app, "?");
    }
    // With passthrough on but nothing outside answering kitty's query, the reason differs.
    let choice = decide(Graphics::Auto, &tmux(true), false, Some(&answered)).unwrap();
    app.pictures.images = choice.images();
    assert!(status(&mut app, 110).contains("half-blocks: no images outside tmux"));
}

#[test]
fn crafted_file_names_cannot_reach_the_terminal() {
    let mut app = app();
    keys(&mut app, "jjjjj");
    assert!(query_name(&app).starts_with("evil"));
    let t = render(&mut app, 120, 30);
    let buf = t.backend().buffer();
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "control character on screen: {:?}",
            cell.symbol()
        );
    }
    let screen = text(&t);
    assert!(screen.contains("evil␛]0;pwned␇␛[2J.jpg"), "{screen}");
    // And through a real terminal backend: the bytes written contain no ESC but ratatui's own.
    let mut out = Vec::new();
    {
        let mut term = Terminal::new(ratatui::backend::CrosstermBackend::new(&mut out)).unwrap();
        let _ = term.draw(|f| {
            view::view(
                &app,
                Display {
                    colors: ColorMode::TrueColor,
                    cell: None,
                    photos: Photos::HalfBlocks,
                },
                f,
            )
        });
    }
    let written = String::from_utf8_lossy(&out);
    assert!(written.contains("]0;pwned"), "the name is drawn");
    assert!(
        !written.contains("\x1b]0;"),
        "but the OSC title sequence is not emitted"
    );
    assert!(!written.contains('\x07'));
}

#[test]
fn too_small_terminal_shows_a_message_and_empty_folder_says_so() {
    let mut app = app();
    let t = render(&mut app, 40, 10);
    assert!(text(&t).contains("needs a terminal of at least"));

    let mut empty = App::new(Config {
        root: PathBuf::from("/empty"),
        k: 10,
        method: Method::Gradcam,
        space: Space::plain(),
        export_dir: PathBuf::from("."),
    });
    let t = render(&mut empty, 80, 24);
    assert!(text(&t).contains("reading the index"));
    empty.update(Action::Worker(Msg::Index(Event::Listed(Vec::new()))));
    empty.update(Action::Worker(Msg::IndexFinished(Ok(()))));
    let t = render(&mut empty, 80, 24);
    assert!(text(&t).contains("No photos here."), "{}", text(&t));
}
