//! The state the [`Scheduler`](crate::Scheduler) keeps for one child: its
//! three pipes, its life cycle, and what goes into its [`Outcome`].
//!
//! Only plain data and small helpers live here; the transitions are in
//! `sched.rs`, where they can reach the scheduler's queues.

use crate::types::{
    ChildSpec, ChildState, ChildStats, CloseReason, Outcome, SignalsSent, Stream, Timer, Timestamp,
};

/// The index of a stream in [`Child::pipes`].
pub(crate) const STDIN: usize = 0;

/// The streams in [`Child::pipes`] order.
pub(crate) const STREAMS: [Stream; 3] = [Stream::Stdin, Stream::Stdout, Stream::Stderr];

/// The index of `stream` in [`Child::pipes`].
pub(crate) fn ix(stream: Stream) -> usize {
    match stream {
        Stream::Stdin => 0,
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    }
}

/// The index of `timer` in [`Child::timer_gen`].
pub(crate) fn timer_ix(timer: Timer) -> usize {
    match timer {
        Timer::Timeout => 0,
        Timer::KillGrace => 1,
        Timer::EofGrace => 2,
    }
}

/// After the EOF grace, at most this many more bytes are read from a pipe
/// that never reaches EOF (a grandchild that keeps writing) before it is
/// abandoned. Far above any pipe's capacity, so every byte written before
/// the grace ended is read, however late the driver gets to it.
pub(crate) const DRAIN_LIMIT: u64 = 16 << 20;

/// The timers in [`Child::timer_gen`] order.
pub(crate) const TIMERS: [Timer; 3] = [Timer::Timeout, Timer::KillGrace, Timer::EofGrace];

/// One pipe the driver holds for a child (the write end of its stdin, the
/// read end of its stdout or stderr).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pipe {
    /// The driver holds it and the core has not closed it.
    pub open: bool,
    /// An edge said it is ready, and no answer since said it would block.
    pub ready: bool,
    /// An edge arrived while a read or write was in flight: if that one
    /// answers "would block", the pipe is still ready.
    pub edge_in_flight: bool,
    /// A read or write was emitted and not answered; for stdin, its length.
    pub in_flight: Option<usize>,
    /// A work item for this pipe is in the scheduler's work queue.
    pub queued: bool,
    /// Its sink is full (outputs only).
    pub paused: bool,
    /// The interest the driver was last told (`false` until told).
    pub interest: bool,
    /// An interest check for this pipe is in the pending-action queue.
    pub interest_queued: bool,
    /// Reads in a row without giving others a turn.
    pub streak: u32,
    /// Closed without EOF after the EOF grace.
    pub abandoned: bool,
    /// The EOF grace ended while it was open: read on until a read would
    /// block (or [`DRAIN_LIMIT`] more bytes came), then close it as
    /// abandoned.
    pub draining: bool,
    /// Bytes read since `draining` was set.
    pub drained: u64,
    /// Stdin only: the child closed it (or exited) before taking all input.
    pub broken: bool,
    /// A close decided while a read or write was in flight: done when it
    /// is answered (so the driver never closes an fd under an operation,
    /// and no answered byte goes uncounted).
    pub close_pending: Option<CloseReason>,
}

/// One child of the scheduler.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    pub spec: ChildSpec,
    pub stats: ChildStats,
    /// Stdin, stdout, stderr (see [`ix`]).
    pub pipes: [Pipe; 3],
    pub status: Option<i32>,
    pub spawn_failed: bool,
    pub timed_out: bool,
    pub terminated: bool,
    /// TERM was queued (the escalation started); `signals` says what was
    /// actually emitted.
    pub stopping: bool,
    pub signals: SignalsSent,
    pub started_at: Option<Timestamp>,
    pub exited_at: Option<Timestamp>,
    /// Generation of each timer (see [`timer_ix`]); bumped to cancel, so
    /// stale heap entries are recognised and skipped.
    pub timer_gen: [u32; 3],
    /// Set when finished.
    pub outcome: Option<Outcome>,
}

impl Child {
    pub fn new(spec: ChildSpec) -> Self {
        Child {
            spec,
            stats: ChildStats::default(),
            pipes: [Pipe::default(); 3],
            status: None,
            spawn_failed: false,
            timed_out: false,
            terminated: false,
            stopping: false,
            signals: SignalsSent::default(),
            started_at: None,
            exited_at: None,
            timer_gen: [0; 3],
            outcome: None,
        }
    }

    pub fn state(&self) -> ChildState {
        self.stats.state
    }

    /// Bytes of input still to write.
    pub fn input_left(&self) -> u64 {
        self.spec.input_len.saturating_sub(self.stats.input_written)
    }

    /// Whether the driver should watch pipe `i`.
    pub fn wants_interest(&self, i: usize) -> bool {
        let p = &self.pipes[i];
        p.open && !p.paused && (i != STDIN || self.input_left() > 0)
    }

    /// Whether a read (outputs) or write (stdin) of pipe `i` may be emitted.
    pub fn can_work(&self, i: usize) -> bool {
        let p = &self.pipes[i];
        p.open
            && p.ready
            && p.in_flight.is_none()
            && p.close_pending.is_none()
            && !p.paused
            && (i != STDIN || self.input_left() > 0)
    }

    /// Exited (or never started) and every held pipe closed.
    pub fn is_complete(&self) -> bool {
        match self.state() {
            ChildState::Starting => self.spawn_failed,
            ChildState::Exited => self.pipes.iter().all(|p| !p.open),
            _ => false,
        }
    }

    pub fn outcome(&self, now: Timestamp) -> Outcome {
        Outcome {
            status: self.status,
            spawn_failed: self.spawn_failed,
            timed_out: self.timed_out,
            terminated: self.terminated,
            signals_sent: self.signals,
            input_written: self.stats.input_written,
            input_broken: self.pipes[STDIN].broken,
            stdout_bytes: self.stats.stdout_bytes,
            stderr_bytes: self.stats.stderr_bytes,
            stdout_abandoned: self.pipes[1].abandoned,
            stderr_abandoned: self.pipes[2].abandoned,
            started_at: self.started_at,
            exited_at: self.exited_at,
            finished_at: now,
        }
    }
}
