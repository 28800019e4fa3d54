//! A simulated kernel to drive the [`Scheduler`] against, without a single
//! syscall: pipes with finite capacity, scripted child programs, a virtual
//! clock that jumps to the next wake-up, edge-triggered readiness, partial
//! reads and writes chosen by a seeded generator, and sinks that fill up.
//!
//! [`Sim::run`] plays the driver's part of the loop and records what a test
//! needs to check the core's promises: what each sink received (in order),
//! what each child read from stdin, the signals sent and when, how many
//! children ran at once, and how long a ready stream waited for its read.
//! It gives up after a bounded number of steps to flag a livelock.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::{
    Action, ChildId, ChildSpec, CloseReason, Event, KillSignal, Output, Scheduler, SchedulerConfig,
    Stream, Timestamp,
};

/// One step of a child program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read up to `n` bytes from stdin (blocks while the pipe is empty and
    /// open; at EOF it goes on).
    Read(usize),
    /// Write `n` bytes to stdout (`false`) or stderr (`true`), blocking
    /// while the pipe is full; dies of SIGPIPE if the reader closed it.
    Write(bool, usize),
    /// Close stdin.
    CloseStdin,
    /// Close stdout (`false`) or stderr (`true`).
    CloseOut(bool),
    /// Sleep this many nanoseconds.
    Sleep(u64),
    /// Exit with this code now.
    Exit(i32),
    /// Be killed by this signal now.
    Die(i32),
    /// Leave a grandchild that holds stdout and stderr open for this long
    /// (`None`: until killed), in the child's process group.
    Grandchild(Option<u64>),
    /// Ignore SIGTERM from now on.
    IgnoreTerm,
    /// Wait forever (until killed).
    Hang,
}

/// The byte at position `i` of `child`'s `stream`: a pattern that lets a
/// test check every byte arrived, in order.
#[must_use]
pub fn pattern(child: usize, stderr: bool, i: u64) -> u8 {
    ((child as u64 * 7 + u64::from(stderr) * 3 + i) % 251) as u8
}

/// The byte at position `i` of the input fed to `child`.
#[must_use]
pub fn input_byte(child: usize, i: u64) -> u8 {
    ((child as u64 * 13 + i) % 241) as u8
}

/// A child to simulate: its spec for the core, its program, and its sinks'
/// capacity (`None`: unbounded).
#[derive(Clone, Debug)]
pub struct SimChild {
    /// What the core is told.
    pub spec: ChildSpec,
    /// What the child does.
    pub program: Vec<Op>,
    /// Bytes a sink holds before it reports full (then it drains on its own
    /// schedule); `None` for a sink that never fills.
    pub sink_limit: Option<usize>,
}

/// Settings of a simulation.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Pipe capacity in bytes.
    pub pipe_capacity: usize,
    /// Seed of the generator that picks partial reads and writes and the
    /// order of readiness.
    pub seed: u64,
    /// The core's running limit.
    pub max_running: usize,
    /// Give up after this many steps (a livelock).
    pub max_steps: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            pipe_capacity: 4096,
            seed: 1,
            max_running: 0,
            max_steps: 2_000_000,
        }
    }
}

#[derive(Debug, Default)]
struct Pipe {
    buf: VecDeque<u8>,
    /// The side we (the driver) hold is open.
    ours: bool,
    /// The child side is open (by the child or a grandchild).
    theirs_child: bool,
    theirs_grandchild: bool,
    /// Edge-triggered readiness: report the next time it becomes ready.
    armed: bool,
}

impl Pipe {
    fn theirs(&self) -> bool {
        self.theirs_child || self.theirs_grandchild
    }
}

#[derive(Debug)]
struct Proc {
    program: Vec<Op>,
    pc: usize,
    /// Bytes left of the current Read/Write op.
    left: usize,
    written: [u64; 2],
    wake_at: Option<Timestamp>,
    ignore_term: bool,
    status: Option<i32>,
    reaped: bool,
    grandchild_until: Option<Option<Timestamp>>,
    stdin: Pipe,
    out: [Pipe; 2],
    sink: [Vec<u8>; 2],
    sink_held: [usize; 2],
    sink_full: [bool; 2],
    input_read: Vec<u8>,
}

