//! Deterministic tests of the process-group teardown and of `remove`,
//! event by event, with the exact actions expected.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::{
    Action, ChildId, ChildSpec, Event, GroupOutcome, KillSignal, Output, Scheduler,
    SchedulerConfig, SignalTarget, Timer, Timestamp, WaitReason,
};

const C0: ChildId = ChildId(0);

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

fn drain(s: &mut Scheduler, now: Timestamp) -> (Vec<Output>, Output) {
    super::unit::drain(s, now)
}

fn sig(signal: KillSignal, target: SignalTarget) -> Output {
    Output::Action(Action::Signal {
        child: C0,
        signal,
        target,
    })
}

fn probe() -> Output {
    Output::Action(Action::ProbeGroup { child: C0 })
}

fn started(spec: ChildSpec) -> Scheduler {
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(spec);
    let _ = drain(&mut s, ms(0));
    s.handle(Event::Started { child: C0 }, ms(0));
    s
}

fn leader(timeout: Option<u64>) -> ChildSpec {
    ChildSpec {
        timeout: timeout.map(Duration::from_millis),
        kill_grace: Duration::from_millis(20),
        signal_group: true,
        ..ChildSpec::default()
    }
}

fn finished(out: &[Output]) -> &crate::Outcome {
    match out.last() {
        Some(Output::Finished { outcome, .. }) => outcome,
        other => panic!("not finished: {other:?}"),
    }
}

#[test]
fn the_leaders_exit_does_not_cancel_the_kill_grace_while_its_group_lives() {
    let mut s = started(leader(Some(50)));
    assert_eq!(
        drain(&mut s, ms(50)).0,
        vec![sig(KillSignal::Step(0), SignalTarget::ChildAndGroup)]
    );
    // Probes while the grace runs: 1 ms after TERM, then doubling.
    assert_eq!(drain(&mut s, ms(51)).0, vec![probe()]);
    s.handle(Event::GroupLive { child: C0 }, ms(51));
    // The leader died of TERM; a member ignored it.
    s.handle(
        Event::Exited {
            child: C0,
            status: 15,
        },
        ms(52),
    );
    assert_eq!(drain(&mut s, ms(52)).0, vec![probe()]);
    s.handle(Event::GroupLive { child: C0 }, ms(52));
    let (out, wait) = drain(&mut s, ms(52));
    assert!(out.is_empty());
    assert!(matches!(
        wait,
        Output::Wait {
            deadline: Some(_),
            ..
        }
    ));
    // The grace ends: KILL to the group only (the leader exited); a probe
    // came due on the way.
    let (out, _) = drain(&mut s, ms(70));
    assert_eq!(
        out,
        vec![probe(), sig(KillSignal::Kill, SignalTarget::Group)]
    );
    // Each live answer after KILL sends KILL again.
    s.handle(Event::GroupLive { child: C0 }, ms(70));
    assert_eq!(
        drain(&mut s, ms(70)).0,
        vec![sig(KillSignal::Kill, SignalTarget::Group)]
    );
    let (out, _) = drain(&mut s, ms(72));
    assert_eq!(out, vec![probe()]);
    s.handle(Event::GroupEmpty { child: C0 }, ms(72));
    let (out, wait) = drain(&mut s, ms(72));
    let o = finished(&out);
    assert_eq!(o.group, GroupOutcome::Stopped);
    assert!(o.timed_out && o.signals_sent.steps == 1 && o.signals_sent.kill);
    assert!(matches!(
        wait,
        Output::Wait {
            reason: WaitReason::Done,
            ..
        }
    ));
}

#[test]
fn a_group_that_stays_live_after_kill_is_given_up_on_after_the_limit() {
    let mut s = started(leader(Some(10)));
    let _ = drain(&mut s, ms(10));
    s.handle(
        Event::Exited {
            child: C0,
            status: 15,
        },
        ms(10),
    );
    let mut now = 10;
    let mut kills = 0;
    let outcome = loop {
        let (out, wait) = drain(&mut s, ms(now));
        for o in &out {
            match o {
                Output::Action(Action::ProbeGroup { .. }) => {
                    s.handle(Event::GroupLive { child: C0 }, ms(now));
                }
                Output::Action(Action::Signal {
                    signal: KillSignal::Kill,
                    target,
                    ..
                }) => {
                    assert_eq!(*target, SignalTarget::Group);
                    kills += 1;
                }
                _ => {}
            }
        }
        if let Some(Output::Finished { outcome, .. }) = out.last() {
            break outcome.clone();
        }
        now = match wait {
            Output::Wait {
                deadline: Some(d), ..
            } if d > ms(now) => d.as_nanos() / 1_000_000,
            _ => now,
        };
        assert!(now < 1000, "never gave up");
    };
    // KILL at 30 (TERM at 10 + 20), the limit 20 ms later.
    assert_eq!(outcome.group, GroupOutcome::Left);
    assert!(outcome.finished_at >= ms(50) && outcome.finished_at <= ms(100));
    assert!(kills > 1);
}

