//! Parity with the PyTorch reference (tools/reference.py → fixtures/reference/).

mod common;

use candle_core::Tensor;
use serde_json::Value;
use simtui::decode;
use simtui::engine::cosine;

fn reference() -> Value {
    let path = common::fixtures().join("reference/reference.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn identical_input_gives_the_reference_embedding_and_logits() {
    let r = reference();
    let images = r["images"].as_array().unwrap();
    assert!(images.len() >= 8, "the reference covers at least 8 photos");
    let e = common::embedder();
    for im in images {
        let png = common::fixtures()
            .join("reference")
            .join(im["input_png"].as_str().unwrap());
        let rgb = image::open(&png).unwrap().into_rgb8();
        assert_eq!(rgb.dimensions(), (224, 224));
        let x = e.preprocess.normalise(&rgb);
        let emb = e.embed_prepared(&[x]).unwrap();
        let ours = emb.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let theirs = floats(&im["embedding"]);
        let cos = cosine(&ours, &theirs);
        assert!(cos >= 0.9999, "{}: cosine {cos}", png.display());

        let logits = e
            .model
            .logits(&emb)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let ref_logits = floats(&im["logits"]);
        let max_ref = ref_logits.iter().fold(0f32, |m, v| m.max(v.abs()));
        let max_diff = logits
            .iter()
            .zip(&ref_logits)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            max_diff <= 1e-3 * max_ref,
            "{}: max |logit diff| {max_diff} > 1e-3 × {max_ref}",
            png.display()
        );
    }
}

#[test]
fn own_preprocessing_of_full_size_photos_matches_the_reference_pipeline() {
    let r = reference();
    let e = common::embedder();
    let mut worst = 1f32;
    for im in r["images"].as_array().unwrap() {
        let photo = common::fixtures().join(im["photo"].as_str().unwrap());
        let rgb = decode::load_rgb(&photo).unwrap();
        assert!(
            rgb.width() > 224 || rgb.height() > 224,
            "{} is a full-size photo",
            photo.display()
        );
        let x = e.preprocess.prepare(&rgb);
        let ours = e
            .embed_prepared(&[x])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let cos = cosine(&ours, &floats(&im["embedding"]));
        worst = worst.min(cos);
        assert!(
            cos >= 0.995,
            "{}: cosine {cos} against PIL decode + bicubic resize",
            photo.display()
        );
    }
    eprintln!("worst cosine, own preprocessing vs reference pipeline: {worst:.5}");
}

#[test]
fn batching_does_not_change_embeddings() {
    // The same image alone and inside a batch of different images gives the same embedding.
    let e = common::embedder();
    let photos = common::all_photos();
    let prepared: Vec<Vec<f32>> = photos[..5]
        .iter()
        .map(|p| e.preprocess.prepare(&decode::load_rgb(p).unwrap()))
        .collect();
    let batch = e
        .embed_prepared(&prepared)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for (i, x) in prepared.iter().enumerate() {
        let alone: Tensor = e.embed_prepared(std::slice::from_ref(x)).unwrap();
        let alone = alone.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(cosine(&alone, &batch[i]) > 0.99999);
    }
}
