//! Re-export of [`crate::text`]: what the TUI shows of a file name is what the command line prints.

pub use crate::text::{file_stem, path, sanitize};
