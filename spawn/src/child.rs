//! [`Child`]: a running child under the caller's control (Python's `Popen`),
//! and its pipe ends [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{ChildSpec, PerStream};

use crate::driver::slot::{self, StagePlumbing};
use crate::driver::{Adopted, Engine};
use crate::process::{GroupSignalError, Process, Reaped};
use crate::wiring::{Plan, Wiring};
use crate::{Command, Error, ExitStatus, Output, Signal, Sink, Stdio};

/// A started child process, as returned by [`Command::spawn`].
///
/// Talk to it interactively through [`take_stdin`](Self::take_stdin),
/// [`take_stdout`](Self::take_stdout) and [`take_stderr`](Self::take_stderr)
/// (blocking `Write`/`Read`), or all at once with
/// [`communicate`](Self::communicate), which feeds input and drains output
/// together so that neither side blocks.
///
/// Waits and `communicate` go through the same driver as
/// [`Command::run`]: a [`Command::timeout`] is enforced by them (the stop
/// signal to the child and its group, the grace, KILL, and
/// [`Error::Timeout`] with the output so far), and signals given to
/// [`Command::forward_signals`] are passed on while they run.
///
/// Dropping a `Child` never leaves a zombie: a child still running is reaped
/// in the background when it exits (and killed first, with its group when
/// it leads one, with [`Command::kill_on_drop`]). Signals go through a pidfd
/// where the kernel has them, so a signal never reaches another process that
/// reused the pid.
///
/// # Warning
/// As with any pipes: writing a lot to `stdin` while not reading `stdout`
/// can deadlock when the child blocks on a full stdout pipe, and so can
/// [`wait`](Self::wait) while a piped stdout nobody reads fills up.
/// `communicate` avoids both.
pub struct Child {
    name: String,
    process: Arc<Process>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Where `communicate` drains stdout and stderr.
    sinks: PerStream<Option<Sink>>,
    /// The command's own input, fed by a `communicate` given none.
    input: Option<Arc<Vec<u8>>>,
    /// The command's timeout, as a deadline from the start.
    deadline: Option<Instant>,
    kill_grace: Duration,
    eof_grace: Duration,
    /// The child leads a group the run owns (or has a cgroup): a timeout
    /// tears it down.
    group_teardown: bool,
    /// Whatever is left in its cgroup when it is done is ended.
    end_leftovers: bool,
    /// The first signal of its teardown.
    stop_signal: Signal,
    kill_on_drop: bool,
    forwarder: Option<crate::Forwarder>,
    /// A `communicate` that stopped at its own timeout, to be resumed.
    engine: Option<Engine<'static>>,
    /// The output of an interrupted `communicate` that a `wait` carried to
    /// its end: the next `communicate` returns it.
    finished_output: Option<Output>,
    /// `wait` closed stdin (input given later has nowhere to go).
    stdin_closed: bool,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("program", &self.name)
            .field("pid", &self.pid())
            .field(
                "status",
                &self
                    .process
                    .reaped()
                    .map(|r| ExitStatus::from_raw(r.wait_result().status)),
            )
            .finish_non_exhaustive()
    }
}

macro_rules! pipe_end {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name(OwnedFd);

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(p: $name) -> OwnedFd {
                p.0
            }
        }

        /// Connects this pipe end to another child's stdio, e.g. to build a
        /// pipeline by hand.
        impl From<$name> for Stdio {
            fn from(p: $name) -> Stdio {
                Stdio::fd(p.0)
            }
        }

        impl From<$name> for crate::Route {
            fn from(p: $name) -> crate::Route {
                crate::Route::Stdio(Stdio::fd(p.0))
            }
        }
    };
}

pipe_end!(
    ChildStdin,
    "The write end of a child's stdin pipe (blocking `Write`). Dropping it closes the pipe: the child sees EOF."
);
pipe_end!(
    ChildStdout,
    "The read end of a child's stdout pipe (blocking `Read`)."
);
pipe_end!(
    ChildStderr,
    "The read end of a child's stderr pipe (blocking `Read`)."
);

fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e == rustix::io::Errno::INTR => {}
            r => return r.map_err(|e| io::Error::from_raw_os_error(e.raw_os_error())),
        }
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retry(|| rustix::io::write(&self.0, buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| rustix::io::read(&self.0, &mut *buf))
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| rustix::io::read(&self.0, &mut *buf))
    }
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl Child {
    pub(crate) fn spawn(cmd: &Command) -> Result<Child, Error> {
        let wiring = Wiring::command(cmd)?;
        let started =
            slot::launch_wiring(&wiring, None, &mut StagePlumbing::default(), &Plan::Inherit)?;
        let deadline = wiring.timeout.and_then(|t| started.started.checked_add(t));
        let [stdin, stdout, stderr] = [started.fds.stdin, started.fds.stdout, started.fds.stderr];
        Ok(Child {
            name: wiring.name.clone(),
            process: Arc::new(started.process),
            stdin: stdin.map(ChildStdin),
            stdout: stdout.map(ChildStdout),
            stderr: stderr.map(ChildStderr),
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
            engine: None,
            finished_output: None,
            stdin_closed: false,
        })
        // `wiring` (and the caller's fds it holds) is dropped here.
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.pid_u32()
    }

    /// A handle for other threads: waits and signals on `&self`, and it
    /// outlives the `Child`; see [`ChildHandle`](crate::ChildHandle).
    #[must_use]
    pub fn handle(&self) -> crate::ChildHandle {
        crate::ChildHandle::new(&self.name, Arc::clone(&self.process))
    }

    /// Takes the write end of the child's stdin pipe (if stdin was piped and
    /// not taken yet). Drop it to close the child's stdin.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// Takes the read end of the child's stdout pipe.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Takes the read end of the child's stderr pipe.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// The child's stdin pipe, left in place.
    pub fn stdin_mut(&mut self) -> Option<&mut ChildStdin> {
        self.stdin.as_mut()
    }

    /// The child's stdout pipe, left in place.
    pub fn stdout_mut(&mut self) -> Option<&mut ChildStdout> {
        self.stdout.as_mut()
    }

    /// The child's stderr pipe, left in place.
    pub fn stderr_mut(&mut self) -> Option<&mut ChildStderr> {
        self.stderr.as_mut()
    }

    /// Feeds `input` to stdin (then closes it), drains stdout and stderr
    /// (those not taken) into their routes, and waits for the child:
    /// Python's `Popen.communicate`. Stdout and stderr go where the command
    /// routed them (a [`Sink`]), else they are collected.
    ///
    /// When the command has [`input`](Command::input) and `input` is empty,
    /// the command's input is fed. Input given after the child's stdin was
    /// closed by [`wait`](Self::wait), or after the child exited, has
    /// nowhere to go: it is dropped, as Python does (the report says
    /// `input_broken`).
    ///
    /// # Errors
    /// `input` given but stdin never piped or taken ([`Error::InvalidInput`]);
    /// the command's [`timeout`](Command::timeout) passed
    /// ([`Error::Timeout`], the child and its group stopped); an I/O or
    /// sink error.
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

    /// A core spec for this child's teardown and graces (pipes set by the
    /// engine from what it is given).
    fn spec(&self, input_len: u64) -> ChildSpec {
        ChildSpec {
            input_len,
            timeout: remaining(self.deadline),
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

    fn communicate_until(&mut self, input: &[u8], stop: Option<Instant>) -> Result<Output, Error> {
        if self.engine.is_none() {
            if let Some(out) = self.finished_output.take() {
                return Ok(out);
            }
            let input: Arc<Vec<u8>> = match (&self.input, input.is_empty()) {
                (Some(i), true) => Arc::clone(i),
                _ => Arc::new(input.to_vec()),
            };
            let nowhere = self.stdin_closed || self.process.reaped().is_some();
            if self.stdin.is_none() && !input.is_empty() && !nowhere {
                return Err(Error::invalid(
                    &self.name,
                    "input was given but the child's stdin is not a pipe we hold (was it taken, or not piped?)",
                ));
            }
            let mut engine = self.engine()?;
            let fds = PerStream {
                stdin: self.stdin.take().map(OwnedFd::from),
                stdout: self.stdout.take().map(OwnedFd::from),
                stderr: self.stderr.take().map(OwnedFd::from),
            };
            let input_len = if fds.stdin.is_some() {
                input.len() as u64
            } else {
                0
            };
            let spec = self.spec(input_len);
            engine.adopt(Adopted {
                process: Arc::clone(&self.process),
                fds,
                sinks: &self.sinks,
                spec,
                input: Some(input),
                name: &self.name,
                stop_signal: self.stop_signal,
            })?;
            self.engine = Some(engine);
        }
        let Some(engine) = self.engine.as_mut() else {
            unreachable!("set above")
        };
        if engine.run(stop)? {
            let result = engine.result(0);
            self.engine = None;
            result
        } else {
            Err(Error::Timeout {
                program: self.name.clone(),
                elapsed: engine.partial(0).report.wall,
                partial: engine.partial(0),
            })
        }
    }

    /// Drives the exit alone (no pipes) until it is seen or `stop` passes;
    /// the command's timeout and the forwarded signals apply.
    fn wait_until(&mut self, stop: Option<Instant>) -> Result<Option<ExitStatus>, Error> {
        if let Some(r) = self.process.reaped() {
            return self.status_of(r).map(Some);
        }
        if self.engine.is_some() {
            // Finish the interrupted communicate; keep its output for the
            // next communicate (nothing read is lost).
            match self.communicate_until(&[], stop) {
                Ok(out) => self.finished_output = Some(out),
                Err(Error::Timeout { partial, .. })
                    if self.engine.is_some() && !partial.report.timed_out =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            if let Some(r) = self.process.reaped() {
                return self.status_of(r).map(Some);
            }
        }
        if stop.is_none() {
            // `wait` closes stdin, so that a child reading to EOF can finish.
            drop(self.stdin.take());
            self.stdin_closed = true;
        }
        let mut engine = self.engine()?;
        let spec = self.spec(0);
        let ix = engine.adopt(Adopted {
            process: Arc::clone(&self.process),
            fds: PerStream::default(),
            sinks: &PerStream::default(),
            spec,
            input: None,
            name: &self.name,
            stop_signal: self.stop_signal,
        })?;
        if !engine.run(stop)? {
            return Ok(None);
        }
        engine.result(ix).map(|out| Some(out.status))
    }

    fn status_of(&self, r: Reaped) -> Result<ExitStatus, Error> {
        match r {
            Reaped::Status(w) => Ok(ExitStatus::from_raw(w.status)),
            Reaped::Lost => Err(Error::StatusLost {
                program: self.name.clone(),
                partial: Output {
                    status: ExitStatus::from_raw(crate::process::LOST_STATUS),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    report: crate::Report {
                        pid: self.pid(),
                        ..crate::Report::default()
                    },
                },
            }),
        }
    }

    /// Waits for the child to exit and returns its status. Closes stdin
    /// first (if not taken), so that a child reading to EOF can finish. A
    /// `communicate` interrupted by its timeout is carried to its end first;
    /// its output is kept for the next [`communicate`](Self::communicate).
    ///
    /// # Errors
    /// The command's [`timeout`](Command::timeout) passed
    /// ([`Error::Timeout`]: the child and its group were stopped);
    /// [`Error::StatusLost`] when someone else reaped the child.
    pub fn wait(&mut self) -> Result<ExitStatus, Error> {
        match self.wait_until(None)? {
            Some(s) => Ok(s),
            None => Err(Error::io(
                &self.name,
                "waiting for the child",
                io::ErrorKind::Other.into(),
            )),
        }
    }

    /// The child's status if it has exited, without blocking.
    ///
    /// # Errors
    /// [`Error::StatusLost`] when someone else reaped the child; an error
    /// from `wait4(2)`.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        match self.process.try_reap() {
            Ok(Some(r)) => self.status_of(r).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::io(&self.name, "waiting for the child", e)),
        }
    }

    /// Waits at most `timeout` for the child to exit; `Ok(None)` if it still
    /// runs. Uses the pidfd where there is one (no polling), else polls with
    /// a backing-off interval.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        // Longer than `Instant` can count: wait without a deadline.
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Sends `signal` to the child (through its pidfd where the kernel has
    /// them). Does nothing once the child has been reaped: its pid may
    /// belong to another process by then.
    ///
    /// # Errors
    /// The kernel refused (e.g. an invalid signal number).
    pub fn send_signal(&mut self, signal: Signal) -> Result<(), Error> {
        self.process
            .signal(signal)
            .map_err(|e| Error::io(&self.name, "sending a signal to the child", e))
    }

    /// Sends `SIGTERM`: asks the child to stop.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&mut self) -> Result<(), Error> {
        self.send_signal(Signal::TERM)
    }

    /// Sends `SIGKILL`: stops the child at once.
    ///
    /// # Errors
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&mut self) -> Result<(), Error> {
        self.send_signal(Signal::KILL)
    }

    /// Sends `SIGKILL` to the child's whole process group (the child and
    /// what it started), when the child has a group of its own
    /// ([`Command::process_group`], [`Command::new_session`], or a timeout).
    /// After the child was reaped it still reaches what the child left in its
    /// group; if the group was already empty then, it does nothing (its id
    /// may lead someone else's group by now).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the child shares the caller's group
    /// (killing that group would kill the caller); the kernel refused.
    pub fn kill_group(&mut self) -> Result<(), Error> {
        self.signal_group(Signal::KILL)
    }

    /// Sends `signal` to the child's process group; see
    /// [`kill_group`](Self::kill_group).
    ///
    /// # Errors
    /// As [`kill_group`](Self::kill_group).
    pub fn signal_group(&mut self, signal: Signal) -> Result<(), Error> {
        self.process.signal_group(signal).map_err(|e| match e {
            GroupSignalError::NotOwn => Error::invalid(
                &self.name,
                "the child is in the caller's own process group (start it with process_group(0) or new_session())",
            ),
            GroupSignalError::Os(e) => Error::io(
                &self.name,
                "sending a signal to the child's process group",
                e,
            ),
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.process.reaped().is_some() {
            return;
        }
        if self.kill_on_drop {
            self.process.kill_all();
        }
        // Close our pipe ends first so a child blocked on them can finish.
        self.stdin = None;
        self.stdout = None;
        self.stderr = None;
        self.engine = None;
        crate::reaper::reap_later(Arc::clone(&self.process));
    }
}
