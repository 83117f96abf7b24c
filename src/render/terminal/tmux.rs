//! tmux between simtui and the terminal: passthrough (`ESC Ptmux; … ESC \`, inner ESCs
//! doubled) carries escape sequences to the outer terminal when the pane allows it
//! (`allow-passthrough`, tmux 3.3+); what tmux says about itself decides which protocol can
//! get through.

/// `seq` wrapped so that tmux hands it to the outer terminal unchanged (it drops it when
/// `allow-passthrough` is off).
pub fn passthrough(seq: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seq.len() + seq.len() / 64 + 16);
    out.extend_from_slice(b"\x1bPtmux;");
    for &b in seq {
        if b == 0x1b {
            out.push(0x1b);
        }
        out.push(b);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// What tmux reports about the pane simtui runs in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TmuxInfo {
    /// `#{version}`, as (major, minor); `None` where it could not be read.
    pub version: Option<(u32, u32)>,
    /// `allow-passthrough` is `on` or `all`.
    pub passthrough: bool,
    /// The outer terminal's TERM as tmux's client reports it (`#{client_termname}`), empty
    /// when no client is attached.
    pub client_term: String,
    /// The outer terminal's own name and version as tmux learnt them from its XTVERSION
    /// reply (`#{client_termtype}`, e.g. `kitty(0.26.5)`); empty where tmux has none.
    pub client_type: String,
}

/// The first kitty release that draws Unicode placeholders (older ones show the placeholder
/// characters themselves, as boxes).
pub const KITTY_PLACEHOLDERS_SINCE: (u32, u32, u32) = (0, 28, 0);

impl TmuxInfo {
    /// tmux 3.4 and later draw sixel images themselves (when built with sixel).
    pub fn draws_sixel(&self) -> bool {
        self.version.is_some_and(|v| v >= (3, 4))
    }

    /// The outer terminal is known by name to speak kitty graphics.
    pub fn client_speaks_kitty(&self) -> bool {
        let t = self.client_term.to_ascii_lowercase();
        t.contains("kitty") || t.contains("ghostty")
    }

    /// The outer kitty's version where tmux knows it, when it is too old to draw Unicode
    /// placeholders (kitty 0.26 shows a grid of boxes instead of the photo).
    pub fn kitty_without_placeholders(&self) -> Option<(u32, u32, u32)> {
        let v = parse_kitty_type(&self.client_type)?;
        (v < KITTY_PLACEHOLDERS_SINCE).then_some(v)
    }

    /// Photos can go through as kitty Unicode placeholders: passthrough is on and the outer
    /// terminal speaks kitty graphics, in a release that draws placeholders.
    pub fn kitty_placeholders(&self) -> bool {
        self.passthrough
            && self.client_speaks_kitty()
            && self.kitty_without_placeholders().is_none()
    }
}

/// `kitty(0.26.5)` (tmux's `#{client_termtype}` for kitty) → (0, 26, 5); `None` for other
/// terminals or no version.
pub fn parse_kitty_type(s: &str) -> Option<(u32, u32, u32)> {
    let inner = s.trim().strip_prefix("kitty(")?.strip_suffix(')')?;
    let mut parts = inner.split('.').map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

/// `3.3a`, `3.4`, `next-3.5`, `openbsd-7.4` → (major, minor) where there is one.
pub fn parse_version(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let mut parts = s[start..].split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()
        .unwrap_or("0")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().unwrap_or(0)))
}

/// `allow-passthrough`'s value lets sequences through.
pub fn parse_passthrough(s: &str) -> bool {
    matches!(s.trim(), "on" | "all")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_doubles_every_inner_escape() {
        let kitty = b"\x1b_Ga=T,q=2;AAAA\x1b\\";
        let wrapped = passthrough(kitty);
        assert_eq!(
            wrapped,
            b"\x1bPtmux;\x1b\x1b_Ga=T,q=2;AAAA\x1b\x1b\\\x1b\\".to_vec()
        );
        // Unwrapping as tmux does (strip the envelope, undouble) gives the sequence back.
        let inner = &wrapped[7..wrapped.len() - 2];
        let mut back = Vec::new();
        let mut i = 0;
        while i < inner.len() {
            back.push(inner[i]);
            i += if inner[i] == 0x1b { 2 } else { 1 };
        }
        assert_eq!(back, kitty.to_vec());
        // The envelope ends at the first lone ESC \: no lone ESC inside.
        assert!(!inner
            .windows(2)
            .enumerate()
            .any(|(i, w)| w == b"\x1b\\" && (i == 0 || inner[i - 1] != 0x1b)));
    }

    #[test]
    fn tmux_versions_and_options_are_read_as_tmux_prints_them() {
        assert_eq!(parse_version("3.3a\n"), Some((3, 3)));
        assert_eq!(parse_version("3.4"), Some((3, 4)));
        assert_eq!(parse_version("next-3.5"), Some((3, 5)));
        assert_eq!(parse_version("garbage"), None);
        let info = |v| TmuxInfo {
            version: parse_version(v),
            ..TmuxInfo::default()
        };
        assert!(!info("3.3a").draws_sixel() && info("3.4").draws_sixel());
        assert!(parse_passthrough("on\n") && parse_passthrough("all"));
        assert!(!parse_passthrough("off") && !parse_passthrough(""));
    }

    #[test]
    fn a_kitty_too_old_for_placeholders_gets_none() {
        // Seen under Xvfb: kitty 0.26.5 in tmux 3.3a drew the placeholder grid as boxes.
        assert_eq!(parse_kitty_type("kitty(0.26.5)"), Some((0, 26, 5)));
        assert_eq!(parse_kitty_type("kitty(0.35)"), Some((0, 35, 0)));
        assert_eq!(parse_kitty_type("XTerm(379)"), None);
        assert_eq!(parse_kitty_type(""), None);
        let outer = |term: &str, ty: &str| TmuxInfo {
            version: Some((3, 3)),
            passthrough: true,
            client_term: term.into(),
            client_type: ty.into(),
        };
        let old = outer("xterm-kitty", "kitty(0.26.5)");
        assert!(old.client_speaks_kitty() && !old.kitty_placeholders());
        assert_eq!(old.kitty_without_placeholders(), Some((0, 26, 5)));
        assert!(outer("xterm-kitty", "kitty(0.28.0)").kitty_placeholders());
        // No XTVERSION reply known: the name decides, as before.
        assert!(outer("xterm-kitty", "").kitty_placeholders());
        let off = TmuxInfo {
            passthrough: false,
            ..outer("xterm-kitty", "kitty(0.35.2)")
        };
        assert!(!off.kitty_placeholders());
    }
}
