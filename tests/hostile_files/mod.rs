//! Hostile files, generated in the tests (none is committed): decompression bombs of every
//! format, a JPEG header with no picture, phone formats, and CMYK twins of real photos.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// A GIF whose logical screen is `sw`×`sh` with one `fw`×`fh` frame (2-colour palette).
pub fn gif(sw: u16, sh: u16, fw: u16, fh: u16) -> Vec<u8> {
    let mut b = b"GIF89a".to_vec();
    b.extend(sw.to_le_bytes());
    b.extend(sh.to_le_bytes());
    b.extend([0x80, 0, 0]); // global colour table of 2 entries
    b.extend([0, 0, 0, 255, 255, 255]);
    b.extend([0x2C, 0, 0, 0, 0]);
    b.extend(fw.to_le_bytes());
    b.extend(fh.to_le_bytes());
    b.extend([0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B]);
    b
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend(kind);
    out.extend(data);
    out.extend(crc.sum().to_be_bytes());
}

/// A 1-bit grey PNG of `w`×`h` black pixels: a few hundred KB that inflate to w·h/8 bytes.
pub fn png_1bit(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; 1 + (w as usize).div_ceil(8)];
    for _ in 0..h {
        z.write_all(&row).unwrap();
    }
    png_chunk(&mut out, b"IDAT", &z.finish().unwrap());
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A deflate-compressed 8-bit grey TIFF of `w`×`h` black pixels in one strip.
pub fn tiff_deflate(w: u32, h: u32) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; w as usize];
    for _ in 0..h {
        z.write_all(&row).unwrap();
    }
    let data = z.finish().unwrap();
    let entries: [(u16, u16, u32); 9] = [
        (256, 4, w),
        (257, 4, h),
        (258, 3, 8),
        (259, 3, 8), // deflate
        (262, 3, 1), // black is zero
        (273, 4, 0), // strip offset, set below
        (277, 3, 1),
        (278, 4, h),
        (279, 4, data.len() as u32),
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_at = (8 + ifd_len) as u32;
    let mut b = b"II*\0".to_vec();
    b.extend(8u32.to_le_bytes());
    b.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_at } else { value };
        b.extend(tag.to_le_bytes());
        b.extend(kind.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        if kind == 3 {
            b.extend((value as u16).to_le_bytes());
            b.extend([0, 0]);
        } else {
            b.extend(value.to_le_bytes());
        }
    }
    b.extend(0u32.to_le_bytes());
    b.extend(data);
    b
}

/// Bits written least significant first, as VP8L reads them.
struct Bits {
    bytes: Vec<u8>,
    n: usize,
}

impl Bits {
    fn put(&mut self, value: u32, count: usize) {
        for i in 0..count {
            if self.n.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if value >> i & 1 == 1 {
                *self.bytes.last_mut().unwrap() |= 1 << (self.n % 8);
            }
            self.n += 1;
        }
    }
}

/// A lossless WebP of `w`×`h` (≤ 16384) transparent pixels in ~30 bytes: every prefix code
/// has a single symbol, so a pixel costs no bits at all.
pub fn webp_lossless(w: u32, h: u32) -> Vec<u8> {
    let mut bits = Bits {
        bytes: Vec::new(),
        n: 0,
    };
    bits.put(0x2f, 8);
    bits.put(w - 1, 14);
    bits.put(h - 1, 14);
    bits.put(0, 1); // alpha hint
    bits.put(0, 3); // version
    bits.put(0, 1); // no transform
    bits.put(0, 1); // no colour cache
    bits.put(0, 1); // no meta prefix codes
    for _ in 0..5 {
        bits.put(1, 1); // simple code
        bits.put(0, 1); // one symbol
        bits.put(0, 1); // 1-bit symbol
        bits.put(0, 1); // symbol 0
    }
    let mut chunk = bits.bytes;
    let len = chunk.len() as u32;
    if chunk.len() % 2 == 1 {
        chunk.push(0);
    }
    let mut b = b"RIFF".to_vec();
    b.extend((4 + 8 + chunk.len() as u32).to_le_bytes());
    b.extend(b"WEBPVP8L");
    b.extend(len.to_le_bytes());
    b.extend(chunk);
    b
}