#[test]
fn leftovers_are_stopped_with_a_timeout_and_left_alone_without() {
    for timeout in [Some(5000), None] {
        let mut s = started(leader(timeout));
        s.handle(
            Event::Exited {
                child: C0,
                status: 0,
            },
            ms(1),
        );
        if timeout.is_none() {
            // Nothing would be done about leftovers: finished when settled
            // (at once: no pipes), without a probe.
            let (out, _) = drain(&mut s, ms(1));
            assert_eq!(out.len(), 1, "{out:?}");
            assert_eq!(finished(&out).group, GroupOutcome::NotProbed);
            continue;
        }
        // Settled at once (no pipes): one probe decides.
        assert_eq!(drain(&mut s, ms(1)).0, vec![probe()]);
        s.handle(Event::GroupLive { child: C0 }, ms(1));
        let (out, _) = drain(&mut s, ms(1));
        assert_eq!(out, vec![sig(KillSignal::Step(0), SignalTarget::Group)]);
        assert_eq!(drain(&mut s, ms(2)).0, vec![probe()]);
        s.handle(Event::GroupEmpty { child: C0 }, ms(2));
        let (out, _) = drain(&mut s, ms(2));
        let o = finished(&out);
        assert_eq!(o.group, GroupOutcome::Stopped);
        assert!(!o.timed_out && !o.signals_sent.kill);
    }
}

#[test]
fn end_leftovers_stops_them_without_a_timeout() {
    let mut s = started(ChildSpec {
        end_leftovers: true,
        ..leader(None)
    });
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    assert_eq!(drain(&mut s, ms(1)).0, vec![probe()]);
    s.handle(Event::GroupLive { child: C0 }, ms(1));
    let (out, _) = drain(&mut s, ms(1));
    assert_eq!(out, vec![sig(KillSignal::Step(0), SignalTarget::Group)]);
    assert_eq!(drain(&mut s, ms(2)).0, vec![probe()]);
    s.handle(Event::GroupEmpty { child: C0 }, ms(2));
    let (out, _) = drain(&mut s, ms(2));
    assert_eq!(finished(&out).group, GroupOutcome::Stopped);
}

#[test]
fn an_empty_answer_while_the_leader_runs_is_only_a_snapshot() {
    let mut s = started(leader(None));
    s.terminate(C0, ms(0));
    let (out, _) = drain(&mut s, ms(0));
    assert_eq!(
        out,
        vec![sig(KillSignal::Step(0), SignalTarget::ChildAndGroup)]
    );
    assert_eq!(drain(&mut s, ms(1)).0, vec![probe()]);
    s.handle(Event::GroupEmpty { child: C0 }, ms(1));
    // Not finished, and the KILL grace still runs: the leader ignores TERM.
    let (out, wait) = drain(&mut s, ms(1));
    assert!(out.is_empty());
    assert_eq!(
        wait,
        Output::Wait {
            deadline: Some(ms(20)),
            reason: WaitReason::Deadline {
                child: C0,
                timer: Timer::KillGrace
            }
        }
    );
    let (out, _) = drain(&mut s, ms(20));
    assert_eq!(
        out,
        vec![sig(KillSignal::Kill, SignalTarget::ChildAndGroup)]
    );
    s.handle(
        Event::Exited {
            child: C0,
            status: 9,
        },
        ms(20),
    );
    assert_eq!(drain(&mut s, ms(20)).0, vec![probe()]);
    s.handle(Event::GroupEmpty { child: C0 }, ms(20));
    let o = finished(&drain(&mut s, ms(20)).0).clone();
    assert!(o.terminated);
    assert_eq!(o.group, GroupOutcome::Stopped);
}

#[test]
fn a_leader_waits_for_its_members_and_members_are_signalled_alone() {
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(ChildSpec {
        end_leftovers: true,
        ..leader(None)
    });
    let m = s.add(ChildSpec {
        member_of: Some(C0),
        timeout: Some(Duration::from_millis(5)),
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(Event::Started { child: C0 }, ms(0));
    s.handle(Event::Started { child: m }, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    // Probed after the exit, but not settled: the member still runs.
    assert_eq!(drain(&mut s, ms(1)).0, vec![probe()]);
    s.handle(Event::GroupLive { child: C0 }, ms(1));
    let (out, _) = drain(&mut s, ms(5));
    assert_eq!(
        out,
        vec![Output::Action(Action::Signal {
            child: m,
            signal: KillSignal::Step(0),
            target: SignalTarget::Child
        })]
    );
    s.handle(
        Event::Exited {
            child: m,
            status: 15,
        },
        ms(6),
    );
    let (out, _) = drain(&mut s, ms(6));
    assert_eq!(out.len(), 2);
    assert!(out.contains(&probe()));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Finished { child, .. } if *child == m))
    );
    s.handle(Event::GroupEmpty { child: C0 }, ms(6));
    assert_eq!(finished(&drain(&mut s, ms(6)).0).group, GroupOutcome::Empty);
}

