//! The background reaper: children whose [`Child`](crate::Child) was dropped
//! while they still ran are waited for here, so none becomes a zombie and the
//! dropping thread never blocks; and engines dropped before their children
//! finished (a `Group::results` iterator, a future of the async API, an
//! early return) are driven here through the teardown the core started for
//! them (the stop signal, the grace, KILL, the group) until every child is
//! finished and reaped.
//!
//! One thread waits on the children's pidfds in an epoll set (or polls
//! `wait4(WNOHANG)` every 50 ms for children without a pidfd, or when no
//! epoll set could be made) and reaps each exactly once, by pid (never
//! `waitpid(-1)`). The thread is started when the first child that may
//! outlive its call has been spawned ([`started`]: a `Child`, a
//! `GroupResults`, a future), not at the first drop: a drop may come when
//! no thread can be made any more (a low `RLIMIT_NPROC`, memory or threads
//! exhausted), and reaping must not depend on it. A blocking call (`run`,
//! `check_output`, `Pipeline::run`, `Group::run`) reaps its children
//! before it returns and makes no thread: a program that only runs
//! commands keeps one thread. Only an early return of such a call (its
//! driver failed, a sink's callback panicked) hands children on; that
//! hand-off makes the thread, as every hand-off does.
//!
//! Without the thread, reaping still happens: every spawn ([`prepare`],
//! before the new child, so the pids and process slots of the dead are free
//! for it) and every drop sweeps the list, so no dropped child stays a
//! zombie past the next call into the library. Nothing that fails for want
//! of resources (no fd for the epoll set, no thread) is remembered as
//! failed: it is tried again on the next spawn or drop.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use spawn_sys::ReadySet;
use spawn_sys::poll::Interest;

use crate::process::Process;

/// An engine dropped before its children finished, as the reaper drives
/// it through the teardown its drop started (the driver hands it over; the
/// reaper knows only this much of it).
pub(crate) trait Abandoned: Send {
    /// Drives what is ready now, without blocking: `None` once every child
    /// is finished, else when it next needs driving (`Some(None)`: only
    /// when its epoll set is readable).
    ///
    /// # Errors
    /// The engine cannot go on (its epoll set failed).
    fn drive_now(&mut self) -> Result<Option<Option<Instant>>, crate::Error>;
    /// The fd that is readable when it needs driving.
    ///
    /// # Errors
    /// No epoll set could be made.
    fn epoll_fd(&mut self) -> std::io::Result<std::os::fd::BorrowedFd<'_>>;
    /// KILL to every unfinished child and what contains it, reaped here.
    fn kill_unfinished(&mut self);
}

/// Children waited for, and whether their pidfd is in the epoll set.
static PENDING: Mutex<Vec<(Arc<Process>, bool)>> = Mutex::new(Vec::new());
/// The epoll set of the pidfds, once one could be made.
static EPOLL: Mutex<Option<Arc<ReadySet>>> = Mutex::new(None);
/// Engines driven through their teardown.
static ENGINES: Mutex<Vec<Box<dyn Abandoned>>> = Mutex::new(Vec::new());
/// Engines handed over and not dropped yet: those in `ENGINES` and those a
/// sweep holds while it drives them (the list is empty meanwhile).
static ENGINES_HELD: AtomicUsize = AtomicUsize::new(0);
/// When the earliest of them next needs driving.
static ENGINES_WAKE: Mutex<Option<Instant>> = Mutex::new(None);
/// Whether an engine was handed over whose set has no fd to watch (a
/// `poll(2)` set, `SPAWN_BACKEND=portable`): engines are then driven on
/// the polling tick while any is held.
static ENGINE_UNWATCHED: AtomicBool = AtomicBool::new(false);
/// Whether the reaper thread runs.
static THREAD: AtomicBool = AtomicBool::new(false);

fn pending() -> std::sync::MutexGuard<'static, Vec<(Arc<Process>, bool)>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The epoll set, made now if it could not be made before.
fn epoll() -> Option<Arc<ReadySet>> {
    let mut ep = EPOLL.lock().unwrap_or_else(PoisonError::into_inner);
    if ep.is_none() {
        *ep = ReadySet::new().ok().map(Arc::new);
    }
    ep.clone()
}

/// Reaps what has exited; returns how many are still waited for.
fn sweep() -> usize {
    let mut p = pending();
    if p.is_empty() {
        return 0;
    }
    let ep = EPOLL.lock().unwrap_or_else(PoisonError::into_inner).clone();
    p.retain(|(process, watched)| {
        // Reaped, and (with a cgroup) nothing left alive in its cgroup: a
        // populated one gets `cgroup.kill` again on every sweep.
        let done = !matches!(process.try_reap(), Ok(None)) && process.cgroup_drained();
        if done
            && *watched
            && let (Some(ep), Some(fd)) = (&ep, process.pidfd())
        {
            let _ = ep.delete(fd);
        }
        !done
    });
    p.len()
}

