//! Similarity explanations on the real fixture photos: exactness, gradients, completeness,
//! localisation of pasted objects, sensitivity to the weights, faithfulness.

mod common;
#[path = "support/heldout.rs"]
mod sets;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;
use simtui::decode::load_rgb;
use simtui::engine::Embedder;
use simtui::explain::faithfulness;
use simtui::explain::{Baseline, Explainer, Method, Params, Prepared, SaliencyMap, DEFAULT_METHOD};
use simtui::model::preprocess::resize_square;
use simtui::model::{Config, EfficientNetLite0, Preprocess, BUNDLED_WEIGHTS};
use simtui::space::Similarity;

fn explainer() -> Explainer<'static> {
    Explainer::new(common::embedder(), Params::default())
}

/// The explainer of the centred score, the one the default map is chosen for.
fn centred_explainer() -> Explainer<'static> {
    let e = common::embedder();
    Explainer::in_space(e, Params::default(), e.space(Similarity::Centred))
}

fn rgb224(name: &str) -> RgbImage {
    resize_square(&load_rgb(&common::photo(name)).unwrap(), 224)
}

fn prepared(ex: &Explainer, img: &RgbImage) -> Prepared {
    ex.prepare(ex.embedder.preprocess.normalise(img)).unwrap()
}

fn photo(ex: &Explainer, name: &str) -> Prepared {
    prepared(ex, &rgb224(name))
}

