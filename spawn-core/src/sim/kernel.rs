//! The kernel side of the simulation: pipes, child processes running their
//! [`Op`] programs, grandchildren, signals and the sleepers' clock.
//!
//! A pipe holds a range of stream offsets, not bytes: the `k`-th byte
//! written into a child's output pipe is [`pattern`](super::pattern)`(child,
//! stream, k)` and the `k`-th byte of its input is
//! [`input_byte`](super::input_byte)`(child, k)`, so a range says exactly
//! which bytes are in the pipe, in order, at no cost.

use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

use super::{Op, Sim, SimChild};
use crate::{CloseReason, Event, KillSignal, Timestamp};

/// What a wake-up is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Wake {
    /// A sleeping child's sleep ends.
    Sleep,
    /// A grandchild lets go of the output pipes.
    Release,
    /// The user asks to stop the child.
    Terminate,
}

/// One pipe between the driver and a child.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pipe {
    /// Stream offsets of the bytes in the pipe: `[start, end)`.
    pub start: u64,
    pub end: u64,
    /// The driver's end is open.
    pub ours: bool,
    /// The child's end is open.
    pub child: bool,
    /// The grandchild's end is open (output pipes).
    pub gc: bool,
    /// Edge-triggered: report the next time it is ready.
    pub armed: bool,
}

impl Pipe {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Someone may still write into (outputs) or read from (stdin) it.
    pub fn theirs(&self) -> bool {
        self.child || self.gc
    }
}

/// What a sink holds.
#[derive(Clone, Debug, Default)]
pub(super) struct Sink {
    pub received: u64,
    /// Received and not yet taken by the consumer (limited sinks).
    pub held: u64,
    pub full: bool,
}

/// A child: the process (kernel side) and what the driver knows of it.
#[derive(Clone, Debug)]
pub(super) struct Proc {
    pub program: Vec<Op>,
    pub pc: usize,
    /// Bytes left of the current read or write, once begun.
    pub left: Option<u64>,
    pub started: bool,
    /// The core emitted `Start` for it (it holds a running slot).
    pub slot: bool,
    /// Raw wait status once dead.
    pub status: Option<i32>,
    pub sleep_until: Option<Timestamp>,
    pub hang: bool,
    pub ignore_term: bool,
    pub in_runnable: bool,
    /// A grandchild lives, until this time (`None`: until killed).
    pub gc_until: Option<Option<Timestamp>>,
    /// When the grandchild let go of the pipes.
    pub released_at: Option<Timestamp>,
    /// Stdin, stdout, stderr.
    pub pipes: [Pipe; 3],
    // The driver's side.
    pub fd_open: [bool; 3],
    pub interest: [bool; 3],
    pub eof_seen: [bool; 3],
    pub epipe_seen: bool,
    pub sinks: [Sink; 2],
    pub limit: Option<u64>,
    /// Bytes of input the driver wrote.
    pub written: u64,
    /// When the core handled the exit.
    pub exited_at: Option<Timestamp>,
    pub term_at: Option<Timestamp>,
    pub kill_at: Option<Timestamp>,
    /// When a terminate request reached the core.
    pub terminate_at: Option<Timestamp>,
    pub finished: bool,
    pub closed: [Option<CloseReason>; 3],
    /// Fairness: the turn at which readiness reached the core.
    pub ready_since: [Option<usize>; 3],
    /// What the child read of stdin (with `keep_bytes`).
    pub input_bytes: Vec<u8>,
    pub sink_bytes: [Vec<u8>; 2],
}

impl Proc {
    pub fn new(child: &SimChild) -> Self {
        Proc {
            program: child.program.clone(),
            pc: 0,
            left: None,
            started: false,
            slot: false,
            status: None,
            sleep_until: None,
            hang: false,
            ignore_term: false,
            in_runnable: false,
            gc_until: None,
            released_at: None,
            pipes: [Pipe::default(); 3],
            fd_open: [false; 3],
            interest: [false; 3],
            eof_seen: [false; 3],
            epipe_seen: false,
            sinks: [Sink::default(), Sink::default()],
            limit: child.sink_limit.map(|l| l.max(1) as u64),
            written: 0,
            exited_at: None,
            term_at: None,
            kill_at: None,
            terminate_at: None,
            finished: false,
            closed: [None; 3],
            ready_since: [None; 3],
            input_bytes: Vec::new(),
            sink_bytes: [Vec::new(), Vec::new()],
        }
    }

