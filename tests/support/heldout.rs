//! Held-out composite test sets built from the fixture photos, and the metrics that judge a map
//! on them. Shared by tests/heldout.rs (the tables) and tests/explain.rs (the asserted goals).
//!
//! Split: within each class prefix (`bird_`, `pet_`, ...) the photos, sorted by name,
//! alternate between half 1 (tuning) and half 2 (held out): even positions → half 1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::RgbImage;
use simtui::decode::load_rgb;
use simtui::engine::Embedder;
use simtui::explain::SaliencyMap;
use simtui::model::preprocess::resize_square;
use simtui::space::Space;

/// Side of the pasted squares: 104² / 224² = 21.6 % of the image, a multiple of the 8-px
/// faithfulness patch.
pub const SIDE: u32 = 104;
pub const S: u32 = 224;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Half {
    Tune,
    HeldOut,
}

/// An axis-aligned square on the 224×224 network input.
#[derive(Clone, Copy, Debug)]
pub struct Square {
    pub x: u32,
    pub y: u32,
}

impl Square {
    pub fn contains(&self, px: f32, py: f32) -> bool {
        px >= self.x as f32
            && px < (self.x + SIDE) as f32
            && py >= self.y as f32
            && py < (self.y + SIDE) as f32
    }
}

/// One composite to explain: the map over `composite`, explained against `query`.
pub struct Case {
    pub label: String,
    pub query: RgbImage,
    pub composite: RgbImage,
    /// The square cut from the query (or, same-class, from another photo of its class).
    pub matching: Square,
    /// The square cut from an unrelated photo (two-object designs only).
    pub distractor: Option<Square>,
}

pub fn class_of(p: &Path) -> String {
    let name = p.file_name().unwrap().to_string_lossy();
    name.split('_').next().unwrap().to_string()
}

/// The fixture photos of one half, sorted by name.
pub fn half(all: &[PathBuf], which: Half) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for p in all {
        let k = seen.entry(class_of(p)).or_default();
        if k.is_multiple_of(2) == (which == Half::Tune) {
            out.push(p.clone());
        }
        *k += 1;
    }
    out
}

pub fn rgb224(p: &Path) -> RgbImage {
    resize_square(&load_rgb(p).unwrap(), S)
}

/// The centre 144×144 of a 224 image (where the subject usually is) shrunk to the square.
fn cut(src: &RgbImage) -> RgbImage {
    resize_square(
        &image::imageops::crop_imm(src, 40, 40, 144, 144).to_image(),
        SIDE,
    )
}

fn paste(into: &mut RgbImage, patch: &RgbImage, at: Square) {
    image::imageops::replace(into, patch, at.x as i64, at.y as i64);
}

/// Photos of `photos` not of class `class`, in order.
fn others<'a>(photos: &'a [PathBuf], class: &str) -> Vec<&'a PathBuf> {
    photos.iter().filter(|p| class_of(p) != class).collect()
}

/// (a) Single object: a square cut from photo A pasted into an unrelated photo C; the query
/// is A.
pub fn single_paste(photos: &[PathBuf]) -> Vec<Case> {
    photos
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let pool = others(photos, &class_of(a));
            let c = pool[(i * 7 + 3) % pool.len()];
            let k = i as u32;
            let at = Square {
                x: (k * 37) % (S - SIDE),
                y: (k * 61 + 20) % (S - SIDE),
            };
            let query = rgb224(a);
            let mut composite = rgb224(c);
            paste(&mut composite, &cut(&query), at);
            Case {
                label: format!("{} in {}", name(a), name(c)),
                query,
                composite,
                matching: at,
                distractor: None,
            }
        })
        .collect()
}

/// Two squares side by side on a background: left/right alternate, heights vary.
fn two_squares(i: usize) -> (Square, Square) {
    let k = i as u32;
    let left = Square {
        x: 8,
        y: (k * 29) % (S - SIDE),
    };
    let right = Square {
        x: S - 8 - SIDE,
        y: (k * 53 + 40) % (S - SIDE),
    };
    if i.is_multiple_of(2) {
        (left, right)
    } else {
        (right, left)
    }
}