/// What a simulation observed.
#[derive(Debug, Default)]
pub struct Report {
    /// Whether every child finished.
    pub finished_all: bool,
    /// Whether the run stopped because nothing could happen and no deadline
    /// was set (children waiting forever with no timeout).
    pub quiescent: bool,
    /// Steps taken.
    pub steps: usize,
    /// The virtual time at the end.
    pub now: Timestamp,
    /// Per child: each stream's bytes as the sink received them.
    pub sinks: Vec<[Vec<u8>; 2]>,
    /// Per child: the bytes it read from stdin.
    pub input_read: Vec<Vec<u8>>,
    /// Per child: the outcome, when finished.
    pub outcomes: Vec<Option<crate::Outcome>>,
    /// Per child: bytes it wrote to each stream.
    pub written: Vec<[u64; 2]>,
    /// Per child: signals sent, with the time.
    pub signals: Vec<Vec<(Timestamp, KillSignal)>>,
    /// Per child: the time it started.
    pub started: Vec<Option<Timestamp>>,
    /// The most children running at once.
    pub max_running_seen: usize,
    /// The most any sink held at once beyond its limit.
    pub max_sink_overshoot: usize,
    /// The longest wait, in actions, between a stream becoming ready and
    /// its next read.
    pub max_read_wait: usize,
    /// The number of actions the core returned.
    pub actions: usize,
}

/// A tiny deterministic generator (xorshift).
#[derive(Clone, Copy, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// A size in 1..=n, often n, sometimes small.
    fn partial(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        match self.below(4) {
            0 => 1 + self.below(n),
            _ => n,
        }
    }
}

/// The simulation: a scheduler, the kernel, and the children.
#[derive(Debug)]
pub struct Sim {
    sched: Scheduler,
    cfg: SimConfig,
    procs: Vec<Option<Proc>>,
    children: Vec<SimChild>,
    now: Timestamp,
    rng: Rng,
    events: VecDeque<Event>,
    report: Report,
    /// When each stream last became ready, in actions (for fairness).
    ready_since: Vec<[Option<usize>; 2]>,
}

const TERM: i32 = 15;
const KILL: i32 = 9;
const PIPE: i32 = 13;

impl Sim {
    /// A simulation of `children` under `cfg`.
    #[must_use]
    pub fn new(children: Vec<SimChild>, cfg: SimConfig) -> Self {
        let mut sched = Scheduler::new(SchedulerConfig {
            max_running: cfg.max_running,
        });
        for c in &children {
            sched.add(c.spec);
        }
        let n = children.len();
        Sim {
            sched,
            cfg,
            procs: (0..n).map(|_| None).collect(),
            children,
            now: Timestamp::ZERO,
            rng: Rng(cfg.seed | 1),
            events: VecDeque::new(),
            report: Report {
                sinks: vec![[Vec::new(), Vec::new()]; n],
                input_read: vec![Vec::new(); n],
                outcomes: vec![None; n],
                written: vec![[0, 0]; n],
                signals: vec![Vec::new(); n],
                started: vec![None; n],
                ..Report::default()
            },
            ready_since: vec![[None, None]; n],
        }
    }

    /// Runs until every child finished, nothing can happen, or the step limit.
    #[must_use]
    pub fn run(mut self) -> Report {
        let mut steps = 0;
        loop {
            steps += 1;
            if steps > self.cfg.max_steps {
                break;
            }
            while let Some(e) = self.events.pop_front() {
                self.sched.handle(e, self.now);
            }
            match self.sched.poll(self.now) {
                Output::Action(a) => {
                    self.report.actions += 1;
                    self.act(a);
                }
                Output::Wait { deadline, .. } => {
                    if self.sched.is_done() {
                        self.report.finished_all = true;
                        break;
                    }
                    if self.step_children() {
                        continue;
                    }
                    // Nothing ran: jump the clock to the next wake-up.
                    let wake = self.next_wake();
                    let next = match (deadline, wake) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    match next {
                        Some(t) if t > self.now => self.now = t,
                        Some(_) => {}
                        None => {
                            self.report.quiescent = true;
                            break;
                        }
                    }
                }
            }
        }
        self.report.steps = steps;
        self.report.now = self.now;
        for (i, p) in self.procs.iter().enumerate() {
            if let Some(p) = p {
                self.report.input_read[i].clone_from(&p.input_read);
                self.report.written[i] = p.written;
            }
        }
        self.report
    }

