//! The decode memory budget: one process-wide limit on what decoding may hold at once (file
//! bytes, decoded pixels, conversion buffers), shared by every thread that decodes. One image
//! needing more is refused before anything is allocated; one needing less waits while others
//! hold the budget, so a folder of large files cannot add up past it either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

/// Default limit: 512 MiB. The model, its batch of activations and the process around it
/// take ~250 MB more during `index`, which keeps simtui under 1 GiB while still decoding a
/// 13000×13000 JPEG (at reduced size) or a 170-MP RGB image in full.
pub const DEFAULT_MEMORY_LIMIT: u64 = 512 << 20;

static LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_MEMORY_LIMIT);
static IN_USE: Mutex<u64> = Mutex::new(0);
static RELEASED: Condvar = Condvar::new();

/// Sets the most memory decoding may hold at once, in bytes (at least 16 MiB).
pub fn set_memory_limit(bytes: u64) {
    LIMIT.store(bytes.max(16 << 20), Ordering::Relaxed);
}

/// The most memory decoding may hold at once, in bytes.
pub fn memory_limit() -> u64 {
    LIMIT.load(Ordering::Relaxed)
}

pub(crate) fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Memory held against the budget; given back when dropped. A decoded image comes with the
/// share it occupies, so that what the caller still holds keeps counting until it lets go.
pub struct Reservation {
    bytes: u64,
}

impl Reservation {
    pub(crate) fn none() -> Self {
        Reservation { bytes: 0 }
    }

    /// Holds `total` bytes (instead of what it held), waiting while other decodes hold the
    /// budget. While it waits it holds nothing, so two decodes can never wait on each other.
    /// `what` names the need in the refusal ("a 30000×30000 GIF").
    pub(crate) fn resize(&mut self, total: u64, what: &dyn Fn() -> String) -> anyhow::Result<()> {
        let limit = memory_limit();
        if total > limit {
            anyhow::bail!(
                "too large: decoding {} needs {} MiB, over the {} MiB limit (--max-image-mb)",
                what(),
                mib(total),
                mib(limit)
            );
        }
        let mut used = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.bytes = 0;
        while *used + total > limit {
            used = RELEASED.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += total;
        self.bytes = total;
        Ok(())
    }
}

impl Reservation {
    /// Keeps only `bytes` of what is held (never more), without waiting: what a decoded
    /// image still occupies once the decoder's buffers are gone.
    pub(crate) fn shrink_to(&mut self, bytes: u64) {
        if bytes < self.bytes {
            let mut used = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
            *used -= self.bytes - bytes;
            self.bytes = bytes;
            RELEASED.notify_all();
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            let mut used = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
            *used -= self.bytes;
            RELEASED.notify_all();
        }
    }
}
