//! Start child processes and talk to them: Python's `subprocess`, done right.
//!
//! `spawn` keeps what people like about Python's module (`run`, `check`,
//! `check_output`, `Popen`/`communicate`, `PIPE`/`STDOUT`/`DEVNULL`, pipelines,
//! signals, process groups) and fixes the two faults `communicate()` is known
//! for:
//!
//! 1. **Output goes where you say, with bounded memory.** Collect it, keep the
//!    first `n` bytes, the head and tail, stream it line by line, write it to a
//!    file or a writer, or discard it ([`Sink`]).
//! 2. **One thread drives any number of children at once** ([`Group`]),
//!    feeding each one's stdin while draining its stdout and stderr, without
//!    deadlock and without one child's endless output starving the others.
//!
//! # A tour
//!
//! ```
//! use spawn::{Command, Group, Sink, Stdio};
//! use std::time::Duration;
//!
//! // subprocess.run(["ls", "-l"])  — output inherited, exit code not an error
//! let out = Command::new("ls").arg("-l").stdout(Stdio::null()).run()?;
//! assert!(out.status.success());
//!
//! // subprocess.check_output(["echo", "hi"], text=True)
//! assert_eq!(Command::new("echo").arg("hi").check_output_string()?, "hi\n");
//!
//! // subprocess.run("exit 3", shell=True).returncode — a shell only when asked
//! assert_eq!(Command::shell("exit 3").run()?.status.code(), Some(3));
//!
//! // Input fed while output is drained, a timeout, bounded output.
//! let out = Command::new("sort")
//!     .input("b\na\n")
//!     .timeout(Duration::from_secs(10))
//!     .stdout(Sink::head_tail(64 << 10, 64 << 10))
//!     .run()?;
//! assert_eq!(out.stdout, b"a\nb\n");
//!
//! // Many children at once, one thread, results in order.
//! let results = Group::new()
//!     .max_running(8)
//!     .add_all((0..20).map(|i| Command::new("echo").arg(i.to_string()).stdout(Stdio::piped())))
//!     .run()?;
//! assert_eq!(results[19].as_ref().unwrap().stdout, b"19\n");
//!
//! // cat | grep | cut, connected child to child.
//! let out = (Command::new("printf").arg("a:1\nb:2\n")
//!     | Command::new("grep").arg("b")
//!     | Command::new("cut").args(["-d:", "-f2"]))
//!     .stdout(Stdio::piped())
//!     .run()?;
//! assert_eq!(out.stdout, b"2\n");
//! # Ok::<(), spawn::Error>(())
//! ```
//!
//! # Coming from Python
//!
//! | Python `subprocess`                          | spawn                                                        |
//! |----------------------------------------------|--------------------------------------------------------------|
//! | `run(args)`                                  | [`Command::run`] (a non-zero exit is not an error)           |
//! | `run(args, check=True)`, `check_call`        | [`Command::check`]                                           |
//! | `check_output(args)` / `text=True`           | [`Command::check_output`] / [`Command::check_output_string`] |
//! | `run(cmd, shell=True)`                       | [`Command::shell`] (never implicit)                          |
//! | `stdout=PIPE`, `capture_output=True`         | [`Stdio::piped`] (or any [`Sink`]), [`Command::capture_output`] |
//! | `stderr=STDOUT`                              | [`Stdio::merge`] (and [`Log`] keeps which stream said what)  |
//! | `stdout=DEVNULL`                             | [`Stdio::null`]                                              |
//! | `input=b"…"`                                 | [`Command::input`]                                           |
//! | `timeout=5` → `TimeoutExpired`               | [`Command::timeout`] → [`Error::Timeout`] with `partial` output |
//! | `CalledProcessError`                         | [`Error::Failed`] (its message ends with stderr's last lines) |
//! | `FileNotFoundError`, `PermissionError`       | [`Error::NotFound`] (names the `PATH` searched), [`Error::PermissionDenied`] |
//! | `Popen(args)`                                | [`Command::spawn`] → [`Child`]                               |
//! | `p.communicate(input, timeout)`              | [`Child::communicate`], [`Child::communicate_timeout`] (resumable) |
//! | `p.stdin`, `p.stdout`, `p.stderr`            | [`Child::take_stdin`], [`Child::take_stdout`], [`Child::take_stderr`] |
//! | `p.wait()`, `p.poll()`, `p.wait(timeout)`    | [`Child::wait`], [`Child::try_wait`], [`Child::wait_timeout`] |
//! | `p.wait()` in one thread, `p.kill()` in another | the same calls on `&Child` from any thread (`Child: Send + Sync`), or a [`ChildHandle`] ([`Child::handle`]) that outlives it |
//! | `for line in p.stdout` (and stderr)          | [`Child::lines`]: both streams, tagged, no deadlock; `communicate` gets the rest |
//! | `p.wait()` with `stdout=PIPE` unread (deadlocks) | [`Child::wait`] drains the pipes it holds; `communicate` returns what it read |
//! | `p.send_signal`, `p.terminate`, `p.kill`     | [`Child::send_signal`], [`Child::terminate`], [`Child::kill`] |
//! | `start_new_session=True`, `process_group=0`  | [`Command::new_session`], [`Command::process_group`]         |
//! | `os.killpg(os.getpgid(p.pid), sig)`          | [`Child::kill_group`], [`Child::signal_group`]               |
//! | `pass_fds=(3,)`                              | [`Command::pass_fd`] (any fd to any number ≥ 3)              |
//! | `preexec_fn=lambda: prctl(PR_SET_PDEATHSIG)` | [`Command::parent_death_signal`]                             |
//! | `umask=`, `user=`, `group=`, `extra_groups=` | [`Command::umask`], [`Command::uid`], [`Command::gid`], [`Command::groups`] |
//! | `p1.stdout` → `Popen(…, stdin=p1.stdout)`     | `Command \| Command` → [`Pipeline`]                          |
//! | `p2 = Popen(…, stdin=p1.stdout)`, still running | [`Pipeline::spawn`] → [`PipelineChild`] (pids, pipe ends, per-stage `wait`, `kill`) |
//! | a loop of `communicate()` calls              | [`Group`]: all at once, on one thread                        |
//! | `as_completed(pool.submit(run, …) for …)`    | [`Group::results`]: in completion order, one thread          |
//! | `p.kill()` from a cancel button's thread     | [`CancelToken`] with [`Command::cancel_on`] → [`Error::Cancelled`] with `partial` output |
//!
//! The rows above at work: every example of [PyMOTW's subprocess
//! chapter](https://pymotw.com/3/subprocess/) has a port in
//! `spawn/examples/` of the source tree (`cargo run -p spawn --example
//! popen3`, …), the Python beside it.
//!
//! Where spawn differs on purpose: a timeout stops the child's whole process
//! group, TERM first and KILL after a grace (Python kills only the child,
//! with KILL); after the child exits, its pipes are read for at most
//! [`Command::eof_grace`] (Python waits forever for a grandchild that holds
//! them); output goes to a [`Sink`] of your choice instead of always into
//! memory; fds other than 0, 1, 2 never reach the child (Python's
//! `close_fds=True`, without a way to turn it off); a signal is never sent to
//! a reaped child's pid.
//!
//! # Recipes
//!
//! ## Stream lines while it runs
//!
//! [`Child::lines`] yields every line of the child's stdout and stderr as it
//! arrives, tagged with its stream. Both pipes are drained together, so a
//! child that fills one while you wait for the other cannot block; stop
//! early and [`Child::communicate`] returns the rest, each byte once.
//!
//! ```
//! use spawn::{Command, StreamName};
//! // A build that reports progress on stdout and warnings on stderr.
//! let mut child = Command::shell("for i in 1 2 3; do echo step $i; echo warn $i >&2; done; echo done")
//!     .capture_output()
//!     .spawn()?;
//! let mut warnings = 0;
//! for line in child.lines() {
//!     let line = line?;
//!     match line.stream {
//!         StreamName::Stderr => warnings += 1,
//!         _ if line.data == b"step 2" => break, // enough: the rest stays in the child
//!         _ => {}
//!     }
//! }
//! let rest = child.communicate(b"")?;
//! assert!(rest.stdout.ends_with(b"step 3\ndone\n"));
//! let total = warnings + rest.stderr.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
//! assert_eq!(total, 3);
//! # Ok::<(), spawn::Error>(())
//! ```
//!
//! ## Kill from another thread
//!
//! A [`Child`]'s waits and signals take `&self`: one thread can wait while
//! another kills, and both see the same status. (A [`ChildHandle`] does the
//! same for a thread that outlives the borrow, e.g. a watchdog.)
//!
//! ```
//! use spawn::{Command, Signal};
//! let child = Command::new("sleep").arg("30").spawn()?;
//! let status = std::thread::scope(|s| {
//!     let waiter = s.spawn(|| child.wait());
//!     child.kill()?; // never waits for the waiter
//!     waiter.join().unwrap()
//! })?;
//! assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
//! assert_eq!(child.wait()?, status); // every waiter, the same status
//! # Ok::<(), spawn::Error>(())
//! ```
//!
//! ## Results as they finish
//!
//! [`Group::results`] hands out each result as its child finishes, with the
//! index of its command; the children are driven while you pull. Breaking
//! out of the loop stops the others (GNU parallel's `--halt now,fail=1`):
//! the stop signal to each, the grace, KILL, reaped in the background.
//!
//! ```
//! use spawn::{Command, Group, Stdio};
//! let jobs = ["true", "exit 3", "sleep 30"].map(|s| Command::new("sh").args(["-c", s]).stdout(Stdio::piped()));
//! let mut first_failure = None;
//! for (index, result) in Group::new().add_all(jobs).results() {
//!     if !result?.status.success() {
//!         first_failure = Some(index);
//!         break; // the `sleep 30` is stopped here
//!     }
//! }
//! assert_eq!(first_failure, Some(1));
//! # Ok::<(), spawn::Error>(())
//! ```
//!
//! Commands can come from an iterator that is read only as children start
//! ([`Group::add_iter`]): a million lines of input start running before the
//! last is read.
//!
//! ## Cancel a run
//!
//! A [`CancelToken`] given to a [`Command`], [`Group`] or [`Pipeline`] with
//! `cancel_on` stops it from any thread, as a timeout would, and the run
//! returns [`Error::Cancelled`] with the output read so far; in a group,
//! the finished children keep their results.
//!
//! ```
//! use spawn::{CancelToken, Command, Error, Sink};
//! let token = CancelToken::new();
//! let on_line = token.clone();
//! // Stop as soon as the child says it is ready (here from the driving
//! // thread; `cancel` works from any thread).
//! let err = Command::new("sh").args(["-c", "echo ready; exec sleep 30"])
//!     .stdout(Sink::lines(move |line| if line == b"ready" { on_line.cancel() }))
//!     .cancel_on(&token)
//!     .run()
//!     .unwrap_err();
//! assert!(matches!(err, Error::Cancelled { .. }));
//! ```
//!
//! # Where things are
//!
//! - [`Command`]: the builder, and `run`/`check`/`check_output`/`spawn`.
//! - [`Stdio`], [`Route`], [`Sink`], [`Log`]: where streams go.
//! - [`Child`]: a running child (`Popen`): interactive pipes,
//!   `communicate`, `lines`, waits and signals from any thread.
//!   [`PipelineChild`]: a running pipeline.
//! - [`Group`]: many children on one thread, [`GroupResults`] as they
//!   finish. [`Pipeline`]: `a | b | c`.
//! - [`CancelToken`]: stop a run from anywhere; [`ChildHandle`]: a child's
//!   waits and signals from any thread.
//! - [`Output`], [`ExitStatus`], [`Report`], [`PipelineOutput`]: results,
//!   all `serde::Serialize`.
//! - [`Error`]: one error type; every message names the program and the cause.
#![cfg_attr(
    feature = "tokio",
    doc = "- [`async_driver`]: **Async** (feature `tokio`): the same runs as futures, `AsyncChild`, and a `tokio::process` → spawn table."
)]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "- **Async** on tokio: cargo feature `tokio` (`spawn = { version = \"…\", features = [\"tokio\"] }`), not built into these docs; build them with `cargo doc -p spawn --features tokio` to see `async_driver`, `run_async`, `AsyncChild`."
)]
//!
//! The layers below are `spawn-core` (the I/O-free state machine that decides
//! what to read, write, close and signal) and `spawn-sys` (the syscalls).

