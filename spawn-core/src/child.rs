//! The state the [`Scheduler`](crate::Scheduler) keeps for one child: its
//! three pipes, its life cycle, its process group, and what goes into its
//! [`Outcome`].
//!
//! Only plain data and small helpers live here; the transitions are in
//! `sched.rs` and `teardown.rs`, where they can reach the scheduler's queues.

use core::time::Duration;

use crate::types::{
    ChildSpec, ChildState, ChildStats, CloseReason, GroupOutcome, Outcome, PerStream, SignalsSent,
    Stream, Timer, Timestamp,
};

/// The index of `timer` in [`Child::timer_gen`].
pub(crate) fn timer_ix(timer: Timer) -> usize {
    match timer {
        Timer::Timeout => 0,
        Timer::KillGrace => 1,
        Timer::EofGrace => 2,
        Timer::GroupProbe => 3,
        Timer::TeardownLimit => 4,
        Timer::Idle => 5,
    }
}

/// The timers in [`Child::timer_gen`] order.
pub(crate) const TIMERS: [Timer; 6] = [
    Timer::Timeout,
    Timer::KillGrace,
    Timer::EofGrace,
    Timer::GroupProbe,
    Timer::TeardownLimit,
    Timer::Idle,
];

/// After the EOF grace, at most this many more bytes are read from a pipe
/// that never reaches EOF (a grandchild that keeps writing) before it is
/// abandoned. Far above any pipe's capacity, so every byte written before
/// the grace ended is read, however late the driver gets to it.
pub(crate) const DRAIN_LIMIT: u64 = 16 << 20;

/// The first delay between probes of a group that a teardown waits for.
pub(crate) const PROBE_FIRST: Duration = Duration::from_millis(1);

/// The longest delay between probes (the delay doubles up to it).
pub(crate) const PROBE_MAX: Duration = Duration::from_millis(50);

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

/// A probe of the group that was emitted and not answered yet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe {
    /// It was emitted after the leader's exit was handled: "empty" is then
    /// for good (nothing of ours can join a group whose leader is a zombie
    /// and whose members are gone).
    pub after_exit: bool,
    /// It was emitted once the child was settled (exited, pipes closed,
    /// members exited): its answer decides about leftovers.
    pub settled: bool,
    /// It was emitted after the teardown's limit passed: a "live" answer
    /// (after the exit) makes the teardown give up.
    pub after_limit: bool,
}

impl Probe {
    /// Whether this probe's answer tells what a probe emitted now would.
    pub fn covers(self, now: Probe) -> bool {
        (self.after_exit || !now.after_exit)
            && (self.settled || !now.settled)
            && (self.after_limit || !now.after_limit)
    }
}

/// What the core knows of the process group a child leads
/// (`signal_group`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Group {
    /// A probe is in flight.
    pub probe: Option<Probe>,
    /// A probe is in the pending-action queue.
    pub probe_queued: bool,
    /// Probe again as soon as the one in flight is answered.
    pub reprobe: bool,
    /// The next delay of the [`Timer::GroupProbe`].
    pub probe_delay: Duration,
    /// A probe emitted after the exit answered "empty".
    pub empty: bool,
    /// The teardown gave up ([`Timer::TeardownLimit`], and a probe after
    /// the exit still found the group live).
    pub gave_up: bool,
    /// The [`Timer::TeardownLimit`] passed: the next probe after the exit
    /// decides (empty: stopped; live: give up).
    pub limit_passed: bool,
    /// A settled probe answered "live" and leftovers are left alone.
    pub left: bool,
    /// Members (`member_of` this child) started and not exited.
    pub members: u32,
}

/// One child of the scheduler.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    pub spec: ChildSpec,
    /// The leader whose group this child joined: its slot and epoch.
    pub leader: Option<(usize, u32)>,
    /// Counted in its leader's `group.members` (started, not exited).
    pub in_group: bool,
    pub stats: ChildStats,
    pub pipes: PerStream<Pipe>,
    pub status: Option<i32>,
    pub spawn_failed: bool,
    pub timed_out: bool,
    /// Stopped for its idle timeout.
    pub idle_timed_out: bool,
    /// When output was last read (the idle timer's base).
    pub last_output: Timestamp,
    pub terminated: bool,
    /// TERM was queued (the escalation started); `signals` says what was
    /// actually emitted.
    pub stopping: bool,
    pub signals: SignalsSent,
    pub started_at: Option<Timestamp>,
    pub exited_at: Option<Timestamp>,
    /// The group it leads (meaningful with `spec.signal_group`).
    pub group: Group,
    /// Generation of each timer (see [`timer_ix`]); bumped to cancel, so
    /// stale heap entries are recognised and skipped. Carried over (and
    /// bumped) when the slot is reused.
    pub timer_gen: [u32; TIMERS.len()],
    /// How many children used this slot before: work items carry it, so
    /// an item of a removed child is not taken for its successor's.
    pub epoch: u32,
    /// Set when finished.
    pub outcome: Option<Outcome>,
    /// [`Output::Finished`](crate::Output::Finished) was emitted.
    pub reported: bool,
    /// Taken out with [`Scheduler::remove`](crate::Scheduler::remove): the
    /// slot is free for the next `add`.
    pub removed: bool,
}

