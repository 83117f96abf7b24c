//! The command-line interface as a script sees it: JSON on stdout, errors naming the file on
//! stderr, a non-zero exit when any input failed.

use std::path::Path;
use std::process::Command;

fn simtui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simtui"))
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn embed_json_prints_one_object_per_image() {
    let out = simtui()
        .args([
            "embed",
            "--json",
            &fixture("photos/food_espresso.jpg"),
            &fixture("photos/farm_cows.jpg"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, name) in lines.iter().zip(["food_espresso.jpg", "farm_cows.jpg"]) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["path"].as_str().unwrap().ends_with(name));
        let emb = v["embedding"].as_array().unwrap();
        assert_eq!(emb.len(), 1280);
        // After ReLU6 and averaging, every component lies in [0, 6], and the photo lights some up.
        let vals: Vec<f64> = emb.iter().map(|x| x.as_f64().unwrap()).collect();
        assert!(vals.iter().all(|x| (0.0..=6.0).contains(x)));
        assert!(vals.iter().filter(|&&x| x > 0.1).count() > 50);
    }
}

#[test]
fn a_broken_file_is_named_with_its_reason_and_the_rest_still_print() {
    let broken = fixture("bad/corrupt/broken_data_stream.png");
    let out = simtui()
        .args([
            "embed",
            "--json",
            &broken,
            &fixture("photos/food_espresso.jpg"),
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a failed input must give a non-zero exit code"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken_data_stream.png"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("cannot decode"), "stderr: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the good photo is still embedded"
    );
    assert!(stdout.contains("food_espresso.jpg"));
}

#[test]
fn missing_and_empty_files_are_reported() {
    let out = simtui()
        .args([
            "classify",
            "no/such/photo.jpg",
            &fixture("bad/empty_or_zero/notjpeg_0bytes.jpg"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no/such/photo.jpg: cannot open"),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("notjpeg_0bytes.jpg"), "stderr: {stderr}");
}

#[test]
fn classify_json_names_the_espresso() {
    let out = simtui()
        .args([
            "classify",
            "--json",
            "--top",
            "3",
            &fixture("photos/food_espresso.jpg"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(top[0]["label"], "espresso");
    assert_eq!(top[0]["index"], 967);
    let p = top[0]["prob"].as_f64().unwrap();
    assert!(p > 0.5 && p <= 1.0, "espresso probability {p}");
}
