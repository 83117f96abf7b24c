//! iTerm2's inline images (also WezTerm): a PNG in base64, stretched by the terminal over
//! whole cells with its aspect kept.

use std::io::Write;

use anyhow::Result;
use image::{ImageEncoder, RgbImage};

use super::{sized, Placement};

/// `img` as an iTerm2 inline image over `at.cells`, at the pixels those cells show.
pub fn encode(img: &RgbImage, at: &Placement) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let img = sized(img, at.pixels);
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
        at.cells.width,
        at.cells.height
    )?;
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&png)
            .as_bytes(),
    );
    out.push(0x07);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{placement, Driver, Protocol};
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn iterm_images_are_a_base64_png_of_the_fitted_photo() {
        use base64::Engine as _;
        let img = RgbImage::from_fn(900, 600, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let at = placement(
            Driver::direct(Protocol::Iterm),
            900,
            600,
            Rect::new(0, 0, 50, 20),
            (8.0, 16.0),
        );
        let data = encode(&img, &at).unwrap();
        let text = std::str::from_utf8(&data).unwrap();
        let (head, rest) = text.split_once(':').unwrap();
        assert!(
            head.starts_with("\x1b]1337;File=inline=1;preserveAspectRatio=1;size="),
            "{head}"
        );
        assert!(head.ends_with(";width=50;height=17"), "{head}");
        let b64 = rest.strip_suffix('\x07').expect("ends with BEL");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert!(head.contains(&format!("size={};", png.len())));
        let shown = image::load_from_memory(&png).unwrap();
        assert_eq!((shown.width(), shown.height()), (400, 266));
    }
}
