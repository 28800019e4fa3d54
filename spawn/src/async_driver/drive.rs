//! The engine driven on tokio: the blocking driver's own
//! [`Engine`](crate::driver::Engine), turned without blocking
//! ([`Engine::drive_now`](crate::driver::Engine::drive_now)) whenever its
//! epoll set is readable (that set in an [`AsyncFd`]: epoll sets nest) or
//! the core's next deadline passes (tokio's timer). Everything else (sinks,
//! bounds, input fed while output drains, timeouts and the group teardown,
//! the EOF grace, errors, the report) is the engine's, unchanged.
//!
//! Cancel-safety comes from the engine's own drop: a future that owns its
//! engine and is dropped before the children finished hands the engine to
//! spawn's background reaper, which drives the teardown to its end (the
//! stop signal, the grace, KILL, the group) and reaps. It needs no task and
//! no runtime, so it also survives the runtime shutting down.

use std::os::fd::OwnedFd;

use spawn_sys::async_fd::Registered;
use tokio::io::Interest;

use crate::Error;
use crate::driver::Engine;

/// Drives `engine` until every child in it is finished. `name` is what an
/// error of the driver itself names.
pub(crate) async fn drive(engine: &mut Engine<'_>, name: &str) -> Result<(), Error> {
    let Some(mut next) = engine.drive_now()? else {
        return Ok(());
    };
    let afd = watch(engine, name)?;
    loop {
        let woke = tokio::select! {
            biased;
            guard = afd.readable() => Some(guard.map_err(|e| Error::io(name, "waiting for the children (AsyncFd)", e))?),
            () = sleep_until(next) => None,
        };
        next = match engine.drive_now()? {
            None => return Ok(()),
            Some(n) => n,
        };
        // What made the set readable was driven; keep the readiness when
        // more is waiting (a full batch of events), so the next turn comes
        // at once. Readiness from an event since `readable()` returned is
        // kept by tokio either way.
        if let Some(mut guard) = woke
            && !still_ready(afd.get_ref())
        {
            guard.clear_ready();
        }
    }
}

/// The engine's epoll set in the runtime's reactor, through a duplicate fd
/// of the same set (so the engine stays free to be driven meanwhile).
fn watch(engine: &Engine<'_>, name: &str) -> Result<Registered, Error> {
    let fd = engine
        .epoll_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io(name, "cannot duplicate the epoll set's fd", e))?;
    Registered::new(fd, Interest::READABLE)
        .map_err(|e| Error::io(name, "cannot watch the epoll set", e))
}

/// Whether an fd is readable right now (a zero-timeout `poll(2)`).
pub(crate) fn still_ready(fd: &OwnedFd) -> bool {
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    matches!(spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::ZERO)), Ok(n) if n > 0)
}

/// Sleeps until `at`, or forever when there is no deadline.
pub(crate) async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
