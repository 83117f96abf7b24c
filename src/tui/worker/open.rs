//! Opening a photo in the system's viewer, off the UI thread.

use std::path::PathBuf;
use std::sync::mpsc::Sender;

use crate::tui::action::Msg;

/// Opens `path` in the system's viewer (xdg-open, open, start), reporting failure.
pub(super) fn open(path: PathBuf, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let mut cmd = if cfg!(target_os = "macos") {
            std::process::Command::new("open")
        } else if cfg!(windows) {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        } else {
            std::process::Command::new("xdg-open")
        };
        let program = format!("{:?}", cmd.get_program());
        let r = cmd
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let msg = match r {
            Ok(s) if s.success() => Ok(path),
            Ok(s) => Err(format!("{program} exited with {s}")),
            Err(e) => Err(format!("cannot run {program}: {e}")),
        };
        let _ = tx.send(Msg::Opened(msg));
    });
}
