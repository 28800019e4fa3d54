//! [`Descendants`]: what a stop reaches for a child that stays in the
//! caller's process group (the caller has a controlling terminal, whose
//! Ctrl-C must still reach the child; or the child joined a group it
//! named): the child and every process below it, found by parent pid in
//! `/proc` (`spawn_sys::tree`), since no group can be signalled.
//!
//! Every process found is kept as a *member* with a pidfd opened after
//! checking its start time (`spawn_sys::tree::open_checked`), so a reused
//! pid is never signalled, and a member whose parent dies is still reached
//! after it was reparented. A stop signal freezes the tree first: SIGSTOP
//! to every member, walks again until a walk finds nothing new (a stopped
//! process cannot fork), then the signal to all, then SIGCONT to all, as a
//! signal to a whole group would (a signal that stops, STOP or TSTP, goes
//! out without a freeze or a CONT, which would undo it). KILL, and every
//! probe, walks again from the members still alive.
//!
//! # Limits
//! A process reparented away before it was found (a double-forked daemon
//! whose parent exited, the leftovers of a child that exited by itself) is
//! not reached: ask for `process_group(0)`, `new_session()` or
//! `Containment::Cgroup` for those. A member that its parent reaps before a
//! walk is simply gone.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::event::{PollFd, PollFlags};
use spawn_sys::Pid;
use spawn_sys::tree::{self, Descendant, ProcTable};

use crate::Signal;

/// Most members held with a pidfd; past it (or without pidfds:
/// `SPAWN_NO_PIDFD=1`, an old kernel), members are signalled by pid after
/// a check of their start time.
const MAX_PIDFDS: usize = 1024;

/// Most walks of one freeze before the signal goes out anyway (a tree
/// that keeps growing faster than it is stopped).
const MAX_FREEZE_WALKS: usize = 16;

/// One process of the tree.
#[derive(Debug)]
struct Member {
    who: Descendant,
    /// A pidfd for it, checked to name it when opened.
    fd: Option<OwnedFd>,
}

impl Member {
    /// Whether it has not exited (a pidfd is readable once it has).
    fn alive(&self) -> bool {
        match &self.fd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                !matches!(spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::ZERO)), Ok(n) if n > 0)
            }
            None => tree::still_alive(self.who),
        }
    }

    fn signal(&self, signal: Signal) {
        let _ = match &self.fd {
            Some(fd) => spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), signal.as_raw()),
            None if tree::still_alive(self.who) => {
                spawn_sys::signal::signal_process(self.who.pid, signal.as_raw())
            }
            None => Ok(()),
        };
    }
}

/// The processes a stop of one run reaches: see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Descendants {
    members: Mutex<Vec<Member>>,
}

impl Descendants {
    fn members(&self) -> MutexGuard<'_, Vec<Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a started child of ours (the run's child, or a pipeline's
    /// stage): its descendants are walked from it. Call it before the child
    /// can be reaped (its pid is ours until then).
    pub(crate) fn add_root(&self, pid: Pid) {
        let start_time =
            spawn_sys::procfs::stat_of(pid.as_raw_nonzero().get()).map_or(0, |s| s.start_time);
        let fd = crate::driver::exit_watch::source::open_pidfd(pid);
        self.members().push(Member {
            who: Descendant { pid, start_time },
            fd,
        });
    }

    /// Adds the processes of `table` below the members still alive that
    /// are not members yet; returns how many were added (and with `stop`,
    /// SIGSTOPs them as they are added).
    fn walk(members: &mut Vec<Member>, stop: bool, table: &ProcTable) -> usize {
        let roots: Vec<Pid> = members
            .iter()
            .filter(|m| m.alive())
            .map(|m| m.who.pid)
            .collect();
        if roots.is_empty() {
            return 0;
        }
        let mut added = 0;
        for who in table.descendants(&roots) {
            if members.iter().any(|m| m.who == who) {
                continue;
            }
            let fd = if members.len() < MAX_PIDFDS && spawn_sys::pidfd::pidfd_supported() {
                match tree::open_checked(who) {
                    Some(fd) => Some(fd),
                    // Gone, or another process by now.
                    None => continue,
                }
            } else if tree::still_alive(who) {
                // Signalled by pid, each time after a check of its start.
                None
            } else {
                continue;
            };
            let m = Member { who, fd };
            if stop {
                m.signal(Signal::STOP);
            }
            members.push(m);
            added += 1;
        }
        added
    }

