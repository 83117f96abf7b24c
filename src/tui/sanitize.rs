//! File names come from the disk, and a crafted name can carry terminal escape sequences. What
//! reaches the screen is passed through [`sanitize`] first: control characters become visible
//! symbols, so `evil\x1b]0;pwned\x07.jpg` shows as `evil␛]0;pwned␇.jpg` and does nothing.

/// A printable version of `s`: C0 controls as their Unicode control pictures (␛, ␇, …), DEL
/// as ␡, C1 controls and bidirectional overrides as U+FFFD.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' => '\u{fffd}',
            // Bidi embeddings, overrides and isolates reorder what follows them on screen.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A path as shown on screen: lossy UTF-8, then [`sanitize`].
pub fn path(p: &std::path::Path) -> String {
    sanitize(&p.to_string_lossy())
}

/// A file-name-safe stem for exported files: letters, digits, `-`, `_`, `.`; the rest `_`.
pub fn file_stem(p: &std::path::Path) -> String {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible_symbols() {
        let s = sanitize("evil\x1b]0;pwned\x07\x1b[2J\r\n\u{9b}31m\u{202e}gpj.exe");
        assert!(!s.chars().any(|c| c.is_control()), "{s:?}");
        assert_eq!(s, "evil␛]0;pwned␇␛[2J␍␊\u{fffd}31m\u{fffd}gpj.exe");
        assert_eq!(sanitize("café ✓.jpg"), "café ✓.jpg");
    }

    #[test]
    fn export_stems_are_plain() {
        use std::path::Path;
        assert_eq!(file_stem(Path::new("a/b c\x1b[1m.jpg")), "b_c__1m");
        assert_eq!(file_stem(Path::new(".hidden.png")), "_.hidden");
        assert_eq!(file_stem(Path::new("../x/../../y.jpg")), "y");
    }
}