    fn next_wake(&self) -> Option<Timestamp> {
        self.procs
            .iter()
            .flatten()
            .flat_map(|p| {
                let gc = match p.grandchild_until {
                    Some(Some(t)) => Some(t),
                    _ => None,
                };
                [if p.status.is_none() { p.wake_at } else { None }, gc]
            })
            .flatten()
            .min()
    }

    fn proc(&mut self, c: usize) -> &mut Proc {
        self.procs[c].as_mut().expect("started")
    }

    fn act(&mut self, a: Action) {
        match a {
            Action::Start { child } => self.start(child.0),
            Action::Read { child, stream, max } => self.read(child.0, stream, max),
            Action::Write { child, offset, len } => self.write(child.0, offset, len),
            Action::Close {
                child,
                stream,
                reason,
            } => {
                let p = self.proc(child.0);
                match stream {
                    Stream::Stdin => p.stdin.ours = false,
                    Stream::Stdout => p.out[0].ours = false,
                    _ => p.out[1].ours = false,
                }
                let _ = reason;
            }
            Action::Signal {
                child,
                signal,
                group,
            } => {
                let now = self.now;
                self.report.signals[child.0].push((now, signal));
                let p = self.proc(child.0);
                let sig = if signal == KillSignal::Term {
                    TERM
                } else {
                    KILL
                };
                if group && p.grandchild_until.is_some() {
                    p.grandchild_until = None;
                    p.out[0].theirs_grandchild = false;
                    p.out[1].theirs_grandchild = false;
                }
                if p.status.is_none() && !(sig == TERM && p.ignore_term) {
                    self.die(child.0, sig);
                }
            }
            Action::Finished { child, outcome } => {
                self.report.outcomes[child.0] = Some(outcome);
                if let Some(p) = &self.procs[child.0] {
                    self.report.sinks[child.0].clone_from(&p.sink);
                }
            }
            _ => {}
        }
        let running = self.sched.running();
        self.report.max_running_seen = self.report.max_running_seen.max(running);
    }

    fn start(&mut self, c: usize) {
        let spec = self.children[c].spec;
        let program = self.children[c].program.clone();
        let pipe = |held: bool| Pipe {
            ours: held,
            theirs_child: held,
            theirs_grandchild: false,
            armed: true,
            buf: VecDeque::new(),
        };
        self.procs[c] = Some(Proc {
            program,
            pc: 0,
            left: 0,
            written: [0, 0],
            wake_at: None,
            ignore_term: false,
            status: None,
            reaped: false,
            grandchild_until: None,
            stdin: pipe(spec.stdin),
            out: [pipe(spec.stdout), pipe(spec.stderr)],
            sink: [Vec::new(), Vec::new()],
            sink_held: [0, 0],
            sink_full: [false, false],
            input_read: Vec::new(),
        });
        self.report.started[c] = Some(self.now);
        self.events.push_back(Event::Started { child: ChildId(c) });
    }

