//! [`StopConditions`]: what stops the loop, or its starts, besides every
//! child finishing: the stop conditions of `Engine::run_until` (results
//! as they finish, lines as they arrive), cancel tokens, and a group's
//! feed of commands.
//!
//! A cancel ends children through the same mechanism as a timeout:
//! [`spawn_core::Scheduler::terminate`], which sends the stop signal to the
//! child and its group, waits the grace with probes, and sends KILL until
//! the group is empty.
//!
//! Invariants: a token's doorbell is in the set at most once, however many
//! scopes watch it, and leaves it once applied or forgotten; an applied
//! token stays applied (a scope of the whole engine stops children added
//! later too); once a whole-engine scope applied, nothing more starts and
//! the feed takes no more commands.

use std::time::Duration;

use spawn_core::{ChildId, Scheduler, Timestamp};
use spawn_sys::poll::Interest;

use super::poller::Poller;
use super::slot::{Phase, Start};
use super::slots::Slots;
use super::token::Token;
use crate::CancelToken;

/// How often a cancel token without a doorbell is looked at.
pub(super) const CANCEL_TICK: Duration = Duration::from_millis(10);

/// What `Engine::run_until` stops at, besides every child finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Until {
    /// Only when every child is finished.
    AllDone,
    /// When a child finished (see `Engine::next_finished`).
    AnyFinished,
    /// When anything was read from a pipe into a sink.
    AnyRead,
}

/// Why `Engine::run_until` returned.
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

/// A source of commands the engine takes as they come (a group's
/// [`CommandFeed`](crate::CommandFeed)): all the loop knows of it.
pub(crate) trait Feed: Send {
    /// The fd of its doorbell, readable when commands (or its close) came;
    /// `None` when it has none: the engine looks on a tick.
    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>>;
    /// The doorbell was seen readable: quiets it.
    fn acknowledge(&self);
    /// Whether more commands may come.
    fn is_open(&self) -> bool;
    /// Nothing more is taken: pushes are refused from now on.
    fn end(&self);
}

/// What stops the loop or its starts besides children finishing: the
/// cancel tokens watched, a group's feed, and the flags that
/// [`Until`] conditions read.
#[derive(Default)]
pub(crate) struct StopConditions {
    /// The cancel tokens the engine watches.
    cancels: Vec<Watched>,
    /// A `CancelScope::Queued` (or `All`) token was cancelled: nothing
    /// more starts.
    stop_starting: bool,
    /// The command feed a group takes commands from.
    feed: Option<Box<dyn Feed>>,
    /// The feed said commands came since the last `AnyFinished` stop.
    fed: bool,
    /// The feed's doorbell is in the set (else it is looked at on a tick).
    feed_in_epoll: bool,
    /// A read happened since the last [`Until::AnyRead`] stop.
    read_seen: bool,
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

/// The doorbell interest of tokens and feeds.
const DOORBELL: Interest = Interest {
    readable: true,
    writable: false,
    edge: false,
};

impl StopConditions {
    /// Stops the children of `scope` when `token` is cancelled (at once if
    /// it is already): its doorbell goes into the set if there is one
    /// (else the token is looked at on a tick).
    pub(super) fn watch_cancel(
        &mut self,
        token: &CancelToken,
        scope: CancelScope,
        poller: &Poller,
    ) {
        if self
            .cancels
            .iter()
            .any(|w| w.token == *token && w.scope == scope)
        {
            return;
        }
        let n = self.cancels.len();
        // One registration per token: an fd is in a set once.
        let shared = self.cancels.iter().any(|w| w.token == *token && w.in_epoll);
        let in_epoll = shared
            || token
                .fd()
                .is_some_and(|fd| poller.add(fd, Token::Cancel(n), DOORBELL));
        self.cancels.push(Watched {
            token: token.clone(),
            scope,
            in_epoll,
            applied: false,
        });
    }

    /// Whether a watched token or the feed has no doorbell and must be
    /// looked at on a tick.
    pub(super) fn ticked(&self) -> bool {
        self.cancels.iter().any(|w| !w.in_epoll && !w.applied) || self.feed_ticked()
    }

    /// Whether any cancel token is watched.
    pub(super) fn watches_cancels(&self) -> bool {
        !self.cancels.is_empty()
    }

    /// Applies the tokens cancelled since the last look: their children not
    /// finished are asked to stop (`sched.terminate`) and will end with
    /// `Error::Cancelled`. A token applied to the whole engine also stops
    /// children added later.
    pub(super) fn apply(
        &mut self,
        poller: &Poller,
        slots: &mut Slots,
        sched: &mut Scheduler,
        now: Timestamp,
    ) {
        for n in 0..self.cancels.len() {
            let w = &mut self.cancels[n];
            if !w.applied && w.token.is_cancelled() {
                if w.in_epoll
                    && let Some(fd) = w.token.fd()
                {
                    poller.delete(fd);
                }
                w.applied = true;
            }
            if !w.applied {
                continue;
            }
            let scope = w.scope;
            match scope {
                CancelScope::Slot(i) => cancel_slot(slots, sched, i, now),
                CancelScope::All => {
                    self.stop_starting();
                    for i in 0..slots.len() {
                        cancel_slot(slots, sched, i, now);
                    }
                }
                CancelScope::Queued => {
                    self.stop_starting();
                    for i in 0..slots.len() {
                        let queued = slots.get(i).is_some_and(|slot| {
                            slot.process.is_none()
                                && matches!(slot.phase, Phase::Queued(Start::Launch(_)))
                        });
                        if queued {
                            cancel_slot(slots, sched, i, now);
                        }
                    }
                }
            }
        }
    }

