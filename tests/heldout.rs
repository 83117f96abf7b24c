//! The held-out tables behind the default map and the centred space (README, "Choosing the
//! default"). Every test here is ignored and prints a table:
//! `cargo test --release --test heldout -- --ignored --nocapture --test-threads 1`.
//! Half 1 (even positions within each class prefix) is for tuning; half 2 is reported.

mod common;
#[path = "support/heldout.rs"]
mod sets;

use std::path::PathBuf;
use std::time::Instant;

use sets::{Case, Half, Outcome};
use simtui::engine::Embedder;
use simtui::explain::{faithfulness, Explainer, Method, Params, Prepared};
use simtui::model::Preprocess;
use simtui::space::{mean_feature, Similarity, Space};

fn prepared(ex: &Explainer, img: &image::RgbImage) -> Prepared {
    ex.prepare(ex.embedder.preprocess.normalise(img)).unwrap()
}

struct Design {
    name: &'static str,
    cases: Vec<Case>,
}

fn designs(half: Half) -> Vec<Design> {
    let photos = sets::half(&common::all_photos(), half);
    vec![
        Design {
            name: "single paste",
            cases: sets::single_paste(&photos),
        },
        Design {
            name: "two-object",
            cases: sets::two_object(&photos),
        },
        Design {
            name: "same-class",
            cases: sets::same_class(&photos),
        },
    ]
}

/// Outcomes and mean milliseconds per map of `method` on `cases`.
fn run(ex: &Explainer, method: Method, cases: &[Case]) -> (Vec<Outcome>, f64) {
    let mut outcomes = Vec::new();
    let mut ms = 0f64;
    for case in cases {
        let q = prepared(ex, &case.query);
        let c = prepared(ex, &case.composite);
        let t = Instant::now();
        let map = ex.map(method, &c, &q.embedding).unwrap();
        ms += t.elapsed().as_secs_f64() * 1e3;
        outcomes.push(sets::judge(&map, case));
    }
    (outcomes, ms / cases.len().max(1) as f64)
}

fn spaces(e: &Embedder) -> [Space; 2] {
    [e.space(Similarity::Centred), e.space(Similarity::Plain)]
}

