//! simtui in a real terminal: a detached tmux session runs `simtui fixtures/photos --graphics
//! blocks`, receives keys and is read back with `capture-pane`, as a person would see it.
//! They are ignored by a plain `cargo test` (a machine with only the Rust toolchain has no
//! tmux) and reported as such, never as a pass; CI runs them by name (`-- --ignored`), and
//! then a missing tmux is a failure that says so.

#[path = "support/tmux.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::{assert_clean_shell, require_tmux, shell};

/// The line of the status bar (the last non-empty line).
fn status_line(screen: &str) -> &str {
    screen.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("")
}

#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_tmux -- --ignored"]
fn sigterm_restores_the_terminal_and_a_missing_graphics_protocol_is_an_error() {
    require_tmux();
    let tmp = harness::temp_dir("tmux", "term");
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let s = shell("term", 100, 30);
    let bin = env!("CARGO_BIN_EXE_simtui");

    // tmux answers no kitty graphics query: asking for kitty by name fails, before raw mode,
    // with exit status 2 (nothing could be done).
    s.type_line(&format!(
        "{bin} {} --graphics kitty; echo EXIT=$?",
        photos.display()
    ));
    let screen = s.wait_for("the error", 30, |s| s.contains("EXIT=2"));
    assert!(
        screen.contains("does not answer the kitty graphics query"),
        "{screen}"
    );
    s.type_line("clear");

    s.type_line(&format!(
        "{bin} {} --graphics blocks --db {} --log {}; echo EXIT=$?",
        photos.display(),
        tmp.join("index.sqlite").display(),
        tmp.join("log").display()
    ));
    s.wait_for("the TUI", 30, |s| {
        s.contains("Files") && s.contains("Neighbours")
    });
    let shell_pid = s.tmux(&["display-message", "-p", "-t", &s.name, "#{pane_pid}"]);
    let out = Command::new("pgrep")
        .args(["-P", shell_pid.trim(), "simtui"])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!pid.is_empty(), "simtui is running under the shell");
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let screen = s.wait_for("the shell", 20, |s| s.contains("EXIT=130"));
    assert!(
        !screen.contains("Neighbours k="),
        "the TUI is gone:\n{screen}"
    );
    assert_clean_shell(&s);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Whether process `pid` has ended (gone, or a zombie waiting for its reaper).
