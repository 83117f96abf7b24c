//! `simtui bench index|query|memory`: indexing throughput on large and small JPEGs against a
//! Python user's pipeline, query latency against numpy, and peak memory on 10 000 photos.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::Value;

use super::{median_ms, num, peer, require, time_runs, Options};
use crate::decode;
use crate::engine::Embedder;
use crate::index::scan::list_images;
use crate::index::{self, Cache, ScanOptions};
use crate::render::resize_rgb;
use crate::search::EmbeddingMatrix;

/// `count` JPEGs of `width`×`height` in `dir`, made once from the photos of `sources` by
/// resizing (upscaling for 12 MP) and re-encoding at quality 90; reused on later runs.
fn photo_set(
    sources: &Path,
    dir: &Path,
    count: usize,
    width: u32,
    height: u32,
) -> Result<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = (0..count)
        .map(|i| dir.join(format!("photo{i:05}.jpg")))
        .collect();
    let missing: Vec<usize> = (0..count).filter(|&i| !paths[i].exists()).collect();
    if !missing.is_empty() {
        require(sources, "bench photo folder", "--photos DIR")?;
        let originals = list_images(sources)?;
        anyhow::ensure!(
            !originals.is_empty(),
            "no photos in {} to make the bench photos from (pass --photos DIR)",
            sources.display()
        );
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        eprintln!(
            "making {} test photos of {width}×{height} in {} …",
            missing.len(),
            dir.display()
        );
        missing.par_iter().try_for_each(|&i| -> Result<()> {
            let src = decode::load_rgb(&originals[i % originals.len()])?;
            let img = resize_rgb(&src, width, height);
            let file = std::io::BufWriter::new(std::fs::File::create(&paths[i])?);
            image::codecs::jpeg::JpegEncoder::new_with_quality(file, 90).encode_image(&img)?;
            Ok(())
        })?;
    }
    Ok(paths)
}

/// Indexes `dir` into a fresh database; returns (images, seconds).
fn index_fresh(embedder: &Embedder, dir: &Path) -> Result<(usize, f64)> {
    let db = std::env::temp_dir().join(format!("simtui-bench-{}.sqlite", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let mut cache = Cache::open(&db)?;
    let stop = AtomicBool::new(false);
    let t = Instant::now();
    let (summary, _) = index::update(
        embedder,
        dir,
        ScanOptions::default(),
        &mut cache,
        &stop,
        &mut |_| {},
    )?;
    let secs = t.elapsed().as_secs_f64();
    drop(cache);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    anyhow::ensure!(
        summary.skipped.is_empty(),
        "bench photos failed to decode: {:?}",
        summary.skipped
    );
    Ok((summary.embedded, secs))
}

pub(super) fn run_index(embedder: &Embedder, args: &Options) -> Result<()> {
    let sets = [
        ("12 MP (4000×3000)", "12mp", 4000, 3000),
        ("1 MP (1155×866)", "1mp", 1155, 866),
    ];
    println!(
        "{:<20} {:>14} {:>16} {:>16}",
        "indexing, images/s", "simtui", "Python plain", "Python strong"
    );
    for (label, name, w, h) in sets {
        let dir = args.work_dir.join(name);
        photo_set(&args.photos, &dir, 200, w, h)?;
        // Warm the page cache so both sides read from memory.
        for p in std::fs::read_dir(&dir)? {
            let _ = std::fs::read(p?.path());
        }
        let (n, secs) = index_fresh(embedder, &dir)?;
        let ours = n as f64 / secs;
        let (py, err) = peer(
            args,
            "bench_pipeline.py",
            &[
                dir.to_string_lossy().into_owned(),
                "--form".into(),
                "both".into(),
            ],
        );
        let cell = |form: &str| match py
            .as_ref()
            .and_then(|v| num(v, &[form, "images_per_second"]))
        {
            Some(v) => format!("{v:.1} ({:.2}×)", ours / v),
            None => "-".into(),
        };
        println!(
            "{label:<20} {ours:>14.1} {:>16} {:>16}",
            cell("plain"),
            cell("strong")
        );
        if let Some(e) = err {
            println!("  Python pipeline not measured: {e}");
        }
    }
    println!("(ratio = simtui / Python: above 1 is faster; fresh index, page cache warm, 2 threads each)");
    Ok(())
}

pub(super) fn run_query(args: &Options) -> Result<()> {
    let (n, dim, k) = (100_000usize, 1280usize, 10usize);
    eprintln!("building {n} × {dim} random embeddings …");
    let embs: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut s = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            (0..dim)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect()
        })
        .collect();
    let matrix = EmbeddingMatrix::new(vec![PathBuf::new(); n], &embs);
    drop(embs);
    let mut q = 0;
    let mut runs = time_runs(args.seconds, 20, || {
        let query = matrix.row(q % n).to_vec();
        let hits = matrix.top_k(&query, k, Some(q % n));
        anyhow::ensure!(hits.len() == k);
        q += 7919;
        Ok(())
    })?;
    let ours = median_ms(&mut runs);
    let (py, err): (Option<Value>, _) = peer(
        args,
        "bench_query.py",
        &["--n".into(), n.to_string(), "--k".into(), k.to_string()],
    );
    println!(
        "top-{k} by cosine over {n} × {dim}: simtui {ours:.2} ms (median of {} queries)",
        runs.len()
    );
    if let Some(ms) = py.as_ref().and_then(|v| num(v, &["median_ms"])) {
        println!(
            "numpy X @ q + argpartition: {ms:.2} ms — simtui is {:.2}× faster",
            ms / ours
        );
    }
    if let Some(e) = err {
        println!("numpy not measured: {e}");
    }
    Ok(())
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The folder of 10 000 photos of 640×480 (made once).
pub(super) fn photo_set_10k(args: &Options) -> Result<PathBuf> {
    let dir = args.work_dir.join("10k");
    photo_set(&args.photos, &dir, 10_000, 640, 480)?;
    Ok(dir)
}

pub(super) fn run_memory(embedder: &Embedder, args: &Options) -> Result<()> {
    let dir = photo_set_10k(args)?;
    let before = peak_rss_mb();
    let (n, secs) = index_fresh(embedder, &dir)?;
    let after = peak_rss_mb();
    println!(
        "indexed {n} photos of 640×480 in {secs:.1} s ({:.1} images/s)",
        n as f64 / secs
    );
    match (before, after) {
        (Some(b), Some(a)) => {
            println!("peak RSS {a:.0} MB (before indexing {b:.0} MB; target < 600 MB)")
        }
        _ => println!("peak RSS not available (no /proc/self/status)"),
    }
    Ok(())
}
