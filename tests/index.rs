//! The folder index from the command line: search, duplicates, incremental updates, broken
//! files, crash safety, model changes, export.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use simtui::index::Cache;

fn simtui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simtui"))
}

/// A fresh folder under the system temp dir, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let p = std::env::temp_dir().join(format!("simtui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_photos(to: &Path) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let photos = common::all_photos();
    for p in &photos {
        std::fs::copy(p, to.join(p.file_name().unwrap())).unwrap();
    }
    photos.len()
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walk(from) {
        let dst = to.join(e.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&e, &dst).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn run(args: &[&str]) -> Output {
    let out = simtui().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "simtui {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn index_json(dir: &Path, db: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "index",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_slice(&run(&args).stdout).unwrap()
}

#[test]
fn similar_finds_the_original_of_the_crop() {
    let t = Temp::new("similar");
    let dir = t.0.join("photos");
    copy_photos(&dir);
    let db = t.0.join("db.sqlite");
    let query = dir.join("bird_kingfisher_crop.jpg");
    let out = run(&[
        "similar",
        query.to_str().unwrap(),
        "--in",
        dir.to_str().unwrap(),
        "-k",
        "5",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(
        hits[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("bird_kingfisher.jpg"),
        "{hits:?}"
    );
    assert!(
        hits.iter().all(|h| !h["path"]
            .as_str()
            .unwrap()
            .ends_with("bird_kingfisher_crop.jpg")),
        "the query itself is excluded"
    );
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {scores:?}"
    );

    // A query from outside the folder works too.
    let outside = common::photo("bird_kingfisher_crop.jpg");
    let out = run(&[
        "similar",
        outside.to_str().unwrap(),
        "--in",
        dir.to_str().unwrap(),
        "-k",
        "2",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Its identical copy inside the folder is a real neighbour, then the original.
    assert!(hits[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("bird_kingfisher_crop.jpg"));
    assert!(hits[0]["score"].as_f64().unwrap() > 0.999);
    assert!(hits[1]["path"]
        .as_str()
        .unwrap()
        .ends_with("bird_kingfisher.jpg"));
}

#[test]
fn dups_groups_the_crop_with_its_original_and_nothing_else() {
    let t = Temp::new("dups");
    let db = t.0.join("db.sqlite");
    let dir = common::fixtures().join("photos");
    let out = run(&[
        "dups",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    let groups: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let mut names: Vec<String> = groups[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            Path::new(m["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["bird_kingfisher.jpg", "bird_kingfisher_crop.jpg"]);
}

#[test]
fn reindexing_is_incremental() {
    let t = Temp::new("incremental");
    let dir = t.0.join("photos");
    let n = copy_photos(&dir);
    let db = t.0.join("db.sqlite");
    let first = index_json(&dir, &db, &[]);
    assert_eq!(first["found"], n);
    assert_eq!(first["embedded"], n);

    let second = index_json(&dir, &db, &[]);
    assert_eq!(second["embedded"], 0, "an unchanged folder embeds nothing");
    assert_eq!(second["from_cache"], n);

    // Touch one file: exactly that one is embedded again.
    let touched = std::fs::File::options()
        .write(true)
        .open(dir.join("farm_cows.jpg"))
        .unwrap();
    touched
        .set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(touched);
    let third = index_json(&dir, &db, &[]);
    assert_eq!(third["embedded"], 1);
    assert_eq!(third["from_cache"], n - 1);

    // Delete one: it is dropped from the index.
    std::fs::remove_file(dir.join("farm_sheep.jpg")).unwrap();
    let fourth = index_json(&dir, &db, &[]);
    assert_eq!(fourth["removed"], 1);
    assert_eq!(fourth["found"], n - 1);
    assert_eq!(fourth["embedded"], 0);
    let cache = Cache::open(&db).unwrap();
    let embedder = common::embedder();
    assert_eq!(cache.rows(embedder.model_id()).unwrap().len(), n - 1);

    // Another model id (grayscale preprocessing) embeds everything again.
    let gray = index_json(&dir, &db, &["--grayscale"]);
    assert_eq!(gray["embedded"], n - 1);
    assert_eq!(gray["from_cache"], 0);
}

#[test]
fn broken_files_are_skipped_with_reasons_and_good_ones_indexed() {
    let t = Temp::new("bad");
    let dir = t.0.join("mixed");
    let n = copy_photos(&dir);
    copy_tree(&common::fixtures().join("bad"), &dir.join("bad"));
    // A hidden folder and a non-image are ignored, not errors.
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::copy(common::photo("farm_cows.jpg"), dir.join(".hidden/cows.jpg")).unwrap();
    let db = t.0.join("db.sqlite");
    let start = Instant::now();
    let v = index_json(&dir, &db, &[]);
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "indexing must not hang"
    );
    let skipped: Vec<(String, String)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for name in [
        "broken.png",
        "broken_data_stream.png",
        "invalid-crc32.png",
        "notjpeg_0bytes.jpg",
        "zero_width.gif",
        "truncated_image.png",
        "truncated_end_chunk.png",
    ] {
        let hit = skipped.iter().find(|(p, _)| p.ends_with(name));
        let (_, reason) = hit.unwrap_or_else(|| panic!("{name} is not reported: {skipped:?}"));
        assert!(reason.len() > 8, "{name}: reason {reason:?}");
    }
    let embedded = v["embedded"].as_u64().unwrap() as usize;
    assert_eq!(
        embedded + skipped.len(),
        v["found"].as_u64().unwrap() as usize
    );
    // Every good photo is in; the hidden copy is not.
    let cache = Cache::open(&db).unwrap();
    let rows = cache.rows(common::embedder().model_id()).unwrap();
    let keys: Vec<String> = rows
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    for p in common::all_photos() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(keys.iter().any(|k| k == &name), "{name} indexed");
    }
    assert!(!keys.iter().any(|k| k.contains(".hidden")));
    assert!(embedded >= n);
    // The remembered failures are reported again without decoding.
    let again = index_json(&dir, &db, &[]);
    assert_eq!(again["embedded"], 0);
    assert_eq!(again["skipped"].as_array().unwrap().len(), skipped.len());
}

#[test]
fn kill_9_mid_run_loses_nothing_committed_and_the_rerun_completes() {
    let t = Temp::new("crash");
    let dir = t.0.join("photos");
    // Four copies of the fixtures, so the run lasts a few seconds.
    for c in 0..4 {
        copy_photos(&dir.join(format!("copy{c}")));
    }
    let total = common::all_photos().len() * 4;
    let db = t.0.join("db.sqlite");
    let model = common::embedder().model_id().to_string();
    let mut child = simtui()
        .args(["index", dir.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Wait for the first committed batch, then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = Cache::open(&db)
            .ok()
            .and_then(|c| c.rows(&model).ok())
            .map_or(0, |r| r.len());
        if rows > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no batch committed within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let cache = Cache::open(&db).unwrap();
    assert_eq!(cache.integrity_check().unwrap(), "ok");
    let after_kill = cache.rows(&model).unwrap().len();
    drop(cache);
    assert!(
        after_kill > 0 && after_kill < total,
        "the kill landed mid-run ({after_kill} of {total} stored)"
    );

    let v = index_json(&dir, &db, &[]);
    assert_eq!(
        v["from_cache"].as_u64().unwrap() as usize,
        after_kill,
        "every committed row survives"
    );
    assert_eq!(v["embedded"].as_u64().unwrap() as usize, total - after_kill);
    let cache = Cache::open(&db).unwrap();
    assert_eq!(cache.integrity_check().unwrap(), "ok");
    assert_eq!(cache.rows(&model).unwrap().len(), total);
}

#[test]
fn export_writes_npy_with_paths_and_jsonl() {
    let t = Temp::new("export");
    let db = t.0.join("db.sqlite");
    let dir = common::fixtures().join("photos");
    let npy = t.0.join("e.npy");
    run(&[
        "export",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--format",
        "npy",
        "-o",
        npy.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "header aligned to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'shape': (46, 1280)"),
        "{header}"
    );
    assert_eq!(bytes.len(), 10 + hlen + 46 * 1280 * 4);
    let paths: Vec<String> =
        serde_json::from_slice(&std::fs::read(t.0.join("e.npy.paths.json")).unwrap()).unwrap();
    assert_eq!(paths.len(), 46);

    let jsonl = t.0.join("e.jsonl");
    run(&[
        "export",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--format",
        "jsonl",
        "-o",
        jsonl.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 46);
    // The same first row in both exports.
    let first: Vec<f32> = lines[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let off = 10 + hlen;
    let npy_first: Vec<f32> = bytes[off..off + 1280 * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(first, npy_first);
    assert_eq!(lines[0]["path"].as_str().unwrap(), paths[0]);
}

#[test]
fn reduced_jpeg_decoding_keeps_embeddings() {
    // The index decodes JPEGs at 1/2–1/8 size in the DCT; that must not move embeddings.
    let e = common::embedder();
    let mut worst = 1f32;
    for p in common::all_photos() {
        let full = simtui::decode::load_rgb(&p).unwrap();
        let reduced = simtui::decode::load_rgb_reduced(&p, 224).unwrap();
        assert!(
            reduced.width() >= 224.min(full.width()) && reduced.height() >= 224.min(full.height())
        );
        let emb = e.embed_images(&[full, reduced]).unwrap();
        worst = worst.min(simtui::engine::cosine(&emb[0], &emb[1]));
    }
    eprintln!("worst cosine, reduced vs full decoding: {worst:.4}");
    assert!(worst >= 0.98, "worst cosine {worst}");
}

#[test]
fn completions_are_printed() {
    let out = run(&["completions", "bash"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("simtui") && s.contains("similar") && s.contains("dups"));
}
