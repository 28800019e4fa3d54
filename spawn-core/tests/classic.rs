//! The classic communicate cases, deterministic, against the simulated
//! kernel: the deadlock Python's docs warn about, a child closing stdin at
//! once, a grandchild holding stdout, output then a hang, a child ignoring
//! TERM, and a thousand children under a running limit.

use std::time::Duration;

use spawn_core::sim::{Op, Report, Sim, SimChild, SimConfig};
use spawn_core::{ChildSpec, KillSignal, Timestamp};

const MIB: usize = 1 << 20;

fn spec() -> ChildSpec {
    ChildSpec {
        stdout: true,
        stderr: true,
        ..ChildSpec::default()
    }
}

/// Runs `children` under four drivers (edge- and level-triggered, answers
/// at once or later, slow and fast writers), each with its own seed; every
/// run must keep every promise and end with the same results per child.
/// Returns the first run's report.
fn run(children: &[SimChild], max_running: usize) -> Report {
    let variants = [
        (false, false, false),
        (true, false, false),
        (false, true, true),
        (true, true, false),
    ];
    let mut first: Option<Report> = None;
    for (k, (level_triggered, async_answers, fast_writers)) in variants.into_iter().enumerate() {
        let cfg = SimConfig {
            pipe_capacity: 64 << 10,
            seed: 42 + k as u64,
            max_running,
            max_steps: 50_000_000,
            level_triggered,
            async_answers,
            fast_writers,
            ..SimConfig::default()
        };
        let r = Sim::new(children.to_vec(), cfg).run();
        assert!(r.violations.is_empty(), "{cfg:?}: {:#?}", r.violations);
        assert!(
            r.finished_all && !r.quiescent,
            "{cfg:?}: did not finish: {} steps",
            r.steps
        );
        if let Some(f) = &first {
            for (a, b) in f.outcomes.iter().zip(&r.outcomes) {
                let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                let key = |o: &spawn_core::Outcome| {
                    (
                        o.status,
                        o.stdout_bytes,
                        o.stderr_bytes,
                        o.stdout_abandoned,
                        o.stderr_abandoned,
                        o.timed_out,
                        o.signals_sent,
                    )
                };
                assert_eq!(key(a), key(b), "{cfg:?}");
            }
        } else {
            first = Some(r);
        }
    }
    first.unwrap()
}

fn one(spec: ChildSpec, program: Vec<Op>) -> Report {
    run(
        &[SimChild {
            spec,
            program,
            ..SimChild::default()
        }],
        0,
    )
}

#[test]
fn stderr_before_stdin_does_not_deadlock() {
    let r = one(
        ChildSpec {
            stdin: true,
            input_len: MIB as u64,
            ..spec()
        },
        vec![Op::Write(true, MIB), Op::Read(MIB), Op::Write(false, 10)],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert_eq!(r.sinks[0][1].len(), MIB);
    assert_eq!(r.input_read[0].len(), MIB);
    assert_eq!(o.input_written, MIB as u64);
    assert!(!o.input_broken);
    assert_eq!(o.stdout_bytes, 10);
    assert_eq!(o.status, Some(0));
}

#[test]
fn a_child_closing_stdin_at_once_is_not_an_error() {
    let r = one(
        ChildSpec {
            stdin: true,
            input_len: MIB as u64,
            ..spec()
        },
        vec![Op::CloseStdin, Op::Write(false, 100)],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert!(o.input_broken);
    assert!(o.input_written < MIB as u64);
    assert_eq!(o.stdout_bytes, 100);
    assert_eq!(o.status, Some(0));
}

#[test]
fn a_grandchild_holding_stdout_is_abandoned_after_the_grace() {
    let grace = Duration::from_millis(100);
    let r = one(
        ChildSpec {
            eof_grace: grace,
            ..spec()
        },
        vec![Op::Write(false, 10), Op::Grandchild(None)],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert!(o.stdout_abandoned && o.stderr_abandoned);
    assert_eq!(o.stdout_bytes, 10);
    let exited = o.exited_at.unwrap();
    assert_eq!(o.finished_at, exited.saturating_add(grace));
    assert!(r.signals[0].is_empty());
}

#[test]
fn a_grandchild_that_lets_go_in_time_is_read_to_eof() {
    let r = one(
        ChildSpec {
            eof_grace: Duration::from_millis(100),
            ..spec()
        },
        vec![Op::Grandchild(Some(10_000_000)), Op::Write(false, 10)],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert!(!o.stdout_abandoned);
    assert_eq!(o.stdout_bytes, 10);
}

#[test]
fn output_then_a_hang_times_out_with_the_partial_output() {
    let timeout = Duration::from_secs(1);
    let r = one(
        ChildSpec {
            timeout: Some(timeout),
            ..spec()
        },
        vec![Op::Write(false, 5000), Op::Hang],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert!(o.timed_out);
    assert_eq!(o.stdout_bytes, 5000);
    assert_eq!(r.sinks[0][0].len(), 5000);
    assert_eq!(
        r.signals[0],
        vec![(Timestamp::ZERO.saturating_add(timeout), KillSignal::Term)]
    );
    assert_eq!(o.status, Some(15));
}

#[test]
fn a_child_ignoring_term_is_killed_after_the_grace() {
    let (timeout, grace) = (Duration::from_secs(1), Duration::from_millis(300));
    let r = one(
        ChildSpec {
            timeout: Some(timeout),
            kill_grace: grace,
            signal_group: true,
            ..spec()
        },
        vec![Op::IgnoreTerm, Op::Hang],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    let t = Timestamp::ZERO.saturating_add(timeout);
    assert_eq!(
        r.signals[0],
        vec![
            (t, KillSignal::Term),
            (t.saturating_add(grace), KillSignal::Kill)
        ]
    );
    assert_eq!(o.status, Some(9));
    assert!(o.signals_sent.term && o.signals_sent.kill);
}

#[test]
fn a_thousand_children_of_64_kib_under_a_limit() {
    let children: Vec<SimChild> = (0..1000)
        .map(|i| SimChild {
            spec: ChildSpec {
                stdin: i % 2 == 0,
                input_len: if i % 2 == 0 { 1000 } else { 0 },
                ..spec()
            },
            program: vec![Op::Read(1000), Op::Write(i % 3 == 0, 64 << 10)],
            ..SimChild::default()
        })
        .collect();
    let r = run(&children, 50);
    assert!(r.max_running_seen <= 50);
    for (i, o) in r.outcomes.iter().enumerate() {
        let o = o.as_ref().unwrap();
        assert_eq!(o.stdout_bytes + o.stderr_bytes, 64 << 10, "child {i}");
        assert_eq!(o.status, Some(0));
    }
}

#[test]
fn timers_of_finished_children_are_no_ops() {
    // The child exits long before its timeout: no signal, ever.
    let r = one(
        ChildSpec {
            timeout: Some(Duration::from_secs(5)),
            ..spec()
        },
        vec![Op::Write(false, 1), Op::Exit(3)],
    );
    assert!(r.signals[0].is_empty());
    assert_eq!(r.outcomes[0].as_ref().unwrap().status, Some(3 << 8));
}