    fn read(&mut self, c: usize, stream: Stream, max: usize) {
        let i = usize::from(stream == Stream::Stderr);
        let actions = self.report.actions;
        if let Some(since) = self.ready_since[c][i].take() {
            self.report.max_read_wait = self.report.max_read_wait.max(actions - since);
        }
        let limit = self.children[c].sink_limit;
        let want = self.rng.partial(max);
        let p = self.procs[c].as_mut().expect("started");
        let pipe = &mut p.out[i];
        let child = ChildId(c);
        if pipe.buf.is_empty() {
            if pipe.theirs() {
                pipe.armed = true;
                self.events
                    .push_back(Event::ReadWouldBlock { child, stream });
            } else {
                self.events.push_back(Event::Eof { child, stream });
            }
            return;
        }
        let n = want.min(pipe.buf.len());
        let data: Vec<u8> = pipe.buf.drain(..n).collect();
        p.sink[i].extend_from_slice(&data);
        p.sink_held[i] += n;
        self.events.push_back(Event::Read { child, stream, n });
        if let Some(l) = limit {
            let over = p.sink_held[i].saturating_sub(l);
            self.report.max_sink_overshoot = self.report.max_sink_overshoot.max(over);
            if p.sink_held[i] >= l && !p.sink_full[i] {
                p.sink_full[i] = true;
                self.events.push_back(Event::SinkFull { child, stream });
            }
        }
    }

    fn write(&mut self, c: usize, offset: u64, len: usize) {
        let cap = self.cfg.pipe_capacity;
        let want = self.rng.partial(len);
        let p = self.procs[c].as_mut().expect("started");
        let child = ChildId(c);
        if !p.stdin.theirs() {
            self.events.push_back(Event::WriteBroken { child });
            return;
        }
        let room = cap.saturating_sub(p.stdin.buf.len());
        if room == 0 {
            p.stdin.armed = true;
            self.events.push_back(Event::WriteWouldBlock { child });
            return;
        }
        let n = want.min(room);
        p.stdin
            .buf
            .extend((0..n as u64).map(|k| input_byte(c, offset + k)));
        self.events.push_back(Event::Wrote { child, n });
    }

    fn die(&mut self, c: usize, sig: i32) {
        self.exit(c, sig);
    }

    /// The child ends with raw wait status `status`.
    fn exit(&mut self, c: usize, status: i32) {
        let p = self.proc(c);
        if p.status.is_some() {
            return;
        }
        p.status = Some(status);
        p.stdin.theirs_child = false;
        p.out[0].theirs_child = false;
        p.out[1].theirs_child = false;
    }

    /// Runs every child that can run; reports readiness and exits. Returns
    /// whether anything happened.
    fn step_children(&mut self) -> bool {
        let mut any = false;
        let n = self.procs.len();
        let start = self.rng.below(n.max(1));
        for k in 0..n {
            let c = (start + k) % n;
            if self.procs[c].is_none() {
                continue;
            }
            any |= self.run_child(c);
            any |= self.sinks_drain(c);
            any |= self.readiness(c);
        }
        any
    }

    /// Sinks that were full drain on their own, one step at a time.
    fn sinks_drain(&mut self, c: usize) -> bool {
        let mut any = false;
        let p = self.procs[c].as_mut().expect("started");
        for i in 0..2 {
            if p.sink_full[i] {
                p.sink_held[i] = 0;
                p.sink_full[i] = false;
                let stream = if i == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                self.events.push_back(Event::SinkReady {
                    child: ChildId(c),
                    stream,
                });
                any = true;
            }
        }
        any
    }

    fn readiness(&mut self, c: usize) -> bool {
        let mut any = false;
        let actions = self.report.actions;
        let cap = self.cfg.pipe_capacity;
        let p = self.procs[c].as_mut().expect("started");
        let child = ChildId(c);
        for i in 0..2 {
            let pipe = &mut p.out[i];
            if pipe.ours && pipe.armed && (!pipe.buf.is_empty() || !pipe.theirs()) {
                pipe.armed = false;
                let stream = if i == 0 {
                    Stream::Stdout
                } else {
                    Stream::Stderr
                };
                self.events.push_back(Event::Readable { child, stream });
                self.ready_since[c][i].get_or_insert(actions);
                any = true;
            }
        }
        let s = &mut p.stdin;
        if s.ours && s.armed && (s.buf.len() < cap || !s.theirs()) {
            s.armed = false;
            self.events.push_back(Event::Writable { child });
            any = true;
        }
        if let Some(status) = p.status
            && !p.reaped
        {
            p.reaped = true;
            self.events.push_back(Event::Exited { child, status });
            any = true;
        }
        // A grandchild whose time is up lets go of the pipes.
        if let Some(Some(t)) = p.grandchild_until
            && t <= self.now
        {
            p.grandchild_until = None;
            p.out[0].theirs_grandchild = false;
            p.out[1].theirs_grandchild = false;
            any = true;
        }
        any
    }

