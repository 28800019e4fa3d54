//! Waiting for a child: `wait4` for exactly one pid (never `-1`), with the
//! child's resource use; a look at its status that leaves it unreaped
//! (`waitid` with `WNOWAIT`); and decoding of raw wait statuses.

#![allow(unsafe_code)]
//! # Safety
//! `wait4` writes into a status word and an `rusage` we own; both are plain
//! data initialised before the call.

use std::time::Duration;

use crate::{Errno, Pid};

/// What `wait4` reports about a child's resource use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rusage {
    /// CPU time in user mode.
    pub user: Duration,
    /// CPU time in the kernel.
    pub system: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss_bytes: u64,
}

/// A reaped child: its raw wait status and resource use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitResult {
    /// The raw status, to decode with [`exit_code`], [`term_signal`], [`core_dumped`].
    pub status: i32,
    /// The child's resource use.
    pub rusage: Rusage,
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// `wait4(pid, …)`—Reaps the child `pid` once it has exited, with its
/// rusage. With `nohang`, returns `Ok(None)` at once if it still runs.
/// `EINTR` is retried. Only ever waits for this one pid.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/wait4.2.html)
pub fn wait_pid(pid: Pid, nohang: bool) -> rustix::io::Result<Option<WaitResult>> {
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: all-zero is a valid `rusage` (plain integers and timevals).
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `status` and `ru` are valid for writes for the duration of
        // the call; the pid is positive (a `Pid` is never 0 or -1).
        let r = unsafe { libc::wait4(pid.as_raw_nonzero().get(), &mut status, flags, &mut ru) };
        if r == 0 {
            return Ok(None);
        }
        if r < 0 {
            let e = Errno::from_raw_os_error(
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO),
            );
            if e == Errno::INTR {
                continue;
            }
            return Err(e);
        }
        return Ok(Some(WaitResult {
            status,
            rusage: Rusage {
                user: timeval(ru.ru_utime),
                system: timeval(ru.ru_stime),
                max_rss_bytes: u64::try_from(ru.ru_maxrss)
                    .unwrap_or(0)
                    .saturating_mul(1024),
            },
        }));
    }
}

/// Blocks until `pid` has exited, leaving it unreaped (`waitid` with
/// `WEXITED | WNOWAIT`): several threads may wait at once, and each then
/// reaps (or finds reaped) under its own lock, so none of them sees the
/// `ECHILD` of another's reap as a lost status.
///
/// # Errors
/// `ECHILD` when `pid` is not a child of ours (or was reaped already).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/waitid.2.html)
#[doc(alias = "waitid")]
pub fn wait_exited_nowait(pid: Pid) -> rustix::io::Result<()> {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    loop {
        match waitid(WaitId::Pid(pid), options) {
            Err(Errno::INTR) => {}
            other => return other.map(|_| ()),
        }
    }
}

/// `waitid(P_PID, pid, WEXITED | WNOHANG | WNOWAIT)`—The raw wait status
/// of the child `pid` if it has exited, **without reaping it**: it stays a
/// zombie (its pid and process group stay taken) and a later [`wait_pid`]
/// gets the same status. `Ok(None)` while it runs. `EINTR` is retried.
///
/// The status is encoded as [`WaitResult::status`] is (what
/// [`exit_code`], [`term_signal`] and [`core_dumped`] decode), built from
/// `waitid`'s `si_code` and `si_status`. Only ever asks about this one pid.
///
/// # Errors
/// `ECHILD` when `pid` is not an unreaped child of ours.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/waitid.2.html)
#[doc(alias = "waitid")]
pub fn wait_pid_nowait(pid: Pid) -> rustix::io::Result<Option<i32>> {
    use rustix::process::{WaitId, WaitIdOptions, waitid};
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    let info = loop {
        match waitid(WaitId::Pid(pid), options) {
            Err(Errno::INTR) => {}
            other => break other?,
        }
    };
    Ok(info.and_then(|info| {
        if let Some(code) = info.exit_status() {
            Some((code & 0xff) << 8)
        } else {
            let signal = info.terminating_signal()?;
            Some(if info.dumped() { signal | 0x80 } else { signal })
        }
    }))
}

/// `WEXITSTATUS`—The exit code, if the child exited normally.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/wait.2.html)
#[must_use]
pub fn exit_code(status: i32) -> Option<i32> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

/// `WTERMSIG`—The number of the signal that killed the child, if one did.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/wait.2.html)
#[must_use]
pub fn term_signal(status: i32) -> Option<i32> {
    libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
}

/// `WCOREDUMP`—Whether the child dumped core when a signal killed it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/wait.2.html)
#[must_use]
pub fn core_dumped(status: i32) -> bool {
    libc::WIFSIGNALED(status) && libc::WCOREDUMP(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_decode() {
        assert_eq!(exit_code(3 << 8), Some(3));
        assert_eq!(term_signal(3 << 8), None);
        assert_eq!(term_signal(9), Some(9));
        assert_eq!(exit_code(9), None);
        assert!(core_dumped(11 | 0x80));
    }
}
