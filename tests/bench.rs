//! `simtui bench` away from the source tree: its paths come from the current folder or from
//! flags, and a missing one is an error naming the path and the flag (the binary carries no
//! source-tree paths to fall back on).

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh, empty folder for one test (removed first if a previous run left it).
fn empty_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simtui-test-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `simtui bench ARGS` run in `cwd`.
fn bench_in(cwd: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simtui"))
        .arg("bench")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn bench_explain_outside_the_repository_names_the_photo_and_the_flag() {
    let cwd = empty_dir("explain");
    let out = bench_in(&cwd, &["explain", "--no-torch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ran without its photos: {stderr}");
    assert!(
        stderr.contains("fixtures/photos/bird_kingfisher_crop.jpg") && stderr.contains("--photos"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn bench_memory_without_source_photos_fails_before_making_the_work_folder() {
    let cwd = empty_dir("memory");
    let work = cwd.join("sets");
    let missing = cwd.join("no-photos-here");
    let out = bench_in(
        &cwd,
        &[
            "memory",
            "--work-dir",
            &work.to_string_lossy(),
            "--photos",
            &missing.to_string_lossy(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&*missing.to_string_lossy()) && stderr.contains("--photos"),
        "{stderr}"
    );
    assert!(!work.exists(), "an unusable run left {}", work.display());
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn bench_model_takes_the_peer_scripts_from_tools_and_reports_a_missing_one() {
    let cwd = empty_dir("model");
    let tools = cwd.join("my-tools");
    std::fs::create_dir_all(&tools).unwrap();
    let out = bench_in(
        &cwd,
        &[
            "model",
            "--batches",
            "1",
            "--seconds",
            "0.01",
            "--tools",
            &tools.to_string_lossy(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // simtui's own figures are measured; the peer is reported missing where --tools points.
    assert!(stdout.contains("simtui (candle)"), "{stdout}");
    let expected = tools.join("bench_torch.py");
    assert!(
        stdout.contains(&format!(
            "PyTorch reference not measured: peer script {} not found",
            expected.display()
        )),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&cwd);
}
