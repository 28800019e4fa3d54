//! [`Spawner`]: an engine's starts made on a thread of their own while the
//! engine goes on reading, writing and reaping its running children.
//!
//! A start blocks the thread that makes it until the child has exec'd
//! (`clone3` and `posix_spawn` are `vfork`s): a few hundred microseconds, more when the
//! CPUs are busy with the children already running, since the new child
//! needs one to get to its `exec`. On the driving thread that is time in
//! which no pipe is read: 500 children × 1 MiB spent a third of their wall
//! time there. So once an engine has a running child to look after, its
//! next starts of children with pipes go to its spawner thread (one per
//! engine, made on the first such start, in the order the core asked for
//! them, at most two at a time: `spawn_core`'s `STARTS_OUT`), and each result
//! comes back through a [`Doorbell`] in the engine's epoll set
//! (`Token::Spawned`) to the same second half of the start the engine
//! runs for a start made in place (`Engine::launched`).
//!
//! Only while output streams in: the engine hands a start over when it has
//! read at least [`BULK_READ`] bytes since its last start. A lone child, a
//! pipeline stage (stages start in their leader's turn, with its pid), a
//! child without pipes and every start while the pipes are quiet start in
//! place: with nothing to read meanwhile, the hand-over only adds two
//! wake-ups per start (5,000 `/bin/true` through a `Group` took 1.1× the
//! time with it; 2,000 `echo` jobs through `spawn many -j 64` 1.09×).
//!
//! Dropping the spawner stops its thread after the start in progress;
//! starts not made yet are not made, and a child started but not yet taken
//! by the engine is killed and reaped in the background (the engine that
//! owned it is gone or unwinding).

use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::Error;
use crate::doorbell::Doorbell;
use crate::launch::PidfdPlan;
use crate::launch::{Started, launch_alone};
use crate::wiring::Wiring;

/// Bytes read since the engine's last start at or above which its next
/// start is made on the spawner thread: a default pipe's capacity, so
/// output that would fill a pipe per start (1 MiB per child) is read during
/// the starts, and a job's few lines (`echo`) are not.
pub(super) const BULK_READ: usize = 64 << 10;

/// A start for the spawner thread: the slot it is for and its wiring.
pub(super) struct Job {
    pub slot: usize,
    pub wiring: Box<Wiring>,
    pub pidfd: PidfdPlan,
    /// The engine's [`Driving`](super::Driving).
    pub driving: super::Driving,
}

/// A start made: the wiring back (for a deferred start's retry) and what
/// the launch gave.
pub(super) struct Done {
    pub slot: usize,
    pub wiring: Box<Wiring>,
    pub pidfd: PidfdPlan,
    pub result: Result<Started, Error>,
}

#[derive(Default)]
struct Queues {
    jobs: VecDeque<Job>,
    done: Vec<Done>,
    closed: bool,
}

struct Shared {
    queues: Mutex<Queues>,
    /// Signalled when a job comes or the spawner closes.
    job_came: Condvar,
    /// Rung while `done` has results.
    done_bell: Doorbell,
}

impl Shared {
    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An engine's spawner thread: see the module docs.
pub(crate) struct Spawner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// An empty list with capacity, swapped for the thread's results (the
    /// two lists change hands; no allocation per start).
    spare: Vec<Done>,
}

impl Spawner {
    /// A spawner with its thread running; `None` when no doorbell or
    /// thread can be had (the engine then starts in place).
    pub(super) fn new() -> Option<Spawner> {
        let done_bell = Doorbell::new().ok()?;
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues::default()),
            job_came: Condvar::new(),
            done_bell,
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("spawn-starter".into())
            .spawn(move || serve(&theirs))
            .ok()?;
        Some(Spawner {
            shared,
            thread: Some(thread),
            spare: Vec::new(),
        })
    }

    /// The fd of the bell the engine watches: readable while results wait.
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.shared.done_bell.fd()
    }

    /// Hands a start to the thread.
    pub(super) fn submit(&mut self, job: Job) {
        self.shared.queues().jobs.push_back(job);
        self.shared.job_came.notify_one();
    }

    /// The starts made since the last call, in the order made.
    /// Hand the list back empty with [`give_back`](Self::give_back).
    pub(super) fn take_done(&mut self) -> Vec<Done> {
        self.shared.done_bell.drain();
        let mut done = std::mem::take(&mut self.spare);
        std::mem::swap(&mut done, &mut self.shared.queues().done);
        done
    }

    /// A list [`take_done`](Self::take_done) gave, emptied, for the next.
    pub(super) fn give_back(&mut self, mut done: Vec<Done>) {
        done.clear();
        self.spare = done;
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.shared.queues().closed = true;
        self.shared.job_came.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Started for an engine that is gone: nobody will watch them.
        for done in std::mem::take(&mut self.shared.queues().done) {
            if let Ok(started) = done.result {
                let process = Arc::new(started.process);
                process.kill_all();
                crate::reaper::reap_later(process);
            }
        }
    }
}

/// The spawner thread: takes jobs in order until closed, starts each as the
/// engine would in place, and posts the result.
fn serve(shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queues();
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.jobs.pop_front() {
                    break job;
                }
                q = shared
                    .job_came
                    .wait(q)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = launch_alone(&job.wiring, job.pidfd, job.driving);
        shared.queues().done.push(Done {
            slot: job.slot,
            wiring: job.wiring,
            pidfd: job.pidfd,
            result,
        });
        shared.done_bell.ring();
    }
}
