//! What point mode and region results say: the lines of the panel under the photos, the
//! neighbour list's title while it holds region results, and the key hints of each mode.

use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};

use super::super::app::{App, RegionPhase, Side, Slot, GRID};
use super::fmt_ms;

/// The panel's title and lines in point mode or over region results; `None` otherwise.
pub(super) fn lines(app: &App) -> Option<(&'static str, Vec<Line<'static>>)> {
    if app.point.on {
        return Some((" Where exactly · point ", point_lines(app)));
    }
    app.region
        .as_ref()
        .map(|_| (" Where exactly · region search ", region_lines(app)))
}

fn key(k: &str) -> Span<'static> {
    Span::raw(k.to_string()).yellow().bold()
}

fn point_lines(app: &App) -> Vec<Line<'static>> {
    let p = &app.point;
    let (c, r) = p.cursor;
    let (here, there) = match p.side {
        Side::Query => ("query", "neighbour"),
        Side::Neighbour => ("neighbour", "query"),
    };
    let mut lines = vec![Line::from(vec![
        Span::raw(format!("point · {here} cell ({c},{r})")).bold(),
        Span::raw(format!(": where in the {there} its share comes from")),
    ])];
    let pair = app.query().zip(app.neighbour().map(|n| n.0));
    match pair.and_then(|pair| app.pictures.cells.get(&pair)) {
        Some(Slot::Ready(cells)) => {
            let m = &cells.matrix;
            let line = match p.side {
                Side::Query => m.row(p.cell()),
                Side::Neighbour => m.column(p.cell()),
            };
            let share: f32 = line.iter().map(|&v| v as f64).sum::<f64>() as f32;
            let best = (0..line.len())
                .max_by(|&i, &j| line[i].total_cmp(&line[j]))
                .unwrap_or(0);
            let part = if m.score > 0.0 {
                format!(" ({:.0} %)", 100.0 * share / m.score)
            } else {
                String::new()
            };
            lines.push(Line::from(format!(
                "share {share:+.3} of the score {:.3}{part} · best pair: {there} ({},{}) {:+.3}",
                m.score,
                best % GRID,
                best / GRID,
                line[best]
            )));
        }
        Some(Slot::Failed(e)) => {
            lines.push(Line::from(format!("no correspondence for this pair: {e}")).red())
        }
        Some(Slot::Loading) => {
            lines.push(Line::from("computing the pair's cell correspondence…").dim())
        }
        None => lines.push(Line::from("select a query with a neighbour").dim()),
    }
    lines.push(match p.anchor {
        Some(_) => {
            let [x0, y0, x1, y1] = p.selection();
            Line::from(vec![
                Span::raw(format!("selection ({x0},{y0})-({},{}) · ", x1 - 1, y1 - 1)),
                key("Enter"),
                Span::raw(" searches the folder for it · "),
                key("v"),
                Span::raw(" drops it"),
            ])
        }
        None => Line::from(vec![
            key("hjkl"),
            Span::raw("/click move · "),
            key("x"),
            Span::raw(" other photo · "),
            key("v"),
            Span::raw(" select · "),
            key("Enter"),
            Span::raw(" search · "),
            key("Esc"),
            Span::raw(" leave"),
        ]),
    });
    lines
}

fn region_lines(app: &App) -> Vec<Line<'static>> {
    let Some(r) = &app.region else {
        return Vec::new();
    };
    let g = r.region;
    let mut times = Vec::new();
    if let Some(ms) = r.first_ms {
        times.push(format!("first pass {}", fmt_ms(ms)));
    }
    if let Some(ms) = r.refined_ms {
        times.push(format!("refined {}", fmt_ms(ms)));
    }
    let mut lines = vec![Line::from(vec![
        Span::raw(format!(
            "region {},{}-{},{} of {}",
            g.x0, g.y0, g.x1, g.y1, app.files.entries[r.query].name
        ))
        .bold(),
        Span::raw(if times.is_empty() {
            String::new()
        } else {
            format!(" · {}", times.join(" · "))
        }),
    ])];
    lines.push(match &r.phase {
        RegionPhase::Embedding => Line::from("embedding the region…").dim(),
        RegionPhase::Refining => Line::from(format!(
            "first pass (the region against each photo) · refining the top {} by their best window…",
            r.hits.len().min(crate::index::region::REFINE_CANDIDATES)
        ))
        .dim(),
        RegionPhase::Refined => {
            Line::from("ranked by each photo's best window (the whole photo is one of them)")
        }
        RegionPhase::Failed(e) => Line::from(format!("region search failed: {e}")).red(),
    });
    if let Some((n, _)) = app.neighbour() {
        let i = app.neighbours.cursor + 1;
        if let Some(h) = r.hits.iter().find(|h| h.entry == n) {
            lines.push(Line::from(match h.found {
                Some(([x0, y0, x1, y1], _)) => format!(
                    "#{i}: found at {x0},{y0}-{x1},{y1} · window {:.3} · whole photo {:.3}",
                    h.score, h.first_pass
                ),
                None => format!(
                    "#{i}: whole photo {:.3} · no box until refined",
                    h.first_pass
                ),
            }));
        }
    }
    lines.push(Line::from(vec![
        key("Esc"),
        Span::raw("/"),
        key("⌫"),
        Span::raw(" back to the neighbours · "),
        key("p"),
        Span::raw(" point mode on this pair"),
    ]));
    lines
}

/// The neighbour list's title and bottom line while it holds region results.
pub(super) fn list_titles(app: &App) -> Option<(String, &'static str)> {
    let r = app.region.as_ref()?;
    let g = r.region;
    let title = format!(
        " region ({},{})-({},{}) of {} ",
        g.x0, g.y0, g.x1, g.y1, app.files.entries[r.query].name
    );
    let bottom = match r.phase {
        RegionPhase::Embedding => " embedding the region… ",
        RegionPhase::Refining => " first pass · refining… ",
        RegionPhase::Refined => " best window ",
        RegionPhase::Failed(_) => " failed ",
    };
    Some((title, bottom))
}

/// The key hints of the status line in point mode or over region results.
pub(super) fn hints(app: &App) -> Option<&'static [&'static str]> {
    if app.point.on {
        Some(&[
            "hjkl move",
            "x other photo",
            "v select",
            "Enter search",
            "Esc leave",
        ])
    } else if app.region.is_some() {
        Some(&["j/k move", "Enter follow", "Esc back", "p point"])
    } else {
        None
    }
}

/// The colour bar's caption in point mode.
pub(super) fn bar_caption() -> Span<'static> {
    Span::styled(" · per cell pair, on this cell's scale", Style::new().dim())
}
