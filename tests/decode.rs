//! Decoding: EXIF orientation, odd colour types, broken files.

mod common;
mod hostile_files;

use image::RgbImage;
use simtui::decode::load_rgb;

fn bad(rel: &str) -> std::path::PathBuf {
    common::fixtures().join("bad").join(rel)
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as u64)
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn every_exif_orientation_gives_the_upright_picture() {
    let upright = load_rgb(&bad("exif_orientation/hopper.jpg")).unwrap();
    for n in 2..=8 {
        for ext in ["jpg", "webp"] {
            let p = bad(&format!("exif_orientation/hopper_orientation_{n}.{ext}"));
            let img = load_rgb(&p).unwrap();
            let d = mean_abs_diff(&upright, &img);
            // Re-encoding leaves a few levels of difference; a wrong transform leaves tens.
            assert!(
                d < 8.0,
                "{}: mean abs difference {d:.1} to the upright image",
                p.display()
            );
        }
    }
    let rect = load_rgb(&bad("exif_orientation/orientation_rectangle.jpg")).unwrap();
    assert_eq!(
        rect.dimensions(),
        (1, 2),
        "a 2×1 image with orientation 8 becomes 1×2"
    );
}

#[test]
fn tiff_orientation_tags_are_applied() {
    let reference = load_rgb(&bad("exif_orientation/g4_orientation_1.tif")).unwrap();
    for n in 2..=8 {
        let p = bad(&format!("exif_orientation/g4_orientation_{n}.tif"));
        let img = load_rgb(&p).unwrap();
        assert_eq!(img.dimensions(), reference.dimensions(), "{}", p.display());
        assert!(mean_abs_diff(&reference, &img) < 1.0, "{}", p.display());
    }
}

#[test]
fn broken_files_fail_with_the_file_name_and_a_reason() {
    for rel in [
        "corrupt/broken.png",
        "corrupt/broken_data_stream.png",
        "empty_or_zero/notjpeg_0bytes.jpg",
        "empty_or_zero/zero_width.gif",
        "truncated/truncated_image.png",
        "truncated/truncated_end_chunk.png",
    ] {
        let p = bad(rel);
        let msg = match load_rgb(&p) {
            Ok(img) => panic!(
                "{rel}: decoded as {}×{} instead of failing",
                img.width(),
                img.height()
            ),
            Err(e) => format!("{e:#}"),
        };
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            msg.contains(&name),
            "{rel}: message {msg:?} does not name the file"
        );
        assert!(
            msg.len() > name.len() + 10,
            "{rel}: message {msg:?} gives no reason"
        );
        // The reason once: not the decoder's message followed by its cause repeated.
        let reason = msg.rsplit(": ").next().unwrap_or("").trim();
        assert_eq!(
            msg.matches(reason).count(),
            1,
            "{rel}: message {msg:?} repeats its reason"
        );
    }
}

#[test]
fn odd_but_valid_files_decode_to_rgb() {
    // EXIF damage, palette with transparency, grayscale: all must still give a picture.
    for rel in [
        "corrupt/broken_exif_dpi.jpg",
        "corrupt/exif-dpi-zerodivision.jpg",
        "corrupt/invalid-exif.jpg",
        "corrupt/hopper_bad_exif.jpg",
        "corrupt/truncated_exif_dpi.jpg",
        "empty_or_zero/tRNS_null_1x1.png",
        "exif_orientation/exif_imagemagick_orientation.png",
    ]
    .iter()
    .map(|r| r.replace("corrupt/truncated_exif_dpi", "truncated/truncated_exif_dpi"))
    {
        let img = load_rgb(&bad(&rel)).unwrap_or_else(|e| panic!("{rel}: {e:#}"));
        assert!(img.width() > 0 && img.height() > 0);
    }
}

#[test]
fn transparency_is_composited_over_white() {
    let mut rgba = image::RgbaImage::new(2, 1);
    rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0])); // fully transparent black
    rgba.put_pixel(1, 0, image::Rgba([200, 10, 10, 255])); // opaque red
    let rgb = simtui::decode::to_rgb_over_white(image::DynamicImage::ImageRgba8(rgba));
    assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    assert_eq!(rgb.get_pixel(1, 0).0, [200, 10, 10]);
}

