//! The panel under the photos: what the overlay shows (method, score, time, faithfulness
//! against a random order) with the colour bar, or what point mode and region results show.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::super::action::Faith;
use super::super::app::{App, Slot};
use super::fmt_ms;
use crate::render::{colormap, diverging};

fn faith_line(label: &str, f: &Faith, width: u16) -> Line<'static> {
    // Lower deletion and higher insertion AUC than a random order: the map points at what the
    // score depends on.
    let better = f.beats_random();
    let narrow = width < 90;
    // Below ~56 columns even the short form would push the verdict off the panel: the
    // verdict comes first then, and the figures take what is left.
    let tiny = width < 56;
    let verdict = match (better, narrow) {
        (true, false) => Span::styled("✓ beats random", Style::new().fg(Color::Green)),
        (true, true) => Span::styled("✓", Style::new().fg(Color::Green)),
        (false, false) => Span::styled("✗ no better than random", Style::new().fg(Color::Red)),
        (false, true) => Span::styled("✗ ≤ random", Style::new().fg(Color::Red)),
    };
    let figures = if tiny {
        format!(
            " del {:.2}/{:.2} ins {:.2}/{:.2}",
            f.deletion_auc, f.random_deletion_auc, f.insertion_auc, f.random_insertion_auc
        )
    } else if narrow {
        format!(
            "del {:.2} (rand {:.2}) ins {:.2} (rand {:.2}) ",
            f.deletion_auc, f.random_deletion_auc, f.insertion_auc, f.random_insertion_auc
        )
    } else {
        format!(
            "deletion {:.2} (rand {:.2})  insertion {:.2} (rand {:.2})  ",
            f.deletion_auc, f.random_deletion_auc, f.insertion_auc, f.random_insertion_auc
        )
    };
    if tiny {
        return Line::from(vec![
            Span::raw(format!("{label:<9} ")),
            verdict,
            Span::raw(figures),
        ]);
    }
    Line::from(vec![
        Span::raw(format!("{label:<9} ")),
        Span::raw(figures),
        verdict,
    ])
}

pub(super) fn info(app: &App, area: Rect, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    let special = super::point::lines(app);
    let title = special.as_ref().map_or(" Why alike · saliency ", |s| s.0);
    let block = Block::bordered()
        .title(Line::from(title).bold())
        .border_style(Style::new().fg(Color::DarkGray));
    let body = block.inner(area);
    block.render(area, buf);
    let method = app.overlay.method.name();
    let mut lines: Vec<Line> = Vec::new();
    if let Some((_, special)) = special {
        lines = special;
    } else if !app.overlay.show {
        lines.push(Line::from(vec![
            Span::raw("overlay off · method "),
            Span::raw(method).bold(),
            Span::raw(" · "),
            Span::raw("s").yellow().bold(),
            Span::raw(" shows which regions make the pair alike, "),
            Span::raw("m").yellow().bold(),
            Span::raw(" changes method"),
        ]));
    } else {
        match app.current_maps() {
            Some(Slot::Ready(m)) => {
                let mut spans = vec![
                    Span::raw("overlay on · "),
                    Span::raw(m.shown.name()).bold(),
                    Span::raw(format!(" · score {:.3} · {}", m.score, fmt_ms(m.millis))),
                ];
                if m.refining {
                    spans.push(Span::raw(format!(" · refining to {method}…")).dim());
                }
                lines.push(Line::from(spans));
                match &m.faith {
                    Some([fq, fnb]) => {
                        lines.push(faith_line("query", fq, body.width));
                        lines.push(faith_line("neighbour", fnb, body.width));
                    }
                    None => match &m.faith_error {
                        Some(e) => {
                            lines.push(Line::from(format!("faithfulness not measured: {e}")).red())
                        }
                        None => lines
                            .push(Line::from("measuring faithfulness (deletion/insertion)…").dim()),
                    },
                }
            }
            Some(Slot::Failed(e)) => lines.push(Line::from(format!("{method}: {e}")).red()),
            Some(Slot::Loading) => lines.push(Line::from(format!("computing {method}…")).dim()),
            None => lines.push(Line::from("select a query with a neighbour").dim()),
        }
    }
    for (i, line) in lines.into_iter().take(body.height as usize).enumerate() {
        buf.set_line(body.x, body.y + i as u16, &line, body.width);
    }
    // Colour bar on the last line: what the colours mean (region results have none of
    // their own).
    if body.height >= 4 && (app.point.on || app.region.is_none()) {
        let y = body.bottom() - 1;
        let signed = app.overlay.signed;
        let label = Span::raw(if signed { "against " } else { "low " });
        let mut x = body.x;
        x = buf.set_span(x, y, &label, body.width).0;
        let bar_w = 24.min(body.width.saturating_sub(40));
        for i in 0..bar_w {
            let t = (i as f32 + 0.5) / bar_w as f32;
            let c = if signed { diverging(t) } else { colormap(t) };
            buf[(x + i, y)]
                .set_char(' ')
                .set_bg(Color::Rgb(c[0], c[1], c[2]));
        }
        x += bar_w;
        if app.point.on {
            let high = Span::raw(if signed { " alike" } else { " high" });
            x = buf.set_span(x, y, &high, body.right() - x).0;
            buf.set_span(x, y, &super::point::bar_caption(), body.right() - x);
            return;
        }
        let shown = match app.current_maps() {
            Some(Slot::Ready(m)) => m.shown,
            _ => app.overlay.method,
        };
        let rest = format!(
            " {} · {} · shared scale, clipped at p99.5",
            if signed { "alike" } else { "high" },
            shown.unit()
        );
        buf.set_stringn(x, y, rest, (body.right() - x) as usize, Style::new().dim());
    }
}