fn print_methods_table(e: &Embedder, half: Half, methods: &[Method]) {
    let designs = designs(half);
    eprintln!(
        "\n{half:?}: peak on match / mass share, per design ({})",
        designs
            .iter()
            .map(|d| format!("{} n={}", d.name, d.cases.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!("space    method                 single-paste   two-object    same-class    ms/map");
    for space in spaces(e) {
        let ex = Explainer::in_space(e, Params::default(), space.clone());
        for &m in methods {
            let mut line = format!("{:<8} {:<22}", space.similarity().name(), m.name());
            let mut ms_all = 0.0;
            for d in &designs {
                let (o, ms) = run(&ex, m, &d.cases);
                let (peak, share) = sets::summarise(&o);
                line += &format!(" {peak:>5.2} / {share:.2} ");
                ms_all += ms / designs.len() as f64;
            }
            eprintln!("{line} {ms_all:>8.1}");
        }
    }
}

#[test]
#[ignore]
fn table_methods_tuning_half() {
    print_methods_table(common::embedder(), Half::Tune, &Method::ALL);
}

#[test]
#[ignore]
fn table_methods_held_out_half() {
    print_methods_table(common::embedder(), Half::HeldOut, &Method::ALL);
}

/// The cheap maps only (no input gradients), on both halves and with permuted weights: the
/// quick re-measure of the default's candidates.
#[test]
#[ignore]
fn table_cell_maps_both_halves() {
    let methods = [
        Method::Shapley,
        Method::RefinedShapley,
        Method::Decomposition,
        Method::RefinedDecomposition,
        Method::Gradcam,
    ];
    print_methods_table(common::embedder(), Half::Tune, &methods);
    print_methods_table(common::embedder(), Half::HeldOut, &methods);
    let permuted = Embedder::with_permuted_weights(1, Preprocess::default()).unwrap();
    eprintln!("\npermuted weights (seed 1):");
    print_methods_table(&permuted, Half::HeldOut, &methods);
}

/// The model-randomisation check: every weight tensor's values permuted (seed 1); a map that
/// still prefers the matching square shows image structure, not the model's reasons.
#[test]
#[ignore]
fn table_permuted_weights_held_out_half() {
    let permuted = Embedder::with_permuted_weights(1, Preprocess::default()).unwrap();
    let d = designs(Half::HeldOut);
    let two = &d[1];
    eprintln!(
        "\npermuted weights, two-object, held-out half (n={}): peak on match / mass share",
        two.cases.len()
    );
    for space in spaces(&permuted) {
        let ex = Explainer::in_space(&permuted, Params::default(), space.clone());
        for m in Method::ALL {
            let (o, _) = run(&ex, m, &two.cases);
            let (peak, share) = sets::summarise(&o);
            eprintln!(
                "{:<8} {:<22} {peak:>5.2} / {share:.2}",
                space.similarity().name(),
                m.name()
            );
        }
    }
}

/// Which μ: the head batch-norm prior (no data), the folder's own mean (all fixtures), or the
/// tuning half's mean; decomposition on the tuning half, plus retrieval precision@1 by class.
#[test]
#[ignore]
fn table_mean_choice_tuning_half() {
    let e = common::embedder();
    let all = common::all_photos();
    let tune = sets::half(&all, Half::Tune);
    let embs = e.embed_paths(&all).unwrap();
    let raw: Vec<Vec<f32>> = embs.into_iter().map(|x| x.result.unwrap()).collect();
    let tune_raw: Vec<Vec<f32>> = all
        .iter()
        .zip(&raw)
        .filter(|(p, _)| tune.contains(p))
        .map(|(_, r)| r.clone())
        .collect();
    let candidates = [
        ("bn-prior", e.space(Similarity::Centred)),
        ("folder", Space::centred_on(mean_feature(&raw), "folder")),
        (
            "tune-half",
            Space::centred_on(mean_feature(&tune_raw), "tune"),
        ),
        ("plain", Space::plain()),
    ];
    let designs = designs(Half::Tune);
    eprintln!("\nμ choice, decomposition, tuning half: peak / share per design; p@1 by class; mean score of different-class pairs");
    for (name, space) in candidates {
        let ex = Explainer::in_space(e, Params::default(), space.clone());
        let mut line = format!("{name:<10}");
        for d in &designs {
            let (o, _) = run(&ex, Method::Decomposition, &d.cases);
            let (peak, share) = sets::summarise(&o);
            line += &format!(" {peak:>5.2} / {share:.2} ");
        }
        let (p1, unrelated) = retrieval(&all, &raw, &space);
        eprintln!("{line}  p@1 {p1:.3}  unrelated {unrelated:.3}");
    }
}

/// Precision@1 by class over all fixtures and the mean score of different-class pairs.
fn retrieval(all: &[PathBuf], raw: &[Vec<f32>], space: &Space) -> (f64, f64) {
    let mut hits = 0;
    let (mut unrelated, mut n_unrelated) = (0f64, 0usize);
    for i in 0..all.len() {
        let mut best = (f32::NEG_INFINITY, 0);
        for j in 0..all.len() {
            if i == j {
                continue;
            }
            let s = space.score(&raw[i], &raw[j]);
            if s > best.0 {
                best = (s, j);
            }
            if sets::class_of(&all[i]) != sets::class_of(&all[j]) {
                unrelated += s as f64;
                n_unrelated += 1;
            }
        }
        hits += usize::from(sets::class_of(&all[i]) == sets::class_of(&all[best.1]));
    }
    (
        hits as f64 / all.len() as f64,
        unrelated / n_unrelated as f64,
    )
}

/// Deletion and insertion against the random yardstick, on fixture neighbour pairs (each
/// held-out photo with its nearest fixture in the centred space), scored in each space.
#[test]
#[ignore]
fn table_faithfulness_held_out_half() {
    let e = common::embedder();
    let all = common::all_photos();
    let held = sets::half(&all, Half::HeldOut);
    let centred = e.space(Similarity::Centred);
    let pairs = sets::neighbour_pairs(&held, &all, e, &centred);
    eprintln!(
        "\nfaithfulness on {} neighbour pairs (held-out half): deletion AUC (random), share of pairs beating random; insertion AUC (random)",
        pairs.len()
    );
    for space in spaces(e) {
        let ex = Explainer::in_space(e, Params::default(), space.clone());
        for m in Method::ALL {
            let mut acc = [0f64; 4];
            let mut beats = 0;
            for (i, (a, b)) in pairs.iter().enumerate() {
                let pa = prepared(&ex, &sets::rgb224(a));
                let pb = prepared(&ex, &sets::rgb224(b));
                let map = ex.map(m, &pa, &pb.embedding).unwrap();
                let f =
                    faithfulness::evaluate_in(e, &space, &pa.input, &pb.embedding, &map, i as u64)
                        .unwrap();
                beats += usize::from(f.scores.deletion_auc < f.scores.random_deletion_auc);
                for (s, v) in acc.iter_mut().zip([
                    f.scores.deletion_auc,
                    f.scores.random_deletion_auc,
                    f.scores.insertion_auc,
                    f.scores.random_insertion_auc,
                ]) {
                    *s += v as f64 / pairs.len() as f64;
                }
            }
            eprintln!(
                "{:<8} {:<22} del {:.3} ({:.3}) beats {:.2}  ins {:.3} ({:.3})",
                space.similarity().name(),
                m.name(),
                acc[0],
                acc[1],
                beats as f64 / pairs.len() as f64,
                acc[2],
                acc[3]
            );
        }
    }
}

/// The near-duplicate variants of one photo: the original and five edits a user's folder
/// holds (crop, low-quality JPEG, downscale, brightness, mirror).
fn duplicate_variants(p: &std::path::Path) -> Vec<image::RgbImage> {
    let orig = simtui::decode::load_rgb(p).unwrap();
    let (w, h) = orig.dimensions();
    let crop = image::imageops::crop_imm(&orig, w / 10, h / 10, w * 8 / 10, h * 8 / 10).to_image();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 20)
        .encode_image(&orig)
        .unwrap();
    let jpeg = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let small = image::imageops::thumbnail(&orig, (w / 4).max(1), (h / 4).max(1));
    let bright = image::imageops::brighten(&orig, 20);
    let mirror = image::imageops::flip_horizontal(&orig);
    vec![orig, crop, jpeg, small, bright, mirror]
}

/// Which photo a fixture is a copy of: `bird_kingfisher_crop` is a crop of `bird_kingfisher`.
fn duplicate_group(p: &std::path::Path) -> String {
    let stem = p.file_stem().unwrap().to_string_lossy();
    stem.trim_end_matches("_crop").to_string()
}

/// (score, is a duplicate pair) for every pair of images of `photos` and their variants.
fn scored_pairs(e: &Embedder, photos: &[PathBuf], space: &Space) -> Vec<(f32, bool)> {
    let mut rows: Vec<(String, Vec<f32>)> = Vec::new();
    for p in photos {
        for emb in e.embed_images(&duplicate_variants(p)).unwrap() {
            rows.push((duplicate_group(p), emb));
        }
    }
    let mut out = Vec::new();
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            out.push((space.score(&rows[i].1, &rows[j].1), rows[i].0 == rows[j].0));
        }
    }
    out
}

