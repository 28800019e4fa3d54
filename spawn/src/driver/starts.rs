//! How a child starts: [`Starts`], what the engine's starts share: the spawner thread (made
//! once output streams in, see `spawner.rs`), the bytes read since the last
//! start (whether it is streaming), the plumbing between pipeline stages
//! (with where a pipeline's final stdout goes), and who drives the engine to
//! its end (which decides when the reaper thread is made).

use std::sync::Arc;

use spawn_core::{ChildId, Event, Stream};
use spawn_sys::poll::Interest;

use super::Driving;
use super::outbox::Outbox;
use super::poller::Poller;
use super::slot::{Phase, Slot, Start};
use super::spawner::{BULK_READ, Done, Job, Spawner};
use super::token::Token;
use crate::Error;
use crate::launch::PidfdPlan;
use crate::launch::{StagePlumbing, Started, launch_wiring};
use crate::wiring::Wiring;

/// The state the engine's starts share: see the module docs.
pub(crate) struct Starts {
    /// Makes the starts while children run, once needed.
    pub(super) spawner: Option<Spawner>,
    /// Bytes read from children's pipes since the last start.
    read_since_start: usize,
    pub(super) plumbing: StagePlumbing,
    /// Who drives this engine to its end.
    pub(super) driving: Driving,
}

impl Default for Starts {
    fn default() -> Self {
        Starts {
            spawner: None,
            read_since_start: 0,
            plumbing: StagePlumbing::default(),
            driving: Driving::Held,
        }
    }
}

impl Starts {
    /// `n` bytes were read from a child's pipe.
    pub(super) fn read(&mut self, n: usize) {
        self.read_since_start = self.read_since_start.saturating_add(n);
    }

    /// A start is being made: whether output streamed in since the last
    /// one (at least [`BULK_READ`] bytes), which sends a start with pipes
    /// to the spawner thread. Counting starts again from here.
    pub(super) fn streaming(&mut self) -> bool {
        std::mem::take(&mut self.read_since_start) >= BULK_READ
    }

    /// What an engine handed to the reaper keeps: the spawner and the
    /// plumbing; it is driven from there as a held engine.
    pub(super) fn take(&mut self) -> Starts {
        Starts {
            spawner: self.spawner.take(),
            read_since_start: 0,
            plumbing: std::mem::take(&mut self.plumbing),
            driving: Driving::Held,
        }
    }
}

/// Whether a start failed for want of what running children hold and give
/// back when they finish: fds (`EMFILE`, `ENFILE`) or processes (`EAGAIN`
/// from fork under `RLIMIT_NPROC`).
fn lacks_what_children_free(e: &Error) -> bool {
    match e {
        Error::TooManyOpenFiles { .. } => true,
        Error::Spawn { source, .. } => source.raw_os_error() == Some(libc::EAGAIN),
        _ => false,
    }
}

/// What the loop decided of a start before it is made.
pub(super) struct StartPlan {
    /// The child holds pipes (the set is made: the loop made it).
    pub holds_pipes: bool,
    /// Other children run, whose pipes a start on the spawner thread
    /// would let the loop read meanwhile.
    pub others_run: bool,
    /// Whether its pidfd is opened at its start.
    pub pidfd: PidfdPlan,
}

/// What became of a start.
#[allow(clippy::large_enum_variant)] // moved out at once, never stored
pub(super) enum Begun {
    /// Handed to the spawner thread: it ends when its doorbell rings
    /// ([`Starts::take_done`]).
    OnSpawner,
    /// Launched here: what the launch gave, for [`take_launch`].
    Launched(Box<Wiring>, Result<Started, Error>),
    /// Already running (adopted): its pipes and exit are to be watched.
    Adopted,
}

