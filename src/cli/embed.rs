//! `embed`, `classify` and the folder overview.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use super::output::{human, JsonPath};
use super::{exit_code, report_failure};
use crate::engine::{self, Embedder};
use crate::model::imagenet_labels;

#[derive(Serialize)]
struct EmbeddingLine<'a> {
    #[serde(flatten)]
    path: JsonPath,
    embedding: &'a [f32],
}

pub fn embed(embedder: &Embedder, images: &[PathBuf], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failures = 0;
    for e in embedder.embed_paths(images)? {
        match &e.result {
            Ok(v) if json => {
                let line = EmbeddingLine {
                    path: JsonPath::new(&e.path),
                    embedding: v,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            }
            Ok(v) => {
                let norm = engine::l2_norm(v);
                let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.4}")).collect();
                writeln!(
                    out,
                    "{}  dim={} norm={norm:.3} [{} …]",
                    human(&e.path),
                    v.len(),
                    head.join(" ")
                )?;
            }
            Err(err) => {
                failures += 1;
                report_failure(err);
            }
        }
    }
    Ok(exit_code(failures))
}

#[derive(Serialize)]
struct ClassLine {
    #[serde(flatten)]
    path: JsonPath,
    top: Vec<ClassScore>,
}

#[derive(Serialize)]
struct ClassScore {
    index: usize,
    label: &'static str,
    prob: f32,
}

pub fn classify(
    embedder: &Embedder,
    images: &[PathBuf],
    top: usize,
    json: bool,
) -> Result<ExitCode> {
    let labels = imagenet_labels();
    let mut out = std::io::stdout().lock();
    let mut failures = 0;
    for e in embedder.embed_paths(images)? {
        let v = match &e.result {
            Ok(v) => v,
            Err(err) => {
                failures += 1;
                report_failure(err);
                continue;
            }
        };
        let t = candle_core::Tensor::from_slice(v, (1, v.len()), &candle_core::Device::Cpu)?;
        let probs = embedder.class_probabilities(&t)?.remove(0);
        let best: Vec<ClassScore> = engine::top_k(&probs, top.min(probs.len()))
            .into_iter()
            .map(|(index, prob)| ClassScore {
                index,
                label: labels[index],
                prob,
            })
            .collect();
        if json {
            let line = ClassLine {
                path: JsonPath::new(&e.path),
                top: best,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
        } else {
            writeln!(out, "{}", human(&e.path))?;
            for c in best {
                writeln!(out, "  {:6.2}%  {} ({})", c.prob * 100.0, c.label, c.index)?;
            }
        }
    }
    Ok(exit_code(failures))
}
