//! A [`Slot`]: one child of the engine, from its [`Wiring`] to its finish,
//! and how it starts: launched from its wiring (through `crate::launch`),
//! or adopted already running (a `Child`'s communicate or
//! wait).

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{CloseReason, Outcome, PerStream, Stream};

use super::pipe_cap::PipeCap;

use crate::Error;
use crate::error::StreamName;
use crate::launch::StageRole;
use crate::process::Process;
use crate::wiring::Wiring;

/// How a slot's process comes to be when the core says `Start`.
pub(crate) enum Start {
    /// Launch this wiring.
    Launch(Box<Wiring>),
    /// Already running: register the fds the slot holds.
    Adopted,
}

/// Who ends the process if the engine is dropped before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The engine started it: it kills and reaps it.
    Engine,
    /// A `Child` owns it and decides.
    Child,
}

/// Whether a child kept aside holds its pidfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AsidePidfd {
    /// It has one (a wait with a deadline polls it).
    Held,
    /// Started without it ([`PidfdPlan::Later`](crate::launch::PidfdPlan::Later)): opened when something
    /// first needs it.
    Later,
}

/// How the exit of one child is watched (decided by the exit watch,
/// `exit_watch/mod.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Not started, or its exit was seen: nothing watches it.
    #[default]
    Nothing,
    /// Waited for on its own while nothing else is watched.
    Aside(AsidePidfd),
    /// Its pidfd is in the set.
    InSet,
    /// No pidfd: polled.
    Polled,
}

/// Where a slot is in its life. The changes: `Queued` → `Starting`
/// (made on the spawner thread) → `Started`, or `Queued` → `Started` (in
/// place, or an adopted child registered); a deferred start goes back to
/// `Queued` with its start; any phase → `Finished` when the core is done
/// with the child.
pub(crate) enum Phase {
    /// Waiting for the core's `Start`: how its process comes to be.
    Queued(Start),
    /// Its start is being made on the spawner thread.
    Starting,
    /// Its start was made: its process runs (or ran: its exit may be seen
    /// already), or the start failed and the core is about to finish it.
    Started,
    /// The core is done with it, since `at`, with this outcome.
    Finished { at: Instant, outcome: Outcome },
}

/// One child of the engine.
pub(crate) struct Slot {
    pub name: String,
    /// Where it is in its life.
    pub phase: Phase,
    pub stage: Option<StageRole>,
    pub process: Option<Arc<Process>>,
    pub fds: PerStream<Option<OwnedFd>>,
    pub input: Option<Arc<Vec<u8>>>,
    /// Indexes into the engine's sinks (stdout, stderr).
    pub sinks: PerStream<Option<usize>>,
    pub error: Option<Error>,
    pub overflow: Option<(StreamName, usize)>,
    /// The raw wait status, once the exit was seen.
    pub exit: Option<i32>,
    /// Input bytes still in the stdin pipe when it was closed because the
    /// child exited or closed its end: written, never taken.
    pub input_unread: u64,
    pub spawn_time: Duration,
    pub started: Option<Instant>,
    pub owner: Owner,
    /// The core keeps the child unreaped until it finishes (it leads a
    /// group under teardown: its zombie pins the group id).
    pub keep_unreaped: bool,
    pub caps: PerStream<PipeCap>,
    /// The command chose its pipe capacity: leave it.
    pub fixed_cap: bool,
    /// The first signal of its teardown.
    pub stop: crate::stop_sequence::StopPlan,
    /// How its exit is watched (see `exit_watch/mod.rs`).
    pub watch: Watch,
    /// Signals the forwarder received meanwhile (number, from the
    /// terminal), passed on once it has started.
    pub held_signals: Vec<(crate::Signal, bool)>,
    /// A [`CancelToken`](crate::CancelToken) it was given was cancelled
    /// before it finished: it was asked to stop, and a stop ends it with
    /// `Error::Cancelled`.
    pub cancelled: bool,
}

impl Slot {
    pub(crate) fn new(name: String, start: Start, owner: Owner) -> Slot {
        Slot {
            name,
            phase: Phase::Queued(start),
            stage: None,
            process: None,
            fds: PerStream::default(),
            input: None,
            sinks: PerStream::default(),
            error: None,
            overflow: None,
            exit: None,
            input_unread: 0,
            spawn_time: Duration::ZERO,
            started: None,
            owner,
            keep_unreaped: false,
            caps: PerStream::default(),
            fixed_cap: false,
            stop: crate::stop_sequence::StopPlan::two_step(
                crate::Signal::TERM,
                spawn_core::DEFAULT_KILL_GRACE,
            ),
            watch: Watch::Nothing,
            held_signals: Vec::new(),
            cancelled: false,
        }
    }

    /// Whether the core is done with it.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished { .. })
    }

    /// What the core made of it, once finished.
    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Finished { outcome, .. } => Some(outcome),
            _ => None,
        }
    }

    /// When the core was done with it.
    pub(crate) fn finished_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Finished { at, .. } => Some(at),
            _ => None,
        }
    }

    /// The stdin pipe is about to be closed because the child exited or
    /// closed its end (`reason`): notes the input still in it, which the
    /// child never took (`Report::stdin_bytes` leaves it out). Any other
    /// close (all input written while the child runs) notes nothing: the
    /// child may still read what is in the pipe.
    pub(crate) fn note_unread_input(&mut self, reason: CloseReason) {
        if matches!(reason, CloseReason::Broken | CloseReason::ChildExited)
            && let Some(fd) = &self.fds.stdin
        {
            self.input_unread = spawn_sys::pipe::unread(fd).unwrap_or(0);
        }
    }

    /// The sink index of an output stream.
    pub(crate) fn sink_of(&self, stream: Stream) -> Option<usize> {
        match stream {
            Stream::Stdin => None,
            s => self.sinks[s],
        }
    }
}
