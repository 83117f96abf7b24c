//! The similarity space: which vector of a raw pooled feature the score is the cosine of.
//!
//! Lite0's pooled features are all ≥ 0 (after ReLU6), so the plain cosine of any two photos is
//! ~0.2–0.3 and every busy region "contributes" to it. The centred space scores
//! s(a, b) = cos(φ(a) − μ, φ(b) − μ) with μ a reference mean feature: unrelated photos sit
//! near 0, duplicates near 1, and its exact cell decomposition is signed. Cached rows keep the
//! raw φ; the space is applied on read, so switching needs no re-embedding.

use std::sync::Arc;

use anyhow::{Context, Result};

/// Which score the tool ranks, groups and explains by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Similarity {
    /// cos(φ(a), φ(b)) on the raw pooled features (the seed's score).
    Plain,
    /// cos(φ(a) − μ, φ(b) − μ) with μ the checkpoint's prior mean feature.
    Centred,
}

impl Similarity {
    pub fn name(self) -> &'static str {
        match self {
            Similarity::Plain => "plain",
            Similarity::Centred => "centred",
        }
    }
}

/// Version of the centred space with μ = E[ReLU6(y)], y ~ N(β, γ²) of the head batch-norm of
/// the checkpoint in use (see [`crate::model::stats::head_relu6_prior_mean`]). Bump when μ's
/// definition changes: scores, thresholds and exported vectors depend on it.
pub const CENTRED_VERSION: &str = "centred-v1";
pub const PLAIN_VERSION: &str = "plain";

/// A similarity space: the map from a raw pooled feature to the vector whose cosine (or, once
/// unit-normalised, inner product) is the score.
#[derive(Debug, Clone)]
pub struct Space {
    similarity: Similarity,
    /// μ, subtracted before the cosine; `None` in the plain space.
    mean: Option<Arc<[f32]>>,
    version: String,
}

impl Space {
    /// The seed's plain cosine on raw features.
    pub fn plain() -> Self {
        Self {
            similarity: Similarity::Plain,
            mean: None,
            version: PLAIN_VERSION.into(),
        }
    }

    /// The centred space around `mean`, labelled `version` (for JSON and exports).
    pub fn centred_on(mean: Vec<f32>, version: impl Into<String>) -> Self {
        Self {
            similarity: Similarity::Centred,
            mean: Some(mean.into()),
            version: version.into(),
        }
    }

    /// The space `similarity` for the checkpoint `weights` (safetensors bytes): centred on the
    /// head batch-norm's prior mean, which needs no images.
    pub fn for_checkpoint(similarity: Similarity, weights: &[u8]) -> Result<Self> {
        Ok(match similarity {
            Similarity::Plain => Self::plain(),
            Similarity::Centred => Self::centred_on(
                crate::model::stats::head_relu6_prior_mean(weights)
                    .context("cannot read the head batch-norm for the centred space")?,
                CENTRED_VERSION,
            ),
        })
    }

    /// The space `similarity` for the checkpoint the model loads: `weights`, or the bundled
    /// one. Reads only the head batch-norm, so a viewer can rank before the model is loaded.
    pub fn for_weights(similarity: Similarity, weights: Option<&std::path::Path>) -> Result<Self> {
        match (similarity, weights) {
            (Similarity::Plain, _) => Ok(Self::plain()),
            (_, None) => Self::bundled(similarity),
            (_, Some(p)) => {
                let bytes = std::fs::read(p)
                    .with_context(|| format!("cannot read weights {}", p.display()))?;
                Self::for_checkpoint(similarity, &bytes)
                    .with_context(|| format!("weights {}", p.display()))
            }
        }
    }

    /// The space `similarity` for the bundled checkpoint.
    pub fn bundled(similarity: Similarity) -> Result<Self> {
        Self::for_checkpoint(similarity, crate::model::BUNDLED_WEIGHTS)
    }

    pub fn similarity(&self) -> Similarity {
        self.similarity
    }

    /// "plain" or "centred-v1": which numbers a score or an exported vector is.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// μ (`None` in the plain space).
    pub fn mean(&self) -> Option<&[f32]> {
        self.mean.as_deref()
    }

    /// φ − μ (φ itself in the plain space): the vector whose cosine is the score.
    pub fn transform(&self, raw: &[f32]) -> Vec<f32> {
        match &self.mean {
            None => raw.to_vec(),
            Some(mu) => {
                assert_eq!(raw.len(), mu.len(), "feature and mean of one length");
                raw.iter().zip(mu.iter()).map(|(x, m)| x - m).collect()
            }
        }
    }

    /// The transformed vector at unit length (zero stays zero): ready for an inner-product
    /// index.
    pub fn unit(&self, raw: &[f32]) -> Vec<f32> {
        let v = self.transform(raw);
        let n = crate::engine::l2_norm(&v);
        if n == 0.0 {
            v
        } else {
            v.iter().map(|x| (*x as f64 / n) as f32).collect()
        }
    }

    /// The similarity score of two raw pooled features in this space.
    pub fn score(&self, a_raw: &[f32], b_raw: &[f32]) -> f32 {
        crate::engine::cosine(&self.transform(a_raw), &self.transform(b_raw))
    }
}

/// The mean of raw features (for a folder's or a reference set's own μ).
pub fn mean_feature(rows: &[Vec<f32>]) -> Vec<f32> {
    let dim = rows.first().map_or(0, Vec::len);
    let mut acc = vec![0f64; dim];
    for r in rows {
        acc.iter_mut().zip(r).for_each(|(a, v)| *a += *v as f64);
    }
    acc.iter().map(|a| (a / rows.len() as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_space_is_the_cosine_and_centred_subtracts_the_mean() {
        let (a, b) = ([1.0f32, 2.0, 3.0], [1.0f32, 2.0, 4.0]);
        let plain = Space::plain();
        assert_eq!(plain.score(&a, &b), crate::engine::cosine(&a, &b));
        assert_eq!(plain.version(), "plain");
        let centred = Space::centred_on(vec![1.0, 2.0, 3.0], "test");
        // a − μ = 0: nothing to compare, score 0; b − μ = (0, 0, 1).
        assert_eq!(centred.score(&a, &b), 0.0);
        assert!((centred.score(&[2.0, 2.0, 4.0], &b) - 0.5f32.sqrt()).abs() < 1e-6);
        assert_eq!(centred.unit(&b), vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn the_bundled_centred_space_is_versioned_and_has_a_full_mean() {
        let s = Space::bundled(Similarity::Centred).unwrap();
        assert_eq!(s.version(), CENTRED_VERSION);
        assert_eq!(s.mean().unwrap().len(), crate::model::EMBEDDING_DIM);
        assert!(Space::bundled(Similarity::Plain).unwrap().mean().is_none());
    }
}
