//! JPEG: the header read by hand before any decoder runs (dimensions, progressive, colour
//! model, whether scan data is there at all), then libjpeg-turbo's decoder at the DCT scale
//! that fits the memory budget, jpeg-decoder for what libjpeg refuses. CMYK and YCCK are
//! converted here, with the inversion Adobe files store, so every path sees the same colours.

use anyhow::{bail, Context, Result};
use image::RgbImage;

use super::budget::Reservation;

/// What the bytes before the first scan say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    /// All coefficients are kept in memory until the last scan (progressive).
    pub progressive: bool,
    pub arithmetic: bool,
    /// An Adobe APP14 segment: CMYK values are stored inverted.
    pub adobe: bool,
    /// Bytes from the first scan's data to the end of the file.
    pub scan_bytes: u64,
    /// Sampling factors (h, v) per component.
    sampling: [(u8, u8); 4],
}

impl Header {
    /// Bytes the decoder keeps for the coefficients of a progressive (or multi-scan) image:
    /// 64 × i16 per block of every component.
    fn coefficient_bytes(&self) -> u64 {
        let n = self.components.min(4) as usize;
        let hmax = self.sampling[..n]
            .iter()
            .map(|s| s.0)
            .max()
            .unwrap_or(1)
            .max(1) as u64;
        let vmax = self.sampling[..n]
            .iter()
            .map(|s| s.1)
            .max()
            .unwrap_or(1)
            .max(1) as u64;
        let (w, h) = (self.width as u64, self.height as u64);
        self.sampling[..n]
            .iter()
            .map(|&(hs, vs)| {
                let bw = (w * hs.max(1) as u64).div_ceil(hmax * 8) + 1;
                let bh = (h * vs.max(1) as u64).div_ceil(vmax * 8) + 1;
                bw * bh * 128
            })
            .sum()
    }

    /// Memory one decode at `scale`/8 holds: the output, libjpeg's colour buffer (CMYK is
    /// read as 4 bytes and converted) and, for progressive images, every coefficient.
    pub fn decode_bytes(&self, scale: u8) -> u64 {
        let (w, h) = scaled(self.width, self.height, scale);
        let channels = if self.components == 4 { 4 + 3 } else { 3 };
        let out = w as u64 * h as u64 * channels;
        let coefficients = if self.progressive {
            self.coefficient_bytes()
        } else {
            0
        };
        // Row buffers, Huffman tables and the like.
        out + coefficients + (4 << 20)
    }
}

fn scaled(w: u32, h: u32, scale: u8) -> (u32, u32) {
    (
        (w as u64 * scale as u64).div_ceil(8) as u32,
        (h as u64 * scale as u64).div_ceil(8) as u32,
    )
}

/// Reads the segments up to the first scan. Fails on a file with no frame header or no scan
/// data (a header-only JPEG would otherwise decode as a grey picture).
pub(crate) fn header(bytes: &[u8]) -> Result<Header> {
    let mut h = Header {
        width: 0,
        height: 0,
        components: 0,
        progressive: false,
        arithmetic: false,
        adobe: false,
        scan_bytes: 0,
        sampling: [(1, 1); 4],
    };
    let mut frame = false;
    let mut i = 2;
    loop {
        // Fill bytes (0xFF runs) may precede a marker.
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        if i >= bytes.len() || bytes[i - 1] != 0xFF {
            break;
        }
        let marker = bytes[i];
        i += 1;
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if marker == 0xD9 {
            break;
        }
        let Some(len) = bytes
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            break;
        };
        let end = i + len;
        let payload = bytes.get(i + 2..end.min(bytes.len())).unwrap_or(&[]);
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if payload.len() < 6 {
                    bail!("cannot decode: short frame header");
                }
                h.height = u16::from_be_bytes([payload[1], payload[2]]) as u32;
                h.width = u16::from_be_bytes([payload[3], payload[4]]) as u32;
                h.components = payload[5];
                h.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                h.arithmetic = marker >= 0xC9;
                for (c, s) in payload[6..].chunks_exact(3).take(4).enumerate() {
                    h.sampling[c] = (s[1] >> 4, s[1] & 15);
                }
                frame = true;
            }
            0xEE if payload.starts_with(b"Adobe") => h.adobe = true,
            0xDA => {
                h.scan_bytes = bytes.len().saturating_sub(end) as u64;
                break;
            }
            _ => {}
        }
        i = end;
    }
    if !frame {
        bail!("cannot decode: no JPEG frame header");
    }
    if h.scan_bytes == 0 {
        bail!("cannot decode: the file holds a JPEG header but no image data");
    }
    // Huffman coding spends at least one bit per block of the first component (its DC
    // difference, in baseline and progressive scans alike); a file with less data than that
    // is cut short. Decoding it would only paint a large grey picture, slowly.
    if !h.arithmetic {
        let blocks = (h.width as u64).div_ceil(8) * (h.height as u64).div_ceil(8);
        if h.scan_bytes * 8 < blocks {
            bail!(
                "cannot decode: truncated ({} bytes of image data for a {}×{} picture)",
                h.scan_bytes,
                h.width,
                h.height
            );
        }
    }
    Ok(h)
}