/// Drives every engine handed over once, without blocking; keeps those
/// with children not finished and records when they next need driving.
fn sweep_engines() {
    let mut engines = std::mem::take(&mut *ENGINES.lock().unwrap_or_else(PoisonError::into_inner));
    if engines.is_empty() {
        return;
    }
    let taken = engines.len();
    let mut wake: Option<Instant> = None;
    engines.retain_mut(|engine| {
        let driven = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.drive_now()));
        match driven {
            Ok(Ok(Some(next))) => {
                // `None`: only its fds wake it; polled children and
                // deadlines give a time.
                if let Some(at) = next {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                }
                true
            }
            Ok(Ok(None)) => false,
            // The engine cannot go on (epoll failed, a sink panicked):
            // KILL what is left, reaped as dropped children are.
            _ => {
                engine.kill_unfinished();
                false
            }
        }
    });
    // The engines `retain_mut` let go of are dropped by now.
    ENGINES_HELD.fetch_sub(taken - engines.len(), Ordering::SeqCst);
    let mut all = ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
    if !all.is_empty() {
        // Handed over meanwhile: drive them at once.
        wake = Some(Instant::now());
    }
    all.append(&mut engines);
    *ENGINES_WAKE.lock().unwrap_or_else(PoisonError::into_inner) =
        if all.is_empty() { None } else { wake };
}

/// Drives `engine` through the teardown its drop started, to the end, in
/// the background (see the module docs).
pub(crate) fn drive_later(mut engine: Box<dyn Abandoned>) {
    if let Some(ep) = epoll() {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        // Not in the set: the thread drives it on its next wake (below),
        // on the polling tick.
        let watched = engine
            .epoll_fd()
            .is_ok_and(|fd| ep.add(fd, 0, interest).is_ok());
        if !watched {
            ENGINE_UNWATCHED.store(true, Ordering::SeqCst);
        }
    }
    ENGINES_HELD.fetch_add(1, Ordering::SeqCst);
    ENGINES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(engine);
    sweep_engines();
    ensure_thread();
}

/// Called by every spawn before it starts a child: reaps the dropped
/// children that have exited meanwhile (a mutex and an empty list when
/// there are none), so that no zombie waits for the reaper thread, which
/// may not exist, and their process slots are free for the new child.
pub(crate) fn prepare() {
    sweep();
    sweep_engines();
}

/// Called by every start of a child that may outlive its call (a
/// `Child`, a `GroupResults`, a future; not `run`, whose call reaps it):
/// makes sure the reaper thread runs (started now, with the first such
/// child, so that a later drop needs no new thread). After the launch, so
/// that under a tight `RLIMIT_NPROC` the caller's child gets the process
/// slot before the library's thread does; without a thread, [`prepare`]
/// and every drop sweep instead.
pub(crate) fn started() {
    ensure_thread();
}

fn ensure_thread() {
    if THREAD.load(Ordering::Acquire) {
        return;
    }
    if THREAD
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    let started = std::thread::Builder::new()
        .name("spawn-reaper".into())
        .spawn(run)
        .is_ok();
    if !started {
        // No thread now (out of memory or threads): try again on the next
        // spawn or drop; they sweep meanwhile.
        THREAD.store(false, Ordering::SeqCst);
    }
}

/// Reaps `process` once it exits, in the background.
pub(crate) fn reap_later(process: Arc<Process>) {
    // Already gone? Then no thread is needed.
    if let Ok(Some(_)) = process.try_reap()
        && process.cgroup_drained()
    {
        return;
    }
    let watched = process.pidfd().is_some_and(|fd| {
        epoll().is_some_and(|ep| {
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            ep.add(fd, u64::from(process.pid_u32()), interest).is_ok()
        })
    });
    pending().push((process, watched));
    sweep();
    sweep_engines();
    ensure_thread();
}

/// How many engines are still driven through their teardown.
#[must_use]
pub fn engine_count() -> usize {
    ENGINES_HELD.load(Ordering::SeqCst)
}

/// How many dropped children are still waited for (for tests and the soak).
#[must_use]
pub fn pending_count() -> usize {
    pending().len()
}

fn run() {
    let mut ready = Vec::with_capacity(16);
    loop {
        // Children without a pidfd in the set, and cgroups still draining
        // after their child was reaped, are polled.
        let polled = pending()
            .iter()
            .any(|(p, watched)| !watched || p.contained_in_cgroup())
            || (ENGINE_UNWATCHED.load(Ordering::Relaxed) && engine_count() > 0);
        // Made here if no drop made it yet: a thread asleep without the set
        // would not see the first pidfd or engine handed to it.
        let ep = epoll();
        let mut timeout = if polled {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(1)
        };
        if let Some(at) = *ENGINES_WAKE.lock().unwrap_or_else(PoisonError::into_inner) {
            timeout = timeout.min(at.saturating_duration_since(Instant::now()));
        }
        match ep {
            Some(ep) => {
                let _ = ep.wait(&mut ready, 64, Some(timeout));
            }
            None => std::thread::sleep(timeout),
        }
        sweep();
        sweep_engines();
    }
}