fn ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// The terminal goes away under a running simtui (a closed terminal window, a dropped ssh
/// connection, a killed tmux): it must end with the promised exit status 129, not stay behind
/// reading the dead terminal at 100 % CPU (crossterm 0.29's reader never returns from a
/// hung-up tty: crossterm issue #793). `setsid` keeps the hang-up's SIGHUP away from simtui
/// and from the `sh` that waits for it and writes its `$?` to a file, so only noticing the
/// dead terminal itself can end it.
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_tmux -- --ignored"]
fn a_vanished_terminal_ends_simtui() {
    require_tmux();
    let tmp = harness::temp_dir("tmux", "hup");
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let s = shell("hup", 100, 30);
    let bin = env!("CARGO_BIN_EXE_simtui");
    let pid_file = tmp.join("pid");
    let status_file = tmp.join("status");
    s.type_line(&format!(
        "setsid -w sh -c 'echo $$ > {}; {bin} {} --graphics blocks --db {} --log {}; echo $? > {}'",
        pid_file.display(),
        photos.display(),
        tmp.join("index.sqlite").display(),
        tmp.join("log").display(),
        status_file.display()
    ));
    s.wait_for("the TUI", 30, |s| {
        s.contains("Files") && s.contains("Neighbours")
    });
    // The waiting `sh`; simtui is its only child.
    let sh_pid = std::fs::read_to_string(&pid_file).expect("the pid file");
    let sh_pid = sh_pid.trim().to_string();
    assert!(!ended(&sh_pid), "simtui is running");
    assert!(!status_file.exists(), "simtui has not ended yet");
    s.tmux(&["kill-session", "-t", &s.name]);
    let status = harness::line_written_to(&status_file, 10);
    if status.is_none() {
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &sh_pid])
            .status();
    }
    let log = std::fs::read_to_string(tmp.join("log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&tmp);
    let status = status.expect("simtui was still running 10 s after its terminal went away");
    assert_eq!(
        status.trim(),
        "129",
        "the exit status of a hung-up terminal; the log:\n{log}"
    );
    assert!(
        log.contains("the terminal hung up: exiting") && !log.contains("panic"),
        "the log says why simtui ended, and nothing panicked:\n{log}"
    );
}

#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_tmux -- --ignored"]
fn browse_follow_back_saliency_export_and_quit_in_a_real_terminal() {
    require_tmux();
    let tmp = harness::temp_dir("tmux", "e2e");
    let exports = tmp.join("exports");
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let s = shell("e2e", 160, 48);
    let cmd = format!(
        "{} {} --graphics blocks --method gradcam -k 5 --db {} --export-dir {} --log {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_simtui"),
        photos.display(),
        tmp.join("index.sqlite").display(),
        exports.display(),
        tmp.join("simtui.log").display(),
    );
    s.type_line(&cmd);

    // The folder is indexed in the background; the first photo is the query meanwhile.
    let screen = s.wait_for("indexing to finish", 300, |s| {
        status_line(s).contains("indexed") && s.contains("Neighbours k=5")
    });
    assert!(
        status_line(&screen).contains("46 photos · 46 embedded"),
        "{screen}"
    );
    assert!(screen.contains("Query · bird_duck.jpg"), "{screen}");
    // Neighbour rows: rank, cosine with three decimals, bar, name.
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| {
            let l = l.trim_start_matches(['│', '┃', ' ']);
            l.starts_with("1 0.") || l.starts_with("2 0.") || l.starts_with("5 0.")
        })
        .collect();
    assert_eq!(rows.len(), 3, "ranks 1, 2 and 5 with scores:\n{screen}");

    // Move to the kingfisher; its nearest neighbour is its own crop.
    s.keys(&["j"]);
    let screen = s.wait_for("the kingfisher as query", 10, |s| {
        s.contains("Query · bird_kingfisher.jpg")
    });
    // Centred similarity: the crop scores near 1, unrelated photos near 0.
    let top: f32 = screen
        .split("#1 · ")
        .nth(1)
        .and_then(|r| r.get(..5))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no #1 score:\n{screen}"));
    assert!(top > 0.8, "the crop scores above 0.8:\n{screen}");
    assert!(screen.contains("bird_kingfisher_crop.jpg"), "{screen}");

    // Tab to the neighbours, Enter follows the crop: it becomes the query.
    s.keys(&["Tab", "Enter"]);
    let screen = s.wait_for("the followed neighbour as query", 10, |s| {
        s.contains("Query · bird_kingfisher_crop.jpg")
    });
    assert!(screen.contains("#1 · 0.8"), "{screen}");
    assert!(screen.contains("bird_kingfisher.jpg"), "{screen}");

    // Backspace goes back.
    s.keys(&["BSpace"]);
    s.wait_for("back to the kingfisher", 10, |s| {
        s.contains("Query · bird_kingfisher.jpg")
    });

    // s: a map at once (the cells' Shapley map while Grad-CAM is computed, or Grad-CAM
    // itself when it was quicker than the screen capture), then Grad-CAM with its
    // faithfulness figures.
    s.keys(&["s"]);
    s.wait_for("a first map", 10, |s| s.contains("overlay on · "));
    let screen = s.wait_for("the saliency maps", 120, |s| {
        s.contains("overlay on · gradcam · score 0.8") && s.contains("query     deletion")
    });
    assert!(!screen.contains("refining"), "{screen}");
    assert!(screen.contains("neighbour deletion"), "{screen}");

    // e: the pair as PNG in the export folder, path in the status bar.
    s.keys(&["e"]);
    let screen = s.wait_for("the export", 120, |s| status_line(s).contains("exported"));
    let written: Vec<PathBuf> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        name,
        "simtui-bird_kingfisher-vs-bird_kingfisher_crop-gradcam.png"
    );
    assert!(status_line(&screen).contains(&name), "{screen}");
    let png = image::open(&written[0]).expect("a readable PNG");
    assert!(
        png.width() > 800 && png.height() > 300,
        "{:?}",
        (png.width(), png.height())
    );
    // A second export never overwrites the first.
    s.keys(&["e"]);
    s.wait_for("the second export", 60, |_| {
        std::fs::read_dir(&exports).unwrap().count() == 2
    });
    assert!(exports
        .join("simtui-bird_kingfisher-vs-bird_kingfisher_crop-gradcam-2.png")
        .exists());

    // q: back to a clean shell, the terminal out of raw mode and off the alternate screen.
    s.keys(&["q"]);
    let screen = s.wait_for("the shell", 20, |s| s.contains("EXIT=0"));
    assert!(
        !screen.contains("Neighbours k="),
        "the TUI is gone:\n{screen}"
    );
    assert_clean_shell(&s);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `--graphics auto` inside tmux: without `allow-passthrough` photos are half-blocks and the
