//! A `proptest-state-machine` test of the scheduler: proptest picks a
//! sequence of things that happen in the world (a child writes, reads,
//! closes a pipe, exits, forks a grandchild that holds its pipes; the
//! driver hands over readiness or an exit, a sink fills or empties, time
//! jumps, the user cancels), shrinks it to the shortest failing one, and
//! after every step the core's actions are checked against the contract.
//! At the end, a teardown lets everything happen and the scheduler must
//! finish every child with the right counts (no stall).
//!
//! The reference model is deliberately thin (the children's specs and the
//! clock): the contract is checked by the harness, which plays kernel and
//! driver for three children with tiny pipes (many "would block"s).

use std::time::Duration;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use spawn_core::{
    Action, ChildId, ChildSpec, CloseReason, Event, GroupOutcome, KillSignal, Outcome, Output,
    Scheduler, SchedulerConfig, SignalTarget, Stream, Timestamp, WaitReason,
};

const CHILDREN: usize = 3;
const CAP: u64 = 8;
const MS: u64 = 1_000_000;

#[derive(Clone, Debug)]
struct Model {
    specs: Vec<ChildSpec>,
    now: u64,
}

#[derive(Clone, Debug)]
enum Step {
    Write {
        c: usize,
        err: bool,
        n: u64,
    },
    Read {
        c: usize,
        n: u64,
    },
    Close {
        c: usize,
        pipe: usize,
    },
    Exit {
        c: usize,
        status: i32,
    },
    Fork {
        c: usize,
    },
    Release {
        c: usize,
    },
    Reap {
        c: usize,
    },
    Edge {
        c: usize,
        pipe: usize,
    },
    SinkFull {
        c: usize,
        err: bool,
    },
    SinkReady {
        c: usize,
        err: bool,
    },
    Advance {
        ms: u64,
    },
    Terminate {
        c: usize,
    },
    /// The driver takes the next event without polling in between.
    Hold,
}

fn spec() -> impl Strategy<Value = ChildSpec> {
    (
        any::<(bool, bool, bool, bool)>(),
        0u64..40,
        prop::option::of(0u64..50),
        (0u64..30, 0u64..30),
        (1usize..6, 1u32..4, 1usize..6),
    )
        .prop_map(
            |((stdin, stdout, stderr, group), input, timeout, (kill, eof), (rc, budget, wc))| {
                ChildSpec {
                    stdin,
                    input_len: if stdin { input } else { 0 },
                    stdout,
                    stderr,
                    timeout: timeout.map(Duration::from_millis),
                    idle_timeout: None,
                    kill_grace: Duration::from_millis(kill),
                    stop_graces: spawn_core::StopGraces::default(),
                    eof_grace: Duration::from_millis(eof),
                    signal_group: group,
                    member_of: None,
                    end_leftovers: false,
                    read_chunk: rc,
                    read_budget: budget,
                    write_chunk: wc,
                }
            },
        )
}

impl ReferenceStateMachine for Model {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        prop::collection::vec(spec(), CHILDREN)
            .prop_map(|specs| Model { specs, now: 0 })
            .boxed()
    }

    fn transitions(_: &Model) -> BoxedStrategy<Step> {
        let c = 0..CHILDREN;
        prop_oneof![
            4 => (c.clone(), any::<bool>(), 1u64..12).prop_map(|(c, err, n)| Step::Write { c, err, n }),
            3 => (c.clone(), 1u64..12).prop_map(|(c, n)| Step::Read { c, n }),
            1 => (c.clone(), 0usize..3).prop_map(|(c, pipe)| Step::Close { c, pipe }),
            1 => (c.clone(), 0i32..3).prop_map(|(c, s)| Step::Exit { c, status: s << 8 }),
            1 => c.clone().prop_map(|c| Step::Fork { c }),
            1 => c.clone().prop_map(|c| Step::Release { c }),
            2 => c.clone().prop_map(|c| Step::Reap { c }),
            6 => (c.clone(), 0usize..3).prop_map(|(c, pipe)| Step::Edge { c, pipe }),
            1 => (c.clone(), any::<bool>()).prop_map(|(c, err)| Step::SinkFull { c, err }),
            1 => (c.clone(), any::<bool>()).prop_map(|(c, err)| Step::SinkReady { c, err }),
            2 => (0u64..40).prop_map(|ms| Step::Advance { ms }),
            1 => c.prop_map(|c| Step::Terminate { c }),
            2 => Just(Step::Hold),
        ]
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        if let Step::Advance { ms } = step {
            state.now += ms;
        }
        state
    }
}

