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
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use spawn_core::{ChildId, Event, KillSignal, Outcome, SignalTarget, Stream, Timestamp};
use spawn_sys::Errno;
use spawn_sys::group::GroupState;
use spawn_sys::poll::{Epoll, Interest};

use super::slot::Start;
use super::token::Token;
use super::{Engine, Owner, Slot};
use crate::sink::SinkState;
use crate::{Error, Signal};

/// How a pidfd is watched: readable once the child exited.
const EXIT: Interest = Interest {
    readable: true,
    writable: false,
    edge: true,
};

/// Exit polling tick without pidfds: starts here, doubles to `MAX_TICK`.
pub(super) const MIN_TICK: Duration = Duration::from_micros(500);
const MAX_TICK: Duration = Duration::from_millis(20);

impl Engine<'_> {
    /// Starts watching for the exit of a started slot: its pidfd (in the
    /// epoll set if there is one, else kept aside: see [`Self::wait_alone`]),
    /// else the polled list. An adopted child that exited already is told at
    /// once.
    pub(super) fn watch_exit(&mut self, child: usize, now: Timestamp) {
        let Some(p) = self.slots[child].process.clone() else {
            return;
        };
        let watched = match (p.pidfd(), &self.epoll) {
            // Started without its pidfd: kept aside as if it had one, and
            // given it if a second thing is to be watched.
            (None, None) if self.slots[child].pidfd_later => {
                self.unwatched.push(child);
                true
            }
            (None, _) => false,
            (Some(fd), Some(ep)) => {
                let ok = ep
                    .add(fd.as_fd(), Token::Exit { slot: child }.encode(), EXIT)
                    .is_ok();
                self.slots[child].pidfd_in_epoll = ok;
                ok
            }
            (Some(_), None) => {
                self.unwatched.push(child);
                true
            }
        };
        if !watched {
            self.slots[child].exit_polled = true;
            self.polled.push(child);
        }
        if p.reaped().is_some() {
            self.check_exit(child, now);
        }
    }

    /// The epoll set, made now (with every pidfd kept aside added to it)
    /// if there is none.
    ///
    /// # Errors
    /// The set cannot be made (out of fds).
    pub(super) fn ensure_epoll(&mut self) -> Result<&Epoll, Errno> {
        if self.epoll.is_none() {
            let ep = Epoll::new()?;
            for i in std::mem::take(&mut self.unwatched) {
                if self.slots[i].exit.is_some() || self.slots[i].finished.is_some() {
                    continue;
                }
                self.open_late_pidfd(i);
                let slot = &mut self.slots[i];
                let fd = slot.process.as_ref().and_then(|p| p.pidfd());
                slot.pidfd_in_epoll =
                    fd.is_some_and(|fd| ep.add(fd, Token::Exit { slot: i }.encode(), EXIT).is_ok());
                if !slot.pidfd_in_epoll {
                    slot.exit_polled = true;
                    self.polled.push(i);
                }
            }
            self.epoll = Some(ep);
        }
        Ok(self.epoll.as_ref().unwrap_or_else(|| unreachable!()))
    }

    /// For a driver that waits elsewhere (tokio): the pidfd of the one
    /// child whose exit is all there is to wait for while there is no
    /// epoll set (no pipe, no second child, no doorbell), opened now if it
    /// was started without one; watched instead of a set, it saves making
    /// the set and one `epoll_wait` per turn. `None` otherwise: then the
    /// set is to be watched ([`Engine::epoll_fd`]).
    #[cfg(feature = "tokio")]
    pub(crate) fn lone_exit_fd(&mut self) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.epoll.is_some() || !self.polled.is_empty() {
            return None;
        }
        self.drop_seen_exits();
        let &[i] = &self.unwatched[..] else {
            return None;
        };
        if !self.open_late_pidfd(i) {
            return None;
        }
        self.slots[i].process.as_ref()?.pidfd()
    }

    /// Forgets the slots kept aside whose exit was seen (or which
    /// finished): nothing is left to watch of them.
    fn drop_seen_exits(&mut self) {
        let slots = &self.slots;
        self.unwatched
            .retain(|&i| slots[i].exit.is_none() && slots[i].finished.is_none());
    }

    /// Gives a slot started without its pidfd ([`PidfdPlan::Later`]) its
    /// pidfd, now that something is to watch it besides one blocking wait:
    /// whether it has one.
    ///
    /// [`PidfdPlan::Later`]: crate::launch::PidfdPlan::Later
    fn open_late_pidfd(&mut self, child: usize) -> bool {
        let slot = &mut self.slots[child];
        let Some(process) = slot.process.as_mut() else {
            return false;
        };
        if process.pidfd().is_some() || !slot.pidfd_later {
            return process.pidfd().is_some();
        }
        slot.pidfd_later = false;
        // Only the engine holds the process of a child started so.
        Arc::get_mut(process).is_some_and(crate::process::Process::open_late_pidfd)
    }

    /// Whether the wait needs the epoll set (made now if so): not while at
    /// most one pidfd is to be watched and nothing else.
    pub(super) fn epoll_for_wait(&mut self) -> Result<bool, Error> {
        if self.epoll.is_some() {
            return Ok(true);
        }
        self.drop_seen_exits();
        if self.unwatched.len() <= 1 {
            return Ok(false);
        }
        match self.ensure_epoll() {
            Ok(_) => Ok(true),
            Err(e) => {
                let name = self.slots.first().map_or("", |s| s.name.as_str());
                Err(Error::io(
                    name,
                    "cannot create an epoll set",
                    std::io::Error::from(e),
                ))
            }
        }
    }

    /// `timeout`, at most the exit polling tick while children without a
    /// pidfd are polled.
    pub(super) fn polled_tick(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.polled.is_empty() {
            timeout
        } else {
            Some(timeout.map_or(self.tick, |t| t.min(self.tick)))
        }
    }

    /// Waits with no epoll set. The one child whose exit is all there is to
    /// wait for, with no deadline, is waited for in `wait4` (unless it is
    /// kept unreaped); otherwise `poll` on the one pidfd kept aside (or on
    /// nothing) until `timeout` or the polling tick, then the children
    /// without pidfds are polled.
    pub(super) fn wait_alone(&mut self, timeout: Option<Duration>) {
        let lone = match (&self.unwatched[..], &self.polled[..]) {
            (&[i], []) | ([], &[i]) => Some(i),
            _ => None,
        };
        if timeout.is_none()
            && let Some(i) = lone
            && !self.slots[i].keep_unreaped
            && self.slots[i].process.is_some()
        {
            // EINTR reads as "not yet": the loop comes back here. Held by
            // the engine alone (a `run()`), one `wait4`; shared (a `Child`,
            // whose handles may wait too), the wait that shares the status.
            let slot = &mut self.slots[i];
            match slot.process.as_mut().and_then(Arc::get_mut) {
                Some(p) => {
                    let _ = p.reap_alone();
                }
                None => {
                    if let Some(p) = slot.process.clone() {
                        let _ = p.reap(true);
                    }
                }
            }
        } else {
            // A wait with a deadline watches the child kept aside through
            // its pidfd; one that has none (it was refused) is polled. A
            // look without waiting needs none.
            if timeout.is_some_and(|t| !t.is_zero())
                && let Some(&i) = self.unwatched.first()
                && !self.open_late_pidfd(i)
            {
                self.unwatched.retain(|&u| u != i);
                self.slots[i].exit_polled = true;
                self.polled.push(i);
            }
            let timeout = self.polled_tick(timeout);
            let aside = self
                .unwatched
                .first()
                .and_then(|&i| self.slots[i].process.clone());
            match aside.as_ref().and_then(|p| p.pidfd()) {
                // A look without waiting (a driver that waits elsewhere):
                // the exits are checked below, a poll would add nothing.
                _ if timeout == Some(Duration::ZERO) => {}
                Some(fd) => {
                    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                    let _ = spawn_sys::poll::poll(&mut fds, timeout);
                }
                None => {
                    let _ = spawn_sys::poll::poll(&mut [], timeout);
                }
            }
        }
        let now = self.now();
        if let Some(&i) = self.unwatched.first() {
            self.check_exit(i, now);
        }
        self.poll_exits(now);
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
        if slot.pidfd_in_epoll
            && let (Some(fd), Some(ep)) = (p.pidfd(), &self.epoll)
        {
            slot.pidfd_in_epoll = false;
            let _ = ep.delete(fd);
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
            if let (Some(fd), Some(ep)) = (slot.fds[stream].take(), &self.epoll) {
                let _ = ep.delete(fd.as_fd());
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
            if slot.pidfd_in_epoll
                && let (Some(fd), Some(ep)) = (p.pidfd(), &self.epoll)
            {
                slot.pidfd_in_epoll = false;
                let _ = ep.delete(fd);
            }
        }
        // Reaped and held by the engine alone: its pidfd goes now, so that
        // fds in use follow the running children, not the finished ones.
        if let Some(p) = slot.process.as_mut().and_then(Arc::get_mut) {
            p.close_pidfd();
        }
        for stream in Stream::OUTPUTS {
            self.unpause(child, stream);
            self.finish_sink(child, stream);
        }
        if self.track_finished {
            self.done.push_back(child);
        }
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
        self.removed += 1;
        self.forget_cancels_of(child);
        let slot = &mut self.slots[child];
        for i in [slot.sinks.stdout, slot.sinks.stderr].into_iter().flatten() {
            // Its bytes were taken: what the sink held (a buffer's
            // capacity, a file, a writer) goes.
            self.sinks[i] = SinkState::Collect {
                buf: Vec::new(),
                limit: None,
                error: false,
                dropped: 0,
            };
            self.free_sinks.push(i);
        }
        *slot = Slot::new(String::new(), Start::Adopted, Owner::Child);
        slot.finished = Some(Instant::now());
        slot.start = None;
    }
}
