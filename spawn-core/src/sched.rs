//! The per-child machines and the [`Scheduler`] over them.
//!
//! Work is kept in queues so that a turn touches only what is ready: a FIFO
//! of streams ready for a read or write (each queued at most once, thanks to
//! a per-stream flag), a FIFO of immediate actions (closes, signals,
//! interest changes, finish reports), a FIFO of children waiting to start,
//! and a min-heap of timers with lazy deletion (a timer carries the
//! generation it was armed with; re-arming or cancelling bumps the
//! generation, and stale heap entries are skipped when they surface).

use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::types::{
    Action, ChildId, ChildSpec, CloseReason, Event, KillSignal, Outcome, Output, Stream, Timer,
    Timestamp, WaitReason,
};

/// Settings of a [`Scheduler`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// How many children may run at once; 0 means no limit.
    pub max_running: usize,
}

/// Byte counts of a child so far (for partial output).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChildStats {
    /// Bytes read from stdout.
    pub stdout_bytes: u64,
    /// Bytes read from stderr.
    pub stderr_bytes: u64,
    /// Bytes of input written.
    pub input_written: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Queued,
    Starting,
    Running,
    Finished,
}

#[derive(Clone, Copy, Debug, Default)]
struct Out {
    open: bool,
    readable: bool,
    in_flight: bool,
    queued: bool,
    paused: bool,
    abandoned: bool,
    streak: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct In {
    open: bool,
    writable: bool,
    in_flight: bool,
    queued: bool,
    broken: bool,
}

#[derive(Debug)]
struct Child {
    spec: ChildSpec,
    phase: Phase,
    stdin: In,
    out: [Out; 2],
    stats: ChildStats,
    status: Option<i32>,
    spawn_failed: bool,
    timed_out: bool,
    terminated: bool,
    term_sent: bool,
    kill_sent: bool,
    started_at: Option<Timestamp>,
    exited_at: Option<Timestamp>,
    /// Generation of each timer (index: Timer as usize); bumped to cancel.
    timer_gen: [u32; 3],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Read(usize, usize),
    Write(usize),
}

fn timer_ix(t: Timer) -> usize {
    match t {
        Timer::Timeout => 0,
        Timer::KillGrace => 1,
        _ => 2,
    }
}

fn out_ix(s: Stream) -> Option<usize> {
    match s {
        Stream::Stdout => Some(0),
        Stream::Stderr => Some(1),
        _ => None,
    }
}

const OUT_STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

/// Drives any number of children: decides what to start, read, write,
/// close and signal, and when each is finished.
///
/// The loop: [`handle`](Self::handle) every event, then
/// [`poll`](Self::poll) until it returns [`Output::Wait`]; wait for I/O
/// readiness, an exit, or the deadline; repeat. Children start in the order
/// added, at most `max_running` at a time; each child's streams are served
/// in turn (at most `read_budget` reads in a row), so no child starves
/// another.
#[derive(Debug, Default)]
pub struct Scheduler {
    max_running: usize,
    children: Vec<Child>,
    queued: VecDeque<usize>,
    work: VecDeque<Work>,
    actions: VecDeque<Action>,
    timers: BinaryHeap<Reverse<(Timestamp, usize, usize, u32)>>,
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

    /// Queues a child; it gets [`Action::Start`] when a running slot is free,
    /// in the order added.
    pub fn add(&mut self, spec: ChildSpec) -> ChildId {
        let id = self.children.len();
        let spec = ChildSpec {
            read_chunk: spec.read_chunk.max(1),
            write_chunk: spec.write_chunk.max(1),
            read_budget: spec.read_budget.max(1),
            ..spec
        };
        self.children.push(Child {
            spec,
            phase: Phase::Queued,
            stdin: In::default(),
            out: [Out::default(); 2],
            stats: ChildStats::default(),
            status: None,
            spawn_failed: false,
            timed_out: false,
            terminated: false,
            term_sent: false,
            kill_sent: false,
            started_at: None,
            exited_at: None,
            timer_gen: [0; 3],
        });
        self.queued.push_back(id);
        ChildId(id)
    }

    /// Whether every child added is finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.finished == self.children.len() && self.actions.is_empty()
    }

    /// Children started and not finished.
    #[must_use]
    pub fn running(&self) -> usize {
        self.running
    }

    /// Children waiting to start.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Children finished.
    #[must_use]
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Byte counts of `child` so far.
    #[must_use]
    pub fn stats(&self, child: ChildId) -> Option<&ChildStats> {
        self.children.get(child.0).map(|c| &c.stats)
    }

