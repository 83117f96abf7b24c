//! Maps to pictures: colour map, shared scale, overlay on the photo, figures and raw maps.
//! The same [`overlay`] feeds the terminal and the PNG export, so a report shows what the
//! user saw.

pub mod correspondence;
pub mod figure;
pub mod terminal;
pub mod text;

use image::RgbImage;

use crate::explain::faithfulness::gaussian_blur;
use crate::explain::SaliencyMap;

/// Inferno: perceptually uniform, dark = little, bright yellow = most, readable in grey.
pub fn colormap(t: f32) -> [u8; 3] {
    let c = colorous::INFERNO.eval_continuous(t.clamp(0.0, 1.0) as f64);
    [c.r, c.g, c.b]
}

/// The value range mapped onto the colour map, shared by both maps of a pair so that equal
/// colours mean equal values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub lo: f32,
    pub hi: f32,
}

/// Values above this percentile of the pair are drawn at full colour, so one extreme pixel
/// does not wash out the rest of the map.
pub const CLIP_PERCENTILE: f32 = 99.5;

impl Scale {
    /// From 0 (negative evidence is not drawn) to the 99.5th percentile over both maps.
    pub fn shared(maps: &[&SaliencyMap]) -> Scale {
        let mut all: Vec<f32> = maps.iter().flat_map(|m| m.values.iter().copied()).collect();
        all.retain(|v| v.is_finite());
        if all.is_empty() {
            return Scale { lo: 0.0, hi: 1.0 };
        }
        all.sort_by(f32::total_cmp);
        let idx = ((CLIP_PERCENTILE / 100.0) * (all.len() - 1) as f32).round() as usize;
        let mut hi = all[idx.min(all.len() - 1)];
        if hi <= 0.0 {
            hi = all.last().copied().filter(|v| *v > 0.0).unwrap_or(1.0);
        }
        Scale { lo: 0.0, hi }
    }

    /// The scale of a pair's two maps as they are drawn ([`display_map`]s): the one rule the
    /// screen, the pair figure and the report share.
    pub fn for_pair(a: &SaliencyMap, b: &SaliencyMap) -> Scale {
        Scale::shared(&[&display_map(a), &display_map(b)])
    }

    /// A symmetric scale for signed maps: ±(the 99.5th percentile of |v| over both drawn maps),
    /// so equal distances from white mean equal contributions for and against.
    pub fn signed_for_pair(a: &SaliencyMap, b: &SaliencyMap) -> Scale {
        let (da, db) = (display_map(a), display_map(b));
        let mut all: Vec<f32> = da
            .values
            .iter()
            .chain(&db.values)
            .map(|v| v.abs())
            .filter(|v| v.is_finite())
            .collect();
        if all.is_empty() {
            return Scale { lo: -1.0, hi: 1.0 };
        }
        all.sort_by(f32::total_cmp);
        let idx = ((CLIP_PERCENTILE / 100.0) * (all.len() - 1) as f32).round() as usize;
        let mut hi = all[idx.min(all.len() - 1)];
        if hi <= 0.0 {
            hi = all.last().copied().filter(|v| *v > 0.0).unwrap_or(1.0);
        }
        Scale { lo: -hi, hi }
    }

    /// Whether the scale is symmetric around 0 (a signed map's).
    pub fn is_signed(&self) -> bool {
        self.lo < 0.0
    }

