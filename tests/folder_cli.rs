//! The folder commands' promises on small generated trees: `dups` ordering, `--threshold` and
//! its JSON shape; `--no-recursive` and `--follow-links` (a symlink loop reported, not
//! followed forever); skip reasons that name the file once.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use common::{simtui, Temp};

/// Runs simtui with a deadline, so that a walk that never ends fails the test instead of
/// hanging it.
fn run(args: &[&OsStr]) -> Output {
    let mut child = simtui()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("simtui {args:?} still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn run_ok(args: &[&OsStr]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "simtui {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn file_name(p: &str) -> String {
    Path::new(p)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The photo decoded and saved again as a JPEG of `quality` at `scale` of its size: the
/// same picture as a different file, as a phone export or a messenger would make it.
fn reencode(from: &Path, to: &Path, scale: f32, quality: u8) {
    let img = image::open(from).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let img = image::imageops::resize(
        &img,
        (w as f32 * scale) as u32,
        (h as f32 * scale) as u32,
        image::imageops::FilterType::Triangle,
    );
    let file = std::fs::File::create(to).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(file, quality)
        .encode_image(&img)
        .unwrap();
}

/// `dups --json`: groups as [{members: [{path, score}]}], names only.
fn dup_groups(dir: &Path, db: &Path, threshold: Option<&str>) -> Vec<Vec<(String, f64)>> {
    let mut args = vec![
        OsStr::new("dups"),
        dir.as_os_str(),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--json"),
    ];
    if let Some(t) = threshold {
        args.extend([OsStr::new("--threshold"), OsStr::new(t)]);
    }
    let out = run_ok(&args);
    let groups: Value = serde_json::from_slice(&out.stdout).unwrap();
    groups
        .as_array()
        .expect("an array of groups")
        .iter()
        .map(|g| {
            let keys: Vec<&String> = g.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["members"], "{g}");
            g["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    let mut keys: Vec<&String> = m.as_object().unwrap().keys().collect();
                    keys.sort();
                    assert_eq!(keys, ["path", "score"], "{m}");
                    let path = m["path"].as_str().unwrap();
                    assert!(Path::new(path).is_file(), "a usable path: {path}");
                    (file_name(path), m["score"].as_f64().unwrap())
                })
                .collect()
        })
        .collect()
}

#[test]
fn dups_orders_groups_and_members_and_follows_the_threshold() {
    let t = Temp::new("dups");
    let dir = t.0.join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let db = t.0.join("db.sqlite");
    // Three kingfishers (the photo, a smaller re-encoded copy, the fixture crop), two cows
    // (the photo and a re-encoded copy), and an unrelated duck.
    for name in [
        "bird_kingfisher.jpg",
        "bird_kingfisher_crop.jpg",
        "farm_cows.jpg",
        "bird_duck.jpg",
    ] {
        std::fs::copy(common::photo(name), dir.join(name)).unwrap();
    }
    reencode(
        &common::photo("bird_kingfisher.jpg"),
        &dir.join("kingfisher_copy.jpg"),
        0.6,
        70,
    );
    reencode(
        &common::photo("farm_cows.jpg"),
        &dir.join("cows_copy.jpg"),
        0.5,
        60,
    );

    let groups = dup_groups(&dir, &db, None);
    let names: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.iter().map(|(n, _)| n.as_str()).collect())
        .collect();
    assert_eq!(groups.len(), 2, "{groups:?}");
    // The largest group first; members by score, the crop (its weakest link) last.
    assert_eq!(names[0].len(), 3, "{groups:?}");
    assert_eq!(names[0][2], "bird_kingfisher_crop.jpg", "{groups:?}");
    let mut kingfishers = names[0].clone();
    kingfishers.sort();
    assert_eq!(
        kingfishers,
        [
            "bird_kingfisher.jpg",
            "bird_kingfisher_crop.jpg",
            "kingfisher_copy.jpg"
        ]
    );
    let mut cows = names[1].clone();
    cows.sort();
    assert_eq!(cows, ["cows_copy.jpg", "farm_cows.jpg"]);
    for g in &groups {
        assert!(
            g.windows(2).all(|w| w[0].1 >= w[1].1),
            "members by score: {g:?}"
        );
    }
    // A member's score is its best link: the photo and its copy share theirs.
    assert_eq!(groups[0][0].1, groups[0][1].1, "{groups:?}");
    assert_eq!(groups[1][0].1, groups[1][1].1, "{groups:?}");

    // Just above the crop's link: the crop leaves, the two copies stay.
    let crop = groups[0][2].1;
    let above_crop = format!("{:.4}", crop + 0.001);
    let groups_above = dup_groups(&dir, &db, Some(&above_crop));
    assert_eq!(groups_above.len(), 2, "{groups_above:?}");
    assert!(
        groups_above.iter().all(|g| g.len() == 2),
        "{groups_above:?}"
    );
    assert!(
        !groups_above
            .iter()
            .flatten()
            .any(|(n, _)| n == "bird_kingfisher_crop.jpg"),
        "{groups_above:?}"
    );
    // Just below it (at or above is a duplicate): the crop is back.
    let below_crop = format!("{:.4}", crop - 0.001);
    assert_eq!(dup_groups(&dir, &db, Some(&below_crop))[0].len(), 3);

    // Above every pair's score: nothing, said in words, and an empty JSON array.
    let top = groups
        .iter()
        .flatten()
        .map(|m| m.1)
        .fold(f64::MIN, f64::max);
    let above_all = format!("{:.4}", (top + 0.001).min(1.0));
    assert!(top + 0.001 <= 1.0, "a copy scores below 1: {top}");
    assert!(dup_groups(&dir, &db, Some(&above_all)).is_empty());
    let out = run_ok(&[
        OsStr::new("dups"),
        dir.as_os_str(),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--threshold"),
        OsStr::new(&above_all),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("no near-duplicates at centred similarity ≥ {above_all}"),
        "{text}"
    );
    // The text form of the default: the same groups, largest first, scores with 4 decimals.
    let out = run_ok(&[
        OsStr::new("dups"),
        dir.as_os_str(),
        OsStr::new("--db"),
        db.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "group 1 (3 images)", "{text}");
    assert!(
        lines[3].starts_with(&format!("  {crop:.4}  ")) && lines[3].ends_with("_crop.jpg"),
        "{text}"
    );
    assert_eq!(lines[4], "group 2 (2 images)", "{text}");
    assert_eq!(lines.len(), 7, "{text}");
}

/// `index --json` of `dir` with `extra` flags: the exit status and the report.
fn index_json(dir: &Path, db: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        OsStr::new("index"),
        dir.as_os_str(),
        OsStr::new("--db"),
        db.as_os_str(),
        OsStr::new("--json"),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let out = run(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "simtui {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

#[test]
fn no_recursive_and_follow_links_choose_what_is_indexed_and_a_loop_is_reported() {
    let t = Temp::new("walk");
    let root = t.0.join("photos");
    let outside = t.0.join("elsewhere");
    for d in [root.join("sub"), root.join(".hidden"), outside.clone()] {
        std::fs::create_dir_all(d).unwrap();
    }
    for (name, to) in [
        ("bird_duck.jpg", root.join("top.jpg")),
        ("farm_cows.jpg", root.join("sub/nested.jpg")),
        ("bird_owl.jpg", root.join(".hidden/hidden.jpg")),
        ("wild_raccoon.jpg", outside.join("linked.jpg")),
    ] {
        std::fs::copy(common::photo(name), to).unwrap();
    }
    // A linked folder, a linked photo, and a link back to an ancestor: a loop.
    std::os::unix::fs::symlink(&outside, root.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(outside.join("linked.jpg"), root.join("link.jpg")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();

    let found = |report: &Value| report["found"].as_u64().unwrap();
    // Default: recursive, links not followed, hidden folders skipped.
    let (code, report) = index_json(&root, &t.0.join("a.sqlite"), &[]);
    assert_eq!((code, found(&report)), (0, 2), "{report}");
    assert_eq!(report["skipped"], Value::Array(vec![]), "{report}");

    // --no-recursive: the folder's own photos only.
    let (code, report) = index_json(&root, &t.0.join("b.sqlite"), &["--no-recursive"]);
    assert_eq!((code, found(&report)), (0, 1), "{report}");

    // --follow-links: the linked folder and photo count; the loop is reported once, as a
    // skipped entry with its reason, and the walk ends (exit 1: something was skipped).
    let (code, report) = index_json(&root, &t.0.join("c.sqlite"), &["--follow-links"]);
    assert_eq!(found(&report), 4, "{report}");
    assert_eq!(report["embedded"], 4, "{report}");
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert!(
        skipped[0]["path"].as_str().unwrap().ends_with("sub/loop"),
        "{report}"
    );
    assert_eq!(skipped[0]["reason"], "symbolic link loop", "{report}");
    assert_eq!(code, 1, "{report}");

    // Both: the linked photo in the folder itself, no descent into any folder.
    let (code, report) = index_json(
        &root,
        &t.0.join("d.sqlite"),
        &["--follow-links", "--no-recursive"],
    );
    assert_eq!((code, found(&report)), (0, 2), "{report}");
}

/// Broken files are listed as `path: reason`, the path once: also when the name carries
/// control characters (shown as visible symbols) or is not UTF-8, in text and in JSON, on
/// the first run and when the failure is remembered from the index.
#[test]
fn a_skipped_file_is_named_once_with_its_reason() {
    use std::os::unix::ffi::OsStrExt;
    let t = Temp::new("reasons");
    let dir = t.0.join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let db = t.0.join("db.sqlite");
    let names: [&[u8]; 4] = [
        b"x.jpg",
        b"evil\x1b[31mred.jpg",
        b"new\nline.jpg",
        b"latin\xe9.jpg",
    ];
    for name in names {
        std::fs::write(dir.join(OsStr::from_bytes(name)), b"not a photo").unwrap();
    }
    std::fs::copy(common::photo("bird_duck.jpg"), dir.join("ok.jpg")).unwrap();
    let want_reason = "not a supported image (format not recognised from its content)";
    for run_no in ["first run", "remembered"] {
        let out = run(&[
            OsStr::new("index"),
            dir.as_os_str(),
            OsStr::new("--db"),
            db.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{run_no}: some were skipped");
        let text = String::from_utf8_lossy(&out.stdout);
        let skipped: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(": not a supported image"))
            .collect();
        assert_eq!(skipped.len(), names.len(), "{run_no}:\n{text}");
        for line in &skipped {
            let (path, reason) = line.trim().split_once(".jpg: ").unwrap();
            assert_eq!(reason, want_reason, "{run_no}: {line}");
            assert_eq!(line.matches(".jpg").count(), 1, "{run_no}: {line}");
            assert!(path.starts_with(&*dir.to_string_lossy()), "{line}");
        }
        let x = format!("{}: {want_reason}", dir.join("x.jpg").display());
        assert!(skipped.iter().any(|l| l.trim() == x), "{run_no}:\n{text}");

        let (_, report) = index_json(&dir, &db, &[]);
        let reasons: Vec<&Value> = report["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["reason"])
            .collect();
        assert_eq!(
            reasons,
            vec![want_reason; names.len()],
            "{run_no}: {report}"
        );
    }
}
