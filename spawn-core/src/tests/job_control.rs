//! A child stopped by job control (Ctrl-Z) and continued (`fg`):
//! [`Event::Continued`] starts its idle clock again.

use core::time::Duration;

use super::unit::{C0, drain, ms, started};
use crate::{ChildSpec, Event, Output, Timer, WaitReason};

/// A child with a 50 ms idle timeout, stopped from 10 ms to 200 ms and
/// continued then, is not idle at 200 ms: the timer that fires at 50 ms
/// finds it continued since and is armed for 250 ms.
#[test]
fn a_continued_child_idles_from_its_continue() {
    let mut s = started(ChildSpec {
        stdout: true,
        idle_timeout: Some(Duration::from_millis(50)),
        ..ChildSpec::default()
    });
    let (_, w) = drain(&mut s, ms(0));
    let wait = |at| Output::Wait {
        deadline: Some(ms(at)),
        reason: WaitReason::Deadline {
            child: C0,
            timer: Timer::Idle,
        },
    };
    assert_eq!(w, wait(50));
    // The engine was stopped with the child: its next turn is at 200 ms,
    // after the continue.
    s.handle(Event::Continued { child: C0 }, ms(200));
    let (acts, w) = drain(&mut s, ms(200));
    assert!(acts.is_empty(), "stopped for being stopped: {acts:?}");
    assert_eq!(w, wait(250));
}
