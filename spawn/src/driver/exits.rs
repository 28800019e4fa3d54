//! Signals, group probes and the end of a child in the driver, all through
//! [`Process`](crate::process::Process). How an exit is learnt is
//! `exit_watch/mod.rs`.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use spawn_core::{ChildId, Event, KillSignal, Outcome, SignalTarget, Stream};
use spawn_sys::group::GroupState;

use super::Engine;
use super::slot::Phase;
use crate::Signal;

impl Engine<'_> {
    /// Sends signals the core asked for in one turn: what each run reaches
    /// first (the trees of children in the caller's group in one walk, the
    /// groups they lead, their cgroups), then the children themselves, so
    /// that a child that dies first cannot take its children out of reach.
    pub(super) fn signals(&mut self, batch: &[(usize, KillSignal, SignalTarget)]) {
        self.scans = crate::process::TurnScans::default();
        // A stopped process keeps TERM pending until it is continued: send
        // CONT after it, as shells and systemd do.
        let sigs = |child: usize, signal: KillSignal| -> Vec<Signal> {
            match signal {
                KillSignal::Term if self.slots[child].stop_signal == Signal::CONT => {
                    vec![Signal::CONT]
                }
                KillSignal::Term => vec![self.slots[child].stop_signal, Signal::CONT],
                _ => vec![Signal::KILL],
            }
        };
        let mut plan = Vec::with_capacity(batch.len());
        for &(child, signal, target) in batch {
            let Some(p) = self.slots[child].process.clone() else {
                continue;
            };
            let (to_child, to_group) = match target {
                SignalTarget::Child => (true, false),
                SignalTarget::Group => (false, true),
                _ => (true, true),
            };
            plan.push((p, sigs(child, signal), to_child, to_group));
        }
        // The trees first, in one walk (the first signal freezes them and
        // continues them after; a second one, CONT, needs no walk).
        let trees: Vec<(&crate::descendants::Descendants, Signal)> = plan
            .iter()
            .filter(|(_, _, _, to_group)| *to_group)
            .filter_map(|(p, sigs, _, _)| Some((p.descendants()?, sigs[0])))
            .collect();
        if !trees.is_empty() {
            crate::descendants::signal_all(&trees);
        }
        for (p, sigs, to_child, to_group) in &plan {
            for (k, &s) in sigs.iter().enumerate() {
                if *to_group {
                    if k > 0
                        && let Some(tree) = p.descendants()
                    {
                        tree.signal(s);
                    }
                    p.signal_group_and_cgroup(s);
                }
                if *to_child {
                    let _ = p.signal(s);
                }
            }
        }
    }

    pub(super) fn probe_group(&mut self, child: usize) {
        let Some(p) = self.slots[child].process.clone() else {
            return;
        };
        let id = ChildId(child);
        let ev = match p.probe_contained(&mut self.scans) {
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
                self.poller.delete(fd.as_fd());
            }
            slot.caps[stream].lease = None;
        }
        slot.phase = Phase::Finished(Instant::now());
        slot.outcome = Some(outcome);
        if let Some(p) = &slot.process {
            // It has exited (the core saw it): this does not block. A child
            // the core kept unreaped is reaped now that its group is done.
            if slot.exit.is_some() {
                let _ = p.try_reap();
            }
        }
        self.exits.unwatch(slot, &self.poller);
        // Reaped and held by the engine alone: its pidfd goes now, so that
        // fds in use follow the running children, not the finished ones.
        if let Some(p) = slot.process.as_mut().and_then(Arc::get_mut) {
            p.close_pidfd();
        }
        for stream in Stream::OUTPUTS {
            self.sinks.unpause(child, stream, &self.poller);
            self.finish_sink(child, stream);
        }
        self.slots.note_finished(child);
        self.report_progress();
    }

    /// Takes a finished child whose result was taken out of the engine
    /// (a `Group` hands each result out as it finishes): the core forgets
    /// it (`Scheduler::remove`) and a later `add` reuses its slot, so the
    /// engine holds only the children it runs and queues, whatever the
    /// number that went through it.
    pub(crate) fn remove(&mut self, child: usize) {
        if self.sched.remove(ChildId(child)).is_none() {
            return;
        }
        self.stops.forget_slot(child, &self.poller);
        let slot = &self.slots[child];
        for i in [slot.sinks.stdout, slot.sinks.stderr].into_iter().flatten() {
            // Its bytes were taken: what the sink held goes.
            self.sinks.release(i);
        }
        self.slots.removed(child);
    }
}
