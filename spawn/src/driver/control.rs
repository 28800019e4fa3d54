//! Control of a running engine from outside its loop: the stop conditions
//! of [`Engine::run_until`] (for results as they finish and lines as they
//! arrive), cancel tokens, and the hand-over of an engine dropped before
//! its children finished to the background reaper.
//!
//! A cancel and a drop end children through the same mechanism as a
//! timeout: [`spawn_core::Scheduler::terminate`], which sends the stop
//! signal to the child and its group, waits the grace with probes, and
//! sends KILL until the group is empty.

use std::time::{Duration, Instant};

use spawn_core::{ChildId, Scheduler, SchedulerConfig, Stream, Timestamp};
use spawn_sys::poll::Interest;

use super::token::Token;
use super::{Engine, Hooks, Owner};
use crate::CancelToken;

/// How often a cancel token without a doorbell is looked at.
pub(super) const CANCEL_TICK: Duration = Duration::from_millis(10);

/// What [`Engine::run_until`] stops at, besides every child finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// Only when every child is finished.
    AllDone,
    /// When a child finished (see [`Engine::next_finished`]).
    AnyFinished,
    /// When anything was read from a pipe into a sink.
    AnyRead,
}

/// Why [`Engine::run_until`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    /// Every child is finished.
    Done,
    /// The `until` condition was reached.
    Reached,
    /// `stop_at` passed.
    Stopped,
}

/// Which children a cancel token stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CancelScope {
    /// Every child of the engine, also those added later (`Group::cancel_on`,
    /// `Pipeline::cancel_on`).
    All,
    /// One slot (`Command::cancel_on`).
    Slot(usize),
    /// The children not started yet, also those added later
    /// (`Group::stop_starting_on`): the running ones go on.
    Queued,
}

/// A cancel token the engine watches.
pub(super) struct Watched {
    token: CancelToken,
    scope: CancelScope,
    /// Its doorbell is in the epoll set (else the flag is polled).
    in_epoll: bool,
    /// It was seen cancelled and its children were asked to stop.
    applied: bool,
}

