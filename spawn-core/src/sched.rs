//! The [`Scheduler`]: the per-child machines and the queues over them.
//!
//! Work is kept in queues so that a turn touches only what is ready:
//!
//! - a FIFO of pipes ready for a read or a write (each queued at most once,
//!   thanks to a per-pipe flag; an item whose pipe changed since is skipped
//!   when it surfaces);
//! - a FIFO of pending actions (closes, signals, probes, interest changes,
//!   finish reports), checked again when emitted: a signal for a child that
//!   has exited since goes to its group only, or is dropped (its pid may be
//!   reused), an interest change that was undone is not emitted;
//! - a FIFO of children waiting for a running slot;
//! - a min-heap of timers with lazy deletion (see `timers.rs`);
//! - a free list of the slots of removed children.
//!
//! Every event and every poll is `O(1)` amortised (`O(log n)` for timers),
//! whatever the number of children. The process-group teardown is in
//! `teardown.rs`.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::child::{Child, Pipe};
use crate::starting::{START_BATCH, STARTS_OUT};
use crate::timers::Timers;
use crate::types::{
    Action, ChildId, ChildSpec, ChildState, ChildStats, CloseReason, Event, KillSignal, Outcome,
    Output, PerStream, SchedulerConfig, Stream, Timer, Timestamp, WaitReason,
};

/// An action decided but not emitted yet.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pending {
    Close {
        c: usize,
        s: Stream,
        reason: CloseReason,
    },
    Signal {
        c: usize,
        signal: KillSignal,
    },
    Probe {
        c: usize,
    },
    Interest {
        c: usize,
        s: Stream,
    },
    Finished {
        c: usize,
    },
}

/// A pipe that may be read or written.
#[derive(Clone, Copy, Debug)]
struct Work {
    c: usize,
    epoch: u32,
    s: Stream,
}

/// Drives any number of children: decides what to start, read, write,
/// close and signal, and when each is finished.
///
/// # The loop
///
/// 1. [`handle`](Self::handle) every event the driver has (readiness,
///    exits, answers to actions), and call [`terminate`](Self::terminate)
///    for children to stop;
/// 2. [`poll`](Self::poll) until it returns [`Output::Wait`], doing each
///    [`Action`] and handing its answer back with `handle` (at once, before
///    the next poll, is fine), and taking each [`Output::Finished`];
/// 3. wait for readiness, an exit, or the `deadline` of the `Wait`;
///    repeat until the `Wait` reason is [`WaitReason::Done`].
///
/// Children start in the order added, at most
/// [`max_running`](SchedulerConfig::max_running) at a time; a finished
/// child frees its slot for the next one. A long-lived loop takes finished
/// children out with [`remove`](Self::remove) so the scheduler does not grow.
///
/// # The contract with the driver
///
/// - After [`Action::Read`] of a stream the core waits for exactly one
///   answer for that stream ([`Event::Read`], [`Event::ReadWouldBlock`] or
///   [`Event::Eof`]) before it reads that stream again; after
///   [`Action::Write`], for one of [`Event::Wrote`],
///   [`Event::WriteWouldBlock`], [`Event::WriteBroken`]; after
///   [`Action::ProbeGroup`], for one of [`Event::GroupEmpty`],
///   [`Event::GroupLive`]. Other streams and children go on meanwhile.
/// - Readiness ([`Event::Readable`], [`Event::Writable`]) is an edge: the
///   core remembers it and keeps reading (writing) until an answer says it
///   would block, so an edge-triggered driver loses nothing. An edge that
///   arrives while a read (write) is in flight is remembered too: if that
///   one answers "would block", the core tries again.
/// - A level-triggered driver watches exactly the fds that the
///   [`Action::Interest`] actions say (each is emitted only when the
///   interest changes; `on` for every held pipe after `Started`, `off`
///   while a sink is full). [`Action::Close`] means the fd is closed and no
///   longer watched.
/// - Reads are fair: at most [`read_budget`](ChildSpec::read_budget)
///   reads of one stream in a row, then the stream goes to the back of the
///   queue of ready streams; every write goes to the back.
/// - No [`Signal`](Action::Signal) to the child itself after its
///   [`Event::Exited`] was handled (its pid may belong to someone else);
///   a child with [`signal_group`](ChildSpec::signal_group) is kept
///   unreaped by the driver until [`Output::Finished`], so signals to its
///   group ([`SignalTarget::Group`](crate::SignalTarget::Group)) stay safe
///   until then, and none comes after.
/// - Nothing depends on being polled continuously: the driver may stop at
///   a deadline of its own and resume later with the same scheduler. Only
///   the `now` values must not go backwards.
/// - Events that do not fit the state (about unknown, finished or removed
///   children, answers nothing asked for) are ignored.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    pub(crate) max_running: usize,
    pub(crate) children: Vec<Child>,
    /// Slots of removed children, reused by `add`.
    free: Vec<usize>,
    /// Children added and not removed.
    held: usize,
    pub(crate) start_queue: VecDeque<usize>,
    pub(crate) n_queued: usize,
    work: VecDeque<Work>,
    pub(crate) pending: VecDeque<Pending>,
    pub(crate) timers: Timers,
    pub(crate) running: usize,
    finished: usize,
    /// A start was deferred (`StartDeferred`): nothing starts until a
    /// running child finishes.
    pub(crate) stalled: bool,
    /// Children started since the last `Wait`.
    pub(crate) starts_in_turn: usize,
    /// Starts not answered yet (`Started`, `SpawnFailed`, `StartDeferred`):
    /// at most [`STARTS_OUT`] (see `starting.rs`).
    pub(crate) unanswered: usize,
}

