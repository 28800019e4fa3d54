//! When the core's stops of a child are due, as the simulated driver's
//! checks see them: its timeout, a terminate request, and its idle
//! timeout counted from the outputs the core handled.

use super::Sim;
use crate::Timestamp;

impl Sim {
    /// When the TERM of `c` is due: the earliest of its timeout and a
    /// terminate request made while it ran.
    pub(super) fn term_due(&self, c: usize) -> Option<Timestamp> {
        let p = &self.procs[c];
        let started = self.report.started[c]?;
        // The exit, once handled, cancels the timeout (one due at the very
        // instant of the exit may still fire: see `timeout_at_exit`).
        let timeout = self.children[c]
            .spec
            .timeout
            .map(|t| started.saturating_add(t))
            .filter(|&t| p.exited_at.is_none_or(|e| t < e));
        let terminate = p.terminate_at.filter(|&t| t >= started);
        match (timeout, terminate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When `c`'s idle timeout is due as the core sees it at `now`: from
    /// its start or the last output it handled before `now` (an output of
    /// the same instant may come after the timer in the core's order).
    pub(super) fn idle_due_before(&self, c: usize, now: Timestamp) -> Option<Timestamp> {
        let spec = self.children[c].spec;
        let idle = spec.idle_timeout.filter(|_| spec.stdout || spec.stderr)?;
        let started = self.report.started[c]?;
        let last = self.procs[c]
            .output_at
            .iter()
            .rev()
            .find(|&&t| t < now)
            .map_or(started, |&t| t.max(started));
        Some(last.saturating_add(idle))
    }

    /// The first instant `c` surely went its whole idle timeout without
    /// output (an output at the very instant it was due may or may not
    /// have come first: not counted as a gap).
    pub(super) fn idle_first_due(&self, c: usize) -> Option<Timestamp> {
        let spec = self.children[c].spec;
        let idle = spec.idle_timeout.filter(|_| spec.stdout || spec.stderr)?;
        let mut last = self.report.started[c]?;
        for &t in &self.procs[c].output_at {
            if t > last.saturating_add(idle) {
                break;
            }
            last = last.max(t);
        }
        Some(last.saturating_add(idle))
    }

    /// A timeout due at the very instant the exit was handled: events of
    /// one instant have no order, so it may fire or not (as for
    /// `timed_out`).
    pub(super) fn timeout_at_exit(&self, c: usize) -> Option<Timestamp> {
        let started = self.report.started[c]?;
        let t = started.saturating_add(self.children[c].spec.timeout?);
        (self.procs[c].exited_at == Some(t)).then_some(t)
    }
}
