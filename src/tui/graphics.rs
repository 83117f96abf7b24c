//! Full-resolution photos through a terminal graphics protocol (kitty, iTerm2, sixel) via
//! viuer. Such images live outside ratatui's cell buffer, so whenever what they show or where
//! changes, the old ones are removed first (kitty: delete command; iTerm2 and sixel: a full
//! redraw) and the new ones are printed after the frame.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Result};
use image::{DynamicImage, RgbImage};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;

use super::blocks;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GraphicsArg {
    /// A graphics protocol when the terminal has one and we are not inside tmux/screen,
    /// else half-blocks
    #[default]
    Auto,
    /// Half-block characters in true colour (or 256 colours): works everywhere
    Blocks,
    Kitty,
    Iterm,
    Sixel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kitty,
    Iterm,
    Sixel,
}

/// Inside tmux or GNU screen, escape-sequence graphics do not reach the outer terminal as
/// placed images.
pub fn in_multiplexer() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    std::env::var_os("TMUX").is_some()
        || std::env::var_os("STY").is_some()
        || term.starts_with("screen")
        || term.starts_with("tmux")
}

/// The protocol to draw photos with (`None`: half-blocks). Queries the terminal, so it must
/// run before raw mode and before anything else reads the keyboard. A protocol asked for by
/// name that the terminal does not answer to is an error, not a quiet fallback.
pub fn choose(arg: GraphicsArg) -> Result<Option<Protocol>> {
    let kitty = || viuer::get_kitty_support() != viuer::KittySupport::None;
    match arg {
        GraphicsArg::Blocks => Ok(None),
        GraphicsArg::Auto => {
            if in_multiplexer() {
                return Ok(None);
            }
            Ok(if viuer::is_iterm_supported() {
                Some(Protocol::Iterm)
            } else if kitty() {
                Some(Protocol::Kitty)
            } else if viuer::is_sixel_supported() {
                Some(Protocol::Sixel)
            } else {
                None
            })
        }
        GraphicsArg::Kitty => {
            if !kitty() {
                bail!("this terminal does not answer the kitty graphics query; use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Kitty))
        }
        GraphicsArg::Iterm => {
            if !viuer::is_iterm_supported() {
                bail!("this terminal does not identify as iTerm2/WezTerm (TERM_PROGRAM); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Iterm))
        }
        GraphicsArg::Sixel => {
            if !viuer::is_sixel_supported() {
                bail!("this terminal does not report sixel support (device attributes); use --graphics blocks (or auto)");
            }
            Ok(Some(Protocol::Sixel))
        }
    }
}

/// What is on screen: each image's cells and identity.
type Shown = Vec<(Rect, usize)>;

pub struct Painter {
    pub protocol: Protocol,
    shown: Option<Shown>,
}

impl Painter {
    pub fn new(protocol: Protocol) -> Self {
        Painter {
            protocol,
            shown: None,
        }
    }

    /// Forget what is shown (after a resize the terminal may have moved or cut images).
    pub fn invalidate(&mut self) {
        self.shown = None;
    }

    fn wanted(images: &[(Rect, Arc<RgbImage>)]) -> Shown {
        images
            .iter()
            .map(|(r, img)| {
                let (cells, _, _) = blocks::placement(img.width(), img.height(), *r);
                (cells, Arc::as_ptr(img) as usize)
            })
            .collect()
    }

    /// Before the frame: removes stale images. Returns whether images must be printed after.
    pub fn before<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        images: &[(Rect, Arc<RgbImage>)],
    ) -> Result<bool>
    where
        B::Error: Send + Sync + 'static,
    {
        let wanted = Self::wanted(images);
        if self.shown.as_ref() == Some(&wanted) {
            return Ok(false);
        }
        match self.protocol {
            Protocol::Kitty => {
                let mut out = std::io::stdout().lock();
                // Delete every image placement of ours (a=d, d=A: all, and free the data).
                out.write_all(b"\x1b_Ga=d,d=A\x1b\\")?;
                out.flush()?;
            }
            // Text cells drawn over them erase sixel and iTerm2 images: redraw everything.
            Protocol::Iterm | Protocol::Sixel => terminal.clear()?,
        }
        self.shown = None;
        Ok(true)
    }

    /// After the frame: prints the images into their cells.
    pub fn after(&mut self, images: &[(Rect, Arc<RgbImage>)]) -> Result<()> {
        for (area, img) in images {
            let (cells, _, _) = blocks::placement(img.width(), img.height(), *area);
            let config = viuer::Config {
                x: cells.x,
                y: cells.y as i16,
                width: Some(cells.width as u32),
                height: Some(cells.height as u32),
                absolute_offset: true,
                restore_cursor: true,
                transparent: false,
                truecolor: true,
                use_kitty: self.protocol == Protocol::Kitty,
                use_iterm: self.protocol == Protocol::Iterm,
                use_sixel: self.protocol == Protocol::Sixel,
                ..viuer::Config::default()
            };
            viuer::print(&DynamicImage::ImageRgb8((**img).clone()), &config).map_err(|e| {
                anyhow::anyhow!("cannot draw the photo through {:?}: {e}", self.protocol)
            })?;
        }
        self.shown = Some(Self::wanted(images));
        Ok(())
    }
}
