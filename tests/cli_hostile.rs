//! The command line against a hostile or careless user: file names that carry terminal
//! escapes or are not UTF-8, output paths that point at photos, arguments out of range,
//! options in either place, a reader that stops early. Every folder is made here, in a
//! temporary directory, with its own index database.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn simtui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simtui"))
}

fn photo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/photos")
        .join(name)
}

/// A fresh folder under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("simtui-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("photos")).unwrap();
        TempDir(p)
    }
    fn photos(&self) -> PathBuf {
        self.0.join("photos")
    }
    fn db(&self) -> PathBuf {
        self.0.join("index.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// No byte that a terminal would act on: controls other than newline, and ESC in particular.
fn assert_inert(what: &str, bytes: &[u8]) {
    let bad: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| b < 0x20 && b != b'\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} carries control bytes {bad:?}: {}",
        String::from_utf8_lossy(bytes)
    );
}

const EVIL: &str = "evil\x1b]0;pwned\x07\nforged line.jpg";

#[test]
fn file_names_cannot_drive_the_terminal_or_forge_lines() {
    let t = TempDir::new("inject");
    let dir = t.photos();
    std::fs::copy(photo("bird_kingfisher.jpg"), dir.join(EVIL)).unwrap();
    std::fs::copy(photo("bird_kingfisher_crop.jpg"), dir.join("crop.jpg")).unwrap();
    // A broken file with a hostile name, for the skip list and the error lines.
    std::fs::write(dir.join("bad\x1b[2J.jpg"), b"not a jpeg at all").unwrap();
    let db = t.db();
    let query = photo("bird_kingfisher_crop.jpg");

    let outputs = [
        (
            "index",
            run(simtui().arg("index").arg(&dir).arg("--db").arg(&db)),
        ),
        (
            "similar",
            run(simtui()
                .arg("similar")
                .arg(&query)
                .arg("--in")
                .arg(&dir)
                .arg("--db")
                .arg(&db)),
        ),
        (
            "dups",
            run(simtui()
                .args(["dups", "--threshold", "0.5"])
                .arg(&dir)
                .arg("--db")
                .arg(&db)),
        ),
        (
            "embed",
            run(simtui()
                .arg("embed")
                .arg(dir.join(EVIL))
                .arg(dir.join("bad\x1b[2J.jpg"))),
        ),
    ];
    for (what, out) in &outputs {
        assert_inert(&format!("{what} stdout"), &out.stdout);
        assert_inert(&format!("{what} stderr"), &out.stderr);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.lines().any(|l| l.starts_with("forged line")),
            "{what}: a newline in a name made a line of its own: {text}"
        );
    }
    // The names are still there, escapes made visible.
    let similar = String::from_utf8_lossy(&outputs[1].1.stdout);
    assert!(
        similar.contains("evil␛]0;pwned␇␊forged line.jpg"),
        "{similar}"
    );
    // One file was skipped: index and similar say so with exit 1; similar still answers.
    assert_eq!(outputs[0].1.status.code(), Some(1), "index with a skip");
    assert_eq!(outputs[1].1.status.code(), Some(1), "similar with a skip");
    let note = String::from_utf8_lossy(&outputs[1].1.stderr);
    assert!(
        note.contains("1 file(s)") && note.contains("could not be used"),
        "{note}"
    );
    // JSON stays exact.
    let out = run(simtui()
        .arg("similar")
        .arg(&query)
        .arg("--in")
        .arg(&dir)
        .arg("--db")
        .arg(&db)
        .arg("--json"));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(hits
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["path"].as_str().unwrap().ends_with(EVIL)));
}

#[cfg(unix)]
#[test]
fn json_names_the_exact_bytes_of_a_name_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let t = TempDir::new("bytes");
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff.jpg");
    std::fs::copy(photo("farm_cows.jpg"), t.photos().join(name)).unwrap();
    std::fs::copy(photo("farm_sheep.jpg"), t.photos().join("sheep.jpg")).unwrap();
    let out = run(simtui()
        .arg("similar")
        .arg(photo("farm_horses.jpg"))
        .arg("--in")
        .arg(t.photos())
        .arg("--db")
        .arg(t.db())
        .arg("--json"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hit = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h.get("path_bytes").is_some())
        .expect("the non-UTF-8 name has its bytes");
    let hex = hit["path_bytes"].as_str().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&bytes));
    assert!(path.is_file(), "the bytes lead back to the file: {path:?}");
    assert_eq!(path.file_name().unwrap(), name);
    // UTF-8 names carry no path_bytes.
    assert!(hits.as_array().unwrap().iter().any(|h| h["path"]
        .as_str()
        .unwrap()
        .ends_with("sheep.jpg")
        && h.get("path_bytes").is_none()));
}

