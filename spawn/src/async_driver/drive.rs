//! The engine driven on tokio: the blocking driver's own
//! [`Engine`](crate::driver::Engine), turned without blocking
//! ([`Engine::drive_now_until`](crate::driver::Engine::drive_now_until))
//! whenever what it waits on is ready (its epoll set in an `AsyncFd`: epoll
//! sets nest; or, while it has no set, its lone child's pidfd) or the
//! core's next deadline passes (tokio's timer). Everything
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
use std::os::fd::{BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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

/// The waiting half of the async driver: what the engine waits on, in the
/// reactor, and a timer for its next deadline. One per engine.
pub(crate) struct Waiter {
    name: String,
    watch: Watch,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Where `sleep` is set to.
    armed: Option<Instant>,
}

/// What of the engine is in the reactor. Chosen after each turn: the
/// engine makes its epoll set only when there is a second thing to watch
/// (a pipe, a second child, a doorbell), so the run of a lone child without
/// pipes watches its pidfd alone and no set is ever made for it.
enum Watch {
    /// Before the first turn: the runtime is not checked yet.
    Unchecked,
    /// Nothing in the reactor: after the lone child's exit was reported,
    /// until the turn after it says what is next.
    Nothing,
    /// A duplicate of the pidfd of the engine's lone child
    /// ([`Engine::lone_exit_fd`]): readable once it exited. Dropped once
    /// that was reported (the child is then finished, and a next lone
    /// child has a pidfd of its own).
    Exit(Registered),
    /// A duplicate fd of the engine's epoll set, in the reactor while the
    /// engine waits.
    SetIn(Registered),
    /// The same, out of the reactor while a turn runs. A nested set wakes
    /// the reactor's thread at every event in it (each write of a child
    /// into a pipe), ready or not, while the turn takes those events
    /// itself; out of the reactor it wakes nobody, and put back after the
    /// turn it is reported at once if something came meanwhile.
    SetOut(OwnedFd),
    /// The engine's set has no fd to put in the reactor (a `poll(2)` set,
    /// `SPAWN_BACKEND=portable`): the engine is looked at after this tick
    /// (or its deadline), which doubles while its looks find nothing.
    Tick(Duration),
}

/// The first tick of [`Watch::Tick`], and the longest.
const MIN_TICK: Duration = Duration::from_micros(500);
const MAX_TICK: Duration = Duration::from_millis(20);

impl Waiter {
    pub(crate) fn new(name: &str) -> Self {
        Waiter {
            name: name.to_owned(),
            watch: Watch::Unchecked,
            sleep: None,
            armed: None,
        }
    }

    /// Drives `engine` until every child is finished or `until` is
    /// reached (`Ready`), or until it must wait (`Pending`; woken by what
    /// it watches or its deadline). Each turn has one look at the set,
    /// with no readiness check besides: turns follow each other while the
    /// looks find events ([`Engine::looked_idle`]), and the set goes back
    /// to the reactor after the first that finds none.
    pub(crate) fn poll_drive(
        &mut self,
        engine: &mut Engine<'_>,
        until: Until,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        if matches!(self.watch, Watch::Unchecked) {
            // Before anything starts: on a runtime that cannot drive the
            // children, nothing must.
            if let Err(e) = super::runtime::check(&self.name) {
                return Poll::Ready(Err(e));
            }
            self.watch = Watch::Nothing;
        }
        let mut busy = 0;
        loop {
            let seen = match self.poll_ready(cx) {
                Ok(seen) => seen,
                Err(e) => return Poll::Ready(Err(e)),
            };
            match std::mem::replace(&mut self.watch, Watch::Nothing) {
                // Its exit is reported: the turn finishes the child.
                Watch::Exit(_) if seen => {}
                Watch::SetIn(set) => self.watch = Watch::SetOut(set.into_inner()),
                other => self.watch = other,
            }
            let next = match engine.drive_now_until(until) {
                Ok(None) => return Poll::Ready(Ok(())),
                Ok(Some(next)) => next,
                Err(e) => return Poll::Ready(Err(e)),
            };
            // While the turns' looks find events, turn again here: waiting
            // in the reactor for what is ready already would cost its
            // thread's wake-up and this one's. Up to a budget, then the
            // task yields to the others on this thread.
            if matches!(self.watch, Watch::SetOut(_)) && !engine.looked_idle() && busy < BUSY_TURNS
            {
                busy += 1;
                continue;
            }
            if let Err(e) = self.rewatch(engine) {
                return Poll::Ready(Err(e));
            }
            let next = match &mut self.watch {
                Watch::Tick(tick) => {
                    let at = Instant::now() + *tick;
                    *tick = (*tick * 2).min(MAX_TICK);
                    Some(next.map_or(at, |n| n.min(at)))
                }
                _ => next,
            };
            match self.poll_ready(cx) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            return self.sleep_until(next, cx);
        }
    }

    /// Whether the reactor reports what is watched ready (if not, this
    /// task is woken when it is).
    fn poll_ready(&self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let (Watch::Exit(fd) | Watch::SetIn(fd)) = &self.watch else {
            return Ok(false);
        };
        match fd.poll_read_ready(cx) {
            Poll::Ready(Ok(_)) => Ok(true),
            Poll::Ready(Err(e)) => Err(Error::io(
                &self.name,
                "waiting for the children (AsyncFd)",
                e,
            )),
            Poll::Pending => Ok(false),
        }
    }

    /// Puts in the reactor what the engine now waits on: the lone child's
    /// pidfd while there is no set, else the set (once made, for good).
    fn rewatch(&mut self, engine: &mut Engine<'_>) -> Result<(), Error> {
        let name = &self.name;
        match std::mem::replace(&mut self.watch, Watch::Nothing) {
            Watch::SetOut(set) => {
                self.watch = Watch::SetIn(
                    Registered::new(set, Interest::READABLE)
                        .map_err(|e| Error::io(name, SET[1], e))?,
                );
                return Ok(());
            }
            other => self.watch = other,
        }
        match engine.lone_exit_fd() {
            // A pidfd watched already is this child's: the child watched
            // before is finished only once its exit was reported.
            Some(_) if matches!(self.watch, Watch::Exit(_)) => {}
            Some(fd) => {
                self.watch = Watch::Exit(register(fd, name, PIDFD)?);
            }
            None => {
                let tick = match self.watch {
                    Watch::Tick(t) if engine.looked_idle() => t,
                    _ => MIN_TICK,
                };
                self.watch = Watch::Nothing;
                match engine.epoll_fd() {
                    Ok(fd) => self.watch = Watch::SetIn(register(fd, name, SET)?),
                    // A set without an fd: looked at on the tick.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        self.watch = Watch::Tick(tick);
                    }
                    Err(e) => return Err(Error::io(name, "cannot create an epoll set", e)),
                }
            }
        }
        Ok(())
    }

    /// `Ready` when `next` passed; else `Pending`, woken then.
    fn sleep_until(
        &mut self,
        next: Option<Instant>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
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

/// Turns in a row while the set keeps finding events, before the task
/// goes back to the reactor (and yields to the other tasks of its thread,
/// as tokio's own budget of 128 operations per poll does).
const BUSY_TURNS: u32 = 64;

const PIDFD: [&str; 2] = [
    "cannot duplicate the child's pidfd",
    "cannot watch the child's pidfd",
];
const SET: [&str; 2] = [
    "cannot duplicate the epoll set's fd",
    "cannot watch the epoll set",
];

/// `fd` in the runtime's reactor, through a duplicate (so the engine stays
/// free to use and close its own).
/// `what`: the errors' contexts (duplicating, registering).
fn register(fd: BorrowedFd<'_>, name: &str, what: [&'static str; 2]) -> Result<Registered, Error> {
    let dup = fd
        .try_clone_to_owned()
        .map_err(|e| Error::io(name, what[0], e))?;
    Registered::new(dup, Interest::READABLE).map_err(|e| Error::io(name, what[1], e))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::{Context, Waker};

    use super::Waiter;
    use crate::driver::Until;
    use crate::{Command, Stdio};

    /// A run of one child without pipes is waited for through the child's
    /// pidfd in the reactor: no epoll set is made for it (after the first
    /// turn, its pidfd is still the engine's lone exit to watch).
    #[test]
    fn a_lone_child_without_pipes_is_watched_through_its_pidfd_alone() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (held, release) = spawn_sys::pipe::pipe().expect("pipe");
        let cmd = Command::new("sh")
            .args(["-c", "read x; exit 3"])
            .stdin(Stdio::fd(held));
        let (mut engine, ix) =
            crate::run_one::one(&cmd, None, crate::wiring::Stops::ByOwner).expect("engine");
        drop(cmd);
        let mut driver = Waiter::new("sh");
        {
            let _in_runtime = rt.enter();
            let mut cx = Context::from_waker(Waker::noop());
            let first = driver.poll_drive(&mut engine, Until::AllDone, &mut cx);
            assert!(first.is_pending(), "finished: {first:?}");
        }
        assert_eq!(
            engine.lone_exit_fd().is_some(),
            spawn_sys::pidfd::pidfd_supported(),
            "an epoll set was made for a lone child"
        );
        drop(release);
        rt.block_on(poll_fn(|cx| {
            driver.poll_drive(&mut engine, Until::AllDone, cx)
        }))
        .expect("driven");
        assert_eq!(
            crate::finish::result(&mut engine, ix)
                .expect("result")
                .status
                .code(),
            Some(3)
        );
    }
}
