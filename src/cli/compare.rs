//! `compare A B`: a pair verdict for scripts. Prints the centred score of the two photos
//! (embedded the way `index` embeds, so it equals what `similar` and `dups` report) and exits
//! 0 at or above the threshold, 1 below; errors exit 2 (main.rs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::output::JsonPath;
use crate::engine::Embedder;
use crate::explain::correspondence::{CellPair, Correspondence};
use crate::explain::pair::file_name;
use crate::index::query::embed_like_index;
use crate::index::region::cell_features;
use crate::space::Similarity;

/// Cell pairs `--json` lists.
const TOP_PAIRS: usize = 10;

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Centred cosine at or above which the two are the same picture (exit 0), in [-1, 1]
    #[arg(long, default_value_t = super::DEFAULT_DUP_THRESHOLD, value_parser = super::parse_cosine)]
    pub threshold: f32,
    /// One JSON object: {"a", "b", "score", "threshold", "same", "space", "correspondences"}
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonPair {
    a: usize,
    b: usize,
    /// The pair's share of the score.
    contribution: f32,
    /// The cells in each photo's upright pixels, [x0, y0, x1, y1).
    a_box: [u32; 4],
    b_box: [u32; 4],
}

#[derive(Serialize)]
struct CompareOutput {
    a: JsonPath,
    b: JsonPath,
    score: f32,
    threshold: f32,
    same: bool,
    space: String,
    correspondences: Vec<JsonPair>,
}

pub fn compare(embedder: &Embedder, args: &CompareArgs) -> Result<ExitCode> {
    let space = embedder.space(Similarity::Centred);
    let ea = embed_like_index(embedder, &args.a)?;
    let eb = embed_like_index(embedder, &args.b)?;
    let score = space.score(&ea, &eb);
    let same = score >= args.threshold;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut maps = cell_features(embedder, &[args.a.clone(), args.b.clone()])?.into_iter();
        let fa = maps.next().context("a's cell map")??;
        let fb = maps.next().context("b's cell map")??;
        let m = Correspondence::between(&space, &fa.feature_map, &fb.feature_map)?;
        let pair = |p: CellPair| JsonPair {
            a: p.a,
            b: p.b,
            contribution: p.contribution,
            a_box: m.cell_box(p.a, fa.width, fa.height),
            b_box: m.cell_box(p.b, fb.width, fb.height),
        };
        let o = CompareOutput {
            a: JsonPath::new(&args.a),
            b: JsonPath::new(&args.b),
            score,
            threshold: args.threshold,
            same,
            space: space.version().to_string(),
            correspondences: m.top_pairs(TOP_PAIRS).into_iter().map(pair).collect(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&o)?)?;
    } else {
        writeln!(
            out,
            "{score:.4}  {} (threshold {}): {} ↔ {}",
            if same { "same" } else { "different" },
            args.threshold,
            crate::text::sanitize(&file_name(&args.a)),
            crate::text::sanitize(&file_name(&args.b)),
        )?;
    }
    Ok(if same {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
