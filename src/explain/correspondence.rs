//! Which cell of one photo matches which cell of the other: the pair's score split over cell
//! pairs. With centred cell features a_i − μ, b_j − μ (i, j over the 7×7 cells of each last
//! feature map) the score is exactly
//! Σ_i Σ_j ⟨a_i − μ, b_j − μ⟩ / (N² ‖ā − μ‖ ‖b̄ − μ‖), N = 49 cells, because the pooled feature
//! is the mean of the cells. Row i sums to cell i's share in A's decomposition map, column j
//! to cell j's share in B's.

use anyhow::{Context, Result};
use candle_core::Tensor;
use serde::Serialize;

use crate::space::Space;

/// The N_a × N_b matrix of cell-pair contributions to a pair's score, row-major (rows: cells
/// of A, columns: cells of B, cells numbered row-major over each grid).
#[derive(Debug, Clone)]
pub struct Correspondence {
    /// Cells across and down the grid of each photo (7 × 7 at 224).
    pub grid: (usize, usize),
    pub matrix: Vec<f32>,
    /// The score the matrix sums to: the cosine in the space of the two pooled features.
    pub score: f32,
}

/// One cell pair and its contribution to the score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CellPair {
    /// Cell of A, numbered row-major over its grid.
    pub a: usize,
    /// Cell of B.
    pub b: usize,
    pub contribution: f32,
}

