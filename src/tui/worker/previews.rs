//! Preview decoding: the photos the app wants on screen (the newest wish list wins), decoded
//! at a reduced size on their own threads.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use anyhow::Result;
use image::RgbImage;

use crate::decode;
use crate::render::{fit, resize_rgb};
use crate::tui::action::Msg;
use crate::tui::jobs::Latest;
use crate::tui::log;

/// Previews (and overlays) are kept at most this many pixels a side: enough for a full-screen
/// panel through a graphics protocol, small enough to keep dozens in memory.
pub const PREVIEW_SIDE: u32 = 768;

/// A preview thread: decodes the first photo of the newest wish list until stopped.
pub(super) fn preview_worker(tx: &Sender<Msg>, wish: &Latest<Vec<(usize, PathBuf)>>) {
    while let Some((entry, path)) = wish.take(|list, _| (!list.is_empty()).then(|| list.remove(0)))
    {
        let decoded = std::panic::catch_unwind(|| load_preview(&path));
        let result = match decoded {
            Ok(r) => r.map(Arc::new).map_err(|e| decode::reason(&e, &path)),
            Err(p) => Err(format!("internal error: {}", crate::panic_message(&*p))),
        };
        if let Err(reason) = &result {
            log::write(&format!("preview of {}: {reason}", path.display()));
        }
        if tx.send(Msg::Preview { entry, result }).is_err() {
            return;
        }
    }
}

/// The photo, EXIF-oriented, at most [`PREVIEW_SIDE`] a side (reduced-size JPEG decoding).
pub fn load_preview(path: &Path) -> Result<RgbImage> {
    let img = decode::load_rgb_reduced(path, PREVIEW_SIDE / 2)?;
    Ok(shrink(&img))
}

/// `img` at most [`PREVIEW_SIDE`] a side.
pub(super) fn shrink(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) <= PREVIEW_SIDE {
        return img.clone();
    }
    let (tw, th) = fit(w, h, PREVIEW_SIDE, PREVIEW_SIDE);
    resize_rgb(img, tw, th)
}
