//! A child's stop, step by step: the stop signal (or each step of a
//! declared stop sequence) at its time, the next one only after the last
//! one's grace and only while the child is alive, then KILL.

use core::time::Duration;

use super::unit::{C0, io, ms, started};
use crate::{
    Action, ChildSpec, Event, KillSignal, Output, SignalTarget, SignalsSent, Timer, WaitReason,
};

#[test]
fn timeout_sends_term_then_kill_at_exact_times() {
    let mut s = started(ChildSpec {
        timeout: Some(Duration::from_millis(50)),
        kill_grace: Duration::from_millis(20),
        ..ChildSpec::default()
    });
    let wait = |at, timer| Output::Wait {
        deadline: Some(ms(at)),
        reason: WaitReason::Deadline { child: C0, timer },
    };
    assert_eq!(s.poll(ms(0)), wait(50, Timer::Timeout));
    assert_eq!(s.poll(ms(49)), wait(50, Timer::Timeout));
    let sig = |signal| {
        Output::Action(Action::Signal {
            child: C0,
            signal,
            target: SignalTarget::Child,
        })
    };
    assert_eq!(s.poll(ms(50)), sig(KillSignal::Step(0)));
    assert_eq!(s.poll(ms(50)), wait(70, Timer::KillGrace));
    // Late polls fire each timer once.
    assert_eq!(s.poll(ms(95)), sig(KillSignal::Kill));
    assert_eq!(s.poll(ms(95)), io());
    s.handle(
        Event::Exited {
            child: C0,
            status: 9,
        },
        ms(96),
    );
    let Output::Finished { outcome, .. } = s.poll(ms(96)) else {
        panic!("expected finished")
    };
    assert!(outcome.timed_out && !outcome.terminated);
    assert_eq!(
        outcome.signals_sent,
        SignalsSent {
            steps: 1,
            kill: true
        }
    );
    assert_eq!(outcome.exited_at, Some(ms(96)));
}

#[test]
fn a_stop_sequence_sends_each_step_after_the_last_ones_grace_then_kill() {
    let mut s = started(ChildSpec {
        timeout: Some(Duration::from_millis(50)),
        kill_grace: Duration::from_millis(20),
        stop_graces: crate::StopGraces::new(&[
            Duration::from_millis(200),
            Duration::from_millis(100),
            Duration::from_millis(50),
        ])
        .unwrap(),
        ..ChildSpec::default()
    });
    let wait = |at| Output::Wait {
        deadline: Some(ms(at)),
        reason: WaitReason::Deadline {
            child: C0,
            timer: Timer::KillGrace,
        },
    };
    let sig = |signal| {
        Output::Action(Action::Signal {
            child: C0,
            signal,
            target: SignalTarget::Child,
        })
    };
    let _ = s.poll(ms(0));
    assert_eq!(s.poll(ms(50)), sig(KillSignal::Step(0)));
    assert_eq!(s.poll(ms(50)), wait(250));
    assert_eq!(s.poll(ms(250)), sig(KillSignal::Step(1)));
    assert_eq!(s.poll(ms(250)), wait(350));
    assert_eq!(s.poll(ms(350)), sig(KillSignal::Step(2)));
    assert_eq!(s.poll(ms(350)), wait(400));
    assert_eq!(s.poll(ms(400)), sig(KillSignal::Kill));
    s.handle(
        Event::Exited {
            child: C0,
            status: 9,
        },
        ms(401),
    );
    let Output::Finished { outcome, .. } = s.poll(ms(401)) else {
        panic!("expected finished")
    };
    assert_eq!(
        outcome.signals_sent,
        SignalsSent {
            steps: 3,
            kill: true
        }
    );
}

#[test]
fn a_child_that_exits_after_a_step_gets_no_further_step() {
    let mut s = started(ChildSpec {
        timeout: Some(Duration::from_millis(50)),
        stop_graces: crate::StopGraces::new(&[
            Duration::from_millis(10),
            Duration::from_millis(10),
        ])
        .unwrap(),
        ..ChildSpec::default()
    });
    let _ = s.poll(ms(0));
    assert!(matches!(
        s.poll(ms(50)),
        Output::Action(Action::Signal {
            signal: KillSignal::Step(0),
            ..
        })
    ));
    assert!(matches!(
        s.poll(ms(60)),
        Output::Action(Action::Signal {
            signal: KillSignal::Step(1),
            ..
        })
    ));
    s.handle(
        Event::Exited {
            child: C0,
            status: 15,
        },
        ms(61),
    );
    let Output::Finished { outcome, .. } = s.poll(ms(70)) else {
        panic!("expected finished")
    };
    assert_eq!(
        outcome.signals_sent,
        SignalsSent {
            steps: 2,
            kill: false
        }
    );
}
