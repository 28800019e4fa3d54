//! A simulated kernel to drive the [`Scheduler`] against,
//! without a single syscall (feature `sim`, and the crate's own tests).
//!
//! It has pipes with finite capacity, scripted child programs ([`Op`]:
//! read k bytes of stdin, write k bytes to stdout or stderr, close a
//! stream, sleep, exit with a code, die from a signal, leave grandchildren
//! holding the pipes or not, in the process group or not, ignoring TERM or
//! even KILL, leave the process group, ignore TERM, hang), process groups
//! (leaders, members, probes), a virtual clock that jumps
//! to the next wake-up, and sinks that fill up (a limit, then
//! [`SinkFull`](crate::Event::SinkFull) until a consumer drains them). A
//! seeded generator picks the order in which runnable children run, the
//! order in which readiness and exits reach the core, and the size of
//! partial reads and writes.
//!
//! [`Sim`] plays the driver's part of the loop, edge-triggered (an edge
//! only when a pipe becomes ready after a read or write said it would
//! block: stricter than epoll) or level-triggered (from the core's
//! [`Interest`](crate::Action::Interest) actions alone); on request it
//! answers reads and writes late, lets writers refill pipes at once, and
//! leaves the poll loop early to resume later (see [`SimConfig`]). It checks the
//! core's promises as it goes and lists every broken one in
//! [`Report::violations`]:
//!
//! - children start in the order added, never more than `max_running`;
//! - no read of a stream whose sink is full, of a closed pipe, or of a pipe
//!   with a read in flight; writes walk the input without gaps or overlap;
//! - each close has a true reason (EOF was read, all input written, `EPIPE`
//!   was seen, the child exited, the EOF grace passed with the pipe still
//!   held), at the exact time for a grace;
//! - TERM exactly when the timeout (or a [`terminate`](SimChild::terminate_at))
//!   is due (or, for a group leader with a timeout or a terminate, when its
//!   leftovers are stopped), KILL exactly `kill_grace` later (a leader:
//!   again while its group lives), and no signal to the child itself after
//!   its exit was handled (the pid may belong to someone else by then), to
//!   a group only for a leader whose exit was handled and that is not
//!   finished;
//! - probes only of started, unfinished leaders, one at a time;
//! - a leader finishes only after its members exited, with no probe in
//!   flight, and its [`GroupOutcome`](crate::GroupOutcome) is true: its
//!   group empty at the finish unless `Left` or `NotProbed` (exited by
//!   itself with nothing to end its leftovers: no timeout, terminate or
//!   `end_leftovers`), and with a timeout or a terminate, `Left` only with
//!   processes that ignore KILL left in it;
//! - interest actions only when the interest changes;
//! - each child finishes once, with every pipe closed, and its
//!   [`Outcome`] says what really happened (status, byte
//!   counts, abandoned streams, signals);
//! - at the end: every byte written reaches its sink unless the stream was
//!   abandoned, all input is written unless the child stopped taking it,
//!   and the run stops only when every child finished (or the ones left
//!   hang forever with nothing due).
//!
//! [`Sim::drive_bounded`] gives up after a number of steps to flag a
//! livelock.

mod driver;
mod dues;
mod kernel;

use alloc::collections::{BTreeSet, BinaryHeap};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::{ChildSpec, KillSignal, Outcome, Output, Scheduler, SchedulerConfig, Timestamp};
use kernel::{Proc, Wake};

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
    /// Leave a grandchild that holds the child's pipes open for this long
    /// (`None`: until killed), in the child's process group: the same as
    /// `Fork(Gc { life, ..Gc::default() })`.
    Grandchild(Option<u64>),
    /// Leave a grandchild that does what [`Gc`] says.
    Fork(Gc),
    /// Move to a process group of its own (`setpgid(0, 0)`): signals to
    /// its old group miss it, probes of it do not count it, and its later
    /// grandchildren are not in the old group either.
    LeaveGroup,
    /// Ignore SIGTERM from now on.
    IgnoreTerm,
    /// Wait forever (until killed).
    Hang,
}

