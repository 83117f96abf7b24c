//! Hostile and unlucky inputs through the real binary: decompression bombs of every format
//! are refused with a reason and a bounded peak memory (measured from the kernel's rusage of
//! the child), a real 13000×13000 JPEG still indexes, FIFOs and devices are refused without
//! blocking, phone formats and header-only JPEGs are reported, not embedded.

mod common;
mod hostile_files;
use hostile_files as hostile;

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The promise: no file and no folder takes simtui past this.
const PEAK_LIMIT_MIB: f64 = 1024.0;

/// How the generated phone files (an `ftyp` box and nothing else) are refused: as an
/// unsupported format, or with the `heif` feature as HEIF that libheif cannot read.
const PHONE_REFUSAL: &str = if cfg!(feature = "heif") {
    "cannot decode ("
} else {
    "unsupported format ("
};

struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        let p = std::env::temp_dir().join(format!("simtui-hostile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Temp(p)
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if std::env::var_os("SIMTUI_KEEP_HOSTILE").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One run of the binary with its peak resident memory (the kernel's ru_maxrss of the
/// reaped child, so no spike between samples is missed) and wall time.
struct Measured {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_mib: f64,
    secs: f64,
}

// The child is reaped by wait4 below (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured<S: AsRef<OsStr>>(args: &[S], timeout: Duration) -> Measured {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simtui"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let pid = child.id() as libc::pid_t;
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let reaped = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let reaped = reaped.clone();
        std::thread::spawn(move || {
            while t0.elapsed() < timeout {
                if reaped.load(Ordering::SeqCst) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: the child is not reaped yet, so its pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        })
    };
    let mut status = 0;
    // SAFETY: plain wait4 on our own child with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    reaped.store(true, Ordering::SeqCst);
    assert_eq!(r, pid, "wait4");
    let secs = t0.elapsed().as_secs_f64();
    let killed = watchdog.join().unwrap();
    assert!(
        !killed,
        "simtui {:?} still running after {timeout:?}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>()
    );
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        secs,
    }
}

fn espresso() -> Vec<u8> {
    std::fs::read(common::photo("food_espresso.jpg")).unwrap()
}

/// The bombs one by one through `embed` (full decode): each refused with a reason that names
/// the file, within the memory promise and in bounded time.
#[test]
fn every_bomb_is_refused_with_bounded_memory_and_time() {
    let t = Temp::new("bombs");
    let n = hostile::write_hostile_folder(&t.0, &espresso());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), n);
    for f in &files {
        let m = run_measured(
            &[OsStr::new("embed"), f.as_os_str()],
            Duration::from_secs(60),
        );
        let name = f.file_name().unwrap().to_string_lossy();
        eprintln!(
            "{name}: exit {:?}, {:.0} MiB, {:.2} s: {}",
            m.code,
            m.peak_mib,
            m.secs,
            m.stderr.lines().next().unwrap_or("")
        );
        assert_eq!(m.code, Some(1), "{name} refused: {}", m.stderr);
        assert!(m.stdout.is_empty(), "{name}: nothing embedded");
        assert!(
            m.stderr.contains(&*name),
            "{name}: the error names the file: {}",
            m.stderr
        );
        let expected = if name.starts_with("phone") {
            PHONE_REFUSAL
        } else if name.contains("header") {
            "no image data"
        } else {
            ""
        };
        assert!(m.stderr.contains(expected), "{name}: {}", m.stderr);
        assert!(
            m.peak_mib < PEAK_LIMIT_MIB,
            "{name}: peak {:.0} MiB",
            m.peak_mib
        );
        assert!(m.secs < 5.0, "{name}: {:.1} s", m.secs);
    }
}

/// The whole folder through `index`: every bomb skipped with its reason, the phone formats
/// counted as unsupported, the peak within the promise although decoding runs on every core.
#[test]
fn a_folder_of_bombs_indexes_within_the_memory_promise() {
    let t = Temp::new("folder");
    let dir = t.0.join("photos");
    let n = hostile::write_hostile_folder(&dir, &espresso());
    std::fs::copy(common::photo("food_espresso.jpg"), dir.join("real.jpg")).unwrap();
    let db = t.0.join("index.sqlite");
    let m = run_measured(
        &[
            OsStr::new("index"),
            dir.as_os_str(),
            OsStr::new("--db"),
            db.as_os_str(),
            OsStr::new("--json"),
        ],
        Duration::from_secs(120),
    );
    eprintln!(
        "index of {} hostile files: {:.0} MiB peak, {:.1} s",
        n, m.peak_mib, m.secs
    );
    // Skipped files may make `index` exit 1; anything else is a crash or a usage error.
    assert!(matches!(m.code, Some(0 | 1)), "{:?}: {}", m.code, m.stderr);
    let v: Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(v["found"], n + 1);
    assert_eq!(v["embedded"], 1, "only the real photo: {v}");
    assert_eq!(v["skipped"].as_array().unwrap().len(), n, "{v}");
    assert_eq!(
        v["unsupported"],
        if cfg!(feature = "heif") { 0 } else { 3 },
        "two HEIC (one named .jpg) and one AVIF: {v}"
    );
    for s in v["skipped"].as_array().unwrap() {
        let reason = s["reason"].as_str().unwrap();
        if s["path"].as_str().unwrap().contains("phone") {
            assert!(
                reason.starts_with(&format!("{PHONE_REFUSAL}HEIC)"))
                    || reason.starts_with(&format!("{PHONE_REFUSAL}AVIF)")),
                "{s}"
            );
        }
    }
    assert!(m.peak_mib < PEAK_LIMIT_MIB, "peak {:.0} MiB", m.peak_mib);
    assert!(m.secs < 2.0 * n as f64, "{:.1} s", m.secs);
}

