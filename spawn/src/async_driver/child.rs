//! [`AsyncChild`]: a started child on tokio (`Command::spawn_async`), with
//! async pipe ends, `communicate`, and waits and signals on `&self`.
//!
//! It is a [`Child`](crate::Child) driven elsewhere: the same
//! driver (`child/drive.rs`: the child adopted into an
//! engine with what is left of its timeout, its graces, group teardown,
//! cancel token and forwarded signals; the same drop, which hands a child
//! with a timeout pending to the background reaper), and the same
//! [`ChildHandle`](crate::ChildHandle) for its pid, `try_wait` and signals. Only the waiting
//! differs: the engine is driven by the async driver, and the pipe ends
//! are registered with tokio's reactor until a `communicate` needs them.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, PoisonError};

use spawn_core::PerStream;
use tokio::io::Interest;

use super::drive::drive;
use super::lines::AsyncLines;
use super::pipe::{AsyncChildStderr, AsyncChildStdin, AsyncChildStdout, register};
use crate::child::{Feed, Lines, Solo};
use crate::{Command, Error, ExitStatus, Output};

/// A started child process on tokio, as returned by
/// [`Command::spawn_async`]: tokio's `Child`, with spawn's teardown.
///
/// Talk to it through [`take_stdin`](Self::take_stdin) (`AsyncWrite`),
/// [`take_stdout`](Self::take_stdout) and [`take_stderr`](Self::take_stderr)
/// (`AsyncRead`), or all at once with [`communicate`](Self::communicate).
/// [`wait`](Self::wait), [`try_wait`](Self::try_wait) and the signals take
/// `&self`, so one task can wait while another kills (`AsyncChild` is
/// `Send + Sync`; share it in an `Arc`, or give the other task a
/// [`handle`](Self::handle)).
///
/// Dropping it never leaves a zombie: a child still running is reaped in
/// the background once it exits (and killed first, with its group when it
/// leads one, with [`Command::kill_on_drop`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use spawn::{Command, Stdio};
/// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
///
/// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn_async()?;
/// let mut stdin = child.take_stdin().unwrap();
/// let mut lines = BufReader::new(child.take_stdout().unwrap()).lines();
/// stdin.write_all(b"ping\n").await?;
/// assert_eq!(lines.next_line().await?.as_deref(), Some("ping"));
/// drop(stdin);
/// assert!(child.wait().await?.success());
/// # Ok(())
/// # }
/// ```
pub struct AsyncChild {
    /// As a `Child`'s: its handle, run and drop.
    solo: Solo,
    /// In a mutex so that `wait(&self)` can close it.
    stdin: Mutex<Option<AsyncChildStdin>>,
    stdout: Option<AsyncChildStdout>,
    stderr: Option<AsyncChildStderr>,
}

impl fmt::Debug for AsyncChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChild")
            .field("program", &self.solo.run.name)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Command {
    /// [`spawn`](Self::spawn) on tokio: starts the child and returns at
    /// once; its pipe ends are `AsyncRead`/`AsyncWrite` and its waits are
    /// futures. Must be called inside a tokio runtime with I/O and time
    /// enabled.
    ///
    /// Starting a child is one short system call on the calling thread,
    /// as with `tokio::process` (which waits for the `exec` on it too).
    ///
    /// # Errors
    /// The child could not be started; [`Error::NoRuntime`] when no tokio
    /// runtime is current or it lacks its I/O driver or timer (checked
    /// before anything starts).
    pub fn spawn_async(&self) -> Result<AsyncChild, Error> {
        AsyncChild::spawn(self)
    }
}

impl AsyncChild {
    fn spawn(cmd: &Command) -> Result<AsyncChild, Error> {
        let name = cmd.name();
        // Before anything starts.
        super::runtime::check(&name)?;
        let (solo, fds) = Solo::spawn(cmd)?;
        let mut child = AsyncChild {
            solo,
            stdin: Mutex::new(None),
            stdout: None,
            stderr: None,
        };
        // From here a failure drops `child`, which reaps (or kills) it.
        let reg = |fd, interest| {
            register(fd, interest).map_err(|e| Error::io(&name, "cannot watch the child's pipe", e))
        };
        if let Some(fd) = fds.stdin {
            *child
                .stdin
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(AsyncChildStdin(reg(fd, Interest::WRITABLE)?));
        }
        if let Some(fd) = fds.stdout {
            child.stdout = Some(AsyncChildStdout(reg(fd, Interest::READABLE)?));
        }
        if let Some(fd) = fds.stderr {
            child.stderr = Some(AsyncChildStderr(reg(fd, Interest::READABLE)?));
        }
        Ok(child)
    }

    crate::handle::child_control!(solo.handle);

