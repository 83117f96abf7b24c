//! Images as the escape sequences of the three graphics protocols, sized for their cells.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;
use image::{ImageEncoder, RgbImage};
use ratatui::layout::Rect;

use super::Protocol;
use crate::render::resize_rgb;

/// `img` as the escape sequence that shows it in `cells` through `protocol`.
///
/// All three are encoded here rather than by viuer: its sixel printer sizes images for
/// 6×12-pixel cells whatever the terminal's are (in xterm's 9×18 cells a photo filled two
/// thirds of its panel); its kitty printer, on a local kitty, waits after each image for the
/// terminal's status report by reading stdin, so a key pressed meanwhile (holding `j` through
/// the list) broke that wait, the protocol was given up for half-blocks and the key was lost;
/// and it prints straight to stdout, which would keep encoding on the UI thread.
pub(super) fn encode(
    protocol: Protocol,
    img: &RgbImage,
    cells: Rect,
    cell: (f64, f64),
) -> Result<Vec<u8>> {
    match protocol {
        Protocol::Sixel => sixel(img, cells, cell).map(String::into_bytes),
        Protocol::Kitty => kitty(img, cells, cell),
        Protocol::Iterm => iterm(img, cells, cell),
    }
}

/// `img` as an iTerm2 inline image (a PNG, base64) stretched over `cells`, aspect kept.
fn iterm(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let img = at_most_shown(img, cells, cell);
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    let mut out = Vec::with_capacity(png.len() * 4 / 3 + 128);
    write!(
        out,
        "\x1b]1337;File=inline=1;preserveAspectRatio=1;size={};width={};height={}:",
        png.len(),
        cells.width,
        cells.height
    )?;
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&png)
            .as_bytes(),
    );
    out.push(0x07);
    Ok(out)
}

/// Base64 characters per kitty graphics chunk (the protocol's maximum).
const KITTY_CHUNK: usize = 4096;

/// `img` as kitty graphics commands that show it stretched over `cells`: the pixels sent
/// inline (`t=d`, zlib-compressed RGB), so it works over ssh too and needs no temporary file;
/// at most the pixels the cells show; `q=2`, so the terminal sends no replies into the
/// keyboard input; `C=1`, so the cursor stays put.
fn kitty(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let img = at_most_shown(img, cells, cell);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(img.as_raw())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish()?);
    let mut out = Vec::with_capacity(b64.len() + 64 * (b64.len() / KITTY_CHUNK + 1));
    let n = b64.len().div_ceil(KITTY_CHUNK).max(1);
    for i in 0..n {
        let chunk = &b64.as_bytes()
            [(i * KITTY_CHUNK).min(b64.len())..((i + 1) * KITTY_CHUNK).min(b64.len())];
        let more = u8::from(i + 1 < n);
        if i == 0 {
            write!(
                out,
                "\x1b_Ga=T,f=24,o=z,t=d,q=2,C=1,s={},v={},c={},r={},m={more};",
                img.width(),
                img.height(),
                cells.width,
                cells.height
            )?;
        } else {
            write!(out, "\x1b_Gq=2,m={more};")?;
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\x1b\\");
    }
    Ok(out)
}

/// xterm draws at most 1000×1000 sixel pixels by default (its maxGraphicSize) and drops the
/// rest of a larger image.
const MAX_SIXEL_SIDE: f64 = 1000.0;

/// The pixel size that shows a `w`×`h` image as large as fits in `cells` of `cell` pixels,
/// aspect kept, with no side above `max_side`.
fn fitted_pixels(
    w: u32,
    h: u32,
    cells: Rect,
    cell: (f64, f64),
    max_side: Option<f64>,
) -> (u32, u32) {
    let box_w = cells.width as f64 * cell.0;
    let box_h = cells.height as f64 * cell.1;
    let mut scale = (box_w / w as f64).min(box_h / h as f64);
    if let Some(m) = max_side {
        scale = scale.min(m / w.max(h) as f64);
    }
    // Rounded down (with a little slack for the float product), so that an image never
    // spills a pixel row into the cells below its own.
    let side = |v: u32| ((v as f64 * scale + 1e-6).floor() as u32).max(1);
    (side(w), side(h))
}

/// `img` with no more pixels than `cells` show (the terminal scales it to them anyway):
/// less to encode and to send.
fn at_most_shown(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Cow<'_, RgbImage> {
    let (w, h) = fitted_pixels(img.width(), img.height(), cells, cell, None);
    if w < img.width() {
        Cow::Owned(resize_rgb(img, w, h))
    } else {
        Cow::Borrowed(img)
    }
}