// docs.rs builds with every feature and `--cfg docsrs`: the async API is
// labelled with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod async_driver;
mod cancel;
mod child;
mod command;
mod descendants;
mod doorbell;
mod driver;
mod error;
mod finish;
mod forward;
mod group;
mod handle;
mod launch;
mod line_cut;
mod output;
mod pipeline;
mod pipeline_child;
mod pipes;
mod platform;
mod process;
mod pty;
mod reaper;
mod run_lines;
mod run_one;
mod run_settings;
mod signal;
mod sink;
mod startup;
mod stdio;
mod stop_sequence;
pub mod trace;
mod wiring;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use async_driver::{
    AsyncChild, AsyncChildStderr, AsyncChildStdin, AsyncChildStdout, AsyncGroupResults, AsyncLines,
};
pub use cancel::CancelToken;
pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};
pub use command::{Command, DEFAULT_EOF_GRACE, DEFAULT_KILL_GRACE};
pub use error::{Error, StreamName};
pub use forward::Forwarder;
pub use group::{CommandFeed, Group, GroupResults, Progress};
pub use handle::ChildHandle;
pub use output::{ExitStatus, Output, PipelineOutput, ProcessState, Report};
pub use pipeline::Pipeline;
pub use pipeline_child::PipelineChild;
pub use pty::{Pty, PtyControl};
pub use signal::{Signal, UnknownSignal};
pub use sink::{Chunk, Log, MAX_LINE, Sink};
pub use startup::{Containment, SpawnPath};
pub use stdio::{Route, Stdio};
pub use stop_sequence::{BadStopSequence, MAX_STOP_SEQUENCE, StopSequence, StopStep};

/// Diagnostics for tests and soak runs.
pub mod diag {
    /// How many dropped [`Child`](crate::Child)ren the background reaper still
    /// waits for.
    #[must_use]
    pub fn reaper_pending() -> usize {
        crate::reaper::pending_count()
    }

    /// How many dropped runs (a `Group::results` iterator, an async future)
    /// the background reaper still drives through their teardown.
    #[must_use]
    pub fn reaper_engines() -> usize {
        crate::reaper::engine_count()
    }
}