impl Scheduler {
    /// An empty scheduler.
    #[must_use]
    pub fn new(config: SchedulerConfig) -> Self {
        Scheduler {
            max_running: config.max_running,
            ..Scheduler::default()
        }
    }

    /// Queues a child; it gets [`Action::Start`] when a running slot is
    /// free, in the order added. Zero `read_chunk`, `write_chunk` or
    /// `read_budget` are taken as 1; a `member_of` that names no live
    /// child with `signal_group` is taken as `None`.
    ///
    /// The id may be one that [`remove`](Self::remove) freed.
    pub fn add(&mut self, spec: ChildSpec) -> ChildId {
        let leader = spec.member_of.and_then(|l| {
            let c = self.index(l)?;
            let ch = &self.children[c];
            (ch.leads() && ch.state() != ChildState::Finished).then_some((c, ch.epoch))
        });
        let spec = ChildSpec {
            read_chunk: spec.read_chunk.max(1),
            write_chunk: spec.write_chunk.max(1),
            read_budget: spec.read_budget.max(1),
            member_of: leader.map(|(c, _)| ChildId(c)),
            ..spec
        };
        let c = match self.free.pop() {
            Some(c) => {
                self.children[c] = Child::reusing(&self.children[c], spec, leader);
                c
            }
            None => {
                // Most schedulers hold one child (a run, a `Child`): the
                // first gets room for exactly one, not the four a growing
                // `Vec` would make.
                if self.children.capacity() == 0 {
                    self.children.reserve_exact(1);
                }
                self.children.push(Child::new(spec, leader));
                self.children.len() - 1
            }
        };
        self.held += 1;
        self.start_queue.push_back(c);
        self.n_queued += 1;
        ChildId(c)
    }

    /// Takes a finished child out, once its [`Output::Finished`] was
    /// emitted, and returns its outcome; `None` if it is not finished (or
    /// not reported yet), unknown, or removed already. Its slot is freed
    /// and its `ChildId` may be handed out again by a later
    /// [`add`](Self::add): the driver must not send events about a
    /// removed id. `O(1)`.
    pub fn remove(&mut self, child: ChildId) -> Option<Outcome> {
        let c = self.index(child)?;
        let ch = &mut self.children[c];
        if ch.state() != ChildState::Finished || !ch.reported {
            return None;
        }
        ch.removed = true;
        self.held -= 1;
        self.finished -= 1;
        self.free.push(c);
        ch.outcome.take()
    }