/// One pipe: bytes in it, and who holds which end.
#[derive(Clone, Copy, Debug, Default)]
struct Pipe {
    len: u64,
    /// Total bytes that went through (written into an output, or read
    /// by the child from stdin).
    total: u64,
    child: bool,
    gc: bool,
    ours: bool,
    /// Edge-triggered: an edge comes the next time it is ready (set when
    /// registered and when a read or write would block).
    armed: bool,
}

impl Pipe {
    fn ready(&self, stdin: bool) -> bool {
        let theirs = self.child || self.gc;
        !theirs || if stdin { self.len < CAP } else { self.len > 0 }
    }
}

#[derive(Clone, Debug, Default)]
struct Kid {
    started: bool,
    started_at: Option<u64>,
    status: Option<i32>,
    /// The exit was handed to the core, at this time.
    reaped: Option<u64>,
    pipes: [Pipe; 3],
    interest: [bool; 3],
    eof_seen: [bool; 3],
    epipe_seen: bool,
    sink_full: [bool; 2],
    read: [u64; 2],
    written: u64,
    term: Option<u64>,
    kill: Option<u64>,
    /// A grandchild lives (in the child's group with `signal_group`).
    gc_alive: bool,
    terminate: Option<u64>,
    finished: bool,
    closed: [Option<CloseReason>; 3],
}

struct Harness {
    sched: Scheduler,
    specs: Vec<ChildSpec>,
    kids: Vec<Kid>,
    now: u64,
    running: usize,
    hold: bool,
    /// When the teardown started: from then on every edge is handed over
    /// before time moves, so a pipe whose EOF grace ends later and is
    /// abandoned was one the core failed to read to EOF.
    teardown_at: Option<u64>,
}

const STREAMS: [Stream; 3] = [Stream::Stdin, Stream::Stdout, Stream::Stderr];

fn ix(s: Stream) -> usize {
    match s {
        Stream::Stdin => 0,
        Stream::Stdout => 1,
        _ => 2,
    }
}

impl Harness {
    fn at(&self) -> Timestamp {
        Timestamp::from_nanos(self.now * MS)
    }

    fn handle(&mut self, e: Event) {
        let now = self.at();
        self.sched.handle(e, now);
    }

    /// Polls until `Wait`, doing every action and checking it.
    fn turn(&mut self) {
        for _ in 0..10_000 {
            match self.sched.poll(self.at()) {
                Output::Action(a) => self.act(a),
                Output::Finished { child, outcome } => self.finished(child.0, &outcome),
                Output::Wait { deadline, reason } => {
                    if let Some(d) = deadline {
                        // Only a look at what is ready between two starts
                        // is due now; any other deadline is ahead.
                        if reason == WaitReason::Starting {
                            assert!(d >= self.at(), "a deadline in the past: {d:?}");
                        } else {
                            assert!(d > self.at(), "a deadline in the past: {d:?}");
                        }
                    }
                    self.check_signals_due();
                    for (c, k) in self.kids.iter().enumerate() {
                        // Once the exit is handled nobody takes input.
                        assert!(
                            k.reaped.is_none() || !k.pipes[0].ours,
                            "child {c}: stdin open after its exit"
                        );
                    }
                    return;
                }
            }
        }
        panic!("poll never waits");
    }

    fn term_due(&self, c: usize) -> Option<u64> {
        let k = &self.kids[c];
        let started = self.started_at(c)?;
        let t = self.specs[c]
            .timeout
            .map(|t| started + t.as_millis() as u64);
        let u = k.terminate.filter(|&u| u >= started);
        [t, u].into_iter().flatten().min()
    }

    fn started_at(&self, c: usize) -> Option<u64> {
        self.kids[c].started_at
    }

    /// TERM and KILL are never late: due and not reaped means sent.
    fn check_signals_due(&self) {
        for (c, k) in self.kids.iter().enumerate() {
            if !k.started || k.reaped.is_some() || k.finished {
                continue;
            }
            if let Some(due) = self.term_due(c)
                && due <= self.now
            {
                assert!(
                    k.term.is_some(),
                    "child {c}: TERM due at {due} not sent by {}",
                    self.now
                );
            }
            if let Some(t) = k.term
                && t + self.specs[c].kill_grace.as_millis() as u64 <= self.now
            {
                assert!(
                    k.kill.is_some(),
                    "child {c}: KILL due not sent by {}",
                    self.now
                );
            }
        }
    }

