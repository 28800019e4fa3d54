//! The communicate state machine and the many-children scheduler of spawn.
//!
//! **This crate does no I/O.** It owns no file descriptor, makes no system
//! call and reads no clock: time comes in as a [`Timestamp`] the driver
//! passes to every call. It decides, for any number of children at once,
//! what to read, what to write, when to close, when to signal and when a
//! child is done, so that nothing deadlocks, nothing is lost and memory stays
//! bounded; a driver (spawn's blocking epoll loop, or any event loop) does
//! what it says and reports what happened.
//!
//! # The loop
//!
//! ```
//! use spawn_core::{Action, ChildSpec, Event, Output, Scheduler, SchedulerConfig, Timestamp};
//!
//! let mut sched = Scheduler::new(SchedulerConfig::default());
//! let child = sched.add(ChildSpec { stdout: true, ..ChildSpec::default() });
//! let now = Timestamp::ZERO;
//! // 1. poll until Wait, doing each action and handing back what happened.
//! assert_eq!(sched.poll(now), Output::Action(Action::Start { child }));
//! sched.handle(Event::Started { child }, now);
//! // ... Interest actions, then nothing to do until the pipe is readable:
//! while let Output::Action(_) = sched.poll(now) {}
//! // 2. readiness from the OS becomes events:
//! sched.handle(Event::Readable { child, stream: spawn_core::Stream::Stdout }, now);
//! assert!(matches!(sched.poll(now), Output::Action(Action::Read { .. })));
//! ```
//!
//! After an [`Action::Read`] the core expects exactly one answer for that
//! stream ([`Event::Read`], [`Event::ReadWouldBlock`] or [`Event::Eof`])
//! before it issues another read of it; after an [`Action::Write`], one of
//! [`Event::Wrote`], [`Event::WriteWouldBlock`], [`Event::WriteBroken`]. The
//! driver may answer at once (handle, then poll again).
//!
//! Nothing depends on being polled continuously: a driver may stop at its own
//! deadline and resume later with the same scheduler (only `now` must not go
//! backwards). Cost per event and per action does not depend on the number
//! of children: only ready children are touched.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod child;
mod communicator;
mod sched;
#[cfg(any(test, feature = "sim"))]
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
