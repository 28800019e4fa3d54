//! The classic communicate cases, deterministic, against the simulated
//! kernel: the deadlock Python's docs warn about, a child closing stdin at
//! once, a grandchild holding stdout, output then a hang, a child ignoring
//! TERM, a thousand children under a running limit, and the process-group
//! teardowns of issue 12 (a member ignoring TERM, a leader exiting first
//! with the pipe held, a pipeline member, a leader leaving its group, a
//! stuck member), and a stdin added to a running child (`Scheduler::add_stdin`).

use std::time::Duration;

use spawn_core::sim::{Gc, Op, Report, Sim, SimChild, SimConfig};
use spawn_core::{ChildId, ChildSpec, GroupOutcome, KillSignal, Timestamp};

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
                        o.group,
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
        vec![(Timestamp::ZERO.saturating_add(timeout), KillSignal::Step(0))]
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
            (t, KillSignal::Step(0)),
            (t.saturating_add(grace), KillSignal::Kill)
        ]
    );
    assert_eq!(o.status, Some(9));
    assert!(o.signals_sent.steps == 1 && o.signals_sent.kill);
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

const SEC: u64 = 1_000_000_000;

fn leader(timeout: Option<Duration>, grace: Duration) -> ChildSpec {
    ChildSpec {
        timeout,
        kill_grace: grace,
        eof_grace: Duration::from_millis(100),
        signal_group: true,
        ..spec()
    }
}

