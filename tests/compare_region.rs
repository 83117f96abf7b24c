//! `compare` as a script sees it (exit 0 same, 1 different, 2 error) and `similar --region`'s
//! bounds and results.

use std::path::Path;
use std::process::{Command, Output};

fn simtui(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simtui"))
        .args(args)
        .output()
        .unwrap()
}

fn photo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/photos")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A JSON box [x0, y0, x1, y1] is non-empty and inside the 1024×576 kingfisher.
fn assert_box_in_kingfisher(v: &serde_json::Value) {
    let b: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert!(
        b[0] < b[2] && b[2] <= 1024 && b[1] < b[3] && b[3] <= 576,
        "{b:?}"
    );
}

/// A folder of copies of the fixture photos `names` (under a fresh temp folder tagged `tag`),
/// with its index file's path: (folder, folder as text, index as text).
fn folder_of(tag: &str, names: &[&str]) -> (std::path::PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("simtui-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in names {
        std::fs::copy(photo(name), dir.join(name)).unwrap();
    }
    let (d, db) = (
        dir.to_string_lossy().into_owned(),
        dir.join("index.db").to_string_lossy().into_owned(),
    );
    (dir, d, db)
}

/// `similar --region` over `d` for the kingfisher of the crop (its bird fills the middle of
/// the 1024×576 original's crop), as JSON, with `extra` arguments.
fn kingfisher_region_search(d: &str, db: &str, extra: &[&str]) -> Output {
    let crop = photo("bird_kingfisher_crop.jpg");
    let mut args = vec![
        "similar",
        &crop,
        "--in",
        d,
        "--db",
        db,
        "--region",
        "100,50,400,300",
        "--json",
    ];
    args.extend_from_slice(extra);
    simtui(&args)
}

#[test]
fn compare_exits_0_for_the_crop_and_its_original_1_for_unrelated_photos_2_on_error() {
    let (crop, original) = (
        photo("bird_kingfisher_crop.jpg"),
        photo("bird_kingfisher.jpg"),
    );
    // The crop scores 0.898 in the centred space (unrelated pairs sit near 0).
    let out = simtui(&["compare", &crop, &original, "--threshold", "0.8"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("same"));

    let out = simtui(&["compare", &crop, &photo("farm_cows.jpg")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("different"));

    let missing = photo("no_such_photo.jpg");
    let out = simtui(&["compare", &crop, &missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_photo.jpg"));

    for bad in ["1.5", "nan", "-2"] {
        let out = simtui(&["compare", &crop, &original, "--threshold", bad]);
        assert_eq!(out.status.code(), Some(2), "--threshold {bad}");
    }
}

#[test]
fn compare_json_gives_the_verdict_the_space_and_boxes_of_the_strongest_cell_pairs() {
    let (crop, original) = (
        photo("bird_kingfisher_crop.jpg"),
        photo("bird_kingfisher.jpg"),
    );
    let out = simtui(&["compare", "--json", &crop, &original, "--threshold", "0.8"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["a"]["path"]
        .as_str()
        .unwrap()
        .ends_with("bird_kingfisher_crop.jpg"));
    assert_eq!(v["same"], true);
    assert_eq!(v["space"], "centred-v1");
    let score = v["score"].as_f64().unwrap();
    assert!(score > 0.8 && score < 1.0, "{score}");
    let pairs = v["correspondences"].as_array().unwrap();
    assert!(!pairs.is_empty());
    let mut last = f64::INFINITY;
    for p in pairs {
        let c = p["contribution"].as_f64().unwrap();
        assert!(c > 0.0 && c <= last);
        last = c;
        // Boxes lie inside the photos: the original is 1024×576.
        assert_box_in_kingfisher(&p["b_box"]);
    }
}

#[test]
fn a_region_outside_the_image_or_empty_is_refused_with_the_region_and_the_size() {
    let dir = std::env::temp_dir().join(format!("simtui-region-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let q = photo("bird_kingfisher.jpg");
    let out = simtui(&["similar", &q, "--in", &d, "--region", "900,100,1100,300"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("900,100,1100,300") && err.contains("1024×576"),
        "{err}"
    );
    for bad in ["10,10,10,50", "1,2,3", "a,b,c,d"] {
        let out = simtui(&["similar", &q, "--in", &d, "--region", bad]);
        assert_eq!(out.status.code(), Some(2), "--region {bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(bad));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn region_search_finds_the_cropped_bird_and_says_where() {
    let (dir, d, db) = folder_of(
        "region",
        &[
            "bird_kingfisher.jpg",
            "bird_owl.jpg",
            "farm_cows.jpg",
            "food_espresso.jpg",
            "windmill_mykonos.jpg",
        ],
    );
    let out = kingfisher_region_search(&d, &db, &["-k", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(
        hits[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("bird_kingfisher.jpg"),
        "{hits:?}"
    );
    assert_box_in_kingfisher(&hits[0]["box"]);
    assert!(
        hits[0]["score"].as_f64().unwrap() >= hits[0]["first_pass_score"].as_f64().unwrap() - 1e-4
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_correspondence_draws_the_pairs_and_lists_them_with_boxes() {
    let out_png = std::env::temp_dir().join(format!("simtui-corr-{}.png", std::process::id()));
    let png = out_png.to_string_lossy().into_owned();
    let (crop, original) = (
        photo("bird_kingfisher_crop.jpg"),
        photo("bird_kingfisher.jpg"),
    );
    let out = simtui(&[
        "explain",
        "--correspondence",
        "--json",
        &crop,
        &original,
        "-o",
        &png,
        "--force",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 12);
    let listed: f64 = pairs
        .iter()
        .map(|p| p["contribution"].as_f64().unwrap())
        .sum();
    assert!((listed - v["listed_sum"].as_f64().unwrap()).abs() < 1e-4);
    // The crop's bird (upper middle of 768×432) pairs with the original's bird.
    let a: Vec<u64> = pairs[0]["a_box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert!(a[2] <= 768 && a[3] <= 432 && a[0] < a[2], "{a:?}");
    let img = image::open(&out_png).unwrap();
    assert!(img.width() > 800 && img.height() > 300);
    std::fs::remove_file(&out_png).unwrap();
}

/// A photo damaged after it was indexed (same size and mtime, so the index still trusts its
/// row) does not stop the region search: it is named on stderr, the others are ranked, and
/// the exit status says something was skipped.
#[test]
fn a_photo_damaged_since_indexing_is_skipped_by_region_search_not_fatal() {
    let (dir, d, db) = folder_of(
        "region-bad",
        &["bird_kingfisher.jpg", "bird_owl.jpg", "farm_cows.jpg"],
    );
    let out = simtui(&["index", &d, "--db", &db]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Zeros over the owl, size and mtime kept.
    let owl = dir.join("bird_owl.jpg");
    let meta = std::fs::metadata(&owl).unwrap();
    std::fs::write(&owl, vec![0u8; meta.len() as usize]).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&owl)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    let out = kingfisher_region_search(&d, &db, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some input skipped: {stderr}");
    assert_eq!(
        stderr.matches("bird_owl.jpg").count(),
        1,
        "the damaged photo is named, once: {stderr}"
    );
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("bird_kingfisher.jpg"), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