/// The cells of a (1, H, W, C) map as H·W rows of C values, minus μ (when the space has one).
fn centred_cells(space: &Space, feature_map: &Tensor) -> Result<(usize, usize, Vec<Vec<f64>>)> {
    let (n, h, w, c) = feature_map
        .dims4()
        .context("a feature map is (1, H, W, C)")?;
    anyhow::ensure!(
        n == 1,
        "one photo's feature map expected, got a batch of {n}"
    );
    let flat = feature_map.flatten_all()?.to_vec1::<f32>()?;
    if let Some(mu) = space.mean() {
        anyhow::ensure!(
            mu.len() == c,
            "space mean has {} values, cells {c}",
            mu.len()
        );
    }
    let cells = flat
        .chunks_exact(c)
        .map(|cell| match space.mean() {
            Some(mu) => cell.iter().zip(mu).map(|(x, m)| (x - m) as f64).collect(),
            None => cell.iter().map(|&x| x as f64).collect(),
        })
        .collect();
    Ok((w, h, cells))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mean(cells: &[Vec<f64>]) -> Vec<f64> {
    let mut acc = vec![0f64; cells[0].len()];
    for c in cells {
        acc.iter_mut().zip(c).for_each(|(a, v)| *a += v);
    }
    acc.iter_mut().for_each(|a| *a /= cells.len() as f64);
    acc
}

impl Correspondence {
    /// The matrix of two photos' last feature maps ((1, 7, 7, 1280) each, from one forward
    /// pass per photo) in `space`. Fails when either map's mean equals μ (nothing to compare).
    pub fn between(space: &Space, feature_map_a: &Tensor, feature_map_b: &Tensor) -> Result<Self> {
        let (wa, ha, a) = centred_cells(space, feature_map_a)?;
        let (wb, hb, b) = centred_cells(space, feature_map_b)?;
        anyhow::ensure!(
            (wa, ha) == (wb, hb),
            "feature maps of different grids ({wa}×{ha} and {wb}×{hb})"
        );
        let (na, nb) = (
            dot(&mean(&a), &mean(&a)).sqrt(),
            dot(&mean(&b), &mean(&b)).sqrt(),
        );
        anyhow::ensure!(
            na > 0.0 && nb > 0.0,
            "a photo's pooled feature is all zeros in the {} space: nothing to compare",
            space.version()
        );
        let scale = (a.len() * b.len()) as f64 * na * nb;
        let mut matrix = Vec::with_capacity(a.len() * b.len());
        let mut total = 0f64;
        for ai in &a {
            for bj in &b {
                let v = dot(ai, bj) / scale;
                total += v;
                matrix.push(v as f32);
            }
        }
        Ok(Self {
            grid: (wa, ha),
            matrix,
            score: total as f32,
        })
    }

    /// Cells per photo.
    pub fn cells(&self) -> usize {
        self.grid.0 * self.grid.1
    }

    /// Contribution of A's cell `a` paired with B's cell `b`.
    pub fn at(&self, a: usize, b: usize) -> f32 {
        self.matrix[a * self.cells() + b]
    }

    /// Row `a`: where in B the share of A's cell `a` comes from (one value per cell of B).
    pub fn row(&self, a: usize) -> Vec<f32> {
        let n = self.cells();
        self.matrix[a * n..(a + 1) * n].to_vec()
    }

    /// Column `b`: where in A the share of B's cell `b` comes from.
    pub fn column(&self, b: usize) -> Vec<f32> {
        (0..self.cells()).map(|a| self.at(a, b)).collect()
    }

    /// Row sums: A's cell decomposition of the score (a 7×7 map, row-major).
    pub fn row_sums(&self) -> Vec<f32> {
        (0..self.cells())
            .map(|a| self.row(a).iter().map(|&v| v as f64).sum::<f64>() as f32)
            .collect()
    }

    /// Column sums: B's cell decomposition.
    pub fn column_sums(&self) -> Vec<f32> {
        (0..self.cells())
            .map(|b| self.column(b).iter().map(|&v| v as f64).sum::<f64>() as f32)
            .collect()
    }

    /// The `n` pairs with the largest positive contributions, largest first.
    pub fn top_pairs(&self, n: usize) -> Vec<CellPair> {
        let cells = self.cells();
        let mut pairs: Vec<CellPair> = self
            .matrix
            .iter()
            .enumerate()
            .filter(|(_, &v)| v > 0.0)
            .map(|(k, &v)| CellPair {
                a: k / cells,
                b: k % cells,
                contribution: v,
            })
            .collect();
        pairs.sort_by(|x, y| y.contribution.total_cmp(&x.contribution));
        pairs.truncate(n);
        pairs
    }

    /// (column, row) of cell `i` on the grid.
    pub fn cell_xy(&self, i: usize) -> (usize, usize) {
        (i % self.grid.0, i / self.grid.0)
    }

    /// Cell `i` as [x0, y0, x1, y1) in the pixels of a `width`×`height` photo: the network sees
    /// the whole photo squeezed to 224×224, so cells split each side evenly.
    pub fn cell_box(&self, i: usize, width: u32, height: u32) -> [u32; 4] {
        cell_box(self.grid, i, width, height)
    }
}

/// Cell `i` of a `grid` (columns, rows) as [x0, y0, x1, y1) in a `width`×`height` photo.
pub fn cell_box(grid: (usize, usize), i: usize, width: u32, height: u32) -> [u32; 4] {
    let (cx, cy) = (i % grid.0, i / grid.0);
    let edge = |k: usize, n: usize, side: u32| (k as u64 * side as u64 / n as u64) as u32;
    [
        edge(cx, grid.0, width),
        edge(cy, grid.1, height),
        edge(cx + 1, grid.0, width),
        edge(cy + 1, grid.1, height),
    ]
}

/// Chebyshev distance between cells `i` and `j` of a grid `columns` wide.
pub fn cell_distance(columns: usize, i: usize, j: usize) -> usize {
    let (xi, yi) = (i % columns, i / columns);
    let (xj, yj) = (j % columns, j / columns);
    xi.abs_diff(xj).max(yi.abs_diff(yj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn map(values: Vec<f32>, c: usize) -> Tensor {
        let cells = values.len() / c;
        let side = (cells as f64).sqrt() as usize;
        Tensor::from_vec(values, (1, side, side, c), &Device::Cpu).unwrap()
    }

    #[test]
    fn the_matrix_sums_to_the_centred_cosine_of_the_pooled_features() {
        // 2×2 grids of 3 channels.
        let a: Vec<f32> = (0..12).map(|v| (v as f32 * 0.37).sin() + 1.0).collect();
        let b: Vec<f32> = (0..12).map(|v| (v as f32 * 0.91).cos() + 1.0).collect();
        let space = Space::centred_on(vec![0.9, 1.1, 1.0], "test");
        let c = Correspondence::between(&space, &map(a.clone(), 3), &map(b.clone(), 3)).unwrap();
        let pool = |v: &[f32]| -> Vec<f32> {
            (0..3)
                .map(|k| v.chunks(3).map(|cell| cell[k]).sum::<f32>() / 4.0)
                .collect()
        };
        let expected = space.score(&pool(&a), &pool(&b));
        assert!(
            (c.score - expected).abs() < 1e-6,
            "{} vs {expected}",
            c.score
        );
        let sum: f64 = c.matrix.iter().map(|&v| v as f64).sum();
        assert!((sum as f32 - expected).abs() < 1e-6);
        assert_eq!(c.cells(), 4);
        let top = c.top_pairs(100);
        assert!(top
            .windows(2)
            .all(|w| w[0].contribution >= w[1].contribution));
        assert!(top.iter().all(|p| p.contribution > 0.0));
    }

    #[test]
    fn cell_boxes_tile_the_photo() {
        let grid = (7, 7);
        assert_eq!(cell_box(grid, 0, 700, 350), [0, 0, 100, 50]);
        assert_eq!(cell_box(grid, 48, 700, 350), [600, 300, 700, 350]);
        assert_eq!(cell_box(grid, 8, 224, 224), [32, 32, 64, 64]);
        assert_eq!(cell_distance(7, 0, 8), 1);
        assert_eq!(cell_distance(7, 0, 48), 6);
    }
}
