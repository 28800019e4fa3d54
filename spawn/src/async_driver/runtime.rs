//! Whether the current tokio runtime can drive children: there is one,
//! with its I/O driver (the engine's epoll set, pidfds and pipe ends are
//! watched by its reactor) and its timer (the core's deadlines: timeouts,
//! graces). Every async entry point asks [`check`] before anything starts,
//! so a missing driver is [`Error::NoRuntime`], never a panic of tokio's
//! in the middle of a run (with a child started).
//!
//! Tokio cannot be asked whether a driver is enabled: using a missing one
//! panics ("IO is disabled", "timers are disabled"). So the first check on
//! a thread for a runtime tries both, the I/O driver by registering an
//! eventfd (`spawn_sys::async_fd::Registered::new` catches that panic), the
//! timer by making a `Sleep` (its panic caught here, before any syscall);
//! the panic hook still reports a caught panic (on stderr by default), and
//! under `panic = "abort"` it aborts. The answer is kept per thread for
//! that runtime ([`tokio::runtime::Id`]), so later runs pay nothing but
//! [`Handle::try_current`].

use std::cell::Cell;
use std::time::Duration;

use tokio::io::Interest;
use tokio::runtime::{Handle, Id};

use crate::Error;

thread_local! {
    /// The runtime last found able to drive children on this thread.
    static VERIFIED: Cell<Option<Id>> = const { Cell::new(None) };
}

const NOT_IN_RUNTIME: &str = "not inside a tokio runtime";
const NO_IO: &str = "the tokio runtime has no I/O driver (built without enable_io())";
const NO_TIME: &str = "the tokio runtime has no timer (built without enable_time())";

/// `Ok` when the current runtime has an I/O driver and a timer; else
/// [`Error::NoRuntime`] naming `program` and what is missing.
pub(crate) fn check(program: &str) -> Result<(), Error> {
    let no = |reason| Error::NoRuntime {
        program: program.to_owned(),
        reason,
    };
    let Ok(handle) = Handle::try_current() else {
        return Err(no(NOT_IN_RUNTIME));
    };
    let id = handle.id();
    if VERIFIED.get() == Some(id) {
        return Ok(());
    }
    if std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))).is_err() {
        return Err(no(NO_TIME));
    }
    let probe = probe_fd().map_err(|e| {
        Error::io(
            program,
            "cannot make an fd to probe the tokio runtime",
            e.into(),
        )
    })?;
    match spawn_sys::async_fd::Registered::new(probe, Interest::READABLE) {
        Ok(_registered) => {}
        Err(e) if spawn_sys::async_fd::is_no_io_driver(&e) => return Err(no(NO_IO)),
        Err(e) => {
            return Err(Error::io(
                program,
                "cannot probe the tokio runtime's reactor",
                e,
            ));
        }
    }
    VERIFIED.set(Some(id));
    Ok(())
}

/// An fd to register once in the runtime's reactor: an `eventfd` on Linux,
/// a pipe's read end elsewhere.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn probe_fd() -> rustix::io::Result<std::os::fd::OwnedFd> {
    rustix::event::eventfd(
        0,
        rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
    )
}

/// An fd to register once in the runtime's reactor: an `eventfd` on Linux,
/// a pipe's read end elsewhere.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn probe_fd() -> rustix::io::Result<std::os::fd::OwnedFd> {
    let (read, _write) = spawn_sys::pipe::pipe()?;
    spawn_sys::pipe::set_new_pipe_nonblocking(&read)?;
    Ok(read)
}
