//! simtui: explore a folder of photos by visual similarity and see why two images look alike.
//!
//! Layers, each depending only on those above it in this list:
//! `model` (the network, no I/O) → `decode` (files to RGB) → `engine` (embedding and labels)
//! → `cli` (argument parsing and output).

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
