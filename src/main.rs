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

fn main() -> ExitCode {
    tune_allocator();
    let cli = simtui::cli::Cli::parse();
    match simtui::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Not eprintln!, which panics when stderr is closed or its terminal hung up.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
