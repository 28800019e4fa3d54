//! # Async: spawn on tokio (cargo feature `tokio`)
//!
//! The same runs as the blocking API, through the same engine, as futures:
//! [`Command::run_async`](crate::Command::run_async),
//! [`check_async`](crate::Command::check_async),
//! [`check_output_async`](crate::Command::check_output_async),
//! [`check_output_string_async`](crate::Command::check_output_string_async),
//! [`Pipeline::run_async`](crate::Pipeline::run_async),
//! [`Group::run_async`](crate::Group::run_async),
//! [`Group::results_async`](crate::Group::results_async) (in completion
//! order, [`AsyncGroupResults::next`]`.await`), and
//! [`Command::spawn_async`](crate::Command::spawn_async) →
//! [`AsyncChild`]. Sinks and their memory bounds, input fed while output
//! drains, timeouts with the group teardown and partial output, the EOF
//! grace, the errors and the report are exactly the blocking driver's: the
//! async driver only waits differently (the engine's epoll set in tokio's
//! reactor, its deadlines on tokio's timer), so no runtime thread blocks on
//! a child.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), spawn::Error> {
//! use spawn::{Command, Error, Sink, Stdio};
//! use std::time::Duration;
//!
//! // tokio::process::Command::new("sort").output().await, with input fed.
//! let out = Command::new("sort").input("b\na\n").stdout(Stdio::piped()).run_async().await?;
//! assert_eq!(out.stdout, b"a\nb\n");
//!
//! // A timeout that stops the whole group and keeps what was read.
//! let err = Command::shell("echo partial; sleep 30 & wait")
//!     .stdout(Sink::head_tail(1 << 16, 1 << 16))
//!     .timeout(Duration::from_millis(200))
//!     .run_async()
//!     .await
//!     .unwrap_err();
//! let Error::Timeout { partial, .. } = err else { panic!() };
//! assert_eq!(partial.stdout, b"partial\n");
//! # Ok(())
//! # }
//! ```
//!
//! ## Coming from `tokio::process`
//!
//! | `tokio::process`                                   | spawn                                                                 |
//! |----------------------------------------------------|-----------------------------------------------------------------------|
//! | `cmd.output().await`                               | `cmd.capture_output().run_async().await` ([`Command::run_async`](crate::Command::run_async)) |
//! | `cmd.status().await`                               | `cmd.run_async().await?.status`                                       |
//! | checking `output.status.success()` by hand          | [`Command::check_async`](crate::Command::check_async), [`check_output_string_async`](crate::Command::check_output_string_async) |
//! | `cmd.spawn()` → `Child`                            | [`Command::spawn_async`](crate::Command::spawn_async) → [`AsyncChild`] |
//! | `child.stdin.take()`, `stdout`, `stderr`           | [`AsyncChild::take_stdin`], [`take_stdout`](AsyncChild::take_stdout), [`take_stderr`](AsyncChild::take_stderr) |
//! | `child.wait().await` (`&mut self`)                  | [`AsyncChild::wait`] (`&self`: one task waits while another kills)    |
//! | `child.wait_with_output().await` (consumes it)     | [`AsyncChild::communicate`] (`&mut self`, input too, cancel-safe)     |
//! | `child.try_wait()`                                 | [`AsyncChild::try_wait`]                                              |
//! | `child.start_kill()`, `child.kill().await`         | [`AsyncChild::kill`] (then [`wait`](AsyncChild::wait)), [`kill_group`](AsyncChild::kill_group) |
//! | `child.id()` (`None` once reaped)                   | [`AsyncChild::pid`] (signals after the reap reach nobody)             |
//! | `timeout(d, cmd.output())` (the child keeps running) | [`Command::timeout`](crate::Command::timeout): TERM, grace, KILL to the group, [`Error::Timeout`](crate::Error::Timeout) with the output so far |
//! | `cmd.kill_on_drop(true)`                           | not needed for runs (a dropped run future stops its child); [`Command::kill_on_drop`](crate::Command::kill_on_drop) for an [`AsyncChild`] |
//! | a `JoinSet` of `output()` futures                  | [`Group::run_async`](crate::Group::run_async), [`Group::results_async`](crate::Group::results_async): one engine, [`max_running`](crate::Group::max_running) |
//! | `Stdio::try_from(child_stdout)` between two children | `a \| b` → [`Pipeline::run_async`](crate::Pipeline::run_async)       |
//!
//! ## Where the async API differs on purpose
//!
//! - **Dropping a future stops its children.** A run future dropped before
//!   it completes (`tokio::time::timeout`, `select!`, an aborted task, the
//!   runtime shutting down) ends its children with the normal teardown:
//!   the [`stop_signal`](crate::Command::stop_signal) to each child and its
//!   group, the [`kill_grace`](crate::Command::kill_grace), KILL, reaped.
//!   spawn's own background reaper thread carries that out, not a task, so
//!   it finishes also when the runtime is gone. (`tokio::process` leaves
//!   the child running unless `kill_on_drop`, and then KILLs only the
//!   child, not what it started.) An [`AsyncChild`]'s `wait` and
//!   `communicate` futures are not runs: dropping them leaves the child
//!   running, and a dropped `communicate` is resumed by the next call
//!   with nothing lost.
//! - **The futures own what they run.** `run_async` and friends clone the
//!   command (or pipeline, or group) and return a `Send + 'static` future,
//!   ready for `tokio::spawn`; nothing starts until it is first polled.
//! - **Waits and signals take `&self`.** `AsyncChild` is `Send + Sync`;
//!   [`wait`](AsyncChild::wait) applies the command's timeout and its group
//!   teardown, as the blocking [`Child::wait`](crate::Child::wait) does.
//!   [`kill`](AsyncChild::kill) sends the signal and returns; wait for the
//!   exit with `wait`.
//! - **Needs a runtime with I/O and time enabled** (`enable_io()` and
//!   `enable_time()`, or `enable_all()`). Outside a runtime, or on one
//!   without either driver, every entry point returns
//!   [`Error::NoRuntime`](crate::Error::NoRuntime) before anything starts
//!   (tokio would panic instead: it cannot be asked whether a driver is
//!   there, so the first run on a thread tries them and catches that
//!   panic, which the panic hook still prints).
//!
//! ## What still runs on the calling thread
//!
//! Starting a child is one short system call on the thread that polls the
//! future, as with `tokio::process` (which also waits there for the
//! `exec`). Opening a [`Sink::file`](crate::Sink::file) opens a file there
//! (a FIFO is opened without blocking). Sinks that call your code do not
//! run there: [`Sink::lines`](crate::Sink::lines) callbacks and a
//! [`Sink::writer`](crate::Sink::writer)'s `write` run on the run's sink
//! workers, so a slow writer pauses its own stream and never blocks the
//! runtime thread.

mod child;
mod drive;
mod group;
mod lines;
mod pipe;
mod run;
mod runtime;

pub use child::AsyncChild;
pub use group::AsyncGroupResults;
pub use lines::AsyncLines;
pub use pipe::{AsyncChildStderr, AsyncChildStdin, AsyncChildStdout};
