//! How children start: in the order added, under `max_running`, at most
//! [`START_BATCH`] per turn and [`STARTS_OUT`] not answered yet, and what
//! happens to a start the driver could not make (failed, or deferred until
//! a running child frees what it lacks: `Event::StartDeferred`).

use crate::sched::Scheduler;
use crate::types::{ChildId, ChildState, Timestamp};

/// Children started in one turn at most: then the driver is sent to look
/// at what is ready (`WaitReason::Starting`) before it starts more, so a
/// wide group reads and reaps its first children while it starts the
/// others, instead of starting them all first.
///
/// One: each start is followed by a look at what is ready. Starts in
/// bursts make as many children runnable at once (each `exec` and dynamic
/// loader is a burst of CPU), and the one thread that drives them all gets
/// a CPU share of one in that many while its children wait for it to read
/// their pipes. With 16 per turn, 500 children × 1 MiB took 1.2× the time of
/// a hand-written poll loop on 2 cores; with one, 0.87× (and 2,000: 1.53× →
/// 0.98×; 300 at `max_running(300)`: 1.11× → 1.37× faster than sequential
/// std). A turn without anything ready costs one `epoll_wait` that
/// returns at once, next to a spawn's hundreds of microseconds.
pub(crate) const START_BATCH: usize = 1;

/// Starts not answered yet (`Started`, `SpawnFailed`, `StartDeferred`) at
/// most: the next one waits for an answer (members of a group, in their
/// leader's turn, aside). A driver that starts in place answers before it
/// polls again, so this costs it nothing. One that starts on another
/// thread (the facade's spawner) has two in flight, the one being made
/// and the next, so that thread never waits for the driver's answer; and
/// every child it was not handed is still queued here, where a cancel, a
/// halt or a drop finds it: it never starts.
pub(crate) const STARTS_OUT: usize = 2;

impl Scheduler {
    /// Whether a running slot is free for a queued child (none is while a
    /// deferred start waits for a running child to finish).
    pub(crate) fn may_start(&self) -> bool {
        !self.stalled
            && self.n_queued > 0
            && (self.max_running == 0 || self.running < self.max_running)
    }

    /// `c` leaves the start queue for a running slot; a member joins its
    /// leader's group (and a group found empty is not empty any more).
    pub(crate) fn start(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        ch.stats.state = ChildState::Starting;
        self.unanswered += 1;
        self.n_queued -= 1;
        self.running += 1;
        if let Some((l, epoch)) = ch.leader {
            let leader = &self.children[l];
            let alive = matches!(
                leader.state(),
                ChildState::Starting | ChildState::Running | ChildState::Exited
            );
            if leader.epoch == epoch && !leader.removed && alive {
                self.children[c].in_group = true;
                self.children[l].group.members += 1;
                self.rejoined(l, now);
            }
        }
    }

    pub(crate) fn spawn_failed(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if ch.state() == ChildState::Starting {
            self.unanswered -= 1;
            let ch = &mut self.children[c];
            ch.spawn_failed = true;
            self.finish(c, now);
            self.member_gone(c, now);
        }
    }

    /// See [`Event::StartDeferred`].
    pub(crate) fn start_deferred(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        if self.children[c].state() != ChildState::Starting {
            return;
        }
        if self.running <= 1 && !self.children[c].terminated {
            // Nothing running would free what it needs.
            self.spawn_failed(child, now);
            return;
        }
        // Back in the queue, first: out of its running slot and its group.
        self.unanswered -= 1;
        self.member_gone(c, now);
        let ch = &mut self.children[c];
        ch.stats.state = ChildState::Queued;
        self.running -= 1;
        self.n_queued += 1;
        if ch.terminated {
            // Stopped while it waited: it never runs.
            self.finish(c, now);
            return;
        }
        self.start_queue.push_front(c);
        self.stalled = true;
    }
}
