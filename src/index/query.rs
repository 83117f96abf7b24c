//! A photo from outside the index, embedded exactly as the index embeds its own (reduced-size
//! decode), so that its scores against indexed rows compare like with like.

use std::path::Path;

use anyhow::Result;

use crate::decode;
use crate::engine::Embedder;
use crate::model::INPUT_SIZE;

/// The raw pooled feature of the photo at `path`, decoded the way `index` decodes.
pub fn embed_like_index(embedder: &Embedder, path: &Path) -> Result<Vec<f32>> {
    let photo = decode::load_rgb_reduced(path, INPUT_SIZE)?;
    Ok(embedder
        .embed_images(std::slice::from_ref(&photo))?
        .remove(0))
}
