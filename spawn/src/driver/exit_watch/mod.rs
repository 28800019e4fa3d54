//! [`ExitWatch`]: the one place the loop learns that a child exited, and
//! how. Three ways:
//!
//! - **in the set**: the child's pidfd is in the [`Poller`]'s set, readable
//!   once it exited;
//! - **aside**: while at most one thing is to be watched (the engine's one
//!   child, no pipes), the child is waited for on its own: one blocking
//!   `wait4` when there is no deadline (it may even start without a pidfd,
//!   [`PidfdPlan::Later`], opened only if a second thing comes), else
//!   `poll` on its pidfd until the deadline;
//! - **polled**: no pidfd (old kernels, `SPAWN_NO_PIDFD=1`): looked at after
//!   every wait, on a short tick that backs off, and at once when its output
//!   reaches EOF.
//!
//! A child that leads a group under teardown is not reaped when it exits
//! (its zombie pins the group id, so group signals cannot reach a reused
//! id): its exit is only seen (`WNOWAIT`), and it is reaped when the core
//! finishes it.
//!
//! Invariants: a started child is in exactly one way ([`Watch`] on its
//! slot) until its exit is seen, then in none; its pidfd leaves the set
//! before it is closed; an exit is told once ([`ExitWatch::take_seen`]).
//! This is the seam where another system's exit source plugs in (kqueue's
//! `EVFILT_PROC`, `SIGCHLD`): a new way here, the loop unchanged.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use spawn_sys::poll::Interest;

pub(crate) mod source;
mod waiter;

use super::poller::Poller;
use super::slot::{AsidePidfd, Slot, Watch};
use super::slots::Slots;
use super::token::Token;
use crate::launch::PidfdPlan;

/// How a pidfd is watched: readable once the child exited.
const EXIT: Interest = Interest {
    readable: true,
    writable: false,
    edge: true,
};

/// Exit polling tick without pidfds: starts here, doubles to `MAX_TICK`.
const MIN_TICK: Duration = Duration::from_micros(500);
const MAX_TICK: Duration = Duration::from_millis(20);

/// The exits of an engine's children: see the module docs.
pub(crate) struct ExitWatch {
    /// Slots kept aside (at most one waits alone; more make the set).
    aside: Vec<usize>,
    /// Slots polled.
    polled: Vec<usize>,
    tick: Duration,
    /// Exits seen and not told yet: slot and raw wait status.
    seen: Vec<(usize, i32)>,
    /// The exit pipes of children in the set without a pidfd (see
    /// `waiter.rs`).
    waiters: Vec<waiter::ExitPipe>,
}

impl Default for ExitWatch {
    fn default() -> Self {
        ExitWatch {
            aside: Vec::new(),
            polled: Vec::new(),
            tick: MIN_TICK,
            seen: Vec::new(),
            waiters: Vec::new(),
        }
    }
}

/// Whether a slot's child is running as far as the engine knows.
fn running(slot: &Slot) -> bool {
    slot.exit.is_none() && !slot.is_finished()
}

impl ExitWatch {
    /// How a child about to start gets its pidfd: later, when it will be
    /// the engine's only watched thing with no deadline and nobody to
    /// signal it (`lone`), so that its exit is one blocking `wait4`; else
    /// from the start.
    pub(crate) fn pidfd_plan(lone: bool) -> PidfdPlan {
        if lone {
            PidfdPlan::Later
        } else {
            PidfdPlan::Now
        }
    }

    /// Whether a child kept aside still runs: a start of a second one makes
    /// the set.
    pub(crate) fn has_aside(&self, slots: &Slots) -> bool {
        self.aside.iter().any(|&i| running(&slots[i]))
    }

    /// Starts watching the exit of a started slot, as `plan` started it:
    /// its pidfd in the set if there is one, else kept aside, else polled.
    /// An adopted child that exited already is seen at once.
    pub(crate) fn watch(
        &mut self,
        child: usize,
        slot: &mut Slot,
        poller: &Poller,
        plan: PidfdPlan,
    ) {
        let Some(p) = slot.process.clone() else {
            return;
        };
        slot.watch = match (p.pidfd(), poller.is_made()) {
            (None, false) if plan == PidfdPlan::Later => Watch::Aside(AsidePidfd::Later),
            (None, true) if waiter::enabled() => self.wait_in_set(child, &p, poller),
            (None, _) => Watch::Polled,
            (Some(fd), true) => {
                if poller.add(fd.as_fd(), Token::Exit { slot: child }, EXIT) {
                    Watch::InSet
                } else {
                    Watch::Polled
                }
            }
            (Some(_), false) => Watch::Aside(AsidePidfd::Held),
        };
        match slot.watch {
            Watch::Aside(_) => self.aside.push(child),
            Watch::Polled => self.polled.push(child),
            Watch::Nothing | Watch::InSet => {}
        }
        if p.reaped().is_some() {
            self.check(child, slot, poller);
        }
    }

