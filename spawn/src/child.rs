//! [`Child`]: a running child under the caller's control (Python's `Popen`),
//! and its pipe ends [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_sys::Pid;
use spawn_sys::poll::{Epoll, Interest};
use spawn_sys::wait::WaitResult;

use crate::driver::{self, Engine, Slot, Source};
use crate::launch::{self, LaunchOptions, Plan};
use crate::{Command, Error, ExitStatus, Output, Signal, Stdio};

/// A started child process, as returned by [`Command::spawn`].
///
/// Talk to it interactively through [`take_stdin`](Self::take_stdin),
/// [`take_stdout`](Self::take_stdout) and [`take_stderr`](Self::take_stderr)
/// (blocking `Write`/`Read`), or all at once with
/// [`communicate`](Self::communicate), which feeds input and drains output
/// together so that neither side blocks.
///
/// Dropping a `Child` never leaves a zombie: a child still running is reaped
/// in the background when it exits (and killed first with
/// [`Command::kill_on_drop`]). Signals go through a pidfd where the kernel
/// has them, so a signal never reaches another process that reused the pid.
///
/// # Warning
/// As with any pipes: writing a lot to `stdin` while not reading `stdout`
/// can deadlock when the child blocks on a full stdout pipe. `communicate`
/// avoids this.
pub struct Child {
    cmd: Command,
    name: String,
    pid: Pid,
    pidfd: Option<Arc<OwnedFd>>,
    pgid: Option<Pid>,
    /// The group was empty when the child was reaped: its id may be reused,
    /// so it is never signalled again.
    group_gone: bool,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    wait: Option<WaitResult>,
    /// A `communicate` that stopped at its timeout, to be resumed.
    engine: Option<Engine<'static>>,
    spawn_time: Duration,
    started: Instant,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("program", &self.name)
            .field("pid", &self.pid())
            .field(
                "status",
                &self.wait.as_ref().map(|w| ExitStatus::from_raw(w.status)),
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

impl Child {
    pub(crate) fn spawn(cmd: &Command) -> Result<Child, Error> {
        let stdin = match &cmd.stdin {
            Some(s) => launch::plan_stdio(s),
            None if cmd.input.is_some() => Plan::Pipe,
            None => Plan::Inherit,
        };
        crate::reaper::prepare();
        let l = launch::launch(
            cmd,
            &LaunchOptions {
                stdin,
                stdout: launch::plan_route(cmd.stdout.as_ref()),
                stderr: launch::plan_route(cmd.stderr.as_ref()),
                process_group: None,
                own_group: cmd.timeout.is_some(),
            },
        )?;
        crate::reaper::started();
        Ok(Child {
            cmd: cmd.clone(),
            name: cmd.name(),
            pid: l.pid,
            pidfd: l.pidfd.map(Arc::new),
            pgid: l.pgid,
            group_gone: false,
            stdin: l.stdin.map(ChildStdin),
            stdout: l.stdout.map(ChildStdout),
            stderr: l.stderr.map(ChildStderr),
            wait: None,
            engine: None,
            spawn_time: l.spawn_time,
            started: l.started,
        })
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get().unsigned_abs()
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
    /// routed them (a [`Sink`](crate::Sink)), else they are collected.
    ///
    /// When the command has [`input`](Command::input) and `input` is empty,
    /// the command's input is fed.
    ///
    /// # Errors
    /// `input` given but stdin not piped ([`Error::InvalidInput`]); an I/O
    /// or sink error.
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
        if self.engine.is_none() {
            let input: Arc<Vec<u8>> = match (&self.cmd.input, input.is_empty()) {
                (Some(i), true) => Arc::clone(i),
                _ => Arc::new(input.to_vec()),
            };
            if self.stdin.is_none() && !input.is_empty() {
                return Err(Error::invalid(
                    &self.name,
                    "input was given but the child's stdin is not a pipe we hold (was it taken, or not piped?)",
                ));
            }
            let mut engine = Engine::new(0)
                .map_err(|e| Error::io(&self.name, "cannot create an epoll set", e))?;
            let mut slot = Slot::new_running(self.name.clone());
            slot.pid = Some(self.pid);
            slot.pidfd = self.pidfd.clone();
            slot.pgid = self.pgid;
            slot.spawn_time = self.spawn_time;
            slot.started = Some(self.started);
            slot.wait = self.wait;
            slot.fixed_cap = self.cmd.pipe_capacity.is_some();
            let has = [
                self.stdin.is_some(),
                self.stdout.is_some(),
                self.stderr.is_some(),
            ];
            slot.fds = [
                self.stdin.take().map(OwnedFd::from),
                self.stdout.take().map(OwnedFd::from),
                self.stderr.take().map(OwnedFd::from),
            ];
            let spec = driver::running_spec(has[0], input.len() as u64, has[1], has[2], &self.cmd);
            slot.input = Some(input);
            let routes = [
                has[1].then(|| driver::communicate_sink(self.cmd.stdout.as_ref())),
                has[2].then(|| driver::communicate_sink(self.cmd.stderr.as_ref())),
            ];
            engine.add_running(slot, spec, &routes)?;
            engine.disown();
            self.engine = Some(engine);
        }
        let Some(engine) = self.engine.as_mut() else {
            unreachable!("set above")
        };
        let done = engine.run(stop)?;
        let (w, lost) = (engine.slots[0].wait, engine.slots[0].status_lost);
        if let Some(w) = w
            && !lost
        {
            self.reaped(w);
        }
        let Some(engine) = self.engine.as_mut() else {
            unreachable!("set above")
        };
        if done {
            let result = engine.result(0);
            self.engine = None;
            result
        } else {
            let partial = engine.output(0, true);
            Err(Error::Timeout {
                program: self.name.clone(),
                elapsed: self.started.elapsed(),
                partial,
            })
        }
    }

    /// The error of a failed `wait4`: with `ECHILD` someone else reaped the
    /// child and its status is lost.
    fn wait_error(&self, e: spawn_sys::Errno) -> Error {
        if e == spawn_sys::Errno::CHILD {
            return Error::StatusLost {
                program: self.name.clone(),
                partial: Output {
                    status: ExitStatus::from_raw(255 << 8),
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    report: crate::Report {
                        pid: self.pid(),
                        spawn_time: self.spawn_time,
                        wall: self.started.elapsed(),
                        ..crate::Report::default()
                    },
                },
            };
        }
        Error::io(
            &self.name,
            "waiting for the child",
            io::Error::from_raw_os_error(e.raw_os_error()),
        )
    }

    fn reaped(&mut self, w: WaitResult) -> ExitStatus {
        if self.wait.is_none()
            && let Some(pgid) = self.pgid
        {
            // While a member lives (a grandchild), the group id stays
            // allocated and cannot be reused; once empty it may be.
            self.group_gone = spawn_sys::signal::signal_group(pgid, 0).is_err();
        }
        self.wait = Some(w);
        ExitStatus::from_raw(w.status)
    }

    /// Waits for the child to exit and returns its status. Closes stdin
    /// first (if not taken), so that a child reading to EOF can finish. A
    /// `communicate` interrupted by its timeout is carried to its end first.
    ///
    /// # Errors
    /// An error from `wait4(2)` (e.g. someone else reaped the child).
    pub fn wait(&mut self) -> Result<ExitStatus, Error> {
        if let Some(w) = self.wait {
            return Ok(ExitStatus::from_raw(w.status));
        }
        if self.engine.is_some() {
            // Finish the interrupted communicate; its output is dropped.
            let _ = self.communicate_until(&[], None);
            if let Some(w) = self.wait {
                return Ok(ExitStatus::from_raw(w.status));
            }
        }
        drop(self.stdin.take());
        match spawn_sys::wait::wait_pid(self.pid, false) {
            Ok(Some(w)) => Ok(self.reaped(w)),
            Ok(None) => Err(Error::io(
                &self.name,
                "waiting for the child",
                io::ErrorKind::Other.into(),
            )),
            Err(e) => Err(self.wait_error(e)),
        }
    }

    /// The child's status if it has exited, without blocking.
    ///
    /// # Errors
    /// An error from `wait4(2)`.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, Error> {
        if let Some(w) = self.wait {
            return Ok(Some(ExitStatus::from_raw(w.status)));
        }
        match spawn_sys::wait::wait_pid(self.pid, true) {
            Ok(Some(w)) => Ok(Some(self.reaped(w))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.wait_error(e)),
        }
    }

    /// Waits at most `timeout` for the child to exit; `Ok(None)` if it still
    /// runs. Uses the pidfd where there is one (no polling), else polls with
    /// a backing-off interval.
    ///
    /// # Errors
    /// An error from `wait4(2)`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            // Longer than `Instant` can count: wait without a deadline.
            return self.wait().map(Some);
        };
        if let Some(s) = self.try_wait()? {
            return Ok(Some(s));
        }
        if let Some(fd) = self.pidfd.clone()
            && let Ok(ep) = Epoll::new()
            && ep
                .add(
                    fd.as_fd(),
                    0,
                    Interest {
                        readable: true,
                        writable: false,
                        edge: false,
                    },
                )
                .is_ok()
        {
            let mut ready = Vec::with_capacity(1);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = ep.wait(&mut ready, 1, Some(left));
                if let Some(s) = self.try_wait()? {
                    return Ok(Some(s));
                }
                if left.is_zero() {
                    return Ok(None);
                }
            }
        }
        let mut tick = Duration::from_micros(200);
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(tick.min(left));
            tick = (tick * 2).min(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the child (through its pidfd where the kernel has
    /// them). Does nothing once the child has been reaped: its pid may
    /// belong to another process by then.
    ///
    /// # Errors
    /// The kernel refused (e.g. an invalid signal number).
    pub fn send_signal(&mut self, signal: Signal) -> Result<(), Error> {
        if self.wait.is_some()
            || self
                .engine
                .as_ref()
                .is_some_and(|e| e.slots[0].wait.is_some())
        {
            return Ok(());
        }
        let res = match &self.pidfd {
            Some(fd) => spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), signal.as_raw()),
            None => spawn_sys::signal::signal_process(self.pid, signal.as_raw()),
        };
        res.map_err(|e| {
            Error::io(
                &self.name,
                "sending a signal to the child",
                io::Error::from_raw_os_error(e.raw_os_error()),
            )
        })
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
    /// [`Error::InvalidInput`] when the child shares the parent's group
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
        if self.group_gone {
            // Empty when the child was reaped: the id may lead another
            // group by now. Nothing of ours is left to signal.
            return Ok(());
        }
        let Some(pgid) = self.pgid else {
            return Err(Error::invalid(
                &self.name,
                "the child has no process group of its own (start it with process_group(0) or new_session())",
            ));
        };
        spawn_sys::signal::signal_group(pgid, signal.as_raw()).map_err(|e| {
            Error::io(
                &self.name,
                "sending a signal to the child's process group",
                io::Error::from_raw_os_error(e.raw_os_error()),
            )
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.wait.is_some()
            || self
                .engine
                .as_ref()
                .is_some_and(|e| e.slots[0].wait.is_some())
        {
            return;
        }
        if self.cmd.kill_on_drop {
            let _ = self.kill();
        }
        // Close our pipe ends first so a child blocked on them can finish.
        self.stdin = None;
        self.stdout = None;
        self.stderr = None;
        self.engine = None;
        crate::reaper::reap_later(self.pid, self.pidfd.take());
    }
}

impl Slot {
    pub(crate) fn new_running(name: String) -> Slot {
        Slot::new_with(Source::Running, name)
    }
}
