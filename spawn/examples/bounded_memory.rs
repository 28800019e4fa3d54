//! `bounded_memory`: 1 GiB of output read with a few MiB of memory.
//!
//! Not in PyMOTW: this is what Python's `communicate()` cannot do. It keeps
//! every byte, so this takes 1 GiB of memory in Python:
//!
//! ```python
//! import subprocess
//!
//! out = subprocess.run(['head', '-c', '1G', '/dev/zero'],
//!                      stdout=subprocess.PIPE).stdout
//! print(len(out))   # 1073741824, all of it in memory
//! ```
//!
//! In spawn the caller chooses what is kept: here [`Sink::head_tail`] keeps
//! the first and last 16 bytes, and counts the rest as it goes by. The
//! example reads this process's peak resident set size (`VmHWM` in
//! `/proc/self/status`) before and after, and fails if it grew by more than
//! 64 MiB.

use spawn::{Command, Sink};

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib = line.trim().trim_end_matches("kB").trim().parse()?;
    Ok(kib)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const GIB: u64 = 1 << 30;
    let before = status_kib("VmHWM")?;
    println!(
        "before: VmHWM {:.1} MiB, VmRSS {:.1} MiB",
        mib(before),
        mib(status_kib("VmRSS")?)
    );

    let out = Command::new("head")
        .args(["-c", "1G", "/dev/zero"])
        .stdout(Sink::head_tail(16, 16))
        .pipe_capacity(1 << 20)
        .run()?;

    let after = status_kib("VmHWM")?;
    println!("child: {}", out.status);
    println!(
        "read {} bytes ({} GiB) of stdout; kept {} bytes, dropped {}",
        out.report.stdout_bytes,
        out.report.stdout_bytes / GIB,
        out.stdout.len(),
        out.report.stdout_dropped
    );
    println!(
        "kept bytes all zero: {}",
        out.stdout.iter().all(|&b| b == 0)
    );
    println!(
        "after:  VmHWM {:.1} MiB, VmRSS {:.1} MiB",
        mib(after),
        mib(status_kib("VmRSS")?)
    );
    println!(
        "peak grew by {:.1} MiB while 1024 MiB went through",
        mib(after.saturating_sub(before))
    );
    if out.report.stdout_bytes != GIB || !out.status.success() {
        return Err("expected 1 GiB from a successful `head`".into());
    }
    if after.saturating_sub(before) > 64 << 10 {
        return Err("memory grew by more than 64 MiB".into());
    }
    Ok(())
}
