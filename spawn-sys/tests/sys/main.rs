//! spawn-sys against real processes (`sh`, `cat`, `ls`, `python3`, `true`,
//! and this test binary re-run as a parent with other fds or environment):
//! `posix_spawn` and the fork fallback side by side, fd actions, cwd, groups
//! and sessions, signal state, `PATH` search, pipes, epoll and poll, `wait4`
//! and `waitid` peeks, probing a process group,
//! pidfds, signals, and no leaks over many spawns.
//!
//! No test sleeps to synchronise: each waits on its child's output or exit;
//! [`common::HANG`] only turns a hang into a failure.

#![allow(unsafe_code)]
//! # Safety
//! A few tests change process-wide signal state with `libc::signal` /
//! `pthread_sigmask` (ignoring `SIGHUP`, blocking a signal in their own
//! thread), and one pre-exec hook is only an async-signal-safe `chdir`.

mod cgroup;
mod common;
mod fds;
mod fork;
mod group;
mod io;
mod path;
mod process;
mod spawning;
