//! Finding the photos of a folder: recursive by default, hidden entries skipped, symlinks not
//! followed unless asked (loops are then detected), unreadable entries reported, not fatal.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Result};
use walkdir::{DirEntry, WalkDir};

/// Photo formats we decode, by extension (case-insensitive), and the phone formats we list
/// so that they are reported as unsupported rather than silently ignored; everything else is
/// ignored.
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif", "avif",
];

#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    pub recursive: bool,
    pub follow_links: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            recursive: true,
            follow_links: false,
        }
    }
}

/// One photo file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path under the scanned root (the cache key; any bytes, not only UTF-8).
    pub rel: PathBuf,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<FileEntry>,
    /// Entries that could not be read (permissions, symlink loops), with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

pub fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn is_hidden(e: &DirEntry) -> bool {
    e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.')
}

/// The photos under `root`, sorted by path. Fails only when `root` itself is unusable.
pub fn scan(root: &Path, opts: ScanOptions) -> Result<Scan> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{} is not a folder", root.display()),
        Err(e) => bail!("cannot read folder {}: {e}", root.display()),
    }
    let mut out = Scan::default();
    let walker = WalkDir::new(root)
        .follow_links(opts.follow_links)
        .max_depth(if opts.recursive { usize::MAX } else { 1 })
        .into_iter()
        .filter_entry(|e| !is_hidden(e));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                let reason = if err.loop_ancestor().is_some() {
                    "symbolic link loop".to_string()
                } else {
                    err.io_error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| err.to_string())
                };
                out.errors.push((path, reason));
                continue;
            }
        };
        // With follow_links, walkdir reports the target's type.
        if !entry.file_type().is_file() {
            continue;
        }
        if !is_image(entry.path()) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                out.errors.push((entry.path().to_path_buf(), e.to_string()));
                continue;
            }
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .to_path_buf();
        out.files.push(FileEntry {
            rel,
            size: meta.len(),
            mtime_ns,
        });
    }
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}