    fn arm(&mut self, c: usize, timer: Timer, at: Timestamp) {
        let ix = timer_ix(timer);
        let ch = &mut self.children[c];
        ch.timer_gen[ix] = ch.timer_gen[ix].wrapping_add(1);
        self.timers.push(Reverse((at, c, ix, ch.timer_gen[ix])));
    }

    fn cancel(&mut self, c: usize, timer: Timer) {
        let ix = timer_ix(timer);
        let ch = &mut self.children[c];
        ch.timer_gen[ix] = ch.timer_gen[ix].wrapping_add(1);
    }

    fn live(&self, entry: &(Timestamp, usize, usize, u32)) -> bool {
        let ch = &self.children[entry.1];
        ch.phase != Phase::Finished && ch.timer_gen[entry.2] == entry.3
    }

    fn queue_read(&mut self, c: usize, i: usize) {
        let o = &mut self.children[c].out[i];
        if o.open && o.readable && !o.in_flight && !o.paused && !o.queued {
            o.queued = true;
            self.work.push_back(Work::Read(c, i));
        }
    }

    fn queue_write(&mut self, c: usize) {
        let ch = &mut self.children[c];
        let s = &mut ch.stdin;
        if s.open
            && s.writable
            && !s.in_flight
            && !s.queued
            && ch.stats.input_written < ch.spec.input_len
        {
            s.queued = true;
            self.work.push_back(Work::Write(c));
        }
    }

    fn close(&mut self, c: usize, stream: Stream, reason: CloseReason) {
        self.actions.push_back(Action::Close {
            child: ChildId(c),
            stream,
            reason,
        });
    }

    fn close_stdin(&mut self, c: usize, reason: CloseReason) {
        let s = &mut self.children[c].stdin;
        if s.open {
            s.open = false;
            s.in_flight = false;
            self.close(c, Stream::Stdin, reason);
        }
    }

    fn close_out(&mut self, c: usize, i: usize, reason: CloseReason) {
        let o = &mut self.children[c].out[i];
        if o.open {
            o.open = false;
            o.readable = false;
            o.in_flight = false;
            if reason == CloseReason::Abandoned {
                o.abandoned = true;
            }
            self.close(c, OUT_STREAMS[i], reason);
        }
    }

    fn signal(&mut self, c: usize, signal: KillSignal) {
        let ch = &mut self.children[c];
        match signal {
            KillSignal::Term => ch.term_sent = true,
            _ => ch.kill_sent = true,
        }
        let group = ch.spec.signal_group;
        self.actions.push_back(Action::Signal {
            child: ChildId(c),
            signal,
            group,
        });
    }

    /// Starts the TERM → KILL escalation (timeout or terminate).
    fn stop(&mut self, c: usize, now: Timestamp) {
        let ch = &self.children[c];
        if ch.status.is_some() || ch.term_sent {
            return;
        }
        let grace = ch.spec.kill_grace;
        self.signal(c, KillSignal::Term);
        self.arm(c, Timer::KillGrace, now.saturating_add(grace));
    }

    fn maybe_finish(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        if ch.phase == Phase::Finished {
            return;
        }
        let done = ch.spawn_failed
            || (ch.status.is_some() && !ch.stdin.open && !ch.out[0].open && !ch.out[1].open);
        if !done {
            return;
        }
        ch.phase = Phase::Finished;
        let outcome = Outcome {
            status: ch.status,
            spawn_failed: ch.spawn_failed,
            timed_out: ch.timed_out,
            terminated: ch.terminated,
            term_sent: ch.term_sent,
            kill_sent: ch.kill_sent,
            input_written: ch.stats.input_written,
            input_broken: ch.stdin.broken,
            stdout_bytes: ch.stats.stdout_bytes,
            stderr_bytes: ch.stats.stderr_bytes,
            stdout_abandoned: ch.out[0].abandoned,
            stderr_abandoned: ch.out[1].abandoned,
            started_at: ch.started_at,
            exited_at: ch.exited_at,
            finished_at: now,
        };
        self.running -= 1;
        self.finished += 1;
        self.actions.push_back(Action::Finished {
            child: ChildId(c),
            outcome,
        });
    }

