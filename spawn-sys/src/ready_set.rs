//! [`ReadySet`]: the readiness set of this process's
//! [backend](mod@crate::backend): epoll on Linux, kqueue on macOS and the
//! BSDs, [`PollSet`] (`poll(2)`) elsewhere and with
//! `SPAWN_BACKEND=portable`. One type for every caller (the driver's
//! loop, the reaper), chosen when it is made; each call is one `match`.

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
use std::os::fd::AsFd;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use crate::Errno;
use crate::backend::Backend;
#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::poll::Epoll;
use crate::poll::{Interest, Ready};
use crate::pollset::PollSet;

/// A readiness set; see the [module docs](self).
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadySet {
    /// Linux's epoll.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Epoll(Epoll),
    /// macOS's and the BSDs' kqueue.
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    Kqueue(crate::kqueue::Kqueue),
    /// `poll(2)`.
    Poll(PollSet),
}

/// `$body` on the set whatever its mechanism (`$s` bound to it): the one
/// place that lists the mechanisms each system has.
macro_rules! each_set {
    ($set:expr, $s:ident => $body:expr) => {
        match $set {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ReadySet::Epoll($s) => $body,
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            ReadySet::Kqueue($s) => $body,
            ReadySet::Poll($s) => $body,
        }
    };
}

impl ReadySet {
    /// A new, empty set of the process's backend ([`crate::backend()`]).
    ///
    /// # Errors
    /// Out of fds (epoll, kqueue).
    pub fn new() -> Result<Self, Errno> {
        match crate::backend::backend() {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Linux => Ok(ReadySet::Epoll(Epoll::new()?)),
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            Backend::Kqueue => Ok(ReadySet::Kqueue(crate::kqueue::Kqueue::new()?)),
            _ => Ok(ReadySet::Poll(PollSet::new())),
        }
    }

    /// Which mechanism this set is: `"epoll"`, `"kqueue"` or `"poll"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ReadySet::Epoll(_) => "epoll",
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            ReadySet::Kqueue(_) => "kqueue",
            ReadySet::Poll(_) => "poll",
        }
    }

    /// Watches `fd` under `token`. Delete it before closing it.
    ///
    /// # Errors
    /// The kernel refused, or it is watched already.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> Result<(), Errno> {
        each_set!(self, s => s.add(fd, token, interest))
    }

    /// Watches the exit of our child `pid` under `token` where the set can
    /// (kqueue's `EVFILT_PROC`), reported readable once.
    ///
    /// # Errors
    /// `ESRCH`: it exited already (look at it now); `ENOSYS`: this set
    /// cannot (epoll, `poll(2)`).
    pub fn add_exit(&self, pid: crate::Pid, token: u64) -> Result<(), Errno> {
        match self {
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            ReadySet::Kqueue(s) => s.add_exit(pid, token),
            _ => {
                let _ = (pid, token);
                Err(Errno::NOSYS)
            }
        }
    }

    /// Stops watching the exit of `pid` (nothing where [`add_exit`](Self::add_exit)
    /// cannot watch one).
    pub fn delete_exit(&self, pid: crate::Pid) {
        match self {
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            ReadySet::Kqueue(s) => {
                let _ = s.delete_exit(pid);
            }
            _ => {
                let _ = pid;
            }
        }
    }

    /// Stops watching `fd`.
    ///
    /// # Errors
    /// It was not watched.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        each_set!(self, s => s.delete(fd))
    }

    /// Waits up to `timeout` for at most `max` ready fds, into `out`
    /// (cleared first); `EINTR` is `Ok` with `out` empty.
    ///
    /// # Errors
    /// The wait failed.
    pub fn wait(
        &self,
        out: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        each_set!(self, s => s.wait(out, max, timeout))
    }

    /// The set's own fd, readable while something in it is ready (epoll,
    /// kqueue), for a driver that waits elsewhere; `None` for a `poll(2)`
    /// set, which has none (such a driver looks on a tick).
    #[must_use]
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ReadySet::Epoll(s) => Some(s.as_fd()),
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            ReadySet::Kqueue(s) => Some(s.as_fd()),
            ReadySet::Poll(_) => None,
        }
    }
}
