//! [`AsyncChild`]: a started child on tokio (`Command::spawn_async`), with
//! async pipe ends, `communicate`, and waits and signals on `&self`.
//!
//! Its `communicate` and `wait` go through the same engine as
//! [`Child`](crate::Child)'s (the child adopted into it, driven by the
//! async driver): the command's timeout, its group teardown and the
//! forwarded signals apply to them as they do to the blocking ones.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use spawn_core::{ChildSpec, PerStream};
use tokio::io::Interest;

use super::drive::drive;
use super::pipe::{AsyncChildStderr, AsyncChildStdin, AsyncChildStdout, register};
use crate::driver::slot::{self, StagePlumbing};
use crate::driver::{Adopted, Engine};
use crate::handle::{signal_group, status_of};
use crate::process::Process;
use crate::wiring::{Plan, Wiring};
use crate::{ChildHandle, Command, Error, ExitStatus, Output, Signal, Sink};

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
    name: String,
    process: Arc<Process>,
    /// In a mutex so that `wait(&self)` can close it.
    stdin: Mutex<Option<AsyncChildStdin>>,
    stdout: Option<AsyncChildStdout>,
    stderr: Option<AsyncChildStderr>,
    /// Where `communicate` drains stdout and stderr.
    sinks: PerStream<Option<Sink>>,
    /// The command's own input, fed by a `communicate` given none.
    input: Option<Arc<Vec<u8>>>,
    /// The command's timeout, as a deadline from the start.
    deadline: Option<Instant>,
    kill_grace: Duration,
    eof_grace: Duration,
    group_teardown: bool,
    end_leftovers: bool,
    stop_signal: Signal,
    kill_on_drop: bool,
    forwarder: Option<crate::Forwarder>,
    /// A `communicate` whose future was dropped, to be resumed (in a mutex
    /// only so that `AsyncChild` is `Sync`; reached through `get_mut`).
    engine: Mutex<Option<Engine<'static>>>,
}

impl fmt::Debug for AsyncChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChild")
            .field("program", &self.name)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

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
    /// The child could not be started; no tokio runtime is current (checked
    /// before anything starts).
    pub fn spawn_async(&self) -> Result<AsyncChild, Error> {
        AsyncChild::spawn(self)
    }
}

