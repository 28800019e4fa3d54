//! Deterministic tests of how children start (`starting.rs`): the order
//! and `max_running`, one start per turn, at most `STARTS_OUT` starts not
//! answered yet, and starts that fail or never happen.

use alloc::vec;
use alloc::vec::Vec;

use super::unit::{C0, C1, act, drain, drain_answered, io, ms, out_only, starts, turn_answered};
use crate::{Action, ChildId, ChildSpec, Event, Output, Scheduler, SchedulerConfig, WaitReason};

#[test]
fn children_start_in_order_within_max_running() {
    let mut s = Scheduler::new(SchedulerConfig { max_running: 2 });
    for _ in 0..3 {
        s.add(ChildSpec::default());
    }
    let (acts, wait) = drain_answered(&mut s, ms(0));
    assert_eq!(
        acts,
        vec![
            act(Action::Start { child: C0 }),
            act(Action::Start { child: C1 })
        ]
    );
    assert_eq!(wait, io());
    assert_eq!((s.running(), s.queued(), s.finished()), (2, 1, 0));
    s.handle(Event::Started { child: C1 }, ms(1));
    s.handle(
        Event::Exited {
            child: C1,
            status: 0,
        },
        ms(2),
    );
    let (acts, _) = drain(&mut s, ms(2));
    assert!(matches!(acts[0], Output::Finished { child: C1, .. }));
    assert_eq!(acts[1], act(Action::Start { child: ChildId(2) }));
    assert_eq!(acts.len(), 2);
}

#[test]
fn terminating_a_queued_child_finishes_it_unstarted() {
    let mut s = Scheduler::new(SchedulerConfig { max_running: 1 });
    s.add(ChildSpec::default());
    s.add(ChildSpec::default());
    assert_eq!(s.poll(ms(0)), Output::Action(Action::Start { child: C0 }));
    s.terminate(C1, ms(0));
    let Output::Finished { child, outcome } = s.poll(ms(0)) else {
        panic!()
    };
    assert_eq!(child, C1);
    assert!(outcome.terminated && outcome.status.is_none() && outcome.started_at.is_none());
    assert_eq!(s.queued(), 0);
    s.handle(Event::Started { child: C0 }, ms(0));
    s.handle(
        Event::Exited {
            child: C0,
            status: 0,
        },
        ms(0),
    );
    let (acts, wait) = drain(&mut s, ms(0));
    assert_eq!(acts.len(), 1);
    assert!(matches!(
        wait,
        Output::Wait {
            reason: WaitReason::Done,
            ..
        }
    ));
}

#[test]
fn spawn_failure_finishes_and_frees_the_slot() {
    let mut s = Scheduler::new(SchedulerConfig { max_running: 1 });
    s.add(out_only());
    s.add(out_only());
    assert_eq!(s.poll(ms(0)), Output::Action(Action::Start { child: C0 }));
    s.handle(Event::SpawnFailed { child: C0 }, ms(0));
    let (acts, _) = drain(&mut s, ms(0));
    let Output::Finished { child, outcome } = &acts[0] else {
        panic!()
    };
    assert_eq!(*child, C0);
    assert!(outcome.spawn_failed && outcome.status.is_none());
    assert_eq!(acts[1], act(Action::Start { child: C1 }));
}

#[test]
fn a_wide_group_starts_a_batch_per_turn_and_looks_at_what_is_ready_between() {
    let mut s = Scheduler::new(SchedulerConfig { max_running: 0 });
    for _ in 0..40 {
        s.add(ChildSpec::default());
    }
    let mut started = 0;
    for turn_no in 0..40_usize.div_ceil(crate::starting::START_BATCH) {
        let (acts, wait) = turn_answered(&mut s, ms(0));
        let starts = starts(&acts);
        let want = (40 - started).min(crate::starting::START_BATCH);
        assert_eq!(starts.len(), want, "turn {turn_no}");
        assert_eq!(starts.first(), Some(&ChildId(started)), "in order");
        started += starts.len();
        let more = started < 40;
        assert_eq!(
            wait,
            if more {
                Output::Wait {
                    deadline: Some(ms(0)),
                    reason: WaitReason::Starting,
                }
            } else {
                io()
            },
            "turn {turn_no}"
        );
    }
    assert_eq!(s.running(), 40);
}

/// A driver that starts on another thread answers later: with
/// `STARTS_OUT` starts unanswered nothing else starts, so every child not
/// handed to the driver is still queued, and a terminate finds it there
/// (it never starts).
#[test]
fn starts_not_answered_hold_the_next_back() {
    let out = crate::starting::STARTS_OUT;
    let mut s = Scheduler::new(SchedulerConfig::default());
    for _ in 0..out + 2 {
        s.add(ChildSpec::default());
    }
    let (acts, wait) = drain(&mut s, ms(0));
    let first: Vec<ChildId> = (0..out).map(ChildId).collect();
    assert_eq!(starts(&acts), first);
    assert_eq!(wait, io(), "waits for an answer, not on a deadline");
    assert_eq!((s.running(), s.queued()), (out, 2));
    let last = ChildId(out + 1);
    s.terminate(last, ms(1));
    assert_eq!(s.queued(), 1);
    s.handle(Event::Started { child: C0 }, ms(1));
    let (acts, _) = drain(&mut s, ms(1));
    assert_eq!(starts(&acts), vec![ChildId(out)]);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Output::Finished { child, .. } if *child == last))
    );
    for c in 1..=out {
        s.handle(Event::SpawnFailed { child: ChildId(c) }, ms(2));
    }
    assert!(
        starts(&drain(&mut s, ms(2)).0).is_empty(),
        "nothing is left"
    );
}
