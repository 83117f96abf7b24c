//! Finding the photos of a folder: `scan` walks it (recursive by default, hidden entries
//! skipped, symlinks not followed unless asked, loops detected, unreadable entries reported,
//! not fatal); `list_images` lists one folder's photos without a walk.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
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

/// The photos directly inside `dir` (no walk, hidden files included), sorted; an error names
/// the folder.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    paths.sort();
    Ok(paths)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_images_lists_one_folder_sorted_and_names_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("simtui-list-images-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        for name in ["b.jpg", "A.PNG", "notes.txt", "nested/c.jpg"] {
            std::fs::write(dir.join(name), b"not decoded here").unwrap();
        }
        let names: Vec<String> = list_images(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["A.PNG", "b.jpg"]);

        let missing = dir.join("gone");
        let err = format!("{:#}", list_images(&missing).unwrap_err());
        assert!(err.contains(&*missing.to_string_lossy()), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