impl AsyncChild {
    fn spawn(cmd: &Command) -> Result<AsyncChild, Error> {
        let name = cmd.name();
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::io(
                &name,
                "spawn_async needs a tokio runtime",
                std::io::Error::other("not inside a tokio runtime"),
            ));
        }
        let wiring = Wiring::command(cmd)?;
        let started =
            slot::launch_wiring(&wiring, None, &mut StagePlumbing::default(), &Plan::Inherit)?;
        let deadline = wiring.timeout.and_then(|t| started.started.checked_add(t));
        let mut child = AsyncChild {
            name: wiring.name.clone(),
            process: Arc::new(started.process),
            stdin: Mutex::new(None),
            stdout: None,
            stderr: None,
            sinks: PerStream {
                stdin: None,
                stdout: wiring.sinks.stdout.clone(),
                stderr: wiring.sinks.stderr.clone(),
            },
            input: wiring.input.clone(),
            deadline,
            kill_grace: wiring.kill_grace,
            eof_grace: wiring.eof_grace,
            group_teardown: wiring.owns_group_teardown(false),
            end_leftovers: wiring.ends_leftovers(),
            stop_signal: wiring.stop_signal,
            kill_on_drop: cmd.kill_on_drop,
            forwarder: cmd.forwarder.clone(),
            engine: Mutex::new(None),
        };
        // From here a failure drops `child`, which reaps (or kills) it.
        let fds = started.fds;
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

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.pid_u32()
    }

    /// A handle for other tasks and threads: waits (blocking) and signals
    /// on `&self`, outliving the `AsyncChild`; see [`ChildHandle`].
    #[must_use]
    pub fn handle(&self) -> ChildHandle {
        ChildHandle::new(&self.name, Arc::clone(&self.process))
    }

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
        if self.engine_mut().is_none() {
            let engine = self.communicate_engine(input)?;
            *self.engine_mut() = Some(engine);
        }
        let name = self.name.clone();
        let Some(engine) = self.engine_mut().as_mut() else {
            unreachable!("set above")
        };
        drive(engine, &name).await?;
        let result = engine.result(0);
        *self.engine_mut() = None;
        result
    }

    fn engine_mut(&mut self) -> &mut Option<Engine<'static>> {
        self.engine
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The engine of a new `communicate`: the child adopted with its pipes.
    fn communicate_engine(&mut self, input: &[u8]) -> Result<Engine<'static>, Error> {
        let input: Arc<Vec<u8>> = match (&self.input, input.is_empty()) {
            (Some(i), true) => Arc::clone(i),
            _ => Arc::new(input.to_vec()),
        };
        let stdin = self.take_stdin();
        if stdin.is_none() && !input.is_empty() && self.process.reaped().is_none() {
            return Err(Error::invalid(
                &self.name,
                "input was given but the child's stdin is not a pipe we hold (was it taken, or not piped?)",
            ));
        }
        let fds = PerStream {
            stdin: stdin.map(Into::into),
            stdout: self.stdout.take().map(Into::into),
            stderr: self.stderr.take().map(Into::into),
        };
        let input_len = if fds.stdin.is_some() {
            input.len() as u64
        } else {
            0
        };
        let mut engine = self.engine()?;
        engine.adopt(Adopted {
            process: Arc::clone(&self.process),
            fds,
            sinks: &self.sinks,
            spec: self.spec(input_len),
            input: Some(input),
            name: &self.name,
            stop_signal: self.stop_signal,
        })?;
        Ok(engine)
    }

    /// A core spec for this child's teardown and graces.
    fn spec(&self, input_len: u64) -> ChildSpec {
        ChildSpec {
            input_len,
            timeout: self
                .deadline
                .map(|d| d.saturating_duration_since(Instant::now())),
            kill_grace: self.kill_grace,
            eof_grace: self.eof_grace,
            signal_group: self.group_teardown,
            end_leftovers: self.end_leftovers,
            read_chunk: crate::driver::READ_CHUNK,
            write_chunk: crate::driver::WRITE_CHUNK,
            ..ChildSpec::default()
        }
    }

    fn engine(&self) -> Result<Engine<'static>, Error> {
        let mut engine = Engine::new(0, &self.name)?;
        if let Some(f) = &self.forwarder {
            engine.set_forwarder(f);
        }
        Ok(engine)
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
        if let Some(r) = self.process.reaped() {
            return status_of(&self.name, self.pid(), r);
        }
        drop(
            self.stdin
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut engine = self.engine()?;
        let ix = engine.adopt(Adopted {
            process: Arc::clone(&self.process),
            fds: PerStream::default(),
            sinks: &PerStream::default(),
            spec: self.spec(0),
            input: None,
            name: &self.name,
            stop_signal: self.stop_signal,
        })?;
        drive(&mut engine, &self.name).await?;
        engine.result(ix).map(|out| out.status)
    }

    /// The child's status if it has exited, without blocking.
    ///
    /// # Errors
    /// [`Error::StatusLost`] when someone else reaped the child; an error
    /// from `wait4(2)`.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>, Error> {
        match self.process.try_reap() {
            Ok(Some(r)) => status_of(&self.name, self.pid(), r).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::io(&self.name, "waiting for the child", e)),
        }
    }

    /// Sends `signal` to the child (through its pidfd where the kernel has
    /// them); does nothing once it was reaped.
    ///
    /// # Errors
    /// The kernel refused (e.g. an invalid signal number).
    pub fn send_signal(&self, signal: Signal) -> Result<(), Error> {
        self.process
            .signal(signal)
            .map_err(|e| Error::io(&self.name, "sending a signal to the child", e))
    }

    /// Sends `SIGTERM`: asks the child to stop.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&self) -> Result<(), Error> {
        self.send_signal(Signal::TERM)
    }

    /// Sends `SIGKILL`: stops the child at once.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> Result<(), Error> {
        self.send_signal(Signal::KILL)
    }

    /// Sends `SIGKILL` to the child's process group, when it has one of its
    /// own; see [`Child::kill_group`](crate::Child::kill_group).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the child shares the caller's group;
    /// the kernel refused.
    pub fn kill_group(&self) -> Result<(), Error> {
        self.signal_group(Signal::KILL)
    }

    /// Sends `signal` to the child's process group; see
    /// [`kill_group`](Self::kill_group).
    ///
    /// # Errors
    /// As [`kill_group`](Self::kill_group).
    pub fn signal_group(&self, signal: Signal) -> Result<(), Error> {
        signal_group(&self.name, &self.process, signal)
    }
}

impl Drop for AsyncChild {
    fn drop(&mut self) {
        if self.process.reaped().is_some() {
            return;
        }
        if self.kill_on_drop {
            self.process.kill_all();
        }
        // Close our pipe ends first so a child blocked on them can finish.
        drop(self.take_stdin());
        self.stdout = None;
        self.stderr = None;
        *self.engine_mut() = None;
        crate::reaper::reap_later(Arc::clone(&self.process));
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
