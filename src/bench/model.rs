//! `simtui bench model`: forward throughput and the cost of one forward+backward of the
//! candle model, beside the PyTorch reference (tools/bench_torch.py) in the same run.

use anyhow::Result;
use candle_core::{Device, Tensor};
use serde::Serialize;
use serde_json::Value;

use super::{median_ms, num, peer, time_runs, Options};
use crate::engine::{l2_norm, Embedder};
use crate::model::INPUT_SIZE;

#[derive(Serialize)]
struct Report {
    threads: usize,
    simtui_forward_images_per_s: Vec<(usize, f64)>,
    simtui_best_images_per_s: f64,
    simtui_forward_backward_ms: f64,
    torch: Option<Value>,
    torch_error: Option<String>,
}

/// A deterministic, photo-like input (smooth gradients plus texture), no files needed.
fn synthetic_input(batch: usize, seed: usize) -> Result<Tensor> {
    let s = INPUT_SIZE as usize;
    let mut v = Vec::with_capacity(batch * s * s * 3);
    for b in 0..batch {
        for y in 0..s {
            for x in 0..s {
                for c in 0..3 {
                    let t = ((x * (c + 1) + y * 3 + (b + seed) * 17) % 97) as f32 / 97.0;
                    let smooth = ((x + y) as f32 / (2 * s) as f32) * (c as f32 + 1.0) / 3.0;
                    v.push((t * 0.5 + smooth) * 2.0 - 1.0);
                }
            }
        }
    }
    Ok(Tensor::from_vec(v, (batch, s, s, 3), &Device::Cpu)?)
}

pub(super) fn run(embedder: &Embedder, args: &Options) -> Result<()> {
    let threads = rayon::current_num_threads();
    eprintln!(
        "simtui bench: EfficientNet-Lite0, {0}×{0} input, {threads} threads",
        INPUT_SIZE
    );
    let mut per_batch = Vec::new();
    for &b in &args.batches {
        let x = synthetic_input(b, 0)?;
        let mut runs = time_runs(args.seconds, 2, || {
            embedder.model.embed(&x)?.to_vec2::<f32>()?;
            Ok(())
        })?;
        let ips = b as f64 / (median_ms(&mut runs) / 1e3);
        eprintln!("  forward batch {b:>3}: {ips:7.1} images/s");
        per_batch.push((b, ips));
    }
    let best = per_batch.iter().map(|(_, v)| *v).fold(0.0, f64::max);

    // T = ⟨f(x), n̂⟩ / ‖f(x₀)‖ through the hand-written backward every gradient map uses; the
    // norm is a constant, computed once.
    let s = INPUT_SIZE as usize;
    let x = synthetic_input(1, 0)?.flatten_all()?.to_vec1::<f32>()?;
    let embed = |x: &Vec<f32>| -> Result<Vec<f32>> {
        let mut e = embedder
            .model
            .embed_images_raw(std::slice::from_ref(x), s, s)?;
        Ok(e.remove(0))
    };
    let neighbour = embed(&synthetic_input(1, 5)?.flatten_all()?.to_vec1::<f32>()?)?;
    let scale = (l2_norm(&neighbour) * l2_norm(&embed(&x)?)) as f32;
    let v: Vec<f32> = neighbour.iter().map(|a| a / scale).collect();
    let inputs = [x];
    let mut runs = time_runs(args.seconds, 10, || {
        embedder.model.target_and_input_grads(&inputs, s, s, &v)?;
        Ok(())
    })?;
    let fb_ms = median_ms(&mut runs);
    eprintln!("  forward+backward (one image, score T): {fb_ms:.1} ms");

    let batches: Vec<String> = args.batches.iter().map(|b| b.to_string()).collect();
    let (torch, torch_error) = peer(
        args,
        "bench_torch.py",
        &["--batches".into(), batches.join(",")],
    );
    let report = Report {
        threads,
        simtui_forward_images_per_s: per_batch,
        simtui_best_images_per_s: best,
        simtui_forward_backward_ms: fb_ms,
        torch,
        torch_error,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// images/s of one memory format at one batch size, from tools/bench_torch.py's JSON.
fn torch_forward(t: &Value, form: &str, batch: usize) -> Option<f64> {
    t.get("forward")?
        .get(form)?
        .as_array()?
        .iter()
        .find_map(|case| {
            (case.get("batch")?.as_u64()? == batch as u64)
                .then(|| case.get("images_per_second")?.as_f64())
                .flatten()
        })
}

fn print_table(r: &Report) {
    let batches: Vec<usize> = r
        .simtui_forward_images_per_s
        .iter()
        .map(|(b, _)| *b)
        .collect();
    let header: Vec<String> = batches
        .iter()
        .map(|b| format!("{:>9}", format!("b={b}")))
        .collect();
    println!(
        "forward images/s         {}  {:>9}",
        header.join(" "),
        "best"
    );
    let row = |name: &str, vals: Vec<Option<f64>>, best: Option<f64>| {
        let cells: Vec<String> = vals
            .iter()
            .map(|v| v.map_or(format!("{:>9}", "-"), |v| format!("{v:9.1}")))
            .collect();
        let best = best.map_or(format!("{:>9}", "-"), |v| format!("{v:9.1}"));
        println!("{name:<24} {}  {best}", cells.join(" "));
    };
    row(
        "simtui (candle)",
        r.simtui_forward_images_per_s
            .iter()
            .map(|(_, v)| Some(*v))
            .collect(),
        Some(r.simtui_best_images_per_s),
    );
    let forms = [
        ("default", "PyTorch default"),
        ("channels_last", "PyTorch channels_last"),
    ];
    if let Some(t) = &r.torch {
        for (key, name) in forms {
            let vals = batches.iter().map(|&b| torch_forward(t, key, b)).collect();
            row(
                name,
                vals,
                num(t, &["forward_best", key, "images_per_second"]),
            );
        }
    }
    println!();
    println!(
        "forward+backward ms      simtui {:8.1}",
        r.simtui_forward_backward_ms
    );
    if let Some(t) = &r.torch {
        for (key, name) in forms {
            if let Some(ms) = num(t, &["grad", key, "median_ms"]) {
                println!(
                    "                         {name:<22} {ms:8.1}  (simtui is {:.2}× faster)",
                    ms / r.simtui_forward_backward_ms
                );
            }
        }
        println!();
        for (key, name) in forms {
            if let Some(best) = num(t, &["forward_best", key, "images_per_second"]) {
                println!(
                    "throughput ratio simtui best / {name} best: {:.2}×",
                    r.simtui_best_images_per_s / best
                );
            }
        }
        if let Some(v) = t.get("torch_version").and_then(Value::as_str) {
            println!(
                "(torch {v}, {} threads)",
                num(t, &["num_threads"]).unwrap_or(f64::NAN)
            );
        }
    }
    if let Some(e) = &r.torch_error {
        println!("PyTorch reference not measured: {e}");
    }
}
