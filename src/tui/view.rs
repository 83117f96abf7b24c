//! Drawing: a pure function of the [`App`] (no I/O, no model), so every screen can be rendered
//! into ratatui's `TestBackend` and checked.

mod help;
mod info;
mod point;

use std::sync::Arc;

use image::RgbImage;
use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Wrap};
use ratatui::Frame;

use super::action::{ListRows, PairMaps};
use super::app::{App, FileState, Focus, Phase, Side, Slot};
use super::blocks::{self, ColorMode};
use super::graphics;
use super::scroll::list_window;
use help::help;
pub use help::KEYS;
use info::info;

/// Below this size the layout cannot show a list and two photos.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Where each part goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub files: Rect,
    pub neighbours: Rect,
    pub query: Rect,
    pub neighbour: Rect,
    pub info: Rect,
    pub status: Rect,
}

impl Areas {
    /// The cells inside the query's and the neighbour's frames, where the photos go.
    pub fn image_cells(&self) -> [Rect; 2] {
        [inner(self.query), inner(self.neighbour)]
    }
}

fn inner(r: Rect) -> Rect {
    Block::bordered().inner(r)
}

/// The layout for a terminal of `area`, or `None` when it is too small to be usable.
pub fn areas(area: Rect) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [main, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let left_w = (main.width * 32 / 100).clamp(28, 52);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(main);
    let [files, neighbours] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(left);
    let [images, info] = Layout::vertical([Constraint::Min(0), Constraint::Length(6)]).areas(right);
    let [query, neighbour] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(images);
    Some(Areas {
        files,
        neighbours,
        query,
        neighbour,
        info,
        status,
    })
}

/// Where the lists' rows and the photos' cells are, for mouse clicks and paging (the cell
/// size is the caller's to add).
pub fn list_rows(area: Rect) -> ListRows {
    let Some(a) = areas(area) else {
        return ListRows::default();
    };
    let r = |x: Rect| {
        let i = inner(x);
        (i.y, i.x, i.width, i.height)
    };
    let [query, neighbour] = a.image_cells();
    let cells = |i: Rect| (i.y, i.x, i.width, i.height);
    ListRows {
        files: r(a.files),
        neighbours: r(a.neighbours),
        photos: [cells(query), cells(neighbour)],
        cell: None,
    }
}

/// How the photos are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Display {
    pub colors: ColorMode,
    /// The terminal's cell size in pixels; `None` where it reports none (cells are then taken
    /// to be twice as tall as wide). Photos keep their shape in cells of this shape.
    pub cell: Option<(f64, f64)>,
    pub photos: Photos,
}

/// Who draws the photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Photos {
    /// The view, in half-block cells.
    HalfBlocks,
    /// A graphics protocol (kitty, iTerm2, sixel) after each frame: the view leaves the
    /// photos' cells alone.
    External,
    /// kitty Unicode placeholders (inside tmux): the image data went to the terminal
    /// beforehand, and the view fills the photos' cells with the placeholder characters that
    /// show it, so the image is part of the text grid.
    KittyPlaceholders,
}

impl Display {
    /// The cell size photos are placed in: the terminal's, or [`blocks::ASSUMED_CELL`].
    pub fn cell_or_assumed(&self) -> (f64, f64) {
        self.cell.unwrap_or(blocks::ASSUMED_CELL)
    }
}

