//! `simtui bench`: the benchmark suites, their plain options, the timing helpers they share and
//! the peer scripts (tools/*.py) they run beside simtui. `cli` parses the arguments into
//! `Options`; nothing here uses `cli`. Every path (fixture photos, generated photo sets, the
//! peer scripts, Python) comes from `Options`, with defaults relative to the current folder, so
//! the shipped binary carries no source-tree paths.

mod explain;
mod index;
mod model;
mod tui;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::engine::Embedder;

/// The photos the suites read (explain's pair, the sources of the generated sets).
pub const DEFAULT_PHOTOS: &str = "fixtures/photos";
/// Where the generated photo sets are made once and reused.
pub const DEFAULT_WORK_DIR: &str = "target/bench-photos";
/// The folder holding the peer scripts (bench_torch.py and friends).
pub const DEFAULT_TOOLS: &str = "tools";
/// The Python of the reference venv (tools/README.md), tried before `python3` on the PATH.
pub const DEFAULT_VENV_PYTHON: &str = ".venv/bin/python";

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Forward throughput and one forward+backward, against tools/bench_torch.py.
    Model,
    /// Saliency maps and the faithfulness evaluation, against tools/bench_captum.py.
    Explain,
    /// End-to-end indexing of 200 12-MP and 200 1-MP JPEGs, against tools/bench_pipeline.py.
    Index,
    /// Top-10 query over 100 000 embeddings, against tools/bench_query.py (numpy).
    Query,
    /// Peak memory while indexing 10 000 photos.
    Memory,
    /// TUI responsiveness: start-up on a cached folder of 10 000 photos, key → frame while
    /// indexing.
    Tui,
}

/// Everything a suite needs to know; `cli` fills it from `simtui bench`'s arguments.
#[derive(Debug, Clone)]
pub struct Options {
    pub suite: Suite,
    /// Batch sizes to time the forward pass at.
    pub batches: Vec<usize>,
    /// Seconds to spend on each measured case.
    pub seconds: f64,
    /// Python with torch and the reference packages; `None`: `DEFAULT_VENV_PYTHON` when it
    /// exists, else `python3`.
    pub python: Option<PathBuf>,
    /// Measure simtui only.
    pub no_torch: bool,
    /// Print the figures as one JSON object.
    pub json: bool,
    /// The fixture photos (`DEFAULT_PHOTOS`).
    pub photos: PathBuf,
    /// Where generated photo sets live (`DEFAULT_WORK_DIR`).
    pub work_dir: PathBuf,
    /// The folder of the peer scripts (`DEFAULT_TOOLS`).
    pub tools: PathBuf,
}

pub fn run(embedder: &Embedder, opts: &Options) -> Result<()> {
    match opts.suite {
        Suite::Model => model::run(embedder, opts),
        Suite::Explain => explain::run(embedder, opts),
        Suite::Index => index::run_index(embedder, opts),
        Suite::Query => index::run_query(opts),
        Suite::Memory => index::run_memory(embedder, opts),
        Suite::Tui => tui::run(embedder, opts),
    }
}

/// Fails unless `path` exists, naming it and the flag that points elsewhere: the defaults are
/// relative to the current folder, so a run outside the repository lands here.
fn require(path: &Path, what: &str, flag: &str) -> Result<()> {
    anyhow::ensure!(
        path.exists(),
        "{what} {} not found: run from the repository root or pass {flag}",
        path.display()
    );
    Ok(())
}

/// Runs `f` repeatedly for about `seconds` (at least `min_runs` times) after one warm-up,
/// returning each run's duration.
fn time_runs(
    seconds: f64,
    min_runs: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<Vec<Duration>> {
    f()?;
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut runs = Vec::new();
    while runs.len() < min_runs || start.elapsed() < budget {
        let t = Instant::now();
        f()?;
        runs.push(t.elapsed());
    }
    Ok(runs)
}

fn median_ms(runs: &mut [Duration]) -> f64 {
    runs.sort();
    runs[runs.len() / 2].as_secs_f64() * 1e3
}

/// The number at `path` in a peer's JSON.
fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

fn find_python(opts: &Options) -> PathBuf {
    if let Some(p) = &opts.python {
        return p.clone();
    }
    let venv = PathBuf::from(DEFAULT_VENV_PYTHON);
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// Runs a peer benchmark script from the tools folder and parses the one JSON object it prints.
fn run_peer(opts: &Options, script: &Path, extra: &[String]) -> Result<Value> {
    require(script, "peer script", "--tools DIR (or --no-torch)")?;
    let python = find_python(opts);
    let out = Command::new(&python)
        .arg(script)
        .arg("--json-only")
        .args(extra)
        .output()
        .with_context(|| format!("cannot run {} (pass --python PYTHON)", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        anyhow::bail!(
            "{} {} failed: {}",
            python.display(),
            script.display(),
            tail.join(" | ")
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{} printed no JSON", script.display()))
}

/// The peer's figures, or why there are none (skipped, missing, failed): a suite prints
/// simtui's side either way.
fn peer(opts: &Options, script: &str, extra: &[String]) -> (Option<Value>, Option<String>) {
    if opts.no_torch {
        return (None, Some("skipped (--no-torch)".to_string()));
    }
    let script = opts.tools.join(script);
    eprintln!("running the PyTorch peer ({}) …", script.display());
    match run_peer(opts, &script, extra) {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    }
}
