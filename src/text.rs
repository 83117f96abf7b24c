//! Text for people, made from what the disk says. A crafted file name can carry terminal escape
//! sequences or newlines; everything the TUI draws and the command line prints for a person
//! passes through [`sanitize`] first (on a terminal and on a pipe alike): control characters
//! become visible symbols, so `evil\x1b]0;pwned\x07.jpg` shows as `evil␛]0;pwned␇.jpg` and
//! does nothing. JSON stays exact instead ([`path_bytes`] for names that are not UTF-8).

/// A printable version of `s`: C0 controls as their Unicode control pictures (␛, ␇, …), DEL
/// as ␡, C1 controls and bidirectional overrides as U+FFFD.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' => '\u{fffd}',
            // Bidi embeddings, overrides and isolates reorder what follows them on screen.
            '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{61c}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A path as shown on screen: lossy UTF-8, then [`sanitize`].
pub fn path(p: &std::path::Path) -> String {
    sanitize(&p.to_string_lossy())
}

/// The exact bytes of a path that is not valid UTF-8, as lowercase hex (`None` for UTF-8
/// paths, whose lossy string is already exact): what JSON output adds as `"path_bytes"`, so a
/// script can find the file again.
pub fn path_bytes(p: &std::path::Path) -> Option<String> {
    if p.to_str().is_some() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::fmt::Write as _;
        use std::os::unix::ffi::OsStrExt;
        let mut hex = String::new();
        for b in p.as_os_str().as_bytes() {
            let _ = write!(hex, "{b:02x}");
        }
        Some(hex)
    }
    #[cfg(not(unix))]
    {
        None
    }
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
