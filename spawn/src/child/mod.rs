//! [`Child`]: a running child under the caller's control (Python's `Popen`),
//! and its pipe ends [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].
//!
//! - `pipes.rs`: the pipe ends, and the ones a `Child` still holds;
//! - `drive.rs`: the one engine its waits, `communicate` and `lines` drive
//!   (shared with [`PipelineChild`](crate::PipelineChild));
//! - `lines.rs`: [`Child::lines`];
//! - `solo.rs`: what a `Child` and an `AsyncChild` are made of, and their
//!   one constructor (their control surface is `handle::child_control`).

mod drive;
mod lines;
mod pipes;
mod solo;

use std::fmt;
use std::time::{Duration, Instant};

pub(crate) use drive::{Drove, Feed, HeldRun, Member};
#[cfg(feature = "tokio")]
pub(crate) use lines::{Lines, Ready};
pub(crate) use pipes::HeldPipes;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
pub(crate) use solo::Solo;

use crate::driver::Until;
use crate::{Command, Error, ExitStatus, Output};

/// A started child process, as returned by [`Command::spawn`].
///
/// Talk to it interactively through [`take_stdin`](Self::take_stdin),
/// [`take_stdout`](Self::take_stdout) and [`take_stderr`](Self::take_stderr)
/// (blocking `Write`/`Read`), all at once with
/// [`communicate`](Self::communicate), which feeds input and drains output
/// together so that neither side blocks, or line by line with
/// [`lines`](Self::lines).
///
/// A `Child` is `Send + Sync`: its waits and signals take `&self`, so one
/// thread may [`wait`](Self::wait) while another [`kill`](Self::kill)s
/// (a signal never waits for a wait), and every waiter gets the same
/// [`ExitStatus`]. For a thread that outlives the borrow, take a
/// [`handle`](Self::handle).
///
/// Waits, `communicate` and `lines` go through the same driver as
/// [`Command::run`]: a [`Command::timeout`] is enforced by them (the stop
/// signal to the child and its group, the grace, KILL, and
/// [`Error::Timeout`] with the output so far), a [`Command::cancel_on`]
/// token stops them ([`Error::Cancelled`]), and signals given to
/// [`Command::forward_signals`] are passed on while they run.
///
/// Dropping a `Child` never leaves a zombie: a child still running is reaped
/// in the background when it exits (and killed first, with its group when
/// it leads one, with [`Command::kill_on_drop`]). Signals go through a pidfd
/// where the kernel has them, so a signal never reaches another process that
/// reused the pid.
///
/// # Memory, and pipes the `Child` holds
/// A wait never deadlocks on a full pipe: the stdout and stderr pipes the
/// `Child` still holds (piped and not taken) are drained while it waits,
/// into the command's sinks ([`Stdio::piped`](crate::Stdio::piped)
/// collects them in memory), and a later `communicate` returns what was
/// read. A child that writes a lot costs that much memory. To avoid it,
/// take the pipe and read it yourself ([`take_stdout`](Self::take_stdout)),
/// or route the stream elsewhere when building the command
/// (`stdout(Sink::file(..))`, [`Sink::discard`](crate::Sink::discard),
/// [`Sink::head_tail`](crate::Sink::head_tail), [`Stdio::null`](crate::Stdio::null)).
///
/// # Warning
/// As with any pipes: writing a lot to a taken `stdin` while not reading
/// a taken `stdout` can deadlock when the child blocks on a full stdout
/// pipe; `communicate` avoids it.
pub struct Child {
    solo: Solo,
}

// The contract: a `Child` can be shared by threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Child>();
};

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("program", &self.solo.run.name)
            .field("pid", &self.pid())
            .field(
                "status",
                &self
                    .process()
                    .reaped()
                    .map(|r| ExitStatus::from_raw(r.wait_result().status)),
            )
            .finish_non_exhaustive()
    }
}

impl Child {
    pub(crate) fn spawn(cmd: &Command) -> Result<Child, Error> {
        let (mut solo, fds) = Solo::spawn(cmd)?;
        solo.run.hold(fds);
        Ok(Child { solo })
    }