    /// Takes in what happened. Events about unknown or finished children,
    /// and answers that do not fit the state, are ignored.
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        match event {
            Event::Started { child } => self.started(child.0, now),
            Event::SpawnFailed { child } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.phase != Phase::Starting {
                    return;
                }
                ch.spawn_failed = true;
                self.maybe_finish(child.0, now);
            }
            Event::Readable { child, stream } => {
                let Some(i) = out_ix(stream) else { return };
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.out[i].open {
                    ch.out[i].readable = true;
                    self.queue_read(child.0, i);
                }
            }
            Event::Writable { child } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.stdin.open {
                    ch.stdin.writable = true;
                    self.queue_write(child.0);
                }
            }
            Event::Read { child, stream, n } => {
                let Some(i) = out_ix(stream) else { return };
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                let o = &mut ch.out[i];
                if !o.open || !o.in_flight {
                    return;
                }
                o.in_flight = false;
                match i {
                    0 => ch.stats.stdout_bytes += n as u64,
                    _ => ch.stats.stderr_bytes += n as u64,
                }
                // Keep reading until it would block, but give others a turn
                // after `read_budget` reads in a row.
                let budget = ch.spec.read_budget;
                let o = &mut ch.out[i];
                o.streak += 1;
                if o.streak < budget && !o.paused {
                    o.queued = true;
                    self.work.push_front(Work::Read(child.0, i));
                } else {
                    o.streak = 0;
                    self.queue_read(child.0, i);
                }
            }
            Event::ReadWouldBlock { child, stream } => {
                let Some(i) = out_ix(stream) else { return };
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                let o = &mut ch.out[i];
                o.in_flight = false;
                o.readable = false;
                o.streak = 0;
            }
            Event::Eof { child, stream } => {
                let Some(i) = out_ix(stream) else { return };
                if child.0 >= self.children.len() {
                    return;
                }
                self.close_out(child.0, i, CloseReason::Eof);
                self.maybe_finish(child.0, now);
            }
            Event::Wrote { child, n } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if !ch.stdin.open || !ch.stdin.in_flight {
                    return;
                }
                ch.stdin.in_flight = false;
                ch.stats.input_written = (ch.stats.input_written + n as u64).min(ch.spec.input_len);
                if ch.stats.input_written >= ch.spec.input_len {
                    self.close_stdin(child.0, CloseReason::InputDone);
                    self.maybe_finish(child.0, now);
                } else {
                    self.queue_write(child.0);
                }
            }
            Event::WriteWouldBlock { child } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                ch.stdin.in_flight = false;
                ch.stdin.writable = false;
            }
            Event::WriteBroken { child } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if !ch.stdin.open {
                    return;
                }
                ch.stdin.broken = true;
                self.close_stdin(child.0, CloseReason::Broken);
                self.maybe_finish(child.0, now);
            }
            Event::SinkFull { child, stream } => {
                let Some(i) = out_ix(stream) else { return };
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.out[i].open && !ch.out[i].paused {
                    ch.out[i].paused = true;
                    self.actions.push_back(Action::Interest {
                        child,
                        stream,
                        on: false,
                    });
                }
            }
            Event::SinkReady { child, stream } => {
                let Some(i) = out_ix(stream) else { return };
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.out[i].open && ch.out[i].paused {
                    ch.out[i].paused = false;
                    self.actions.push_back(Action::Interest {
                        child,
                        stream,
                        on: true,
                    });
                    self.queue_read(child.0, i);
                }
            }
            Event::Exited { child, status } => self.exited(child.0, status, now),
            Event::Terminate { child } => {
                let Some(ch) = self.children.get_mut(child.0) else {
                    return;
                };
                if ch.phase != Phase::Running {
                    return;
                }
                ch.terminated = true;
                self.stop(child.0, now);
            }
        }
    }

    fn started(&mut self, c: usize, now: Timestamp) {
        let Some(ch) = self.children.get_mut(c) else {
            return;
        };
        if ch.phase != Phase::Starting {
            return;
        }
        ch.phase = Phase::Running;
        ch.started_at = Some(now);
        ch.stdin.open = ch.spec.stdin;
        ch.out[0].open = ch.spec.stdout;
        ch.out[1].open = ch.spec.stderr;
        let (stdin, stdout, stderr) = (ch.spec.stdin, ch.spec.stdout, ch.spec.stderr);
        let no_input = ch.spec.input_len == 0;
        if let Some(t) = ch.spec.timeout {
            self.arm(c, Timer::Timeout, now.saturating_add(t));
        }
        for (held, stream) in [
            (stdin, Stream::Stdin),
            (stdout, Stream::Stdout),
            (stderr, Stream::Stderr),
        ] {
            if held && !(stream == Stream::Stdin && no_input) {
                self.actions.push_back(Action::Interest {
                    child: ChildId(c),
                    stream,
                    on: true,
                });
            }
        }
        if stdin && no_input {
            self.close_stdin(c, CloseReason::InputDone);
        }
    }

    fn exited(&mut self, c: usize, status: i32, now: Timestamp) {
        let Some(ch) = self.children.get_mut(c) else {
            return;
        };
        if ch.phase != Phase::Running || ch.status.is_some() {
            return;
        }
        ch.status = Some(status);
        ch.exited_at = Some(now);
        let grace = ch.spec.eof_grace;
        let outputs_open = ch.out.iter().any(|o| o.open);
        self.cancel(c, Timer::Timeout);
        self.cancel(c, Timer::KillGrace);
        let ch = &mut self.children[c];
        if ch.stdin.open && ch.stats.input_written < ch.spec.input_len {
            // Exited without taking all input: the same as EPIPE.
            ch.stdin.broken = true;
        }
        self.close_stdin(c, CloseReason::ChildExited);
        if outputs_open {
            self.arm(c, Timer::EofGrace, now.saturating_add(grace));
        }
        self.maybe_finish(c, now);
    }

    fn fire(&mut self, c: usize, timer: usize, now: Timestamp) {
        match timer {
            0 => {
                if self.children[c].status.is_none() {
                    self.children[c].timed_out = true;
                    self.stop(c, now);
                }
            }
            1 => {
                if self.children[c].status.is_none() && !self.children[c].kill_sent {
                    self.signal(c, KillSignal::Kill);
                }
            }
            _ => {
                for i in 0..2 {
                    self.close_out(c, i, CloseReason::Abandoned);
                }
                self.maybe_finish(c, now);
            }
        }
    }

    fn fire_timers(&mut self, now: Timestamp) {
        while let Some(Reverse(top)) = self.timers.peek().copied() {
            if top.0 > now {
                break;
            }
            self.timers.pop();
            if self.live(&top) {
                self.fire(top.1, top.2, now);
            }
        }
    }

    /// The next thing to do. Call it until it returns [`Output::Wait`].
    #[must_use]
    pub fn poll(&mut self, now: Timestamp) -> Output {
        self.fire_timers(now);
        if let Some(a) = self.actions.pop_front() {
            return Output::Action(a);
        }
        if (self.max_running == 0 || self.running < self.max_running)
            && let Some(c) = self.queued.pop_front()
        {
            self.children[c].phase = Phase::Starting;
            self.running += 1;
            return Output::Action(Action::Start { child: ChildId(c) });
        }
        while let Some(w) = self.work.pop_front() {
            match w {
                Work::Read(c, i) => {
                    let ch = &mut self.children[c];
                    let o = &mut ch.out[i];
                    o.queued = false;
                    if o.open && o.readable && !o.in_flight && !o.paused {
                        o.in_flight = true;
                        return Output::Action(Action::Read {
                            child: ChildId(c),
                            stream: OUT_STREAMS[i],
                            max: ch.spec.read_chunk,
                        });
                    }
                }
                Work::Write(c) => {
                    let ch = &mut self.children[c];
                    ch.stdin.queued = false;
                    let left = ch.spec.input_len.saturating_sub(ch.stats.input_written);
                    if ch.stdin.open && ch.stdin.writable && !ch.stdin.in_flight && left > 0 {
                        ch.stdin.in_flight = true;
                        let len = usize::try_from(left)
                            .unwrap_or(usize::MAX)
                            .min(ch.spec.write_chunk);
                        return Output::Action(Action::Write {
                            child: ChildId(c),
                            offset: ch.stats.input_written,
                            len,
                        });
                    }
                }
            }
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
        while let Some(Reverse(top)) = self.timers.peek().copied() {
            if self.live(&top) {
                let timer = match top.2 {
                    0 => Timer::Timeout,
                    1 => Timer::KillGrace,
                    _ => Timer::EofGrace,
                };
                return Output::Wait {
                    deadline: Some(top.0),
                    reason: WaitReason::Deadline {
                        child: ChildId(top.1),
                        timer,
                    },
                };
            }
            self.timers.pop();
        }
        Output::Wait {
            deadline: None,
            reason: WaitReason::Io,
        }
    }
}

/// One child alone: a [`Scheduler`] of one, with the same loop and no
/// [`ChildId`] to carry (it is always `ChildId(0)`).
#[derive(Debug)]
pub struct Communicator {
    sched: Scheduler,
}

impl Communicator {
    /// The machine for one child.
    #[must_use]
    pub fn new(spec: ChildSpec) -> Self {
        let mut sched = Scheduler::new(SchedulerConfig::default());
        sched.add(spec);
        Communicator { sched }
    }

    /// The id events and actions carry.
    pub const CHILD: ChildId = ChildId(0);

    /// See [`Scheduler::handle`].
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        self.sched.handle(event, now);
    }

    /// See [`Scheduler::poll`].
    #[must_use]
    pub fn poll(&mut self, now: Timestamp) -> Output {
        self.sched.poll(now)
    }

    /// Whether the child is finished.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.sched.is_done()
    }

    /// Byte counts so far.
    #[must_use]
    pub fn stats(&self) -> ChildStats {
        self.sched.stats(Self::CHILD).copied().unwrap_or_default()
    }
}
