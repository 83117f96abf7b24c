//! Region search: rank a folder by its similarity to a rectangle of a query photo, and say
//! where in each result it was found. Two passes:
//! 1. the region, cropped and embedded like any photo (resized whole to 224), against the
//!    folder's stored pooled features in the centred space (one dot product per photo);
//! 2. the top candidates re-scored by their best window: a forward pass each gives the 7×7
//!    cell map, and every window of 1×1 to 7×7 cells is scored by the centred cosine of its
//!    mean cell feature against the region's feature. A candidate's refined score is the best
//!    window's; the whole image is one of the windows, so refinement never lowers a score
//!    much below the first pass (the same photo, the same decode: equal up to rounding).
//!
//! Also the forward pass "like the index" (reduced decode) that `compare` uses for its maps.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::Tensor;
use image::RgbImage;
use rayon::prelude::*;

use crate::decode;
use crate::engine::Embedder;
use crate::model::{preprocess, INPUT_SIZE};
use crate::space::Space;

/// A rectangle [x0, x1) × [y0, y1) in the pixels of an upright (EXIF-oriented) photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{}", self.x0, self.y0, self.x1, self.y1)
    }
}

impl std::str::FromStr for Region {
    type Err = String;

    /// "x0,y0,x1,y1", non-negative integers, x0 < x1 and y0 < y1.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let v: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| format!("{s}: use x0,y0,x1,y1 in pixels ({e})"))?;
        let [x0, y0, x1, y1] = v[..] else {
            return Err(format!("{s}: use four numbers x0,y0,x1,y1 in pixels"));
        };
        if x0 >= x1 || y0 >= y1 {
            return Err(format!(
                "{s}: the region is empty (x0 < x1 and y0 < y1 needed)"
            ));
        }
        Ok(Region { x0, y0, x1, y1 })
    }
}

impl Region {
    /// This region cut from `photo`; an error naming the region and the photo's size when it
    /// does not lie inside.
    pub fn crop(&self, photo: &RgbImage) -> Result<RgbImage> {
        let (w, h) = photo.dimensions();
        anyhow::ensure!(
            self.x1 <= w && self.y1 <= h,
            "region {self} lies outside the image ({w}×{h} pixels, upright)"
        );
        Ok(image::imageops::crop_imm(
            photo,
            self.x0,
            self.y0,
            self.x1 - self.x0,
            self.y1 - self.y0,
        )
        .to_image())
    }
}

/// The raw pooled feature of `region` of `photo` (cropped, then prepared like any photo).
/// The photo at `path` (full resolution, upright) and the embedding of its `region`.
pub fn load_and_embed_region(
    embedder: &Embedder,
    path: &std::path::Path,
    region: Region,
) -> Result<Vec<f32>> {
    let photo = crate::decode::load_rgb(path)?;
    embed_region(embedder, &photo, region)
}

pub fn embed_region(embedder: &Embedder, photo: &RgbImage, region: Region) -> Result<Vec<f32>> {
    let crop = region.crop(photo)?;
    Ok(embedder
        .embed_images(std::slice::from_ref(&crop))?
        .remove(0))
}

/// One forward pass over a photo decoded the way `index` decodes it.
pub struct CellFeatures {
    /// (1, 7, 7, 1280) last feature map.
    pub feature_map: Tensor,
    /// The upright photo's full size (what boxes are given in).
    pub width: u32,
    pub height: u32,
}

/// The upright size of the photo at `path` from its header (no pixels decoded).
fn upright_size(path: &Path) -> Result<(u32, u32)> {
    use image::ImageDecoder;
    let mut d = image::ImageReader::open(path)
        .with_context(|| format!("{}: cannot open", path.display()))?
        .with_guessed_format()?
        .into_decoder()
        .with_context(|| format!("{}: cannot read its size", path.display()))?;
    let (w, h) = d.dimensions();
    use image::metadata::Orientation::*;
    Ok(match d.orientation().unwrap_or(NoTransforms) {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
        _ => (w, h),
    })
}

