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

fn decode_rgb(path: &Path) -> Result<RgbImage> {
    let mut reader = ImageReader::open(path)
        .context("cannot open")?
        .with_guessed_format()
        .context("cannot read")?;
    if reader.format().is_none() {
        anyhow::bail!("not a supported image (format not recognised from its content)");
    }
    reader.limits(limits());
    let mut decoder = reader.into_decoder().context("cannot decode")?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        anyhow::bail!("image has zero size ({w}×{h})");
    }
    let orientation = orientation(&mut decoder);
    let mut img = DynamicImage::from_decoder(decoder).context("cannot decode")?;
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
