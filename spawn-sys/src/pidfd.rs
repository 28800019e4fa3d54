//! Process file descriptors: a handle on one process that never refers to
//! another after the pid is reused; readable (in poll/epoll) once the process
//! exits. Support is probed once; `SPAWN_NO_PIDFD=1` (or
//! `SPAWN_BACKEND=portable`, see [`mod@crate::backend`]) forces the fallback.

#![allow(unsafe_code)]
//! # Safety
//! `pidfd_send_signal` is called through `syscall(2)` with a borrowed,
//! open fd, a signal number and a null `siginfo`, as the man page allows.

#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsRawFd;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::process::PidfdFlags;

use crate::{Errno, Pid};

pub(crate) fn forced_off() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| {
        disabled_by(std::env::var_os("SPAWN_NO_PIDFD").as_deref())
            || !crate::backend::linux_native()
    })
}

/// Whether a value of `SPAWN_NO_PIDFD` turns pidfds off (any value but
/// empty or `0`).
#[must_use]
pub fn disabled_by(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// `pidfd_open(pid, 0)`—A pidfd for the process `pid` (close-on-exec by
/// nature). `ENOSYS` when pidfds are turned off with `SPAWN_NO_PIDFD=1`,
/// and on systems without pidfds (all but Linux).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
pub fn pidfd_open(pid: Pid) -> rustix::io::Result<OwnedFd> {
    if forced_off() {
        return Err(Errno::NOSYS);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return rustix::process::pidfd_open(pid, PidfdFlags::empty());
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = pid;
        Err(Errno::NOSYS)
    }
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`—Sends `signal` to the process
/// of `pidfd`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn pidfd_send_signal(pidfd: impl AsFd, signal: i32) -> rustix::io::Result<()> {
    let fd = pidfd.as_fd();
    // SAFETY: the fd is open for the duration of the call (borrowed), the
    // siginfo pointer is null, flags are 0.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    }
}

/// `ENOSYS`: no pidfds but on Linux (and no pidfd to pass either:
/// [`pidfd_open`] makes none).
///
/// # Errors
/// Always `ENOSYS`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn pidfd_send_signal(pidfd: impl AsFd, signal: i32) -> rustix::io::Result<()> {
    let _ = (pidfd.as_fd(), signal);
    Err(Errno::NOSYS)
}

/// Whether pidfds work here: the kernel has them (5.3+) and
/// `SPAWN_NO_PIDFD` does not turn them off. Probed once.
pub fn pidfd_supported() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| !forced_off() && pidfd_open(rustix::process::getpid()).is_ok())
}
