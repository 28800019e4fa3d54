//! [`Forwarder`]: passing signals the parent receives (Ctrl-C, `kill`) on to
//! its running children, the way a shell or `timeout(1)` does, so that the
//! parent can wait for them and exit after them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::Signal;

/// Forwards signals to the children of the runs it is given to
/// ([`Command::forward_signals`](crate::Command::forward_signals),
/// [`Group::forward_signals`](crate::Group::forward_signals)).
///
/// [`Forwarder::install`] is the usual way in: called first thing in
/// `main`, it blocks the given signals in the process (so they no longer
/// kill it) and starts a thread that waits for them and forwards each one.
/// A signal that came from the terminal (Ctrl-C reaches the whole foreground
/// process group) is forwarded only to children in a process group of their
/// own, since the others got it already; a signal sent with `kill` is
/// forwarded to every child.
///
/// **Job control.** Installed with [`Signal::TSTP`] and [`Signal::CONT`],
/// it does what a shell's job control expects of the process: Ctrl-Z
/// stops the children (they are in groups of their own, which the
/// terminal does not reach), then this process stops itself as `SIGTSTP`
/// would have; `fg` (or `bg`) continues this process, and it continues
/// its children. Where no job control applies (this process's group is
/// orphaned: nothing could continue it), a `SIGTSTP` is dropped, so no
/// child is left stopped. The stop is made by the engine of a run that
/// takes the forwarder, so a Ctrl-Z between runs waits for the next one.
/// Installed with [`Signal::WINCH`], a change of this process's window
/// resizes the terminal of every child on a [`Pty`](crate::Pty) to this
/// process's (the kernel then sends the child `SIGWINCH`); other children
/// get the signal.
///
/// # Examples
///
/// ```no_run
/// use spawn::{Command, Forwarder, Signal};
/// let fwd = Forwarder::install(&[Signal::INT, Signal::TERM])?;
/// let out = Command::new("make").forward_signals(&fwd).run()?;
/// if let Some(sig) = fwd.received() {
///     eprintln!("stopped by {sig}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    read: OwnedFd,
    write: OwnedFd,
    last: AtomicI32,
    /// Installed with `SIGTSTP`: a `SIGTSTP` taken stops this process
    /// after its children.
    job_control: AtomicBool,
}

impl Forwarder {
    /// A forwarder fed by hand with [`forward`](Self::forward).
    ///
    /// # Errors
    /// No pipe could be made (out of fds).
    pub fn new() -> io::Result<Self> {
        let (read, write) = spawn_sys::pipe::pipe().map_err(io::Error::from)?;
        spawn_sys::pipe::set_nonblocking(&read, true).map_err(io::Error::from)?;
        spawn_sys::pipe::set_nonblocking(&write, true).map_err(io::Error::from)?;
        Ok(Forwarder {
            inner: Arc::new(Inner {
                read,
                write,
                last: AtomicI32::new(0),
                job_control: AtomicBool::new(false),
            }),
        })
    }

    /// Blocks `signals` in the calling thread (call it before starting
    /// threads, at the top of `main`), and starts a thread that takes each
    /// one and forwards it.
    ///
    /// # Errors
    /// The mask or the thread could not be set up.
    pub fn install(signals: &[Signal]) -> io::Result<Self> {
        let fwd = Forwarder::new()?;
        fwd.inner
            .job_control
            .store(signals.contains(&Signal::TSTP), Ordering::SeqCst);
        let raw: Vec<i32> = signals.iter().map(|s| s.as_raw()).collect();
        spawn_sys::signal::block_signals(&raw).map_err(io::Error::from)?;
        let f = fwd.clone();
        std::thread::Builder::new()
            .name("spawn-signals".into())
            .spawn(move || {
                while let Ok(info) = spawn_sys::signal::wait_signal(&raw) {
                    f.send(info.signal, info.from_kernel);
                }
            })?;
        Ok(fwd)
    }

    /// Forwards `signal` to every running child of the runs this forwarder
    /// was given to.
    pub fn forward(&self, signal: Signal) {
        self.send(signal.as_raw(), false);
    }

    fn send(&self, signal: i32, from_terminal: bool) {
        self.inner.last.store(signal, Ordering::SeqCst);
        // One byte per signal: the number, with the high bit for "from the
        // terminal". A full pipe (thousands pending) drops the byte.
        let byte = (signal as u8 & 0x7f) | if from_terminal { 0x80 } else { 0 };
        let _ = rustix::io::write(&self.inner.write, &[byte]);
    }

    /// The last signal forwarded, if any.
    #[must_use]
    pub fn received(&self) -> Option<Signal> {
        match self.inner.last.load(Ordering::SeqCst) {
            0 => None,
            s => Some(Signal::from_raw(s)),
        }
    }

    /// Takes the pending signals: (number, came from the terminal).
    pub(crate) fn drain(&self) -> Vec<(i32, bool)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n) = rustix::io::read(&self.inner.read, &mut buf) {
            if n == 0 {
                break;
            }
            out.extend(
                buf[..n]
                    .iter()
                    .map(|&b| (i32::from(b & 0x7f), b & 0x80 != 0)),
            );
        }
        out
    }

    /// What to do with a `SIGTSTP` taken: stop the children and then this
    /// process (job control applies), or nothing.
    pub(crate) fn on_stop(&self) -> OnStop {
        if !self.inner.job_control.load(Ordering::SeqCst) {
            OnStop::Forward
        } else if spawn_sys::signal::job_control_applies() {
            OnStop::ForwardThenStopSelf
        } else {
            OnStop::Drop
        }
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.inner.read.as_fd()
    }
}

/// What a forwarder does with a `SIGTSTP` it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnStop {
    /// Pass it on like any other signal (a forwarder without job control).
    Forward,
    /// Pass it on, then stop this process as `SIGTSTP` does.
    ForwardThenStopSelf,
    /// Drop it: nothing could continue this process or its children.
    Drop,
}