/// An 8-bit RLE BMP of `w`×`h` whose data is only "end of bitmap".
pub fn bmp_rle8(w: u32, h: u32) -> Vec<u8> {
    let data = [0u8, 1];
    let offset = 14 + 40 + 256 * 4;
    let mut b = b"BM".to_vec();
    b.extend((offset as u32 + data.len() as u32).to_le_bytes());
    b.extend([0; 4]);
    b.extend((offset as u32).to_le_bytes());
    b.extend(40u32.to_le_bytes());
    b.extend((w as i32).to_le_bytes());
    b.extend((h as i32).to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(8u16.to_le_bytes());
    b.extend(1u32.to_le_bytes()); // BI_RLE8
    b.extend((data.len() as u32).to_le_bytes());
    b.extend([0; 8]);
    b.extend(256u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    for i in 0..256u32 {
        b.extend([i as u8, i as u8, i as u8, 0]);
    }
    b.extend(data);
    b
}

/// Offsets of the first SOF payload and the end of the first SOS header of a JPEG.
fn jpeg_offsets(jpeg: &[u8]) -> (usize, usize) {
    let mut i = 2;
    let mut sof = None;
    loop {
        let marker = jpeg[i + 1];
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if matches!(marker, 0xC0..=0xC3) {
            sof = Some(i + 4);
        }
        if marker == 0xDA {
            return (sof.unwrap(), i + 2 + len);
        }
        i += 2 + len;
    }
}

/// `jpeg` with its frame header claiming `w`×`h`.
pub fn jpeg_claiming(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let (sof, _) = jpeg_offsets(jpeg);
    let mut b = jpeg.to_vec();
    b[sof + 1..sof + 3].copy_from_slice(&h.to_be_bytes());
    b[sof + 3..sof + 5].copy_from_slice(&w.to_be_bytes());
    b
}

/// `jpeg` cut right after its first scan header: every header, no picture data.
pub fn jpeg_header_only(jpeg: &[u8]) -> Vec<u8> {
    jpeg[..jpeg_offsets(jpeg).1].to_vec()
}

/// `jpeg` claiming `w`×`h` with `data` bytes of zero scan data after its first scan header.
pub fn jpeg_claiming_with_data(jpeg: &[u8], w: u16, h: u16, data: usize) -> Vec<u8> {
    let mut b = jpeg_claiming(&jpeg_header_only(jpeg), w, h);
    b.extend(std::iter::repeat_n(0u8, data));
    b.extend([0xFF, 0xD9]);
    b
}

/// A JPEG of `img` written by libjpeg (mozjpeg's encoder, already a dependency).
pub fn encode_jpeg(img: &image::RgbImage, progressive: bool) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(img.width() as usize, img.height() as usize);
    c.set_quality(90.0);
    if progressive {
        c.set_progressive_mode();
    }
    let mut s = c.start_compress(Vec::new()).unwrap();
    s.write_scanlines(img.as_raw()).unwrap();
    s.finish().unwrap()
}

/// A real `side`×`side` JPEG: `img` enlarged (nearest neighbour), streamed through the
/// encoder a band at a time so the test never holds the full picture.
pub fn write_huge_jpeg(img: &image::RgbImage, side: u32, to: &Path) {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(side as usize, side as usize);
    c.set_fastest_defaults();
    c.set_quality(85.0);
    let mut s = c
        .start_compress(std::io::BufWriter::new(std::fs::File::create(to).unwrap()))
        .unwrap();
    let (w, h) = img.dimensions();
    let mut band = Vec::with_capacity(side as usize * 3 * 64);
    for y0 in (0..side).step_by(64) {
        band.clear();
        for y in y0..(y0 + 64).min(side) {
            let sy = (y as u64 * h as u64 / side as u64) as u32;
            for x in 0..side {
                let sx = (x as u64 * w as u64 / side as u64) as u32;
                band.extend_from_slice(&img.get_pixel(sx, sy).0);
            }
        }
        s.write_scanlines(&band).unwrap();
    }
    s.finish().unwrap().flush().unwrap();
}

/// A minimal HEIF container's start: an `ftyp` box with the given brands.
pub fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let size = 16 + 4 * compatible.len() as u32;
    let mut b = size.to_be_bytes().to_vec();
    b.extend(b"ftyp");
    b.extend(major);
    b.extend([0; 4]);
    for c in compatible {
        b.extend(*c);
    }
    // A `meta` box header, as in a real file, so the bytes are not all brands.
    b.extend(12u32.to_be_bytes());
    b.extend(b"meta");
    b.extend([0; 4]);
    b
}

