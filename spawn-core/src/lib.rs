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
//! One way in ([`Scheduler::handle`] an [`Event`], and
//! [`Scheduler::terminate`] to stop a child), one way out
//! ([`Scheduler::poll`] an [`Output`]): handle every event, then poll until
//! [`Output::Wait`], doing each [`Action`], handing its answer back, and
//! taking each [`Output::Finished`] (then [`Scheduler::remove`] it, in a
//! loop that lives long).
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
//! sched.handle(Event::Eof { child, stream: Stream::Stdout }, now);
//! sched.handle(Event::Exited { child, status: 0 }, now);
//! assert!(matches!(sched.poll(now), Output::Action(Action::Close { .. })));
//! assert!(matches!(sched.poll(now), Output::Finished { .. }));
//! assert_eq!(sched.remove(child).map(|o| o.status), Some(Some(0)));
//! ```
//!
//! `examples/poll_loop.rs` is a complete loop over real
//! `std::process` children with `poll(2)`.
//!
//! # The contract
//!
//! - After an [`Action::Read`] of a stream the core expects exactly one
//!   answer for that stream ([`Event::Read`], [`Event::ReadWouldBlock`] or
//!   [`Event::Eof`]) before it reads that stream again; after an
//!   [`Action::Write`], one of [`Event::Wrote`], [`Event::WriteWouldBlock`],
//!   [`Event::WriteBroken`]; after an [`Action::ProbeGroup`], one of
//!   [`Event::GroupEmpty`], [`Event::GroupLive`]. The driver may answer at
//!   once (handle, then poll again) or later; the core never closes a pipe
//!   while an answer is outstanding, and never finishes a child while a
//!   probe of its group is.
//! - Readiness is an edge, remembered until an answer says "would block";
//!   a level-triggered driver watches what the [`Action::Interest`] actions
//!   say (emitted only when the interest changes) and nothing else.
//! - Exits: [`Event::Exited`] of a child with
//!   [`signal_group`](ChildSpec::signal_group) means "exited, **not
//!   reaped**": the driver keeps the zombie (it pins the pid and the pgid)
//!   and reaps it when it gets [`Output::Finished`]. Any other child may
//!   be reaped at once.
//! - Signals: no [`Action::Signal`] reaches the child itself after its
//!   [`Event::Exited`] was handled; after it, only
//!   [`SignalTarget::Group`] of a leader, and none after its
//!   [`Output::Finished`].
//! - After [`Output::Finished`] (or [`Scheduler::remove`]) the driver
//!   sends no event about the child; a removed id may be handed out again.
//! - Nothing depends on being polled continuously: a driver may stop at
//!   its own deadline and resume later with the same scheduler (only `now`
//!   must not go backwards).
//! - Cost per event and per action does not depend on the number of
//!   children: only ready children are touched (queues, not scans; a timer
//!   heap with lazy deletion; a free list of removed slots).
//!   `benches/core.rs` measures it.
//!
//! # Policies
//!
//! Per child, in [`ChildSpec`]: the read chunk and the read budget (at most
//! that many reads of one stream in a row before the other ready streams
//! get a turn), the write chunk, the timeout (TERM, then KILL after
//! `kill_grace`), and the EOF grace after the exit (Go's `WaitDelay`: a
//! grandchild holding a pipe must not hang the caller; default
//! [`DEFAULT_EOF_GRACE`]). Backpressure ([`Event::SinkFull`]) pauses only
//! the stream whose sink is full, never the other streams of the same
//! child.
//!
//! # Process groups
//!
//! A child with [`signal_group`](ChildSpec::signal_group) leads a process
//! group that the run owns; children with
//! [`member_of`](ChildSpec::member_of) joined it (pipeline stages). Its
//! stop (a timeout, [`Scheduler::terminate`], or leftovers, below) is a
//! teardown of the whole group:
//!
//! 1. TERM to the child and its group ([`SignalTarget::ChildAndGroup`]),
//!    or to the group alone once the child exited ([`SignalTarget::Group`]).
//! 2. The KILL grace (`kill_grace`), during which the core probes the group
//!    ([`Action::ProbeGroup`], every 1 ms, doubling up to 50 ms). The
//!    leader's exit does not end the grace: only a probe after the exit
//!    that finds the group empty does.
//! 3. KILL to the child and its group (or the group), then KILL again on
//!    every probe that finds the group live, until it is empty.
//! 4. `kill_grace` after the KILL, the first probe after the exit that
//!    still finds the group live ends the teardown: the core gives up
//!    ([`GroupOutcome::Left`]).
//!
//! Leftovers: when a leader that exited by itself is *settled* (its pipes
//! are closed, by EOF or abandoned after the EOF grace, and its started
//! members exited), and it has a `timeout` (or was terminated, or its spec
//! says [`end_leftovers`](ChildSpec::end_leftovers)), the core probes its
//! group once more; if the group is live, the leader gets the teardown
//! above (a timeout bounds the life of everything in the group). A leader
//! with none of these is finished when settled, without a probe
//! ([`GroupOutcome::NotProbed`]): its leftovers are left alone, and the
//! driver is spared a look at every process of the system per exit. A leader is never finished before its
//! started members exited. Members themselves are stopped with
//! [`SignalTarget::Child`] (the leader's teardown covers the group); give
//! them a timeout of their own (or terminate them) to stop one that left
//! the group. [`Outcome::group`] says how it ended.
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
mod pipe_events;
mod sched;
#[cfg(any(test, feature = "sim"))]
#[cfg_attr(docsrs, doc(cfg(feature = "sim")))]
pub mod sim;
mod starting;
mod stop_steps;
mod teardown;
mod timers;
mod types;

#[cfg(test)]
mod tests;

pub use communicator::Communicator;
pub use sched::Scheduler;
pub use stop_steps::{MAX_STOP_STEPS, StopGraces, TooManySteps};
pub use types::{
    Action, ChildId, ChildSpec, ChildState, ChildStats, CloseReason, DEFAULT_EOF_GRACE,
    DEFAULT_KILL_GRACE, Event, GroupOutcome, KillSignal, Outcome, Output, PerStream,
    SchedulerConfig, SignalTarget, SignalsSent, Stream, Timer, Timestamp, WaitReason,
};