/// `img` as a sixel sequence sized for `cells`.
fn sixel(img: &RgbImage, cells: Rect, cell: (f64, f64)) -> Result<String> {
    let (w, h) = fitted_pixels(img.width(), img.height(), cells, cell, Some(MAX_SIXEL_SIDE));
    let resized = resize_rgb(img, w, h);
    icy_sixel::sixel_string(
        resized.as_raw(),
        w as i32,
        h as i32,
        icy_sixel::PixelFormat::RGB888,
        icy_sixel::DiffusionMethod::Auto,
        icy_sixel::MethodForLargest::Auto,
        icy_sixel::MethodForRep::Auto,
        icy_sixel::Quality::AUTO,
    )
    .map_err(|e| anyhow::anyhow!("cannot encode the photo as sixel: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sixel_photo_fills_its_cells_at_the_terminals_cell_size() {
        let cells = Rect::new(10, 2, 40, 15);
        let px = |w, h, cell| fitted_pixels(w, h, cells, cell, Some(MAX_SIXEL_SIDE));
        // xterm with a 9-point font: 9×18-pixel cells, a box of 360×270 pixels.
        assert_eq!(px(1024, 768, (9.0, 18.0)), (360, 270));
        assert_eq!(px(400, 300, (9.0, 18.0)), (360, 270));
        // A portrait photo is bounded by the height.
        assert_eq!(px(600, 900, (9.0, 18.0)), (180, 270));
        // Large cells: held to xterm's 1000-pixel limit, aspect kept.
        assert_eq!(px(1600, 1200, (40.0, 80.0)), (1000, 750));
    }

    /// Splits kitty graphics commands into (control data, payload).
    fn kitty_commands(data: &[u8]) -> Vec<(String, String)> {
        let text = std::str::from_utf8(data).unwrap();
        assert!(text.starts_with("\x1b_G") && text.ends_with("\x1b\\"));
        text.split("\x1b\\")
            .filter(|c| !c.is_empty())
            .map(|c| {
                let body = c
                    .strip_prefix("\x1b_G")
                    .expect("each command opens with ESC _G");
                let (keys, payload) = body.split_once(';').unwrap();
                (keys.to_string(), payload.to_string())
            })
            .collect()
    }

    #[test]
    fn kitty_images_go_inline_in_chunks_and_ask_for_no_reply() {
        use base64::Engine as _;
        use std::io::Read as _;
        // Noise, so the compressed image needs several chunks.
        let mut seed = 7u32;
        let img = RgbImage::from_fn(900, 600, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(seed >> 24) as u8, (seed >> 16) as u8, (seed >> 8) as u8])
        });
        // 50×20 cells of 8×16 pixels show at most 400×266 of it: no more is sent.
        let cells = Rect::new(3, 4, 50, 20);
        let cmds = kitty_commands(&kitty(&img, cells, (8.0, 16.0)).unwrap());
        assert!(cmds.len() > 2, "{} commands", cmds.len());
        let first = &cmds[0].0;
        for key in [
            "a=T", "f=24", "o=z", "t=d", "q=2", "C=1", "s=400", "v=266", "c=50", "r=20", "m=1",
        ] {
            assert!(first.split(',').any(|k| k == key), "{key} in {first}");
        }
        for (i, (keys, payload)) in cmds.iter().enumerate() {
            let last = i + 1 == cmds.len();
            assert!(keys.contains("q=2"), "chunk {i} asks for no reply: {keys}");
            assert!(keys.ends_with(if last { "m=0" } else { "m=1" }), "{keys}");
            assert!(payload.len() <= KITTY_CHUNK && (last || payload.len() % 4 == 0));
        }
        let b64: String = cmds.iter().map(|(_, p)| p.as_str()).collect();
        let z = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut rgb = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut rgb)
            .unwrap();
        let expected = resize_rgb(&img, 400, 266);
        assert_eq!(rgb, expected.into_raw(), "the pixels sent are the photo's");

        // A photo smaller than its cells goes as it is (the terminal scales it up).
        let small = RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]));
        let cmds = kitty_commands(&kitty(&small, cells, (8.0, 16.0)).unwrap());
        assert_eq!(cmds.len(), 1);
        assert!(
            cmds[0].0.contains("s=40,v=30,c=50,r=20,m=0"),
            "{}",
            cmds[0].0
        );
    }

    #[test]
    fn iterm_images_are_a_base64_png_of_the_fitted_photo() {
        use base64::Engine as _;
        let img = RgbImage::from_fn(900, 600, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let data = iterm(&img, Rect::new(0, 0, 50, 20), (8.0, 16.0)).unwrap();
        let text = std::str::from_utf8(&data).unwrap();
        let (head, rest) = text.split_once(':').unwrap();
        assert!(
            head.starts_with("\x1b]1337;File=inline=1;preserveAspectRatio=1;size="),
            "{head}"
        );
        assert!(head.ends_with(";width=50;height=20"), "{head}");
        let b64 = rest.strip_suffix('\x07').expect("ends with BEL");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert!(head.contains(&format!("size={};", png.len())));
        let shown = image::load_from_memory(&png).unwrap();
        assert_eq!((shown.width(), shown.height()), (400, 266));
    }

    #[test]
    fn the_sixel_sequence_declares_the_fitted_size() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]));
        let data = sixel(&img, Rect::new(0, 0, 20, 5), (8.0, 16.0)).unwrap();
        assert!(
            data.starts_with("\x1bP"),
            "a DCS sequence: {:?}",
            &data[..8]
        );
        assert!(data.ends_with("\x1b\\"));
        // Raster attributes: aspect 1:1, then width and height in pixels (106 × 80 fits 160 × 80).
        assert!(
            data.contains("\"1;1;106;80"),
            "{:?}",
            &data[..40.min(data.len())]
        );
    }
}
