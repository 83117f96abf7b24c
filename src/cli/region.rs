//! `similar IMG --region x0,y0,x1,y1 --in DIR`: region search from the command line (the
//! passes live in `index::region`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::index::{index_folder, FolderArgs};
use super::output::{human, JsonPath};
use super::same_file;
use crate::engine::Embedder;
use crate::index::region::{self, Region, REFINE_CANDIDATES};
use crate::search::EmbeddingMatrix;
use crate::space::Space;

#[derive(Serialize)]
struct RegionHit {
    #[serde(flatten)]
    path: JsonPath,
    /// The best window's centred score (the ranking).
    score: f32,
    /// The region against the photo's stored pooled feature.
    first_pass_score: f32,
    /// Where the region was found: [x0, y0, x1, y1) in the photo's upright pixels.
    #[serde(rename = "box")]
    found_box: [u32; 4],
}

/// The query of a region search: a rectangle of a photo.
pub struct RegionQuery<'a> {
    pub image: &'a Path,
    pub region: Region,
}

pub fn similar_region(
    embedder: &Embedder,
    space: &Space,
    query_region: RegionQuery,
    dir: &Path,
    k: usize,
    args: &FolderArgs,
    json: bool,
) -> Result<ExitCode> {
    let RegionQuery { image, region } = query_region;
    // The region is checked before the folder is indexed, so a typo costs nothing.
    let query = region::load_and_embed_region(embedder, image, region)
        .map_err(|e| e.context(human(image)))?;
    let (summary, indexed) = index_folder(embedder, dir, args, json)?;
    let full: Vec<PathBuf> = indexed.paths.iter().map(|p| indexed.root.join(p)).collect();
    let exclude = full.iter().position(|p| same_file(p, image));
    let matrix = EmbeddingMatrix::in_space(full, &indexed.embeddings, space.clone());
    let candidates: Vec<(PathBuf, f32)> = matrix
        .top_k(&query, k.max(REFINE_CANDIDATES).min(matrix.len()), exclude)
        .into_iter()
        .map(|(i, s)| (matrix.paths[i].clone(), s))
        .collect();
    let refined = region::refine(embedder, space, &query, &candidates)?;
    for (path, e) in &refined.failed {
        // Decode errors name their file already: name it once.
        let (name, why) = (human(path), crate::text::sanitize(&format!("{e:#}")));
        if why.starts_with(&name) {
            eprintln!("skipped {why}");
        } else {
            eprintln!("skipped {name}: {why}");
        }
    }
    let refined_failed = refined.failed.len();
    let mut found = refined.found;
    found.truncate(k);
    let mut out = std::io::stdout().lock();
    if json {
        let hits: Vec<RegionHit> = found
            .iter()
            .map(|f| RegionHit {
                path: JsonPath::new(&f.path),
                score: f.score,
                first_pass_score: f.first_pass,
                found_box: f.found_box,
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&hits)?)?;
    } else {
        if found.is_empty() {
            writeln!(out, "no photos to compare with in {}", human(dir))?;
        }
        for f in &found {
            let [x0, y0, x1, y1] = f.found_box;
            writeln!(
                out,
                "{:.4}  {}  at {x0},{y0},{x1},{y1} (whole photo {:.4})",
                f.score,
                human(&f.path),
                f.first_pass
            )?;
        }
    }
    super::note_skipped(summary.skipped.len(), dir);
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else if summary.skipped.is_empty() && refined_failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
