//! `simtui bench explain`: the cost of each saliency map and of the faithfulness evaluation,
//! beside PyTorch + Captum (tools/bench_captum.py) on the same pair in the same run.

use anyhow::Result;
use serde_json::Value;

use super::{median_ms, num, peer, require, time_runs, Options};
use crate::decode;
use crate::engine::Embedder;
use crate::explain::faithfulness;
use crate::explain::{Explainer, Method, Params};

/// The pair both sides explain, in the fixture photos (tools/bench_captum.py is given the same
/// two files).
const QUERY: &str = "bird_kingfisher_crop.jpg";
const NEIGHBOUR: &str = "bird_kingfisher.jpg";

struct Case {
    name: &'static str,
    key: &'static str,
    ms: f64,
}

pub(super) fn run(embedder: &Embedder, args: &Options) -> Result<()> {
    let query = args.photos.join(QUERY);
    let neighbour = args.photos.join(NEIGHBOUR);
    for photo in [&query, &neighbour] {
        require(photo, "bench photo", "--photos DIR")?;
    }
    let params = Params {
        smooth_samples: 16,
        ig_steps: 32,
        ..Params::default()
    };
    let ex = Explainer::new(embedder, params);
    let q = ex.prepare(embedder.preprocess.prepare(&decode::load_rgb(&query)?))?;
    let n = ex.prepare(embedder.preprocess.prepare(&decode::load_rgb(&neighbour)?))?;
    eprintln!(
        "simtui bench explain: one map of {} against {}, {} threads",
        query.display(),
        neighbour.display(),
        rayon::current_num_threads()
    );

    let mut cases = Vec::new();
    let mut time = |name: &'static str,
                    key: &'static str,
                    min_runs: usize,
                    f: &mut dyn FnMut() -> Result<()>|
     -> Result<()> {
        let mut runs = time_runs(args.seconds, min_runs, f)?;
        let ms = median_ms(&mut runs);
        eprintln!("  {name:<36} {ms:9.1} ms");
        cases.push(Case { name, key, ms });
        Ok(())
    };
    time("gradient", "gradient_ms", 5, &mut || {
        ex.map(Method::Gradient, &q, &n.embedding).map(drop)
    })?;
    time("smoothgrad, 16 samples", "smoothgrad16_ms", 3, &mut || {
        ex.map(Method::Smoothgrad, &q, &n.embedding).map(drop)
    })?;
    time(
        "integrated gradients, 32 steps",
        "integrated_gradients32_ms",
        3,
        &mut || {
            ex.map(Method::IntegratedGradients, &q, &n.embedding)
                .map(drop)
        },
    )?;
    let map = ex.map(Method::Gradient, &q, &n.embedding)?;
    time(
        "deletion + insertion curves",
        "deletion_insertion_ms",
        3,
        &mut || faithfulness::curves(embedder, &q.input, &n.embedding, &map).map(drop),
    )?;
    // The label names the yardstick's size; the assertion keeps the two in step.
    const _: () = assert!(faithfulness::RANDOM_ORDERS == 4);
    time("  … with 4 random orders (10 curves)", "", 3, &mut || {
        faithfulness::evaluate(embedder, &q.input, &n.embedding, &map, 0).map(drop)
    })?;
    // The photo's one network pass (which keeps its cells) and the map from them.
    time("decomposition (with a forward pass)", "", 10, &mut || {
        let again = ex.prepare(q.input.clone())?;
        ex.map(Method::Decomposition, &again, &n.embedding)
            .map(drop)
    })?;
    let centred = Explainer::in_space(
        embedder,
        params,
        embedder.space(crate::space::Similarity::Centred),
    );
    time("refined Shapley (the default)", "", 10, &mut || {
        centred
            .map(Method::RefinedShapley, &q, &n.embedding)
            .map(drop)
    })?;
    time("refined decomposition", "", 10, &mut || {
        centred
            .map(Method::RefinedDecomposition, &q, &n.embedding)
            .map(drop)
    })?;
    let x = crate::model::preprocess::batch(std::slice::from_ref(&q.input))?;
    let features = embedder.model.forward(&x)?.feature_map;
    time("decomposition (feature map at hand)", "", 50, &mut || {
        ex.decomposition_from_features(&features, &q, &n.embedding)
            .map(drop)
    })?;
    time("cell Shapley (feature map at hand)", "", 50, &mut || {
        centred
            .shapley_from_features(&features, &q, &n.embedding)
            .map(drop)
    })?;

    let (captum, error) = peer(
        args,
        "bench_captum.py",
        &[
            "--seconds-per-case".into(),
            args.seconds.to_string(),
            "--query".into(),
            query.to_string_lossy().into_owned(),
            "--neighbour".into(),
            neighbour.to_string_lossy().into_owned(),
        ],
    );
    print_table(&cases, captum.as_ref());
    if let Some(e) = error {
        println!("PyTorch + Captum not measured: {e}");
    }
    Ok(())
}

fn print_table(cases: &[Case], captum: Option<&Value>) {
    println!(
        "{:<40} {:>10} {:>16} {:>20}",
        "one map / evaluation", "simtui ms", "Captum default", "Captum channels_last"
    );
    for c in cases {
        let cell = |form: &str| -> String {
            match captum.and_then(|t| num(t, &[form, c.key])) {
                Some(ms) if !c.key.is_empty() => format!("{ms:.1} ({:.2}×)", c.ms / ms),
                _ => "-".to_string(),
            }
        };
        println!(
            "{:<40} {:>10.1} {:>16} {:>20}",
            c.name,
            c.ms,
            cell("default"),
            cell("channels_last")
        );
    }
    if let Some(t) = captum {
        let v = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
        println!(
            "(ratio = simtui / Captum: below 1 is faster; torch {}, captum {})",
            v("torch_version"),
            v("captum_version")
        );
    }
}
