//! Image → network input. Pinned, because the resize kernel moves embeddings: the whole image
//! (no crop, so explanations cover every pixel) is resized to 224×224 with an antialiased
//! Catmull-Rom (PIL `BICUBIC`) filter, then each channel becomes x = (pixel − 127) / 128, the
//! normalisation these weights were trained with (the stem's batch-norm statistics confirm it).

use candle_core::{Device, Result, Tensor};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Side of the square network input.
pub const INPUT_SIZE: u32 = 224;

/// Bumped whenever anything below changes the numbers fed to the network, so cached
/// embeddings made with another pipeline are recomputed.
/// 2: JPEGs for the index are decoded by libjpeg (DCT-scaled) instead of jpeg-decoder.
pub const PREPROCESS_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preprocess {
    /// Colour-blind similarity: the luminance (ITU-R 601, as PIL's `convert("L")`) copied
    /// into all three channels.
    pub grayscale: bool,
}

/// Resizes the whole image to `size`×`size` with the pinned antialiased filter.
pub fn resize_square(img: &RgbImage, size: u32) -> RgbImage {
    resize_rgb(img, size, size)
}

/// Antialiased (Catmull-Rom, convolution with scaled support as PIL does) resize to
/// `width`×`height`; the one resizer of the project, pinned because the kernel moves
/// embeddings.
pub fn resize_rgb(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    if img.dimensions() == (width, height) {
        return img.clone();
    }
    let mut dst = RgbImage::new(width.max(1), height.max(1));
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new()
        .resize(img, &mut dst, &options)
        .expect("RGB8 to RGB8 resize of a non-empty image cannot fail");
    dst
}

impl Preprocess {
    /// Normalised HWC values of an image already at the input size.
    pub fn normalise(&self, img: &RgbImage) -> Vec<f32> {
        let norm = |p: u8| (p as f32 - 127.0) / 128.0;
        if self.grayscale {
            img.pixels()
                .flat_map(|p| {
                    let [r, g, b] = p.0;
                    // PIL's integer luminance: (R·299 + G·587 + B·114) / 1000, rounded.
                    let l = ((r as u32 * 299 + g as u32 * 587 + b as u32 * 114 + 500) / 1000) as u8;
                    [norm(l); 3]
                })
                .collect()
        } else {
            img.as_raw().iter().map(|&p| norm(p)).collect()
        }
    }

    /// Resize + normalise one decoded image: INPUT_SIZE²·3 values, channels last.
    pub fn prepare(&self, img: &RgbImage) -> Vec<f32> {
        self.normalise(&resize_square(img, INPUT_SIZE))
    }
}

/// Stacks prepared inputs into one (B, 224, 224, 3) tensor.
pub fn batch(inputs: &[Vec<f32>]) -> Result<Tensor> {
    let n = (INPUT_SIZE * INPUT_SIZE * 3) as usize;
    let mut data = Vec::with_capacity(inputs.len() * n);
    for x in inputs {
        if x.len() != n {
            candle_core::bail!("prepared input has {} values, expected {n}", x.len());
        }
        data.extend_from_slice(x);
    }
    let s = INPUT_SIZE as usize;
    Tensor::from_vec(data, (inputs.len(), s, s, 3), &Device::Cpu)
}
