//! The embedding engine: decoded images in, L2-comparable embeddings and ImageNet labels out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Tensor, D};
use image::RgbImage;
use rayon::prelude::*;

use crate::decode;
use crate::model::{self, EfficientNetLite0, Preprocess};

/// Images per forward pass: large enough to keep the matrix products efficient, small enough
/// to keep memory flat (~1 GB of activations at 32).
pub const BATCH: usize = 16;

/// The decode memory budget every photo the engine (and the index, the TUI) reads shares, in
/// bytes: see [`crate::decode`].
pub use crate::decode::{set_memory_limit as set_decode_memory_limit, DEFAULT_MEMORY_LIMIT};

/// Largest weights file read: Lite0's checkpoint is 19 MB; this refuses `/dev/zero`-like
/// inputs before they fill memory.
pub const MAX_WEIGHTS_BYTES: u64 = 256 << 20;

pub struct Embedder {
    pub model: EfficientNetLite0,
    pub preprocess: Preprocess,
    /// Identifies the numbers this embedder produces: sha256 of the weights, preprocessing
    /// version and options. Cached embeddings with another id are recomputed.
    pub model_id: String,
    /// The checkpoint's prior mean pooled feature (head batch-norm, see
    /// [`model::stats::head_relu6_prior_mean`]): μ of the centred space.
    pub prior_mean: Vec<f32>,
}

/// One input's outcome: its embedding, or why it failed.
pub struct Embedded {
    pub path: PathBuf,
    pub result: Result<Vec<f32>>,
}

impl Embedder {
    /// The network with the weights compiled into the binary, or those at `weights`.
    pub fn new(weights: Option<&Path>, preprocess: Preprocess) -> Result<Self> {
        let (model, bytes_id, prior_mean) = match weights {
            Some(p) => {
                let bytes = decode::read_regular_file(p, MAX_WEIGHTS_BYTES)
                    .with_context(|| format!("cannot read weights {}", p.display()))?;
                let m = EfficientNetLite0::from_safetensors_bytes(&bytes).with_context(|| {
                    format!("{} is not an EfficientNet-Lite0 checkpoint", p.display())
                })?;
                let prior = model::stats::head_relu6_prior_mean(&bytes)?;
                (m, model::sha256_hex(&bytes), prior)
            }
            None => (
                model::bundled().context("bundled weights failed to load")?,
                model::bundled_weights_sha256().to_string(),
                model::stats::head_relu6_prior_mean(model::BUNDLED_WEIGHTS)?,
            ),
        };
        let model_id = model_id(&bytes_id, preprocess);
        Ok(Self {
            model,
            preprocess,
            model_id,
            prior_mean,
        })
    }

    /// The bundled checkpoint with each weight tensor's values permuted (fixed `seed`): the
    /// model-randomisation check's network. Its prior mean comes from the permuted batch-norm.
    pub fn with_permuted_weights(seed: u64, preprocess: Preprocess) -> Result<Self> {
        let tensors = model::stats::permuted_tensors(model::BUNDLED_WEIGHTS, seed)?;
        let prior_mean = model::stats::head_relu6_prior_mean_of(&tensors)?;
        Ok(Self {
            model: model::stats::model_from_tensors(tensors)?,
            preprocess,
            model_id: format!("permuted-{seed}"),
            prior_mean,
        })
    }

    /// The similarity space `similarity` for this embedder's checkpoint.
    pub fn space(&self, similarity: crate::space::Similarity) -> crate::space::Space {
        match similarity {
            crate::space::Similarity::Plain => crate::space::Space::plain(),
            crate::space::Similarity::Centred => crate::space::Space::centred_on(
                self.prior_mean.clone(),
                crate::space::CENTRED_VERSION,
            ),
        }
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// (B, 1280) embeddings of already prepared inputs.
    pub fn embed_prepared(&self, inputs: &[Vec<f32>]) -> Result<Tensor> {
        let s = crate::model::INPUT_SIZE as usize;
        let rows = self.model.embed_images_raw(inputs, s, s)?;
        let n = rows.len();
        let dim = rows.first().map_or(crate::model::EMBEDDING_DIM, Vec::len);
        Ok(Tensor::from_vec(
            rows.concat(),
            (n, dim),
            &candle_core::Device::Cpu,
        )?)
    }

    /// Embeddings of decoded images, in order, batched.
    pub fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(images.len());
        for chunk in images.chunks(BATCH) {
            let inputs: Vec<Vec<f32>> = chunk
                .par_iter()
                .map(|im| self.preprocess.prepare(im))
                .collect();
            out.extend(self.embed_prepared(&inputs)?.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// Decodes and embeds files; a file that fails is reported in its slot, never aborts the rest.
    pub fn embed_paths(&self, paths: &[PathBuf]) -> Result<Vec<Embedded>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(BATCH) {
            let prepared: Vec<Result<Vec<f32>>> = chunk
                .par_iter()
                .map(|p| {
                    // The image keeps its share of the decode budget until it is prepared.
                    decode::load_rgb_held(p, None).map(|(im, _held)| self.preprocess.prepare(&im))
                })
                .collect();
            let ok: Vec<Vec<f32>> = prepared
                .iter()
                .filter_map(|r| r.as_ref().ok().cloned())
                .collect();
            let mut embs = if ok.is_empty() {
                Vec::new()
            } else {
                self.embed_prepared(&ok)?.to_vec2::<f32>()?
            }
            .into_iter();
            for (path, r) in chunk.iter().zip(prepared) {
                let result = r.map(|_| embs.next().expect("one embedding per decoded image"));
                out.push(Embedded {
                    path: path.clone(),
                    result,
                });
            }
        }
        Ok(out)
    }

    /// Softmax probabilities over the ImageNet classes for (B, 1280) embeddings.
    pub fn class_probabilities(&self, embeddings: &Tensor) -> Result<Vec<Vec<f32>>> {
        let logits = self.model.logits(embeddings)?;
        Ok(candle_nn::ops::softmax(&logits, D::Minus1)?.to_vec2::<f32>()?)
    }
}

/// "lite0-<first 16 hex of the weights' sha256>-p<preprocessing version>[-gray]".
pub fn model_id(weights_sha256: &str, pre: Preprocess) -> String {
    format!(
        "lite0-{}-p{}{}",
        &weights_sha256[..16.min(weights_sha256.len())],
        model::PREPROCESS_VERSION,
        if pre.grayscale { "-gray" } else { "" }
    )
}

/// Indices and values of the `k` largest entries, largest first.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.into_iter().take(k).map(|i| (i, values[i])).collect()
}

/// The Euclidean length of a vector, summed in f64: the one norm the project computes.
pub fn l2_norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

/// Cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += (*x as f64) * (*y as f64);
        na += (*x as f64) * (*x as f64);
        nb += (*y as f64) * (*y as f64);
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na.sqrt() * nb.sqrt())) as f32
    }
}
