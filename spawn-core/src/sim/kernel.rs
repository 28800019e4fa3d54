//! The kernel side of the simulation: pipes, child processes running their
//! [`Op`] programs, grandchildren, process groups, signals and the
//! sleepers' clock.
//!
//! Process groups: a child with `signal_group` leads a group; a child with
//! `member_of` joins its leader's group when it starts (if the leader
//! holds a running slot then); a grandchild is in the group of the process
//! that forked it unless it leaves it ([`Gc::leave_group`]), and a child
//! may leave its group too ([`Op::LeaveGroup`]). A signal to a group
//! reaches every live process in it; one that left is missed (only a
//! signal through the child itself reaches a child that left). A probe
//! counts the live processes of the group but the leader.
//!
//! A pipe holds a range of stream offsets, not bytes: the `k`-th byte
//! written into a child's output pipe is [`pattern`](super::pattern)`(child,
//! stream, k)` and the `k`-th byte of its input is
//! [`input_byte`](super::input_byte)`(child, k)`, so a range says exactly
//! which bytes are in the pipe, in order, at no cost.

use alloc::vec::Vec;
use core::cmp::Reverse;
use core::time::Duration;

use super::{Gc, Note, Op, Sim, SimChild};
use crate::{CloseReason, Event, KillSignal, SignalTarget, Timestamp};

/// What a wake-up is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Wake {
    /// A sleeping child's sleep ends.
    Sleep,
    /// A grandchild (its index) ends.
    Release(usize),
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
    /// Grandchildren holding it open.
    pub gc: u32,
    /// Edge-triggered: report the next time it is ready.
    pub armed: bool,
}

