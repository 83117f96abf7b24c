//! Decoding photos into upright RGB: format sniffed from the bytes (not the extension), EXIF
//! orientation applied, grayscale/palette/16-bit converted, transparency composited over white,
//! absurd dimensions refused before any pixel memory is allocated.

use std::path::Path;

use anyhow::{Context, Result};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

/// Largest side we accept; larger claims are almost always corrupt headers or decompression
/// bombs.
pub const MAX_SIDE: u32 = 40_000;
/// Most memory one decode may allocate.
pub const MAX_ALLOC_BYTES: u64 = 1 << 30;

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_ALLOC_BYTES);
    l
}

/// Decodes `path` into an upright RGB image. The error names the file and the reason.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    decode_rgb(path).with_context(|| format!("{}", path.display()))
}

/// An `image` decoding error as "cannot decode: …". Its message already ends with the
/// underlying cause, which as the error's `source` would be printed a second time.
fn cannot_decode(e: image::ImageError) -> anyhow::Error {
    anyhow::anyhow!("cannot decode: {}", e.to_string().trim_end())
}

fn decode_rgb(path: &Path) -> Result<RgbImage> {
    let mut reader = ImageReader::open(path)
        .context("cannot open")?
        .with_guessed_format()
        .context("cannot read")?;
    if reader.format().is_none() {
        anyhow::bail!("not a supported image (format not recognised from its content)");
    }
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(cannot_decode)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        anyhow::bail!("image has zero size ({w}×{h})");
    }
    let orientation = orientation(&mut decoder);
    let mut img = DynamicImage::from_decoder(decoder).map_err(cannot_decode)?;
    img.apply_orientation(orientation);
    Ok(to_rgb_over_white(img))
}

/// The stored orientation. A broken EXIF block must not cost the picture: it falls back to
/// "as stored". Some writers (Pillow for WebP) keep the JPEG APP1 "Exif\0\0" prefix inside
/// the EXIF chunk, which the decoders do not expect, so it is stripped and parsed again.
fn orientation(decoder: &mut impl ImageDecoder) -> Orientation {
    let found = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    if found != Orientation::NoTransforms {
        return found;
    }
    match decoder.exif_metadata() {
        Ok(Some(exif)) => exif
            .strip_prefix(b"Exif\0\0")
            .and_then(Orientation::from_exif_chunk)
            .unwrap_or(found),
        _ => found,
    }
}

/// RGB8 from any colour type; transparent pixels are composited over white so that a logo on
/// a transparent background is seen as it is displayed, not as its hidden colour values.
pub fn to_rgb_over_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let [r, g, b, a] = src.0;
        let a = a as u32;
        let blend = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        dst.0 = [blend(r), blend(g), blend(b)];
    }
    out
}

/// Decodes `path` for the network: JPEGs are decoded at reduced size in the DCT (1/2, 1/4 or
/// 1/8, the smallest that keeps both sides ≥ `min_side`), which halves the cost of a 12-MP
/// photo; other formats decode fully. Orientation, limits and errors as [`load_rgb`].
pub fn load_rgb_reduced(path: &Path, min_side: u32) -> Result<RgbImage> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return load_rgb(path);
    }
    // libjpeg first (fastest); jpeg-decoder for what it refuses (CMYK, arithmetic coding,
    // streams too large for its coefficient buffer); and since jpeg-decoder is stricter than
    // zune-jpeg (behind `image`) about some damaged streams that Pillow and browsers display
    // (e.g. a missing restart marker), the full decoder last.
    decode_jpeg_reduced_libjpeg(&bytes, min_side)
        .or_else(|_| decode_jpeg_reduced(&bytes, min_side))
        .or_else(|_| load_rgb(path))
}

/// Refuses an empty image and absurd dimensions (corrupt headers, decompression bombs) before
/// any pixel memory is allocated.
fn check_size(w: u32, h: u32) -> Result<()> {
    if w == 0 || h == 0 {
        anyhow::bail!("image has zero size ({w}×{h})");
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        anyhow::bail!("image is {w}×{h}, larger than the {MAX_SIDE}-pixel limit");
    }
    Ok(())
}

/// `img` turned upright by the orientation in a JPEG's EXIF segment (with or without its
/// `Exif\0\0` prefix), if any.
fn upright(img: RgbImage, exif: Option<&[u8]>) -> RgbImage {
    let orientation = exif
        .and_then(|e| Orientation::from_exif_chunk(e.strip_prefix(b"Exif\0\0").unwrap_or(e)))
        .unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::ImageRgb8(img);
    img.apply_orientation(orientation);
    img.into_rgb8()
}

/// The DCT scale (n/8) that keeps the shorter side of a `w`×`h` JPEG at least `min_side`.
fn dct_scale(w: u32, h: u32, min_side: u32) -> u8 {
    [1u8, 2, 4]
        .into_iter()
        .find(|&n| (w.min(h) * n as u32).div_ceil(8) >= min_side)
        .unwrap_or(8)
}

