//! Deterministic tests of the scheduler alone, event by event: one
//! `drain` helper collects what a poll loop emits, each test states the
//! exact actions it expects.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::{
    Action, ChildId, ChildSpec, ChildState, CloseReason, Event, KillSignal, Output, Scheduler,
    SchedulerConfig, SignalTarget, SignalsSent, Stream, Timer, Timestamp, WaitReason,
};

pub(super) const C0: ChildId = ChildId(0);
pub(super) const C1: ChildId = ChildId(1);

pub(super) fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

/// Polls until `Wait`; returns the actions (and finish reports) and the
/// wait. A wait that only lets the driver look at what is ready between two
/// starts (`WaitReason::Starting`, due now) is passed: nothing happened in
/// it, and the next poll goes on starting.
pub(super) fn drain(s: &mut Scheduler, now: Timestamp) -> (Vec<Output>, Output) {
    let mut acts = Vec::new();
    loop {
        match turn(s, now) {
            (
                more,
                Output::Wait {
                    reason: WaitReason::Starting,
                    ..
                },
            ) => acts.extend(more),
            (more, w) => {
                acts.extend(more);
                return (acts, w);
            }
        }
        assert!(acts.len() < 10_000, "poll never waits");
    }
}

/// One turn of a driver that starts in place: every `Start` is answered
/// with `Started` before the next poll (a start not answered holds the
/// next back).
pub(super) fn turn_answered(s: &mut Scheduler, now: Timestamp) -> (Vec<Output>, Output) {
    let mut acts = Vec::new();
    loop {
        match s.poll(now) {
            w @ Output::Wait { .. } => return (acts, w),
            a => {
                if let Output::Action(Action::Start { child }) = a {
                    s.handle(Event::Started { child }, now);
                }
                acts.push(a);
            }
        }
    }
}

/// [`drain`] for a driver that starts in place (see [`turn_answered`]).
pub(super) fn drain_answered(s: &mut Scheduler, now: Timestamp) -> (Vec<Output>, Output) {
    let mut acts = Vec::new();
    loop {
        let (more, w) = turn_answered(s, now);
        acts.extend(more);
        if !matches!(
            w,
            Output::Wait {
                reason: WaitReason::Starting,
                ..
            }
        ) {
            return (acts, w);
        }
        assert!(acts.len() < 10_000, "poll never waits");
    }
}

/// The children that `acts` start, in order.
pub(super) fn starts(acts: &[Output]) -> Vec<ChildId> {
    acts.iter()
        .filter_map(|a| match a {
            Output::Action(Action::Start { child }) => Some(*child),
            _ => None,
        })
        .collect()
}

/// One turn: polls until the first `Wait`, whatever its reason.
pub(super) fn turn(s: &mut Scheduler, now: Timestamp) -> (Vec<Output>, Output) {
    let mut acts = Vec::new();
    loop {
        match s.poll(now) {
            w @ Output::Wait { .. } => return (acts, w),
            a => acts.push(a),
        }
        assert!(acts.len() < 10_000, "poll never waits");
    }
}

pub(super) fn io() -> Output {
    Output::Wait {
        deadline: None,
        reason: WaitReason::Io,
    }
}

pub(super) fn interest(child: ChildId, stream: Stream, on: bool) -> Output {
    Output::Action(Action::Interest { child, stream, on })
}

pub(super) fn read(child: ChildId, stream: Stream, max: usize) -> Output {
    Output::Action(Action::Read { child, stream, max })
}

pub(super) fn close(child: ChildId, stream: Stream, reason: CloseReason) -> Output {
    Output::Action(Action::Close {
        child,
        stream,
        reason,
    })
}

pub(super) fn act(a: Action) -> Output {
    Output::Action(a)
}

pub(super) fn out_only() -> ChildSpec {
    ChildSpec {
        stdout: true,
        ..ChildSpec::default()
    }
}

/// A scheduler with one started child.
pub(super) fn started(spec: ChildSpec) -> Scheduler {
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(spec);
    assert_eq!(s.poll(ms(0)), Output::Action(Action::Start { child: C0 }));
    s.handle(Event::Started { child: C0 }, ms(0));
    s
}