/// A real 13000×13000 JPEG is not a bomb: `index` embeds it (DCT-reduced) and `embed`
/// (full decode) too, both under the promise; with a smaller budget, `embed` still works,
/// decoding at reduced size.
#[test]
fn a_real_13000_pixel_jpeg_still_indexes() {
    let t = Temp::new("huge");
    let dir = t.0.join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let src = image::open(common::photo("food_espresso.jpg"))
        .unwrap()
        .to_rgb8();
    let huge = dir.join("huge.jpg");
    hostile::write_huge_jpeg(&src, 13000, &huge);
    let db = t.0.join("index.sqlite");
    let m = run_measured(
        &[
            OsStr::new("index"),
            dir.as_os_str(),
            OsStr::new("--db"),
            db.as_os_str(),
            OsStr::new("--json"),
        ],
        Duration::from_secs(60),
    );
    eprintln!("index 13000×13000: {:.0} MiB, {:.2} s", m.peak_mib, m.secs);
    let v: Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(v["embedded"], 1, "{v} {}", m.stderr);
    assert!(m.peak_mib < PEAK_LIMIT_MIB, "{:.0} MiB", m.peak_mib);

    let full = run_measured(
        &[OsStr::new("embed"), OsStr::new("--json"), huge.as_os_str()],
        Duration::from_secs(60),
    );
    eprintln!(
        "embed 13000×13000: {:.0} MiB, {:.2} s",
        full.peak_mib, full.secs
    );
    assert_eq!(full.code, Some(0), "{}", full.stderr);
    assert!(full.peak_mib < PEAK_LIMIT_MIB, "{:.0} MiB", full.peak_mib);
    let small = run_measured(
        &[
            OsStr::new("embed"),
            OsStr::new("--json"),
            OsStr::new("--max-image-mb"),
            OsStr::new("128"),
            huge.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    eprintln!(
        "embed 13000×13000 in 128 MiB: {:.0} MiB, {:.2} s",
        small.peak_mib, small.secs
    );
    assert_eq!(small.code, Some(0), "{}", small.stderr);
    assert!(
        small.peak_mib < full.peak_mib - 200.0,
        "{:.0} vs {:.0} MiB",
        small.peak_mib,
        full.peak_mib
    );
    // The same picture either way.
    let emb = |out: &str| -> Vec<f32> {
        let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        v["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    let c = simtui::engine::cosine(&emb(&full.stdout), &emb(&small.stdout));
    assert!(c > 0.99, "cosine {c}");
    // And a smaller budget refuses what does not fit at any scale, naming the limit.
    let png = t.0.join("wide.png");
    std::fs::write(&png, hostile::png_1bit(8000, 8000)).unwrap();
    let refused = run_measured(
        &[
            OsStr::new("embed"),
            OsStr::new("--max-image-mb"),
            OsStr::new("64"),
            png.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(refused.code, Some(1));
    assert!(
        refused
            .stderr
            .contains("over the 64 MiB limit (--max-image-mb)"),
        "{}",
        refused.stderr
    );
}

fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A FIFO named like a photo, a link to /dev/zero and `--weights /dev/zero` are refused at
/// once with the reason, never read until memory runs out or blocked on.
#[test]
fn special_files_are_refused_without_blocking() {
    let t = Temp::new("special");
    let fifo = t.0.join("y.jpg");
    mkfifo(&fifo);
    let zero = t.0.join("z.jpg");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let m = run_measured(
        &[OsStr::new("embed"), fifo.as_os_str(), zero.as_os_str()],
        Duration::from_secs(30),
    );
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    assert!(
        m.stderr.contains("y.jpg: not a regular file (a FIFO)"),
        "{}",
        m.stderr
    );
    assert!(
        m.stderr.contains("z.jpg: not a regular file (a device)"),
        "{}",
        m.stderr
    );
    assert!(m.peak_mib < PEAK_LIMIT_MIB);

    let photo = common::photo("food_espresso.jpg");
    let w = run_measured(
        &[
            OsStr::new("embed"),
            OsStr::new("--weights"),
            OsStr::new("/dev/zero"),
            photo.as_os_str(),
        ],
        Duration::from_secs(30),
    );
    assert_ne!(w.code, Some(0));
    assert!(
        w.stderr
            .contains("cannot read weights /dev/zero: not a regular file (a device)"),
        "{}",
        w.stderr
    );
    let w = run_measured(
        &[
            OsStr::new("embed"),
            OsStr::new("--weights"),
            fifo.as_os_str(),
            photo.as_os_str(),
        ],
        Duration::from_secs(30),
    );
    assert!(
        w.stderr.contains("not a regular file (a FIFO)"),
        "{}",
        w.stderr
    );
    // Through a folder with --follow-links the FIFO and the device are not photos at all.
    std::fs::copy(&photo, t.0.join("real.jpg")).unwrap();
    let db = t.0.join("db.sqlite");
    let m = run_measured(
        &[
            OsStr::new("index"),
            t.0.as_os_str(),
            OsStr::new("--follow-links"),
            OsStr::new("--db"),
            db.as_os_str(),
            OsStr::new("--json"),
        ],
        Duration::from_secs(30),
    );
    let v: Value = serde_json::from_str(&m.stdout).unwrap_or_else(|_| panic!("{}", m.stderr));
    assert_eq!(v["embedded"], 1, "{v}");
}
