//! HEIC and AVIF decoding (cargo feature `heif`): fixture photos encoded here with libheif's
//! own encoders (x265, aom) embed like their JPEG originals through `embed` and `index`, come
//! out upright when the container rotates them, and a header claiming a huge picture is
//! refused before decoding. Without the feature this file is empty (the feature-less
//! behaviour, "unsupported format", is tested in tests/hostile.rs).
#![cfg(feature = "heif")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{photo, simtui, Temp};
use image::RgbImage;
use libheif_rs::{
    Channel, ColorSpace, CompressionFormat, EncoderQuality, HeifContext, Image, LibHeif, RgbChroma,
};
use serde_json::Value;

/// `rgb` encoded as HEIC (HEVC) or AVIF (AV1) at quality 90.
fn encode(rgb: &RgbImage, format: CompressionFormat) -> Vec<u8> {
    let lib = LibHeif::new();
    let (w, h) = rgb.dimensions();
    let mut image = Image::new(w, h, ColorSpace::Rgb(RgbChroma::C444)).unwrap();
    for c in [Channel::R, Channel::G, Channel::B] {
        image.create_plane(c, w, h, 8).unwrap();
    }
    let planes = image.planes_mut();
    for (i, plane) in [planes.r, planes.g, planes.b].into_iter().enumerate() {
        let plane = plane.unwrap();
        for (y, row) in rgb.rows().enumerate() {
            for (x, px) in row.enumerate() {
                plane.data[y * plane.stride + x] = px.0[i];
            }
        }
    }
    let mut ctx = HeifContext::new().unwrap();
    let mut encoder = lib
        .encoder_for_format(format)
        .unwrap_or_else(|e| panic!("no {format:?} encoder in this libheif: {e:?}"));
    encoder.set_quality(EncoderQuality::Lossy(90)).unwrap();
    ctx.encode_image(&image, &mut encoder, None).unwrap();
    ctx.write_to_bytes().unwrap()
}