/// (b) Two objects: background C with a square from the query A and one from an unrelated D.
pub fn two_object(photos: &[PathBuf]) -> Vec<Case> {
    photos
        .iter()
        .enumerate()
        .map(|(i, a)| two_object_case(photos, i, a, rgb224(a)))
        .collect()
}

fn two_object_case(photos: &[PathBuf], i: usize, source: &Path, query: RgbImage) -> Case {
    let pool = others(photos, &class_of(source));
    let c = pool[(i * 7 + 3) % pool.len()];
    let mut d = pool[(i * 5 + 1) % pool.len()];
    if d == c {
        d = pool[(i * 5 + 2) % pool.len()];
    }
    let (m, o) = two_squares(i);
    let mut composite = rgb224(c);
    paste(&mut composite, &cut(&rgb224(source)), m);
    paste(&mut composite, &cut(&rgb224(d)), o);
    Case {
        label: format!("{} vs {} on {}", name(source), name(d), name(c)),
        query,
        composite,
        matching: m,
        distractor: Some(o),
    }
}

/// (c) Same class: as (b), but the query is another photo of the matching square's class.
pub fn same_class(photos: &[PathBuf]) -> Vec<Case> {
    let mut out = Vec::new();
    for (i, a) in photos.iter().enumerate() {
        let mates: Vec<&PathBuf> = photos
            .iter()
            .filter(|p| *p != a && class_of(p) == class_of(a))
            .collect();
        if let Some(q) = mates.first() {
            let mut case = two_object_case(photos, i, a, rgb224(q));
            case.label = format!("query {} / {}", name(q), case.label);
            out.push(case);
        }
    }
    out
}

fn name(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// How one map did on one case.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// The peak (8×8-px patches; see `SaliencyMap::peak`) lies in the matching square.
    pub peak_on_match: bool,
    /// Positive mass on the matching square / (on it + on the distractor); for single-paste
    /// cases, / the whole image's positive mass.
    pub mass_share: f64,
}

pub fn judge(map: &SaliencyMap, case: &Case) -> Outcome {
    let m = map.resized(S as usize, S as usize);
    let (px, py) = map.peak();
    let positive_in = |sq: Square| -> f64 {
        let mut acc = 0f64;
        for y in sq.y..sq.y + SIDE {
            for x in sq.x..sq.x + SIDE {
                acc += m.values[(y * S + x) as usize].max(0.0) as f64;
            }
        }
        acc
    };
    let on_match = positive_in(case.matching);
    let rest = match case.distractor {
        Some(d) => positive_in(d),
        None => m.values.iter().map(|v| v.max(0.0) as f64).sum::<f64>() - on_match,
    };
    Outcome {
        peak_on_match: case.matching.contains(px * S as f32, py * S as f32),
        mass_share: if on_match + rest > 0.0 {
            on_match / (on_match + rest)
        } else {
            0.0
        },
    }
}

/// (peak-on-match rate, mean mass share).
pub fn summarise(outcomes: &[Outcome]) -> (f64, f64) {
    let n = outcomes.len().max(1) as f64;
    (
        outcomes.iter().filter(|o| o.peak_on_match).count() as f64 / n,
        outcomes.iter().map(|o| o.mass_share).sum::<f64>() / n,
    )
}

/// Fixture neighbour pairs: each photo of `photos` with its nearest other fixture photo (any
/// half) by the score of `space`, embedded by `embedder` as `embed` does.
pub fn neighbour_pairs(
    photos: &[PathBuf],
    all: &[PathBuf],
    embedder: &Embedder,
    space: &Space,
) -> Vec<(PathBuf, PathBuf)> {
    let embs: Vec<Vec<f32>> = all
        .iter()
        .map(|p| {
            embedder
                .embed_paths(&[p.to_path_buf()])
                .unwrap()
                .remove(0)
                .result
                .unwrap()
        })
        .collect();
    let score = |a: &[f32], b: &[f32]| space.score(a, b);
    photos
        .iter()
        .map(|p| {
            let i = all.iter().position(|q| q == p).unwrap();
            let j = (0..all.len())
                .filter(|&j| j != i)
                .max_by(|&x, &y| score(&embs[i], &embs[x]).total_cmp(&score(&embs[i], &embs[y])))
                .unwrap();
            (p.clone(), all[j].clone())
        })
        .collect()
}