/// The largest DCT scale n/8 (n = 8, 4, 2, 1) not above `max_scale` whose decode fits the
/// memory budget, reserved in `res`. The refusal names the smallest scale's need.
pub(crate) fn reserve_scale(
    h: &Header,
    max_scale: u8,
    file_bytes: u64,
    res: &mut Reservation,
) -> Result<u8> {
    let limit = super::budget::memory_limit();
    let scale = [8u8, 4, 2, 1]
        .into_iter()
        .filter(|&s| s <= max_scale)
        .find(|&s| file_bytes + h.decode_bytes(s) <= limit)
        .unwrap_or(1);
    let kind = if h.progressive { "progressive " } else { "" };
    res.resize(file_bytes + h.decode_bytes(scale), &|| {
        format!("a {}×{} {kind}JPEG", h.width, h.height)
    })?;
    Ok(scale)
}

/// RGB from CMYK samples as libjpeg returns them (Adobe files store inverted ink values).
fn cmyk_to_rgb(cmyk: &[u8], adobe: bool) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            // Light remaining after each ink: stored directly when inverted (Adobe), else
            // 255 − ink.
            let light = |v: u8| if adobe { v as u32 } else { 255 - v as u32 };
            let k = light(p[3]);
            [p[0], p[1], p[2]].map(|c| ((light(c) * k + 127) / 255) as u8)
        })
        .collect()
}

/// Decodes at `scale`/8 with libjpeg-turbo. Returns the image and the EXIF segment.
pub(crate) fn decode_libjpeg(
    bytes: &[u8],
    h: &Header,
    scale: u8,
) -> Result<(RgbImage, Option<Vec<u8>>)> {
    // libjpeg reports fatal errors by unwinding out of the decoder (the crate's error manager
    // resumes an unwind with the message, without calling the panic hook).
    let decoded = std::panic::catch_unwind(|| -> Result<(RgbImage, Option<Vec<u8>>)> {
        let mut d = mozjpeg::Decompress::with_markers(&[mozjpeg::Marker::APP(1)])
            .from_mem(bytes)
            .context("cannot decode")?;
        d.scale(scale);
        let exif = d
            .markers()
            .find(|m| m.data.starts_with(b"Exif\0\0"))
            .map(|m| m.data.to_vec());
        let cmyk = h.components == 4;
        let mut started = if cmyk {
            // libjpeg turns YCCK into CMYK but not CMYK into RGB.
            d.to_colorspace(mozjpeg::ColorSpace::JCS_CMYK)
        } else {
            d.rgb()
        }
        .context("cannot decode")?;
        let (ow, oh) = (started.width() as u32, started.height() as u32);
        let mut pixels: Vec<u8> = started.read_scanlines().context("cannot decode")?;
        started.finish().context("cannot decode")?;
        if cmyk {
            pixels = cmyk_to_rgb(&pixels, h.adobe);
        }
        let img = RgbImage::from_raw(ow, oh, pixels).context("cannot decode: short pixel data")?;
        Ok((img, exif))
    });
    match decoded {
        Ok(r) => r,
        Err(payload) => bail!("cannot decode: {}", crate::panic_message(&*payload)),
    }
}

