//! Signals, group probes and the end of a child in the driver, all through
//! [`Process`](crate::process::Process). How an exit is learnt is
//! `exit_watch/mod.rs`.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use spawn_core::{ChildId, Event, KillSignal, Outcome, SignalTarget, Stream};
use spawn_sys::group::GroupState;

use super::exit_watch::ExitWatch;
use super::pipe_io::finish_sink;
use super::poller::Poller;
use super::sink_table::SinkTable;
use super::slot::{Phase, Slot};
use super::slots::Slots;
use crate::Signal;
use crate::process::TurnScans;

/// Sends signals the core asked for in one turn: what each run reaches
/// first (the trees of children in the caller's group in one walk, the
/// groups they lead, their cgroups), then the children themselves, so
/// that a child that dies first cannot take its children out of reach.
pub(super) fn signals(slots: &Slots, batch: &[(usize, KillSignal, SignalTarget)]) {
    // A stopped process keeps TERM pending until it is continued: send
    // CONT after it, as shells and systemd do; not after a step that stops
    // (STOP, TSTP...), which the CONT would undo.
    let sigs = |child: usize, signal: KillSignal| -> Vec<Signal> {
        match signal {
            KillSignal::Step(step) => match slots[child].stop.signal(step) {
                s @ (Signal::CONT | Signal::KILL) => vec![s],
                s if s.stops() => vec![s],
                s => vec![s, Signal::CONT],
            },
            _ => vec![Signal::KILL],
        }
    };
    // The groups this batch signals, and with what: a pipeline stage
    // stopped with its leader is in the leader's group, and gets the
    // leader's signal through it, once.
    let grouped: Vec<(spawn_sys::Pid, KillSignal)> = batch
        .iter()
        .filter(|(_, _, target)| *target != SignalTarget::Child)
        .filter_map(|&(c, s, _)| Some((slots[c].process.as_ref()?.pgid()?, s)))
        .collect();
    let mut plan = Vec::with_capacity(batch.len());
    for &(child, signal, target) in batch {
        let Some(p) = slots[child].process.clone() else {
            continue;
        };
        if target == SignalTarget::Child
            && grouped
                .iter()
                .any(|&(pgid, s)| s == signal && p.pgid() == Some(pgid) && p.in_group(pgid))
        {
            continue;
        }
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
        // Each process gets each signal once: not the child again when
        // what contains it reached it.
        let to_child = *to_child && !(*to_group && p.containment_reaches_child());
        for (k, &s) in sigs.iter().enumerate() {
            if *to_group {
                if k > 0
                    && let Some(tree) = p.descendants()
                {
                    tree.signal(s);
                }
                p.signal_group_and_cgroup(s);
            }
            if to_child {
                let _ = p.signal(s);
            }
        }
    }
}

/// Whether what contains `child` (its group, its cgroup) still holds
/// processes, as the event that tells the core; `None` when it has no
/// process.
pub(super) fn probe_group(slot: &Slot, scans: &mut TurnScans, child: usize) -> Option<Event> {
    let p = slot.process.as_ref()?;
    let id = ChildId(child);
    Some(match p.probe_contained(scans) {
        GroupState::Live => Event::GroupLive { child: id },
        // Unknown (no /proc): nothing more can be learned; the signals
        // went out.
        _ => Event::GroupEmpty { child: id },
    })
}

/// The core is done with `child`: closes what is left, finishes its
/// sinks, reaps it, and queues it as finished.
pub(super) fn finished(
    slots: &mut Slots,
    sinks: &mut SinkTable,
    poller: &Poller,
    exits: &mut ExitWatch,
    child: usize,
    outcome: Outcome,
) {
    let slot = &mut slots[child];
    for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
        if let Some(fd) = slot.fds[stream].take() {
            poller.delete(fd.as_fd());
        }
        slot.caps[stream].lease = None;
    }
    slot.phase = Phase::Finished {
        at: Instant::now(),
        outcome,
    };
    if let Some(p) = &slot.process {
        // It has exited (the core saw it): this does not block. A child
        // the core kept unreaped is reaped now that its group is done.
        if slot.exit.is_some() {
            let _ = p.try_reap();
        }
    }
    exits.unwatch(slot, poller);
    // Reaped and held by the engine alone: its pidfd goes now, so that
    // fds in use follow the running children, not the finished ones.
    if let Some(p) = slot.process.as_mut().and_then(Arc::get_mut) {
        p.close_pidfd();
    }
    for stream in Stream::OUTPUTS {
        sinks.unpause(child, stream, poller);
        finish_sink(slot, sinks, stream);
    }
    slots.note_finished(child);
}