/// Cell feature maps of `paths`, decoded like the index (reduced, in parallel) and run in
/// batches; a file that fails is reported in its slot.
pub fn cell_features(embedder: &Embedder, paths: &[PathBuf]) -> Result<Vec<Result<CellFeatures>>> {
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(crate::engine::BATCH) {
        // Each photo's prepared input and upright size, or why it failed.
        type Loaded = Result<(Vec<f32>, (u32, u32))>;
        let loaded: Vec<Loaded> = chunk
            .par_iter()
            .map(|p| {
                let photo = decode::load_rgb_reduced(p, INPUT_SIZE)?;
                let size = match upright_size(p) {
                    Ok(size) => size,
                    // The image crate reads no HEIF header; libheif decodes those whole and
                    // upright, so the photo's own size is the full size.
                    Err(_) if decode::is_heif_file(p) => photo.dimensions(),
                    Err(e) => return Err(e),
                };
                Ok((embedder.preprocess.prepare(&photo), size))
            })
            .collect();
        let inputs: Vec<Vec<f32>> = loaded
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|(x, _)| x.clone()))
            .collect();
        let mut maps = if inputs.is_empty() {
            Vec::new()
        } else {
            let f = embedder.model.forward(&preprocess::batch(&inputs)?)?;
            (0..inputs.len())
                .map(|i| f.feature_map.narrow(0, i, 1))
                .collect::<candle_core::Result<Vec<_>>>()?
        }
        .into_iter();
        for r in loaded {
            out.push(r.map(|(_, (width, height))| CellFeatures {
                feature_map: maps.next().expect("one map per decoded photo"),
                width,
                height,
            }));
        }
    }
    Ok(out)
}

/// A window of cells [x0, x1) × [y0, y1) and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub cells: [usize; 4],
    pub score: f32,
}

impl Window {
    /// The window in the pixels of a `width`×`height` photo.
    pub fn pixels(&self, grid: (usize, usize), width: u32, height: u32) -> [u32; 4] {
        let edge = |k: usize, n: usize, side: u32| (k as u64 * side as u64 / n as u64) as u32;
        [
            edge(self.cells[0], grid.0, width),
            edge(self.cells[1], grid.1, height),
            edge(self.cells[2], grid.0, width),
            edge(self.cells[3], grid.1, height),
        ]
    }
}

/// The window of `feature_map` ((1, H, W, C)) whose mean cell feature is closest to `query`
/// (a raw pooled feature) in `space`, over all windows of at least `min_cells` cells a side;
/// the grid (W, H) with it.
pub fn best_window(
    space: &Space,
    feature_map: &Tensor,
    query: &[f32],
    min_cells: usize,
) -> Result<(Window, (usize, usize))> {
    let (_, h, w, c) = feature_map.dims4()?;
    let flat = feature_map.flatten_all()?.to_vec1::<f32>()?;
    // Prefix sums over the grid: p[(y, x)] = Σ of cells above and left of (x, y).
    let at = |y: usize, x: usize| (y * (w + 1) + x) * c;
    let mut p = vec![0f64; (h + 1) * (w + 1) * c];
    for y in 0..h {
        for x in 0..w {
            let cell = &flat[(y * w + x) * c..][..c];
            for k in 0..c {
                p[at(y + 1, x + 1) + k] =
                    cell[k] as f64 + p[at(y, x + 1) + k] + p[at(y + 1, x) + k] - p[at(y, x) + k];
            }
        }
    }
    let mut best: Option<Window> = None;
    let mut mean = vec![0f32; c];
    for y0 in 0..h {
        for y1 in y0 + min_cells.max(1)..=h {
            for x0 in 0..w {
                for x1 in x0 + min_cells.max(1)..=w {
                    let n = ((y1 - y0) * (x1 - x0)) as f64;
                    for (k, m) in mean.iter_mut().enumerate() {
                        *m = ((p[at(y1, x1) + k] - p[at(y0, x1) + k] - p[at(y1, x0) + k]
                            + p[at(y0, x0) + k])
                            / n) as f32;
                    }
                    let score = space.score(&mean, query);
                    if best.is_none_or(|b| score > b.score) {
                        best = Some(Window {
                            cells: [x0, y0, x1, y1],
                            score,
                        });
                    }
                }
            }
        }
    }
    Ok((best.context("the feature map has no cells")?, (w, h)))
}