    fn act(&mut self, a: Action) {
        match a {
            Action::Start { child } => {
                let c = child.0;
                assert!(!self.kids[c].started);
                assert!(self.kids[..c].iter().all(|k| k.started || k.finished));
                self.running += 1;
                assert!(self.running <= 2, "running limit exceeded");
                let s = self.specs[c];
                let k = &mut self.kids[c];
                k.started = true;
                k.started_at = Some(self.now);
                for (i, held) in [s.stdin, s.stdout, s.stderr].into_iter().enumerate() {
                    k.pipes[i] = Pipe {
                        child: held,
                        ours: held,
                        armed: true,
                        ..Pipe::default()
                    };
                }
                self.handle(Event::Started { child });
            }
            Action::Read { child, stream, max } => {
                let (c, i) = (child.0, ix(stream));
                let k = &mut self.kids[c];
                assert!(i > 0 && k.pipes[i].ours, "read of a closed pipe");
                assert!(!k.sink_full[i - 1], "read while the sink is full");
                let p = &mut k.pipes[i];
                let e = if p.len > 0 {
                    let n = p.len.min(max as u64);
                    p.len -= n;
                    k.read[i - 1] += n;
                    Event::Read {
                        child,
                        stream,
                        n: n as usize,
                    }
                } else if p.child || p.gc {
                    p.armed = true;
                    Event::ReadWouldBlock { child, stream }
                } else {
                    k.eof_seen[i] = true;
                    Event::Eof { child, stream }
                };
                self.handle(e);
            }
            Action::Write { child, offset, len } => {
                let c = child.0;
                let input = self.specs[c].input_len;
                let k = &mut self.kids[c];
                assert!(k.pipes[0].ours, "write to a closed stdin");
                assert_eq!(offset, k.written, "writes must walk the input");
                assert!(len > 0 && offset + len as u64 <= input);
                let p = &mut k.pipes[0];
                let e = if !(p.child || p.gc) {
                    k.epipe_seen = true;
                    Event::WriteBroken { child }
                } else if p.len >= CAP {
                    p.armed = true;
                    Event::WriteWouldBlock { child }
                } else {
                    let n = (CAP - p.len).min(len as u64);
                    p.len += n;
                    k.written += n;
                    Event::Wrote {
                        child,
                        n: n as usize,
                    }
                };
                self.handle(e);
            }
            Action::Close {
                child,
                stream,
                reason,
            } => {
                let (c, i) = (child.0, ix(stream));
                let s = self.specs[c];
                let now = self.now;
                let k = &mut self.kids[c];
                assert!(k.pipes[i].ours, "close of a closed pipe");
                let ok = match reason {
                    CloseReason::InputDone => i == 0 && k.written == s.input_len,
                    CloseReason::Eof => k.eof_seen[i],
                    CloseReason::Broken => i == 0 && k.epipe_seen,
                    CloseReason::ChildExited => i == 0 && k.reaped.is_some(),
                    // The grace is over and nothing the child wrote is
                    // left unread: the core reads until a read would block
                    // before it abandons, however late it got to the pipe.
                    CloseReason::Abandoned => {
                        k.pipes[i].len == 0
                            && k.reaped.is_some_and(|t| {
                                let end = t + s.eof_grace.as_millis() as u64;
                                let blamed = self.teardown_at.is_some_and(|td| end > td);
                                end <= now && (!blamed || s.eof_grace.is_zero())
                            })
                    }
                    _ => false,
                };
                assert!(
                    ok,
                    "close of {stream:?} of {c} as {reason:?} is not true: {k:?}"
                );
                k.pipes[i].ours = false;
                k.interest[i] = false;
                k.closed[i] = Some(reason);
            }
            Action::Signal {
                child,
                signal,
                target,
            } => {
                let c = child.0;
                let now = self.now;
                let s = self.specs[c];
                let grace = s.kill_grace.as_millis() as u64;
                let due = self.term_due(c);
                let k = &mut self.kids[c];
                let leads = s.signal_group;
                // The child itself only until its exit is handled; a
                // leader's group until it is finished.
                let ok = match target {
                    SignalTarget::Child => !leads && k.reaped.is_none(),
                    SignalTarget::ChildAndGroup => leads && k.reaped.is_none(),
                    _ => leads && k.reaped.is_some(),
                };
                assert!(
                    k.started && !k.finished && ok,
                    "{target:?} after the exit was handled or the child finished: {k:?}"
                );
                match signal {
                    KillSignal::Step(0) => {
                        // Or a leader's leftovers, stopped after its exit.
                        let leftovers = leads
                            && k.reaped.is_some()
                            && (s.timeout.is_some() || k.terminate.is_some());
                        assert!(k.term.is_none() && (due.is_some_and(|d| d <= now) || leftovers));
                        k.term = Some(now);
                    }
                    _ => {
                        // A leader gets KILL again while its group lives.
                        assert!(
                            (k.kill.is_none() || leads) && k.term.is_some_and(|t| t + grace <= now)
                        );
                        k.kill.get_or_insert(now);
                    }
                }
                if target != SignalTarget::Child {
                    k.gc_alive = false;
                    for p in &mut k.pipes {
                        p.gc = false;
                    }
                }
                let status = if signal == KillSignal::Step(0) { 15 } else { 9 };
                if target != SignalTarget::Group {
                    self.die(c, status);
                }
            }
            Action::ProbeGroup { child } => {
                let c = child.0;
                let k = &self.kids[c];
                assert!(self.specs[c].signal_group && k.started && !k.finished);
                let e = if k.gc_alive {
                    Event::GroupLive { child }
                } else {
                    Event::GroupEmpty { child }
                };
                self.handle(e);
            }
            Action::Interest { child, stream, on } => {
                let k = &mut self.kids[child.0];
                let i = ix(stream);
                assert!(
                    k.pipes[i].ours && k.interest[i] != on,
                    "interest not a change"
                );
                k.interest[i] = on;
            }
            other => panic!("unknown action {other:?}"),
        }
    }