/// How a CMYK JPEG stores its samples.
#[derive(Debug, Clone, Copy)]
pub enum Cmyk {
    /// Adobe APP14, CMYK transform: inverted ink values (what Photoshop and Pillow write).
    Adobe,
    /// Adobe APP14, YCCK transform: the inverted CMY as YCbCr, K inverted beside it.
    AdobeYcck,
    /// No APP14 segment: plain ink values.
    Plain,
}

/// The CMYK twin of `img` (ink = 1 − light, black pulled out), written as `kind`.
pub fn encode_cmyk(img: &image::RgbImage, kind: Cmyk) -> Vec<u8> {
    let invert = !matches!(kind, Cmyk::Plain);
    let mut samples = Vec::with_capacity(img.as_raw().len() / 3 * 4);
    for p in img.pixels() {
        let [r, g, b] = p.0.map(|v| v as f32 / 255.0);
        let k = 1.0 - r.max(g).max(b);
        let ink = |v: f32| {
            if k >= 1.0 {
                0.0
            } else {
                (1.0 - v - k) / (1.0 - k)
            }
        };
        for v in [ink(r), ink(g), ink(b), k] {
            let v = (v * 255.0).round().clamp(0.0, 255.0) as u8;
            samples.push(if invert { 255 - v } else { v });
        }
    }
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_CMYK);
    c.set_size(img.width() as usize, img.height() as usize);
    c.set_quality(95.0);
    if matches!(kind, Cmyk::AdobeYcck) {
        c.set_color_space(mozjpeg::ColorSpace::JCS_YCCK);
    }
    let mut s = c.start_compress(Vec::new()).unwrap();
    s.write_scanlines(&samples).unwrap();
    let jpeg = s.finish().unwrap();
    if matches!(kind, Cmyk::Plain) {
        strip_app14(&jpeg)
    } else {
        assert!(
            jpeg.windows(7).any(|w| w == b"\xFF\xEE\0\x0EAdo"),
            "Adobe segment written"
        );
        jpeg
    }
}

/// `jpeg` without its Adobe APP14 segment.
fn strip_app14(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut i = 2;
    while jpeg[i + 1] != 0xDA {
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if jpeg[i + 1] != 0xEE {
            out.extend_from_slice(&jpeg[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    out.extend_from_slice(&jpeg[i..]);
    out
}

/// Writes the hostile folder: every bomb above, the header-only JPEG, phone formats.
/// Returns how many files it wrote.
pub fn write_hostile_folder(dir: &Path, photo_jpeg: &[u8]) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    let progressive = encode_jpeg(
        &image::load_from_memory(photo_jpeg).unwrap().to_rgb8(),
        true,
    );
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("gif_screen_30000.gif", gif(30000, 30000, 1, 1)),
        ("gif_frame_30000.gif", gif(1, 1, 30000, 30000)),
        ("gif_screen_20000.gif", gif(20000, 20000, 1, 1)),
        ("png_1bit_40000.png", png_1bit(40000, 40000)),
        ("png_1bit_30000.png", png_1bit(30000, 30000)),
        ("png_1bit_20000.png", png_1bit(20000, 20000)),
        ("tiff_deflate_30000.tif", tiff_deflate(30000, 30000)),
        ("tiff_deflate_20000.tif", tiff_deflate(20000, 20000)),
        ("webp_16383.webp", webp_lossless(16383, 16383)),
        ("webp_12000.webp", webp_lossless(12000, 12000)),
        ("bmp_rle8_30000.bmp", bmp_rle8(30000, 30000)),
        ("bmp_rle8_20000.bmp", bmp_rle8(20000, 20000)),
        (
            "jpeg_header_39000.jpg",
            jpeg_claiming(&jpeg_header_only(photo_jpeg), 39000, 39000),
        ),
        (
            "jpeg_claims_39000.jpg",
            jpeg_claiming_with_data(photo_jpeg, 39000, 39000, 400_000),
        ),
        (
            "jpeg_progressive_30000.jpg",
            jpeg_claiming_with_data(&progressive, 30000, 30000, 2_000_000),
        ),
        ("jpeg_header_only.jpg", jpeg_header_only(photo_jpeg)),
        ("phone.heic", ftyp(b"heic", &[b"mif1", b"heic"])),
        ("phone_renamed.jpg", ftyp(b"heic", &[b"mif1", b"heic"])),
        ("phone.avif", ftyp(b"avif", &[b"avif", b"mif1", b"miaf"])),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    files.len()
}