#[test]
fn outputs_never_replace_a_photo_and_existing_files_need_force() {
    let t = TempDir::new("clobber");
    let dir = t.photos();
    let a = dir.join("a.jpg");
    let b = dir.join("b.jpg");
    std::fs::copy(photo("pet_chelsea_cat.jpg"), &a).unwrap();
    std::fs::copy(photo("pet_ginger_kitten.jpg"), &b).unwrap();
    let original = std::fs::read(&a).unwrap();
    let explain = |out: &Path, force: bool| {
        let mut c = simtui();
        c.args(["explain", "--method", "decomposition"])
            .arg(&a)
            .arg(&b)
            .arg("-o")
            .arg(out);
        if force {
            c.arg("--force");
        }
        run(&mut c)
    };
    // The output is one of the inputs: refused, with and without --force, by identity even
    // when spelled differently.
    let spelled = dir.join(".").join("a.jpg");
    for force in [false, true] {
        let out = explain(&spelled, force);
        assert_eq!(out.status.code(), Some(2), "force={force}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("one of the input photos"), "{err}");
        assert_eq!(
            std::fs::read(&a).unwrap(),
            original,
            "the photo is untouched"
        );
    }
    // An unrelated existing file: refused without --force, replaced with it.
    let fig = t.0.join("fig.png");
    std::fs::write(&fig, b"keep me").unwrap();
    let out = explain(&fig, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&fig).unwrap(), b"keep me");
    let out = explain(&fig, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(image::open(&fig).is_ok(), "the figure replaced the file");

    // export over an indexed photo: refused even with --force.
    for force in [false, true] {
        let mut c = simtui();
        c.args(["export", "--format", "jsonl"])
            .arg(&dir)
            .arg("--db")
            .arg(t.db())
            .arg("-o")
            .arg(&b);
        if force {
            c.arg("--force");
        }
        let before = std::fs::read(&b).unwrap();
        let out = run(&mut c);
        assert_eq!(out.status.code(), Some(2), "force={force}");
        assert_eq!(std::fs::read(&b).unwrap(), before);
    }
}

#[test]
fn arguments_out_of_range_are_usage_errors() {
    let q = photo("farm_cows.jpg");
    let folder = photo("farm_cows.jpg").parent().unwrap().to_path_buf();
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "similar".into(),
            q.clone().into(),
            "--in".into(),
            folder.clone().into(),
            "-k".into(),
            "0".into(),
        ],
        vec![
            "dups".into(),
            folder.clone().into(),
            "--threshold".into(),
            "NaN".into(),
        ],
        vec![
            "dups".into(),
            folder.clone().into(),
            "--threshold".into(),
            "1.5".into(),
        ],
        vec![
            "dups".into(),
            folder.clone().into(),
            "--threshold".into(),
            "inf".into(),
        ],
        vec![
            "explain".into(),
            q.clone().into(),
            q.clone().into(),
            "--sigma".into(),
            "NaN".into(),
        ],
        vec![
            "explain".into(),
            q.clone().into(),
            q.clone().into(),
            "--steps".into(),
            "0".into(),
        ],
        vec![
            "explain".into(),
            q.clone().into(),
            q.clone().into(),
            "--samples".into(),
            "0".into(),
        ],
        vec![
            "classify".into(),
            q.clone().into(),
            "--top".into(),
            "0".into(),
        ],
    ];
    for args in cases {
        let out = run(simtui().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid value"), "{args:?}: {err}");
    }
}

#[test]
fn a_huge_k_means_the_whole_folder() {
    let t = TempDir::new("bigk");
    for n in ["farm_cows.jpg", "farm_sheep.jpg", "farm_horses.jpg"] {
        std::fs::copy(photo(n), t.photos().join(n)).unwrap();
    }
    for k in ["10000000000", "1152921504606846975"] {
        let out = run(simtui()
            .arg("similar")
            .arg(photo("wild_raccoon.jpg"))
            .arg("--in")
            .arg(t.photos())
            .arg("--db")
            .arg(t.db())
            .args(["-k", k]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    }
}

#[test]
fn global_options_work_before_and_after_the_subcommand() {
    let img = photo("flower_dahlia.jpg");
    let embedding = |args: &[&str]| -> Vec<f64> {
        let out = run(simtui().args(args).arg(&img));
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let before = embedding(&["--grayscale", "embed", "--json"]);
    let after = embedding(&["embed", "--grayscale", "--json"]);
    let colour = embedding(&["embed", "--json"]);
    assert_eq!(before, after);
    let diff: f64 = before.iter().zip(&colour).map(|(a, b)| (a - b).abs()).sum();
    assert!(
        diff > 1.0,
        "--grayscale changes what the model sees: {diff}"
    );
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    let t = TempDir::new("pipe");
    for n in [
        "farm_cows.jpg",
        "farm_sheep.jpg",
        "farm_horses.jpg",
        "wild_raccoon.jpg",
    ] {
        std::fs::copy(photo(n), t.photos().join(n)).unwrap();
    }
    let mut child = simtui()
        .args(["embed"])
        .args(
            [
                "farm_cows.jpg",
                "farm_sheep.jpg",
                "farm_horses.jpg",
                "wild_raccoon.jpg",
            ]
            .map(|n| t.photos().join(n)),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.to_lowercase().contains("broken pipe"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