/// `sh -c "(trap '' TERM; exec sleep 37) & sleep 30"` with a timeout: the
/// leader dies of TERM, the member ignores it; the leader's exit does not
/// cancel the KILL grace, so the member is killed (issue 12).
#[test]
fn a_member_ignoring_term_is_killed_after_the_grace_though_the_leader_died_of_term() {
    let (timeout, grace) = (Duration::from_secs(1), Duration::from_millis(300));
    let member = Gc {
        ignore_term: true,
        life: Some(37 * SEC),
        ..Gc::default()
    };
    let r = one(
        leader(Some(timeout), grace),
        vec![Op::Fork(member), Op::Sleep(30 * SEC)],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    let t = Timestamp::ZERO.saturating_add(timeout);
    assert_eq!(r.signals[0][0], (t, KillSignal::Step(0)));
    assert_eq!(r.signals[0][1], (t.saturating_add(grace), KillSignal::Kill));
    assert_eq!(o.status, Some(15));
    assert_eq!(o.group, GroupOutcome::Stopped);
    assert_eq!(r.group_at_finish[0], Some((0, 0)));
    assert!(o.finished_at < t.saturating_add(grace * 2));
}

/// The leader exits by itself while a member holds the pipe: with a
/// timeout the member is stopped once the EOF grace abandoned the pipe;
/// without one it is left alone, and the outcome says so.
#[test]
fn a_leader_that_exits_first_has_its_leftovers_stopped_only_with_a_timeout() {
    let grace = Duration::from_millis(300);
    let program = vec![Op::Write(false, 10), Op::Fork(Gc::default())];
    let r = one(leader(Some(Duration::from_secs(5)), grace), program.clone());
    let o = r.outcomes[0].as_ref().unwrap();
    let abandoned = o
        .exited_at
        .unwrap()
        .saturating_add(Duration::from_millis(100));
    assert_eq!(r.signals[0], vec![(abandoned, KillSignal::Step(0))]);
    assert_eq!(o.group, GroupOutcome::Stopped);
    assert!(o.stdout_abandoned && !o.timed_out);
    assert_eq!((o.status, o.stdout_bytes), (Some(0), 10));
    assert_eq!(r.group_at_finish[0], Some((0, 0)));

    let r = one(leader(None, grace), program);
    let o = r.outcomes[0].as_ref().unwrap();
    assert!(r.signals[0].is_empty());
    assert_eq!(o.group, GroupOutcome::NotProbed);
    assert_eq!(r.group_at_finish[0], Some((1, 0)));
}

/// A pipeline: stage 2 joined stage 1's group and ignores TERM; the
/// timeout of stage 1 tears the group down, stage 2 is killed after the
/// grace, and stage 1 finishes only after stage 2 exited.
#[test]
fn a_pipeline_member_is_stopped_by_its_leaders_teardown() {
    let (timeout, grace) = (Duration::from_secs(1), Duration::from_millis(300));
    let children = [
        SimChild::new(leader(Some(timeout), grace), vec![Op::Hang]),
        SimChild::new(
            ChildSpec {
                member_of: Some(ChildId(0)),
                ..spec()
            },
            vec![Op::IgnoreTerm, Op::Hang],
        ),
    ];
    let r = run(&children, 0);
    let (l, m) = (
        r.outcomes[0].as_ref().unwrap(),
        r.outcomes[1].as_ref().unwrap(),
    );
    let t = Timestamp::ZERO.saturating_add(timeout);
    assert_eq!(l.status, Some(15));
    assert_eq!(m.status, Some(9));
    assert_eq!(l.group, GroupOutcome::Stopped);
    assert_eq!(m.group, GroupOutcome::NotOwned);
    assert!(r.signals[1].is_empty(), "the member has no stop of its own");
    assert_eq!(r.signals[0][1], (t.saturating_add(grace), KillSignal::Kill));
    assert!(l.finished_at >= m.exited_at.unwrap());
}

/// The leader moves itself into another group (`setpgid`): the group
/// signal misses it, the signal through the child itself does not.
#[test]
fn a_leader_that_left_its_group_is_still_stopped() {
    let timeout = Duration::from_secs(1);
    let r = one(
        leader(Some(timeout), Duration::from_millis(300)),
        vec![Op::LeaveGroup, Op::Hang],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    assert_eq!(o.status, Some(15));
    assert!(o.timed_out);
    assert_eq!(o.group, GroupOutcome::Stopped);
    assert_eq!(o.finished_at, Timestamp::ZERO.saturating_add(timeout));
}

/// A member that even KILL cannot end: the teardown gives up `kill_grace`
/// after KILL, and says what it left.
#[test]
fn a_stuck_member_is_given_up_on_after_the_limit() {
    let (timeout, grace) = (Duration::from_secs(1), Duration::from_millis(300));
    let stuck = Gc {
        stuck: true,
        hold_pipes: false,
        ..Gc::default()
    };
    let r = one(
        leader(Some(timeout), grace),
        vec![Op::Fork(stuck), Op::Hang],
    );
    let o = r.outcomes[0].as_ref().unwrap();
    let kill = Timestamp::ZERO.saturating_add(timeout + grace);
    assert_eq!(o.group, GroupOutcome::Left);
    assert_eq!(r.group_at_finish[0], Some((1, 1)));
    assert!(
        r.signals[0].len() > 2,
        "KILL repeated while the group lives"
    );
    assert!(o.finished_at >= kill.saturating_add(grace));
    assert!(o.finished_at <= kill.saturating_add(grace * 2));
}

/// Drains the scheduler's actions at `now` until it waits.
fn actions(s: &mut spawn_core::Scheduler, now: Timestamp) -> Vec<spawn_core::Action> {
    let mut out = Vec::new();
    loop {
        match s.poll(now) {
            spawn_core::Output::Action(a) => out.push(a),
            spawn_core::Output::Finished { .. } => {}
            _ => return out,
        }
    }
}

#[test]
fn stdin_added_to_a_running_child_is_written_then_closed() {
    use spawn_core::{Action, CloseReason, Event, Scheduler, SchedulerConfig, Stream};
    let mut s = Scheduler::new(SchedulerConfig::default());
    let id = s.add(ChildSpec::default());
    let now = Timestamp::ZERO;
    assert!(
        actions(&mut s, now)
            .iter()
            .any(|a| matches!(a, Action::Start { .. }))
    );
    s.handle(Event::Started { child: id }, now);
    let _ = actions(&mut s, now);
    // Input given after the driving started (a communicate after lines).
    assert!(s.add_stdin(id, 5));
    let _ = actions(&mut s, now);
    s.handle(Event::Writable { child: id }, now);
    let acts = actions(&mut s, now);
    assert!(
        acts.iter().any(|a| matches!(
            a,
            Action::Write {
                offset: 0,
                len: 5,
                ..
            }
        )),
        "{acts:?}"
    );
    s.handle(Event::Wrote { child: id, n: 5 }, now);
    let acts = actions(&mut s, now);
    assert!(
        acts.iter().any(|a| matches!(
            a,
            Action::Close {
                stream: Stream::Stdin,
                reason: CloseReason::InputDone,
                ..
            }
        )),
        "{acts:?}"
    );
    assert!(!s.add_stdin(id, 5), "it holds a stdin already");
    // Exited: the input has nowhere to go.
    let other = s.add(ChildSpec::default());
    let _ = actions(&mut s, now);
    s.handle(Event::Started { child: other }, now);
    s.handle(
        Event::Exited {
            child: other,
            status: 0,
        },
        now,
    );
    let _ = actions(&mut s, now);
    assert!(!s.add_stdin(other, 3));
}
