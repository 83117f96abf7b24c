//! The network sees what a person sees, on the real fixture photos.

mod common;

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use simtui::engine::{cosine, top_k};
use simtui::model::imagenet_labels;

fn top_labels(photo: &str, k: usize) -> Vec<&'static str> {
    let e = common::embedder();
    let emb = e
        .embed_paths(&[common::photo(photo)])
        .unwrap()
        .remove(0)
        .result
        .unwrap();
    let t = Tensor::from_slice(&emb, (1, emb.len()), &Device::Cpu).unwrap();
    let probs = e.class_probabilities(&t).unwrap().remove(0);
    let labels = imagenet_labels();
    top_k(&probs, k)
        .into_iter()
        .map(|(i, _)| labels[i])
        .collect()
}

#[test]
fn class_names_are_the_imagenet_ones() {
    let labels = imagenet_labels();
    assert_eq!(labels.len(), 1000);
    assert_eq!(labels[967], "espresso");
    assert_eq!(labels[285], "Egyptian cat");
}

#[test]
fn espresso_is_espresso() {
    assert_eq!(top_labels("food_espresso.jpg", 1), ["espresso"]);
}

#[test]
fn chelsea_is_a_cat() {
    let cats = [
        "tabby",
        "tiger cat",
        "Persian cat",
        "Siamese cat",
        "Egyptian cat",
    ];
    let top3 = top_labels("pet_chelsea_cat.jpg", 3);
    assert!(top3.iter().any(|l| cats.contains(l)), "top-3 {top3:?}");
}

/// Nearest neighbour (cosine over embeddings, excluding itself) of every fixture photo.
fn nearest_neighbours() -> Vec<(PathBuf, PathBuf, f32)> {
    let photos = common::all_photos();
    let embs: Vec<Vec<f32>> = common::embedder()
        .embed_paths(&photos)
        .unwrap()
        .into_iter()
        .map(|e| e.result.unwrap())
        .collect();
    (0..photos.len())
        .map(|i| {
            let (j, s) = (0..photos.len())
                .filter(|&j| j != i)
                .map(|j| (j, cosine(&embs[i], &embs[j])))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            (photos[i].clone(), photos[j].clone(), s)
        })
        .collect()
}

#[test]
fn nearest_neighbours_are_mostly_in_the_same_group() {
    let nn = nearest_neighbours();
    assert_eq!(nn.len(), 46);
    let same: Vec<bool> = nn
        .iter()
        .map(|(a, b, _)| common::group(a) == common::group(b))
        .collect();
    for ((a, b, s), ok) in nn.iter().zip(&same) {
        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!(
            "{} {:<36} → {:<36} {s:.3}",
            if *ok { " " } else { "✗" },
            name(a),
            name(b)
        );
    }
    let count = same.iter().filter(|&&x| x).count();
    // Measured with the bundled weights; a change here means the embeddings changed.
    assert_eq!(count, MEASURED_SAME_GROUP, "same-group nearest neighbours");
}

const MEASURED_SAME_GROUP: usize = 33;

#[test]
fn the_kingfisher_crop_finds_its_original_first() {
    let nn = nearest_neighbours();
    let (_, b, s) = nn
        .iter()
        .find(|(a, _, _)| a.ends_with("bird_kingfisher_crop.jpg"))
        .unwrap();
    assert!(
        b.ends_with("bird_kingfisher.jpg"),
        "nearest is {} ({s})",
        b.display()
    );
}