#[test]
fn removed_children_free_their_slot_and_their_id() {
    let mut s = Scheduler::new(SchedulerConfig::default());
    let a = s.add(ChildSpec {
        timeout: Some(Duration::from_millis(10)),
        ..ChildSpec::default()
    });
    let b = s.add(ChildSpec::default());
    let _ = drain(&mut s, ms(0));
    assert_eq!(s.remove(a), None, "not finished");
    s.handle(Event::Started { child: a }, ms(0));
    s.handle(
        Event::Exited {
            child: a,
            status: 0,
        },
        ms(1),
    );
    assert_eq!(s.remove(a), None, "finished, not reported yet");
    let (out, _) = drain(&mut s, ms(1));
    assert!(matches!(out[0], Output::Finished { child, .. } if child == a));
    assert_eq!(s.remove(a).map(|o| o.status), Some(Some(0)));
    assert_eq!(s.remove(a), None, "removed already");
    assert_eq!((s.len(), s.finished()), (1, 0));
    assert!(s.stats(a).is_none());
    // Events about the removed id are ignored; the id comes back.
    s.handle(
        Event::Exited {
            child: a,
            status: 0,
        },
        ms(2),
    );
    let c = s.add(ChildSpec::default());
    assert_eq!(c, a);
    let (out, _) = drain(&mut s, ms(2));
    assert_eq!(out, vec![Output::Action(Action::Start { child: c })]);
    // The old child's timeout (due at 10 ms) is stale for the new one.
    s.handle(Event::Started { child: c }, ms(2));
    let (out, wait) = drain(&mut s, ms(20));
    assert!(out.is_empty(), "{out:?}");
    assert!(matches!(
        wait,
        Output::Wait {
            deadline: None,
            reason: WaitReason::Io
        }
    ));
    let _ = b;
}

#[test]
fn a_leader_and_its_members_start_in_one_turn() {
    // A pipeline: its stages join the first one's group. They start
    // before the driver looks at what is ready: in between, the leader could
    // exit and be reaped, and a member's `setpgid` would fail.
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(leader(None));
    let members: Vec<ChildId> = (0..3)
        .map(|_| {
            s.add(ChildSpec {
                member_of: Some(C0),
                ..ChildSpec::default()
            })
        })
        .collect();
    // A second pipeline's leader waits for the next turn.
    let next = s.add(leader(None));
    let (acts, wait) = super::unit::turn(&mut s, ms(0));
    let starts = super::unit::starts(&acts);
    let mut want = vec![C0];
    want.extend(&members);
    assert_eq!(starts, want);
    // The next leader waits for these starts to be answered (at most
    // `STARTS_OUT` out, members aside), then for the next turn.
    assert!(!matches!(
        wait,
        Output::Wait {
            reason: WaitReason::Starting,
            ..
        }
    ));
    assert!(super::unit::starts(&super::unit::turn(&mut s, ms(0)).0).is_empty());
    for c in std::iter::once(C0).chain(members) {
        s.handle(Event::Started { child: c }, ms(0));
    }
    let (acts, _) = super::unit::turn(&mut s, ms(0));
    assert!(acts.contains(&Output::Action(Action::Start { child: next })));
}

#[test]
fn a_leader_with_nothing_to_end_waits_for_its_members_without_probes() {
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(leader(None));
    let m = s.add(ChildSpec {
        member_of: Some(C0),
        ..ChildSpec::default()
    });
    let _ = drain(&mut s, ms(0));
    s.handle(Event::Started { child: C0 }, ms(0));
    s.handle(Event::Started { child: m }, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    assert!(drain(&mut s, ms(1)).0.is_empty(), "no probe, not finished");
    s.handle(
        Event::Exited {
            child: m,
            status: 0,
        },
        ms(2),
    );
    let (out, _) = drain(&mut s, ms(2));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(!out.contains(&probe()));
    let leader_outcome = out.iter().find_map(|o| match o {
        Output::Finished { child, outcome } if *child == C0 => Some(outcome.group),
        _ => None,
    });
    assert_eq!(leader_outcome, Some(GroupOutcome::NotProbed));
}

#[test]
fn a_leader_that_exited_by_itself_is_torn_down_when_terminated_before_it_settles() {
    let mut s = Scheduler::new(SchedulerConfig::default());
    s.add(ChildSpec {
        stdout: true,
        ..leader(None)
    });
    let _ = drain(&mut s, ms(0));
    s.handle(Event::Started { child: C0 }, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(1),
    );
    // A grandchild holds stdout: not settled, no probe.
    assert!(!drain(&mut s, ms(1)).0.contains(&probe()));
    s.terminate(C0, ms(2));
    let (out, _) = drain(&mut s, ms(2));
    assert!(
        out.contains(&sig(KillSignal::Step(0), SignalTarget::Group)),
        "{out:?}"
    );
}