    fn finished(&mut self, c: usize, o: &Outcome) {
        let k = &mut self.kids[c];
        assert!(!k.finished, "finished twice");
        assert!(k.pipes.iter().all(|p| !p.ours), "finished with a pipe open");
        k.finished = true;
        if k.started {
            self.running -= 1;
            assert_eq!(o.status, k.status);
            assert!(k.reaped.is_some());
        } else {
            assert!(o.terminated && o.status.is_none());
        }
        assert_eq!([o.stdout_bytes, o.stderr_bytes], k.read);
        assert_eq!(o.input_written, k.written);
        for i in 1..3 {
            if k.closed[i] == Some(CloseReason::Eof) {
                assert_eq!(k.read[i - 1], k.pipes[i].total, "bytes lost");
            }
        }
        let broken = matches!(
            k.closed[0],
            Some(CloseReason::Broken | CloseReason::ChildExited)
        );
        assert_eq!(o.input_broken, broken);
        assert_eq!(
            (o.signals_sent.steps > 0, o.signals_sent.kill),
            (k.term.is_some(), k.kill.is_some())
        );
        let s = self.specs[c];
        let k = &self.kids[c];
        if s.signal_group && k.started {
            // Leaders: nothing left of the group, or given up on.
            assert!(
                !k.gc_alive || matches!(o.group, GroupOutcome::Left | GroupOutcome::NotProbed),
                "group left alive: {o:?}"
            );
            // With a timeout or a terminate nothing is left: KILL ends it.
            if s.timeout.is_some() || k.terminate.is_some() {
                assert_ne!(o.group, GroupOutcome::Left, "{k:?}");
            }
        } else {
            assert_eq!(o.group, GroupOutcome::NotOwned);
        }
    }

    fn die(&mut self, c: usize, status: i32) {
        let k = &mut self.kids[c];
        if !k.started || k.status.is_some() {
            return;
        }
        k.status = Some(status);
        for p in &mut k.pipes {
            p.child = false;
        }
    }