/// A grandchild: how long it lives and how it takes signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gc {
    /// It lives this many nanoseconds (`None`: until killed).
    pub life: Option<u64>,
    /// It holds the pipes the child had open when it forked.
    pub hold_pipes: bool,
    /// It ignores SIGTERM.
    pub ignore_term: bool,
    /// It ignores every signal, SIGKILL too (a process stuck in the
    /// kernel): only its time ends it.
    pub stuck: bool,
    /// It leaves the child's process group at once (`setpgid`).
    pub leave_group: bool,
    /// It forks all the time: a KILL that ends it misses the child it was
    /// forking at that moment, which lives on in the group (with one
    /// escape less), so only a KILL repeated ends the line.
    pub escapes: u8,
}

impl Default for Gc {
    fn default() -> Self {
        Gc {
            life: None,
            hold_pipes: true,
            ignore_term: false,
            stuck: false,
            leave_group: false,
            escapes: 0,
        }
    }
}

/// Something the driver has to hand to the core: an event, or a stop
/// request ([`Scheduler::terminate`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Note {
    Event(crate::Event),
    Terminate(usize),
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
/// capacity.
#[derive(Clone, Debug, Default)]
pub struct SimChild {
    /// What the core is told.
    pub spec: ChildSpec,
    /// What the child does; after the last op it exits with code 0.
    pub program: Vec<Op>,
    /// Bytes a sink holds before it reports full (a consumer drains it
    /// later, at random); `None` for a sink that never fills.
    pub sink_limit: Option<usize>,
    /// The driver fails to start it ([`Event::SpawnFailed`](crate::Event::SpawnFailed)).
    pub spawn_fails: bool,
    /// The driver defers its start this many times first
    /// ([`Event::StartDeferred`](crate::Event::StartDeferred): out of fds);
    /// a deferral with no other child running fails it.
    pub start_deferrals: u8,
    /// At this virtual time (nanoseconds), the user asks to stop it
    /// ([`Scheduler::terminate`]).
    pub terminate_at: Option<u64>,
}

impl SimChild {
    /// A child with `spec` running `program`, unbounded sinks.
    #[must_use]
    pub fn new(spec: ChildSpec, program: Vec<Op>) -> Self {
        SimChild {
            spec,
            program,
            ..SimChild::default()
        }
    }
}

/// Settings of a simulation.
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Pipe capacity in bytes.
    pub pipe_capacity: usize,
    /// Seed of the generator that picks partial reads and writes, the order
    /// children run in and the order of readiness.
    pub seed: u64,
    /// The core's running limit (0: none).
    pub max_running: usize,
    /// Give up after this many steps (a livelock).
    pub max_steps: usize,
    /// Drive from the core's interest actions, level-triggered, instead of
    /// edges.
    pub level_triggered: bool,
    /// Reads and writes move a random part of what they could.
    pub partial_io: bool,
    /// Keep the bytes each sink received and each child read (in
    /// [`Report::sinks`] and [`Report::input_read`]); off, only counts.
    pub keep_bytes: bool,
    /// Children write as fast as the driver reads: after each read, the
    /// writer runs at once and refills the pipe (what starves a reader
    /// that reads one stream until it would block).
    pub fast_writers: bool,
    /// The driver answers reads and writes later, at random, mixed with
    /// readiness (readiness may arrive while a read or write is in flight).
    pub async_answers: bool,
    /// The driver stops polling at random before the core waits (as
    /// `communicate` with a timeout of its own does) and resumes later,
    /// after the children ran and more events came in.
    pub pauses: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            pipe_capacity: 4096,
            seed: 1,
            max_running: 0,
            max_steps: 2_000_000,
            level_triggered: false,
            partial_io: true,
            keep_bytes: true,
            fast_writers: false,
            async_answers: false,
            pauses: false,
        }
    }
}

