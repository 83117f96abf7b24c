//! The folder index from the command line: search, duplicates, incremental updates, broken
//! files, crash safety, model changes, export.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use simtui::index::Cache;

use common::{simtui, Temp};

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

/// `similar QUERY --in DIR --db DB --json` with `extra` arguments (it must succeed).
fn similar_json(query: &Path, dir: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "similar",
        query.to_str().unwrap(),
        "--in",
        dir.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    run(&args)
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
    let out = simtui().args(&args).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "simtui {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // The README's rule: 0 when every file was usable, 1 when some were skipped.
    let skipped = v["skipped"].as_array().map_or(0, Vec::len);
    let expected = if skipped == 0 { 0 } else { 1 };
    assert_eq!(
        out.status.code(),
        Some(expected),
        "simtui {args:?} skipped {skipped}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

#[test]
fn similar_finds_the_original_of_the_crop() {
    let t = Temp::new("similar");
    let dir = t.0.join("photos");
    copy_photos(&dir);
    let db = t.0.join("db.sqlite");
    let query = dir.join("bird_kingfisher_crop.jpg");
    let out = similar_json(&query, &dir, &db, &["-k", "5"]);
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
    let out = similar_json(&outside, &dir, &db, &["-k", "2"]);
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
    // Every broken file is remembered in the cache with the reason reported.
    let failures = cache.failures(common::embedder().model_id()).unwrap();
    assert_eq!(failures.len(), skipped.len(), "{skipped:?}");
    for (path, reason) in &skipped {
        let rel = Path::new(path).strip_prefix(&dir).unwrap();
        let row = failures
            .get(rel.to_str().unwrap().as_bytes())
            .unwrap_or_else(|| panic!("{path} has no failure row"));
        assert_eq!(&row.reason, reason);
    }
    // A second run reports them from the cache, without decoding: a reason changed in the
    // database is what it reports.
    drop(cache);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE failures SET reason = 'remembered'", [])
        .unwrap();
    drop(conn);
    let again = index_json(&dir, &db, &[]);
    assert_eq!(again["embedded"], 0);
    let reasons = again["skipped"].as_array().unwrap();
    assert_eq!(reasons.len(), skipped.len());
    assert!(
        reasons.iter().all(|s| s["reason"] == "remembered"),
        "{again}"
    );
}

/// The SQL that damages one row's embedding in each way a disk or a bug can.
const DAMAGE: [&str; 3] = [
    "UPDATE images SET embedding = x'0001020304' WHERE path = ?1",
    "UPDATE images SET embedding = 'not a blob' WHERE path = ?1",
    "UPDATE images SET embedding = x'0000c07f' || substr(embedding, 5) WHERE path = ?1",
];

fn damage_rows(db: &Path, how: &[&str]) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let keys: Vec<Vec<u8>> = conn
        .prepare("SELECT path FROM images ORDER BY path")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    how.iter()
        .zip(&keys)
        .map(|(sql, key)| {
            assert_eq!(conn.execute(sql, [key]).unwrap(), 1);
            String::from_utf8(key.clone()).unwrap()
        })
        .collect()
}

#[test]
fn a_damaged_cache_row_is_embedded_again_and_reported_once() {
    let t = Temp::new("heal");
    let dir = t.0.join("photos");
    let n = copy_photos(&dir);
    let db = t.0.join("db.sqlite");
    index_json(&dir, &db, &[]);
    let damaged = damage_rows(&db, &DAMAGE);
    let query = dir.join("food_espresso.jpg");
    let out = similar_json(&query, &dir, &db, &["-k", "1000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in &damaged {
        assert!(
            stderr.contains(&format!(
                "repaired the damaged index row of {}",
                dir.join(name).display()
            )),
            "{name}: {stderr}"
        );
    }
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), n - 1, "every photo but the query");
    assert!(hits
        .iter()
        .all(|h| h["score"].as_f64().unwrap().is_finite()));
    // Reported once: the next run finds nothing to repair.
    let v = index_json(&dir, &db, &[]);
    assert_eq!(v["embedded"], 0);
    assert_eq!(v["from_cache"], n);
    assert_eq!(v["repaired"].as_array().unwrap().len(), 0, "{v}");

    // The TUI's indexer calls the same update: a damaged row comes back embedded.
    let damaged = damage_rows(&db, &DAMAGE[..1]);
    let mut cache = Cache::open(&db).unwrap();
    let mut embedded = Vec::new();
    let (summary, indexed) = simtui::index::update(
        common::embedder(),
        &dir,
        simtui::index::ScanOptions::default(),
        &mut cache,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |e| {
            if let simtui::index::Event::Embedded { rel, .. } = e {
                embedded.push(rel);
            }
        },
    )
    .unwrap();
    assert_eq!(
        summary.repaired,
        [dir.join(&damaged[0]).display().to_string()]
    );
    assert_eq!(embedded, [PathBuf::from(&damaged[0])]);
    assert_eq!(indexed.paths.len(), n);
    assert!(indexed.embeddings.iter().all(|e| e.len() == 1280));
}

