//! The other runners the CLI is compared with, installed where they are
//! missing and can be: GNU parallel with `apt-get` (as root; for the
//! benchmark and for `cargo xtask ci`, so that the comparison test
//! `tests/tests/cli_many_vs_gnu.rs` runs instead of skipping), tmux the
//! same way (for the job-control test), and
//! rust-parallel with `cargo install` (for the benchmark only). Each says
//! what happened, for the document or the log; a runner that cannot be
//! installed is skipped with that message, never an error.

use std::path::PathBuf;
use std::process::Command;

/// Whether `prog` is on `PATH`.
pub(crate) fn on_path(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// `Some(())` when we run as root (`id -u` says 0).
pub(crate) fn running_as_root() -> Option<()> {
    let out = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&out.stdout).trim() == "0").then_some(())
}

/// Installs GNU parallel with `apt-get` when it is missing and we are root;
/// what happened (`None`: it was there).
pub(crate) fn parallel() -> Option<String> {
    apt("parallel", "parallel", "GNU parallel")
}

/// Installs tmux (for the job-control test, `tests/tests/cli_job_control.rs`,
/// which drives a real terminal with it) as [`parallel`] does GNU parallel.
pub(crate) fn tmux() -> Option<String> {
    apt("tmux", "tmux", "tmux")
}

/// Installs Debian's `package` with `apt-get` when `prog` is missing and we
/// are root; what happened (`None`: it was there).
fn apt(prog: &str, package: &str, what: &str) -> Option<String> {
    if on_path(prog) {
        return None;
    }
    if !on_path("apt-get") || running_as_root().is_none() {
        return Some(format!(
            "{what} is not installed (and cannot be: no apt-get, or not root)."
        ));
    }
    println!("    installing {what}: apt-get install -y {package}");
    let install =
        format!("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null 2>&1");
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("{install} || {{ apt-get update -qq >/dev/null 2>&1 && {install}; }}"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    Some(if ok && on_path(prog) {
        format!("{what} was installed (`apt-get install {package}`, Debian's package).")
    } else {
        format!("{what} is not installed: `apt-get install {package}` failed.")
    })
}

/// rust-parallel's program: on `PATH`, in `~/.cargo/bin`, or (when
/// `install`) installed there now with `cargo install rust-parallel`;
/// `Err` says why not.
pub(crate) fn rust_parallel(install: bool) -> Result<PathBuf, String> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/rust-parallel"));
    if on_path("rust-parallel") {
        return Ok(PathBuf::from("rust-parallel"));
    }
    if let Some(p) = cargo_bin.as_ref().filter(|p| p.is_file()) {
        return Ok(p.clone());
    }
    if !install {
        return Err("rust-parallel is not installed (`cargo install rust-parallel`).".into());
    }
    println!("    installing rust-parallel: cargo install rust-parallel");
    let ok = Command::new("cargo")
        .args(["install", "--quiet", "rust-parallel"])
        .status()
        .is_ok_and(|s| s.success());
    match cargo_bin.filter(|p| ok && p.is_file()) {
        Some(p) => Ok(p),
        None => Err("rust-parallel is not installed: `cargo install rust-parallel` failed.".into()),
    }
}
