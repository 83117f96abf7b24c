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

#[test]
fn explain_writes_the_figure_the_raw_maps_and_json() {
    let dir = std::env::temp_dir().join(format!("simtui-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fig = dir.join("pair.png");
    let prefix = dir.join("maps");
    let out = simtui()
        .args([
            "explain",
            &fixture("photos/bird_kingfisher_crop.jpg"),
            &fixture("photos/bird_kingfisher.jpg"),
        ])
        .args(["--method", "decomposition", "--json", "-o"])
        .arg(&fig)
        .arg("--raw-out")
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["method"], "decomposition");
    let score = v["score"].as_f64().unwrap();
    assert!(
        score > 0.85 && score < 1.0,
        "kingfisher crop vs original: {score}"
    );
    for side in ["a", "b"] {
        let f = &v[side]["faithfulness"];
        let auc = |k: &str| f[k].as_f64().unwrap();
        for k in [
            "deletion_auc",
            "insertion_auc",
            "random_deletion_auc",
            "random_insertion_auc",
        ] {
            assert!(auc(k) > 0.0 && auc(k) < 1.5, "{side}.{k} = {}", auc(k));
        }
        // For a crop and its original the map must beat a random order on both curves, by a
        // margin: deleting what it ranks first lowers the score faster, inserting it first
        // raises it faster.
        assert!(
            auc("deletion_auc") + 0.05 < auc("random_deletion_auc"),
            "{side}: deletion {f}"
        );
        assert!(
            auc("insertion_auc") > auc("random_insertion_auc") + 0.05,
            "{side}: insertion {f}"
        );
        let (px, py) = (
            v[side]["peak"][0].as_u64().unwrap(),
            v[side]["peak"][1].as_u64().unwrap(),
        );
        assert!(
            px < v[side]["width"].as_u64().unwrap() && py < v[side]["height"].as_u64().unwrap()
        );
    }
    assert_eq!(v["files"].as_array().unwrap().len(), 3);

    // The figure: a real picture wider than the two photos' panels.
    let img = image::open(&fig).unwrap();
    assert!(img.width() > 1000 && img.height() > 400);
    // The raw maps: 16-bit grey at each photo's own resolution, brightest at the reported peak.
    for (suffix, w, h, side) in [("a", 768, 432, "a"), ("b", 1024, 576, "b")] {
        let raw = image::open(dir.join(format!("maps-{suffix}.png"))).unwrap();
        assert_eq!(raw.color(), image::ColorType::L16);
        assert_eq!((raw.width(), raw.height()), (w, h));
        let raw = raw.into_luma16();
        let (px, py) = (
            v[side]["peak"][0].as_u64().unwrap() as u32,
            v[side]["peak"][1].as_u64().unwrap() as u32,
        );
        let at_peak = raw.get_pixel(px, py).0[0];
        let mean = raw.pixels().map(|p| p.0[0] as f64).sum::<f64>() / (w * h) as f64;
        assert!(
            at_peak as f64 > 1.5 * mean,
            "{suffix}: peak {at_peak} vs mean {mean:.0}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_ranks_the_original_first_for_the_crop() {
    let dir = std::env::temp_dir().join(format!("simtui-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("report.png");
    let out = simtui()
        .args([
            "report",
            &fixture("photos/bird_kingfisher_crop.jpg"),
            "--in",
            &fixture("photos"),
            "-k",
            "3",
        ])
        .args(["--method", "decomposition", "-o"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap();
    assert!(first.ends_with("bird_kingfisher.jpg"), "first row: {first}");
    assert!(
        !stdout.contains("bird_kingfisher_crop.jpg"),
        "the query is not its own neighbour"
    );
    let img = image::open(&png).unwrap();
    assert!(img.height() > 3 * 220, "three rows");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_tui_refuses_a_missing_folder_a_file_and_a_pipe_with_clear_messages() {
    let out = simtui().arg("no/such/folder").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open folder no/such/folder"), "{err}");

    let out = simtui()
        .arg(fixture("photos/food_espresso.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a file, not a folder of photos"), "{err}");

    // Under `cargo test` stdout is a pipe: the TUI says what to use instead, and leaves the
    // terminal alone.
    let out = simtui().arg(fixture("photos")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs a terminal") && err.contains("`similar`"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no escape sequences on a pipe");
}