    /// Takes the write end of the child's stdin pipe (if piped and not
    /// taken yet). Drop it to close the child's stdin.
    pub fn take_stdin(&mut self) -> Option<AsyncChildStdin> {
        self.stdin
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Takes the read end of the child's stdout pipe.
    pub fn take_stdout(&mut self) -> Option<AsyncChildStdout> {
        self.stdout.take()
    }

    /// Takes the read end of the child's stderr pipe.
    pub fn take_stderr(&mut self) -> Option<AsyncChildStderr> {
        self.stderr.take()
    }

    /// [`Child::communicate`](crate::Child::communicate) on tokio: feeds
    /// `input` to stdin (then closes it), drains stdout and stderr (those
    /// not taken) into their routes, and waits for the child. The command's
    /// [`timeout`](Command::timeout) applies, with its group teardown.
    ///
    /// Cancel-safe: when the future is dropped before it completes (a
    /// `tokio::time::timeout`, a `select!`), nothing read is lost and the
    /// child keeps running; the next call, with empty input, carries on
    /// where the dropped one stopped (the rest of the first input is still
    /// delivered) and returns all the output since the first call.
    ///
    /// # Errors
    /// As [`Child::communicate`](crate::Child::communicate).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Stdio};
    /// let mut child = Command::new("tr").args(["a-z", "A-Z"])
    ///     .stdin(Stdio::piped()).stdout(Stdio::piped()).spawn_async()?;
    /// assert_eq!(child.communicate(b"hello").await?.stdout, b"HELLO");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn communicate(&mut self, input: &[u8]) -> Result<Output, Error> {
        self.give_pipes();
        let name = self.solo.run.name.clone();
        // Kept in the driver while it runs: a dropped call leaves it there,
        // and the next one carries on.
        let engine = self.solo.run.engine_mut(Feed::Input(input))?;
        drive(engine, &name).await?;
        match self.solo.run.finish_first() {
            Some(result) => result,
            None => unreachable!("driven above"),
        }
    }

    /// The pipe ends not taken leave the reactor for the engine's epoll set
    /// (once: an engine that drives holds them).
    fn give_pipes(&mut self) {
        if !self.solo.run.has_engine() {
            let fds = PerStream {
                stdin: self.take_stdin().map(OwnedFd::from),
                stdout: self.stdout.take().map(OwnedFd::from),
                stderr: self.stderr.take().map(OwnedFd::from),
            };
            self.solo.run.hold(fds);
        }
    }

    /// [`Child::lines`](crate::Child::lines) on tokio: every line of the
    /// child's piped stdout and stderr as it arrives, taken with
    /// [`AsyncLines::next`]`.await`; both pipes are drained together
    /// through the same driver as [`communicate`](Self::communicate) (the
    /// command's timeout applies). As `communicate(b"")` does, the
    /// command's own input is fed and the stdin not taken is closed.
    ///
    /// What was read and not yielded stays in the child: stop taking
    /// lines, and a later `communicate` returns the rest, each byte once.
    /// The lines end when both streams are at EOF; then
    /// [`wait`](Self::wait) gives the status. A pipe end taken with
    /// `take_stdout`/`take_stderr` yields no lines.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, StreamName};
    /// let mut child = Command::shell("echo one; echo two >&2; echo three")
    ///     .capture_output()
    ///     .spawn_async()?;
    /// let mut out = Vec::new();
    /// let mut lines = child.lines();
    /// while let Some(line) = lines.next().await {
    ///     let line = line?;
    ///     if line.stream == StreamName::Stdout {
    ///         out.push(String::from_utf8(line.data).unwrap());
    ///     }
    /// }
    /// assert_eq!(out, ["one", "three"]);
    /// drop(lines); // it borrows the child
    /// assert!(child.wait().await?.success());
    /// # Ok(())
    /// # }
    /// ```
    pub fn lines(&mut self) -> AsyncLines<'_> {
        self.give_pipes();
        AsyncLines::new(Lines::new(&mut self.solo.run, self.solo.started))
    }

    /// Waits for the child to exit and returns its status; closes stdin
    /// first (if not taken), so that a child reading to EOF can finish.
    /// The command's [`timeout`](Command::timeout) applies (the child and
    /// its group stopped, [`Error::Timeout`]). Any number of tasks may wait
    /// at once; each gets the same status. The exit is watched through the
    /// child's pidfd in the runtime's reactor; without pidfds
    /// (`SPAWN_NO_PIDFD=1`, old kernels) it is polled on tokio's timer.
    ///
    /// Dropping the future leaves the child running (as tokio's `wait`).
    /// Unlike [`Child::wait`](crate::Child::wait), it does not drain the
    /// pipes of a dropped [`communicate`](Self::communicate): resume that
    /// one instead.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::StatusLost`] when someone else reaped
    /// the child.
    pub async fn wait(&self) -> Result<ExitStatus, Error> {
        if let Some(status) = self.solo.handle.try_wait()? {
            return Ok(status);
        }
        drop(
            self.stdin
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let (mut engine, ix) = self.solo.run.exit_engine()?;
        drive(&mut engine, &self.solo.run.name).await?;
        crate::finish::result(&mut engine, ix).map(|out| out.status)
    }
}

impl Drop for AsyncChild {
    /// As a [`Child`](crate::Child)'s drop: our pipe ends close first, then
    /// the child is reaped in the background by the drop of its `Solo`
    /// (KILLed first with [`Command::kill_on_drop`]; with a timeout
    /// pending, its engine is driven by the reaper to the end of its
    /// teardown).
    fn drop(&mut self) {
        drop(self.take_stdin());
        self.stdout = None;
        self.stderr = None;
    }
}
#[cfg(test)]
mod tests {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn async_child_is_send_and_sync() {
        send_sync::<super::AsyncChild>();
    }
}