/// log (and status line) name the option that would let images through; with it, the kitty
/// query goes out wrapped in passthrough, and a terminal outside that answers nothing (a
/// detached session has none) still leaves half-blocks, saying why. Either way start-up
/// waits at most the probe's deadline and no reply reaches the screen, and the reason stays
/// on screen (status bar marker, help popup) after the start-up line has gone.
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_tmux -- --ignored"]
fn graphics_auto_inside_tmux_says_why_photos_are_half_blocks() {
    require_tmux();
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let bin = env!("CARGO_BIN_EXE_simtui");
    for passthrough in ["off", "on"] {
        let tmp = harness::temp_dir("tmux", &format!("pass-{passthrough}"));
        let s = shell(&format!("pass{passthrough}"), 100, 30);
        // A pane option: other sessions on this tmux server are left alone.
        s.tmux(&[
            "set-option",
            "-p",
            "-t",
            &s.name,
            "allow-passthrough",
            passthrough,
        ]);
        let log = tmp.join("log");
        s.type_line(&format!(
            "{bin} {} --graphics auto --db {} --log {}; echo EXIT=$?",
            photos.display(),
            tmp.join("index.sqlite").display(),
            log.display()
        ));
        let screen = s.wait_for("the TUI", 30, |s| s.contains("Neighbours"));
        assert!(
            !screen.contains("[?"),
            "no terminal reply on screen:\n{screen}"
        );
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let replies = text
            .lines()
            .find(|l| l.contains("terminal replies in"))
            .unwrap_or_else(|| panic!("the probe is logged:\n{text}"));
        let ms: u64 = replies
            .split("terminal replies in ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(ms <= 250, "start-up waited {ms} ms for the terminal");
        assert!(text.contains("graphics None"), "half-blocks:\n{text}");
        if passthrough == "off" {
            assert!(
                text.contains("does not pass graphics through")
                    && text.contains("set -g allow-passthrough on"),
                "{text}"
            );
            assert!(text.contains("passthrough: false"), "{text}");
        } else {
            assert!(text.contains("passthrough: true"), "{text}");
            assert!(
                text.contains("answers no kitty graphics query") && !text.contains("set -g"),
                "{text}"
            );
        }
        // Once the start-up line has given way (after STATUS_SECONDS), the reason stays: a
        // marker at the status bar's end (short while indexing fills the bar), and in `?`.
        let marker = if passthrough == "off" {
            "half-blocks: tmux allow-passthrough off"
        } else {
            "half-blocks: no images outside tmux"
        };
        s.wait_for(
            "the start-up line to go, the marker to stay",
            40,
            |screen| {
                // The key hints are back: no message holds the bar.
                let line = status_line(screen).trim_end();
                line.contains("? help") && (line.ends_with(marker) || line.ends_with("(? why)"))
            },
        );
        s.keys(&["?"]);
        let screen = s.wait_for("the help", 10, |s| s.contains("Images:"));
        let help: String = screen
            .lines()
            .filter_map(|l| l.split('║').nth(1))
            .collect::<Vec<_>>()
            .join(" ");
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let why = if passthrough == "off" {
            "Images: half-blocks because tmux 3"
        } else {
            "Images: half-blocks because the terminal outside tmux"
        };
        assert!(help.contains(why), "{screen}");
        assert_eq!(
            help.contains("`set -g allow-passthrough on` lets kitty images through"),
            passthrough == "off",
            "{screen}"
        );
        s.keys(&["?"]);
        s.keys(&["q"]);
        s.wait_for("the shell", 20, |s| s.contains("EXIT=0"));
        assert_clean_shell(&s);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}

/// Point mode and region search in a real terminal: `p` shows where a query cell matches in
/// the neighbour, `v` + `l` `j` select a 2×2-cell region, Enter replaces the neighbour list by
/// the region's results (refined in the background), Esc brings the neighbours back.
#[test]
#[ignore = "drives simtui in tmux: cargo test --release --test tui_tmux -- --ignored"]
fn point_mode_selects_a_region_and_enter_searches_the_folder_for_it() {
    require_tmux();
    let tmp = harness::temp_dir("tmux", "point");
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos");
    let s = shell("point", 160, 48);
    let cmd = format!(
        "{} {} --graphics blocks -k 5 --db {} --log {}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_simtui"),
        photos.display(),
        tmp.join("index.sqlite").display(),
        tmp.join("simtui.log").display(),
    );
    s.type_line(&cmd);
    s.wait_for("indexing to finish", 300, |s| {
        status_line(s).contains("indexed") && s.contains("Neighbours k=5")
    });
    s.keys(&["j"]);
    let before = s.wait_for("the kingfisher as query", 10, |s| {
        s.contains("Query · bird_kingfisher.jpg")
    });
    let rows = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter_map(|l| {
                let l = l.trim_start_matches(['│', '┃', ' ']);
                let rank = l.split(' ').next()?.parse::<usize>().ok()?;
                (rank <= 5).then(|| l.chars().take(45).collect())
            })
            .collect()
    };
    let neighbours = rows(&before);
    assert_eq!(neighbours.len(), 5, "{before}");

    // p: the cursor on the query's centre cell; the correspondence comes from the worker.
    s.keys(&["p"]);
    let screen = s.wait_for("the pair's correspondence", 60, |s| {
        s.contains("share +") || s.contains("share -")
    });
    assert!(screen.contains("point · query cell (3,3)"), "{screen}");
    assert!(screen.contains("hjkl move"), "{screen}");
    // j moves the cursor, not the list.
    s.keys(&["j"]);
    let screen = s.wait_for("the cursor one row down", 10, |s| {
        s.contains("point · query cell (3,4)")
    });
    assert!(screen.contains("Query · bird_kingfisher.jpg"), "{screen}");

    // v l j: cells (3,4)-(4,5); Enter searches; the list becomes the region's results.
    s.keys(&["v", "l", "j"]);
    s.wait_for("the selection", 10, |s| s.contains("selection (3,4)-(4,5)"));
    s.keys(&["Enter"]);
    let screen = s.wait_for("the refined region results", 120, |s| {
        s.contains(" best window ") && s.contains("found at")
    });
    assert!(
        screen.contains("region ("),
        "the list says what it holds:\n{screen}"
    );
    let results = rows(&screen);
    assert_eq!(results.len(), 5, "{screen}");
    assert_ne!(results, neighbours, "the neighbour list changed:\n{screen}");
    let log = std::fs::read_to_string(tmp.join("simtui.log")).unwrap();
    assert!(
        log.contains("first pass") && log.contains("refined"),
        "{log}"
    );

    // Esc: the neighbours are back; q quits.
    s.keys(&["Escape"]);
    let screen = s.wait_for("the neighbours again", 10, |s| s.contains("Neighbours k=5"));
    assert_eq!(rows(&screen), neighbours, "{screen}");
    s.keys(&["q"]);
    s.wait_for("the shell", 20, |s| s.contains("EXIT=0"));
    assert_clean_shell(&s);
    let _ = std::fs::remove_dir_all(&tmp);
}
