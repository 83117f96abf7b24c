//! The `?` popup: every key, and what the score and the map's colours mean.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

pub const KEYS: &[(&str, &str)] = &[
    ("j k ↓ ↑", "move in the focused list"),
    ("g G", "first / last"),
    ("PgUp PgDn", "page up / down"),
    ("Tab", "switch between files and neighbours"),
    ("Enter", "follow the neighbour (it becomes the query)"),
    ("⌫  H  Alt-←", "back in history"),
    ("L  Alt-→", "forward in history"),
    ("+ -", "more / fewer neighbours"),
    ("s", "saliency overlay on both photos"),
    ("m", "next saliency method"),
    (
        "d",
        "both signs: red makes the pair alike, blue argues against",
    ),
    ("e", "export the pair with its heatmaps as PNG"),
    ("o", "open the photo in the system viewer"),
    (
        "p",
        "point mode: where in the neighbour a query cell matches",
    ),
    (
        "hjkl ←↓↑→",
        "point mode: move the cursor cell (or click a photo)",
    ),
    ("x", "point mode: put the cursor on the other photo"),
    (
        "v",
        "point mode: select a region from the cursor (like vim)",
    ),
    (
        "Enter",
        "point mode: search the folder for the selected region",
    ),
    ("Esc  ⌫", "leave point mode, then the region results"),
    ("/", "filter the file list (Enter keeps, Esc clears)"),
    ("?", "this help"),
    ("q  Esc  Ctrl-C", "quit"),
];

/// The popup, headed by how photos reach the screen (`images`: paragraphs saying why they
/// are half-blocks where they fell back), wrapped to its width.
pub(super) fn help(images: &[String], area: Rect, buf: &mut Buffer) {
    use ratatui::widgets::Widget;
    let w = 76.min(area.width);
    let images: Vec<String> = images
        .iter()
        .flat_map(|p| wrap(p, w.saturating_sub(3) as usize))
        .collect();
    let h =
        (KEYS.len() as u16 + 5 + images.len() as u16 + MEANING.len() as u16 + 1).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(Line::from(" Keys ").bold())
        .title_bottom(Line::from(" any key closes ").dim());
    let mut lines = vec![Line::from("")];
    lines.extend(
        images
            .into_iter()
            .map(|l| Line::from(format!(" {l}")).fg(Color::Yellow)),
    );
    lines.push(Line::from(""));
    lines.extend(KEYS.iter().map(|(k, what)| {
        Line::from(vec![
            Span::styled(format!(" {k:<15}"), Style::new().fg(Color::Yellow).bold()),
            Span::raw(*what),
        ])
    }));
    lines.push(Line::from(""));
    lines.extend(MEANING.iter().map(|l| Line::from(format!(" {l}")).dim()));
    Paragraph::new(lines).block(block).render(r, buf);
}

/// `text` in lines of at most `width` characters, broken at spaces (a word longer than a
/// line is broken inside).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let chars: Vec<char> = word.chars().collect();
        for (i, piece) in chars.chunks(width).enumerate() {
            let last = lines.last_mut().expect("never empty");
            let len = last.chars().count();
            if i == 0 && len > 0 && len + 1 + piece.len() <= width {
                last.push(' ');
            } else if len > 0 {
                lines.push(String::new());
            }
            lines.last_mut().expect("never empty").extend(piece);
        }
    }
    lines
}

/// What the numbers and colours mean, under the keys.
const MEANING: &[&str] = &[
    "Score: centred similarity, the cosine of the two photos' features",
    "after the average photo's is taken away: unrelated ≈ 0, duplicates ≈ 1.",
    "Map: how much of the score each region gives (bright = most;",
    "with d, red regions make the pair alike and blue ones argue against).",
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_images_line_wraps_at_spaces_and_keeps_every_character() {
        let text = "Images: half-blocks because tmux 3.3 does not pass graphics through; \
                    `set -g allow-passthrough on` lets kitty images through";
        let lines = super::wrap(text, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        let long = super::wrap("ab abcdefgh", 4);
        assert_eq!(long, ["ab", "abcd", "efgh"]);
    }
}
