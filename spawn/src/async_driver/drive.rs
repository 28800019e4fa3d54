//! The engine driven on tokio: the blocking driver's own
//! [`Engine`](crate::driver::Engine), turned without blocking
//! ([`Engine::drive_now_until`](crate::driver::Engine::drive_now_until))
//! whenever its epoll set is readable (that set in an `AsyncFd`: epoll sets
//! nest) or the core's next deadline passes (tokio's timer). Everything
//! else (sinks, bounds, input fed while output drains, timeouts and the
//! group teardown, the EOF grace, errors, the report) is the engine's,
//! unchanged.
//!
//! Cancel-safety comes from the engine's own drop: a future that owns its
//! engine and is dropped before the children finished hands the engine to
//! spawn's background reaper, which drives the teardown to its end (the
//! stop signal, the grace, KILL, the group) and reaps. It needs no task and
//! no runtime, so it also survives the runtime shutting down.

use std::future::{Future, poll_fn};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use spawn_sys::async_fd::Registered;
use tokio::io::Interest;
use tokio::time::Sleep;

use crate::Error;
use crate::driver::{Engine, Until};

/// Drives `engine` until every child in it is finished. `name` is what an
/// error of the driver itself names.
pub(crate) async fn drive(engine: &mut Engine<'_>, name: &str) -> Result<(), Error> {
    let mut waiter = Waiter::new(name);
    poll_fn(|cx| waiter.poll_drive(engine, Until::AllDone, cx)).await
}

/// The waiting half of the async driver: the engine's epoll set in the
/// reactor and a timer for its next deadline. One per engine (the set is
/// registered on first need).
pub(crate) struct Waiter {
    name: String,
    watch: Option<Registered>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Where `sleep` is set to.
    armed: Option<Instant>,
}

impl Waiter {
    pub(crate) fn new(name: &str) -> Self {
        Waiter {
            name: name.to_owned(),
            watch: None,
            sleep: None,
            armed: None,
        }
    }

    /// Drives `engine` until every child is finished or `until` is
    /// reached (`Ready`), or until it must wait (`Pending`; woken by its
    /// epoll set or its deadline).
    pub(crate) fn poll_drive(
        &mut self,
        engine: &mut Engine<'_>,
        until: Until,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        if self.watch.is_none() {
            // Before anything starts: on a runtime that cannot drive the
            // children, nothing must.
            if let Err(e) = super::runtime::check(&self.name) {
                return Poll::Ready(Err(e));
            }
            match watch(engine, &self.name) {
                Ok(w) => self.watch = Some(w),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        loop {
            let next = match engine.drive_now_until(until) {
                Ok(None) => return Poll::Ready(Ok(())),
                Ok(Some(next)) => next,
                Err(e) => return Poll::Ready(Err(e)),
            };
            match self.wait(next, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `Ready` when the engine has something to do: its set readable, or
    /// `next` passed.
    fn wait(&mut self, next: Option<Instant>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let Some(watch) = &self.watch else {
            unreachable!("set by poll_drive")
        };
        loop {
            match watch.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    if still_ready(guard.get_inner()) {
                        return Poll::Ready(Ok(()));
                    }
                    // Readiness the last turn consumed. An event since
                    // `poll_read_ready` returned is kept by tokio.
                    guard.clear_ready();
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(Error::io(
                        &self.name,
                        "waiting for the children (AsyncFd)",
                        e,
                    )));
                }
                Poll::Pending => break,
            }
        }
        let Some(at) = next else {
            return Poll::Pending;
        };
        if self.armed != Some(at) {
            let deadline = tokio::time::Instant::from_std(at);
            match &mut self.sleep {
                Some(s) => s.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.armed = Some(at);
        }
        match &mut self.sleep {
            Some(s) => s.as_mut().poll(cx).map(Ok),
            None => Poll::Pending,
        }
    }
}

/// The engine's epoll set in the runtime's reactor, through a duplicate fd
/// of the same set (so the engine stays free to be driven meanwhile).
fn watch(engine: &mut Engine<'_>, name: &str) -> Result<Registered, Error> {
    let fd = engine
        .epoll_fd()
        .and_then(|fd| fd.try_clone_to_owned())
        .map_err(|e| Error::io(name, "cannot duplicate the epoll set's fd", e))?;
    Registered::new(fd, Interest::READABLE)
        .map_err(|e| Error::io(name, "cannot watch the epoll set", e))
}

/// Whether an fd is readable right now (a zero-timeout `poll(2)`).
fn still_ready(fd: &OwnedFd) -> bool {
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    matches!(spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::ZERO)), Ok(n) if n > 0)
}
