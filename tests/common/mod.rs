//! Shared helpers for the integration tests: one embedder per test binary, fixture paths.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use simtui::engine::Embedder;
use simtui::model::Preprocess;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn photo(name: &str) -> PathBuf {
    fixtures().join("photos").join(name)
}

/// Every fixture photo, sorted by name.
pub fn all_photos() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("photos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    v.sort();
    v
}

/// The group of a fixture photo: its file name up to the first `_` ("bird", "pet", ...).
pub fn group(p: &Path) -> String {
    let name = p.file_name().unwrap().to_string_lossy();
    name.split('_').next().unwrap().to_string()
}

pub fn embedder() -> &'static Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| Embedder::new(None, Preprocess::default()).expect("bundled weights load"))
}

/// The simtui binary under test.
pub fn simtui() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_simtui"))
}

/// A fresh folder under the system temp dir, removed when dropped.
pub struct Temp(pub PathBuf);

impl Temp {
    pub fn new(name: &str) -> Temp {
        let p = std::env::temp_dir().join(format!("simtui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