/// How a drive ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every child finished.
    Finished,
    /// Nothing can happen and nothing is due: children that hang forever
    /// without a timeout (a violation is recorded if any other child is
    /// left unfinished).
    Quiescent,
    /// The step limit was reached (a livelock, or a limit too small).
    StepLimit,
}

/// What a simulation observed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Whether every child finished.
    pub finished_all: bool,
    /// Whether the run stopped because nothing could happen and nothing
    /// was due.
    pub quiescent: bool,
    /// Whether the step limit was reached.
    pub livelock: bool,
    /// Steps taken.
    pub steps: usize,
    /// The virtual time at the end.
    pub now: Timestamp,
    /// Broken promises, in the order seen (empty when all is well).
    pub violations: Vec<String>,
    /// Per child: each stream's bytes as the sink received them (with
    /// [`SimConfig::keep_bytes`]).
    pub sinks: Vec<[Vec<u8>; 2]>,
    /// Per child: bytes each sink received.
    pub received: Vec<[u64; 2]>,
    /// Per child: the most each sink held at once.
    pub sink_peak: Vec<[u64; 2]>,
    /// Per child: the bytes it read from stdin (with `keep_bytes`).
    pub input_read: Vec<Vec<u8>>,
    /// Per child: how many bytes of stdin it read.
    pub input_consumed: Vec<u64>,
    /// Per child: the outcome, when finished.
    pub outcomes: Vec<Option<Outcome>>,
    /// Per child: bytes written into each output pipe (by it and its
    /// grandchild).
    pub written: Vec<[u64; 2]>,
    /// Per child: signals sent, with the time.
    pub signals: Vec<Vec<(Timestamp, KillSignal)>>,
    /// Per child: the time it started.
    pub started: Vec<Option<Timestamp>>,
    /// Per child: probes of its group the core asked for.
    pub probes: Vec<usize>,
    /// Per leader: the live processes in its group when it finished, and
    /// how many of them the teardown cannot be blamed for (they ignore
    /// KILL, or escaped one with too short a KILL grace to catch them).
    pub group_at_finish: Vec<Option<(usize, usize)>>,
    /// The most children running at once.
    pub max_running_seen: usize,
    /// The most any sink held beyond its limit (0 when the core pauses in
    /// time).
    pub max_sink_overshoot: usize,
    /// The longest wait, in reads and writes of other streams, between a
    /// stream's readiness reaching the core and its next read or write.
    pub max_read_wait: usize,
    /// The actions the core returned.
    pub actions: usize,
}

/// A tiny deterministic generator (xorshift64).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed, never 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (0 when `n <= 1`).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Whether a 1-in-`n` chance came up.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// The simulation: a scheduler, the kernel, the children, and the driver
/// between them.
#[derive(Debug)]
pub struct Sim {
    sched: Scheduler,
    cfg: SimConfig,
    children: Vec<SimChild>,
    procs: Vec<Proc>,
    now: Timestamp,
    rng: Rng,
    /// Children that may make progress (each at most once, see `Proc`).
    runnable: Vec<usize>,
    /// Sleep ends, grandchild releases, terminate requests.
    wakeups: BinaryHeap<Reverse<(Timestamp, usize, Wake)>>,
    /// Readiness, exits, late answers and stop requests not yet handed to
    /// the core.
    notes: Vec<Note>,
    /// Children whose pipes changed since the last readiness check.
    dirty: Vec<usize>,
    /// Level-triggered: the pipes the core wants watched.
    watched: BTreeSet<(usize, usize)>,
    /// Sinks that reported full, to be drained by their consumer.
    full_sinks: Vec<(usize, usize)>,
    /// The last child started (they must start in order).
    last_started: Option<usize>,
    running: usize,
    /// A start was deferred: none may come before a running child finished.
    stalled: bool,
    /// Reads and writes emitted so far (the clock of fairness).
    turns: usize,
    report: Report,
}

