//! The TUI owns the screen, so messages that would go to stderr go to a log file instead.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

static LOG: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Appends to `path` from now on (creating its folder).
pub fn init(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))?;
    *LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    write("simtui started");
    Ok(())
}

/// One line, with seconds since the epoch. Silently nothing when no log is open (tests).
pub fn write(msg: &str) {
    let mut g = LOG.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = g.as_mut() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let _ = writeln!(f, "{t:.3} {msg}");
    }
}
