//! What the command line writes: paths for people (sanitised) and for scripts (exact), and
//! output files that never replace an input.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::text;

/// A path as a person reads it: lossy UTF-8 with control and bidi characters made visible, so
/// a crafted file name cannot drive the terminal or forge extra lines.
pub fn human(p: &Path) -> String {
    text::path(p)
}

/// A path in JSON: `"path"` (lossy UTF-8, exact for UTF-8 names) and, only for names that are
/// not UTF-8, `"path_bytes"` (the exact bytes in hex).
#[derive(Debug, Clone, Serialize)]
pub struct JsonPath {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
}

impl JsonPath {
    pub fn new(p: &Path) -> Self {
        JsonPath {
            path: p.to_string_lossy().into_owned(),
            path_bytes: text::path_bytes(p),
        }
    }
}

/// (device, inode) of an existing file, following links.
#[cfg(unix)]
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(p: &Path) -> Option<PathBuf> {
    p.canonicalize().ok()
}

/// Whether `output` is safe to write: refused when it is the same file as one of `inputs`
/// (by device and inode, whatever the path says), even with `force`; refused when it exists
/// and `force` is not given. The flag name goes into the message.
pub fn check_output<'a>(
    output: &Path,
    force: bool,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<()> {
    let Some(target) = identity(output) else {
        // Does not exist (or cannot be read): nothing to lose. A dangling link is replaced by
        // the write itself, which follows it to a new file.
        return Ok(());
    };
    for input in inputs {
        if identity(input).as_ref() == Some(&target) {
            bail!(
                "{} is one of the input photos: refusing to write over it (even with --force); choose another output path",
                human(output)
            );
        }
    }
    if !force {
        bail!(
            "{} exists: refusing to replace it (pass --force to replace it)",
            human(output)
        );
    }
    Ok(())
}

/// The output files of one command, checked together before any is written.
pub fn check_outputs(outputs: &[PathBuf], force: bool, inputs: &[&Path]) -> Result<()> {
    for o in outputs {
        check_output(o, force, inputs.iter().copied())?;
    }
    Ok(())
}
