use std::process::ExitCode;

use clap::Parser;

/// With glibc's defaults every activation buffer above the (adaptive) mmap threshold is a
/// fresh mmap, zero-filled page by page and unmapped again on free, and the heap top is
/// trimmed back to the OS: that cost 30 % of forward throughput at batch 32. Keep buffers up
/// to 32 MiB (glibc's ceiling; sub-batches of 4 stay below it) in the heap, grow it in large steps and never trim.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; called before any threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 512 << 20);
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = simtui::cli::Cli::parse();
    match simtui::cli::run(cli) {
        Ok(code) => code,
        // `simtui similar … | head -1`: the reader has what it wanted; nothing went wrong.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Not eprintln!, which panics when stderr is closed or its terminal hung up; the
            // message is sanitised because it names files, whose names come from the disk.
            use std::io::Write;
            let msg = simtui::text::sanitize(&format!("{err:#}"));
            let _ = writeln!(std::io::stderr(), "error: {msg}");
            // 2: nothing could be done (1 is for runs that skipped some inputs).
            ExitCode::from(2)
        }
    }
}