    fn step(&mut self, step: &Step) {
        match *step {
            Step::Write { c, err, n } => {
                let k = &mut self.kids[c];
                let p = &mut k.pipes[1 + usize::from(err)];
                if k.status.is_none() && p.child && p.ours {
                    let n = n.min(CAP - p.len);
                    p.len += n;
                    p.total += n;
                }
            }
            Step::Read { c, n } => {
                let k = &mut self.kids[c];
                let p = &mut k.pipes[0];
                if k.status.is_none() && p.child {
                    let n = n.min(p.len);
                    p.len -= n;
                    p.total += n;
                }
            }
            Step::Close { c, pipe } => {
                let k = &mut self.kids[c];
                if k.status.is_none() {
                    k.pipes[pipe].child = false;
                }
            }
            Step::Exit { c, status } => self.die(c, status),
            Step::Fork { c } => {
                let k = &mut self.kids[c];
                if k.status.is_none() {
                    k.gc_alive = true;
                    for p in &mut k.pipes {
                        p.gc |= p.child;
                    }
                }
            }
            Step::Release { c } => {
                self.kids[c].gc_alive = false;
                for p in &mut self.kids[c].pipes {
                    p.gc = false;
                }
            }
            Step::Reap { c } => self.reap(c),
            Step::Edge { c, pipe } => {
                let p = &mut self.kids[c].pipes[pipe];
                if p.ours && p.armed && p.ready(pipe == 0) {
                    p.armed = false;
                    let child = ChildId(c);
                    self.handle(match pipe {
                        0 => Event::Writable { child },
                        _ => Event::Readable {
                            child,
                            stream: STREAMS[pipe],
                        },
                    });
                }
            }
            Step::SinkFull { c, err } => self.sink(c, err, true),
            Step::SinkReady { c, err } => self.sink(c, err, false),
            Step::Advance { ms } => self.now += ms,
            Step::Hold => {
                self.hold = true;
                return;
            }
            Step::Terminate { c } => {
                let k = &self.kids[c];
                if !k.finished && (k.reaped.is_none() || self.specs[c].signal_group) {
                    self.kids[c].terminate = Some(self.now);
                }
                let now = self.at();
                self.sched.terminate(ChildId(c), now);
            }
        }
        if !std::mem::take(&mut self.hold) {
            self.turn();
        }
    }

    fn reap(&mut self, c: usize) {
        let k = &mut self.kids[c];
        if let (Some(status), None) = (k.status, k.reaped) {
            k.reaped = Some(self.now);
            self.handle(Event::Exited {
                child: ChildId(c),
                status,
            });
        }
    }

    fn sink(&mut self, c: usize, err: bool, full: bool) {
        let i = 1 + usize::from(err);
        let k = &mut self.kids[c];
        if k.pipes[i].ours && k.sink_full[i - 1] != full {
            k.sink_full[i - 1] = full;
            let stream = STREAMS[i];
            let child = ChildId(c);
            self.handle(if full {
                Event::SinkFull { child, stream }
            } else {
                Event::SinkReady { child, stream }
            });
        }
    }

    /// Lets everything happen: every child dies, grandchildren let go,
    /// sinks drain, every edge and exit is handed over, time passes. The
    /// scheduler must finish them all.
    fn teardown(&mut self) {
        self.teardown_at = Some(self.now);
        for _ in 0..100 {
            if self.sched.is_done() {
                return;
            }
            for c in 0..CHILDREN {
                self.die(c, 9);
                self.kids[c].gc_alive = false;
                for p in &mut self.kids[c].pipes {
                    p.gc = false;
                }
                self.reap(c);
                for err in [false, true] {
                    self.sink(c, err, false);
                }
                for pipe in 0..3 {
                    self.step(&Step::Edge { c, pipe });
                }
            }
            self.now += 100;
            self.turn();
        }
        panic!("stalled: {:?}", self.kids);
    }
}

/// `PROPTEST_CASES`, else 256 in debug builds and 1,024 optimised.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 256 } else { 1024 })
}

struct CoreMachine;

impl StateMachineTest for CoreMachine {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(model: &Model) -> Harness {
        let mut sched = Scheduler::new(SchedulerConfig { max_running: 2 });
        for s in &model.specs {
            sched.add(*s);
        }
        let mut h = Harness {
            sched,
            specs: model.specs.clone(),
            kids: vec![Kid::default(); CHILDREN],
            now: 0,
            running: 0,
            hold: false,
            teardown_at: None,
        };
        h.turn();
        h
    }

    fn apply(mut h: Harness, _: &Model, step: Step) -> Harness {
        h.step(&step);
        h
    }

    fn check_invariants(h: &Harness, model: &Model) {
        assert_eq!(h.now, model.now);
        assert!(h.sched.running() <= 2);
        for (c, k) in h.kids.iter().enumerate() {
            let st = h.sched.stats(ChildId(c)).unwrap();
            assert_eq!([st.stdout_bytes, st.stderr_bytes], k.read);
            assert_eq!(st.input_written, k.written);
        }
    }

    fn teardown(mut h: Harness, _: Model) {
        h.teardown();
        assert!(h.kids.iter().all(|k| k.finished));
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    })]

    /// Any order of world events keeps the contract after every step, and
    /// once everything is allowed to happen, every child finishes.
    #[test]
    fn any_event_order_keeps_the_contract_and_finishes(sequential 1..80 => CoreMachine);
}
