//! Decoding photos into upright RGB: format sniffed from the bytes (not the extension), EXIF
//! orientation applied, grayscale/palette/16-bit/CMYK converted, transparency composited over
//! white. Only regular files are read, and every decode is bounded before it allocates: the
//! claimed dimensions are checked against the side limit and the memory it would take against
//! the process-wide budget ([`set_memory_limit`]); JPEGs over it are decoded at reduced size
//! in the DCT, other formats are refused. HEIC, HEIF and AVIF are decoded with the cargo
//! feature `heif` ([`heif`], libheif) and refused without it.

mod budget;
#[cfg(feature = "heif")]
mod heif;
mod jpeg;

use std::io::{Cursor, Read};
use std::path::Path;

use anyhow::{Context, Result};
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use budget::mib;
pub use budget::Reservation;
pub use budget::{memory_limit, set_memory_limit, DEFAULT_MEMORY_LIMIT};

/// Largest side we accept; larger claims are almost always corrupt headers or decompression
/// bombs.
pub const MAX_SIDE: u32 = 40_000;

/// A file that could not be read (permissions, I/O): worth trying again on the next run,
/// unlike a file whose content cannot be decoded.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// Whether `err` came from reading the file rather than from its content.
pub fn is_unreadable(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.is::<Unreadable>())
}

