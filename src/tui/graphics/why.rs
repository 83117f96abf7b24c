//! Why photos are half-blocks where images might have been possible, and how they reach the
//! screen otherwise: the status bar keeps a [`Fallback`]'s marker, the help popup says
//! [`Images::help_lines`].

use super::{Driver, Protocol};

/// Why photos are half-blocks where images might have been possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// A few words kept in the status bar ("half-blocks: tmux allow-passthrough off").
    pub marker: String,
    /// The whole reason, to follow "half-blocks because".
    pub reason: String,
    /// What would let images through, where one setting would.
    pub fix: Option<String>,
}

impl Fallback {
    pub(super) fn new(marker: &str, reason: String, fix: Option<&str>) -> Fallback {
        Fallback {
            marker: format!("half-blocks: {marker}"),
            reason,
            fix: fix.map(str::to_string),
        }
    }

    /// One line for the log and the status line at start-up.
    pub fn line(&self) -> String {
        match &self.fix {
            Some(fix) => format!("photos in half-blocks: {} ({fix})", self.reason),
            None => format!("photos in half-blocks: {}", self.reason),
        }
    }
}

/// How photos reach the screen: the help popup says it, and the status bar keeps the
/// marker of a fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Images {
    /// The graphics protocol's name; `None`: half-blocks.
    pub protocol: Option<&'static str>,
    pub fallback: Option<Fallback>,
    /// Why photos are half-blocks where nothing better was on offer.
    pub plain: Option<&'static str>,
}

impl Images {
    /// Half-blocks from now on because `protocol` failed with `error` mid-session.
    pub fn failed(protocol: Protocol, error: &str) -> Images {
        Images {
            protocol: None,
            fallback: Some(Fallback::new(
                &format!("{protocol:?} failed"),
                format!("{protocol:?} graphics failed: {error}"),
                None,
            )),
            plain: None,
        }
    }

    /// The help popup's lines: how photos are drawn, and the setting that would let images
    /// through, each a paragraph.
    pub fn help_lines(&self) -> Vec<String> {
        match (&self.fallback, self.protocol) {
            (Some(f), _) => {
                let mut lines = vec![format!("Images: half-blocks because {}.", f.reason)];
                lines.extend(f.fix.clone());
                lines
            }
            (None, Some(p)) => vec![format!("Images: {p} (half-blocks while a popup is open)")],
            (None, None) => vec![match self.plain {
                Some(why) => format!("Images: half-blocks, as {why}"),
                None => "Images: half-blocks".to_string(),
            }],
        }
    }
}

/// A driver's name as the help popup says it.
pub(super) fn name(driver: Driver) -> &'static str {
    match (driver.protocol, driver.in_tmux) {
        (Protocol::Kitty, true) => "kitty graphics through tmux (Unicode placeholders)",
        (Protocol::Kitty, false) => "kitty graphics",
        (Protocol::Sixel, true) => "sixel, drawn by tmux",
        (Protocol::Sixel, false) => "sixel",
        (Protocol::Iterm, _) => "iTerm2 images",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_the_protocol_or_the_reason_for_half_blocks() {
        let kitty = Images {
            protocol: Some(name(Driver::direct(Protocol::Kitty))),
            fallback: None,
            plain: None,
        };
        assert_eq!(
            kitty.help_lines(),
            ["Images: kitty graphics (half-blocks while a popup is open)"]
        );
        // A protocol that fails mid-session: half-blocks from then on, and the marker says so.
        let failed = Images::failed(Protocol::Sixel, "broken pipe");
        let f = failed.fallback.as_ref().unwrap();
        assert_eq!(f.marker, "half-blocks: Sixel failed");
        assert_eq!(
            failed.help_lines(),
            ["Images: half-blocks because Sixel graphics failed: broken pipe."]
        );
        assert_eq!(Images::default().help_lines(), ["Images: half-blocks"]);
    }
}