/// DCT-scaled decoding with libjpeg-turbo's decoder (the `mozjpeg` crate, compiled from source
/// without its SIMD assembly, so a C compiler is all it needs). At 1/8 scale it decodes a
/// 12-MP photo in ~13 ms where jpeg-decoder takes ~22 ms (one thread, this machine).
fn decode_jpeg_reduced_libjpeg(bytes: &[u8], min_side: u32) -> Result<RgbImage> {
    // libjpeg reports fatal errors by unwinding out of the decoder (the crate's error manager
    // resumes an unwind with the message, without calling the panic hook).
    let decoded = std::panic::catch_unwind(|| -> Result<(RgbImage, Option<Vec<u8>>)> {
        let mut d = mozjpeg::Decompress::with_markers(&[mozjpeg::Marker::APP(1)])
            .from_mem(bytes)
            .context("cannot decode")?;
        let (w, h) = (d.width() as u32, d.height() as u32);
        check_size(w, h)?;
        // A progressive stream keeps every coefficient (2 bytes × up to 3 components).
        if w as u64 * h as u64 * 6 > MAX_ALLOC_BYTES {
            anyhow::bail!("image is {w}×{h}: too large for the reduced decoder");
        }
        d.scale(dct_scale(w, h, min_side));
        let exif = d
            .markers()
            .find(|m| m.data.starts_with(b"Exif\0\0"))
            .map(|m| m.data.to_vec());
        let mut started = d.rgb().context("cannot decode")?;
        let (ow, oh) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<u8> = started.read_scanlines().context("cannot decode")?;
        started.finish().context("cannot decode")?;
        let img = RgbImage::from_raw(ow, oh, pixels).context("cannot decode: short pixel data")?;
        Ok((img, exif))
    });
    let (img, exif) = match decoded {
        Ok(r) => r?,
        Err(payload) => anyhow::bail!("cannot decode: {}", crate::panic_message(&*payload)),
    };
    Ok(upright(img, exif.as_deref()))
}

/// Why a file failed, without its path (the caller shows that): the error chain with
/// repeats dropped (image-rs errors repeat their source) and control characters removed.
pub fn reason(err: &anyhow::Error, path: &Path) -> String {
    let shown = path.display().to_string();
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let msg: String = cause
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let msg = msg.trim().to_string();
        if msg == shown || msg.is_empty() || parts.last().is_some_and(|p| p.contains(&msg)) {
            continue;
        }
        parts.push(msg);
    }
    parts.join(": ")
}

fn decode_jpeg_reduced(bytes: &[u8], min_side: u32) -> Result<RgbImage> {
    use jpeg_decoder::{Decoder, PixelFormat};
    let mut dec = Decoder::new(bytes);
    dec.set_max_decoding_buffer_size(MAX_ALLOC_BYTES as usize);
    dec.read_info().context("cannot decode")?;
    let info = dec.info().context("cannot decode: no frame header")?;
    let (w, h) = (info.width as u32, info.height as u32);
    check_size(w, h)?;
    // Ask for the aspect-preserving size whose *shorter* side is min_side: the decoder picks
    // the smallest DCT scale at or above it.
    let s = min_side as f64 / w.min(h) as f64;
    let (rw, rh) = (
        ((w as f64 * s).ceil() as u16).max(1),
        ((h as f64 * s).ceil() as u16).max(1),
    );
    let (ow, oh) = dec.scale(rw, rh).context("cannot decode")?;
    let pixels = dec.decode().context("cannot decode")?;
    let (ow, oh) = (ow as u32, oh as u32);
    let fmt = dec
        .info()
        .map(|i| i.pixel_format)
        .unwrap_or(PixelFormat::RGB24);
    let rgb: Vec<u8> = match fmt {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|c| [c[0], c[0], c[0]])
            .collect(),
        // Adobe CMYK JPEGs store inverted values.
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = p[3] as u32;
                [p[0], p[1], p[2]].map(|c| ((c as u32 * k + 127) / 255) as u8)
            })
            .collect(),
    };
    let img = RgbImage::from_raw(ow, oh, rgb).context("cannot decode: short pixel data")?;
    Ok(upright(img, dec.exif_data()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(rel),
        )
        .unwrap()
    }

    #[test]
    fn dct_scale_keeps_the_shorter_side() {
        assert_eq!(dct_scale(4000, 3000, 224), 1, "375 ≥ 224 at 1/8");
        assert_eq!(
            dct_scale(1000, 750, 224),
            4,
            "94 and 188 are too small, 375 is not"
        );
        assert_eq!(dct_scale(300, 200, 224), 8, "already small: full size");
    }

    #[test]
    fn libjpeg_decodes_at_reduced_size_and_reports_damage_as_errors() {
        let img = decode_jpeg_reduced_libjpeg(&fixture("photos/food_espresso.jpg"), 224).unwrap();
        assert!(
            img.width().min(img.height()) >= 224,
            "{:?}",
            img.dimensions()
        );
        // Fatal libjpeg errors come back as errors (not aborts, not panics).
        let e = decode_jpeg_reduced_libjpeg(&fixture("bad/truncated/truncated_app14.jpg"), 224);
        if let Err(e) = e {
            assert!(format!("{e:#}").contains("cannot decode"), "{e:#}");
        }
        let e =
            decode_jpeg_reduced_libjpeg(b"\xFF\xD8\xFF\xE0 not a jpeg at all", 224).unwrap_err();
        assert!(format!("{e:#}").starts_with("cannot decode"), "{e:#}");
    }
}