    /// Position of `v` on the colour map, in [0, 1].
    pub fn t(&self, v: f32) -> f32 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

/// Diverging colours for signed maps, `t` in [0, 1] with 0.5 = no contribution: blue where a
/// region argues against the similarity, white where it does nothing, red where it makes the
/// pair alike (ColorBrewer's RdBu, readable by most colour-blind readers).
pub fn diverging(t: f32) -> [u8; 3] {
    let c = colorous::RED_BLUE.eval_continuous(1.0 - t.clamp(0.0, 1.0) as f64);
    [c.r, c.g, c.b]
}

/// The colour of `t` on `scale`'s colour map (inferno for one sign, diverging for both).
pub fn colour_on(scale: &Scale, t: f32) -> [u8; 3] {
    if scale.is_signed() {
        diverging(t)
    } else {
        colormap(t)
    }
}

/// Antialiased resize of a photo for panels and previews: the model's pinned Catmull-Rom
/// resizer, so there is one in the project.
pub use crate::model::preprocess::resize_rgb;

/// The largest size with the aspect ratio of `w`×`h` that fits in `max_w`×`max_h`.
pub fn fit(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let s = (max_w as f64 / w as f64).min(max_h as f64 / h as f64);
    (
        ((w as f64 * s).round() as u32).max(1),
        ((h as f64 * s).round() as u32).max(1),
    )
}

/// What is drawn of a map: cell maps as they are; pixel maps (gradients) lightly smoothed
/// (σ = 1/112 of the width, 2 px at 224), since single-pixel speckle upsampled onto a photo
/// reads as noise. Raw exports keep the unsmoothed values.
pub fn display_map(map: &SaliencyMap) -> SaliencyMap {
    if map.width < 56 {
        return map.clone();
    }
    let sigma = map.width as f32 / 112.0;
    SaliencyMap {
        width: map.width,
        height: map.height,
        values: gaussian_blur(&map.values, map.width, map.height, 1, sigma),
    }
}

/// The map, upsampled smoothly to the photo, coloured and alpha-blended over it. Opacity grows
/// with the value, so salient regions glow and the rest of the photo stays readable, dimmed.
/// `scale` should come from [`Scale::for_pair`] (inferno, positive contributions only) or
/// [`Scale::signed_for_pair`] (diverging: both signs).
pub fn overlay(photo: &RgbImage, map: &SaliencyMap, scale: &Scale) -> RgbImage {
    let (w, h) = photo.dimensions();
    let m = display_map(map).resized(w as usize, h as usize);
    let mut out = photo.clone();
    for (p, &v) in out.pixels_mut().zip(&m.values) {
        let t = scale.t(v);
        let c = colour_on(scale, t);
        // Opacity grows with the size of the contribution: away from 0 on a signed scale.
        let strength = if scale.is_signed() {
            (2.0 * t - 1.0).abs()
        } else {
            t
        };
        let a = 0.25 + 0.6 * strength;
        for (x, y) in p.0.iter_mut().zip(c) {
            *x = (*x as f32 * (1.0 - a) + y as f32 * a).round() as u8;
        }
    }
    out
}

/// The map at the photo's own resolution as 16-bit grey: 0 = nothing, 65535 = the top of the
/// shared scale; brighter means more similarity.
pub fn raw_map(
    map: &SaliencyMap,
    scale: &Scale,
    width: u32,
    height: u32,
) -> image::ImageBuffer<image::Luma<u16>, Vec<u16>> {
    let m = map.resized(width as usize, height as usize);
    let data: Vec<u16> = m
        .values
        .iter()
        .map(|&v| (scale.t(v) * 65535.0).round() as u16)
        .collect();
    image::ImageBuffer::from_raw(width, height, data).expect("one value per pixel")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inferno_runs_dark_to_bright() {
        let lum = |c: [u8; 3]| 0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32;
        let mut last = -1.0;
        for i in 0..=10 {
            let l = lum(colormap(i as f32 / 10.0));
            assert!(l > last, "luminance must increase along the map");
            last = l;
        }
    }

    /// Two 25×20 maps (under [`display_map`]'s smoothing width, so drawn as they are) holding
    /// the values 1..=1000 between them, the top five (0.5 %) replaced by huge outliers.
    fn pair_of_maps(value: impl Fn(f32) -> f32) -> (SaliencyMap, SaliencyMap) {
        let mut all: Vec<f32> = (1..=1000).map(|v| value(v as f32)).collect();
        for v in &mut all[995..] {
            *v = value(1.0e6);
        }
        // Interleaved between the two maps, so neither map alone holds the percentile.
        let map = |parity: usize| SaliencyMap {
            width: 25,
            height: 20,
            values: all.iter().skip(parity).step_by(2).copied().collect(),
        };
        (map(0), map(1))
    }

    #[test]
    fn scale_is_shared_and_clips_at_the_99_5th_percentile() {
        let (a, b) = pair_of_maps(|v| v);
        let s = Scale::for_pair(&a, &b);
        // Sorted 1..=995 then five outliers: rank round(0.995 × 999) = 994 holds 995.
        assert_eq!((s.lo, s.hi), (0.0, 995.0));
        assert_eq!(Scale::for_pair(&b, &a).hi, 995.0, "the order of the pair");
        // The outliers are drawn at full colour and do not wash out the rest.
        assert_eq!(s.t(1.0e6), 1.0);
        assert_eq!(s.t(995.0), 1.0);
        assert!((s.t(497.5) - 0.5).abs() < 1e-6);
        assert_eq!(s.t(-5.0), 0.0, "negative evidence is not drawn");
        // Non-finite values are ignored, not sorted to an end.
        let mut with_nan = a.clone();
        with_nan.values.push(f32::NAN);
        with_nan.values.push(f32::INFINITY);
        assert_eq!(Scale::shared(&[&with_nan, &b]).hi, 995.0);
    }

    #[test]
    fn a_map_with_few_positive_values_still_reaches_full_colour() {
        // Rank 994 of 1000 is 0: the top of the scale falls back to the largest value.
        let mut values = vec![0f32; 500];
        values[7] = 0.3;
        values[8] = -2.0;
        let a = SaliencyMap {
            width: 25,
            height: 20,
            values,
        };
        let b = SaliencyMap {
            width: 25,
            height: 20,
            values: vec![0.0; 500],
        };
        assert_eq!(Scale::for_pair(&a, &b).hi, 0.3);
        assert_eq!(
            Scale::for_pair(&b, &b).hi,
            1.0,
            "an empty map: a unit scale"
        );
    }

    #[test]
    fn signed_scale_is_symmetric_at_the_99_5th_percentile_of_magnitudes() {
        // Signs alternate, and the outliers are negative: the scale is set by |v|.
        let (a, b) = pair_of_maps(|v| if (v as u32).is_multiple_of(3) { -v } else { v });
        let s = Scale::signed_for_pair(&a, &b);
        assert_eq!((s.lo, s.hi), (-995.0, 995.0));
        assert!(s.is_signed());
        assert_eq!(s.t(0.0), 0.5, "no contribution sits in the middle (white)");
        assert_eq!(s.t(-1.0e6), 0.0);
        assert_eq!(s.t(995.0), 1.0);
        assert!((s.t(-497.5) - 0.25).abs() < 1e-6);
        // Only negative values still give a symmetric scale.
        let (a, b) = pair_of_maps(|v| -v);
        let s = Scale::signed_for_pair(&a, &b);
        assert_eq!((s.lo, s.hi), (-995.0, 995.0));
    }

    #[test]
    fn overlay_brightens_the_salient_region() {
        let photo = RgbImage::from_pixel(64, 64, image::Rgb([90, 90, 90]));
        let mut values = vec![0f32; 49];
        values[0] = 1.0; // top-left cell
        let map = SaliencyMap {
            width: 7,
            height: 7,
            values,
        };
        let out = overlay(&photo, &map, &Scale { lo: 0.0, hi: 1.0 });
        let sum = |p: &image::Rgb<u8>| p.0.iter().map(|&v| v as u32).sum::<u32>();
        assert!(sum(out.get_pixel(2, 2)) > sum(out.get_pixel(60, 60)) + 100);
    }
}
