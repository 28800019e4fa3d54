//! [`ChildHandle`]: control of a started child from any thread, for as long
//! as anyone holds it (it outlives its [`Child`](crate::Child)).

use std::fmt;
use std::sync::Arc;

use crate::process::{GroupSignalError, Process, Reaped};
use crate::{Error, ExitStatus, Signal};

/// A shared handle to a started child: `Clone + Send + Sync + 'static`, for
/// threads that outlive a borrow of the [`Child`](crate::Child) (a watchdog,
/// a cancel button). Every holder sees the same [`ExitStatus`]; signals go
/// through the child's pidfd where the kernel has them, and a signal after
/// the child was reaped is a harmless `Ok(())` that reaches nobody (its pid
/// may be someone else's by then).
///
/// The handle does not drive the child's pipes or its timeout: that is the
/// [`Child`](crate::Child)'s `communicate` and waits. Its
/// [`wait`](Self::wait) only waits for the exit.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Signal};
/// let child = Command::new("sleep").arg("30").spawn()?;
/// let handle = child.handle();
/// let killer = std::thread::spawn(move || handle.kill());
/// let status = child.wait()?;
/// killer.join().unwrap()?;
/// assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone)]
pub struct ChildHandle {
    name: Arc<str>,
    process: Arc<Process>,
}

impl fmt::Debug for ChildHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildHandle")
            .field("program", &self.name)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl ChildHandle {
    pub(crate) fn new(name: &str, process: Arc<Process>) -> Self {
        ChildHandle {
            name: name.into(),
            process,
        }
    }

    /// A handle on the child's pseudo-terminal, if it has one.
    pub(crate) fn pty(&self) -> Option<crate::PtyControl> {
        self.process.pty_master().map(|master| crate::PtyControl {
            master,
            program: Arc::clone(&self.name),
        })
    }

    /// The child's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process.pid_u32()
    }

    /// Waits for the child to exit (blocking) and returns its status; every
    /// waiter, on any thread, gets the same one.
    ///
    /// # Errors
    /// [`Error::StatusLost`] when someone else reaped the child (outside
    /// this library); an error from `waitid(2)`.
    pub fn wait(&self) -> Result<ExitStatus, Error> {
        match self.process.reap(true) {
            Ok(Some(r)) => status_of(&self.name, &self.process, r),
            Ok(None) => Err(Error::io(
                &self.name,
                "waiting for the child",
                std::io::ErrorKind::Interrupted.into(),
            )),
            Err(e) => Err(Error::io(&self.name, "waiting for the child", e)),
        }
    }

    /// The child's status if it has exited, without blocking.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn try_wait(&self) -> Result<Option<ExitStatus>, Error> {
        match self.process.try_reap() {
            Ok(Some(r)) => status_of(&self.name, &self.process, r).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::io(&self.name, "waiting for the child", e)),
        }
    }

    /// Sends `signal` to the child; `Ok` without sending once it was reaped.
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
    /// own. After the child was reaped it still reaches the members left in
    /// its group; if the group was empty at the reap, it is `Ok` and reaches
    /// nobody (the id may have been reused).
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

/// A reaped child's status, or the error that it was lost.
pub(crate) fn status_of(name: &str, process: &Process, r: Reaped) -> Result<ExitStatus, Error> {
    match r {
        Reaped::Status(w) => Ok(ExitStatus::from_raw(w.status)),
        Reaped::Lost => Err(crate::finish::status_lost(name.to_owned(), process)),
    }
}

/// A signal to a child's process group, with the errors named.
pub(crate) fn signal_group(name: &str, process: &Process, signal: Signal) -> Result<(), Error> {
    process.signal_group(signal).map_err(|e| match e {
        GroupSignalError::NotOwn => Error::invalid(
            name,
            "the child is in the caller's own process group (start it with process_group(0) or new_session())",
        ),
        GroupSignalError::Os(e) => Error::io(
            name,
            "sending a signal to the child's process group",
            e,
        ),
    })
}

/// The control surface of a started child, the same on [`Child`](crate::Child)
/// and [`AsyncChild`](crate::AsyncChild) (written once, here): its pid, a
/// [`ChildHandle`], `try_wait` and the signals, each through the
/// [`ChildHandle`] at `self.<path>`.
macro_rules! child_control {
    ($($path:ident).+) => {
        /// The child's process id.
        #[must_use]
        pub fn pid(&self) -> u32 {
            self.$($path).+.pid()
        }

        /// A handle on the child's pseudo-terminal, to resize it; `None`
        /// unless it was started with [`Command::pty`](crate::Command::pty).
        #[must_use]
        pub fn pty(&self) -> Option<crate::PtyControl> {
            self.$($path).+.pty()
        }

        /// A handle for other threads and tasks: waits (blocking) and
        /// signals on `&self`, and it outlives this child; see
        /// [`ChildHandle`](crate::ChildHandle).
        #[must_use]
        pub fn handle(&self) -> crate::ChildHandle {
            self.$($path).+.clone()
        }

        /// The child's status if it has exited, without blocking (and
        /// without reading its pipes).
        ///
        /// # Errors
        /// [`Error::StatusLost`](crate::Error::StatusLost) when someone else
        /// reaped the child; an error from `wait4(2)`.
        pub fn try_wait(&self) -> Result<Option<crate::ExitStatus>, crate::Error> {
            self.$($path).+.try_wait()
        }

        /// Sends `signal` to the child (through its pidfd where the kernel
        /// has them). `Ok` without sending once the child has been reaped:
        /// its pid may belong to another process by then. Never waits for a
        /// wait running on another thread.
        ///
        /// # Errors
        /// The kernel refused (e.g. an invalid signal number).
        pub fn send_signal(&self, signal: crate::Signal) -> Result<(), crate::Error> {
            self.$($path).+.send_signal(signal)
        }

        /// Sends `SIGTERM`: asks the child to stop.
        ///
        /// # Errors
        /// As [`send_signal`](Self::send_signal).
        pub fn terminate(&self) -> Result<(), crate::Error> {
            self.$($path).+.terminate()
        }

        /// Sends `SIGKILL`: stops the child at once.
        ///
        /// # Errors
        /// As [`send_signal`](Self::send_signal).
        pub fn kill(&self) -> Result<(), crate::Error> {
            self.$($path).+.kill()
        }

        /// Sends `SIGKILL` to the child's whole process group (the child and
        /// what it started), when the child has a group of its own
        /// ([`Command::process_group`](crate::Command::process_group),
        /// [`Command::new_session`](crate::Command::new_session), or a
        /// timeout). After the child was reaped it still reaches what the
        /// child left in its group; if the group was already empty then, it
        /// does nothing (its id may lead someone else's group by now).
        ///
        /// # Errors
        /// [`Error::InvalidInput`](crate::Error::InvalidInput) when the child
        /// shares the caller's group (killing that group would kill the
        /// caller); the kernel refused.
        pub fn kill_group(&self) -> Result<(), crate::Error> {
            self.$($path).+.kill_group()
        }

        /// Sends `signal` to the child's process group; see
        /// [`kill_group`](Self::kill_group).
        ///
        /// # Errors
        /// As [`kill_group`](Self::kill_group).
        pub fn signal_group(&self, signal: crate::Signal) -> Result<(), crate::Error> {
            self.$($path).+.signal_group(signal)
        }
    };
}
pub(crate) use child_control;
