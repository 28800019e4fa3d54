//! An owned fd in a tokio reactor (`AsyncFd`), for spawn's async driver
//! (cargo feature `tokio`).
//!
//! # Safety
//! Tokio's constructors of an `AsyncFd` are `unsafe` since 1.54: the
//! reactor keeps the fd registered until the `AsyncFd` is dropped or
//! [`into_inner`](AsyncFd::into_inner) deregisters it, so the fd must not
//! be closed or replaced meanwhile. [`Registered`] owns its [`OwnedFd`] and
//! gives out only `&AsyncFd<OwnedFd>` (no `get_mut`, through which the fd
//! could be replaced and closed while registered), so that holds.

#![allow(unsafe_code)]

use std::io;
use std::ops::Deref;
use std::os::fd::OwnedFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// An owned fd registered in the current tokio runtime's reactor; derefs
/// to `&AsyncFd<OwnedFd>` for the readiness calls.
#[derive(Debug)]
pub struct Registered(AsyncFd<OwnedFd>);

impl Registered {
    /// `epoll_ctl(EPOLL_CTL_ADD)` on tokio's reactor—Registers `fd` for
    /// `interest`.
    ///
    /// # Errors
    /// No runtime is current, or the current one has no I/O driver (tokio
    /// panics there; this is an error instead, [`is_no_io_driver`] says
    /// which), or the reactor refused the fd.
    pub fn new(fd: OwnedFd, interest: Interest) -> io::Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "not inside a tokio runtime (spawn's async API needs one with I/O and time enabled)",
            ));
        }
        // Tokio has no way to ask whether the runtime has an I/O driver:
        // registering in one without it panics ("IO is disabled") before
        // it touches the fd. That panic is caught here (the panic hook
        // still reports it) and becomes an error; the fd is then dropped.
        let registered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: `fd` is owned by the `AsyncFd` from here on and never
            // replaced: `Registered` gives out only shared references to it
            // (see the module docs), and `into_inner` deregisters before the
            // fd is handed back. A panic above leaves it unregistered.
            unsafe { AsyncFd::register_with_interest(fd, interest) }
        }));
        match registered {
            Ok(afd) => Ok(Registered(afd?)),
            Err(_panic) => Err(io::Error::new(io::ErrorKind::Unsupported, NoIoDriver)),
        }
    }

    /// Deregisters the fd and hands it back.
    #[must_use]
    pub fn into_inner(self) -> OwnedFd {
        self.0.into_inner()
    }
}

/// The error of [`Registered::new`] on a runtime without an I/O driver.
#[derive(Debug)]
struct NoIoDriver;

impl std::fmt::Display for NoIoDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the tokio runtime has no I/O driver (built without enable_io())")
    }
}

impl std::error::Error for NoIoDriver {}

/// Whether `e` is [`Registered::new`]'s error for a runtime without an I/O
/// driver.
#[must_use]
pub fn is_no_io_driver(e: &io::Error) -> bool {
    matches!(e.get_ref(), Some(inner) if inner.is::<NoIoDriver>())
}

impl Deref for Registered {
    type Target = AsyncFd<OwnedFd>;
    fn deref(&self) -> &AsyncFd<OwnedFd> {
        &self.0
    }
}