/// `simtui embed --json` of each file: its embedding, or the error on stderr.
fn embed(files: &[&Path]) -> Vec<Vec<f64>> {
    let out = simtui()
        .arg("embed")
        .arg("--json")
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
fn heic_and_avif_photos_embed_and_index_like_their_jpeg() {
    let tmp = Temp::new("heif-embed");
    let original = photo("bird_kingfisher.jpg");
    let rgb = simtui::decode::load_rgb(&original).unwrap();
    let heic = tmp.0.join("kingfisher.heic");
    let avif = tmp.0.join("kingfisher.avif");
    // Recognised by content: a HEIC with a JPEG's name decodes too.
    let renamed = tmp.0.join("kingfisher_renamed.jpg");
    let heic_bytes = encode(&rgb, CompressionFormat::Hevc);
    std::fs::write(&heic, &heic_bytes).unwrap();
    std::fs::write(&renamed, &heic_bytes).unwrap();
    std::fs::write(&avif, encode(&rgb, CompressionFormat::Av1)).unwrap();

    let e = embed(&[&original, &heic, &avif, &renamed]);
    assert_eq!(e.len(), 4);
    for (name, v) in [("HEIC", &e[1]), ("AVIF", &e[2]), ("HEIC named .jpg", &e[3])] {
        let c = cosine(&e[0], v);
        eprintln!("{name}: cosine {c:.4} with the JPEG original");
        assert!(c >= 0.98, "{name}: cosine {c:.4} with the JPEG original");
    }

    // `index` embeds them like any photo: nothing skipped, nothing unsupported.
    let out = simtui()
        .arg("index")
        .arg(&tmp.0)
        .arg("--db")
        .arg(tmp.0.join("index.sqlite"))
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["found"], 3, "{v}");
    assert_eq!(v["embedded"], 3, "{v}");
    assert_eq!(v["unsupported"], 0, "{v}");
    assert!(v["skipped"].as_array().unwrap().is_empty(), "{v}");
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn add32(b: &mut [u8], at: usize, n: u32) {
    let v = be32(b, at) + n;
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// The offset of the first box of type `name` (its size field) in a file libheif wrote.
fn find_box(b: &[u8], name: &[u8; 4]) -> usize {
    b.windows(4).position(|w| w == name).expect("the box") - 4
}

/// `heif` with an `irot` property (turn `angle` × 90° anticlockwise) added to its primary
/// image: the box appended to `ipco`, associated in `ipma`, and the sizes of its parents and
/// the item offsets in `iloc` (the data follows the metadata) moved by the 10 added bytes.
/// For a file `encode` wrote: one item, `ipma` version 0 with one-byte associations.
fn with_irot(heif: &[u8], angle: u8) -> Vec<u8> {
    let mut b = heif.to_vec();
    let (meta, iprp, ipco, ipma, iloc) = (
        find_box(&b, b"meta"),
        find_box(&b, b"iprp"),
        find_box(&b, b"ipco"),
        find_box(&b, b"ipma"),
        find_box(&b, b"iloc"),
    );
    assert!(
        meta < iloc && iloc < find_box(&b, b"mdat"),
        "metadata first"
    );
    assert!(ipco < ipma, "ipco before ipma");
    assert_eq!(
        be32(&b, ipma + 8),
        0,
        "ipma version 0, one-byte associations"
    );
    assert_eq!(be32(&b, ipma + 12), 1, "one item");
    // The properties already in ipco: the new one is the next (1-based) index.
    let ipco_end = ipco + be32(&b, ipco) as usize;
    let mut properties = 0u8;
    let mut at = ipco + 8;
    while at < ipco_end {
        at += be32(&b, at) as usize;
        properties += 1;
    }
    // iloc (version 0 or 1): every extent offset moves by 10.
    let version = b[iloc + 8];
    assert!(version < 2, "iloc version {version}");
    let (offset_size, length_size) = ((b[iloc + 12] >> 4) as usize, (b[iloc + 12] & 15) as usize);
    let base_size = (b[iloc + 13] >> 4) as usize;
    let index_size = if version == 1 {
        (b[iloc + 13] & 15) as usize
    } else {
        0
    };
    assert_eq!(offset_size, 4, "32-bit extent offsets");
    assert!(
        base_size == 0 || base_size == 4,
        "base offset of {base_size} bytes"
    );
    let items = u16::from_be_bytes([b[iloc + 14], b[iloc + 15]]);
    let mut at = iloc + 16;
    for _ in 0..items {
        at += 2 + if version == 1 { 2 } else { 0 } + 2; // item id, construction, data ref
                                                        // The data's position is the base offset plus each extent's: move the base if
                                                        // there is one, else every extent.
        let base = (base_size == 4).then_some(at).filter(|&a| be32(&b, a) > 0);
        if let Some(base) = base {
            add32(&mut b, base, 10);
        }
        at += base_size;
        let extents = u16::from_be_bytes([b[at], b[at + 1]]);
        at += 2;
        for _ in 0..extents {
            at += index_size;
            if base.is_none() {
                add32(&mut b, at, 10);
            }
            at += offset_size + length_size;
        }
    }
    for size_of in [meta, iprp, ipco] {
        add32(&mut b, size_of, if size_of == ipco { 9 } else { 10 });
    }
    add32(&mut b, ipma, 1);
    let count = ipma + 18;
    b[count] += 1;
    let associations_end = count + 1 + (b[count] - 1) as usize;
    // The later insertion first, so the earlier offset still holds.
    b.insert(associations_end, 0x80 | (properties + 1)); // essential
    let irot = [0, 0, 0, 9, b'i', b'r', b'o', b't', angle & 3];
    b.splice(ipco_end..ipco_end, irot);
    b
}

/// A phone stores the sensor's pixels as they came and says how to turn them (`irot`; EXIF
/// orientation 6 here): what is decoded is the photo upright.
#[test]
fn a_heic_stored_on_its_side_is_decoded_upright() {
    let upright = simtui::decode::load_rgb(&photo("bird_kingfisher.jpg")).unwrap();
    let (w, h) = upright.dimensions();
    let on_its_side = image::imageops::rotate270(&upright);
    // libheif 1.15 turns the pixels instead of writing `irot`: the box is added by hand.
    let bytes = with_irot(&encode(&on_its_side, CompressionFormat::Hevc), 3);
    // The stored pixels are on their side: only the container's rotation makes them upright.
    let ctx = HeifContext::read_from_bytes(&bytes).unwrap();
    let handle = ctx.primary_image_handle().unwrap();
    assert_eq!(
        (handle.ispe_width(), handle.ispe_height()),
        (h as i32, w as i32),
        "stored on its side"
    );
    let tmp = Temp::new("heif-rotated");
    let path = tmp.0.join("turned.heic");
    std::fs::write(&path, &bytes).unwrap();
    let decoded = simtui::decode::load_rgb(&path).unwrap();
    assert_eq!(decoded.dimensions(), (w, h));
    let mean_diff = decoded
        .as_raw()
        .iter()
        .zip(upright.as_raw())
        .map(|(a, b)| (*a as f64 - *b as f64).abs())
        .sum::<f64>()
        / upright.as_raw().len() as f64;
    eprintln!("mean absolute difference from the upright JPEG: {mean_diff:.2}");
    assert!(mean_diff < 6.0, "mean absolute difference {mean_diff:.1}");
}

/// The `ispe` (image spatial extents) property of `bytes` rewritten to claim `w`×`h`.
fn claim_size(bytes: &mut [u8], w: u32, h: u32) {
    let at = bytes
        .windows(4)
        .position(|b| b == b"ispe")
        .expect("an ispe box");
    // "ispe", version and flags (4 bytes), width, height.
    bytes[at + 8..at + 12].copy_from_slice(&w.to_be_bytes());
    bytes[at + 12..at + 16].copy_from_slice(&h.to_be_bytes());
}

#[test]
fn a_heic_claiming_a_huge_picture_is_refused_before_decoding() {
    let rgb = simtui::decode::load_rgb(&photo("food_espresso.jpg")).unwrap();
    let bytes = encode(&rgb, CompressionFormat::Hevc);
    let tmp = Temp::new("heif-bomb");
    for (w, h, expect) in [
        (
            30_000,
            30_000,
            "too large: decoding a 30000×30000 HEIC needs",
        ),
        // libheif's own limit (32768 per side) refuses this one while parsing, before ours.
        (
            50_000,
            1_000,
            "Image size 50000x1000 exceeds the maximum image size",
        ),
    ] {
        let mut bomb = bytes.clone();
        claim_size(&mut bomb, w, h);
        let path = tmp.0.join(format!("bomb_{w}x{h}.heic"));
        std::fs::write(&path, &bomb).unwrap();
        let started = Instant::now();
        let out = simtui().arg("embed").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect), "{w}×{h}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused from the header, not after decoding"
        );
    }
}