    pub fn alive(&self) -> bool {
        self.started && self.status.is_none()
    }
}

const SIGPIPE: i32 = 13;

/// How many ops a child runs before another gets a turn.
const SLICE: usize = 8;

impl Sim {
    /// Marks `c`'s pipes changed, for the readiness check.
    pub(super) fn touch(&mut self, c: usize) {
        self.dirty.push(c);
    }

    /// Puts `c` on the run queue if it could make progress.
    pub(super) fn make_runnable(&mut self, c: usize) {
        let p = &mut self.procs[c];
        if p.alive() && !p.hang && p.sleep_until.is_none() && !p.in_runnable {
            p.in_runnable = true;
            self.runnable.push(c);
        }
    }

    /// Runs some runnable children, picked at random. Whether any moved.
    pub(super) fn run_children(&mut self) -> bool {
        let mut moved = false;
        let n = 1 + self.rng.below(self.runnable.len());
        for _ in 0..n {
            if self.runnable.is_empty() {
                break;
            }
            let k = self.rng.below(self.runnable.len());
            let c = self.runnable.swap_remove(k);
            self.procs[c].in_runnable = false;
            moved |= self.run_proc(c);
        }
        moved
    }

    /// A part of what `want` bytes could be, when partial I/O is on.
    pub(super) fn partial(&mut self, want: u64) -> u64 {
        if want <= 1 || !self.cfg.partial_io || self.rng.one_in(2) {
            return want;
        }
        1 + self.rng.below(usize::try_from(want).unwrap_or(usize::MAX)) as u64
    }

    /// Runs `c` for a slice or until it blocks. Whether it moved.
    pub(super) fn run_proc(&mut self, c: usize) -> bool {
        let cap = self.cfg.pipe_capacity as u64;
        let mut moved = false;
        for _ in 0..SLICE {
            let p = &self.procs[c];
            if !p.alive() || p.hang || p.sleep_until.is_some() {
                return moved;
            }
            let Some(&op) = p.program.get(p.pc) else {
                self.die(c, 0);
                return true;
            };
            match op {
                Op::Read(n) => {
                    let p = &mut self.procs[c];
                    let left = *p.left.get_or_insert(n as u64);
                    let pipe = p.pipes[0];
                    if left == 0 || !pipe.child {
                        self.next_op(c);
                    } else if pipe.len() == 0 {
                        if pipe.ours {
                            return moved; // blocks until the driver writes
                        }
                        self.next_op(c); // EOF
                    } else {
                        let k = self.partial(left.min(pipe.len()));
                        let p = &mut self.procs[c];
                        if self.cfg.keep_bytes {
                            let from = p.pipes[0].start;
                            p.input_bytes
                                .extend((from..from + k).map(|i| super::input_byte(c, i)));
                        }
                        p.pipes[0].start += k;
                        p.left = Some(left - k);
                        self.touch(c);
                    }
                }
                Op::Write(err, n) => {
                    let i = 1 + usize::from(err);
                    let p = &mut self.procs[c];
                    let left = *p.left.get_or_insert(n as u64);
                    let pipe = p.pipes[i];
                    if left == 0 || !pipe.child {
                        self.next_op(c);
                    } else if !pipe.ours {
                        self.die(c, SIGPIPE);
                        return true;
                    } else if pipe.len() >= cap {
                        return moved; // blocks until the driver reads
                    } else {
                        let k = self.partial(left.min(cap - pipe.len()));
                        let p = &mut self.procs[c];
                        p.pipes[i].end += k;
                        p.left = Some(left - k);
                        self.touch(c);
                    }
                }
                Op::CloseStdin => {
                    self.procs[c].pipes[0].child = false;
                    self.touch(c);
                    self.next_op(c);
                }
                Op::CloseOut(err) => {
                    self.procs[c].pipes[1 + usize::from(err)].child = false;
                    self.touch(c);
                    self.next_op(c);
                }
                Op::Sleep(ns) => {
                    let until = self.now.saturating_add(Duration::from_nanos(ns));
                    self.procs[c].sleep_until = Some(until);
                    self.wakeups.push(Reverse((until, c, Wake::Sleep)));
                    return true;
                }
                Op::Exit(code) => {
                    self.die(c, (code & 0xff) << 8);
                    return true;
                }
                Op::Die(sig) => {
                    self.die(c, sig & 0x7f);
                    return true;
                }
                Op::Grandchild(life) => {
                    let until = life.map(|ns| self.now.saturating_add(Duration::from_nanos(ns)));
                    let p = &mut self.procs[c];
                    if p.gc_until.is_none() {
                        p.gc_until = Some(until);
                        // It inherits every pipe the child still has
                        // (and never reads stdin).
                        for pipe in &mut p.pipes {
                            pipe.gc = pipe.child;
                        }
                        if let Some(t) = until {
                            self.wakeups.push(Reverse((t, c, Wake::Release)));
                        }
                    }
                    self.next_op(c);
                }
                Op::IgnoreTerm => {
                    self.procs[c].ignore_term = true;
                    self.next_op(c);
                }
                Op::Hang => {
                    self.procs[c].hang = true;
                    return true;
                }
            }
            moved = true;
        }
        // Used its slice: back on the queue.
        self.make_runnable(c);
        moved
    }

