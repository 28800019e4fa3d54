//! The communicate state machine and the many-children scheduler of spawn.
//!
//! **This crate does no I/O.** It owns no file descriptor, makes no system
//! call and reads no clock: time comes in as a [`Timestamp`] the driver
//! passes to every call, and the same events at the same times always give
//! the same actions. It decides, for any number of children at once, what
//! to start, read, write, close and signal, and when a child is done, so
//! that nothing deadlocks, nothing is lost and memory stays bounded; a
//! driver (spawn's blocking epoll loop, or any event loop) does what it
//! says and reports what happened. It counts bytes, it never holds them:
//! "write bytes `[offset, offset + len)` of child 3's input", "read up to
//! 64 KiB of child 7's stderr into its sink".
//!
//! [`Scheduler`] drives many children (at most `max_running` at once, in
//! the order added); [`Communicator`] is the same machine for one child.
//!
//! # The loop
//!
//! One way in ([`Scheduler::handle`] an [`Event`]), one way out
//! ([`Scheduler::poll`] an [`Output`]): handle every event, then poll until
//! [`Output::Wait`], doing each [`Action`] and handing its answer back.
//!
//! ```
//! use spawn_core::{Action, ChildSpec, Event, Output, Scheduler, SchedulerConfig, Stream, Timestamp};
//!
//! let mut sched = Scheduler::new(SchedulerConfig::default());
//! let child = sched.add(ChildSpec { stdout: true, ..ChildSpec::default() });
//! let now = Timestamp::ZERO;
//! // Poll until Wait, doing each action and handing back what happened.
//! assert_eq!(sched.poll(now), Output::Action(Action::Start { child }));
//! sched.handle(Event::Started { child }, now);
//! assert_eq!(
//!     sched.poll(now),
//!     Output::Action(Action::Interest { child, stream: Stream::Stdout, on: true })
//! );
//! assert!(matches!(sched.poll(now), Output::Wait { .. }));
//! // Readiness from the OS becomes events; the core asks for a read.
//! sched.handle(Event::Readable { child, stream: Stream::Stdout }, now);
//! assert!(matches!(sched.poll(now), Output::Action(Action::Read { .. })));
//! ```
//!
//! # The contract
//!
//! - After an [`Action::Read`] of a stream the core expects exactly one
//!   answer for that stream ([`Event::Read`], [`Event::ReadWouldBlock`] or
//!   [`Event::Eof`]) before it reads that stream again; after an
//!   [`Action::Write`], one of [`Event::Wrote`], [`Event::WriteWouldBlock`],
//!   [`Event::WriteBroken`]. The driver may answer at once (handle, then
//!   poll again) or later; the core never closes a pipe while an answer is
//!   outstanding.
//! - Readiness is an edge, remembered until an answer says "would block";
//!   a level-triggered driver watches what the [`Action::Interest`] actions
//!   say (emitted only when the interest changes) and nothing else.
//! - No [`Action::Signal`] is emitted for a child after its
//!   [`Event::Exited`] was handled.
//! - Nothing depends on being polled continuously: a driver may stop at
//!   its own deadline and resume later with the same scheduler (only `now`
//!   must not go backwards).
//! - Cost per event and per action does not depend on the number of
//!   children: only ready children are touched (queues, not scans; a timer
//!   heap with lazy deletion). `benches/core.rs` measures it.
//!
//! # Policies
//!
//! Per child, in [`ChildSpec`]: the read chunk and the read budget (at most
//! that many reads of one stream in a row before the other ready streams
//! get a turn), the write chunk, the timeout (TERM, to the process group
//! if asked, then KILL after `kill_grace`), and the EOF grace after the
//! exit (Go's `WaitDelay`: a grandchild holding a pipe must not hang the
//! caller). Backpressure ([`Event::SinkFull`]) pauses only the stream whose
//! sink is full, never the other streams of the same child.
//!
//! # Proof
//!
//! The `sim` feature exposes the `sim` module, a simulated kernel (finite pipes,
//! scripted children, a virtual clock, random readiness order, partial
//! I/O, edge- and level-triggered drivers) that checks the core's promises
//! at every step. The crate's tests drive it with proptest (`tests/props.rs`,
//! properties in the test names) and through the classic cases
//! (`tests/classic.rs`).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod child;
mod communicator;
mod sched;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
mod timers;
mod types;

#[cfg(test)]
mod tests;

pub use communicator::Communicator;
pub use sched::Scheduler;
pub use types::{
    Action, ChildId, ChildSpec, ChildState, ChildStats, CloseReason, Event, KillSignal, Outcome,
    Output, SchedulerConfig, SignalsSent, Stream, Timer, Timestamp, WaitReason,
};
