//! Where an exit is learnt from, for a pid: the crate's only calls of
//! `pidfd_open`, `waitid` and `wait4` (spawn-sys wraps them). The loop's
//! [`ExitWatch`](super::ExitWatch) decides which way a child is watched;
//! [`Process`](crate::process::Process) (whose waits every `Child`,
//! handle and the reaper share), `launch.rs` (the pidfd of a start that did
//! not get one from `clone3`) and `descendants.rs` (the pidfds a stop
//! reaches a tree through) call these.
//!
//! This is the seam where another system's exit source goes (kqueue's
//! `EVFILT_PROC`, a `SIGCHLD` self-pipe): these functions, `#[cfg]`'d.

use std::os::fd::OwnedFd;

use spawn_sys::Pid;
use spawn_sys::wait::WaitResult;

/// A pidfd for `pid`, where pidfds are supported (`None` otherwise, or
/// when the kernel refused).
pub(crate) fn open_pidfd(pid: Pid) -> Option<OwnedFd> {
    spawn_sys::pidfd::pidfd_supported()
        .then(|| spawn_sys::pidfd::pidfd_open(pid).ok())
        .flatten()
}

/// A pidfd for our child `pid`, opened after it started (the pid is ours
/// while we have not reaped it, unless `SIGCHLD` is ignored and the kernel
/// reaped it): checked to name a child of ours before it is handed out
/// (`waitid` on the pid says `ECHILD` for any other).
pub(crate) fn open_checked_pidfd(pid: Pid) -> Option<OwnedFd> {
    let fd = open_pidfd(pid)?;
    peek(pid).ok().map(|_| fd)
}

/// The raw wait status if `pid` has exited, without reaping it (`waitid`
/// with `WNOWAIT`: its zombie keeps pinning its pid and group id).
///
/// # Errors
/// `ECHILD`: it is not our child (reaped elsewhere).
pub(crate) fn peek(pid: Pid) -> rustix::io::Result<Option<i32>> {
    spawn_sys::wait::wait_pid_nowait(pid)
}

/// Blocks until `pid` has exited, without reaping it (other threads may
/// wait for it too and share the status).
///
/// # Errors
/// As [`peek`].
pub(crate) fn wait_exited(pid: Pid) -> rustix::io::Result<()> {
    spawn_sys::wait::wait_exited_nowait(pid)
}

/// Reaps `pid` (`wait4`), blocking until it exits unless `nohang`.
///
/// # Errors
/// `ECHILD` when it is not our child; `EINTR`.
pub(crate) fn reap(pid: Pid, nohang: bool) -> rustix::io::Result<Option<WaitResult>> {
    spawn_sys::wait::wait_pid(pid, nohang)
}