    /// The set was just made: every child kept aside goes into it (a late
    /// pidfd opened now), or is polled if it cannot.
    pub(crate) fn set_made(&mut self, slots: &mut Slots, poller: &Poller) {
        for i in std::mem::take(&mut self.aside) {
            let slot = &mut slots[i];
            if !running(slot) {
                continue;
            }
            open_late_pidfd(slot);
            let fd = slot.process.as_ref().and_then(|p| p.pidfd());
            if fd.is_some_and(|fd| poller.add(fd, Token::Exit { slot: i }, EXIT)) {
                slot.watch = Watch::InSet;
            } else if let Some(p) = slot.process.clone().filter(|_| waiter::enabled()) {
                slot.watch = self.wait_in_set(i, &p, poller);
                if slot.watch == Watch::Polled {
                    self.polled.push(i);
                }
            } else {
                slot.watch = Watch::Polled;
                self.polled.push(i);
            }
        }
    }

    /// Whether the next wait needs the set: more than one child kept aside
    /// (with none, or one, the wait is made alone).
    pub(crate) fn wants_set(&mut self, slots: &Slots) -> bool {
        self.aside.retain(|&i| running(&slots[i]));
        self.aside.len() > 1
    }

    /// `timeout`, at most the polling tick while children are polled.
    pub(crate) fn tick(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.polled.is_empty() {
            timeout
        } else {
            Some(timeout.map_or(self.tick, |t| t.min(self.tick)))
        }
    }