    /// Hands the core the stdin pipe of `child`, added without one
    /// (`ChildSpec::stdin` false), with `input_len` bytes to write: input
    /// given after the driving started (a `communicate` after the child's
    /// lines were read). A running child's pipe is open from now on (an
    /// `Interest` for it follows; the driver watches it for writability
    /// with the others), a child still starting gets it at its `Started`.
    /// Returns `false`, and the driver closes the pipe, when the child
    /// holds a stdin already or has exited: then the input has nowhere to
    /// go, and its outcome says `input_broken`. `O(1)`.
    pub fn add_stdin(&mut self, child: ChildId, input_len: u64) -> bool {
        let Some(c) = self.index(child) else {
            return false;
        };
        let ch = &mut self.children[c];
        if ch.spec.stdin {
            return false;
        }
        match ch.state() {
            ChildState::Queued | ChildState::Starting => {
                ch.spec.stdin = true;
                ch.spec.input_len = input_len;
                true
            }
            ChildState::Running => {
                ch.spec.stdin = true;
                ch.spec.input_len = input_len;
                ch.pipes.stdin = Pipe {
                    open: true,
                    ..Pipe::default()
                };
                self.interest_changed(c, Stream::Stdin);
                if self.children[c].input_left() == 0 {
                    self.close(c, Stream::Stdin, CloseReason::InputDone);
                }
                true
            }
            _ => {
                ch.pipes.stdin.broken |= input_len > 0;
                false
            }
        }
    }