/// T(x) = f(x)·n̂ / c, computed independently of the explainer.
fn target(e: &Embedder, x: &[f32], other: &[f32], c: f64) -> f64 {
    let f = e
        .embed_prepared(&[x.to_vec()])
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let n: f64 = other
        .iter()
        .map(|v| (*v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    f.iter()
        .zip(other)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum::<f64>()
        / (n * c)
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn decomposition_cells_sum_to_the_cosine() {
    let ex = explainer();
    for (a, b) in [
        ("bird_kingfisher_crop.jpg", "bird_kingfisher.jpg"),
        ("food_espresso.jpg", "mountain_aitzgorri.jpg"),
        ("pet_chelsea_cat.jpg", "pet_ginger_kitten.jpg"),
    ] {
        let (pa, pb) = (photo(&ex, a), photo(&ex, b));
        let pair = ex.explain_pair(Method::Decomposition, &pa, &pb).unwrap();
        assert_eq!((pair.a.width, pair.a.height), (7, 7));
        for m in [&pair.a, &pair.b] {
            let d = (m.sum() - pair.score as f64).abs();
            assert!(
                d <= 1e-5,
                "{a}/{b}: cells sum to {} vs cosine {}",
                m.sum(),
                pair.score
            );
            assert!(
                m.values.iter().all(|&v| v >= 0.0),
                "non-negative features give non-negative cells"
            );
        }
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let ex = explainer();
    let q = photo(&ex, "pet_chelsea_cat.jpg");
    let other = photo(&ex, "pet_ginger_kitten.jpg").embedding;
    let c = norm(&q.embedding);
    let e = ex.embedder;
    // |∂T/∂x| (the gradient map) at the pixels where it is largest, channel by channel.
    let grad_map = ex.map(Method::Gradient, &q, &other).unwrap();
    let mut idx: Vec<usize> = (0..grad_map.values.len()).collect();
    idx.sort_by(|&a, &b| grad_map.values[b].total_cmp(&grad_map.values[a]));
    // Small enough not to cross ReLU6 kinks, large enough for f32: T changes by ~1e-5.
    let eps = 1e-3f32;
    for &p in &idx[..4] {
        // The channel with the largest |g| at that pixel is the one the map reports.
        let best = (0..3)
            .map(|ch| {
                let mut plus = q.input.clone();
                plus[p * 3 + ch] += eps;
                let mut minus = q.input.clone();
                minus[p * 3 + ch] -= eps;
                ((target(e, &plus, &other, c) - target(e, &minus, &other, c)) / (2.0 * eps as f64))
                    .abs()
            })
            .fold(0f64, f64::max);
        let g = grad_map.values[p] as f64;
        assert!(
            (best - g).abs() <= 0.1 * g,
            "pixel {p}: |∂T/∂x| {g:.3e} vs finite difference {best:.3e}"
        );
    }
    // The directional derivative along d = x is Σ g·x, the sum of the grad-x-input map. The
    // step is tiny because scaling every pixel moves every activation, and larger steps cross
    // ReLU6 kinks somewhere (1e-2: 11 % off, 1e-3: 6 %, 1e-4: agrees).
    let d = &q.input;
    let step = 1e-4f32;
    let plus: Vec<f32> = q.input.iter().zip(d).map(|(x, v)| x + step * v).collect();
    let minus: Vec<f32> = q.input.iter().zip(d).map(|(x, v)| x - step * v).collect();
    let fd = (target(e, &plus, &other, c) - target(e, &minus, &other, c)) / (2.0 * step as f64);
    let analytic = ex.map(Method::GradXInput, &q, &other).unwrap().sum();
    assert!(
        (fd - analytic).abs() <= 0.03 * analytic.abs(),
        "d/dα T(x + αx): {analytic:.5} vs finite difference {fd:.5}"
    );
}

/// Completeness: Σ attributions = T(x) − T(x0), up to the quadrature error of the default 64
/// Gauss–Legendre steps. ReLU6 kinks make the path non-smooth, so the error is in score units,
/// not a fraction: measured 0.002–0.032 on these six pairs (1.5 % and 0.35 % of T(x) − T(x0)
/// on the two similar pairs, 41 % of the small 0.079 of the cat and the panda), and 0.003 on
/// that pair with 128 steps.
#[test]
fn integrated_gradients_are_complete() {
    let ex = explainer();
    let completeness_error = |ex: &Explainer, a: &str, b: &str| {
        let (pa, pb) = (photo(ex, a), photo(ex, b));
        let (map, t_x, t_0) = ex
            .integrated_gradients_with_ends(&pa, &pb.embedding)
            .unwrap();
        let want = (t_x - t_0) as f64;
        let got = map.sum();
        ((got - want).abs(), want, got)
    };
    for (a, b) in [
        ("bird_kingfisher_crop.jpg", "bird_kingfisher.jpg"),
        ("farm_cows.jpg", "farm_horses.jpg"),
        ("bird_duck.jpg", "bird_kingfisher.jpg"),
        ("pet_chelsea_cat.jpg", "wild_giant_panda.jpg"),
        ("food_espresso.jpg", "windmill_kinderdijk.jpg"),
        ("bird_scarlet_macaw.jpg", "bird_duck.jpg"),
    ] {
        let (err, want, got) = completeness_error(&ex, a, b);
        assert!(
            err <= 0.045,
            "{a} vs {b}: Σ attributions {got:.4} vs T(x) − T(x0) {want:.4}"
        );
        if want > 0.4 {
            assert!(
                err <= 0.03 * want,
                "{a} vs {b}: Σ attributions {got:.4} vs T(x) − T(x0) {want:.4}"
            );
        }
    }
    // More steps close the gap: the error is the quadrature's, not a wrong gradient.
    let finer = Explainer::new(
        common::embedder(),
        Params {
            ig_steps: 128,
            ..Params::default()
        },
    );
    let (err, want, got) =
        completeness_error(&finer, "pet_chelsea_cat.jpg", "wild_giant_panda.jpg");
    assert!(
        err <= 0.01,
        "128 steps: Σ attributions {got:.4} vs T(x) − T(x0) {want:.4}"
    );
}

#[test]
fn every_integrated_gradients_baseline_is_its_own_start_and_complete() {
    // Grey, black and blurred starts: each is a different image, so each gives a different
    // T(x0) and a different map, and each map sums to T(x) − T(x0) (the same bound as grey).
    let e = common::embedder();
    let mut starts = Vec::new();
    for baseline in [Baseline::Grey, Baseline::Black, Baseline::Blur] {
        let ex = Explainer::new(
            e,
            Params {
                ig_baseline: baseline,
                ..Params::default()
            },
        );
        let (pa, pb) = (
            photo(&ex, "bird_kingfisher_crop.jpg"),
            photo(&ex, "bird_kingfisher.jpg"),
        );
        let x0 = ex.baseline(&pa.input);
        match baseline {
            Baseline::Grey => assert!(x0.iter().all(|&v| v == 0.0)),
            Baseline::Black => assert!(x0.iter().all(|&v| v == -127.0 / 128.0)),
            // A blur keeps the image's mean colour but not its detail.
            Baseline::Blur => {
                let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
                assert!((mean(&x0) - mean(&pa.input)).abs() < 0.02);
                assert!(x0 != pa.input);
            }
        }
        let (map, t_x, t_0) = ex
            .integrated_gradients_with_ends(&pa, &pb.embedding)
            .unwrap();
        let want = (t_x - t_0) as f64;
        assert!(
            (map.sum() - want).abs() <= 0.045,
            "{baseline:?}: Σ attributions {:.4} vs T(x) − T(x0) {want:.4}",
            map.sum()
        );
        starts.push(t_0);
    }
    assert!(
        (starts[0] - starts[1]).abs() > 1e-4 && (starts[1] - starts[2]).abs() > 1e-4,
        "three different starts: {starts:?}"
    );
}

/// A composite: the centre of `source` shrunk to `size` and pasted into `background` at (x, y).
fn composite(source: &RgbImage, background: &RgbImage, size: u32, x: u32, y: u32) -> RgbImage {
    let crop = image::imageops::crop_imm(source, 40, 40, 144, 144).to_image();
    let patch = resize_square(&crop, size);
    let mut out = background.clone();
    image::imageops::replace(&mut out, &patch, x as i64, y as i64);
    out
}

const PASTE_SOURCES: [&str; 6] = [
    "food_espresso.jpg",
    "pet_chelsea_cat.jpg",
    "bird_scarlet_macaw.jpg",
    "wild_giant_panda.jpg",
    "windmill_kinderdijk.jpg",
    "flower_dahlia.jpg",
];
const PASTE_BACKGROUNDS: [&str; 4] = [
    "mountain_aitzgorri.jpg",
    "water_forest_stream.jpg",
    "building_city_skyline.jpg",
    "farm_sheep.jpg",
];

/// Fraction of composites whose map (explained against the source photo) peaks inside the
/// pasted box.
fn pasted_hit_rate(ex: &Explainer, method: Method) -> (f32, usize) {
    let size = 96u32;
    let mut hits = 0;
    let mut total = 0;
    for (i, s) in PASTE_SOURCES.iter().enumerate() {
        let src = rgb224(s);
        let src_emb = prepared(ex, &src).embedding;
        for (j, b) in PASTE_BACKGROUNDS.iter().enumerate() {
            let k = (i * PASTE_BACKGROUNDS.len() + j) as u32;
            let (x, y) = ((k * 37) % (224 - size), (k * 61 + 20) % (224 - size));
            let comp = prepared(ex, &composite(&src, &rgb224(b), size, x, y));
            let map = ex.map(method, &comp, &src_emb).unwrap();
            let (px, py) = map.peak();
            let (px, py) = (px * 224.0, py * 224.0);
            let inside = px >= x as f32
                && px < (x + size) as f32
                && py >= y as f32
                && py < (y + size) as f32;
            hits += usize::from(inside);
            total += 1;
        }
    }
    (hits as f32 / total as f32, total)
}

/// Pairs for the faithfulness check: each photo with a same-group partner.
const FAITH_PAIRS: [(&str, &str); 6] = [
    ("bird_kingfisher_crop.jpg", "bird_kingfisher.jpg"),
    ("pet_chelsea_cat.jpg", "pet_ginger_kitten.jpg"),
    ("farm_cows.jpg", "farm_horses.jpg"),
    ("pyramid_bent_pyramid.jpg", "pyramid_red_pyramid.jpg"),
    ("windmill_kinderdijk.jpg", "windmill_podgoschi.jpg"),
    ("food_espresso.jpg", "food_fig_bowl.jpg"),
];

/// Mean (deletion AUC, random deletion AUC, insertion AUC, random insertion AUC).
fn mean_aucs(ex: &Explainer, method: Method) -> [f32; 4] {
    let mut acc = [0f32; 4];
    for (i, (a, b)) in FAITH_PAIRS.iter().enumerate() {
        let (pa, pb) = (photo(ex, a), photo(ex, b));
        let map = ex.map(method, &pa, &pb.embedding).unwrap();
        let f = faithfulness::evaluate_in(
            ex.embedder,
            &ex.space,
            &pa.input,
            &pb.embedding,
            &map,
            i as u64,
        )
        .unwrap();
        for (s, v) in acc.iter_mut().zip([
            f.scores.deletion_auc,
            f.scores.random_deletion_auc,
            f.scores.insertion_auc,
            f.scores.random_insertion_auc,
        ]) {
            *s += v / FAITH_PAIRS.len() as f32;
        }
    }
    acc
}

/// The goals for the default map, on the held-out half of the composite sets (see
/// tests/heldout.rs for the full tables): peak on the matching square, its share of the
/// positive mass against an equal-sized distractor, the same with permuted weights, and
/// deletion faster than random on the fixture neighbour pairs.
#[test]
fn the_default_map_meets_the_held_out_goals() {
    let all = common::all_photos();
    let held = sets::half(&all, sets::Half::HeldOut);
    let cases = sets::two_object(&held);
    let judged = |e: &Embedder| -> (f64, f64) {
        let ex = Explainer::in_space(e, Params::default(), e.space(Similarity::Centred));
        let outcomes: Vec<sets::Outcome> = cases
            .iter()
            .map(|c| {
                let q = prepared(&ex, &c.query);
                let comp = prepared(&ex, &c.composite);
                sets::judge(&ex.map(DEFAULT_METHOD, &comp, &q.embedding).unwrap(), c)
            })
            .collect();
        sets::summarise(&outcomes)
    };
    let (peak, share) = judged(common::embedder());
    let permuted = Embedder::with_permuted_weights(1, Preprocess::default()).unwrap();
    let (_, permuted_share) = judged(&permuted);
    eprintln!("two-object, held out: peak {peak:.2}, share {share:.2}; permuted share {permuted_share:.2}");
    assert!(peak >= 0.80, "peak on the match in {peak:.2} of pairs");
    assert!(share >= 0.90, "mass share on the match {share:.2}");
    assert!(
        permuted_share <= 0.60,
        "permuted weights still find the match: {permuted_share:.2}"
    );

    let e = common::embedder();
    let space = e.space(Similarity::Centred);
    let ex = Explainer::in_space(e, Params::default(), space.clone());
    let pairs = sets::neighbour_pairs(&held, &all, e, &space);
    let beats = pairs
        .iter()
        .enumerate()
        .filter(|(i, (a, b))| {
            let (pa, pb) = (photo(&ex, &name(a)), photo(&ex, &name(b)));
            let map = ex.map(DEFAULT_METHOD, &pa, &pb.embedding).unwrap();
            let f = faithfulness::evaluate_in(e, &space, &pa.input, &pb.embedding, &map, *i as u64)
                .unwrap();
            f.scores.deletion_auc < f.scores.random_deletion_auc
        })
        .count();
    eprintln!(
        "deletion beats random on {beats} of {} neighbour pairs",
        pairs.len()
    );
    // The goal: 0.90 of the pairs (measured 18 of 19, see README).
    assert!(
        beats as f64 >= 0.90 * pairs.len() as f64,
        "deletion beats random on {beats} of {} neighbour pairs",
        pairs.len()
    );
}

fn name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn centred_maps_sum_to_the_centred_score() {
    let e = common::embedder();
    let ex = Explainer::in_space(e, Params::default(), e.space(Similarity::Centred));
    for (a, b) in [
        ("bird_kingfisher_crop.jpg", "bird_kingfisher.jpg"),
        ("food_espresso.jpg", "mountain_aitzgorri.jpg"),
        ("pet_chelsea_cat.jpg", "pet_ginger_kitten.jpg"),
    ] {
        let (pa, pb) = (photo(&ex, a), photo(&ex, b));
        for m in [
            Method::Decomposition,
            Method::RefinedDecomposition,
            Method::Shapley,
            Method::RefinedShapley,
        ] {
            let pair = ex.explain_pair(m, &pa, &pb).unwrap();
            assert!(
                (pair.score
                    - e.space(Similarity::Centred)
                        .score(&pa.embedding, &pb.embedding))
                .abs()
                    < 1e-6
            );
            for map in [&pair.a, &pair.b] {
                let d = (map.sum() - pair.score as f64).abs();
                assert!(
                    d <= 1e-5,
                    "{a}/{b} {}: cells sum to {} vs {}",
                    m.name(),
                    map.sum(),
                    pair.score
                );
            }
        }
    }
}

#[test]
fn the_centred_map_favours_the_shared_half() {
    // Left half: the kingfisher squeezed into 112×224; right half: an unrelated mountain.
    let e = common::embedder();
    let ex = Explainer::in_space(e, Params::default(), e.space(Similarity::Centred));
    let query = rgb224("bird_kingfisher.jpg");
    let left = image::imageops::resize(&query, 112, 224, image::imageops::FilterType::Triangle);
    let mut comp = rgb224("mountain_aitzgorri.jpg");
    image::imageops::replace(&mut comp, &left, 0, 0);
    let (q, c) = (prepared(&ex, &query), prepared(&ex, &comp));
    let map = ex.map(Method::Decomposition, &c, &q.embedding).unwrap();
    let column_sum = |cols: std::ops::Range<usize>| -> f64 {
        (0..7)
            .flat_map(|y| cols.clone().map(move |x| (x, y)))
            .map(|(x, y)| map.values[y * 7 + x] as f64)
            .sum()
    };
    let (shared, other) = (column_sum(0..3), column_sum(4..7));
    assert!(
        shared > 0.0 && shared > 2.0 * other.max(0.0),
        "shared half {shared:.3}, other half {other:.3}"
    );
}

#[test]
fn the_default_map_finds_a_pasted_object() {
    let (hit, n) = pasted_hit_rate(&centred_explainer(), DEFAULT_METHOD);
    assert!(
        hit >= PASTED_HIT_RATE - 1e-6,
        "{}: {hit:.2} of {n} composites peak inside the pasted box",
        DEFAULT_METHOD.name()
    );
}

#[test]
fn the_default_map_deletes_faster_than_random() {
    let [del, rdel, ins, rins] = mean_aucs(&centred_explainer(), DEFAULT_METHOD);
    eprintln!("deletion {del:.3} (random {rdel:.3}), insertion {ins:.3} (random {rins:.3})");
    assert!(
        rdel - del >= DELETION_MARGIN,
        "deletion AUC {del:.3} vs random {rdel:.3}"
    );
}

// Measured on the fixtures (see measure_all_methods); a drop means the explanations got worse.
// integrated-gradients: 21 of 24 composites; deletion AUC 0.646 vs 0.760 for random order.
// (Its insertion AUC, 0.782, is below random's 0.806: the README says so; not asserted.)
const PASTED_HIT_RATE: f32 = 21.0 / 24.0;
const DELETION_MARGIN: f32 = 0.10;

/// The bundled checkpoint with every convolution and the classifier re-drawn at random
/// (He-normal), batch-norm set to identity: same architecture, no learned features.
fn randomised_model() -> EfficientNetLite0 {
    let tensors = candle_core::safetensors::load_buffer(BUNDLED_WEIGHTS, &Device::Cpu).unwrap();
    let mut out = HashMap::new();
    for (name, t) in tensors {
        let shape = t.dims().to_vec();
        let r = if name.ends_with("running_var")
            || (name.contains("_bn") && name.ends_with(".weight"))
        {
            Tensor::ones(shape, DType::F32, &Device::Cpu).unwrap()
        } else if name.ends_with("running_mean") || name.ends_with(".bias") {
            Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap()
        } else {
            let fan_in: usize = shape[1..].iter().product();
            let std = (2.0 / fan_in as f32).sqrt();
            let n: usize = shape.iter().product();
            Tensor::from_vec(
                seeded_normal(n, name.len() as u64 * 7919 + n as u64, std),
                shape,
                &Device::Cpu,
            )
            .unwrap()
        };
        out.insert(name, r);
    }
    EfficientNetLite0::new(
        VarBuilder::from_tensors(out, DType::F32, &Device::Cpu),
        Config::lite0(),
    )
    .unwrap()
}

/// Deterministic N(0, std²) samples (Box–Muller over a 64-bit LCG), so the test is repeatable.
fn seeded_normal(n: usize, seed: u64, std: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut uniform = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32 * std
        })
        .collect()
}

/// Spearman rank correlation of two maps on the same grid.
fn spearman(a: &SaliencyMap, b: &SaliencyMap) -> f64 {
    let rank = |v: &[f32]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0f64; v.len()];
        for (k, &i) in idx.iter().enumerate() {
            r[i] = k as f64;
        }
        r
    };
    let (ra, rb) = (rank(&a.values), rank(&b.values));
    let n = ra.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| (x - mean) * (y - mean))
        .sum();
    let var: f64 = ra.iter().map(|x| (x - mean).powi(2)).sum();
    cov / var
}

