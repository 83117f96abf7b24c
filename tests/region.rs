//! Region search measured on held-out composites (README, "Region search"). Ignored: it
//! prints a table.
//! `cargo test --release --test region -- --ignored --nocapture`
//!
//! Folder: the held-out half of the fixtures (see tests/support/heldout.rs) plus, for each
//! photo A, two composites: a 104-px square cut from A's centre pasted into two unrelated
//! held-out photos. (1) Query: a composite, region: its pasted square; is A first? (2) Query:
//! A, region: the part of A that was cut; are both composites in the top 5?

mod common;
#[path = "support/heldout.rs"]
mod sets;

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use sets::{Half, S, SIDE};
use simtui::index::query::embed_like_index;
use simtui::index::region::{self, Region, REFINE_CANDIDATES};
use simtui::model::preprocess::resize_square;
use simtui::search::EmbeddingMatrix;
use simtui::space::Similarity;

struct Composite {
    path: PathBuf,
    source: PathBuf,
    at: (u32, u32),
}

fn build(dir: &Path) -> (Vec<PathBuf>, Vec<Composite>) {
    let photos = sets::half(&common::all_photos(), Half::HeldOut);
    let mut sources = Vec::new();
    for p in &photos {
        let to = dir.join(p.file_name().unwrap());
        std::fs::copy(p, &to).unwrap();
        sources.push(to);
    }
    let mut composites = Vec::new();
    for (i, a) in sources.iter().enumerate() {
        let others: Vec<&PathBuf> = sources
            .iter()
            .filter(|p| sets::class_of(p) != sets::class_of(a))
            .collect();
        let cut = resize_square(
            &image::imageops::crop_imm(&sets::rgb224(a), 40, 40, 144, 144).to_image(),
            SIDE,
        );
        for k in 0..2u32 {
            let c = others[(i * 7 + 3 + k as usize * 5) % others.len()];
            let at = (
                (i as u32 * 37 + k * 53) % (S - SIDE),
                (i as u32 * 61 + 20 + k * 29) % (S - SIDE),
            );
            let mut img: RgbImage = sets::rgb224(c);
            image::imageops::replace(&mut img, &cut, at.0 as i64, at.1 as i64);
            let path = dir.join(format!(
                "composite_{}_{k}.png",
                a.file_stem().unwrap().to_string_lossy()
            ));
            img.save(&path).unwrap();
            composites.push(Composite {
                path,
                source: a.clone(),
                at,
            });
        }
    }
    (sources, composites)
}

#[test]
#[ignore]
fn region_search_on_held_out_composites() {
    let e = common::embedder();
    let dir = std::env::temp_dir().join(format!("simtui-region-heldout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sources, composites) = build(&dir);
    let mut paths = sources.clone();
    paths.extend(composites.iter().map(|c| c.path.clone()));
    let embeddings: Vec<Vec<f32>> = paths
        .iter()
        .map(|p| embed_like_index(e, p).unwrap())
        .collect();
    let space = e.space(Similarity::Centred);
    let matrix = EmbeddingMatrix::in_space(paths.clone(), &embeddings, space.clone());
    let (mut first_ms, mut refine_ms) = (Vec::new(), Vec::new());
    // Ranked paths for a region of the photo at `query`: (whole photo, first pass, refined).
    let mut search = |query: &Path, r: Region| -> (Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>) {
        let exclude = paths.iter().position(|p| p == query);
        let t = Instant::now();
        let photo = simtui::decode::load_rgb(query).unwrap();
        let q = region::embed_region(e, &photo, r).unwrap();
        let first = matrix.top_k(&q, REFINE_CANDIDATES.min(matrix.len()), exclude);
        first_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let candidates: Vec<(PathBuf, f32)> =
            first.iter().map(|&(i, s)| (paths[i].clone(), s)).collect();
        let refined = region::refine(e, &space, &q, &candidates).unwrap();
        assert!(refined.failed.is_empty(), "every candidate decodes");
        let refined = refined.found;
        refine_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let whole = embed_like_index(e, query).unwrap();
        (
            matrix
                .top_k(&whole, 5, exclude)
                .iter()
                .map(|&(i, _)| paths[i].clone())
                .collect(),
            candidates.iter().map(|(p, _)| p.clone()).collect(),
            refined.iter().map(|f| f.path.clone()).collect(),
        )
    };
    // (1) The pasted square as query: is its source first?
    let mut first_hits = [0usize; 3];
    for c in &composites {
        let r = Region {
            x0: c.at.0,
            y0: c.at.1,
            x1: c.at.0 + SIDE,
            y1: c.at.1 + SIDE,
        };
        let (whole, first, refined) = search(&c.path, r);
        for (k, list) in [whole, first, refined].iter().enumerate() {
            first_hits[k] += usize::from(list.first() == Some(&c.source));
        }
    }
    // (2) The source's object as query: are the composites holding it in the top 5?
    let mut in_top5 = [0usize; 3];
    let mut targets = 0;
    for a in &sources {
        let (w, h) = image::image_dimensions(a).unwrap();
        let r = Region {
            x0: 40 * w / 224,
            y0: 40 * h / 224,
            x1: 184 * w / 224,
            y1: 184 * h / 224,
        };
        let (whole, first, refined) = search(a, r);
        for c in composites.iter().filter(|c| &c.source == a) {
            targets += 1;
            for (k, list) in [&whole, &first, &refined].iter().enumerate() {
                in_top5[k] += usize::from(list.iter().take(5).any(|p| p == &c.path));
            }
        }
    }
    let n = composites.len();
    eprintln!(
        "\nheld-out folder: {} photos + {n} composites",
        sources.len()
    );
    eprintln!(
        "                                  whole photo   region, first pass   region, refined"
    );
    eprintln!(
        "(1) source first (of {n})           {:>5}          {:>5}               {:>5}",
        first_hits[0], first_hits[1], first_hits[2]
    );
    eprintln!(
        "(2) composites in top 5 (of {targets})  {:>5}          {:>5}               {:>5}",
        in_top5[0], in_top5[1], in_top5[2]
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "median ms from start: first pass {:.0}, refined ({REFINE_CANDIDATES} candidates) {:.0}",
        median(&mut first_ms),
        median(&mut refine_ms)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