    /// Runs child `c`'s program until it blocks. Returns whether it moved.
    fn run_child(&mut self, c: usize) -> bool {
        let cap = self.cfg.pipe_capacity;
        let now = self.now;
        let mut moved = false;
        loop {
            let p = self.procs[c].as_mut().expect("started");
            if p.status.is_some() {
                return moved;
            }
            if let Some(t) = p.wake_at {
                if t > now {
                    return moved;
                }
                p.wake_at = None;
                p.pc += 1;
                moved = true;
                continue;
            }
            let Some(&op) = p.program.get(p.pc) else {
                self.exit(c, 0);
                return true;
            };
            match op {
                Op::Read(n) => {
                    if p.left == 0 {
                        p.left = n;
                    }
                    if !p.stdin.theirs_child || p.left == 0 {
                        p.left = 0;
                        p.pc += 1;
                        moved = true;
                        continue;
                    }
                    if p.stdin.buf.is_empty() {
                        if p.stdin.ours {
                            return moved;
                        }
                        // EOF.
                        p.left = 0;
                        p.pc += 1;
                        moved = true;
                        continue;
                    }
                    let k = p.left.min(p.stdin.buf.len());
                    let bytes: Vec<u8> = p.stdin.buf.drain(..k).collect();
                    p.input_read.extend_from_slice(&bytes);
                    p.left -= k;
                    if p.left == 0 {
                        p.pc += 1;
                    }
                    moved = true;
                }
                Op::Write(err, n) => {
                    let i = usize::from(err);
                    if p.left == 0 {
                        p.left = n;
                    }
                    if !p.out[i].theirs_child || p.left == 0 {
                        p.left = 0;
                        p.pc += 1;
                        moved = true;
                        continue;
                    }
                    if !p.out[i].ours {
                        // Nobody reads: SIGPIPE.
                        self.exit(c, PIPE);
                        return true;
                    }
                    let room = cap.saturating_sub(p.out[i].buf.len());
                    if room == 0 {
                        return moved;
                    }
                    let k = p.left.min(room);
                    let base = p.written[i];
                    p.out[i]
                        .buf
                        .extend((0..k as u64).map(|j| pattern(c, err, base + j)));
                    p.written[i] += k as u64;
                    p.left -= k;
                    if p.left == 0 {
                        p.pc += 1;
                    }
                    moved = true;
                }
                Op::CloseStdin => {
                    p.stdin.theirs_child = false;
                    p.pc += 1;
                    moved = true;
                }
                Op::CloseOut(err) => {
                    p.out[usize::from(err)].theirs_child = false;
                    p.pc += 1;
                    moved = true;
                }
                Op::Sleep(ns) => {
                    p.wake_at = Some(now.saturating_add(Duration::from_nanos(ns)));
                    moved = true;
                }
                Op::Exit(code) => {
                    self.exit(c, (code & 0xff) << 8);
                    return true;
                }
                Op::Die(sig) => {
                    self.exit(c, sig & 0x7f);
                    return true;
                }
                Op::Grandchild(life) => {
                    p.grandchild_until =
                        Some(life.map(|ns| now.saturating_add(Duration::from_nanos(ns))));
                    p.out[0].theirs_grandchild = p.out[0].theirs_child;
                    p.out[1].theirs_grandchild = p.out[1].theirs_child;
                    p.pc += 1;
                    moved = true;
                }
                Op::IgnoreTerm => {
                    p.ignore_term = true;
                    p.pc += 1;
                    moved = true;
                }
                Op::Hang => return moved,
            }
        }
    }
}

/// Whether a close reason means the stream ended normally.
#[must_use]
pub fn normal_close(r: CloseReason) -> bool {
    matches!(r, CloseReason::Eof | CloseReason::InputDone)
}