impl Sim {
    /// A simulation of `children` under `cfg`.
    #[must_use]
    pub fn new(children: Vec<SimChild>, cfg: SimConfig) -> Self {
        let mut sched = Scheduler::new(SchedulerConfig {
            max_running: cfg.max_running,
        });
        let mut wakeups = BinaryHeap::new();
        for (c, ch) in children.iter().enumerate() {
            sched.add(ch.spec);
            if let Some(t) = ch.terminate_at {
                wakeups.push(Reverse((Timestamp::from_nanos(t), c, Wake::Terminate)));
            }
        }
        let n = children.len();
        let procs = children.iter().map(Proc::new).collect();
        Sim {
            sched,
            cfg,
            children,
            procs,
            now: Timestamp::ZERO,
            rng: Rng::new(cfg.seed),
            runnable: Vec::new(),
            wakeups,
            notes: Vec::new(),
            dirty: Vec::new(),
            watched: BTreeSet::new(),
            full_sinks: Vec::new(),
            last_started: None,
            running: 0,
            stalled: false,
            turns: 0,
            report: Report {
                sinks: vec![[Vec::new(), Vec::new()]; n],
                received: vec![[0, 0]; n],
                sink_peak: vec![[0, 0]; n],
                input_read: vec![Vec::new(); n],
                input_consumed: vec![0; n],
                outcomes: vec![None; n],
                written: vec![[0, 0]; n],
                signals: vec![Vec::new(); n],
                started: vec![None; n],
                probes: vec![0; n],
                group_at_finish: vec![None; n],
                ..Report::default()
            },
        }
    }

    /// Drives until every child finished, nothing can happen, or
    /// [`SimConfig::max_steps`]; then checks the end state and reports.
    #[must_use]
    pub fn run(mut self) -> Report {
        let steps = self.cfg.max_steps;
        self.drive_bounded(steps);
        self.into_report()
    }

    /// Takes at most `max_steps` steps (a step: the core polled until it
    /// waits, the children run, readiness delivered or the clock moved).
    /// Can be called again to go on.
    pub fn drive_bounded(&mut self, max_steps: usize) -> Stop {
        for _ in 0..max_steps {
            if let Some(stop) = self.step() {
                return stop;
            }
        }
        self.report.livelock = true;
        Stop::StepLimit
    }

    /// The virtual time.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The scheduler under test.
    #[must_use]
    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    /// The report so far (the end checks run in [`into_report`](Self::into_report)).
    #[must_use]
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// One step; `Some` when the drive is over.
    fn step(&mut self) -> Option<Stop> {
        self.report.steps += 1;
        let Some(wait) = self.driver_turn() else {
            // The driver stepped away mid-loop: the world goes on (time
            // does not, so the timer checks stay exact), then it resumes.
            self.run_children();
            self.readiness();
            if !self.notes.is_empty() {
                self.deliver();
            }
            return None;
        };
        let Output::Wait { deadline, .. } = wait else {
            return Some(Stop::StepLimit);
        };
        if self.sched.is_done() {
            self.report.finished_all = true;
            return Some(Stop::Finished);
        }
        let mut moved = self.run_children();
        moved |= self.drain_sinks(false);
        self.readiness();
        // Exits may reach the core late, even after time moved on (the
        // driver reaps when it gets to it); everything else is handed over
        // before the clock moves.
        let only_exits = self
            .notes
            .iter()
            .all(|e| matches!(e, Note::Event(crate::Event::Exited { .. })));
        if !self.notes.is_empty() && (!only_exits || self.rng.one_in(2)) {
            self.deliver();
            return None;
        }
        if moved || !self.runnable.is_empty() {
            return None;
        }
        // Idle: the consumers catch up before time moves.
        if self.drain_sinks(true) {
            return None;
        }
        let next = match (deadline, self.next_wakeup()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(t) => {
                self.now = self.now.max(t);
                self.wake_due();
                None
            }
            None if !self.notes.is_empty() => {
                self.deliver();
                None
            }
            None => {
                self.report.quiescent = true;
                Some(Stop::Quiescent)
            }
        }
    }

    /// Records a broken promise.
    fn violation(&mut self, what: String) {
        if self.report.violations.len() < 50 {
            self.report.violations.push(what);
        }
    }
}
