//! The syscall layer of spawn: safe, io-safe wrappers over `clone3` (the
//! default start on x86-64 Linux), `posix_spawn`, pipes, waiting, pidfds, signals, epoll and cgroup v2. The only
//! crate of the workspace with `unsafe`; every block says why it is sound.
//!
//! A wrapper of one syscall that can fail returns [`rustix::io::Result`]
//! (an [`Errno`]); one that reads files or takes several steps ([`fd`],
//! [`cgroup`], `async_fd`) returns [`std::io::Result`]; a call that needs
//! more context says more ([`SpawnError`]: which step failed;
//! [`LookupError`]: what was searched). Probes whose failure is an answer
//! return a plain value ([`pidfd_supported`], [`procfs::stat_of`],
//! [`probe_group`], [`tree::still_alive`]).
//!
//! | module        | owns                                                              |
//! |---------------|-------------------------------------------------------------------|
//! | [`mod@spawn`] | `clone3`, `posix_spawn`, fd actions, fork+exec, `PATH` search     |
//! | [`mod@pipe`]  | `pipe2(O_CLOEXEC)`, nonblocking, pipe capacity                    |
//! | [`wait`]      | `wait4` for one pid, with rusage; `WNOWAIT` peek; status decoding |
//! | [`pidfd`]     | `pidfd_open`, `pidfd_send_signal`, support probing                |
//! | [`signal`]    | signals to a pid, a process group or a pidfd                      |
//! | [`group`]     | the caller's process group; whether a group has a live member     |
//! | [`procfs`]    | `/proc/<pid>/stat`: the process table, the controlling terminal   |
//! | [`tree`]      | a child's descendants by parent pid, pidfds checked by start time |
//! | [`poll`]      | epoll with `u64` tokens, `poll` over borrowed fds                 |
//! | [`pollset`]   | a readiness set over `poll(2)`, edges emulated                    |
//! | `kqueue`      | macOS and the BSDs: fds, exits and wake-ups in one kqueue         |
//! | [`ready_set`] | the backend's set: epoll, kqueue or `poll(2)`                     |
//! | [`mod@backend`] | Linux's own mechanisms or the portable ones (`SPAWN_BACKEND`)     |
//! | [`fd`]        | small fd utilities (`/dev/null`, dup, fd counts, `RLIMIT_NOFILE`) |
//! | [`mem`]       | `madvise` hints for output buffers (populate before a copy)       |
//! | [`cgroup`]    | the caller's cgroup v2, child cgroups, `cgroup.kill`, `populated` |
//! | [`pty`]       | pseudo-terminal pairs: open and set up, the slave's path, resize  |
//!
//! Every item is also at the crate root.
//!
//! # Invariants
//! - Every fd this crate opens is close-on-exec; a child gets only 0, 1, 2
//!   and the fds its [`FdAction`]s name, whatever else the parent holds.
//! - Nothing here waits for "any child": [`wait_pid`] takes one pid.
//! - Nothing panics on any input: bad bytes, fds, numbers are error values.
//!
//! # Example
//! ```
//! use spawn_sys::{CStringArray, SpawnOptions, env_array, find_program, spawn, wait_pid};
//!
//! let program = find_program(b"true", Some(b"/usr/bin:/bin"))?;
//! let mut argv = CStringArray::new();
//! argv.push(b"true")?;
//! let envp = env_array([(&b"LC_ALL"[..], &b"C"[..])])?;
//! let child = spawn(&SpawnOptions::new(program, argv, envp))?;
//! println!("started by {}", child.path); // clone3 on x86-64 Linux
//! let done = wait_pid(child.pid, false)?.expect("blocking wait");
//! assert_eq!(spawn_sys::exit_code(done.status), Some(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(not(unix))]
compile_error!(
    "spawn runs on Unix systems: Linux (glibc and musl), macOS and FreeBSD (see PLATFORMS.md); \
     Windows is not supported (ARCHITECTURE.md, *Windows*, says how it would plug in)"
);

/// Gives each item `#[cfg(unix)]`: elsewhere the crate is the one
/// `compile_error!` above, not a wall of errors from calls the system lacks.
macro_rules! unix_only {
    ($($item:item)*) => { $( #[cfg(unix)] $item )* };
}

unix_only! {
    pub use rustix::io::Errno;
    pub use rustix::process::Pid;

    #[cfg(feature = "tokio")]
    pub mod async_fd;
    pub mod backend;
    pub mod cgroup;
    pub mod fd;
    pub mod group;
    #[cfg(any(
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    pub mod kqueue;
    pub mod mem;
    pub mod pidfd;
    pub mod pipe;
    pub mod poll;
    pub mod pollset;
    pub mod procfs;
    pub mod pty;
    pub mod ready_set;
    pub mod signal;
    pub mod spawn;
    pub mod tree;
    pub mod wait;

    pub use backend::{Backend, backend};
    pub use cgroup::{Cgroup, own_cgroup, read_populated};
    pub use fd::{
        dev_null, dup_cloexec, dup_cloexec_from, is_cloexec, nofile_limit, open_fd_count, set_cloexec,
        set_nofile_limit,
    };
    pub use group::{GroupState, LiveGroups, own_process_group, probe_group};
    pub use mem::populate_write;
    pub use pidfd::{pidfd_open, pidfd_send_signal, pidfd_supported};
    pub use pipe::{
        max_pipe_size, pipe, pipe_size, set_new_pipe_nonblocking, set_nonblocking, set_pipe_size,
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub use poll::Epoll;
    pub use poll::{Interest, Ready};
    pub use pollset::PollSet;
    pub use procfs::has_controlling_terminal;
    pub use ready_set::ReadySet;
    pub use signal::{signal_group, signal_pidfd, signal_process};
    pub use spawn::{
        CStringArray, DEFAULT_PATH, EnvChanges, EnvError, Envp, FdAction, ForkOptions, InteriorNul,
        LookupError, PreExec, SpawnError, SpawnOptions, SpawnPath, SpawnStage, Spawned, env_array,
        find_program, find_program_in, spawn,
    };
    pub use tree::{Descendant, ProcTable};
    pub use wait::{
        Rusage, WaitResult, core_dumped, exit_code, term_signal, wait_pid, wait_pid_nowait,
    };
}
