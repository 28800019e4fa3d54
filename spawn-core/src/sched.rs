//! The [`Scheduler`]: the per-child machines and the queues over them.
//!
//! Work is kept in queues so that a turn touches only what is ready:
//!
//! - a FIFO of pipes ready for a read or a write (each queued at most once,
//!   thanks to a per-pipe flag; an item whose pipe changed since is skipped
//!   when it surfaces);
//! - a FIFO of pending actions (closes, signals, interest changes, finish
//!   reports), checked again when emitted: a signal for a child that has
//!   exited since is dropped (its pid may be reused), an interest change
//!   that was undone is not emitted;
//! - a FIFO of children waiting for a running slot;
//! - a min-heap of timers with lazy deletion (see `timers.rs`).
//!
//! Every event and every poll is `O(1)` amortised (`O(log n)` for timers),
//! whatever the number of children.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::child::{Child, DRAIN_LIMIT, STDIN, STREAMS, ix};
use crate::timers::Timers;
use crate::types::{
    Action, ChildId, ChildSpec, ChildState, ChildStats, CloseReason, Event, KillSignal, Outcome,
    Output, SchedulerConfig, Stream, Timer, Timestamp, WaitReason,
};

/// An action decided but not emitted yet.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Close {
        c: usize,
        i: usize,
        reason: CloseReason,
    },
    Signal {
        c: usize,
        signal: KillSignal,
    },
    Interest {
        c: usize,
        i: usize,
    },
    Finished {
        c: usize,
    },
}

/// A pipe that may be read or written.
#[derive(Clone, Copy, Debug)]
struct Work {
    c: usize,
    i: usize,
}

