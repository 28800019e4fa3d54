//! Deterministic tests of [`Communicator`], the machine for one child: it
//! runs one child like a scheduler of one, and a driver can stop polling at a
//! deadline of its own and resume where it left off.

use alloc::vec;
use alloc::vec::Vec;

use super::unit::{close, interest, ms, out_only};
use crate::{Action, ChildSpec, CloseReason, Communicator, Event, Output, Stream, Timestamp};

#[test]
fn communicator_runs_one_child() {
    let mut c = Communicator::new(out_only());
    let id = Communicator::CHILD;
    assert_eq!(c.poll(ms(0)), Output::Action(Action::Start { child: id }));
    c.handle(Event::Started { child: id }, ms(0));
    assert_eq!(c.poll(ms(0)), interest(id, Stream::Stdout, true));
    c.handle(
        Event::Readable {
            child: id,
            stream: Stream::Stdout,
        },
        ms(1),
    );
    assert!(matches!(c.poll(ms(1)), Output::Action(Action::Read { .. })));
    c.handle(
        Event::Read {
            child: id,
            stream: Stream::Stdout,
            n: 0,
        },
        ms(1),
    );
    c.handle(
        Event::Exited {
            child: id,
            status: 0,
        },
        ms(2),
    );
    assert_eq!(c.poll(ms(2)), close(id, Stream::Stdout, CloseReason::Eof));
    assert!(matches!(c.poll(ms(2)), Output::Finished { .. }));
    assert!(c.is_done());
    assert_eq!(c.outcome().unwrap().finished_at, ms(2));
}

#[test]
fn communicate_can_stop_and_resume_where_it_left_off() {
    let mut c = Communicator::new(ChildSpec {
        stdin: true,
        input_len: 30,
        write_chunk: 10,
        stdout: true,
        ..ChildSpec::default()
    });
    let id = Communicator::CHILD;
    let _ = c.poll(ms(0));
    c.handle(Event::Started { child: id }, ms(0));
    c.handle(Event::Writable { child: id }, ms(0));
    // First call: one write, then the caller's own deadline: it stops
    // polling with a stdout edge unhandled by any read yet.
    let mut writes = Vec::new();
    while let Output::Action(a) = c.poll(ms(1)) {
        if let Action::Write { offset, len, .. } = a {
            writes.push((offset, len));
            c.handle(Event::Wrote { child: id, n: len }, ms(1));
            c.handle(
                Event::Readable {
                    child: id,
                    stream: Stream::Stdout,
                },
                ms(1),
            );
            break;
        }
    }
    assert_eq!(c.stats().input_written, 10);
    // A second call, much later: the rest of the input, from offset 10,
    // and the remembered stdout edge.
    let mut reads = 0;
    loop {
        match c.poll(ms(5000)) {
            Output::Action(Action::Write { offset, len, .. }) => {
                writes.push((offset, len));
                c.handle(Event::Wrote { child: id, n: len }, ms(5000));
            }
            Output::Action(Action::Read { stream, .. }) => {
                reads += 1;
                c.handle(Event::Eof { child: id, stream }, ms(5000));
            }
            Output::Action(_) | Output::Finished { .. } => {}
            Output::Wait { .. } => break,
        }
    }
    assert_eq!(writes, vec![(0, 10), (10, 10), (20, 10)]);
    assert_eq!(reads, 1);
    c.handle(
        Event::Exited {
            child: id,
            status: 0,
        },
        ms(5001),
    );
    let (acts, _) = drain_one(&mut c, ms(5001));
    let Some(Output::Finished { outcome, .. }) = acts.last() else {
        panic!("{acts:?}")
    };
    assert_eq!(outcome.input_written, 30);
    assert!(!outcome.input_broken);
}

fn drain_one(c: &mut Communicator, now: Timestamp) -> (Vec<Output>, Output) {
    let mut acts = Vec::new();
    loop {
        match c.poll(now) {
            w @ Output::Wait { .. } => return (acts, w),
            a => acts.push(a),
        }
    }
}