impl Child {
    pub fn new(spec: ChildSpec, leader: Option<(usize, u32)>) -> Self {
        Child {
            spec,
            leader,
            in_group: false,
            stats: ChildStats::default(),
            pipes: PerStream::default(),
            status: None,
            spawn_failed: false,
            timed_out: false,
            idle_timed_out: false,
            last_output: Timestamp::ZERO,
            terminated: false,
            stopping: false,
            signals: SignalsSent::default(),
            started_at: None,
            exited_at: None,
            group: Group {
                probe_delay: PROBE_FIRST,
                ..Group::default()
            },
            timer_gen: [0; TIMERS.len()],
            epoch: 0,
            outcome: None,
            reported: false,
            removed: false,
        }
    }

    /// A new child in the slot of `old` (removed): every timer entry and
    /// work item of `old` is stale for it.
    pub fn reusing(old: &Child, spec: ChildSpec, leader: Option<(usize, u32)>) -> Self {
        Child {
            timer_gen: old.timer_gen.map(|g| g.wrapping_add(1)),
            epoch: old.epoch.wrapping_add(1),
            ..Child::new(spec, leader)
        }
    }

    pub fn state(&self) -> ChildState {
        self.stats.state
    }

    /// It leads a group the run owns.
    pub fn leads(&self) -> bool {
        self.spec.signal_group
    }

    /// Whether what its group holds after it matters: it is being stopped,
    /// was terminated, or its spec ends leftovers (a timeout,
    /// `end_leftovers`). A leader without any of these is finished when
    /// settled, its group not probed ([`GroupOutcome::NotProbed`]).
    pub fn watches_group(&self) -> bool {
        self.leads()
            && (self.stopping
                || self.terminated
                || self.spec.timeout.is_some()
                || self.spec.end_leftovers)
    }

    /// Bytes of input still to write.
    pub fn input_left(&self) -> u64 {
        self.spec.input_len.saturating_sub(self.stats.input_written)
    }

    /// Whether the driver should watch pipe `s`.
    pub fn wants_interest(&self, s: Stream) -> bool {
        let p = &self.pipes[s];
        p.open && !p.paused && (s != Stream::Stdin || self.input_left() > 0)
    }

    /// Whether a read (outputs) or write (stdin) of pipe `s` may be emitted.
    pub fn can_work(&self, s: Stream) -> bool {
        let p = &self.pipes[s];
        p.open
            && p.ready
            && p.in_flight.is_none()
            && p.close_pending.is_none()
            && !p.paused
            && (s != Stream::Stdin || self.input_left() > 0)
    }

    /// Exited, every held pipe closed and (leaders) every started member
    /// exited: only the group's answer may be missing.
    pub fn settled(&self) -> bool {
        self.state() == ChildState::Exited
            && Stream::ALL.iter().all(|&s| !self.pipes[s].open)
            && self.group.members == 0
    }

    /// What a probe emitted now would be asked in.
    pub fn probe_now(&self) -> Probe {
        Probe {
            after_exit: self.state() == ChildState::Exited,
            settled: self.settled(),
            after_limit: self.group.limit_passed,
        }
    }

    /// Done: exited (or never started), every held pipe closed and, for a
    /// leader, its group question answered with no probe in flight.
    pub fn is_complete(&self) -> bool {
        match self.state() {
            ChildState::Starting => self.spawn_failed,
            ChildState::Exited if self.watches_group() => {
                let g = &self.group;
                self.settled()
                    && g.probe.is_none()
                    && !g.probe_queued
                    && (g.empty || g.gave_up || g.left)
            }
            ChildState::Exited => self.settled(),
            _ => false,
        }
    }

    fn group_outcome(&self) -> GroupOutcome {
        let g = &self.group;
        if !self.leads() || self.started_at.is_none() {
            GroupOutcome::NotOwned
        } else if !self.watches_group() {
            GroupOutcome::NotProbed
        } else if g.empty {
            if self.signals.steps > 0 {
                GroupOutcome::Stopped
            } else {
                GroupOutcome::Empty
            }
        } else {
            GroupOutcome::Left
        }
    }

    pub fn outcome(&self, now: Timestamp) -> Outcome {
        Outcome {
            status: self.status,
            spawn_failed: self.spawn_failed,
            timed_out: self.timed_out,
            idled: self.spec.idle_timeout.filter(|_| self.idle_timed_out),
            terminated: self.terminated,
            signals_sent: self.signals,
            input_written: self.stats.input_written,
            input_broken: self.pipes.stdin.broken,
            stdout_bytes: self.stats.stdout_bytes,
            stderr_bytes: self.stats.stderr_bytes,
            stdout_abandoned: self.pipes.stdout.abandoned,
            stderr_abandoned: self.pipes.stderr.abandoned,
            started_at: self.started_at,
            exited_at: self.exited_at,
            finished_at: now,
            group: self.group_outcome(),
        }
    }
}
