//! Exits, signals and group probes of the driver, all through
//! [`Process`](crate::process::Process).
//!
//! An exit is seen through the child's pidfd in the epoll set; where pidfds
//! are missing (old kernels, or `SPAWN_NO_PIDFD=1`), children are polled on
//! a short, backing-off tick, and at once when their output pipes reach EOF.
//! A child that leads a group under teardown is not reaped when it exits
//! (its zombie pins the group id, so group signals cannot reach a reused
//! id); it is reaped when the core finishes it.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use spawn_core::{ChildId, Event, KillSignal, Outcome, SignalTarget, Stream, Timestamp};
use spawn_sys::group::GroupState;
use spawn_sys::poll::Interest;

use super::Engine;
use super::token::Token;
use crate::Signal;

/// Exit polling tick without pidfds: starts here, doubles to `MAX_TICK`.
pub(super) const MIN_TICK: Duration = Duration::from_micros(500);
const MAX_TICK: Duration = Duration::from_millis(20);

impl Engine<'_> {
    /// Starts watching for the exit of a started slot: its pidfd in the
    /// epoll set, else the polled list. An adopted child that exited
    /// already is told at once.
    pub(super) fn watch_exit(&mut self, child: usize, now: Timestamp) {
        let Some(p) = self.slots[child].process.clone() else {
            return;
        };
        let watched = p.pidfd().is_some_and(|fd| {
            let interest = Interest {
                readable: true,
                writable: false,
                edge: true,
            };
            self.epoll
                .add(fd.as_fd(), Token::Exit { slot: child }.encode(), interest)
                .is_ok()
        });
        if !watched {
            self.slots[child].exit_polled = true;
            self.polled.push(child);
        }
        if p.reaped().is_some() {
            self.check_exit(child, now);
        }
    }

    /// Tells the core of the slot's exit if it has exited: reaped, or only
    /// seen (`WNOWAIT`) for a child kept unreaped.
    pub(super) fn check_exit(&mut self, child: usize, now: Timestamp) {
        let slot = &mut self.slots[child];
        if slot.exit.is_some() {
            return;
        }
        let Some(p) = slot.process.clone() else {
            return;
        };
        let status = if slot.keep_unreaped {
            p.exited()
        } else {
            match p.try_reap() {
                Ok(r) => r.map(|r| r.wait_result().status),
                Err(_) => None,
            }
        };
        let Some(status) = status else { return };
        slot.exit = Some(status);
        if let Some(fd) = p.pidfd() {
            let _ = self.epoll.delete(fd);
        }
        self.feed(
            Event::Exited {
                child: ChildId(child),
                status,
            },
            now,
        );
    }

    /// Polls the children without a pidfd (after each wait); the list
    /// drops those whose exit was seen.
    pub(super) fn poll_exits(&mut self, now: Timestamp) {
        if self.polled.is_empty() {
            return;
        }
        let mut polled = std::mem::take(&mut self.polled);
        let before = polled.len();
        for &i in &polled {
            self.check_exit(i, now);
        }
        polled.retain(|&i| self.slots[i].exit.is_none() && self.slots[i].finished.is_none());
        self.tick = if polled.len() < before {
            MIN_TICK
        } else {
            (self.tick * 2).min(MAX_TICK)
        };
        self.polled = polled;
    }

    pub(super) fn signal(&mut self, child: usize, signal: KillSignal, target: SignalTarget) {
        let Some(p) = self.slots[child].process.clone() else {
            return;
        };
        // A stopped process keeps TERM pending until it is continued: send
        // CONT after it, as shells and systemd do.
        let stop = self.slots[child].stop_signal;
        let sigs: [Signal; 2] = match signal {
            KillSignal::Term => [stop, Signal::CONT],
            _ => [Signal::KILL, Signal::KILL],
        };
        let sigs = if sigs[0] == sigs[1] {
            &sigs[..1]
        } else {
            &sigs[..]
        };
        let (to_child, to_group) = match target {
            SignalTarget::Child => (true, false),
            SignalTarget::Group => (false, true),
            _ => (true, true),
        };
        for &s in sigs {
            if to_child {
                let _ = p.signal(s);
            }
            // Only what the run owns is torn down: the group the child
            // leads, its cgroup.
            if to_group {
                p.signal_contained(s);
            }
        }
    }

    pub(super) fn probe_group(&mut self, child: usize) {
        let Some(p) = self.slots[child].process.clone() else {
            return;
        };
        let id = ChildId(child);
        let ev = match p.probe_contained() {
            GroupState::Live => Event::GroupLive { child: id },
            // Unknown (no /proc): nothing more can be learned; the signals
            // went out.
            _ => Event::GroupEmpty { child: id },
        };
        let now = self.now();
        self.feed(ev, now);
    }

    /// The core is done with the child: close what is left, finish its
    /// sinks, reap it.
    pub(super) fn finished(&mut self, child: usize, outcome: Outcome) {
        let slot = &mut self.slots[child];
        for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
            if let Some(fd) = slot.fds[stream].take() {
                let _ = self.epoll.delete(fd.as_fd());
            }
            slot.caps[stream].lease = None;
        }
        slot.finished = Some(Instant::now());
        slot.outcome = Some(outcome);
        if let Some(p) = &slot.process {
            // It has exited (the core saw it): this does not block. A child
            // the core kept unreaped is reaped now that its group is done.
            if slot.exit.is_some() {
                let _ = p.try_reap();
            }
            if let Some(fd) = p.pidfd() {
                let _ = self.epoll.delete(fd);
            }
        }
        self.finish_sink(child, Stream::Stdout);
        self.finish_sink(child, Stream::Stderr);
        self.done.push_back(child);
        self.report_progress();
    }
}
