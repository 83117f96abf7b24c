//! HEIC, HEIF and AVIF through the system's libheif (cargo feature `heif`): the primary image,
//! upright, as RGB8, bounded like every other format: the claimed size is checked against the
//! side limit and the memory budget before anything is decoded.

use std::sync::OnceLock;

use anyhow::Result;
use image::{DynamicImage, RgbImage, RgbaImage};
use libheif_rs::{ColorSpace, HeifContext, LibHeif, RgbChroma};

use super::{check_size, memory_limit, to_rgb_over_white, Reservation};

/// libheif's global state (its decoder plugins), set up once and kept: `LibHeif`'s drop
/// would unload the plugins under another thread's decode.
fn libheif() -> &'static LibHeif {
    static LIB: OnceLock<LibHeif> = OnceLock::new();
    LIB.get_or_init(LibHeif::new)
}

/// What decoding a `w`×`h` image holds at once, per pixel: the decoded YCbCr planes (up to
/// 3 bytes at 10–16 bits, 4:2:0; 3 at 8 bits 4:4:4), the interleaved RGB(A) libheif converts
/// them to (≤ 4), and our RGB copy (3); with alpha, its plane (≤ 2) and the RGBA copy (4).
fn bytes_per_pixel(alpha: bool) -> u64 {
    if alpha {
        3 + 4 + 3 + 2 + 4
    } else {
        3 + 3 + 3
    }
}

/// Decodes the primary image of a HEIF-family file (`kind`: "HEIC" or "AVIF", for errors).
/// libheif applies the container's rotation and mirroring (`irot`, `imir`) and crop (`clap`)
/// while decoding, and the size it reports is the transformed one; the EXIF orientation a
/// phone also writes repeats `irot` and is not applied a second time (the HEIF rule).
pub(super) fn decode(bytes: &[u8], kind: &str, held: &mut Reservation) -> Result<RgbImage> {
    let fail = |what: &str, e: libheif_rs::HeifError| {
        anyhow::anyhow!("cannot decode ({kind}): {what}: {}", e.message.trim_end())
    };
    let lib = libheif();
    // Parses the boxes only: no pixel is decoded yet.
    let ctx = HeifContext::read_from_bytes(bytes).map_err(|e| fail("cannot read", e))?;
    let handle = ctx
        .primary_image_handle()
        .map_err(|e| fail("no primary image", e))?;
    let (w, h) = (handle.width(), handle.height());
    check_size(w, h)?;
    // The coded size (`ispe`, before a rotation or crop) may hold more pixels than are shown.
    let coded = |v: i32| u32::try_from(v).unwrap_or(0);
    let (cw, ch) = (coded(handle.ispe_width()), coded(handle.ispe_height()));
    // A file without `ispe` reports 0: then the shown size is all there is to check.
    if cw > 0 && ch > 0 {
        check_size(cw, ch)?;
    }
    let px = (cw as u64 * ch as u64).max(w as u64 * h as u64);
    let alpha = handle.has_alpha_channel();
    let need = bytes.len() as u64 + px * bytes_per_pixel(alpha);
    // The decoder's own: reference pictures and row buffers of one tile or frame.
    let decoder_own = (memory_limit().saturating_sub(need)).min((need / 2).max(32 << 20));
    held.resize(need + decoder_own, &|| format!("a {w}×{h} {kind}"))?;
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let image = lib
        .decode(&handle, ColorSpace::Rgb(chroma), None)
        .map_err(|e| fail("cannot decode", e))?;
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| anyhow::anyhow!("cannot decode ({kind}): libheif returned no RGB plane"))?;
    let channels = if alpha { 4 } else { 3 };
    let (pw, ph) = (plane.width, plane.height);
    let row = pw as usize * channels;
    if pw == 0
        || ph == 0
        || plane.stride < row
        || plane.data.len() < plane.stride * (ph as usize - 1) + row
    {
        anyhow::bail!("cannot decode ({kind}): libheif returned a short {pw}×{ph} plane");
    }
    let mut pixels = Vec::with_capacity(row * ph as usize);
    for y in 0..ph as usize {
        pixels.extend_from_slice(&plane.data[y * plane.stride..][..row]);
    }
    let img = if alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(pw, ph, pixels).expect("sized above"))
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(pw, ph, pixels).expect("sized above"))
    };
    Ok(to_rgb_over_white(img))
}
