//! A child's pipe events in the scheduler: readiness (an edge), reads and
//! their settling, a read or write that would block, EOF, input written, a
//! broken stdin, and the backpressure of a sink that is full or ready again
//! ([`Event::SinkFull`](crate::Event::SinkFull),
//! [`Event::SinkReady`](crate::Event::SinkReady)).

use crate::child::DRAIN_LIMIT;
use crate::sched::Scheduler;
use crate::types::{ChildId, CloseReason, Stream, Timestamp};

impl Scheduler {
    pub(crate) fn edge(&mut self, child: ChildId, s: Option<Stream>) {
        let (Some(c), Some(s)) = (self.index(child), s) else {
            return;
        };
        let p = &mut self.children[c].pipes[s];
        if !p.open {
            return;
        }
        if p.in_flight.is_some() {
            p.edge_in_flight = true;
        } else {
            p.ready = true;
            self.queue(c, s, false);
        }
    }

    pub(crate) fn read(&mut self, child: ChildId, s: Option<Stream>, n: usize, now: Timestamp) {
        let (Some(c), Some(s)) = (self.index(child), s) else {
            return;
        };
        let ch = &mut self.children[c];
        if !ch.pipes[s].open {
            return;
        }
        if n > 0 {
            // The idle timer is not re-armed per read: it looks at this
            // when it fires (`Scheduler::idle_due`).
            ch.last_output = now;
        }
        let n = n as u64;
        if s == Stream::Stdout {
            ch.stats.stdout_bytes += n;
        } else {
            ch.stats.stderr_bytes += n;
        }
        let budget = ch.spec.read_budget;
        let p = &mut ch.pipes[s];
        p.in_flight = None;
        p.edge_in_flight = false;
        if p.draining {
            p.drained = p.drained.saturating_add(n);
            if p.drained >= DRAIN_LIMIT {
                p.close_pending = None;
                self.close(c, s, CloseReason::Abandoned);
                self.maybe_finish(c, now);
                return;
            }
        }
        // Data came: there may be more. Read on until it would block, but
        // give the others a turn after `read_budget` reads in a row.
        p.ready = true;
        p.streak += 1;
        if p.streak < budget {
            self.queue(c, s, true);
        } else {
            p.streak = 0;
            self.queue(c, s, false);
        }
        self.settle(c, s, now);
    }

    /// Does a close that waited for the answer that just came.
    pub(crate) fn settle(&mut self, c: usize, s: Stream, now: Timestamp) {
        if let Some(reason) = self.children[c].pipes[s].close_pending.take() {
            self.close(c, s, reason);
            self.maybe_finish(c, now);
        }
    }

    pub(crate) fn would_block(&mut self, child: ChildId, s: Option<Stream>, now: Timestamp) {
        let (Some(c), Some(s)) = (self.index(child), s) else {
            return;
        };
        let p = &mut self.children[c].pipes[s];
        if !p.open || p.in_flight.is_none() {
            return;
        }
        p.in_flight = None;
        p.streak = 0;
        p.ready = p.edge_in_flight;
        p.edge_in_flight = false;
        // A pipe paused by its sink is not known to be empty (the read
        // may have stopped at the sink): it is read again once the sink
        // has room, and the EOF grace does not abandon it meanwhile.
        if p.draining && !p.ready && !p.paused && s != Stream::Stdin {
            p.close_pending = None;
            self.close(c, s, CloseReason::Abandoned);
            self.maybe_finish(c, now);
            return;
        }
        self.queue(c, s, false);
        self.settle(c, s, now);
    }

    pub(crate) fn eof(&mut self, child: ChildId, s: Option<Stream>, now: Timestamp) {
        let (Some(c), Some(s)) = (self.index(child), s) else {
            return;
        };
        let p = &mut self.children[c].pipes[s];
        if !p.open {
            return;
        }
        p.in_flight = None;
        p.close_pending = None;
        self.close(c, s, CloseReason::Eof);
        self.maybe_finish(c, now);
    }

    pub(crate) fn wrote(&mut self, child: ChildId, n: usize, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let ch = &mut self.children[c];
        let p = &mut ch.pipes.stdin;
        if !p.open {
            return;
        }
        let asked = p.in_flight.take().unwrap_or(n);
        p.edge_in_flight = false;
        p.ready = true;
        let n = (n.min(asked) as u64).min(ch.input_left());
        ch.stats.input_written += n;
        if ch.input_left() == 0 {
            ch.pipes.stdin.close_pending = None;
            self.close(c, Stream::Stdin, CloseReason::InputDone);
            self.maybe_finish(c, now);
        } else {
            self.queue(c, Stream::Stdin, false);
            self.settle(c, Stream::Stdin, now);
        }
    }

    pub(crate) fn broken(&mut self, child: ChildId, now: Timestamp) {
        let Some(c) = self.index(child) else { return };
        let p = &mut self.children[c].pipes.stdin;
        if !p.open {
            return;
        }
        p.in_flight = None;
        p.close_pending = None;
        self.close(c, Stream::Stdin, CloseReason::Broken);
        self.maybe_finish(c, now);
    }

    pub(crate) fn sink(&mut self, child: ChildId, s: Option<Stream>, full: bool) {
        let (Some(c), Some(s)) = (self.index(child), s) else {
            return;
        };
        let p = &mut self.children[c].pipes[s];
        if !p.open || p.paused == full {
            return;
        }
        p.paused = full;
        // Read again once it has room: bytes may have waited in the pipe
        // for the sink.
        p.ready |= !full;
        self.interest_changed(c, s);
        if !full {
            self.queue(c, s, false);
        }
    }
}