#[test]
fn reduced_jpeg_decoding_applies_exif_orientation_too() {
    let upright = load_rgb(&bad("exif_orientation/hopper.jpg")).unwrap();
    for n in 1..=8 {
        let name = if n == 1 {
            "exif_orientation/hopper.jpg".to_string()
        } else {
            format!("exif_orientation/hopper_orientation_{n}.jpg")
        };
        let reduced = simtui::decode::load_rgb_reduced(&bad(&name), 32).unwrap();
        assert!(
            reduced.width() < upright.width() && reduced.width() >= 32,
            "{name}: decoded at reduced size ({}×{})",
            reduced.width(),
            reduced.height()
        );
        let small = simtui::render::resize_rgb(&upright, reduced.width(), reduced.height());
        let d = mean_abs_diff(&small, &reduced);
        assert!(
            d < 10.0,
            "{name}: mean abs difference {d:.1} to the upright image"
        );
    }
}

/// CMYK JPEGs (Adobe CMYK, Adobe YCCK, and CMYK without the Adobe segment) embed like their
/// RGB twin on every decode path: full (`embed`, explain), reduced for the index, and the
/// smaller reduction the TUI's previews use.
#[test]
fn cmyk_jpegs_embed_like_their_rgb_twin_on_every_path() {
    use hostile_files::{encode_cmyk, Cmyk};
    let e = common::embedder();
    let dir = std::env::temp_dir().join(format!("simtui-cmyk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["food_espresso.jpg", "bird_scarlet_macaw.jpg"] {
        let photo = common::photo(name);
        let rgb = load_rgb(&photo).unwrap();
        // Each path against the same path on the RGB original (a preview is small, and a
        // small picture embeds differently whatever its colour model).
        let decodes = |p: &std::path::Path| -> [(&str, RgbImage); 3] {
            [
                ("full", load_rgb(p).unwrap()),
                ("index", simtui::decode::load_rgb_reduced(p, 224).unwrap()),
                ("preview", simtui::decode::load_rgb_reduced(p, 384).unwrap()),
            ]
        };
        let twins = decodes(&photo);
        for kind in [Cmyk::Adobe, Cmyk::AdobeYcck, Cmyk::Plain] {
            let p = dir.join(format!("{kind:?}_{name}"));
            std::fs::write(&p, encode_cmyk(&rgb, kind)).unwrap();
            for ((path, img), (_, twin)) in decodes(&p).into_iter().zip(&twins) {
                let emb = e.embed_images(&[img, twin.clone()]).unwrap();
                let c = simtui::engine::cosine(&emb[0], &emb[1]);
                eprintln!("{name} {kind:?} {path}: cosine {c:.4}");
                assert!(
                    c >= 0.99,
                    "{name} {kind:?} {path}: cosine {c:.4} to the RGB twin"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A JPEG cut after its headers is a failure, not a grey picture; reading errors are told
/// apart from content errors (the index retries the former).
#[test]
fn header_only_jpegs_fail_and_unreadable_files_are_marked_as_such() {
    let dir = std::env::temp_dir().join(format!("simtui-hdr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let photo = std::fs::read(common::photo("food_espresso.jpg")).unwrap();
    let p = dir.join("header.jpg");
    std::fs::write(&p, hostile_files::jpeg_header_only(&photo)).unwrap();
    for r in [load_rgb(&p), simtui::decode::load_rgb_reduced(&p, 224)] {
        let e = r.unwrap_err();
        assert!(format!("{e:#}").contains("no image data"), "{e:#}");
        assert!(!simtui::decode::is_unreadable(&e));
    }
    let e = load_rgb(&dir.join("missing.jpg")).unwrap_err();
    assert!(simtui::decode::is_unreadable(&e), "{e:#}");
    let _ = std::fs::remove_dir_all(&dir);
}
