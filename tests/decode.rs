//! Decoding: EXIF orientation, odd colour types, broken files.

mod common;

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