/// The bytes of `path`, which must be a regular file of at most `max` bytes. A FIFO, device
/// or socket is refused from its metadata, and the file is opened without blocking, so a FIFO
/// swapped in between the check and the open cannot hang the caller either.
pub fn read_regular_file(path: &Path, max: u64) -> Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options
        .open(path)
        .map_err(|e| Unreadable(format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| Unreadable(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        anyhow::bail!("not a regular file ({})", file_kind(&meta));
    }
    if meta.len() > max {
        anyhow::bail!(
            "too large: the file is {} MiB, over the {} MiB limit (--max-image-mb)",
            mib(meta.len()),
            mib(max)
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Unreadable(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max {
        anyhow::bail!("too large: the file grew past {} MiB while read", mib(max));
    }
    Ok(bytes)
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Decodes `path` into an upright RGB image. The error names the file and the reason.
/// A JPEG too large for the memory budget comes back at a reduced size (1/2, 1/4 or 1/8).
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    Ok(load_rgb_held(path, None)?.0)
}

/// [`load_rgb`] (`min_side` None) or [`load_rgb_reduced`], with the image's share of the
/// memory budget: other decodes wait for it until it is dropped. For callers that decode
/// many files at once and keep each image a little while (the index's workers).
pub fn load_rgb_held(path: &Path, min_side: Option<u32>) -> Result<(RgbImage, Reservation)> {
    let mut held = Reservation::none();
    let img =
        decode_file(path, min_side, &mut held).with_context(|| format!("{}", path.display()))?;
    held.shrink_to(img.as_raw().len() as u64);
    Ok((img, held))
}

/// Decodes `path` for the network: JPEGs are decoded at reduced size in the DCT (1/2, 1/4 or
/// 1/8, the smallest that keeps both sides ≥ `min_side`), which halves the cost of a 12-MP
/// photo; other formats decode fully. Orientation, limits and errors as [`load_rgb`].
pub fn load_rgb_reduced(path: &Path, min_side: u32) -> Result<RgbImage> {
    Ok(load_rgb_held(path, Some(min_side))?.0)
}

fn decode_file(path: &Path, min_side: Option<u32>, held: &mut Reservation) -> Result<RgbImage> {
    let bytes = read_regular_file(path, memory_limit())?;
    held.resize(bytes.len() as u64, &|| "the file".to_string())?;
    if let Some(kind) = heif_kind(&bytes) {
        #[cfg(feature = "heif")]
        return heif::decode(&bytes, kind, held);
        #[cfg(not(feature = "heif"))]
        anyhow::bail!(
            "unsupported format ({kind}): build simtui with --features heif to decode it"
        );
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(&bytes, min_side, held)
    } else {
        decode_with_image(&bytes, 0, held)
    }
}

/// Whether the file at `path` is of the HEIF family (by its first bytes; false when it
/// cannot be read).
pub fn is_heif_file(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    heif_kind(&head[..n]).is_some()
}

/// HEIF-family files (phone photos: HEIC, AVIF), recognised by the brands of their `ftyp`
/// box whatever their name: decoded only with the feature `heif`.
pub fn heif_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let size = u32::from_be_bytes(bytes[..4].try_into().ok()?) as usize;
    let brands: Vec<&[u8]> = bytes
        .get(8..size.clamp(12, 256).min(bytes.len()))?
        .chunks_exact(4)
        .enumerate()
        .filter(|(i, _)| *i != 1) // the minor version
        .map(|(_, b)| b)
        .collect();
    let has = |names: &[&[u8]]| brands.iter().any(|b| names.contains(b));
    if has(&[b"avif", b"avis"]) {
        Some("AVIF")
    } else if has(&[
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
    ]) {
        Some("HEIC")
    } else {
        None
    }
}

/// An `image` decoding error as "cannot decode: …". Its message already ends with the
/// underlying cause, which as the error's `source` would be printed a second time.
fn cannot_decode(e: image::ImageError) -> anyhow::Error {
    anyhow::anyhow!("cannot decode: {}", e.to_string().trim_end())
}

/// Decodes with the `image` crate after checking what it will allocate: the pixel buffer
/// (`total_bytes`), the conversion to RGB, a rotation, and `working` bytes the caller knows
/// the decoder keeps (JPEG coefficients). The decoder gets what remains of the budget as
/// its own allocation limit, which is what `ImageReader::decode` would reserve and
/// `from_decoder` does not.
fn decode_with_image(bytes: &[u8], working: u64, held: &mut Reservation) -> Result<RgbImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .context("cannot read")?;
    let Some(format) = reader.format() else {
        anyhow::bail!("not a supported image (format not recognised from its content)");
    };
    let limit = memory_limit();
    reader.limits(limits(limit));
    let mut decoder = reader.into_decoder().map_err(cannot_decode)?;
    let (w, h) = decoder.dimensions();
    check_size(w, h)?;
    let orientation = orientation(&mut decoder);
    let px = w as u64 * h as u64;
    let color = decoder.color_type();
    let convert = match color {
        ColorType::Rgb8 => 0,
        ColorType::Rgba8 => px * 3,
        c if c.has_alpha() => px * (4 + 3),
        _ => px * 3,
    };
    let rotate = if orientation == Orientation::NoTransforms {
        0
    } else {
        px * 6
    };
    // The TIFF decoder decodes into a buffer of its own and copies; the GIF decoder composes
    // each frame in one as large as the frame (itself bounded by the limit below); lossless
    // WebP decodes to 4-byte ARGB first (measured: a 12000×12000 RGB WebP peaked at 1 GB).
    let second_buffer = match format {
        ImageFormat::Tiff | ImageFormat::Gif => decoder.total_bytes(),
        ImageFormat::WebP => px * 4,
        _ => 0,
    };
    let need = bytes.len() as u64
        + working
        + second_buffer
        + (decoder.total_bytes() + convert).max(rotate);
    // Row buffers, inflate windows: what else the decoder may allocate.
    let decoder_own = (limit.saturating_sub(need)).min((need / 2).max(64 << 20));
    held.resize(need + decoder_own, &|| format!("a {w}×{h} {format:?}"))?;
    decoder
        .set_limits(limits(second_buffer + decoder_own))
        .map_err(cannot_decode)?;
    let img = DynamicImage::from_decoder(decoder).map_err(cannot_decode)?;
    let mut rgb = DynamicImage::ImageRgb8(to_rgb_over_white(img));
    rgb.apply_orientation(orientation);
    Ok(rgb.into_rgb8())
}

fn limits(max_alloc: u64) -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(max_alloc);
    l
}

/// JPEGs: the header checked by hand first (dimensions, data present), then `image`'s decoder
/// for a full-size RGB/grey decode that fits the budget (as before), libjpeg at the largest
/// DCT scale that fits for everything else (reduced decodes, CMYK, huge images), and
/// jpeg-decoder or `image` for streams libjpeg refuses.
fn decode_jpeg(bytes: &[u8], min_side: Option<u32>, held: &mut Reservation) -> Result<RgbImage> {
    let h = jpeg::header(bytes)?;
    check_size(h.width, h.height)?;
    let file = bytes.len() as u64;
    let cmyk = h.components == 4;
    let max_scale = min_side.map_or(8, |m| dct_scale(h.width, h.height, m));
    if max_scale == 8 && !cmyk && file + h.decode_bytes(8) <= memory_limit() {
        let working = h.decode_bytes(8) - h.width as u64 * h.height as u64 * 3;
        return decode_with_image(bytes, working, held);
    }
    let scale = jpeg::reserve_scale(&h, max_scale, file, held)?;
    let budget = memory_limit().saturating_sub(file);
    let (img, exif) = jpeg::decode_libjpeg(bytes, &h, scale)
        .or_else(|_| jpeg::decode_jpeg_decoder(bytes, &h, scale, budget))
        .or_else(|e| {
            // `image` (zune-jpeg) displays some damaged streams the others refuse; it decodes
            // at full size only, and assumes Adobe's inversion for CMYK.
            if cmyk && !h.adobe {
                return Err(e);
            }
            let working = h.decode_bytes(8) - h.width as u64 * h.height as u64 * 3;
            decode_with_image(bytes, working, held).map(|img| (img, None))
        })?;
    Ok(upright(img, exif.as_deref()))
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

/// Why a file failed, without its path (the caller shows that): the error chain with
/// repeats dropped (image-rs errors repeat their source) and control characters removed.
pub fn reason(err: &anyhow::Error, path: &Path) -> String {
    let clean = |s: String| -> String {
        let s: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        s.trim().to_string()
    };
    // Cleaned like every message, so a name with control characters is still recognised.
    let shown = clean(path.display().to_string());
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let msg = clean(cause.to_string());
        if msg == shown || msg.is_empty() || parts.last().is_some_and(|p| p.contains(&msg)) {
            continue;
        }
        parts.push(msg);
    }
    parts.join(": ")
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
        let photo = fixture("photos/bird_duck.jpg");
        let h = jpeg::header(&photo).unwrap();
        let scale = dct_scale(h.width, h.height, 224);
        let (img, _) = jpeg::decode_libjpeg(&photo, &h, scale).unwrap();
        assert!(scale < 8, "a photo decodes at reduced size");
        assert!(
            img.width().min(img.height()) >= 224,
            "{:?}",
            img.dimensions()
        );
        // A fatal libjpeg error (here: sampling factors of 0 in the frame header, which the
        // header check lets through) comes back as an error, not an abort or a panic.
        let mut bad = photo.clone();
        let sof = bad.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bad[sof + 11] = 0x00; // the first component's sampling factors
        let h = jpeg::header(&bad).unwrap();
        let e = jpeg::decode_libjpeg(&bad, &h, scale).unwrap_err();
        assert!(format!("{e:#}").starts_with("cannot decode"), "{e:#}");
        // A file cut inside its headers fails before any decoder runs.
        let cut = fixture("bad/truncated/truncated_app14.jpg");
        let e = jpeg::header(&cut).unwrap_err();
        assert_eq!(format!("{e:#}"), "cannot decode: no JPEG frame header");
        let e = jpeg::header(b"\xFF\xD8\xFF\xE0 not a jpeg at all").unwrap_err();
        assert!(format!("{e:#}").starts_with("cannot decode"), "{e:#}");
    }

    #[test]
    fn phone_formats_are_recognised_by_their_brands() {
        let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
        heic.extend_from_slice(&[0; 32]);
        assert_eq!(heif_kind(&heic), Some("HEIC"));
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\0\0";
        assert_eq!(heif_kind(avif), Some("AVIF"));
        let mp4 = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2\0\0\0\0";
        assert_eq!(heif_kind(mp4), None);
        assert_eq!(heif_kind(&fixture("photos/food_espresso.jpg")), None);
    }
}