    /// Sends `signal` to the whole tree, walked now (see [`signal_all`]).
    pub(crate) fn signal(&self, signal: Signal) {
        signal_all(&[(self, signal)]);
    }

    /// Whether a process of the tree other than `except` (the run's own
    /// child, kept unreaped by its teardown) is alive, walked now.
    /// `table`: a scan of this turn (the engine's, shared by its probes),
    /// made here when `None`.
    pub(crate) fn any_alive_except(&self, except: Pid, table: &mut Option<ProcTable>) -> bool {
        let mut members = self.members();
        if table.is_none() {
            *table = ProcTable::scan().ok();
        }
        if let Some(t) = table.as_ref() {
            Self::walk(&mut members, false, t);
        }
        members.retain(Member::alive);
        members.iter().any(|m| m.who.pid != except)
    }
}

/// Sends each tree its signal, walked now, with one scan of `/proc` per
/// round for all of them (a teardown of many children stops many trees in
/// one turn). A signal other than KILL, STOP or CONT freezes its tree
/// first: SIGSTOP to every member, then scans until no tree gains a member
/// (a stopped process cannot fork), then the signal, then SIGCONT; KILL
/// walks once; CONT does not walk. A tree named twice is signalled once
/// per entry, locked once at a time.
pub(crate) fn signal_all(batch: &[(&Descendants, Signal)]) {
    let mut trees: Vec<(MutexGuard<'_, Vec<Member>>, Signal, bool)> = Vec::new();
    for (i, &(tree, signal)) in batch.iter().enumerate() {
        if batch[..i].iter().any(|(t, _)| std::ptr::eq(*t, tree)) {
            continue;
        }
        // Not for a signal that stops: the CONT that ends a freeze would
        // undo it (and discard a TSTP still pending).
        let freeze = ![Signal::KILL, Signal::CONT].contains(&signal) && !signal.stops();
        trees.push((tree.members(), signal, freeze));
    }
    for (members, _, freeze) in &trees {
        if *freeze {
            for m in members.iter() {
                m.signal(Signal::STOP);
            }
        }
    }
    let any_freeze = trees.iter().any(|(_, _, f)| *f);
    let rounds = if any_freeze { MAX_FREEZE_WALKS } else { 1 };
    for _ in 0..rounds {
        if !trees.iter().any(|(_, s, _)| *s != Signal::CONT) {
            break;
        }
        let Ok(table) = ProcTable::scan() else { break };
        let mut added = 0;
        for (members, signal, freeze) in &mut trees {
            if *signal != Signal::CONT {
                added += Descendants::walk(members, *freeze, &table);
            }
        }
        if !any_freeze || added == 0 {
            break;
        }
    }
    for (members, signal, freeze) in &mut trees {
        for m in members.iter() {
            m.signal(*signal);
        }
        if *freeze {
            for m in members.iter() {
                m.signal(Signal::CONT);
            }
        }
        // Members that exited hold their pidfd no longer.
        members.retain(Member::alive);
    }
    drop(trees);
    // Entries naming a tree again get their own signal too.
    for (i, &(tree, signal)) in batch.iter().enumerate() {
        if batch[..i].iter().any(|(t, _)| std::ptr::eq(*t, tree)) {
            let members = tree.members();
            for m in members.iter() {
                m.signal(signal);
            }
        }
    }
}