    fn process(&self) -> &crate::process::Process {
        self.solo.process()
    }

    crate::handle::child_control!(solo.handle);

    /// Takes the write end of the child's stdin pipe (if stdin was piped and
    /// not taken yet, nor closed by a wait). Drop it to close the child's
    /// stdin.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.solo.run.state_mut().pipes[0].stdin.take()
    }

    /// Takes the read end of the child's stdout pipe (if it was piped and
    /// not taken yet, nor handed to a wait, `communicate` or `lines`,
    /// which drain it into the `Child`).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.solo.run.state_mut().pipes[0].stdout.take()
    }

    /// Takes the read end of the child's stderr pipe; see
    /// [`take_stdout`](Self::take_stdout).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.solo.run.state_mut().pipes[0].stderr.take()
    }

    /// The child's stdin pipe, left in place.
    pub fn stdin_mut(&mut self) -> Option<&mut ChildStdin> {
        self.solo.run.state_mut().pipes[0].stdin.as_mut()
    }

    /// The child's stdout pipe, left in place.
    ///
    /// # Warning
    /// Bytes a reader of yours buffered (a `BufReader` over this) are not
    /// seen by a later `communicate`; [`lines`](Self::lines) keeps that
    /// promise instead.
    pub fn stdout_mut(&mut self) -> Option<&mut ChildStdout> {
        self.solo.run.state_mut().pipes[0].stdout.as_mut()
    }

    /// The child's stderr pipe, left in place; see
    /// [`stdout_mut`](Self::stdout_mut).
    pub fn stderr_mut(&mut self) -> Option<&mut ChildStderr> {
        self.solo.run.state_mut().pipes[0].stderr.as_mut()
    }

    /// Feeds `input` to stdin (then closes it), drains stdout and stderr
    /// (those not taken) into their routes, and waits for the child:
    /// Python's `Popen.communicate`. Stdout and stderr go where the command
    /// routed them (a [`Sink`](crate::Sink)), else they are collected. What
    /// a wait or [`lines`](Self::lines) read before and did not hand out
    /// is returned too.
    ///
    /// When the command has [`input`](Command::input) and `input` is empty,
    /// the command's input is fed. Input given after the child's stdin was
    /// closed by [`wait`](Self::wait), or after the child exited, has
    /// nowhere to go: it is dropped, as Python does (the report says
    /// `input_broken`).
    ///
    /// # Errors
    /// `input` given but stdin never piped or taken, or given after a
    /// `communicate_timeout` fed stdin already ([`Error::InvalidInput`], as
    /// Python's "cannot send input after starting communication"; after
    /// [`lines`](Self::lines) or [`wait_timeout`](Self::wait_timeout),
    /// which leave stdin unwritten, the input is delivered); the command's
    /// [`timeout`](Command::timeout) passed ([`Error::Timeout`], the child
    /// and its group stopped); its [`cancel_on`](Command::cancel_on) token
    /// was cancelled ([`Error::Cancelled`]); an I/O or sink error.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// let mut child = Command::new("tr").args(["a-z", "A-Z"])
    ///     .stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let out = child.communicate(b"hello")?;
    /// assert_eq!(out.stdout, b"HELLO");
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn communicate(&mut self, input: &[u8]) -> Result<Output, Error> {
        self.communicate_until(input, None)
    }

    /// As [`communicate`](Self::communicate), but returns
    /// [`Error::Timeout`] after `timeout` with everything read so far, and
    /// leaves the child running (as Python does). A later call, with empty
    /// input, carries on where this one stopped: the rest of the first
    /// input is still delivered, then stdin is closed, and the call that
    /// completes returns all output since the first call, each byte once.
    /// A zero `timeout` reads and writes what is ready now, once.
    ///
    /// # Errors
    /// As [`communicate`](Self::communicate), plus [`Error::Timeout`].
    pub fn communicate_timeout(
        &mut self,
        input: &[u8],
        timeout: Duration,
    ) -> Result<Output, Error> {
        // A deadline past what `Instant` can hold is no deadline.
        self.communicate_until(input, Instant::now().checked_add(timeout))
    }

    fn communicate_until(&mut self, input: &[u8], stop: Option<Instant>) -> Result<Output, Error> {
        let st = self.solo.run.state_mut();
        if st.engine.is_none()
            && let Some(result) = st.finished.take()
        {
            return result;
        }
        match self
            .solo
            .run
            .drive(Feed::Input(input), stop, Until::AllDone, false, true)?
        {
            Drove::Done(Some(mut stages)) => {
                let s = stages.swap_remove(0);
                s.error.map_or(Ok(s.output), Err)
            }
            _ => {
                let Some(engine) = self.solo.run.state_mut().engine.as_ref() else {
                    unreachable!("an unfinished drive keeps its engine")
                };
                let partial = crate::finish::partial(engine, 0);
                Err(crate::finish::timed_out_running(
                    self.solo.run.name.clone(),
                    partial,
                ))
            }
        }
    }

    /// The status of the reaped child, the same for every caller.
    fn status(&self) -> Result<ExitStatus, Error> {
        match self.process().reaped() {
            Some(r) => crate::handle::status_of(&self.solo.run.name, self.process(), r),
            None => self.solo.handle.wait(),
        }
    }

    /// Drives the child (its held pipes drained, the command's timeout and
    /// token applied) until it is finished or `stop` passes.
    fn wait_until(
        &self,
        feed: Feed<'_>,
        stop: Option<Instant>,
    ) -> Result<Option<ExitStatus>, Error> {
        match self
            .solo
            .run
            .drive(feed, stop, Until::AllDone, true, true)?
        {
            Drove::Reaped | Drove::Done(None) => self.status().map(Some),
            Drove::Done(Some(mut stages)) => {
                let s = stages.swap_remove(0);
                match s.error {
                    Some(e) => Err(e),
                    None => {
                        self.solo.run.keep(Ok(s.output));
                        self.status().map(Some)
                    }
                }
            }
            Drove::Reached | Drove::Stopped => Ok(None),
        }
    }

    /// Waits for the child to exit and returns its status; from any thread,
    /// every waiter gets the same one. Closes stdin first (if not taken;
    /// after feeding the command's [`input`](Command::input)), so that a
    /// child reading to EOF can finish.
    ///
    /// The stdout and stderr pipes the `Child` still holds are drained
    /// meanwhile (so a child writing more than a pipe holds cannot block
    /// the wait); what was read is returned by the next
    /// [`communicate`](Self::communicate). That costs memory for a child
    /// that writes a lot: see [the type docs](Self#memory-and-pipes-the-child-holds).
    ///
    /// # Errors
    /// The command's [`timeout`](Command::timeout) passed
    /// ([`Error::Timeout`]: the child and its group were stopped); its
    /// token was cancelled ([`Error::Cancelled`]); [`Error::StatusLost`]
    /// when someone else reaped the child.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// // More than a pipe holds, and nobody reads it: the wait drains it.
    /// let mut child = Command::new("seq").arg("100000").stdout(Stdio::piped()).spawn()?;
    /// assert!(child.wait()?.success());
    /// assert_eq!(child.communicate(b"")?.stdout.len(), 588895);
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn wait(&self) -> Result<ExitStatus, Error> {
        match self.wait_until(Feed::Input(&[]), None)? {
            Some(s) => Ok(s),
            None => self.status(),
        }
    }

    /// Waits at most `timeout` for the child to exit; `Ok(None)` if it still
    /// runs. Like [`wait`](Self::wait) it drains the pipes the `Child`
    /// holds, but it leaves the stdin open (unless the command has its own
    /// [`input`](Command::input), which is fed, then closed). Uses the
    /// pidfd where there is one (no polling), else polls with a
    /// backing-off interval.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        // Longer than `Instant` can count: wait without a deadline.
        self.wait_until(Feed::LeaveOpen, Instant::now().checked_add(timeout))
    }
}
