//! The exact decomposition refined to the 14×14 stage: each 7×7 cell's exact contribution is
//! split among the four 14×14 positions under it, in proportion to their gradient × activation
//! on the same target T (of the cell's sign). The map keeps the exact sum (it is a
//! redistribution inside each cell) and halves the cell size to 16 px at 224.

use anyhow::{Context, Result};
use candle_core::Var;

use super::{decompose, SaliencyMap, Target};
use crate::model::EfficientNetLite0;

pub(super) fn refined_decomposition(
    model: &EfficientNetLite0,
    input: &[f32],
    target: &Target,
) -> Result<SaliencyMap> {
    let x = crate::model::preprocess::batch(std::slice::from_ref(&input.to_vec()))?;
    let split = model.blocks_at_stride_16();
    let h16 = model.blocks_forward_until(&x, split)?.detach();
    let var = Var::from_tensor(&h16)?;
    let h32 = model.blocks_forward_from(var.as_tensor(), split)?;
    let fwd = model.head_forward(&h32)?;
    let coarse = decompose(&fwd.feature_map, target)?;
    // T's offset and 1/c are constants: ∂T/∂h = ∂⟨f, n̂⟩/∂h / c.
    let t = (fwd.embedding.matmul(&target.n_hat)? / target.c)?.sum_all()?;
    let grads = t.backward()?;
    let g = grads
        .get(var.as_tensor())
        .context("no gradient reached the 14×14 stage")?;
    let (_, fh, fw, ch) = h16.dims4()?;
    let relevance = (g * &h16)?
        .reshape((fh * fw, ch))?
        .sum(1)?
        .to_vec1::<f32>()?;
    refine(&coarse, &relevance, fw, fh)
}

/// Spreads each coarse cell over its children (the `fw`×`fh` positions whose coordinates halve
/// to it) by the part of `relevance` that has the cell's sign; evenly where none has.
fn refine(coarse: &SaliencyMap, relevance: &[f32], fw: usize, fh: usize) -> Result<SaliencyMap> {
    if fw != 2 * coarse.width || fh != 2 * coarse.height {
        anyhow::bail!(
            "a {fw}×{fh} stage does not refine a {}×{} map by two",
            coarse.width,
            coarse.height
        );
    }
    let mut values = vec![0f32; fw * fh];
    for cy in 0..coarse.height {
        for cx in 0..coarse.width {
            let s = coarse.values[cy * coarse.width + cx];
            let children: Vec<usize> = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|(dx, dy)| (2 * cy + dy) * fw + 2 * cx + dx)
                .collect();
            let weight = |i: usize| (relevance[i] * s.signum()).max(0.0);
            let total: f32 = children.iter().map(|&i| weight(i)).sum();
            for &i in &children {
                values[i] = if total > 0.0 {
                    s * weight(i) / total
                } else {
                    s / 4.0
                };
            }
        }
    }
    Ok(SaliencyMap {
        width: fw,
        height: fh,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refinement_keeps_each_cells_sum_and_follows_the_signed_relevance() {
        let coarse = SaliencyMap {
            width: 1,
            height: 2,
            values: vec![0.4, -0.2],
        };
        // Top cell: children relevances 3, 1, −5, 0 → positive part 3:1. Bottom: all positive,
        // the cell is negative → spread evenly.
        let relevance = vec![3.0, 1.0, -5.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        let m = refine(&coarse, &relevance, 2, 4).unwrap();
        assert_eq!(m.values[..4], [0.3, 0.1, 0.0, 0.0]);
        assert!(m.values[4..].iter().all(|v| (v + 0.05).abs() < 1e-7));
        assert!(refine(&coarse, &relevance, 4, 2).is_err());
    }
}