    /// Nothing more starts, and the feed takes no more commands (its
    /// producers' pushes are refused from now on).
    fn stop_starting(&mut self) {
        self.stop_starting = true;
        if let Some(feed) = &self.feed {
            feed.end();
        }
    }

    /// Forgets the cancel tokens of a removed slot (its index is reused).
    pub(super) fn forget_slot(&mut self, child: usize, poller: &Poller) {
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
            if !still && let Some(fd) = token.fd() {
                poller.delete(fd);
            }
        }
    }

    /// Whether a token of the whole engine ([`CancelScope::All`] or
    /// [`CancelScope::Queued`]) was cancelled: nothing more is to be
    /// started (a group stops taking commands).
    pub(super) fn stops_starting(&self) -> bool {
        self.stop_starting
    }

    /// Takes commands from `feed`: its doorbell goes into the set (made by
    /// the caller; without a doorbell, a tick looks at it).
    pub(super) fn watch_feed(&mut self, feed: Box<dyn Feed>, poller: &Poller) {
        self.feed_in_epoll = feed
            .fd()
            .is_some_and(|fd| poller.add(fd, Token::Feed, DOORBELL));
        self.feed = Some(feed);
    }

    /// The feed's doorbell was readable: commands (or its close) came.
    pub(super) fn feed_rang(&mut self) {
        if let Some(feed) = &self.feed {
            feed.acknowledge();
        }
        self.fed = true;
    }

    /// A wait passed with the feed looked at on a tick: it may have
    /// commands.
    pub(super) fn feed_looked_at(&mut self) {
        if self.feed_ticked() {
            self.fed = true;
        }
    }

    /// Whether the feed has no doorbell in the set and is looked at on a
    /// tick.
    fn feed_ticked(&self) -> bool {
        self.feed.is_some() && !self.feed_in_epoll
    }

    /// Whether more commands may come from the feed: the engine is not
    /// done when its children are.
    pub(super) fn awaits_feed(&self) -> bool {
        !self.stop_starting && self.feed.as_ref().is_some_and(|feed| feed.is_open())
    }

    /// A read happened (for [`Until::AnyRead`]).
    pub(super) fn note_read(&mut self) {
        self.read_seen = true;
    }

    /// Whether `until` is reached; what it reads is reset for the next
    /// call.
    pub(super) fn reached(&mut self, until: Until, slots: &Slots) -> bool {
        match until {
            Until::AllDone => false,
            Until::AnyFinished => slots.has_finished_pending() || std::mem::take(&mut self.fed),
            Until::AnyRead => std::mem::take(&mut self.read_seen),
        }
    }

    /// Everything is stopping (the engine goes to the reaper): tokens and
    /// the feed no longer matter, and their doorbells must not keep the
    /// set readable.
    pub(super) fn forget_all(&mut self, poller: &Poller) {
        if let Some(feed) = self.feed.take()
            && self.feed_in_epoll
            && let Some(fd) = feed.fd()
        {
            poller.delete(fd);
        }
        for w in self.cancels.drain(..) {
            if w.in_epoll
                && let Some(fd) = w.token.fd()
            {
                poller.delete(fd);
            }
        }
    }
}

/// Asks the core to stop slot `i`'s child, with `Error::Cancelled` as its
/// end, unless it finished or was asked already.
fn cancel_slot(slots: &mut Slots, sched: &mut Scheduler, i: usize, now: Timestamp) {
    let Some(slot) = slots.get_mut(i) else {
        return;
    };
    if slot.cancelled || slot.is_finished() {
        return;
    }
    // An adopted child runs already: stopped before the core started it,
    // the core would finish it as never started and nobody would signal
    // it. It is stopped on a later look, once started.
    if matches!(slot.phase, Phase::Queued(Start::Adopted)) {
        return;
    }
    slot.cancelled = true;
    sched.terminate(ChildId(i), now);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use spawn_core::{Scheduler, SchedulerConfig, Timestamp};

    use super::{CancelScope, StopConditions};
    use crate::CancelToken;
    use crate::driver::poller::Poller;
    use crate::driver::slots::Slots;
    use crate::driver::token::Token;

    /// A token watched by two scopes is in the set once; cancelled, its
    /// doorbell rings, the next look applies it (a whole-engine scope:
    /// nothing more starts) and takes the doorbell out of the set.
    #[test]
    fn a_token_is_watched_once_and_leaves_the_set_once_applied() {
        let mut poller: Poller = Poller::default();
        poller.make().expect("set");
        let (mut slots, mut sched) = (Slots::default(), Scheduler::new(SchedulerConfig::default()));
        let now = Timestamp::from_nanos(0);
        let mut stops = StopConditions::default();
        let token = CancelToken::new();
        stops.watch_cancel(&token, CancelScope::Slot(0), &poller);
        stops.watch_cancel(&token, CancelScope::All, &poller);
        assert!(!stops.ticked(), "both scopes watch the one doorbell");
        stops.apply(&poller, &mut slots, &mut sched, now);
        assert!(!stops.stops_starting(), "not cancelled yet");
        token.cancel();
        let ready = poller.wait(Some(Duration::from_secs(20))).expect("wait");
        let tokens: Vec<Token> = ready.iter().map(|r| Token::decode(r.token)).collect();
        assert_eq!(tokens, vec![Token::Cancel(0)], "one registration");
        poller.recycle(ready);
        stops.apply(&poller, &mut slots, &mut sched, now);
        assert!(
            stops.stops_starting(),
            "a whole-engine cancel stops the starts"
        );
        let ready = poller.wait(Some(Duration::ZERO)).expect("wait");
        assert!(ready.is_empty(), "applied: its doorbell left the set");
    }
}
