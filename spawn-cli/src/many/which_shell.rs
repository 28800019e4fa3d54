//! Which shell runs the jobs of `spawn many` that need one, by GNU
//! parallel's rule: `$PARALLEL_SHELL`; else the nearest shell among our
//! (grand)parent processes (so a run started from bash gets bash: its
//! `export -f` functions and `[[ … ]]` work); else `$SHELL`; else
//! `/bin/sh`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// GNU parallel's list of shell names (a login shell's `-` stripped).
const SHELLS: &[&str] = &[
    "ash",
    "bash",
    "bsd-csh",
    "csh",
    "dash",
    "fdsh",
    "fish",
    "fizsh",
    "ksh",
    "ksh93",
    "lksh",
    "mksh",
    "pdksh",
    "posh",
    "rbash",
    "rc",
    "rush",
    "rzsh",
    "sash",
    "sh",
    "static-sh",
    "tcsh",
    "yash",
    "zsh",
];

/// Whether `argv0` (a process's first argument) names a shell.
fn is_shell(argv0: &[u8]) -> bool {
    let base = argv0.rsplit(|&b| b == b'/').next().unwrap_or(argv0);
    let base = base.strip_prefix(b"-").unwrap_or(base);
    SHELLS.iter().any(|s| s.as_bytes() == base)
}

/// The parent of process `pid`, from `/proc/PID/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let after = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[after + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The program of process `pid` if it is a shell.
fn shell_of(pid: u32) -> Option<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    if !is_shell(argv0) {
        return None;
    }
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The nearest shell among the (grand)parents of process `pid`.
fn parent_shell(pid: u32) -> Option<PathBuf> {
    let mut at = parent_of(pid)?;
    // A bound, in case /proc lies (a cycle).
    for _ in 0..64 {
        if at <= 1 {
            return None;
        }
        if let Some(sh) = shell_of(at) {
            return Some(sh);
        }
        at = parent_of(at)?;
    }
    None
}

/// The first of the candidates that is set: `$PARALLEL_SHELL`, the parent
/// shell, `$SHELL`, `/bin/sh`.
fn choose(
    parallel_shell: Option<OsString>,
    parent: impl FnOnce() -> Option<PathBuf>,
    shell: Option<OsString>,
) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(parallel_shell)
        .or_else(parent)
        .or_else(|| set(shell))
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// The shell of this run (see the module docs).
pub(crate) fn shell() -> PathBuf {
    choose(
        std::env::var_os("PARALLEL_SHELL"),
        || parent_shell(std::process::id()),
        std::env::var_os("SHELL"),
    )
}

/// Whether `shell` takes POSIX `sh` syntax (then a command line of plain
/// words means to it what it means to `sh`, and may be run without it).
pub(crate) fn is_posix(shell: &OsStr) -> bool {
    let b = shell.as_bytes();
    let base = b.rsplit(|&c| c == b'/').next().unwrap_or(b);
    [
        &b"sh"[..],
        b"bash",
        b"dash",
        b"ash",
        b"ksh",
        b"mksh",
        b"zsh",
        b"yash",
        b"posh",
        b"lksh",
    ]
    .contains(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_names_like_gnu_parallel() {
        for yes in [&b"bash"[..], b"-bash", b"/usr/bin/zsh", b"sh", b"-sh"] {
            assert!(is_shell(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [&b"sshd"[..], b"flush", b"foo.sh", b"cargo", b""] {
            assert!(!is_shell(no), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn parallel_shell_then_parent_then_shell_then_bin_sh() {
        let os = |s: &str| Some(OsString::from(s));
        let p = |s: &'static str| move || Some(PathBuf::from(s));
        assert_eq!(
            choose(os("/x/ps"), p("/bin/bash"), os("/bin/zsh")),
            PathBuf::from("/x/ps")
        );
        assert_eq!(
            choose(None, p("/bin/bash"), os("/bin/zsh")),
            PathBuf::from("/bin/bash")
        );
        assert_eq!(
            choose(os(""), || None, os("/bin/zsh")),
            PathBuf::from("/bin/zsh")
        );
        assert_eq!(choose(None, || None, None), PathBuf::from("/bin/sh"));
    }

    #[test]
    fn our_parents_are_found_in_proc() {
        // This test's parent chain ends at 1 (or at a shell): no panic, and
        // our own parent is known.
        assert!(parent_of(std::process::id()).is_some());
        let _ = parent_shell(std::process::id());
    }
}