#[test]
fn started_watches_held_pipes_and_closes_stdin_without_input() {
    let mut s = started(ChildSpec {
        stdin: true,
        stdout: true,
        stderr: true,
        ..ChildSpec::default()
    });
    let (acts, wait) = drain(&mut s, ms(0));
    assert_eq!(
        acts,
        vec![
            interest(C0, Stream::Stdout, true),
            interest(C0, Stream::Stderr, true),
            close(C0, Stream::Stdin, CloseReason::InputDone),
        ]
    );
    assert_eq!(wait, io());
}

#[test]
fn reads_until_would_block_rotating_after_the_budget() {
    let mut s = started(ChildSpec {
        stdout: true,
        stderr: true,
        read_budget: 2,
        read_chunk: 10,
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(
        Event::Readable {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(0),
    );
    s.handle(
        Event::Readable {
            child: C0,
            stream: Stream::Stderr,
        },
        ms(0),
    );
    let mut order = Vec::new();
    for _ in 0..6 {
        let Output::Action(Action::Read { stream, max, .. }) = s.poll(ms(0)) else {
            panic!("expected a read")
        };
        assert_eq!(max, 10);
        order.push(stream);
        s.handle(
            Event::Read {
                child: C0,
                stream,
                n: 10,
            },
            ms(0),
        );
    }
    use Stream::{Stderr as E, Stdout as O};
    assert_eq!(order, vec![O, O, E, E, O, O]);
    // stdout used its budget: stderr's turn. An answer nothing asked for
    // is ignored.
    s.handle(
        Event::ReadWouldBlock {
            child: C0,
            stream: O,
        },
        ms(0),
    );
    for stream in [E, O] {
        assert_eq!(s.poll(ms(0)), read(C0, stream, 10));
        s.handle(Event::ReadWouldBlock { child: C0, stream }, ms(0));
    }
    assert_eq!(s.poll(ms(0)), io());
    assert_eq!(s.stats(C0).unwrap().stdout_bytes, 40);
    assert_eq!(s.stats(C0).unwrap().stderr_bytes, 20);
}

#[test]
fn an_edge_during_a_read_survives_its_would_block() {
    let mut s = started(out_only());
    let _ = drain(&mut s, ms(0));
    let ready = Event::Readable {
        child: C0,
        stream: Stream::Stdout,
    };
    s.handle(ready, ms(0));
    assert!(matches!(s.poll(ms(0)), Output::Action(Action::Read { .. })));
    s.handle(ready, ms(0));
    // No second read while one is in flight.
    assert_eq!(s.poll(ms(0)), io());
    s.handle(
        Event::ReadWouldBlock {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(0),
    );
    assert!(matches!(s.poll(ms(0)), Output::Action(Action::Read { .. })));
}

#[test]
fn writes_walk_the_input_and_close_when_done() {
    let mut s = started(ChildSpec {
        stdin: true,
        input_len: 25,
        write_chunk: 10,
        ..ChildSpec::default()
    });
    let (acts, _) = drain(&mut s, ms(0));
    assert_eq!(acts, vec![interest(C0, Stream::Stdin, true)]);
    s.handle(Event::Writable { child: C0 }, ms(0));
    let w = |offset, len| {
        Output::Action(Action::Write {
            child: C0,
            offset,
            len,
        })
    };
    assert_eq!(s.poll(ms(0)), w(0, 10));
    s.handle(Event::Wrote { child: C0, n: 4 }, ms(0));
    assert_eq!(s.poll(ms(0)), w(4, 10));
    s.handle(Event::WriteWouldBlock { child: C0 }, ms(0));
    assert_eq!(s.poll(ms(0)), io());
    s.handle(Event::Writable { child: C0 }, ms(0));
    assert_eq!(s.poll(ms(0)), w(4, 10));
    s.handle(Event::Wrote { child: C0, n: 10 }, ms(0));
    assert_eq!(s.poll(ms(0)), w(14, 10));
    s.handle(Event::Wrote { child: C0, n: 10 }, ms(0));
    assert_eq!(s.poll(ms(0)), w(24, 1));
    s.handle(Event::Wrote { child: C0, n: 1 }, ms(0));
    assert_eq!(
        s.poll(ms(0)),
        close(C0, Stream::Stdin, CloseReason::InputDone)
    );
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(3),
    );
    let Output::Finished { outcome, .. } = s.poll(ms(3)) else {
        panic!("expected finished")
    };
    assert_eq!(outcome.input_written, 25);
    assert!(!outcome.input_broken);
    assert_eq!(outcome.status, Some(0));
    assert_eq!(
        s.poll(ms(3)),
        Output::Wait {
            deadline: None,
            reason: WaitReason::Done
        }
    );
}

#[test]
fn a_broken_stdin_stops_writing_but_not_reading() {
    let mut s = started(ChildSpec {
        stdin: true,
        input_len: 100,
        stdout: true,
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(Event::Writable { child: C0 }, ms(0));
    s.handle(
        Event::Readable {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(0),
    );
    assert!(matches!(
        s.poll(ms(0)),
        Output::Action(Action::Write { .. })
    ));
    s.handle(Event::WriteBroken { child: C0 }, ms(0));
    let (acts, _) = drain(&mut s, ms(0));
    assert_eq!(
        acts,
        vec![
            close(C0, Stream::Stdin, CloseReason::Broken),
            read(C0, Stream::Stdout, 64 << 10)
        ]
    );
}

#[test]
fn a_full_sink_pauses_only_its_stream() {
    let mut s = started(ChildSpec {
        stdout: true,
        stderr: true,
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    let full = Event::SinkFull {
        child: C0,
        stream: Stream::Stdout,
    };
    s.handle(full, ms(0));
    for stream in [Stream::Stdout, Stream::Stderr] {
        s.handle(Event::Readable { child: C0, stream }, ms(0));
    }
    let (acts, _) = drain(&mut s, ms(0));
    assert_eq!(
        acts,
        vec![
            interest(C0, Stream::Stdout, false),
            read(C0, Stream::Stderr, 64 << 10)
        ]
    );
    s.handle(
        Event::SinkReady {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(0),
    );
    let (acts, _) = drain(&mut s, ms(0));
    assert_eq!(
        acts,
        vec![
            interest(C0, Stream::Stdout, true),
            read(C0, Stream::Stdout, 64 << 10)
        ]
    );
    // Full then ready again before a poll: no interest flip-flop at all.
    s.handle(
        Event::Read {
            child: C0,
            stream: Stream::Stdout,
            n: 5,
        },
        ms(0),
    );
    s.handle(full, ms(0));
    s.handle(
        Event::SinkReady {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(0),
    );
    let (acts, _) = drain(&mut s, ms(0));
    assert_eq!(acts, vec![read(C0, Stream::Stdout, 64 << 10)]);
}

#[test]
fn exit_before_the_timeout_cancels_it() {
    let mut s = started(ChildSpec {
        timeout: Some(Duration::from_millis(50)),
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(10),
    );
    let (acts, wait) = drain(&mut s, ms(100));
    assert_eq!(acts.len(), 1);
    let Output::Finished { outcome, .. } = &acts[0] else {
        panic!()
    };
    assert!(!outcome.timed_out);
    assert_eq!(outcome.signals_sent, SignalsSent::default());
    assert!(matches!(
        wait,
        Output::Wait {
            reason: WaitReason::Done,
            ..
        }
    ));
}

#[test]
fn no_signal_after_the_exit_was_handled() {
    let mut s = started(ChildSpec::default());
    s.terminate(C0, ms(1));
    s.handle(
        Event::Exited {
            child: C0,
            status: 15,
        },
        ms(1),
    );
    let (acts, _) = drain(&mut s, ms(1));
    assert_eq!(acts.len(), 1, "{acts:?}");
    let Output::Finished { outcome, .. } = &acts[0] else {
        panic!()
    };
    assert!(outcome.terminated);
    assert_eq!(outcome.signals_sent, SignalsSent::default());
}

#[test]
fn eof_grace_abandons_a_pipe_held_after_exit() {
    let mut s = started(ChildSpec {
        stdout: true,
        stderr: true,
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(
        Event::Eof {
            child: C0,
            stream: Stream::Stderr,
        },
        ms(5),
    );
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(10),
    );
    let (acts, wait) = drain(&mut s, ms(10));
    assert_eq!(acts, vec![close(C0, Stream::Stderr, CloseReason::Eof)]);
    assert_eq!(
        wait,
        Output::Wait {
            deadline: Some(ms(210)),
            reason: WaitReason::Deadline {
                child: C0,
                timer: Timer::EofGrace
            }
        }
    );
    // The grace ended: what is still in the pipe is read first (the driver
    // may have been too busy to get to it), until a read would block.
    let read = act(Action::Read {
        child: C0,
        stream: Stream::Stdout,
        max: ChildSpec::default().read_chunk,
    });
    let (acts, _) = drain(&mut s, ms(210));
    assert_eq!(acts, vec![read.clone()]);
    s.handle(
        Event::Read {
            child: C0,
            stream: Stream::Stdout,
            n: 100,
        },
        ms(211),
    );
    let (acts, _) = drain(&mut s, ms(211));
    assert_eq!(acts, vec![read]);
    s.handle(
        Event::ReadWouldBlock {
            child: C0,
            stream: Stream::Stdout,
        },
        ms(212),
    );
    let (acts, _) = drain(&mut s, ms(212));
    assert_eq!(acts[0], close(C0, Stream::Stdout, CloseReason::Abandoned));
    let Output::Finished { outcome, .. } = &acts[1] else {
        panic!()
    };
    assert!(outcome.stdout_abandoned && !outcome.stderr_abandoned);
    assert_eq!(outcome.stdout_bytes, 100);
    assert_eq!(s.stats(C0).unwrap().state, ChildState::Finished);
}

#[test]
fn after_the_eof_grace_a_grandchild_that_keeps_writing_is_cut_off() {
    let mut s = started(out_only());
    let _ = drain(&mut s, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    let _ = drain(&mut s, ms(1));
    let chunk = ChildSpec::default().read_chunk;
    let mut reads = 0u64;
    let mut now = 201;
    loop {
        let (acts, _) = drain(&mut s, ms(now));
        match acts.first() {
            Some(Output::Action(Action::Read { .. })) => {
                reads += 1;
                s.handle(
                    Event::Read {
                        child: C0,
                        stream: Stream::Stdout,
                        n: chunk,
                    },
                    ms(now),
                );
            }
            Some(a) => {
                assert_eq!(*a, close(C0, Stream::Stdout, CloseReason::Abandoned));
                break;
            }
            None => panic!("neither read nor closed"),
        }
        now += 1;
        assert!(reads < 1_000_000, "never cut off");
    }
    // At least the limit was read after the grace, and not a chunk more.
    let read = reads * chunk as u64;
    assert!((16 << 20..(16 << 20) + chunk as u64).contains(&read));
}

#[test]
fn stdin_left_at_exit_is_closed_as_child_exited() {
    let mut s = started(ChildSpec {
        stdin: true,
        input_len: 10,
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    let (acts, _) = drain(&mut s, ms(1));
    assert_eq!(acts[0], close(C0, Stream::Stdin, CloseReason::ChildExited));
    let Output::Finished { outcome, .. } = &acts[1] else {
        panic!()
    };
    assert!(outcome.input_broken);
}

#[test]
fn stale_and_unknown_events_are_ignored() {
    let mut s = started(out_only());
    let _ = drain(&mut s, ms(0));
    let before = s.clone();
    for e in [
        Event::Read {
            child: C0,
            stream: Stream::Stdin,
            n: 3,
        },
        Event::ReadWouldBlock {
            child: C0,
            stream: Stream::Stdout,
        },
        Event::Wrote { child: C0, n: 3 },
        Event::Readable {
            child: ChildId(7),
            stream: Stream::Stdout,
        },
        Event::Started { child: C0 },
        Event::SpawnFailed { child: C0 },
    ] {
        s.handle(e, ms(0));
    }
    assert_eq!(alloc::format!("{s:?}"), alloc::format!("{before:?}"));
    assert_eq!(s.poll(ms(0)), io());
}

#[test]
fn timers_of_finished_children_are_dropped_lazily() {
    let mut s = Scheduler::new(SchedulerConfig::default());
    for _ in 0..3 {
        s.add(ChildSpec {
            timeout: Some(Duration::from_secs(1)),
            ..ChildSpec::default()
        });
    }
    let _ = drain_answered(&mut s, ms(0));
    for c in 0..3 {
        s.handle(
            Event::Exited {
                child: ChildId(c),
                status: 0,
            },
            ms(1),
        );
    }
    assert_eq!(s.timer_entries(), 3);
    let (acts, wait) = drain(&mut s, ms(1));
    assert_eq!(acts.len(), 3);
    assert!(matches!(
        wait,
        Output::Wait {
            reason: WaitReason::Done,
            ..
        }
    ));
}

/// The idle timeout counts from the last output: a read at 30 ms moves a
/// 50 ms idle timeout from 50 to 80 ms (the timer fires at 50, finds
/// output since, and is armed again), where TERM goes out; the outcome
/// says idle, not timed out. A child without a read pipe is never idle.
#[test]
fn idle_timeout_counts_from_the_last_output() {
    let idle = Duration::from_millis(50);
    let mut s = started(ChildSpec {
        stdout: true,
        idle_timeout: Some(idle),
        kill_grace: Duration::from_millis(20),
        ..ChildSpec::default()
    });
    let wait = |at, timer| Output::Wait {
        deadline: Some(ms(at)),
        reason: WaitReason::Deadline { child: C0, timer },
    };
    let (_, w) = drain(&mut s, ms(0));
    assert_eq!(w, wait(50, Timer::Idle));
    let stdout = Stream::Stdout;
    s.handle(
        Event::Readable {
            child: C0,
            stream: stdout,
        },
        ms(30),
    );
    let (acts, _) = drain(&mut s, ms(30));
    assert_eq!(acts, vec![read(C0, stdout, 64 << 10)]);
    s.handle(
        Event::Read {
            child: C0,
            stream: stdout,
            n: 5,
        },
        ms(30),
    );
    let _ = drain(&mut s, ms(30));
    s.handle(
        Event::ReadWouldBlock {
            child: C0,
            stream: stdout,
        },
        ms(30),
    );
    let (_, w) = drain(&mut s, ms(30));
    assert_eq!(w, wait(50, Timer::Idle), "not re-armed per read");
    let (acts, w) = drain(&mut s, ms(50));
    assert!(acts.is_empty(), "output came at 30 ms: {acts:?}");
    assert_eq!(w, wait(80, Timer::Idle), "due again from the last output");
    let (acts, _) = drain(&mut s, ms(80));
    assert_eq!(
        acts,
        vec![act(Action::Signal {
            child: C0,
            signal: KillSignal::Step(0),
            target: SignalTarget::Child,
        })]
    );
    s.handle(
        Event::Exited {
            child: C0,
            status: 15,
        },
        ms(81),
    );
    s.handle(
        Event::Eof {
            child: C0,
            stream: stdout,
        },
        ms(81),
    );
    let (acts, _) = drain(&mut s, ms(81));
    let Some(Output::Finished { outcome, .. }) = acts.last() else {
        panic!("expected finished: {acts:?}")
    };
    assert_eq!(outcome.idled, Some(idle));
    assert!(!outcome.timed_out && !outcome.terminated);

    // No pipe read: no idle timer.
    let mut s = started(ChildSpec {
        idle_timeout: Some(idle),
        ..ChildSpec::default()
    });
    assert_eq!(drain(&mut s, ms(0)).1, io());
}
