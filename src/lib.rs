//! simtui: explore a folder of photos by visual similarity and see why two images look alike.
//!
//! Layers, each using only the ones below it:
//! - [`cli`] (parse, dispatch, print) and [`tui`] (terminal, state, view, workers) — the two
//!   front doors; [`bench`] measures them against the Python peers.
//! - [`explain::pair`] — the one pair pipeline both front doors call: load → maps →
//!   faithfulness → figure/overlays; [`render`] draws (colour maps, overlays, figures,
//!   terminal image protocols).
//! - [`explain`] (saliency methods, faithfulness, correspondence), [`index`] (scan, decode and
//!   embed pipeline, SQLite cache, region search) and [`search`] (top-k, duplicate groups).
//! - [`space`] (plain or centred similarity) over [`engine`] (images → pooled features).
//! - [`decode`] (bytes → upright RGB, bounded) and [`model`] (EfficientNet-Lite0 in candle,
//!   no files, no terminal); [`text`] makes names safe to show.

// The lint wall: nothing unused ships, and library code reports errors instead of panicking on
// them (`unwrap` only in tests; `expect` states an invariant).
#![deny(unused)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod bench;
pub mod cli;
pub mod decode;
pub mod engine;
pub mod explain;
pub mod index;
pub mod model;
pub mod render;
pub mod search;
pub mod space;
pub mod text;
pub mod tui;

/// The message of a caught panic (or of a C library's unwind), for an error report.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic without a message".into())
}