impl Pipe {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Someone may still write into (outputs) or read from (stdin) it.
    pub fn theirs(&self) -> bool {
        self.child || self.gc > 0
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
    /// Starts the driver deferred so far.
    pub deferred: u8,
    /// A start was deferred with no other child running: it must finish
    /// as a failed spawn.
    pub defer_failed: bool,
    /// Raw wait status once dead.
    pub status: Option<i32>,
    pub sleep_until: Option<Timestamp>,
    pub hang: bool,
    pub ignore_term: bool,
    pub in_runnable: bool,
    /// The group it is in: its leader's index (itself for a leader);
    /// `None` outside any group of the run.
    pub pgroup: Option<usize>,
    /// The leader whose group it joined when it started (a member).
    pub joined: Option<usize>,
    /// Its grandchildren, dead or alive.
    pub gcs: Vec<GcProc>,
    /// When a grandchild last let go of the pipes.
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
    /// The last step of the stop sequence sent, and when.
    pub last_step: Option<(u8, Timestamp)>,
    /// When the core handled each read that gave bytes (what its idle
    /// timeout counts from), in order.
    pub output_at: Vec<Timestamp>,
    pub kill_at: Option<Timestamp>,
    /// When a terminate request reached the core.
    pub terminate_at: Option<Timestamp>,
    /// A probe of its group is in flight: whether it was asked after the
    /// exit was handled.
    pub probing: Option<bool>,
    /// When the core was told, by a probe asked after the exit, that the
    /// group is empty.
    pub empty_seen_at: Option<Timestamp>,
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
            deferred: 0,
            defer_failed: false,
            status: None,
            sleep_until: None,
            hang: false,
            ignore_term: false,
            in_runnable: false,
            pgroup: None,
            joined: None,
            gcs: Vec::new(),
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
            last_step: None,
            output_at: Vec::new(),
            kill_at: None,
            terminate_at: None,
            probing: None,
            empty_seen_at: None,
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

/// A grandchild: what it does and whether it still lives.
#[derive(Clone, Copy, Debug)]
pub(super) struct GcProc {
    pub spec: Gc,
    pub alive: bool,
    /// It holds stdin, stdout, stderr.
    pub holds: [bool; 3],
    /// The group it is in (a leader's index).
    pub pgroup: Option<usize>,
    /// It was born escaping a KILL ([`Gc::escapes`]).
    pub escapee: bool,
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
                    self.fork(
                        c,
                        Gc {
                            life,
                            ..Gc::default()
                        },
                    );
                    self.next_op(c);
                }
                Op::Fork(gc) => {
                    self.fork(c, gc);
                    self.next_op(c);
                }
                Op::LeaveGroup => {
                    self.procs[c].pgroup = None;
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
        self.notes.push(Note::Event(Event::Exited {
            child: crate::ChildId(c),
            status,
        }));
    }

    /// `c` forks a grandchild.
    fn fork(&mut self, c: usize, gc: Gc) {
        let until = gc
            .life
            .map(|ns| self.now.saturating_add(Duration::from_nanos(ns)));
        let p = &mut self.procs[c];
        // It inherits every pipe the child still has (and never reads
        // stdin), unless it closes them.
        let holds = core::array::from_fn(|i| gc.hold_pipes && p.pipes[i].child);
        for (pipe, &held) in p.pipes.iter_mut().zip(&holds) {
            pipe.gc += u32::from(held);
        }
        let k = p.gcs.len();
        p.gcs.push(GcProc {
            spec: gc,
            alive: true,
            holds,
            pgroup: if gc.leave_group { None } else { p.pgroup },
            escapee: false,
        });
        if let Some(t) = until {
            self.wakeups.push(Reverse((t, c, Wake::Release(k))));
        }
    }

    /// Grandchild `k` of `c` is gone (killed, or its time is up).
    fn gc_dies(&mut self, c: usize, k: usize) {
        let p = &mut self.procs[c];
        let gc = &mut p.gcs[k];
        if !gc.alive {
            return;
        }
        gc.alive = false;
        let holds = gc.holds;
        for (pipe, held) in p.pipes.iter_mut().zip(holds) {
            pipe.gc -= u32::from(held);
        }
        if holds.iter().any(|&h| h) {
            p.released_at = Some(self.now);
        }
        self.touch(c);
    }

    /// Delivers `signal` to `c`, its group, or both.
    pub(super) fn kill(&mut self, c: usize, signal: KillSignal, target: SignalTarget) {
        if target != SignalTarget::Group {
            self.kill_proc(c, signal);
        }
        if target != SignalTarget::Child {
            for m in 0..self.procs.len() {
                if self.procs[m].pgroup == Some(c) {
                    self.kill_proc(m, signal);
                }
                for k in 0..self.procs[m].gcs.len() {
                    let gc = self.procs[m].gcs[k];
                    let spared = match signal {
                        KillSignal::Step(_) => gc.spec.ignore_term || gc.spec.stuck,
                        _ => gc.spec.stuck,
                    };
                    if gc.alive && gc.pgroup == Some(c) && !spared {
                        self.gc_dies(m, k);
                        if signal == KillSignal::Kill && gc.spec.escapes > 0 {
                            // The child it was forking escapes this KILL.
                            self.procs[m].gcs.push(GcProc {
                                spec: Gc {
                                    escapes: gc.spec.escapes - 1,
                                    hold_pipes: false,
                                    ..gc.spec
                                },
                                alive: true,
                                holds: [false; 3],
                                pgroup: gc.pgroup,
                                escapee: true,
                            });
                        }
                    }
                }
            }
        }
    }

    fn kill_proc(&mut self, c: usize, signal: KillSignal) {
        let p = &self.procs[c];
        if !p.alive() || (matches!(signal, KillSignal::Step(_)) && p.ignore_term) {
            return;
        }
        let status = if matches!(signal, KillSignal::Step(_)) {
            15
        } else {
            9
        };
        self.die(c, status);
    }

    /// The live processes in the group `c` leads, but `c` itself: (all,
    /// those a teardown cannot be blamed for leaving: they ignore KILL, or
    /// escaped one and the KILL grace was too short (under 16 ms) for the
    /// repeated KILLs, 1, 2, 4, 8 ms apart, to reach them).
    pub(super) fn group_live(&self, c: usize) -> (usize, usize) {
        let short = self.children[c].spec.kill_grace < Duration::from_millis(16);
        let (mut all, mut excused) = (0, 0);
        for (m, p) in self.procs.iter().enumerate() {
            if m != c && p.alive() && p.pgroup == Some(c) {
                all += 1;
            }
            for gc in &p.gcs {
                if gc.alive && gc.pgroup == Some(c) {
                    all += 1;
                    excused += usize::from(gc.spec.stuck || (gc.escapee && short));
                }
            }
        }
        (all, excused)
    }

    fn wakeup_live(&self, t: Timestamp, c: usize, w: Wake) -> bool {
        let p = &self.procs[c];
        match w {
            Wake::Sleep => p.alive() && p.sleep_until == Some(t),
            Wake::Release(k) => p.gcs[k].alive,
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
                Wake::Release(k) => self.gc_dies(c, k),
                Wake::Terminate => self.notes.push(Note::Terminate(c)),
            }
        }
    }
}
