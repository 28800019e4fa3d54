//! Sending signals: to a process, a process group, or through a pidfd.
//! Signals are raw numbers here; the facade has its own typed `Signal`.

#![allow(unsafe_code)]
//! # Safety
//! `kill(2)` takes plain integers and touches no memory of ours.

use std::os::fd::AsFd;

use crate::{Errno, Pid};

fn last_errno() -> Errno {
    Errno::from_raw_os_error(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// `kill(pid, sig)`—Sends `signal` to the process `pid`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/kill.2.html)
#[doc(alias = "kill")]
pub fn signal_process(pid: Pid, signal: i32) -> rustix::io::Result<()> {
    // SAFETY: plain integers; a `Pid` is positive, so this never means
    // "every process" (-1) or "our group" (0).
    let r = unsafe { libc::kill(pid.as_raw_nonzero().get(), signal) };
    if r == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `kill(-pgid, sig)`—Sends `signal` to every process of group `pgid`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/killpg.3.html)
#[doc(alias = "killpg")]
pub fn signal_group(pgid: Pid, signal: i32) -> rustix::io::Result<()> {
    // SAFETY: plain integers; `-pgid` is a negative group id (pgid > 1 is
    // not guaranteed, but pgid 1 means init's group, which is what was asked).
    let r = unsafe { libc::kill(-pgid.as_raw_nonzero().get(), signal) };
    if r == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `pidfd_send_signal`—Sends `signal` through a pidfd: it reaches the
/// process the pidfd refers to, never another that reused its pid.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
pub fn signal_pidfd(pidfd: impl AsFd, signal: i32) -> rustix::io::Result<()> {
    crate::pidfd::pidfd_send_signal(pidfd, signal)
}