    /// Waits with no set. The one child that is all there is to wait for,
    /// with no deadline, is waited for in `wait4` (unless it is kept
    /// unreaped); otherwise `poll` on the one pidfd kept aside (or on
    /// nothing) until `timeout` or the polling tick. Then what exited is
    /// seen.
    pub(crate) fn wait_alone(
        &mut self,
        slots: &mut Slots,
        poller: &Poller,
        timeout: Option<Duration>,
    ) {
        let lone = match (&self.aside[..], &self.polled[..]) {
            (&[i], []) | ([], &[i]) => Some(i),
            _ => None,
        };
        if timeout.is_none()
            && let Some(i) = lone
            && !slots[i].keep_unreaped
            && slots[i].process.is_some()
        {
            // EINTR reads as "not yet": the loop comes back here. Held by
            // the engine alone (a `run()`), one `wait4`; shared (a `Child`,
            // whose handles may wait too), the wait that shares the status.
            let slot = &mut slots[i];
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
                && let Some(&i) = self.aside.first()
                && !open_late_pidfd(&mut slots[i])
            {
                self.aside.retain(|&u| u != i);
                slots[i].watch = Watch::Polled;
                self.polled.push(i);
            }
            let timeout = self.tick(timeout);
            let aside = self.aside.first().and_then(|&i| slots[i].process.clone());
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
        if let Some(&i) = self.aside.first() {
            self.check(i, &mut slots[i], poller);
        }
        self.poll(slots, poller);
    }

    /// For a driver that waits elsewhere (tokio): the pidfd of the one
    /// child whose exit is all there is to wait for while there is no set
    /// (no pipe, no second child, no doorbell), opened now if it was
    /// started without one; watched instead of a set, it saves making the
    /// set and one `epoll_wait` per turn. `None` otherwise: then the set
    /// is to be watched.
    #[cfg(feature = "tokio")]
    pub(crate) fn lone_exit_fd<'s>(
        &mut self,
        slots: &'s mut Slots,
        poller: &Poller,
    ) -> Option<std::os::fd::BorrowedFd<'s>> {
        if poller.is_made() || !self.polled.is_empty() {
            return None;
        }
        self.aside.retain(|&i| running(&slots[i]));
        let &[i] = &self.aside[..] else {
            return None;
        };
        if !open_late_pidfd(&mut slots[i]) {
            return None;
        }
        slots[i].process.as_ref()?.pidfd()
    }

    /// Sees the slot's exit if it has exited: reaped, or only seen
    /// (`WNOWAIT`) for a child kept unreaped. Its pidfd leaves the set.
    pub(crate) fn check(&mut self, child: usize, slot: &mut Slot, poller: &Poller) {
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
        self.unwatch(slot, poller);
        self.seen.push((child, status));
    }

    /// A polled child's output reached EOF: the best hint of its exit.
    pub(crate) fn output_ended(&mut self, child: usize, slot: &mut Slot, poller: &Poller) {
        if slot.watch == Watch::Polled {
            self.check(child, slot, poller);
        }
    }

    /// Slot `i`'s child was removed from the engine: the lists of children
    /// kept aside or polled hold only the engine's children, so that their
    /// indexes always name one.
    pub(crate) fn forget_slot(&mut self, i: usize) {
        self.aside.retain(|&u| u != i);
        self.polled.retain(|&u| u != i);
    }

    /// Looks at the polled children (after each wait); the list drops
    /// those whose exit was seen, and the tick backs off while none is.
    pub(crate) fn poll(&mut self, slots: &mut Slots, poller: &Poller) {
        if self.polled.is_empty() {
            return;
        }
        let mut polled = std::mem::take(&mut self.polled);
        let before = polled.len();
        for &i in &polled {
            self.check(i, &mut slots[i], poller);
        }
        polled.retain(|&i| running(&slots[i]));
        self.tick = if polled.len() < before {
            MIN_TICK
        } else {
            (self.tick * 2).min(MAX_TICK)
        };
        self.polled = polled;
    }

    /// Nothing watches the slot's exit any more (seen, or finished): its
    /// pidfd leaves the set.
    pub(crate) fn unwatch(&mut self, slot: &mut Slot, poller: &Poller) {
        if slot.watch == Watch::InSet
            && let Some(p) = slot.process.as_ref()
        {
            match p.pidfd() {
                Some(fd) => poller.delete(fd),
                None => {
                    let pid = p.pid();
                    if let Some(i) = self.waiters.iter().position(|w| w.pid == pid) {
                        let pipe = self.waiters.swap_remove(i);
                        poller.delete(pipe.fd());
                        // Seen exited: its waiter is done; else it ends
                        // with the child, detached.
                        if slot.exit.is_some() {
                            pipe.exited();
                        }
                    } else {
                        poller.delete_exit(pid);
                    }
                }
            }
        }
        slot.watch = Watch::Nothing;
    }

    /// A child without a pidfd into the set: its exit itself where the set
    /// can watch one (kqueue), else through its exit pipe (`waiter.rs`):
    /// [`Watch::InSet`], or [`Watch::Polled`] when neither can be.
    fn wait_in_set(&mut self, child: usize, p: &crate::process::Process, poller: &Poller) -> Watch {
        // kqueue watches exits itself (`EVFILT_PROC`); one that exited
        // before (`ESRCH`) is polled: the next look sees it.
        match poller.add_exit(p.pid(), Token::Exit { slot: child }) {
            Ok(true) => return Watch::InSet,
            Ok(false) => return Watch::Polled,
            Err(_) => {}
        }
        let Some(pipe) = waiter::start(p.pid()) else {
            return Watch::Polled;
        };
        if !poller.add(pipe.fd(), Token::Exit { slot: child }, EXIT) {
            return Watch::Polled;
        }
        self.waiters.push(pipe);
        Watch::InSet
    }

    /// The exits seen since the last call, in the order seen: slot and raw
    /// wait status. Hand the list back with [`recycle`](Self::recycle).
    pub(crate) fn take_seen(&mut self) -> Vec<(usize, i32)> {
        std::mem::take(&mut self.seen)
    }

    /// Takes back the (drained) list [`take_seen`](Self::take_seen) gave.
    pub(crate) fn recycle(&mut self, mut seen: Vec<(usize, i32)>) {
        seen.clear();
        if self.seen.is_empty() {
            self.seen = seen;
        }
    }
}

