//! `compare A B`: a pair verdict for scripts. Prints the centred score of the two photos
//! (embedded the way `index` embeds, so it equals what `similar` and `dups` report) and exits
//! 0 at or above the threshold, 1 below; errors exit 2 (main.rs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::explain::ExplainArgs;
use super::output::{check_outputs, human, JsonPath};
use crate::engine::Embedder;
use crate::explain::correspondence::{CellPair, Correspondence};
use crate::explain::pair::file_name;
use crate::explain::pair::PairService;
use crate::explain::Explainer;
use crate::index::query::embed_like_index;
use crate::index::region::cell_features;
use crate::render::correspondence::{figure, DEFAULT_PAIRS};
use crate::space::Space;

/// Cell pairs `--json` lists.
const TOP_PAIRS: usize = 10;

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Similarity at or above which the two are the same picture (exit 0), in [-1, 1]
    /// [default: `dups`' default: 0.685 centred, 0.90 plain]
    #[arg(long, value_parser = super::parse_cosine)]
    pub threshold: Option<f32>,
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

pub fn compare(
    embedder: &Embedder,
    space: &Space,
    threshold: f32,
    args: &CompareArgs,
) -> Result<ExitCode> {
    let ea = embed_like_index(embedder, &args.a)?;
    let eb = embed_like_index(embedder, &args.b)?;
    let score = space.score(&ea, &eb);
    let same = score >= threshold;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut maps = cell_features(embedder, &[args.a.clone(), args.b.clone()])?.into_iter();
        let fa = maps.next().context("a's cell map")??;
        let fb = maps.next().context("b's cell map")??;
        let m = Correspondence::between(space, &fa.feature_map, &fb.feature_map)?;
        let pair = |p| json_pair(&m, p, (fa.width, fa.height), (fb.width, fb.height));
        let o = CompareOutput {
            a: JsonPath::new(&args.a),
            b: JsonPath::new(&args.b),
            score,
            threshold,
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
            threshold,
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

/// `explain A B --correspondence [-o PNG] [--json]`: the pair's strongest cell pairs in the
/// centred space, drawn and/or listed. Photos are decoded at full size, as `explain` does.
pub fn explain_correspondence(
    embedder: &Embedder,
    space: &Space,
    args: &ExplainArgs,
) -> Result<ExitCode> {
    let outputs: Vec<PathBuf> = args.output.iter().cloned().collect();
    check_outputs(&outputs, args.force, &[args.a.as_path(), args.b.as_path()])?;
    // The pair service loads both photos (full resolution, upright) with the cells of their
    // one network pass, as `explain` does.
    let service = PairService::new(Explainer::in_space(
        embedder,
        Default::default(),
        space.clone(),
    ));
    let (a, b) = (service.load(&args.a)?, service.load(&args.b)?);
    let (ia, ib) = (&a.image, &b.image);
    let m = Correspondence::between(space, &a.prepared.cells, &b.prepared.cells)?;
    let pairs = m.top_pairs(DEFAULT_PAIRS);
    let (an, bn) = (file_name(&args.a), file_name(&args.b));
    let names = [crate::text::sanitize(&an), crate::text::sanitize(&bn)];
    if let Some(out) = &args.output {
        figure(ia, ib, &m, &pairs, [&names[0], &names[1]], space.version())
            .save_with_format(out, image::ImageFormat::Png)
            .with_context(|| format!("cannot write {}", human(out)))?;
    }
    let drawn: f32 = pairs.iter().map(|p| p.contribution).sum();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        #[derive(Serialize)]
        struct Out {
            a: JsonPath,
            b: JsonPath,
            score: f32,
            space: String,
            /// What the listed pairs add up to (of `score`).
            listed_sum: f32,
            pairs: Vec<JsonPair>,
            files: Vec<JsonPath>,
        }
        let o = Out {
            a: JsonPath::new(&args.a),
            b: JsonPath::new(&args.b),
            score: m.score,
            space: space.version().to_string(),
            listed_sum: drawn,
            pairs: pairs
                .iter()
                .map(|&p| json_pair(&m, p, ia.dimensions(), ib.dimensions()))
                .collect(),
            files: outputs.iter().map(|f| JsonPath::new(f)).collect(),
        };
        writeln!(stdout, "{}", serde_json::to_string_pretty(&o)?)?;
    } else {
        writeln!(
            stdout,
            "{} ↔ {}: score {:.4} ({}); the {} strongest of {} cell pairs carry {drawn:.4}",
            names[0],
            names[1],
            m.score,
            space.version(),
            pairs.len(),
            m.cells() * m.cells()
        )?;
        for p in &pairs {
            let ((xa, ya), (xb, yb)) = (m.cell_xy(p.a), m.cell_xy(p.b));
            writeln!(
                stdout,
                "  {:.4}  A cell ({xa}, {ya}) ↔ B cell ({xb}, {yb})",
                p.contribution
            )?;
        }
        for f in &outputs {
            writeln!(stdout, "wrote {}", human(f))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn json_pair(m: &Correspondence, p: CellPair, a: (u32, u32), b: (u32, u32)) -> JsonPair {
    JsonPair {
        a: p.a,
        b: p.b,
        contribution: p.contribution,
        a_box: m.cell_box(p.a, a.0, a.1),
        b_box: m.cell_box(p.b, b.0, b.1),
    }
}