fn precision_recall(pairs: &[(f32, bool)], threshold: f32) -> (f64, f64) {
    let tp = pairs.iter().filter(|(s, d)| *d && *s >= threshold).count() as f64;
    let fp = pairs.iter().filter(|(s, d)| !*d && *s >= threshold).count() as f64;
    let positives = pairs.iter().filter(|(_, d)| *d).count() as f64;
    (
        if tp + fp > 0.0 { tp / (tp + fp) } else { 1.0 },
        tp / positives,
    )
}

/// The duplicate threshold: the F1-best on the tuning half (ties: the higher threshold), then
/// precision and recall on the held-out half; for both spaces.
#[test]
#[ignore]
fn table_duplicate_threshold() {
    let e = common::embedder();
    let all = common::all_photos();
    let (tune, held) = (
        sets::half(&all, Half::Tune),
        sets::half(&all, Half::HeldOut),
    );
    for space in spaces(e) {
        let (t_pairs, h_pairs) = (
            scored_pairs(e, &tune, &space),
            scored_pairs(e, &held, &space),
        );
        let f1 = |t: f32| {
            let (p, r) = precision_recall(&t_pairs, t);
            if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            }
        };
        let best = (0..=200)
            .map(|k| 0.5 + k as f32 * 0.0025)
            .fold(
                (0.0, 0.5f32),
                |acc, t| if f1(t) >= acc.0 { (f1(t), t) } else { acc },
            );
        let (p, r) = precision_recall(&h_pairs, best.1);
        let n_dup = h_pairs.iter().filter(|(_, d)| *d).count();
        eprintln!(
            "\n{}: threshold {:.4} (tuning-half F1 {:.3}); held out ({} duplicate pairs of {}): precision {p:.3} recall {r:.3}",
            space.version(),
            best.1,
            best.0,
            n_dup,
            h_pairs.len()
        );
        for t in [0.80f32, 0.85, 0.90, 0.95] {
            let (p, r) = precision_recall(&h_pairs, t);
            eprintln!("  at {t:.2}: precision {p:.3} recall {r:.3}");
        }
    }
}