impl Starts {
    /// Starts `slot` (queued, its phase now `Started`, or `Starting` on
    /// the spawner thread): launches its wiring here or on the spawner
    /// thread, as `plan` allows.
    pub(super) fn begin(
        &mut self,
        slot: &mut Slot,
        child: usize,
        plan: &StartPlan,
        poller: &Poller,
    ) -> Begun {
        let start = match std::mem::replace(&mut slot.phase, Phase::Started) {
            Phase::Queued(start) => Some(start),
            _ => None,
        };
        // A retry after a deferred start: the error that deferred it is
        // not this start's.
        slot.error = None;
        let Some(Start::Launch(wiring)) = start else {
            return Begun::Adopted;
        };
        let stage = slot.stage;
        // While output streams in from running children (at least
        // `BULK_READ` bytes read since the last start), a child with
        // pipes starts on the spawner thread (see `spawner.rs`), so that
        // the pipes are read during its spawn call. Else it starts in
        // place: a child without pipes, a lone child, a stage (in its
        // leader's turn), and any start while the pipes are quiet
        // (`true`, `echo`: nothing to read meanwhile, and the hand-over
        // would only add two wake-ups).
        let streaming = self.streaming();
        let driving = self.driving;
        if plan.holds_pipes
            && streaming
            && stage.is_none()
            && plan.others_run
            && let Some(sp) = self.spawner(poller)
        {
            slot.phase = Phase::Starting;
            sp.submit(Job {
                slot: child,
                wiring,
                pidfd: plan.pidfd,
                driving,
            });
            return Begun::OnSpawner;
        }
        let res = launch_wiring(&wiring, stage, &mut self.plumbing, plan.pidfd, self.driving);
        Begun::Launched(wiring, res)
    }

    /// The engine's spawner, made now (its doorbell in the set, which is
    /// made) if there is none; `None` when none can be had.
    fn spawner(&mut self, poller: &Poller) -> Option<&mut Spawner> {
        if self.spawner.is_none() {
            let sp = Spawner::new()?;
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            if !poller.add(sp.fd(), Token::Spawned, interest) {
                return None;
            }
            self.spawner = Some(sp);
        }
        self.spawner.as_mut()
    }

    /// The starts the spawner thread made since the last look, in the
    /// order made (its doorbell was readable); [`give_back`](Self::give_back)
    /// returns the list.
    pub(super) fn take_done(&mut self) -> Vec<Done> {
        self.spawner
            .as_mut()
            .map_or_else(Vec::new, Spawner::take_done)
    }

    /// Returns the list [`take_done`](Self::take_done) gave.
    pub(super) fn give_back(&mut self, done: Vec<Done>) {
        if let Some(sp) = self.spawner.as_mut() {
            sp.give_back(done);
        }
    }
}

/// The second half of a start, in place or on the spawner thread: the
/// slot takes what the launch gave, and the signals the forwarder held
/// for it meanwhile are returned, to be passed on; or the start failed
/// (see [`failed`]), and `None`.
pub(super) fn take_launch(
    slot: &mut Slot,
    child: usize,
    wiring: Box<Wiring>,
    res: Result<Started, Error>,
    out: &mut Outbox,
) -> Option<Vec<(crate::Signal, bool)>> {
    slot.phase = Phase::Started;
    let held = std::mem::take(&mut slot.held_signals);
    match res {
        Ok(s) => {
            // The command (and any fd the caller handed in) is dropped
            // here: the parent keeps no copy it was not asked to keep.
            drop(wiring);
            slot.process = Some(Arc::new(s.process));
            slot.fds = s.fds;
            slot.spawn_time = s.spawn_time;
            slot.started = Some(s.started);
            // Pipes the core does not manage (a merged stderr has none).
            for stream in [Stream::Stdout, Stream::Stderr] {
                if slot.sinks[stream].is_none() {
                    slot.fds[stream] = None;
                }
            }
            Some(held)
        }
        Err(e) => {
            failed(slot, child, Some(Start::Launch(wiring)), e, out);
            None
        }
    }
}

/// A start that failed: deferred (the start kept for the retry) when
/// what it lacked is what running children give back as they finish
/// (fds, processes) and it is no pipeline stage; else failed. The core
/// decides whether a deferral can wait (see `Event::StartDeferred`); the
/// error stays for when it cannot.
pub(super) fn failed(
    slot: &mut Slot,
    child: usize,
    start: Option<Start>,
    e: Error,
    out: &mut Outbox,
) {
    let id = ChildId(child);
    let deferrable = slot.stage.is_none()
        && matches!(start, Some(Start::Launch(_)))
        && lacks_what_children_free(&e);
    slot.error = Some(e);
    match start {
        Some(start) if deferrable => {
            slot.phase = Phase::Queued(start);
            out.event(Event::StartDeferred { child: id });
        }
        _ => out.event(Event::SpawnFailed { child: id }),
    }
}

#[cfg(test)]
mod tests {
    use super::{BULK_READ, Starts};

    /// A start after `BULK_READ` bytes streams; the next one, with nothing
    /// read since, does not.
    #[test]
    fn streaming_is_counted_from_the_last_start() {
        let mut s = Starts::default();
        s.read(BULK_READ - 1);
        assert!(!s.streaming());
        s.read(BULK_READ);
        assert!(s.streaming());
        assert!(!s.streaming(), "counted again from the last start");
    }
}
