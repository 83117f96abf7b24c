//! The folder index: scan, fast robust decoding on worker threads, batched embedding, the
//! SQLite cache and incremental updates.

pub mod cache;
pub mod pipeline;
pub mod query;
pub mod region;
pub mod scan;

pub use cache::Cache;
pub use pipeline::{update, Event, Indexed, Listed, ListedState, Summary};
pub use scan::{scan, ScanOptions};
