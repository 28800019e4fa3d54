//! The stop of a child and the teardown of the process group it leads:
//! the steps of its stop sequence (TERM by default; to the child and its
//! group), each step's grace with probes of the group, KILL repeated until
//! the group is empty, and the limit after which the teardown gives up.
//! See the crate docs, *Process groups*.

use crate::child::Child;
use crate::child::{PROBE_FIRST, PROBE_MAX};
use crate::sched::{Pending, Scheduler};
use crate::timers::Timers;
use crate::types::{Action, ChildId, ChildState, KillSignal, SignalTarget, Timer, Timestamp};

/// What follows the steps `ch` was sent so far: its next step, or KILL
/// after the last (or once KILL went out).
fn next_step(ch: &Child) -> KillSignal {
    let sent = ch.signals.steps;
    if sent > 0 && !ch.signals.kill && ch.spec.stop_graces.has_next(sent - 1) {
        KillSignal::Step(sent)
    } else {
        KillSignal::Kill
    }
}

impl Scheduler {
    /// Stops `child` (a cancel, Ctrl-C, an overflowing sink): TERM, then
    /// KILL after the grace, as for a timeout, and `outcome.terminated`.
    /// A child still queued is finished at once without being started
    /// (`status: None`, `started_at: None`); one that is starting is
    /// stopped once started. One that exited already is left alone, except
    /// a group leader whose group is not known empty: its group is torn
    /// down (TERM to the group, the grace, KILL...). Repeating it is a
    /// no-op; an unknown or finished child is ignored.
    pub fn terminate(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        match ch.state() {
            ChildState::Queued => {
                ch.terminated = true;
                self.finish(c, now);
            }
            ChildState::Starting => ch.terminated = true,
            ChildState::Running => {
                ch.terminated = true;
                self.stop(c);
            }
            ChildState::Exited if ch.leads() && !ch.group.empty => {
                ch.terminated = true;
                if !ch.group.gave_up && !ch.group.left {
                    self.stop(c);
                }
            }
            _ => {}
        }
    }

    /// Starts the stop sequence (a timeout, a terminate, or a leader's
    /// leftovers): step 0 now, each step's grace armed when it is emitted,
    /// the next step (or KILL after the last) when the grace ends.
    pub(crate) fn stop(&mut self, c: usize) {
        let ch = &mut self.children[c];
        if ch.stopping {
            return;
        }
        ch.stopping = true;
        self.pending.push_back(Pending::Signal {
            c,
            signal: KillSignal::Step(0),
        });
    }

    /// The signal as it goes out now, or `None` if it no longer applies:
    /// to the child while it runs (and its group, for a leader), to a
    /// leader's group once it exited and until it is finished, unless the
    /// group is known empty.
    pub(crate) fn emit_signal(
        &mut self,
        c: usize,
        signal: KillSignal,
        now: Timestamp,
    ) -> Option<Action> {
        let ch = &mut self.children[c];
        let target = match ch.state() {
            ChildState::Running if ch.leads() => SignalTarget::ChildAndGroup,
            ChildState::Running => SignalTarget::Child,
            ChildState::Exited if ch.leads() && !ch.group.empty && !ch.group.gave_up => {
                SignalTarget::Group
            }
            _ => return None,
        };
        let grace = ch.spec.kill_grace;
        match signal {
            KillSignal::Step(step) => {
                ch.signals.steps = ch.signals.steps.max(step.saturating_add(1));
                // The grace runs from when the step really goes out.
                let wait = ch.spec.stop_graces.grace(step, grace).unwrap_or(grace);
                self.timers
                    .arm(c, ch, Timer::KillGrace, now.saturating_add(wait));
                if ch.leads() {
                    ch.group.probe_delay = PROBE_FIRST;
                    self.timers
                        .arm(c, ch, Timer::GroupProbe, now.saturating_add(PROBE_FIRST));
                }
            }
            KillSignal::Kill => {
                let first = !ch.signals.kill;
                ch.signals.kill = true;
                if first && ch.leads() {
                    self.timers
                        .arm(c, ch, Timer::TeardownLimit, now.saturating_add(grace));
                    ch.group.probe_delay = PROBE_FIRST;
                    self.timers
                        .arm(c, ch, Timer::GroupProbe, now.saturating_add(PROBE_FIRST));
                }
            }
        }
        Some(Action::Signal {
            child: ChildId(c),
            signal,
            target,
        })
    }

    /// The probe as it goes out now (what it will tell is fixed now), or
    /// `None` for a child finished meanwhile.
    pub(crate) fn emit_probe(&mut self, c: usize) -> Option<Action> {
        let ch = &mut self.children[c];
        ch.group.probe_queued = false;
        if !ch.leads() || ch.state() == ChildState::Finished || ch.group.probe.is_some() {
            return None;
        }
        ch.group.probe = Some(ch.probe_now());
        Some(Action::ProbeGroup { child: ChildId(c) })
    }

    /// Asks for a probe of `c`'s group whose answer reflects the state of
    /// now: one is queued, or one in flight was emitted in the same state
    /// (else it is asked again once that one is answered).
    pub(crate) fn want_probe(&mut self, c: usize) {
        let ch = &mut self.children[c];
        let g = &mut ch.group;
        if g.empty || g.gave_up || g.left || g.probe_queued {
            return;
        }
        let now = ch.probe_now();
        let g = &mut ch.group;
        match g.probe {
            Some(p) => g.reprobe |= !p.covers(now),
            None => {
                g.probe_queued = true;
                self.pending.push_back(Pending::Probe { c });
            }
        }
    }