/// Gives a slot kept aside without its pidfd ([`AsidePidfd::Later`]) its
/// pidfd, now that something is to watch it besides one blocking wait:
/// whether it has one.
fn open_late_pidfd(slot: &mut Slot) -> bool {
    let later = slot.watch == Watch::Aside(AsidePidfd::Later);
    let Some(process) = slot.process.as_mut() else {
        return false;
    };
    if process.pidfd().is_some() || !later {
        return process.pidfd().is_some();
    }
    // Only the engine holds the process of a child started so.
    let opened = Arc::get_mut(process).is_some_and(crate::process::Process::open_late_pidfd);
    slot.watch = Watch::Aside(AsidePidfd::Held);
    opened
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::ExitWatch;
    use crate::Command;
    use crate::driver::Driving;
    use crate::driver::poller::Poller;
    use crate::driver::slot::{AsidePidfd, Watch};
    use crate::driver::slot::{Owner, Slot, Start};
    use crate::driver::slots::Slots;
    use crate::driver::token::Token;
    use crate::launch::PidfdPlan;
    use crate::launch::launch_alone;
    use crate::wiring::{Stops, Wiring};

    /// A slot holding a started `sh -c script`, as `plan` starts it.
    /// The engine's slots, numbered in order.
    fn slots_of(list: Vec<Slot>) -> Slots {
        let mut slots = Slots::default();
        for (i, slot) in list.into_iter().enumerate() {
            slots.put(i, slot);
        }
        slots
    }

    fn started(script: &str, plan: PidfdPlan) -> Slot {
        let cmd = Command::new("sh").args(["-c", script]);
        let wiring = Wiring::command(&cmd, Stops::ByCommand).expect("wiring");
        let s = launch_alone(&wiring, plan, Driving::InCall).expect("started");
        let mut slot = Slot::new("sh".into(), Start::Adopted, Owner::Engine);
        slot.process = Some(Arc::new(s.process));
        slot
    }

    /// The exit seen, told once, with the slot's status.
    fn seen_once(watch: &mut ExitWatch, slot: &Slot, code: i32) {
        let seen = watch.take_seen();
        assert_eq!(seen.len(), 1, "seen: {seen:?}");
        assert_eq!(seen[0].0, 0);
        assert_eq!(spawn_sys::wait::exit_code(seen[0].1), Some(code));
        assert_eq!(slot.exit, Some(seen[0].1));
        assert_eq!(slot.watch, Watch::Nothing, "nothing watches it now");
        watch.recycle(seen);
        assert!(watch.take_seen().is_empty(), "told once");
    }

    /// Way one, aside: the engine's only child, started without its pidfd,
    /// is waited for in one blocking wait, with no set.
    #[test]
    fn a_lone_child_is_waited_for_alone_without_a_set() {
        let poller: Poller = Poller::default();
        let mut watch = ExitWatch::default();
        let mut slots = slots_of(vec![started("exit 3", PidfdPlan::Later)]);
        assert!(
            slots[0]
                .process
                .as_ref()
                .is_some_and(|p| p.pidfd().is_none())
        );
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Later);
        assert_eq!(slots[0].watch, Watch::Aside(AsidePidfd::Later));
        assert!(!watch.wants_set(&slots), "one child needs no set");
        watch.wait_alone(&mut slots, &poller, None);
        assert!(!poller.is_made());
        seen_once(&mut watch, &slots[0], 3);
    }

    /// Way two, in the set: made while a child is aside, the set takes its
    /// (late) pidfd, whose readiness says the exit.
    #[test]
    fn a_child_kept_aside_moves_into_the_set_when_it_is_made() {
        if !spawn_sys::pidfd::pidfd_supported() {
            return;
        }
        let (held, release) = spawn_sys::pipe::pipe().expect("pipe");
        let cmd = Command::new("sh")
            .args(["-c", "read x; exit 4"])
            .stdin(crate::Stdio::fd(held));
        let wiring = Wiring::command(&cmd, Stops::ByCommand).expect("wiring");
        let s = launch_alone(&wiring, PidfdPlan::Later, Driving::InCall).expect("started");
        drop((cmd, wiring));
        let mut slot = Slot::new("sh".into(), Start::Adopted, Owner::Engine);
        slot.process = Some(Arc::new(s.process));
        let mut slots = slots_of(vec![slot]);
        let mut poller: Poller = Poller::default();
        let mut watch = ExitWatch::default();
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Later);
        poller.make().expect("set");
        watch.set_made(&mut slots, &poller);
        assert_eq!(slots[0].watch, Watch::InSet);
        drop(release);
        let ready = poller.wait(Some(Duration::from_secs(20))).expect("wait");
        assert_eq!(ready.len(), 1, "the pidfd is readable");
        poller.recycle(ready);
        watch.check(0, &mut slots[0], &poller);
        seen_once(&mut watch, &slots[0], 4);
    }

    /// A polled child whose exit was seen another way (its output's EOF)
    /// and that the engine then removed is forgotten by the watch: the
    /// next look does not reach for its empty place (it did: a panic in
    /// an async group without pidfds).
    #[test]
    fn a_removed_polled_child_is_forgotten() {
        if super::waiter::enabled() {
            return; // off Linux's own backend it has a waiter
        }
        let mut poller: Poller = Poller::default();
        poller.make().expect("set");
        let mut watch = ExitWatch::default();
        let mut slots = slots_of(vec![started("exit 6", PidfdPlan::Later)]);
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Now);
        assert_eq!(slots[0].watch, Watch::Polled);
        let pid = slots[0].process.as_ref().expect("started").pid_u32();
        let pid = spawn_sys::Pid::from_raw(i32::try_from(pid).expect("pid")).expect("pid");
        super::source::wait_exited(pid).expect("our child");
        watch.output_ended(0, &mut slots[0], &poller);
        seen_once(&mut watch, &slots[0], 6);
        watch.forget_slot(0);
        slots.removed(0);
        watch.poll(&mut slots, &poller);
        assert_eq!(watch.tick(None), None, "nothing polled any more");
    }

    /// Way three, polled: a child without a pidfd (as where pidfds are
    /// missing) is looked at on a tick; a look before its exit sees
    /// nothing and backs the tick off, the first look after it sees it.
    #[test]
    fn a_child_without_a_pidfd_is_polled_on_a_tick() {
        if super::waiter::enabled() {
            return; // off Linux's own backend it has a waiter: see below
        }
        let mut poller: Poller = Poller::default();
        poller.make().expect("set");
        let mut watch = ExitWatch::default();
        // Started without its pidfd and watched as if it were to have had
        // one: nothing to put in the set, so it is polled.
        let mut slots = slots_of(vec![started("exit 5", PidfdPlan::Later)]);
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Now);
        assert_eq!(slots[0].watch, Watch::Polled);
        let first = watch.tick(None).expect("a polled child sets a tick");
        // Blocks until it exited, without reaping it (the watch does).
        let pid = slots[0].process.as_ref().expect("started").pid_u32();
        let pid = spawn_sys::Pid::from_raw(i32::try_from(pid).expect("pid")).expect("pid");
        super::source::wait_exited(pid).expect("our child");
        watch.poll(&mut slots, &poller);
        seen_once(&mut watch, &slots[0], 5);
        assert_eq!(watch.tick(None), None, "nothing polled any more");
        // A look that saw nothing backs the tick off.
        let mut slots = slots_of(vec![started("exec sleep 60", PidfdPlan::Later)]);
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Now);
        watch.poll(&mut slots, &poller);
        assert!(
            watch.tick(None).expect("still polled") > first,
            "backed off"
        );
        assert!(watch.take_seen().is_empty());
        if let Some(p) = &slots[0].process {
            p.kill_all();
            let _ = p.reap(true);
        }
    }

    /// Off Linux's own backend (`SPAWN_BACKEND=portable`; macOS, the BSDs),
    /// a child without a pidfd is in the set through its waiter's pipe: its
    /// exit comes under its exit token, is seen once, and the pipe leaves
    /// the set.
    #[test]
    fn a_child_without_a_pidfd_has_a_waiter_in_the_set_off_linux() {
        if !super::waiter::enabled() {
            return; // Linux's own backend: pidfds, or polled (above)
        }
        let mut poller: Poller = Poller::default();
        poller.make().expect("set");
        let mut watch = ExitWatch::default();
        let mut slots = slots_of(vec![started("exit 4", PidfdPlan::Later)]);
        watch.watch(0, &mut slots[0], &poller, PidfdPlan::Now);
        assert_eq!(slots[0].watch, Watch::InSet);
        let ready = poller.wait(Some(Duration::from_secs(20))).expect("wait");
        let tokens: Vec<Token> = ready.iter().map(|r| Token::decode(r.token)).collect();
        assert_eq!(tokens, vec![Token::Exit { slot: 0 }]);
        poller.recycle(ready);
        watch.check(0, &mut slots[0], &poller);
        seen_once(&mut watch, &slots[0], 4);
        assert!(watch.waiters.is_empty(), "its pipe left the set");
    }
}
