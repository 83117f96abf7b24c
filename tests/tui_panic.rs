//! simtui's way out of the TUI when something goes wrong, in a real terminal (tmux): a panic
//! on the UI thread, a SIGHUP while the terminal is still there, and the SIGHUP of a terminal
//! that goes away. Each time the shell must get its terminal back as it was. Ignored by a
//! plain `cargo test` (no tmux on a bare machine); CI runs them by name (`-- --ignored`). The
//! tmux harness mirrors tests/tui_tmux.rs's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The test hook in src/tui/terminal.rs: this key panics inside the event loop.
const PANIC_ON_KEY: &str = "SIMTUI_PANIC_ON_KEY";

struct Session {
    name: String,
}

impl Session {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_line(&self, line: &str) {
        self.tmux(&["send-keys", "-t", &self.name, "-l", line]);
        self.tmux(&["send-keys", "-t", &self.name, "Enter"]);
    }

    /// The pane as shown, wrapped lines joined (long paths stay whole).
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", &self.name])
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
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
    fn simtui_pid(&self) -> String {
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

/// Fails (never passes without a look) when tmux is missing.
fn require_tmux() {
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

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("simtui-tuiexit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shell(tag: &str) -> Session {
    let s = Session {
        name: format!("simtui-tuiexit-{tag}-{}", std::process::id()),
    };
    s.tmux(&[
        "new-session",
        "-d",
        "-s",
        &s.name,
        "-x",
        "160",
        "-y",
        "40",
        "bash --norc --noprofile",
    ]);
    s.type_line("PS1='$ '; clear");
    s
}

/// The TUI on the fixture photos, its index and log in `tmp`.
fn simtui_command(tmp: &Path) -> String {
    format!(
        "{} {} --graphics blocks --db {} --log {}",
        env!("CARGO_BIN_EXE_simtui"),
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/photos")
            .display(),
        tmp.join("index.sqlite").display(),
        tmp.join("log").display()
    )
}

/// Whether the shell printed simtui's exit status (not the `echo EXIT=$?` typed).
fn exited(screen: &str) -> bool {
    screen.lines().any(|l| l.starts_with("EXIT="))
}

fn wait_for_tui(s: &Session) {
    s.wait_for("the TUI", 30, |s| {
        s.contains("Files") && s.contains("Neighbours")
    });
}

/// After simtui ended: main screen, canonical mode and echo back on.
fn assert_clean_shell(s: &Session) {
    let alt = s.tmux(&["display-message", "-p", "-t", &s.name, "#{alternate_on}"]);
    assert_eq!(alt.trim(), "0", "alternate screen left");
    s.type_line("clear; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon\\|-\\?echo'");
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
    }
}

/// A panic inside the event loop: the terminal is restored before the message is printed,
/// so the message, and where the log is, can be read in the shell, which works as before;
/// the exit status is Rust's for a panic, 101.
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_panic -- --ignored"]
fn a_panic_in_the_event_loop_gives_the_terminal_back() {
    require_tmux();
    let tmp = temp_dir("panic");
    let s = shell("panic");
    s.type_line(&format!(
        "{PANIC_ON_KEY}=P {}; echo EXIT=$?",
        simtui_command(&tmp)
    ));
    wait_for_tui(&s);
    s.tmux(&["send-keys", "-t", &s.name, "P"]);
    let screen = s.wait_for("the shell", 20, exited);
    assert!(screen.contains("EXIT=101"), "{screen}");
    assert!(
        screen.contains("panicked at") && screen.contains("SIMTUI_PANIC_ON_KEY: key 'P' pressed"),
        "the panic message is on the normal screen:\n{screen}"
    );
    let log = tmp.join("log");
    assert!(
        screen.contains(&format!("simtui crashed; its log: {}", log.display())),
        "the log is named:\n{screen}"
    );
    assert!(
        !screen.contains("Neighbours k="),
        "the TUI is gone:\n{screen}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("panic: panicked at") && logged.contains("key 'P' pressed"),
        "{logged}"
    );
    assert_clean_shell(&s);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// SIGHUP while the terminal is still there (`kill -HUP`): like SIGTERM, the event loop ends,
/// the terminal is restored and the exit status is 130 (interrupted); 129 is kept for a
/// terminal that went away (below).
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_panic -- --ignored"]
fn sighup_with_the_terminal_still_there_restores_it() {
    require_tmux();
    let tmp = temp_dir("hup");
    let s = shell("hup");
    s.type_line(&format!("{}; echo EXIT=$?", simtui_command(&tmp)));
    wait_for_tui(&s);
    let pid = s.simtui_pid();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let screen = s.wait_for("the shell", 20, exited);
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(
        !screen.contains("Neighbours k="),
        "the TUI is gone:\n{screen}"
    );
    let logged = std::fs::read_to_string(tmp.join("log")).unwrap();
    assert!(!logged.contains("panic"), "{logged}");
    assert_clean_shell(&s);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// The terminal closes as a window does (tmux kill-session): the shell is hung up and passes
/// SIGHUP on to simtui. simtui ends with 129 and says why in its log. The `sh` that records
/// the exit status ignores SIGHUP (simtui installs its own handler all the same).
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_panic -- --ignored"]
fn a_closed_terminal_and_its_sighup_end_simtui_with_129() {
    require_tmux();
    let tmp = temp_dir("close");
    let s = shell("close");
    let status_file = tmp.join("status");
    s.type_line(&format!(
        "sh -c 'trap \"\" HUP; {}; echo $? > {}'",
        simtui_command(&tmp),
        status_file.display()
    ));
    wait_for_tui(&s);
    let pid = s.simtui_pid();
    s.tmux(&["kill-session", "-t", &s.name]);
    let t = Instant::now();
    let read_status = || {
        std::fs::read_to_string(&status_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    };
    while read_status().is_none() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = read_status();
    if status.is_none() {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
    }
    let logged = std::fs::read_to_string(tmp.join("log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&tmp);
    let status = status.expect("simtui was still running 10 s after its terminal closed");
    assert_eq!(status.trim(), "129", "the log:\n{logged}");
    assert!(
        logged.contains("the terminal hung up: exiting") && !logged.contains("panic"),
        "the log says why simtui ended, and nothing panicked:\n{logged}"
    );
}