    /// A step's grace ended: the next step, or KILL after the last, unless
    /// the child exited and (for a leader) its group is known empty.
    pub(crate) fn kill_grace_ended(&mut self, c: usize) {
        let ch = &self.children[c];
        let due = match ch.state() {
            ChildState::Running => true,
            ChildState::Exited => ch.leads() && !ch.group.empty && !ch.group.gave_up,
            _ => false,
        };
        if due {
            self.pending.push_back(Pending::Signal {
                c,
                signal: next_step(ch),
            });
        }
    }

    /// The probe timer of a teardown fired.
    pub(crate) fn probe_due(&mut self, c: usize) {
        let ch = &self.children[c];
        if ch.leads() && ch.stopping && ch.state() != ChildState::Finished {
            self.want_probe(c);
        }
    }

    /// The teardown's limit after KILL passed: the next probe after the
    /// exit decides (live: give up on the group).
    pub(crate) fn limit_passed(&mut self, c: usize) {
        let ch = &mut self.children[c];
        if !ch.leads() || ch.group.empty || ch.state() == ChildState::Finished {
            return;
        }
        ch.group.limit_passed = true;
        Timers::cancel(ch, Timer::GroupProbe);
        if ch.state() == ChildState::Exited {
            self.want_probe(c);
        }
    }

    /// [`Event::GroupEmpty`](crate::Event::GroupEmpty) (`empty`) or
    /// [`Event::GroupLive`](crate::Event::GroupLive) for `child`.
    pub(crate) fn group_answer(&mut self, child: ChildId, empty: bool, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        if !ch.leads() || ch.state() == ChildState::Finished {
            return;
        }
        let Some(probe) = ch.group.probe.take() else {
            return;
        };
        if empty && probe.after_exit {
            // For good: the leader is a zombie and no member is left.
            ch.group.empty = true;
            ch.group.reprobe = false;
            Timers::cancel(ch, Timer::KillGrace);
            Timers::cancel(ch, Timer::GroupProbe);
            Timers::cancel(ch, Timer::TeardownLimit);
        } else if ch.group.gave_up {
            // Nothing more to do about the group.
        } else if probe.after_limit && probe.after_exit {
            // The limit passed, the leader exited, and its group is still
            // live: give up.
            ch.group.gave_up = true;
            ch.group.reprobe = false;
            Timers::cancel(ch, Timer::GroupProbe);
        } else if ch.stopping {
            // Empty while the leader runs is a snapshot: its exit probes
            // again. Live: probe again later, and KILL again after KILL.
            if !empty {
                if ch.signals.kill {
                    self.pending.push_back(Pending::Signal {
                        c,
                        signal: KillSignal::Kill,
                    });
                }
                let ch = &mut self.children[c];
                let delay = ch.group.probe_delay;
                ch.group.probe_delay = (delay * 2).min(PROBE_MAX);
                self.timers
                    .arm(c, ch, Timer::GroupProbe, now.saturating_add(delay));
            }
        } else if probe.settled && !empty {
            // Leftovers: the leader exited by itself, its pipes are closed,
            // its members exited, and something is still in its group.
            if ch.spec.timeout.is_some() || ch.terminated || ch.spec.end_leftovers {
                self.stop(c);
            } else {
                ch.group.left = true;
            }
        }
        if core::mem::take(&mut self.children[c].group.reprobe) {
            self.want_probe(c);
        }
        self.maybe_finish(c, now);
    }

    /// A member joined the group of `c`: a probe in flight may predate it
    /// (its answer is a snapshot at most), and a group found empty (the
    /// member was queued behind `max_running`) is not empty any more: a
    /// teardown that ended, or whose limit passed, goes on (probes, and a
    /// fresh grace before KILL, or a fresh limit after it).
    pub(crate) fn rejoined(&mut self, c: usize, now: Timestamp) {
        let ch = &mut self.children[c];
        if let Some(p) = &mut ch.group.probe {
            // Its answer may predate the member: a snapshot at most.
            p.after_exit = false;
            p.settled = false;
            ch.group.reprobe = true;
        }
        let was_empty = ch.group.empty;
        ch.group.empty = false;
        if !ch.stopping {
            return;
        }
        let grace = now.saturating_add(ch.spec.kill_grace);
        if ch.signals.kill {
            // KILLs went out already: the newcomer joined a group being
            // killed. It gets a KILL of its own now, then a fresh limit,
            // probed from the start, each live answer KILLing again, before
            // the teardown may give up.
            ch.group.limit_passed = false;
            ch.group.gave_up = false;
            self.timers.arm(c, ch, Timer::TeardownLimit, grace);
            self.pending.push_back(Pending::Signal {
                c,
                signal: KillSignal::Kill,
            });
            let ch = &mut self.children[c];
            ch.group.probe_delay = PROBE_FIRST;
            self.timers
                .arm(c, ch, Timer::GroupProbe, now.saturating_add(PROBE_FIRST));
            return;
        } else if was_empty {
            // The step's grace had ended early: a fresh one before the
            // next step.
            let step = ch.signals.steps.saturating_sub(1);
            let wait = ch.spec.stop_graces.grace(step, ch.spec.kill_grace);
            let at = wait.map_or(grace, |w| now.saturating_add(w));
            self.timers.arm(c, ch, Timer::KillGrace, at);
        } else {
            // The TERM grace goes on; its probes cover the newcomer.
            return;
        }
        ch.group.probe_delay = PROBE_FIRST;
        self.timers
            .arm(c, ch, Timer::GroupProbe, now.saturating_add(PROBE_FIRST));
    }
}