/// Drives any number of children: decides what to start, read, write,
/// close and signal, and when each is finished.
///
/// # The loop
///
/// 1. [`handle`](Self::handle) every event the driver has (readiness,
///    exits, answers to actions);
/// 2. [`poll`](Self::poll) until it returns [`Output::Wait`], doing each
///    [`Action`] and handing its answer back with `handle` (at once, before
///    the next poll, is fine);
/// 3. wait for readiness, an exit, or the `deadline` of the `Wait`;
///    repeat until the `Wait` reason is [`WaitReason::Done`].
///
/// Children start in the order added, at most
/// [`max_running`](SchedulerConfig::max_running) at a time; a finished
/// child frees its slot for the next one.
///
/// # The contract with the driver
///
/// - After [`Action::Read`] of a stream the core waits for exactly one
///   answer for that stream ([`Event::Read`], [`Event::ReadWouldBlock`] or
///   [`Event::Eof`]) before it reads that stream again; after
///   [`Action::Write`], for one of [`Event::Wrote`],
///   [`Event::WriteWouldBlock`], [`Event::WriteBroken`]. Other streams and
///   children go on meanwhile.
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
/// - A [`Signal`](Action::Signal) is never emitted for a child after its
///   [`Event::Exited`] was handled (its pid may belong to someone else).
/// - Nothing depends on being polled continuously: the driver may stop at
///   a deadline of its own and resume later with the same scheduler. Only
///   the `now` values must not go backwards.
/// - Events that do not fit the state (about unknown or finished children,
///   answers nothing asked for) are ignored.
#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    max_running: usize,
    children: Vec<Child>,
    start_queue: VecDeque<usize>,
    n_queued: usize,
    work: VecDeque<Work>,
    pending: VecDeque<Pending>,
    timers: Timers,
    running: usize,
    finished: usize,
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
    /// `read_budget` are taken as 1.
    pub fn add(&mut self, spec: ChildSpec) -> ChildId {
        let c = self.children.len();
        let spec = ChildSpec {
            read_chunk: spec.read_chunk.max(1),
            write_chunk: spec.write_chunk.max(1),
            read_budget: spec.read_budget.max(1),
            ..spec
        };
        self.children.push(Child::new(spec));
        self.start_queue.push_back(c);
        self.n_queued += 1;
        ChildId(c)
    }

    /// Whether every child added is finished and reported.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished == self.children.len() && self.pending.is_empty()
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

    /// Children finished.
    #[must_use]
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Children added.
    #[must_use]
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether no child was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Progress of `child` so far: bytes read and written, and its state.
    #[must_use]
    pub fn stats(&self, child: ChildId) -> Option<&ChildStats> {
        self.children.get(child.0).map(|c| &c.stats)
    }

    /// The outcome of `child`, once it is finished (the same value that
    /// [`Action::Finished`] carries).
    #[must_use]
    pub fn outcome(&self, child: ChildId) -> Option<&Outcome> {
        self.children.get(child.0)?.outcome.as_ref()
    }

    /// The spec `child` was added with (chunk sizes and budget at least 1).
    #[must_use]
    pub fn spec(&self, child: ChildId) -> Option<&ChildSpec> {
        self.children.get(child.0).map(|c| &c.spec)
    }

    /// Takes in what happened. See the type's documentation for the
    /// contract; events that do not fit the state are ignored.
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        match event {
            Event::Started { child } => self.started(child, now),
            Event::SpawnFailed { child } => self.spawn_failed(child, now),
            Event::Readable { child, stream } => self.edge(child, output(stream)),
            Event::Writable { child } => self.edge(child, Some(STDIN)),
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
                self.would_block(child, Some(STDIN), now);
            }
            Event::Wrote { child, n } => self.wrote(child, n, now),
            Event::WriteBroken { child } => self.broken(child, now),
            Event::SinkFull { child, stream } => self.sink(child, output(stream), true),
            Event::SinkReady { child, stream } => self.sink(child, output(stream), false),
            Event::Exited { child, status } => self.exited(child, status, now),
            Event::Terminate { child } => self.terminate(child, now),
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
            if let Some(a) = self.emit(p, now) {
                return Output::Action(a);
            }
        }
        if self.max_running == 0 || self.running < self.max_running {
            while let Some(c) = self.start_queue.pop_front() {
                let ch = &mut self.children[c];
                if ch.state() == ChildState::Queued {
                    ch.stats.state = ChildState::Starting;
                    self.n_queued -= 1;
                    self.running += 1;
                    return Output::Action(Action::Start { child: ChildId(c) });
                }
            }
        }
        while let Some(Work { c, i }) = self.work.pop_front() {
            let ch = &mut self.children[c];
            ch.pipes[i].queued = false;
            if !ch.can_work(i) {
                continue;
            }
            let child = ChildId(c);
            if i == STDIN {
                let len = usize::try_from(ch.input_left())
                    .unwrap_or(usize::MAX)
                    .min(ch.spec.write_chunk);
                ch.pipes[i].in_flight = Some(len);
                return Output::Action(Action::Write {
                    child,
                    offset: ch.stats.input_written,
                    len,
                });
            }
            ch.pipes[i].in_flight = Some(ch.spec.read_chunk);
            return Output::Action(Action::Read {
                child,
                stream: STREAMS[i],
                max: ch.spec.read_chunk,
            });
        }
        self.wait()
    }

    fn wait(&mut self) -> Output {
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

    /// Turns a pending action into an action, or drops it if it no longer
    /// applies.
    fn emit(&mut self, p: Pending, now: Timestamp) -> Option<Action> {
        match p {
            Pending::Close { c, i, reason } => Some(Action::Close {
                child: ChildId(c),
                stream: STREAMS[i],
                reason,
            }),
            Pending::Signal { c, signal } => {
                let ch = &mut self.children[c];
                if ch.state() != ChildState::Running {
                    return None;
                }
                match signal {
                    KillSignal::Term => {
                        ch.signals.term = true;
                        // The grace runs from when TERM really goes out.
                        let at = now.saturating_add(ch.spec.kill_grace);
                        self.timers.arm(c, ch, Timer::KillGrace, at);
                    }
                    KillSignal::Kill => ch.signals.kill = true,
                }
                Some(Action::Signal {
                    child: ChildId(c),
                    signal,
                    group: ch.spec.signal_group,
                })
            }
            Pending::Interest { c, i } => {
                let ch = &mut self.children[c];
                ch.pipes[i].interest_queued = false;
                let on = ch.wants_interest(i);
                let p = &mut ch.pipes[i];
                if !p.open || p.interest == on {
                    return None;
                }
                p.interest = on;
                Some(Action::Interest {
                    child: ChildId(c),
                    stream: STREAMS[i],
                    on,
                })
            }
            Pending::Finished { c } => {
                let outcome = self.children[c].outcome.clone().unwrap_or_default();
                Some(Action::Finished {
                    child: ChildId(c),
                    outcome,
                })
            }
        }
    }

    /// The index of `child` if it exists.
    fn index(&self, child: ChildId) -> Option<usize> {
        (child.0 < self.children.len()).then_some(child.0)
    }

    /// Queues pipe `i` of `c` for a read or write if it can work.
    fn queue(&mut self, c: usize, i: usize, front: bool) {
        let ch = &mut self.children[c];
        if !ch.can_work(i) || ch.pipes[i].queued {
            return;
        }
        ch.pipes[i].queued = true;
        let w = Work { c, i };
        if front {
            self.work.push_front(w);
        } else {
            self.work.push_back(w);
        }
    }

    /// Schedules a check of the interest in pipe `i` of `c`.
    fn interest_changed(&mut self, c: usize, i: usize) {
        let p = &mut self.children[c].pipes[i];
        if !p.interest_queued {
            p.interest_queued = true;
            self.pending.push_back(Pending::Interest { c, i });
        }
    }

    fn close(&mut self, c: usize, i: usize, reason: CloseReason) {
        let p = &mut self.children[c].pipes[i];
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
        self.pending.push_back(Pending::Close { c, i, reason });
    }

    fn signal(&mut self, c: usize, signal: KillSignal) {
        self.pending.push_back(Pending::Signal { c, signal });
    }

    /// Starts the TERM → KILL escalation (a timeout or a terminate); the
    /// KILL grace is armed when the TERM is emitted.
    fn stop(&mut self, c: usize) {
        let ch = &mut self.children[c];
        if ch.stopping {
            return;
        }
        ch.stopping = true;
        self.signal(c, KillSignal::Term);
    }

    fn maybe_finish(&mut self, c: usize, now: Timestamp) {
        if self.children[c].is_complete() {
            self.finish(c, now);
        }
    }

    fn finish(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        if ch.state() == ChildState::Queued {
            self.n_queued -= 1;
        } else {
            self.running -= 1;
        }
        ch.stats.state = ChildState::Finished;
        ch.outcome = Some(ch.outcome(now));
        self.finished += 1;
        self.pending.push_back(Pending::Finished { c });
    }

    fn fire(&mut self, c: usize, timer: Timer, now: Timestamp) {
        let running = self.children[c].state() == ChildState::Running;
        match timer {
            Timer::Timeout if running => {
                self.children[c].timed_out = true;
                self.stop(c);
            }
            Timer::KillGrace if running => self.signal(c, KillSignal::Kill),
            Timer::EofGrace => {
                // Not closed yet: bytes may sit in the pipe that the driver
                // did not get to (it was busy, or their edge is still in its
                // queue). Read until a read would block, then abandon.
                // A pipe whose sink is full is read once the sink has
                // room again: the caller's backpressure, not the child's.
                for i in 1..3 {
                    let p = &mut self.children[c].pipes[i];
                    if !p.open || p.draining {
                        continue;
                    }
                    p.draining = true;
                    if p.in_flight.is_none() {
                        p.ready = true;
                        self.queue(c, i, false);
                    }
                }
                self.maybe_finish(c, now);
            }
            _ => {}
        }
    }

    fn started(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if ch.state() != ChildState::Starting {
            return;
        }
        ch.stats.state = ChildState::Running;
        ch.started_at = Some(now);
        let held = [ch.spec.stdin, ch.spec.stdout, ch.spec.stderr];
        for (p, held) in ch.pipes.iter_mut().zip(held) {
            p.open = held;
        }
        if let Some(t) = ch.spec.timeout {
            let at = now.saturating_add(t);
            self.timers.arm(c, ch, Timer::Timeout, at);
        }
        for (i, held) in held.into_iter().enumerate() {
            if held {
                self.interest_changed(c, i);
            }
        }
        if self.children[c].input_left() == 0 {
            self.close(c, STDIN, CloseReason::InputDone);
        }
        if self.children[c].terminated {
            self.stop(c);
        }
    }

    fn spawn_failed(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if ch.state() == ChildState::Starting {
            ch.spawn_failed = true;
            self.finish(c, now);
        }
    }

    fn edge(&mut self, child: ChildId, i: Option<usize>) {
        let (Some(c), Some(i)) = (self.index(child), i) else {
            return;
        };
        let p = &mut self.children[c].pipes[i];
        if !p.open {
            return;
        }
        if p.in_flight.is_some() {
            p.edge_in_flight = true;
        } else {
            p.ready = true;
            self.queue(c, i, false);
        }
    }

    fn read(&mut self, child: ChildId, i: Option<usize>, n: usize, now: Timestamp) {
        let (Some(c), Some(i)) = (self.index(child), i) else {
            return;
        };
        let ch = &mut self.children[c];
        if !ch.pipes[i].open {
            return;
        }
        let n = n as u64;
        if i == 1 {
            ch.stats.stdout_bytes += n;
        } else {
            ch.stats.stderr_bytes += n;
        }
        let budget = ch.spec.read_budget;
        let p = &mut ch.pipes[i];
        p.in_flight = None;
        p.edge_in_flight = false;
        if p.draining {
            p.drained = p.drained.saturating_add(n);
            if p.drained >= DRAIN_LIMIT {
                p.close_pending = None;
                self.close(c, i, CloseReason::Abandoned);
                self.maybe_finish(c, now);
                return;
            }
        }
        // Data came: there may be more. Read on until it would block, but
        // give the others a turn after `read_budget` reads in a row.
        p.ready = true;
        p.streak += 1;
        if p.streak < budget {
            self.queue(c, i, true);
        } else {
            p.streak = 0;
            self.queue(c, i, false);
        }
        self.settle(c, i, now);
    }

    /// Does a close that waited for the answer that just came.
    fn settle(&mut self, c: usize, i: usize, now: Timestamp) {
        if let Some(reason) = self.children[c].pipes[i].close_pending.take() {
            self.close(c, i, reason);
            self.maybe_finish(c, now);
        }
    }

    fn would_block(&mut self, child: ChildId, i: Option<usize>, now: Timestamp) {
        let (Some(c), Some(i)) = (self.index(child), i) else {
            return;
        };
        let p = &mut self.children[c].pipes[i];
        if !p.open || p.in_flight.is_none() {
            return;
        }
        p.in_flight = None;
        p.streak = 0;
        p.ready = p.edge_in_flight;
        p.edge_in_flight = false;
        if p.draining && !p.ready && i != STDIN {
            p.close_pending = None;
            self.close(c, i, CloseReason::Abandoned);
            self.maybe_finish(c, now);
            return;
        }
        self.queue(c, i, false);
        self.settle(c, i, now);
    }

    fn eof(&mut self, child: ChildId, i: Option<usize>, now: Timestamp) {
        let (Some(c), Some(i)) = (self.index(child), i) else {
            return;
        };
        let p = &mut self.children[c].pipes[i];
        p.in_flight = None;
        p.close_pending = None;
        self.close(c, i, CloseReason::Eof);
        self.maybe_finish(c, now);
    }

    fn wrote(&mut self, child: ChildId, n: usize, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        let p = &mut ch.pipes[STDIN];
        if !p.open {
            return;
        }
        let asked = p.in_flight.take().unwrap_or(n);
        p.edge_in_flight = false;
        p.ready = true;
        let n = (n.min(asked) as u64).min(ch.input_left());
        ch.stats.input_written += n;
        if ch.input_left() == 0 {
            ch.pipes[STDIN].close_pending = None;
            self.close(c, STDIN, CloseReason::InputDone);
            self.maybe_finish(c, now);
        } else {
            self.queue(c, STDIN, false);
            self.settle(c, STDIN, now);
        }
    }

    fn broken(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let p = &mut self.children[c].pipes[STDIN];
        p.in_flight = None;
        p.close_pending = None;
        self.close(c, STDIN, CloseReason::Broken);
        self.maybe_finish(c, now);
    }

    fn sink(&mut self, child: ChildId, i: Option<usize>, full: bool) {
        let (Some(c), Some(i)) = (self.index(child), i) else {
            return;
        };
        let p = &mut self.children[c].pipes[i];
        if !p.open || p.paused == full {
            return;
        }
        p.paused = full;
        self.interest_changed(c, i);
        if !full {
            self.queue(c, i, false);
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
        Timers::cancel(ch, Timer::KillGrace);
        if ch.pipes[1].open || ch.pipes[2].open {
            let at = now.saturating_add(ch.spec.eof_grace);
            self.timers.arm(c, ch, Timer::EofGrace, at);
        }
        // Stdin still open means input is left: nobody will take it.
        self.close(c, STDIN, CloseReason::ChildExited);
        self.maybe_finish(c, now);
    }

    fn terminate(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        match ch.state() {
            ChildState::Queued => {
                ch.terminated = true;
                self.finish(c, now);
            }
            ChildState::Starting => ch.terminated = true,
            ChildState::Running => {
                ch.terminated = true;
                self.stop(c);
            }
            _ => {}
        }
    }

    /// Heap entries, stale ones included (for tests of the lazy deletion).
    #[cfg(test)]
    pub(crate) fn timer_entries(&self) -> usize {
        self.timers.len()
    }
}

/// The pipe index of an output stream; `None` for stdin.
fn output(stream: Stream) -> Option<usize> {
    match ix(stream) {
        STDIN => None,
        i => Some(i),
    }
}
