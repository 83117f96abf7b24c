//! `simtui bench`'s arguments: the clap side of `crate::bench::Options`, turned into that plain
//! struct before the benchmarks run (so `bench` needs nothing from `cli`).

use std::path::PathBuf;

use crate::bench::{self, Options, Suite};

/// What to measure (clap's mirror of `bench::Suite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchSuite {
    /// Forward throughput and one forward+backward, against tools/bench_torch.py
    Model,
    /// Saliency maps and the faithfulness evaluation, against tools/bench_captum.py
    Explain,
    /// End-to-end indexing of 200 12-MP and 200 1-MP JPEGs, against tools/bench_pipeline.py
    Index,
    /// Top-10 query over 100 000 embeddings, against tools/bench_query.py (numpy)
    Query,
    /// Peak memory while indexing 10 000 photos
    Memory,
    /// TUI responsiveness: start-up on a cached folder of 10 000 photos, key → frame while indexing
    Tui,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Which benchmark to run
    #[arg(value_enum, default_value_t = BenchSuite::Model)]
    pub suite: BenchSuite,
    /// Batch sizes to time the forward pass at
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,32")]
    pub batches: Vec<usize>,
    /// Seconds to spend on each measured case
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Python with torch and the reference packages (default: .venv/bin/python in the current
    /// folder, then python3)
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
    /// Measure simtui only
    #[arg(long)]
    pub no_torch: bool,
    /// Print the figures as one JSON object
    #[arg(long)]
    pub json: bool,
    /// The fixture photos (explain's pair; the sources of the generated photo sets)
    #[arg(long, value_name = "DIR", default_value = bench::DEFAULT_PHOTOS)]
    pub photos: PathBuf,
    /// Where the generated photo sets are made once and reused
    #[arg(long, value_name = "DIR", default_value = bench::DEFAULT_WORK_DIR)]
    pub work_dir: PathBuf,
    /// The folder of the Python peer scripts (bench_torch.py, bench_captum.py, …)
    #[arg(long, value_name = "DIR", default_value = bench::DEFAULT_TOOLS)]
    pub tools: PathBuf,
}

impl From<BenchSuite> for Suite {
    fn from(s: BenchSuite) -> Self {
        match s {
            BenchSuite::Model => Suite::Model,
            BenchSuite::Explain => Suite::Explain,
            BenchSuite::Index => Suite::Index,
            BenchSuite::Query => Suite::Query,
            BenchSuite::Memory => Suite::Memory,
            BenchSuite::Tui => Suite::Tui,
        }
    }
}

impl From<BenchArgs> for Options {
    fn from(a: BenchArgs) -> Self {
        Options {
            suite: a.suite.into(),
            batches: a.batches,
            seconds: a.seconds,
            python: a.python,
            no_torch: a.no_torch,
            json: a.json,
            photos: a.photos,
            work_dir: a.work_dir,
            tools: a.tools,
        }
    }
}
