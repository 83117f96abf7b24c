//! EfficientNet-Lite0 in candle: network, fused NHWC kernels, preprocessing and the bundled
//! ImageNet weights. Knows nothing of files, caches or terminals.

pub mod efficientnet;
pub mod kernels;
pub mod ops;
pub mod preprocess;
pub mod stats;

pub use efficientnet::{global_average, Config, EfficientNetLite0, Forward, Retained};
pub use preprocess::{Preprocess, INPUT_SIZE, PREPROCESS_VERSION};

/// Length of an embedding (channels of the last feature map).
pub const EMBEDDING_DIM: usize = 1280;

/// The ImageNet-trained checkpoint, converted from the PyTorch release (see weights/README.md).
/// Compiled into the binary so `simtui` works from any directory and needs no download.
pub static BUNDLED_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/efficientnet-lite0.safetensors"
));

static IMAGENET_CLASSES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/imagenet_classes.txt"
));

/// The 1000 ImageNet class names, in logit order.
pub fn imagenet_labels() -> Vec<&'static str> {
    IMAGENET_CLASSES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// sha256 of [`BUNDLED_WEIGHTS`], computed once.
pub fn bundled_weights_sha256() -> &'static str {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA.get_or_init(|| sha256_hex(BUNDLED_WEIGHTS))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The network with the bundled weights.
pub fn bundled() -> candle_core::Result<EfficientNetLite0> {
    EfficientNetLite0::from_safetensors_bytes(BUNDLED_WEIGHTS)
}