/// Smallest window side the refinement scores. Single cells are allowed: a small object fills
/// about one 32-px cell of a 224 input.
pub const MIN_WINDOW_CELLS: usize = 1;

/// Candidates re-scored by their best window (see the module comment).
pub const REFINE_CANDIDATES: usize = 50;

/// One result of a region search.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// The region's feature against the photo's stored pooled feature.
    pub first_pass: f32,
    /// The best window's score (the ranking score after refinement).
    pub score: f32,
    /// The best window in the photo's upright pixels, [x0, y0, x1, y1).
    pub found_box: [u32; 4],
    /// The photo's upright (width, height): what `found_box` is given in.
    pub size: (u32, u32),
}

/// What [`refine`] made of its candidates.
pub struct Refined {
    /// Best window first.
    pub found: Vec<Found>,
    /// Candidates that could not be read again (changed or removed since they were indexed,
    /// or unreadable now), with why: the caller reports them; they are not ranked.
    pub failed: Vec<(PathBuf, anyhow::Error)>,
}

/// Re-scores `candidates` ((path, first-pass score)) by their best window against `query`
/// and sorts them by it, best first. A candidate that cannot be decoded again does not stop
/// the others: it is returned in `failed`.
pub fn refine(
    embedder: &Embedder,
    space: &Space,
    query: &[f32],
    candidates: &[(PathBuf, f32)],
) -> Result<Refined> {
    let paths: Vec<PathBuf> = candidates.iter().map(|(p, _)| p.clone()).collect();
    let maps = cell_features(embedder, &paths)?;
    let mut found = Vec::with_capacity(candidates.len());
    let mut failed = Vec::new();
    for ((path, first_pass), cells) in candidates.iter().zip(maps) {
        let cells = match cells {
            Ok(c) => c,
            Err(e) => {
                failed.push((path.clone(), e));
                continue;
            }
        };
        let (window, grid) = best_window(space, &cells.feature_map, query, MIN_WINDOW_CELLS)?;
        found.push(Found {
            path: path.clone(),
            first_pass: *first_pass,
            score: window.score,
            found_box: window.pixels(grid, cells.width, cells.height),
            size: (cells.width, cells.height),
        });
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(Refined { found, failed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_parse_and_refuse_empty_or_malformed_rectangles() {
        let r: Region = "10,20,30,40".parse().unwrap();
        assert_eq!((r.x0, r.y0, r.x1, r.y1), (10, 20, 30, 40));
        assert!("10,20,10,40"
            .parse::<Region>()
            .unwrap_err()
            .contains("empty"));
        assert!("1,2,3".parse::<Region>().is_err());
        assert!("-1,2,3,4".parse::<Region>().is_err());
        let photo = RgbImage::new(50, 30);
        let err = r.crop(&photo).unwrap_err().to_string();
        assert!(
            err.contains("10,20,30,40") && err.contains("50×30"),
            "{err}"
        );
        assert_eq!(
            "0,0,50,30"
                .parse::<Region>()
                .unwrap()
                .crop(&photo)
                .unwrap()
                .dimensions(),
            (50, 30)
        );
    }

    #[test]
    fn the_best_window_is_the_block_that_matches() {
        // A 3×3 grid of 2 channels: cell (1, 1)–(2, 2) holds [1, 0], the rest [0, 1].
        let mut v = Vec::new();
        for y in 0..3 {
            for x in 0..3 {
                v.extend(if (1..3).contains(&x) && (1..3).contains(&y) {
                    [1.0f32, 0.0]
                } else {
                    [0.0, 1.0]
                });
            }
        }
        let map = Tensor::from_vec(v, (1, 3, 3, 2), &candle_core::Device::Cpu).unwrap();
        let (w, grid) = best_window(&Space::plain(), &map, &[1.0, 0.0], 2).unwrap();
        assert_eq!(w.cells, [1, 1, 3, 3]);
        assert!((w.score - 1.0).abs() < 1e-6);
        assert_eq!(w.pixels(grid, 300, 60), [100, 20, 300, 60]);
    }
}
