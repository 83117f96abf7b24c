//! Statistics read from a checkpoint without running it (the head's batch-norm prior of the
//! pooled feature), and the checkpoint with its weights permuted for the randomisation check.

use std::collections::HashMap;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::{Config, EfficientNetLite0};

/// E[ReLU6(y)] per channel for y ~ N(β, γ²): the head batch-norm's output under its training
/// statistics (the normalised input is N(0, 1) there, so the output is N(β, γ²)). This is the
/// mean pooled feature the checkpoint expects on its training data, read from the weights
/// alone: no images needed.
pub fn head_relu6_prior_mean(weights: &[u8]) -> Result<Vec<f32>> {
    head_relu6_prior_mean_of(&candle_core::safetensors::load_buffer(
        weights,
        &Device::Cpu,
    )?)
}

/// [`head_relu6_prior_mean`] of a checkpoint already loaded as named tensors.
pub fn head_relu6_prior_mean_of(tensors: &HashMap<String, Tensor>) -> Result<Vec<f32>> {
    let get = |name: &str| -> Result<Vec<f32>> {
        tensors
            .get(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("checkpoint has no {name}")))?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()
    };
    let gamma = get("_bn1.weight")?;
    let beta = get("_bn1.bias")?;
    Ok(gamma
        .iter()
        .zip(&beta)
        .map(|(&g, &b)| relu6_gaussian_mean(b as f64, (g as f64).abs()) as f32)
        .collect())
}

/// E[min(max(y, 0), 6)] for y ~ N(m, s²) = E[(y)₊] − E[(y − 6)₊].
pub fn relu6_gaussian_mean(m: f64, s: f64) -> f64 {
    // E[(y − a)₊] = (m − a)Φ((m − a)/s) + s·φ((m − a)/s).
    let hinge = |a: f64| {
        if s == 0.0 {
            return (m - a).max(0.0);
        }
        let z = (m - a) / s;
        (m - a) * normal_cdf(z) + s * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
    };
    hinge(0.0) - hinge(6.0)
}

/// Φ(z) through erfc (W. J. Cody's rational approximation via Numerical Recipes' erfc,
/// relative error < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = t
        * (-x * x - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    let erfc = if x >= 0.0 { y } else { 2.0 - y };
    0.5 * erfc
}

/// The checkpoint with the values of every tensor shuffled within the tensor (a fixed-seed
/// Fisher–Yates per tensor): each layer keeps its distribution of weights, but nothing learned
/// about images survives. Maps that still find objects with these weights show the image's
/// structure, not the model's reasons (the model-randomisation check).
pub fn permuted_tensors(weights: &[u8], seed: u64) -> Result<HashMap<String, Tensor>> {
    let tensors = candle_core::safetensors::load_buffer(weights, &Device::Cpu)?;
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let mut out = HashMap::new();
    for (k, name) in names.into_iter().enumerate() {
        let t = &tensors[name];
        let shape = t.dims().to_vec();
        let mut values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let mut state = seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(k as u64 + 1));
        for i in (1..values.len()).rev() {
            let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
            values.swap(i, j);
        }
        out.insert(name.clone(), Tensor::from_vec(values, shape, &Device::Cpu)?);
    }
    Ok(out)
}

/// The network built from named tensors (e.g. [`permuted_tensors`]).
pub fn model_from_tensors(tensors: HashMap<String, Tensor>) -> Result<EfficientNetLite0> {
    EfficientNetLite0::new(
        VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
        Config::lite0(),
    )
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu6_mean_matches_its_limits_and_a_numeric_integral() {
        // Far below 0 → 0; far above 6 → 6; centred at 3 with tiny spread → 3.
        assert!(relu6_gaussian_mean(-50.0, 1.0).abs() < 1e-9);
        assert!((relu6_gaussian_mean(50.0, 1.0) - 6.0).abs() < 1e-9);
        assert!((relu6_gaussian_mean(3.0, 1e-6) - 3.0).abs() < 1e-6);
        for &(m, s) in &[(0.0, 1.0), (-1.3, 2.5), (4.0, 3.0)] {
            let n = 200_000;
            let (lo, hi) = (m - 10.0 * s, m + 10.0 * s);
            let h = (hi - lo) / n as f64;
            let numeric: f64 = (0..n)
                .map(|i| {
                    let y: f64 = lo + (i as f64 + 0.5) * h;
                    let z = (y - m) / s;
                    y.clamp(0.0, 6.0) * (-0.5 * z * z).exp()
                        / (s * (2.0 * std::f64::consts::PI).sqrt())
                        * h
                })
                .sum();
            let closed = relu6_gaussian_mean(m, s);
            assert!(
                (closed - numeric).abs() < 1e-5,
                "({m},{s}): {closed} vs {numeric}"
            );
        }
    }

    #[test]
    fn the_prior_mean_is_read_from_the_head_batch_norm() {
        let mu = head_relu6_prior_mean(super::super::BUNDLED_WEIGHTS).unwrap();
        assert_eq!(mu.len(), super::super::EMBEDDING_DIM);
        assert!(mu.iter().all(|&v| (0.0..=6.0).contains(&v)));
        assert!(mu.iter().any(|&v| v > 0.01), "not all channels are dead");
    }
}