    fn next_op(&mut self, c: usize) {
        let p = &mut self.procs[c];
        p.pc += 1;
        p.left = None;
    }

    /// `c` dies with raw wait status `status`: its pipe ends close and its
    /// exit becomes known to the driver (after a while).
    pub(super) fn die(&mut self, c: usize, status: i32) {
        let p = &mut self.procs[c];
        if !p.alive() {
            return;
        }
        p.status = Some(status);
        for pipe in &mut p.pipes {
            pipe.child = false;
        }
        self.touch(c);
        self.notes.push(Event::Exited {
            child: crate::ChildId(c),
            status,
        });
    }

    /// The grandchild of `c` is gone (killed, or its time is up).
    fn release(&mut self, c: usize) {
        let p = &mut self.procs[c];
        p.gc_until = None;
        p.released_at = Some(self.now);
        for pipe in &mut p.pipes {
            pipe.gc = false;
        }
        self.touch(c);
    }

    /// Delivers `signal` to `c` (and its grandchild with `group`).
    pub(super) fn kill(&mut self, c: usize, signal: KillSignal, group: bool) {
        if group && self.procs[c].gc_until.is_some() {
            self.release(c);
        }
        let p = &self.procs[c];
        if !p.alive() || (signal == KillSignal::Term && p.ignore_term) {
            return;
        }
        let status = if signal == KillSignal::Term { 15 } else { 9 };
        self.die(c, status);
    }

    fn wakeup_live(&self, t: Timestamp, c: usize, w: Wake) -> bool {
        let p = &self.procs[c];
        match w {
            Wake::Sleep => p.alive() && p.sleep_until == Some(t),
            Wake::Release => p.gc_until == Some(Some(t)),
            Wake::Terminate => true,
        }
    }

    /// The next live wake-up time.
    pub(super) fn next_wakeup(&mut self) -> Option<Timestamp> {
        while let Some(&Reverse((t, c, w))) = self.wakeups.peek() {
            if self.wakeup_live(t, c, w) {
                return Some(t);
            }
            self.wakeups.pop();
        }
        None
    }

    /// Runs every wake-up due now.
    pub(super) fn wake_due(&mut self) {
        while let Some(&Reverse((t, c, w))) = self.wakeups.peek() {
            if t > self.now {
                return;
            }
            self.wakeups.pop();
            if !self.wakeup_live(t, c, w) {
                continue;
            }
            match w {
                Wake::Sleep => {
                    self.procs[c].sleep_until = None;
                    self.next_op(c);
                    self.make_runnable(c);
                }
                Wake::Release => self.release(c),
                Wake::Terminate => self.notes.push(Event::Terminate {
                    child: crate::ChildId(c),
                }),
            }
        }
    }
}