#[test]
fn database_errors_name_the_file_and_the_way_out() {
    let t = Temp::new("baddb");
    let dir = t.0.join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(common::photo("farm_cows.jpg"), dir.join("cows.jpg")).unwrap();
    let db = t.0.join("db.sqlite");
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let out = simtui()
        .args(["index", dir.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(db.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("--db"), "{stderr}");
}

/// A file that cannot be read (permissions) is reported but not remembered: once it is
/// readable again, the next run embeds it. (As root, the run drops to `nobody`, for whom
/// mode 000 does deny reading.)
#[test]
fn unreadable_files_are_tried_again_on_the_next_run() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let t = Temp::new("perm");
    let dir = t.0.join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let locked = dir.join("locked.jpg");
    std::fs::copy(common::photo("farm_cows.jpg"), &locked).unwrap();
    std::fs::copy(common::photo("farm_sheep.jpg"), dir.join("open.jpg")).unwrap();
    for d in [&t.0, &dir] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let db = t.0.join("db.sqlite");
    let index = || -> Value {
        let mut cmd = simtui();
        cmd.args([
            "index",
            dir.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--json",
        ]);
        // SAFETY: getuid/setuid are async-signal-safe.
        if unsafe { libc::geteuid() } == 0 {
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let out = cmd.output().unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let v = index();
    assert_eq!(v["embedded"], 1, "{v}");
    let reason = v["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("ermission denied"), "{v}");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    let v = index();
    assert_eq!(v["embedded"], 1, "the locked file, now readable: {v}");
    assert_eq!(v["skipped"].as_array().unwrap().len(), 0, "{v}");
}

/// Waits (up to 60 s) until an index run in progress has committed its first batch to `db`.
fn wait_for_first_batch(db: &Path, model: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = Cache::open(db)
            .ok()
            .and_then(|c| c.rows(model).ok())
            .map_or(0, |r| r.len());
        if rows > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no batch committed within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    wait_for_first_batch(&db, &model);
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

#[cfg(unix)]
#[test]
fn ctrl_c_mid_run_stores_the_batch_exits_130_and_the_rerun_resumes() {
    let t = Temp::new("sigint");
    let dir = t.0.join("photos");
    for c in 0..4 {
        copy_photos(&dir.join(format!("copy{c}")));
    }
    let total = common::all_photos().len() * 4;
    let db = t.0.join("db.sqlite");
    let model = common::embedder().model_id().to_string();
    let child = simtui()
        .args(["index", dir.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_first_batch(&db, &model);
    // Ctrl-C as a terminal sends it.
    // SAFETY: kill(2) on the child's pid, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stdout.contains("interrupted: run again to finish"),
        "{stdout}"
    );
    let cache = Cache::open(&db).unwrap();
    assert_eq!(cache.integrity_check().unwrap(), "ok");
    let stored = cache.rows(&model).unwrap().len();
    drop(cache);
    assert!(
        stored > 0 && stored < total,
        "stopped mid-run ({stored} of {total})"
    );

    let v = index_json(&dir, &db, &[]);
    assert_eq!(v["from_cache"].as_u64().unwrap() as usize, stored);
    assert_eq!(v["embedded"].as_u64().unwrap() as usize, total - stored);
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
    // The README's figure, 0.992 to three places (measured 0.9917).
    assert!(worst >= 0.9915, "worst cosine {worst}");
}

#[test]
fn completions_are_printed() {
    let out = run(&["completions", "bash"]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("simtui") && s.contains("similar") && s.contains("dups"));
}
