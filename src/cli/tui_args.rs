//! The TUI's command-line options (`simtui DIR …`) and their mapping to the plain options
//! the TUI takes.

use std::path::PathBuf;

use clap::Args;

use super::MethodArg;
use crate::explain::DEFAULT_METHOD;
use crate::tui::graphics::Graphics;
use crate::tui::{Colors, TuiOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GraphicsArg {
    /// A graphics protocol when the terminal answers to one (inside tmux: kitty through
    /// passthrough, or sixel drawn by tmux 3.4+), else half-blocks
    #[default]
    Auto,
    /// Half-block characters in true colour (or 256 colours): works everywhere
    Blocks,
    Kitty,
    Iterm,
    Sixel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorsArg {
    /// True colour when the terminal announces it (COLORTERM) or is known to have it
    #[default]
    Auto,
    Truecolor,
    /// The xterm 256-colour palette
    #[value(name = "256")]
    Ansi256,
}

#[derive(Args, Debug, Clone)]
pub struct TuiArgs {
    /// How photos are drawn: a graphics protocol, or half-block characters
    #[arg(long, value_enum, default_value_t)]
    pub graphics: GraphicsArg,
    /// Colours of half-block photos
    #[arg(long, value_enum, default_value_t)]
    pub colors: ColorsArg,
    /// Where `e` writes PNGs (default: the current folder); existing files are never replaced
    #[arg(long, value_name = "DIR")]
    pub export_dir: Option<PathBuf>,
    /// Number of neighbours shown (change with + and -)
    #[arg(short, default_value_t = crate::tui::app::DEFAULT_K)]
    pub k: usize,
    /// Saliency method shown first (cycle with m)
    #[arg(long, value_enum, default_value_t = MethodArg::from(DEFAULT_METHOD))]
    pub method: MethodArg,
    /// Log file (default: simtui.log in the cache folder)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

impl From<GraphicsArg> for Graphics {
    fn from(g: GraphicsArg) -> Self {
        match g {
            GraphicsArg::Auto => Graphics::Auto,
            GraphicsArg::Blocks => Graphics::Blocks,
            GraphicsArg::Kitty => Graphics::Kitty,
            GraphicsArg::Iterm => Graphics::Iterm,
            GraphicsArg::Sixel => Graphics::Sixel,
        }
    }
}

impl From<ColorsArg> for Colors {
    fn from(c: ColorsArg) -> Self {
        match c {
            ColorsArg::Auto => Colors::Auto,
            ColorsArg::Truecolor => Colors::TrueColor,
            ColorsArg::Ansi256 => Colors::Ansi256,
        }
    }
}

impl From<TuiArgs> for TuiOptions {
    fn from(a: TuiArgs) -> Self {
        TuiOptions {
            graphics: a.graphics.into(),
            colors: a.colors.into(),
            export_dir: a.export_dir,
            k: a.k,
            method: a.method.into(),
            log: a.log,
        }
    }
}