    /// Whether every child held is finished and reported.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished == self.held && self.pending.is_empty()
    }

    /// Children started (or starting) and not finished.
    #[must_use]
    pub fn running(&self) -> usize {
        self.running
    }

    /// Children waiting for a running slot.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.n_queued
    }

    /// Children finished and not removed.
    #[must_use]
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Children added and not removed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no child is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Progress of `child` so far: bytes read and written, and its state.
    #[must_use]
    pub fn stats(&self, child: ChildId) -> Option<&ChildStats> {
        self.get(child).map(|c| &c.stats)
    }

    /// The outcome of `child`, once it is finished (the same value that
    /// [`Output::Finished`] carries).
    #[must_use]
    pub fn outcome(&self, child: ChildId) -> Option<&Outcome> {
        self.get(child)?.outcome.as_ref()
    }

    /// The spec `child` was added with (chunk sizes and budget at least 1,
    /// `member_of` as understood).
    #[must_use]
    pub fn spec(&self, child: ChildId) -> Option<&ChildSpec> {
        self.get(child).map(|c| &c.spec)
    }

    /// Takes in what happened. See the type's documentation for the
    /// contract; events that do not fit the state are ignored.
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        match event {
            Event::Started { child } => self.started(child, now),
            Event::SpawnFailed { child } => self.spawn_failed(child, now),
            Event::StartDeferred { child } => self.start_deferred(child, now),
            Event::Readable { child, stream } => self.edge(child, output(stream)),
            Event::Writable { child } => self.edge(child, Some(Stream::Stdin)),
            Event::Read {
                child,
                stream,
                n: 0,
            }
            | Event::Eof { child, stream } => {
                self.eof(child, output(stream), now);
            }
            Event::Read { child, stream, n } => self.read(child, output(stream), n, now),
            Event::ReadWouldBlock { child, stream } => {
                self.would_block(child, output(stream), now);
            }
            Event::Wrote { child, n: 0 } | Event::WriteWouldBlock { child } => {
                self.would_block(child, Some(Stream::Stdin), now);
            }
            Event::Wrote { child, n } => self.wrote(child, n, now),
            Event::WriteBroken { child } => self.broken(child, now),
            Event::SinkFull { child, stream } => self.sink(child, output(stream), true),
            Event::SinkReady { child, stream } => self.sink(child, output(stream), false),
            Event::Exited { child, status } => self.exited(child, status, now),
            Event::GroupEmpty { child } => self.group_answer(child, true, now),
            Event::GroupLive { child } => self.group_answer(child, false, now),
            Event::Continued { child } => {
                if let Some(c) = self.index(child) {
                    self.children[c].last_output = now;
                }
            }
        }
    }

    /// The next thing to do. Call it until it returns [`Output::Wait`]; the
    /// `Wait` names the next deadline (poll again then at the latest) and
    /// why the core waits.
    #[must_use]
    pub fn poll(&mut self, now: Timestamp) -> Output {
        while let Some(e) = self.timers.pop_due(&self.children, now) {
            self.fire(e.child, e.timer(), now);
        }
        while let Some(p) = self.pending.pop_front() {
            if let Some(out) = self.emit(p, now) {
                return out;
            }
        }
        if self.may_start() {
            while let Some(&c) = self.start_queue.front() {
                if self.children[c].state() != ChildState::Queued {
                    self.start_queue.pop_front();
                    continue;
                }
                // A member of a group (a pipeline's later stage) starts in
                // its leader's turn, whatever the batch: between turns the
                // leader may exit and be reaped, and its group id with it.
                let member = self.children[c].leader.is_some();
                if !member && (self.starts_in_turn >= START_BATCH || self.unanswered >= STARTS_OUT)
                {
                    break;
                }
                self.start_queue.pop_front();
                self.start(c, now);
                if !member {
                    self.starts_in_turn += 1;
                }
                return Output::Action(Action::Start { child: ChildId(c) });
            }
        }
        while let Some(Work { c, epoch, s }) = self.work.pop_front() {
            let ch = &mut self.children[c];
            if ch.epoch != epoch {
                continue;
            }
            ch.pipes[s].queued = false;
            if !ch.can_work(s) {
                continue;
            }
            let child = ChildId(c);
            if s == Stream::Stdin {
                let len = usize::try_from(ch.input_left())
                    .unwrap_or(usize::MAX)
                    .min(ch.spec.write_chunk);
                ch.pipes[s].in_flight = Some(len);
                return Output::Action(Action::Write {
                    child,
                    offset: ch.stats.input_written,
                    len,
                });
            }
            ch.pipes[s].in_flight = Some(ch.spec.read_chunk);
            return Output::Action(Action::Read {
                child,
                stream: s,
                max: ch.spec.read_chunk,
            });
        }
        self.wait(now)
    }

    fn wait(&mut self, now: Timestamp) -> Output {
        let batch_done = self.starts_in_turn >= START_BATCH;
        self.starts_in_turn = 0;
        // With `STARTS_OUT` starts not answered yet, the next waits: an
        // answer wakes the driver, not a deadline.
        if batch_done && self.unanswered < STARTS_OUT && self.may_start() {
            return Output::Wait {
                deadline: Some(now),
                reason: WaitReason::Starting,
            };
        }
        if self.is_done() {
            return Output::Wait {
                deadline: None,
                reason: WaitReason::Done,
            };
        }
        match self.timers.next(&self.children) {
            Some(e) => Output::Wait {
                deadline: Some(e.at),
                reason: WaitReason::Deadline {
                    child: e.child(),
                    timer: e.timer(),
                },
            },
            None => Output::Wait {
                deadline: None,
                reason: WaitReason::Io,
            },
        }
    }

    /// Turns a pending action into an output, or drops it if it no longer
    /// applies.
    fn emit(&mut self, p: Pending, now: Timestamp) -> Option<Output> {
        let action = match p {
            Pending::Close { c, s, reason } => Action::Close {
                child: ChildId(c),
                stream: s,
                reason,
            },
            Pending::Signal { c, signal } => self.emit_signal(c, signal, now)?,
            Pending::Probe { c } => self.emit_probe(c)?,
            Pending::Interest { c, s } => {
                let ch = &mut self.children[c];
                ch.pipes[s].interest_queued = false;
                let on = ch.wants_interest(s);
                let p = &mut ch.pipes[s];
                if !p.open || p.interest == on {
                    return None;
                }
                p.interest = on;
                Action::Interest {
                    child: ChildId(c),
                    stream: s,
                    on,
                }
            }
            Pending::Finished { c } => {
                let ch = &mut self.children[c];
                ch.reported = true;
                let outcome = ch.outcome.clone().unwrap_or_default();
                return Some(Output::Finished {
                    child: ChildId(c),
                    outcome,
                });
            }
        };
        Some(Output::Action(action))
    }

    /// The index of `child` if it is held.
    pub(crate) fn index(&self, child: ChildId) -> Option<usize> {
        self.children
            .get(child.0)
            .is_some_and(|c| !c.removed)
            .then_some(child.0)
    }

    fn get(&self, child: ChildId) -> Option<&Child> {
        self.index(child).map(|c| &self.children[c])
    }

    /// Queues pipe `s` of `c` for a read or write if it can work.
    pub(crate) fn queue(&mut self, c: usize, s: Stream, front: bool) {
        let ch = &mut self.children[c];
        if !ch.can_work(s) || ch.pipes[s].queued {
            return;
        }
        ch.pipes[s].queued = true;
        let w = Work {
            c,
            epoch: ch.epoch,
            s,
        };
        if front {
            self.work.push_front(w);
        } else {
            self.work.push_back(w);
        }
    }

    /// Schedules a check of the interest in pipe `s` of `c`.
    pub(crate) fn interest_changed(&mut self, c: usize, s: Stream) {
        let p = &mut self.children[c].pipes[s];
        if !p.interest_queued {
            p.interest_queued = true;
            self.pending.push_back(Pending::Interest { c, s });
        }
    }

    pub(crate) fn close(&mut self, c: usize, s: Stream, reason: CloseReason) {
        let p = &mut self.children[c].pipes[s];
        if !p.open {
            return;
        }
        if p.in_flight.is_some() {
            p.close_pending.get_or_insert(reason);
            return;
        }
        p.open = false;
        p.ready = false;
        p.in_flight = None;
        p.interest = false;
        match reason {
            CloseReason::Abandoned => p.abandoned = true,
            CloseReason::Broken | CloseReason::ChildExited => p.broken = true,
            _ => {}
        }
        self.pending.push_back(Pending::Close { c, s, reason });
    }

    /// Finishes `c` if it is complete; a group leader that is settled but
    /// has no answer about its group yet gets a probe.
    pub(crate) fn maybe_finish(&mut self, c: usize, now: Timestamp) {
        let ch = &self.children[c];
        if ch.watches_group() && ch.settled() && !ch.stopping {
            self.want_probe(c);
        }
        if self.children[c].is_complete() {
            self.finish(c, now);
        }
    }

    pub(crate) fn finish(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        if ch.state() == ChildState::Queued {
            self.n_queued -= 1;
        } else {
            self.running -= 1;
            // What it held is free: a deferred start may work now.
            self.stalled = false;
        }
        ch.stats.state = ChildState::Finished;
        ch.outcome = Some(ch.outcome(now));
        self.finished += 1;
        self.pending.push_back(Pending::Finished { c });
    }

    /// The idle timer fired: stopped if no output came for the whole
    /// idle timeout (a group member with its leader's group), else armed
    /// again for when it is due counting from the last output (one heap
    /// entry per idle period, none per read).
    fn idle_due(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        let Some(idle) = ch.spec.idle_timeout else {
            return;
        };
        let due = ch.last_output.saturating_add(idle);
        if due > now {
            self.timers.arm(c, ch, Timer::Idle, due);
            return;
        }
        ch.idle_timed_out = true;
        let leader = ch.leader.filter(|_| ch.in_group);
        self.stop(c);
        // A member of a group (a pipeline's stage) idles for the whole
        // group: its leader is stopped too, and with it every member.
        if let Some((l, epoch)) = leader
            && self.children[l].epoch == epoch
            && self.children[l].state() != ChildState::Finished
        {
            self.children[l].idle_timed_out = true;
            self.terminate(ChildId(l), now);
        }
    }

    fn fire(&mut self, c: usize, timer: Timer, now: Timestamp) {
        let running = self.children[c].state() == ChildState::Running;
        match timer {
            Timer::Timeout if running => {
                self.children[c].timed_out = true;
                self.stop(c);
            }
            Timer::Idle if running => self.idle_due(c, now),
            Timer::KillGrace => self.kill_grace_ended(c),
            Timer::EofGrace => {
                // Not closed yet: bytes may sit in the pipe that the driver
                // did not get to (it was busy, or their edge is still in its
                // queue). Read until a read would block, then abandon.
                // A pipe whose sink is full is read once the sink has
                // room again: the caller's backpressure, not the child's.
                for s in Stream::OUTPUTS {
                    let p = &mut self.children[c].pipes[s];
                    if !p.open || p.draining {
                        continue;
                    }
                    p.draining = true;
                    if p.in_flight.is_none() {
                        p.ready = true;
                        self.queue(c, s, false);
                    }
                }
                self.maybe_finish(c, now);
            }
            Timer::GroupProbe => self.probe_due(c),
            Timer::TeardownLimit => self.limit_passed(c),
            _ => {}
        }
    }

    fn started(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if ch.state() != ChildState::Starting {
            return;
        }
        self.unanswered -= 1;
        let ch = &mut self.children[c];
        ch.stats.state = ChildState::Running;
        ch.started_at = Some(now);
        let held = PerStream::from_fn(|s| match s {
            Stream::Stdin => ch.spec.stdin,
            Stream::Stdout => ch.spec.stdout,
            Stream::Stderr => ch.spec.stderr,
        });
        for s in Stream::ALL {
            ch.pipes[s].open = held[s];
        }
        if let Some(t) = ch.spec.timeout {
            let at = now.saturating_add(t);
            self.timers.arm(c, ch, Timer::Timeout, at);
        }
        if let Some(t) = ch.spec.idle_timeout
            && (ch.spec.stdout || ch.spec.stderr)
        {
            ch.last_output = now;
            self.timers.arm(c, ch, Timer::Idle, now.saturating_add(t));
        }
        for s in Stream::ALL {
            if held[s] {
                self.interest_changed(c, s);
            }
        }
        if self.children[c].input_left() == 0 {
            self.close(c, Stream::Stdin, CloseReason::InputDone);
        }
        if self.children[c].terminated {
            self.stop(c);
        }
    }

    fn exited(&mut self, child: ChildId, status: i32, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if ch.state() != ChildState::Running {
            return;
        }
        ch.stats.state = ChildState::Exited;
        ch.status = Some(status);
        ch.exited_at = Some(now);
        Timers::cancel(ch, Timer::Timeout);
        Timers::cancel(ch, Timer::Idle);
        if !ch.leads() {
            // A leader's grace goes on: its group may outlive it.
            Timers::cancel(ch, Timer::KillGrace);
        }
        if ch.pipes.stdout.open || ch.pipes.stderr.open {
            let at = now.saturating_add(ch.spec.eof_grace);
            self.timers.arm(c, ch, Timer::EofGrace, at);
        }
        if self.children[c].watches_group() {
            self.want_probe(c);
        }
        // Stdin still open means input is left: nobody will take it.
        self.close(c, Stream::Stdin, CloseReason::ChildExited);
        self.member_gone(c, now);
        self.maybe_finish(c, now);
    }

    /// A member of a group exited (or never came to run): its leader may
    /// be settled now.
    pub(crate) fn member_gone(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        if !ch.in_group {
            return;
        }
        ch.in_group = false;
        if let Some((l, _)) = ch.leader {
            let g = &mut self.children[l].group;
            g.members = g.members.saturating_sub(1);
            self.maybe_finish(l, now);
        }
    }

    /// Heap entries, stale ones included (for tests of the lazy deletion).
    #[cfg(test)]
    pub(crate) fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}

/// The output stream `stream` names; `None` for stdin.
fn output(stream: Stream) -> Option<Stream> {
    (stream != Stream::Stdin).then_some(stream)
}
