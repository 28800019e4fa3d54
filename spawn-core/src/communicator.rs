//! [`Communicator`]: the machine for one child alone, for a driver that
//! talks to one child at a time. (spawn's own driver uses a [`Scheduler`]
//! for every entry point, one child or many.)

use crate::sched::Scheduler;
use crate::types::{
    ChildId, ChildSpec, ChildStats, Event, Outcome, Output, SchedulerConfig, Timestamp,
};

/// One child alone: a [`Scheduler`] of one, with the same loop.
///
/// Its child is always [`Communicator::CHILD`] (`ChildId(0)`): events carry
/// it and actions name it. The first [`poll`](Self::poll) emits
/// [`Action::Start`](crate::Action::Start); a driver whose child already
/// runs answers [`Event::Started`] at once.
///
/// The machine can be left and resumed: a `communicate` with a timeout of
/// its own stops polling at its deadline, keeps the `Communicator`, and a
/// later call carries on where it stopped (the rest of the input is still
/// written, every byte is read once).
#[derive(Clone, Debug)]
pub struct Communicator {
    sched: Scheduler,
}

impl Communicator {
    /// The id events and actions carry.
    pub const CHILD: ChildId = ChildId(0);

    /// The machine for one child.
    #[must_use]
    pub fn new(spec: ChildSpec) -> Self {
        let mut sched = Scheduler::new(SchedulerConfig::default());
        sched.add(spec);
        Communicator { sched }
    }

    /// See [`Scheduler::handle`].
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        self.sched.handle(event, now);
    }

    /// See [`Scheduler::terminate`].
    pub fn terminate(&mut self, now: Timestamp) {
        self.sched.terminate(Self::CHILD, now);
    }

    /// See [`Scheduler::poll`].
    #[must_use]
    pub fn poll(&mut self, now: Timestamp) -> Output {
        self.sched.poll(now)
    }

    /// Whether the child is finished and reported.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.sched.is_done()
    }

    /// Progress so far.
    #[must_use]
    pub fn stats(&self) -> ChildStats {
        self.sched.stats(Self::CHILD).copied().unwrap_or_default()
    }

    /// The outcome, once finished.
    #[must_use]
    pub fn outcome(&self) -> Option<&Outcome> {
        self.sched.outcome(Self::CHILD)
    }

    /// The scheduler inside (for its other accessors).
    #[must_use]
    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }
}