/// The largest Spearman correlation, over the faithfulness pairs, between a method's map with
/// the trained weights and with random weights.
fn max_rank_correlation_with_random_weights(
    trained: &Explainer,
    random: &Explainer,
    m: Method,
) -> f64 {
    FAITH_PAIRS
        .iter()
        .map(|(a, b)| {
            let m1 = trained
                .map(m, &photo(trained, a), &photo(trained, b).embedding)
                .unwrap();
            let m2 = random
                .map(m, &photo(random, a), &photo(random, b).embedding)
                .unwrap();
            spearman(&m1, &m2)
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn the_default_map_depends_on_the_learned_weights() {
    let random_embedder = Embedder {
        model: randomised_model(),
        preprocess: Preprocess::default(),
        model_id: "random-weights".into(),
        prior_mean: vec![0.0; simtui::model::EMBEDDING_DIM],
    };
    let random = Explainer::in_space(
        &random_embedder,
        Params::default(),
        random_embedder.space(Similarity::Centred),
    );
    let rho =
        max_rank_correlation_with_random_weights(&centred_explainer(), &random, DEFAULT_METHOD);
    assert!(
        rho < 0.5,
        "rank correlation up to {rho:.2} between trained and random-weight maps"
    );
}

#[test]
fn maps_are_reproducible() {
    let ex = explainer();
    let (a, b) = (photo(&ex, "farm_cows.jpg"), photo(&ex, "farm_horses.jpg"));
    let p = Params {
        smooth_samples: 4,
        ..Params::default()
    };
    let ex2 = Explainer::new(ex.embedder, p);
    let first = ex2.map(Method::Smoothgrad, &a, &b.embedding).unwrap();
    assert_eq!(
        first,
        ex2.map(Method::Smoothgrad, &a, &b.embedding).unwrap()
    );
    // ... and the seed matters.
    let ex3 = Explainer::new(ex.embedder, Params { seed: 1, ..p });
    assert_ne!(
        first,
        ex3.map(Method::Smoothgrad, &a, &b.embedding).unwrap()
    );
}
