//! The syscall layer of spawn: safe, io-safe wrappers over `posix_spawn`,
//! pipes, waiting, pidfds, signals and epoll. The only crate of the workspace
//! with `unsafe`; every block says why it is sound.
//!
//! Errors are [`rustix::io::Result`] (an [`Errno`]) except where a call needs
//! more context ([`spawn::SpawnError`] says which step failed,
//! [`spawn::LookupError`] what was searched).
//!
//! | module     | owns                                                             |
//! |------------|------------------------------------------------------------------|
//! | [`spawn`]  | `posix_spawn`, fd actions, the fork+exec fallback, `PATH` search  |
//! | [`pipe`]   | `pipe2(O_CLOEXEC)`, nonblocking, pipe capacity                     |
//! | [`wait`]   | `wait4` for one pid, with rusage; wait status decoding            |
//! | [`pidfd`]  | `pidfd_open`, `pidfd_send_signal`, support probing                |
//! | [`signal`] | signals to a pid, a process group or a pidfd                      |
//! | [`poll`]   | epoll with `u64` tokens                                           |
//! | [`fd`]     | small fd utilities (`/dev/null`, dup, fd counts, `RLIMIT_NOFILE`) |

pub use rustix::io::Errno;
pub use rustix::process::Pid;

pub mod fd;
pub mod pidfd;
pub mod pipe;
pub mod poll;
pub mod signal;
pub mod spawn;
pub mod wait;