pub fn view(app: &App, display: Display, frame: &mut Frame) {
    let area = frame.area();
    let Some(a) = areas(area) else {
        let msg = format!(
            "simtui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT} (this one is {}×{}).\nEnlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(msg)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    };
    let buf = frame.buffer_mut();
    files(app, a.files, buf);
    neighbours(app, a.neighbours, buf);
    images(app, display, &a, buf);
    info(app, a.info, buf);
    status(app, a.status, buf);
    if app.help {
        help(&app.pictures.images.help_lines(), area, buf);
    }
}

fn focus_block(title: Line<'static>, focused: bool) -> Block<'static> {
    let block = Block::bordered().title(title);
    if focused {
        block
            .border_type(BorderType::Thick)
            .border_style(Style::new().fg(Color::Cyan))
    } else {
        block.border_style(Style::new().fg(Color::DarkGray))
    }
}

/// `s` cut to `width` columns, keeping its end (the file name) and marking the cut with '…'.
fn fit_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let tail: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

fn message(lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn files(app: &App, area: Rect, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    let focused = app.focus == Focus::Files;
    let count = if app.files.filter.is_empty() {
        format!(" Files {} ", app.files.entries.len())
    } else {
        format!(
            " Files {}/{} ",
            app.files.visible.len(),
            app.files.entries.len()
        )
    };
    let mut block = focus_block(Line::from(count).bold(), focused);
    if app.files.filter_editing || !app.files.filter.is_empty() {
        let cursor = if app.files.filter_editing { "▏" } else { "" };
        let filter = super::sanitize::sanitize(&app.files.filter);
        block = block.title_bottom(Line::from(format!(" /{filter}{cursor} ")).yellow());
    }
    let body = block.inner(area);
    block.render(area, buf);

    if !app.files.listed {
        let lines = match &app.progress.phase {
            Phase::Failed(e) => vec![
                Line::from("Cannot index this folder:").red().bold(),
                Line::from(e.clone()),
                Line::from(format!("(details in {})", app.log_hint)).dim(),
            ],
            _ => vec![Line::from("reading the index…").dim()],
        };
        return message(lines, body, buf);
    }
    if app.files.entries.is_empty() {
        let mut lines = vec![
            Line::from("No photos here.").bold(),
            Line::from(format!(
                "{} has no JPEG, PNG, WebP, GIF, BMP or TIFF files.",
                app.files.root_name
            )),
        ];
        if !app.files.scan_errors.is_empty() {
            lines.push(Line::from(format!(
                "{} entries could not be read.",
                app.files.scan_errors.len()
            )));
        }
        return message(lines, body, buf);
    }
    if app.files.visible.is_empty() {
        return message(
            vec![Line::from("no file matches the filter").dim()],
            body,
            buf,
        );
    }
    let usable = app
        .files
        .entries
        .iter()
        .any(|e| !matches!(e.state, FileState::Failed(_)));
    let mut body = body;
    if !usable && body.height > 2 {
        // Every file failed: say so above the list (each row still shows why on selection).
        let line = Line::from(format!(
            "None of the {} files can be read.",
            app.files.entries.len()
        ))
        .red()
        .bold();
        buf.set_line(body.x, body.y, &line, body.width);
        body = Rect::new(body.x, body.y + 1, body.width, body.height - 1);
    }
    let (first, end) = list_window(
        app.files.cursor,
        app.files.visible.len(),
        body.height as usize,
    );
    let query = app.query();
    for (row, pos) in (first..end).enumerate() {
        let e = app.files.visible[pos];
        let entry = &app.files.entries[e];
        let (mark, style) = match entry.state {
            FileState::Embedded(_) => ("  ", Style::new()),
            FileState::Pending => ("… ", Style::new().fg(Color::DarkGray)),
            FileState::Failed(_) => ("✗ ", Style::new().fg(Color::Red)),
        };
        let mut style = style;
        if Some(e) == query {
            style = if focused {
                style.add_modifier(Modifier::REVERSED)
            } else {
                style.add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
            };
        }
        let name = fit_left(&entry.name, (body.width as usize).saturating_sub(2));
        let line = Line::from(vec![Span::raw(mark), Span::raw(name)]).style(style);
        buf.set_line(body.x, body.y + row as u16, &line, body.width);
    }
}

/// A bar of `width` cells, filled to `t` ∈ [0, 1] with eighth blocks.
fn bar(t: f32, width: usize) -> String {
    let eighths = (t.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push([' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8]);
    }
    while s.chars().count() < width {
        s.push(' ');
    }
    s
}

fn neighbours(app: &App, area: Rect, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    let focused = app.focus == Focus::Neighbours;
    let (title, score) = match point::list_titles(app) {
        Some((title, bottom)) => (Line::from(title).bold().cyan(), bottom),
        None => (
            Line::from(format!(" Neighbours k={} ", app.neighbours.k)).bold(),
            match app.files.matrix.space().similarity() {
                crate::space::Similarity::Centred => " centred similarity ",
                crate::space::Similarity::Plain => " cosine ",
            },
        ),
    };
    let block = focus_block(title, focused).title_bottom(Line::from(score).dim());
    let body = block.inner(area);
    block.render(area, buf);

    let Some(q) = app.query() else {
        return;
    };
    match &app.files.entries[q].state {
        FileState::Pending => {
            let second = match &app.progress.phase {
                Phase::Failed(e) => Line::from(format!("Indexing stopped: {e}")).red(),
                Phase::Done => Line::from("Indexing ended before reaching it.").dim(),
                _ => Line::from(format!(
                    "Queued: {}/{} done.",
                    app.progress.done, app.progress.to_embed
                ))
                .dim(),
            };
            return message(
                vec![Line::from("This photo is not embedded yet."), second],
                body,
                buf,
            );
        }
        FileState::Failed(reason) => {
            return message(
                vec![
                    Line::from("This file cannot be used:").red(),
                    Line::from(reason.clone()),
                ],
                body,
                buf,
            )
        }
        FileState::Embedded(_) => {}
    }
    if app.neighbours.list.is_empty() {
        let why = match &app.region {
            Some(r) => match &r.phase {
                super::app::RegionPhase::Embedding => "searching the folder for the region…",
                super::app::RegionPhase::Failed(_) => "the region search failed (Esc goes back)",
                _ => "no other embedded photos",
            },
            None => "no other embedded photos yet",
        };
        return message(vec![Line::from(why).dim()], body, buf);
    }
    let (first, end) = list_window(
        app.neighbours.cursor,
        app.neighbours.list.len(),
        body.height as usize,
    );
    for (row, i) in (first..end).enumerate() {
        let (e, score) = app.neighbours.list[i];
        let selected = i == app.neighbours.cursor;
        let style = if selected && focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if selected {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::new()
        };
        let head = format!("{:>2} {score:.3} ", i + 1);
        let bar_w = if body.width < 40 { 3 } else { 6 };
        let name_w = (body.width as usize).saturating_sub(head.chars().count() + bar_w + 1);
        let line = Line::from(vec![
            Span::raw(head),
            Span::styled(bar(score, bar_w), Style::new().fg(Color::Green)),
            Span::raw(" "),
            Span::raw(fit_left(&app.files.entries[e].name, name_w)),
        ])
        .style(style);
        buf.set_line(body.x, body.y + row as u16, &line, body.width);
    }
}

fn images(app: &App, display: Display, a: &Areas, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    let computing = app.overlay.show && matches!(app.current_maps(), Some(Slot::Loading));
    let map_failed = match app.current_maps() {
        Some(Slot::Failed(e)) if app.overlay.show => Some(e.clone()),
        _ => None,
    };

    // Query.
    let q = app.query();
    let room = (a.query.width as usize).saturating_sub(4);
    let title = match q {
        Some(q) => format!(
            " Query · {} ",
            fit_left(&app.files.entries[q].name, room.saturating_sub(8))
        ),
        None => " Query ".to_string(),
    };
    let block = Block::bordered().title(Line::from(title).bold());
    let body = block.inner(a.query);
    block.render(a.query, buf);
    if let Some(q) = q {
        photo(app, display, q, picture(app, Side::Query), body, buf);
    }

    // Neighbour.
    let n = app.neighbour();
    let room = (a.neighbour.width as usize).saturating_sub(4);
    let title = match n {
        Some((e, s)) => {
            let head = format!("#{} · {s:.3} · ", app.neighbours.cursor + 1);
            let name = fit_left(
                &app.files.entries[e].name,
                room.saturating_sub(head.chars().count()),
            );
            format!(" {head}{name} ")
        }
        None => " Neighbour ".to_string(),
    };
    let block = Block::bordered().title(Line::from(title).bold());
    let body = block.inner(a.neighbour);
    block.render(a.neighbour, buf);
    if let Some((e, _)) = n {
        photo(app, display, e, picture(app, Side::Neighbour), body, buf);
    }

    let note = if computing {
        Some(
            Line::from(format!(" computing {}… ", app.overlay.method.name()))
                .black()
                .on_yellow(),
        )
    } else {
        map_failed.map(|e| Line::from(format!(" map failed: {e} ")).white().on_red())
    };
    if let Some(note) = note {
        let r = Rect::new(a.query.x + 1, a.query.bottom() - 1, a.query.width - 2, 1);
        buf.set_line(r.x, r.y, &note, r.width);
    }
}

/// The picture a panel shows for `entry`: its overlay when given, else its preview.
fn shown(
    app: &App,
    entry: usize,
    overlay: Option<&Arc<RgbImage>>,
) -> Result<Option<Arc<RgbImage>>, Vec<Line<'static>>> {
    if let FileState::Failed(reason) = &app.files.entries[entry].state {
        return Err(vec![
            Line::from("✗ cannot show this file").red(),
            Line::from(reason.clone()),
        ]);
    }
    match (overlay, app.pictures.previews.get(&entry)) {
        (Some(o), _) => Ok(Some(o.clone())),
        (None, Some(Slot::Ready(p))) => Ok(Some(p.clone())),
        (None, Some(Slot::Failed(e))) => Err(vec![
            Line::from("✗ cannot decode").red(),
            Line::from(e.clone()),
        ]),
        _ => Ok(None),
    }
}

fn overlays(app: &App) -> Option<&PairMaps> {
    match app.current_maps() {
        Some(Slot::Ready(m)) if app.overlay.show => Some(m),
        _ => None,
    }
}

/// What a panel draws over its preview: the marks of point mode or region results, else the
/// saliency overlay when it is on.
fn picture(app: &App, side: Side) -> Option<&Arc<RgbImage>> {
    let marked = app.pictures.marked.as_ref().and_then(|m| match side {
        Side::Query => m.query.as_ref(),
        Side::Neighbour => m.neighbour.as_ref(),
    });
    marked.or_else(|| {
        overlays(app).map(|m| match side {
            Side::Query => &m.query,
            Side::Neighbour => &m.neighbour,
        })
    })
}

/// The photos on screen and their cells, for a graphics protocol to draw after the frame.
pub fn panel_images(app: &App, a: &Areas) -> Vec<(Rect, Arc<RgbImage>)> {
    let [qc, nc] = a.image_cells();
    let mut out = Vec::new();
    if let Some(q) = app.query() {
        if let Ok(Some(img)) = shown(app, q, picture(app, Side::Query)) {
            out.push((qc, img));
        }
    }
    if let Some((n, _)) = app.neighbour() {
        if let Ok(Some(img)) = shown(app, n, picture(app, Side::Neighbour)) {
            out.push((nc, img));
        }
    }
    out
}

fn photo(
    app: &App,
    display: Display,
    entry: usize,
    overlay: Option<&Arc<RgbImage>>,
    area: Rect,
    buf: &mut Buffer,
) {
    let cell = display.cell_or_assumed();
    match (shown(app, entry, overlay), display.photos) {
        (Err(lines), _) => message(lines, area, buf),
        (Ok(Some(_)), Photos::External) => {
            // The graphics protocol draws the photo after the frame, centred to the pixel:
            // the panel is left to it. Its cells are blank before (the painter redraws the
            // screen whenever the photos wanted change), so nothing stale shows beside it.
            for y in area.top()..area.bottom() {
                for x in area.left()..area.right() {
                    buf[(x, y)].reset();
                    buf[(x, y)].set_diff_option(CellDiffOption::Skip);
                }
            }
        }
        (Ok(Some(img)), Photos::KittyPlaceholders) => {
            graphics::draw_placeholders(&img, area, cell, buf)
        }
        (Ok(Some(img)), Photos::HalfBlocks) => {
            // Placed by the preview's shape: a map or marked picture (decoded another way, a
            // pixel off) lands on exactly its photo's cells and half rows.
            let shape = match app.pictures.previews.get(&entry) {
                Some(Slot::Ready(p)) => p.dimensions(),
                _ => img.dimensions(),
            };
            blocks::draw_as(&img, shape, area, cell, buf, display.colors)
        }
        (Ok(None), _) => message(vec![Line::from("decoding…").dim()], area, buf),
    }
}

fn status(app: &App, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::raw(format!(
        " {} photos · {} embedded",
        app.files.entries.len(),
        app.files.embedded()
    ))];
    let failed = app.files.failed();
    if failed > 0 {
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            format!("{failed} failed"),
            Style::new().fg(Color::Red),
        ));
    }
    spans.push(Span::raw(" │ "));
    match &app.progress.phase {
        Phase::Starting => spans.push(Span::raw("loading model and index…").dim()),
        Phase::Embedding => {
            let p = &app.progress;
            let t = if p.to_embed == 0 {
                1.0
            } else {
                p.done as f32 / p.to_embed as f32
            };
            spans.push(Span::raw(format!("indexing {}/{} ", p.done, p.to_embed)));
            spans.push(Span::styled(
                bar(t, 10),
                Style::new().fg(Color::Cyan).bg(Color::DarkGray),
            ));
            if let Some((rate, eta)) = app.rate_eta() {
                spans.push(Span::raw(format!(
                    " {rate:.1}/s ETA {}",
                    fmt_secs(eta.as_secs())
                )));
            }
        }
        Phase::Done => spans.push(Span::raw("indexed").fg(Color::Green)),
        Phase::Failed(e) => spans.push(Span::styled(
            format!("indexing failed: {e}"),
            Style::new().fg(Color::Red),
        )),
    }
    spans.push(Span::raw(" │ "));
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    // Why photos are half-blocks stays at the right end once the start-up line saying it in
    // full has gone (a message has the whole bar while it shows); a short form where the bar
    // is narrow; `?` has the rest.
    let fallback = app.pictures.images.fallback.as_ref();
    let marker = fallback.filter(|_| app.status.is_none()).map(|f| {
        let full = format!(" {} ", f.marker);
        if used + full.chars().count() + "? help".len() <= area.width as usize {
            full
        } else {
            " half-blocks (? why) ".to_string()
        }
    });
    let marker_w = marker.as_ref().map_or(0, |m| m.chars().count() as u16);
    let whole = area;
    let area = Rect {
        width: area.width.saturating_sub(marker_w),
        ..area
    };
    match &app.status {
        Some(s) => spans.push(Span::raw(s.clone()).yellow()),
        None => {
            // As many hints as fit, always ending with where the rest are.
            let room = (area.width as usize).saturating_sub(used);
            const HINTS: &[&str] = &[
                "j/k move",
                "Tab lists",
                "Enter follow",
                "⌫ back",
                "s saliency",
                "e export",
            ];
            let mut text = String::new();
            for h in point::hints(app).unwrap_or(HINTS) {
                let candidate = format!("{text}{h} · ");
                if candidate.chars().count() + "? help".len() > room {
                    break;
                }
                text = candidate;
            }
            text.push_str("? help");
            spans.push(Span::raw(text).dim());
        }
    }
    let line = Line::from(spans);
    // Both colours: with only the background set, a light-themed terminal (black text on
    // white, xterm's default) drew black on black.
    buf.set_style(whole, Style::new().bg(Color::Black).fg(Color::White));
    buf.set_line(area.x, area.y, &line, area.width);
    if let Some(m) = marker {
        let m = Line::from(Span::raw(m).fg(Color::Yellow));
        buf.set_line(area.right(), area.y, &m, marker_w);
    }
}

pub(super) fn fmt_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1e3)
    }
}

fn fmt_secs(s: u64) -> String {
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_end() {
        assert_eq!(fit_left("holiday/2024/beach.jpg", 12), "…4/beach.jpg");
        assert_eq!(fit_left("a.jpg", 12), "a.jpg");
    }

    #[test]
    fn bars_fill_in_eighths() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 4), "██  ");
        assert_eq!(bar(0.0, 3), "   ");
        assert_eq!(bar(1.0 / 32.0, 4), "▏   ");
    }

    #[test]
    fn layout_fits_80x24_and_refuses_tiny() {
        let a = areas(Rect::new(0, 0, 80, 24)).expect("80×24 is usable");
        assert!(a.image_cells()[0].width >= 20 && a.image_cells()[0].height >= 10);
        assert_eq!(a.status, Rect::new(0, 23, 80, 1));
        assert!(areas(Rect::new(0, 0, 40, 10)).is_none());
    }
}