/// Decodes at (about) `scale`/8 with jpeg-decoder, for streams libjpeg refuses.
pub(crate) fn decode_jpeg_decoder(
    bytes: &[u8],
    h: &Header,
    scale: u8,
    budget: u64,
) -> Result<(RgbImage, Option<Vec<u8>>)> {
    use jpeg_decoder::{Decoder, PixelFormat};
    let mut dec = Decoder::new(bytes);
    dec.set_max_decoding_buffer_size(budget as usize);
    dec.read_info().context("cannot decode")?;
    let (rw, rh) = scaled(h.width, h.height, scale);
    let (ow, oh) = dec
        .scale(rw.clamp(1, 65535) as u16, rh.clamp(1, 65535) as u16)
        .context("cannot decode")?;
    let pixels = dec.decode().context("cannot decode")?;
    let fmt = dec
        .info()
        .map(|i| i.pixel_format)
        .context("cannot decode: no frame header")?;
    let rgb: Vec<u8> = match fmt {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|c| [c[0], c[0], c[0]])
            .collect(),
        // jpeg-decoder inverts every CMYK sample (it assumes Adobe's inverted storage), so
        // inverting again gives back what is stored, which cmyk_to_rgb then reads as libjpeg's.
        PixelFormat::CMYK32 => {
            let stored: Vec<u8> = pixels.iter().map(|&v| 255 - v).collect();
            cmyk_to_rgb(&stored, h.adobe)
        }
    };
    let img =
        RgbImage::from_raw(ow as u32, oh as u32, rgb).context("cannot decode: short pixel data")?;
    Ok((img, dec.exif_data().map(<[u8]>::to_vec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_and_cut_short_files_are_refused() {
        let photo = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/photos/food_espresso.jpg"),
        )
        .unwrap();
        let h = header(&photo).unwrap();
        assert!(h.width > 0 && h.scan_bytes > 1000, "{h:?}");
        // Everything up to the first scan's data: a header with no picture.
        let sos = photo.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let len = u16::from_be_bytes([photo[sos + 2], photo[sos + 3]]) as usize;
        let e = header(&photo[..sos + 2 + len]).unwrap_err();
        assert!(format!("{e}").contains("no image data"), "{e}");
        let e = header(&photo[..sos]).unwrap_err();
        assert!(format!("{e}").contains("no image data"), "{e}");
        // A few bytes of data for the whole picture.
        let e = header(&photo[..sos + 2 + len + 16]).unwrap_err();
        assert!(format!("{e}").contains("truncated"), "{e}");
    }

    #[test]
    fn cmyk_conversion_follows_the_adobe_inversion() {
        // Pure cyan ink, no black: (0, 255, 255) in RGB either way it is stored.
        assert_eq!(cmyk_to_rgb(&[0, 255, 255, 255], true), [0, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 0, 0, 0], false), [0, 255, 255]);
    }

    #[test]
    fn jpeg_decoder_fallback_reads_adobe_cmyk_like_libjpeg() {
        // Pure red as Adobe stores it: inverted ink (C=0, M=Y=255, K=0 → 255, 0, 0, 255).
        let (w, h) = (32usize, 16usize);
        let samples: Vec<u8> = (0..w * h).flat_map(|_| [255u8, 0, 0, 255]).collect();
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
        c.set_size(w, h);
        c.set_quality(95.0);
        let mut started = c.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&samples).unwrap();
        let jpeg = started.finish().unwrap();
        let hdr = header(&jpeg).unwrap();
        assert!(hdr.adobe && hdr.components == 4, "{hdr:?}");
        let (a, _) = decode_libjpeg(&jpeg, &hdr, 8).unwrap();
        let (b, _) = decode_jpeg_decoder(&jpeg, &hdr, 8, 1 << 30).unwrap();
        for img in [&a, &b] {
            let [r, g, b] = img.get_pixel(5, 5).0;
            assert!(
                r > 240 && g < 15 && b < 15,
                "red, not black or cyan: {r} {g} {b}"
            );
        }
    }
}
