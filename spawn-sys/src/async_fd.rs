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
    /// No runtime with I/O enabled is current (tokio would panic; this is
    /// an error instead), or the reactor refused the fd.
    pub fn new(fd: OwnedFd, interest: Interest) -> io::Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "not inside a tokio runtime (spawn's async API needs one with I/O and time enabled)",
            ));
        }
        // SAFETY: `fd` is owned by the `AsyncFd` from here on and never
        // replaced: `Registered` gives out only shared references to it
        // (see the module docs), and `into_inner` deregisters before the
        // fd is handed back.
        let afd = unsafe { AsyncFd::register_with_interest(fd, interest)? };
        Ok(Registered(afd))
    }

    /// Deregisters the fd and hands it back.
    #[must_use]
    pub fn into_inner(self) -> OwnedFd {
        self.0.into_inner()
    }
}

impl Deref for Registered {
    type Target = AsyncFd<OwnedFd>;
    fn deref(&self) -> &AsyncFd<OwnedFd> {
        &self.0
    }
}