impl Engine<'_> {
    /// Stops the children of `scope` when `token` is cancelled (at once if
    /// it is already).
    pub(crate) fn cancel_on(&mut self, token: &CancelToken, scope: CancelScope) {
        if self
            .cancels
            .iter()
            .any(|w| w.token == *token && w.scope == scope)
        {
            return;
        }
        let n = self.cancels.len();
        // One registration per token: an fd is in an epoll set once.
        let shared = self.cancels.iter().any(|w| w.token == *token && w.in_epoll);
        let in_epoll = shared
            || token.fd().is_some_and(|fd| {
                let interest = Interest {
                    readable: true,
                    writable: false,
                    edge: false,
                };
                self.ensure_epoll()
                    .is_ok_and(|ep| ep.add(fd, Token::Cancel(n).encode(), interest).is_ok())
            });
        self.cancels.push(Watched {
            token: token.clone(),
            scope,
            in_epoll,
            applied: false,
        });
    }

    /// Whether a watched token has no doorbell and must be looked at on a
    /// tick.
    pub(super) fn cancels_polled(&self) -> bool {
        self.cancels.iter().any(|w| !w.in_epoll && !w.applied)
    }

    /// Applies the tokens cancelled since the last look: their children not
    /// finished are asked to stop and will end with `Error::Cancelled`. A
    /// token applied to the whole engine also stops children added later.
    pub(super) fn check_cancels(&mut self, now: Timestamp) {
        for n in 0..self.cancels.len() {
            let w = &self.cancels[n];
            let fresh = !w.applied && w.token.is_cancelled();
            if fresh {
                if w.in_epoll
                    && let (Some(fd), Some(ep)) = (w.token.fd(), &self.epoll)
                {
                    let _ = ep.delete(fd);
                }
                self.cancels[n].applied = true;
            }
            if !self.cancels[n].applied {
                continue;
            }
            match self.cancels[n].scope {
                CancelScope::Slot(i) => self.cancel_slot(i, now),
                CancelScope::All => {
                    self.stop_starting = true;
                    self.end_feed();
                    for i in 0..self.slots.len() {
                        self.cancel_slot(i, now);
                    }
                }
                CancelScope::Queued => {
                    self.stop_starting = true;
                    self.end_feed();
                    for i in 0..self.slots.len() {
                        let slot = &self.slots[i];
                        let queued = slot.process.is_none()
                            && matches!(slot.start, Some(super::slot::Start::Launch(_)));
                        if queued {
                            self.cancel_slot(i, now);
                        }
                    }
                }
            }
        }
    }

    fn cancel_slot(&mut self, i: usize, now: Timestamp) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.cancelled || slot.finished.is_some() {
            return;
        }
        // An adopted child runs already: stopped before the core started
        // it, the core would finish it as never started and nobody would
        // signal it. It is stopped on a later look, once started.
        if matches!(slot.start, Some(super::slot::Start::Adopted)) {
            return;
        }
        slot.cancelled = true;
        self.sched.terminate(ChildId(i), now);
    }

    /// Forgets the cancel tokens of a removed slot (its index is reused).
    pub(super) fn forget_cancels_of(&mut self, child: usize) {
        let scope = CancelScope::Slot(child);
        let mut gone = Vec::new();
        self.cancels.retain(|w| {
            if w.scope == scope {
                gone.push(w.token.clone());
                false
            } else {
                true
            }
        });
        for token in gone {
            let still = self.cancels.iter().any(|w| w.token == token);
            if !still && let (Some(fd), Some(ep)) = (token.fd(), &self.epoll) {
                let _ = ep.delete(fd);
            }
        }
    }

    /// Whether a token of the whole engine ([`CancelScope::All`] or
    /// [`CancelScope::Queued`]) was cancelled: nothing more is to be started
    /// (a group stops taking commands).
    pub(crate) fn stops_starting(&self) -> bool {
        self.stop_starting
    }

    /// Takes commands from `feed` (a group's `add_feed`): its doorbell wakes
    /// [`Until::AnyFinished`] when commands come (without one, a tick
    /// does), and until it is closed the engine is not done when its
    /// children are: it waits for more.
    pub(crate) fn watch_feed(&mut self, feed: &crate::group::FeedSource) {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        // The set is made even when the feed has no doorbell: waits with
        // nothing else to watch then sleep on its tick there.
        let set = self.ensure_epoll().ok();
        self.feed_in_epoll = match (feed.fd(), set) {
            (Some(fd), Some(ep)) => ep.add(fd, Token::Feed.encode(), interest).is_ok(),
            _ => false,
        };
        self.feed = Some(feed.clone());
    }

    /// Nothing more is taken from the feed: its producers' pushes are
    /// refused from now on.
    fn end_feed(&self) {
        if let Some(feed) = &self.feed {
            feed.end();
        }
    }

    /// The feed's doorbell was readable: commands (or its close) came.
    pub(super) fn feed_ready(&mut self) {
        if let Some(feed) = &self.feed {
            feed.acknowledge();
        }
        self.fed = true;
    }

    /// Whether the feed has no doorbell in the set and is looked at on a
    /// tick.
    pub(super) fn feed_polled(&self) -> bool {
        self.feed.is_some() && !self.feed_in_epoll
    }

    /// Whether more commands may come from the feed: the engine is not done
    /// when its children are.
    pub(super) fn awaits_feed(&self) -> bool {
        !self.stop_starting
            && self
                .feed
                .as_ref()
                .is_some_and(crate::group::FeedSource::is_open)
    }

    pub(super) fn reached(&mut self, until: Until) -> bool {
        match until {
            Until::AllDone => false,
            Until::AnyFinished => !self.done.is_empty() || std::mem::take(&mut self.fed),
            Until::AnyRead => std::mem::take(&mut self.read_seen),
        }
    }

    /// Queues finished slots for [`next_finished`](Self::next_finished)
    /// from now on (and [`Until::AnyFinished`] stops at them).
    pub(crate) fn track_finished(&mut self) {
        self.track_finished = true;
    }

    /// The next finished slot not handed out yet, in the order they
    /// finished.
    pub(crate) fn next_finished(&mut self) -> Option<usize> {
        self.done.pop_front()
    }

    /// Commands known to come that are not added yet, counted as queued
    /// in the progress reports (a `Group` adds its commands as there is
    /// room).
    pub(crate) fn set_not_added(&mut self, n: usize) {
        self.not_added = n;
    }

    /// Takes over the children adopted from a `Child` being dropped: the
    /// engine's now, so that its drop or failure stops them too.
    pub(crate) fn own_children(&mut self) {
        for s in &mut self.slots {
            s.owner = Owner::Engine;
        }
    }

    /// Whether a finished slot waits to be handed out.
    pub(crate) fn has_finished_pending(&self) -> bool {
        !self.done.is_empty()
    }

    /// The unfinished children the engine started: their slots and names.
    pub(crate) fn unfinished(&self) -> Vec<(usize, String)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.owner == Owner::Engine && s.finished.is_none())
            .map(|(i, s)| (i, s.name.clone()))
            .collect()
    }

    /// Drives what is ready now, without blocking: `None` once every child
    /// is finished, else when the engine next needs driving (`Some(None)`:
    /// only when its epoll set is readable). For drivers that wait
    /// elsewhere (the background reaper, an async runtime) on
    /// [`Engine::epoll_fd`].
    pub(crate) fn drive_now(&mut self) -> Result<Option<Option<Instant>>, crate::Error> {
        self.drive_now_until(Until::AllDone)
    }

    /// As [`drive_now`](Self::drive_now), stopping also when `until` is
    /// reached (then `None` too): for an async stream of results as they
    /// finish.
    pub(crate) fn drive_now_until(
        &mut self,
        until: Until,
    ) -> Result<Option<Option<Instant>>, crate::Error> {
        match self.run_until(Some(Instant::now()), until)? {
            Ran::Done | Ran::Reached => Ok(None),
            Ran::Stopped => Ok(Some(self.next_wake)),
        }
    }

    /// Whether the last look at the epoll set (a turn's, see
    /// [`drive_now_until`](Self::drive_now_until)) found nothing ready: a
    /// driver that waits elsewhere turns again while its looks find
    /// something (events come while it works) and goes back to waiting once
    /// one finds nothing, with no readiness check besides.
    #[cfg(feature = "tokio")]
    pub(crate) fn looked_idle(&self) -> bool {
        self.ready.is_empty()
    }

    /// The buffer of `slot`'s `stream` when a plain collecting sink reads
    /// it, for `Child::lines` to cut lines out of (what it leaves is the
    /// output a later `communicate` returns).
    pub(crate) fn collected(&mut self, slot: usize, stream: Stream) -> Option<&mut Vec<u8>> {
        let i = self.slots.get(slot)?.sink_of(stream)?;
        self.sinks[i].collected_mut()
    }

    /// Whether `slot`'s `stream` is still read into its sink (not at EOF,
    /// not abandoned, the slot not finished).
    pub(crate) fn reading(&self, slot: usize, stream: Stream) -> bool {
        self.slots.get(slot).is_some_and(|s| {
            s.finished.is_none() && s.sink_of(stream).is_some() && s.fds[stream].is_some()
        })
    }

    /// The engine's epoll set: readable while one of its fds is ready.
    /// Made now if there is none yet (an engine waited for elsewhere
    /// watches everything in it, the exit of a lone child too).
    ///
    /// # Errors
    /// The set cannot be made (out of fds).
    pub(crate) fn epoll_fd(&mut self) -> std::io::Result<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.ensure_epoll()
            .map(AsFd::as_fd)
            .map_err(std::io::Error::from)
    }

    /// Whether a child the engine started is not finished.
    pub(crate) fn has_unfinished(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.owner == Owner::Engine && s.finished.is_none())
    }

    /// KILL to every unfinished child the engine started and to what
    /// contains it, reaped in the background.
    pub(crate) fn kill_unfinished(&mut self) {
        for s in &mut self.slots {
            if s.owner != Owner::Engine || s.finished.is_some() {
                continue;
            }
            if let Some(p) = s.process.take() {
                p.kill_all();
                crate::reaper::reap_later(p);
            }
        }
    }

    /// Asks the core to stop every unfinished child and moves the engine's
    /// state into an engine of its own (without the hooks that borrow from
    /// the caller), for the background reaper to drive. `None` when no new
    /// epoll set could be made for the empty shell left behind.
    pub(super) fn abandon(&mut self) -> Option<Engine<'static>> {
        // The background reaper waits on the set: everything must be in it.
        self.ensure_epoll().ok()?;
        let now = self.now();
        for i in 0..self.slots.len() {
            if self.slots[i].owner == Owner::Engine && self.slots[i].finished.is_none() {
                self.sched.terminate(ChildId(i), now);
            }
        }
        // Tokens and feeds no longer matter: everything is stopping. Their
        // doorbells must not keep the set readable.
        if let (Some(feed), Some(ep)) = (self.feed.take(), &self.epoll)
            && self.feed_in_epoll
            && let Some(fd) = feed.fd()
        {
            let _ = ep.delete(fd);
        }
        for w in self.cancels.drain(..) {
            if w.in_epoll
                && let (Some(fd), Some(ep)) = (w.token.fd(), &self.epoll)
            {
                let _ = ep.delete(fd);
            }
        }
        let hooks = Hooks {
            tracer: None,
            forwarder: self.hooks.forwarder.take(),
            progress: None,
        };
        Some(Engine {
            sched: std::mem::replace(&mut self.sched, Scheduler::new(SchedulerConfig::default())),
            slots: std::mem::take(&mut self.slots),
            sinks: std::mem::take(&mut self.sinks),
            free_sinks: std::mem::take(&mut self.free_sinks),
            epoll: self.epoll.take(),
            unwatched: std::mem::take(&mut self.unwatched),
            removed: 0,
            waits: self.waits,
            ready: std::mem::take(&mut self.ready),
            origin: self.origin,
            buf: std::mem::take(&mut self.buf),
            null: std::mem::replace(&mut self.null, super::pipe_io::NullTarget::NotOpened),
            polled: std::mem::take(&mut self.polled),
            tick: self.tick,
            plumbing: std::mem::take(&mut self.plumbing),
            pipeline_stdout: std::mem::replace(
                &mut self.pipeline_stdout,
                crate::wiring::Plan::Inherit,
            ),
            hooks,
            cancels: Vec::new(),
            stop_starting: false,
            feed: None,
            fed: false,
            feed_in_epoll: false,
            track_finished: false,
            done: std::collections::VecDeque::new(),
            read_seen: false,
            read_since_start: 0,
            next_wake: Some(Instant::now()),
            not_added: 0,
            abandoned: true,
            spawner: self.spawner.take(),
            // The background reaper drives it from here.
            driving: super::Driving::Held,
            scans: crate::process::TurnScans::default(),
            sink_waits: std::mem::take(&mut self.sink_waits),
        })
    }
}
