//! The tmux harness of the end-to-end TUI tests (tests/tui_tmux.rs, tests/tui_panic.rs): a
//! detached session running a clean bash, keys sent, the pane read back as a person sees it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Session {
    pub name: String,
    /// Read the pane with wrapped lines joined (long paths in the shell stay whole).
    pub joined: bool,
}

impl Session {
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", &self.name, k]);
            // One key per frame, as a person types.
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    pub fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-t", &self.name, "-l", line]);
        self.tmux(&["send-keys", "-t", &self.name, "Enter"]);
    }

    pub fn screen(&self) -> String {
        if self.joined {
            self.tmux(&["capture-pane", "-p", "-J", "-t", &self.name])
        } else {
            self.tmux(&["capture-pane", "-p", "-t", &self.name])
        }
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `secs`.
    pub fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if t.elapsed() > Duration::from_secs(secs) {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid of simtui, started by the pane's shell (directly or through `sh -c`).
    pub fn simtui_pid(&self) -> String {
        let shell = self.tmux(&["display-message", "-p", "-t", &self.name, "#{pane_pid}"]);
        let mut parents = vec![shell.trim().to_string()];
        while let Some(parent) = parents.pop() {
            let out = Command::new("pgrep")
                .args(["-P", &parent])
                .output()
                .expect("pgrep");
            for child in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let comm = std::fs::read_to_string(format!("/proc/{child}/comm"));
                if comm.is_ok_and(|c| c.trim() == "simtui") {
                    return child.to_string();
                }
                parents.push(child.to_string());
            }
        }
        panic!("simtui is not running under the shell:\n{}", self.screen());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .output();
    }
}

/// These tests are `#[ignore]`d so that the README's plain `cargo test --release` passes on a
/// machine with only the Rust toolchain; asked for by name (`-- --ignored`, as CI does), they
/// run, and without tmux they fail saying so instead of passing without a look.
pub fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is not installed: these tests drive simtui in a real terminal. Install it \
         (apt-get install tmux)"
    );
}

/// The contents of `path` once a whole line is in it (the exit status a shell wrote there),
/// or `None` after `secs`.
pub fn line_written_to(path: &std::path::Path, secs: u64) -> Option<String> {
    let t = Instant::now();
    loop {
        let read = std::fs::read_to_string(path)
            .ok()
            .filter(|s| s.ends_with('\n'));
        if read.is_some() || t.elapsed() > Duration::from_secs(secs) {
            return read;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh folder (with an `exports` folder inside) for one test's index, log and exports.
pub fn temp_dir(suite: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("simtui-{suite}-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("exports")).unwrap();
    d
}

/// A `w`×`h` pane running a clean bash with the prompt `$ `.
pub fn shell(tag: &str, w: u32, h: u32) -> Session {
    let s = Session {
        name: format!("simtui-{tag}-{}", std::process::id()),
        joined: false,
    };
    s.tmux(&[
        "new-session",
        "-d",
        "-s",
        &s.name,
        "-x",
        &w.to_string(),
        "-y",
        &h.to_string(),
        "bash --norc --noprofile",
    ]);
    s.type_line("PS1='$ '; clear");
    s
}

/// After simtui ended: main screen, canonical mode and echo back on.
pub fn assert_clean_shell(s: &Session) {
    let alt = s.tmux(&["display-message", "-p", "-t", &s.name, "#{alternate_on}"]);
    assert_eq!(alt.trim(), "0", "alternate screen left");
    s.type_line("clear; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon\\|-\\?echo'");
    // Both settings printed (either way round), whatever moment the pane is read.
    let printed = |s: &str, name: &str| {
        s.lines()
            .any(|l| l.trim() == name || l.trim() == format!("-{name}"))
    };
    let screen = s.wait_for("stty", 10, |s| printed(s, "icanon") && printed(s, "echo"));
    for setting in ["icanon", "echo"] {
        assert!(
            screen.lines().any(|l| l.trim() == setting),
            "{setting} is back on:\n{screen}"
        );
        assert!(
            !screen.lines().any(|l| l.trim() == format!("-{setting}")),
            "{setting} is still off:\n{screen}"
        );
    }
}
