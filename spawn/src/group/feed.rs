//! [`CommandFeed`]: commands handed to a running [`Group`](super::Group)
//! from any thread, as they come (lines of a slow stdin, a queue of work):
//! the group starts them while it drives the others, and never blocks on
//! the source.
//!
//! A feed is a queue and a [`LazyBell`]. The group's engine watches the
//! bell, so a [`push`](CommandFeed::push) wakes it at once (without a
//! bell it looks on a short tick), and it takes commands from the queue
//! without waiting, as there is room for them.
//!
//! Two kinds of handle share the queue: the [`CommandFeed`]s the producers
//! hold (counted: the last one dropped closes the feed), and the
//! [`FeedSource`]s of the groups that read it (counted too: when the last
//! group holding it is gone, or a group stops taking commands, the feed is
//! ended, and a push is refused rather than queued for nobody).

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::Command;
use crate::doorbell::LazyBell;

/// Whether a feed still takes commands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum FeedState {
    /// Pushes are queued.
    #[default]
    Open,
    /// Closed (by `close` or the drop of the last producer handle): the
    /// commands queued still run, no more are taken.
    Closed,
    /// No group will read it any more (every group holding it is gone, or
    /// one stopped taking commands): nothing queued runs.
    Ended,
}

#[derive(Default)]
struct Queue {
    cmds: VecDeque<Command>,
    state: FeedState,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    /// Made when a group's engine first watches the feed.
    bell: LazyBell,
    /// Live [`CommandFeed`] handles.
    producers: AtomicUsize,
    /// Live [`FeedSource`] handles (groups, their runs and engines).
    readers: AtomicUsize,
}

impl Inner {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        self.bell.ring();
    }

    /// Moves an open feed to `to` (an ended one stays ended); drops the
    /// queued commands when it ends.
    fn settle(&self, to: FeedState) {
        let mut q = self.queue();
        if q.state == FeedState::Ended {
            return;
        }
        q.state = to;
        let dropped = if to == FeedState::Ended {
            std::mem::take(&mut q.cmds)
        } else {
            VecDeque::new()
        };
        drop(q);
        drop(dropped);
        self.wake();
    }
}

/// Commands for a running [`Group`](super::Group), pushed from any thread:
/// `Clone + Send + Sync`, every clone the same feed. Give it to a group
/// with [`Group::add_feed`](super::Group::add_feed); the group takes its
/// commands, in the order pushed, after those added before, and ends once
/// the feed is closed and every command is done. Until then a group with
/// nothing to run waits for the feed.
///
/// The feed is closed by [`close`](Self::close), or when the last handle
/// (this one and its clones) is dropped: a producer that just goes away
/// ends the group too. A push is refused (`false`) once the feed is
/// closed, and once no group will take the command: every group given the
/// feed (and its runs and [`GroupResults`](super::GroupResults)) was
/// dropped, or the group was cancelled or told to
/// [`stop_starting_on`](super::Group::stop_starting_on); commands queued
/// then are dropped.
///
/// # Examples
///
/// ```
/// use spawn::{Command, CommandFeed, Group, Stdio};
/// let feed = CommandFeed::new();
/// let pusher = feed.clone();
/// let producer = std::thread::spawn(move || {
///     for i in 0..5 {
///         pusher.push(Command::new("echo").arg(i.to_string()).stdout(Stdio::piped()));
///     }
///     pusher.close();
/// });
/// let results = Group::new().max_running(2).add_feed(&feed).run()?;
/// producer.join().unwrap();
/// assert_eq!(results.len(), 5);
/// assert_eq!(results[4].as_ref().unwrap().stdout, b"4\n");
/// # Ok::<(), spawn::Error>(())
/// ```
pub struct CommandFeed {
    inner: Arc<Inner>,
}

impl Default for CommandFeed {
    fn default() -> Self {
        let inner = Arc::new(Inner::default());
        inner.producers.store(1, Ordering::Relaxed);
        CommandFeed { inner }
    }
}

impl Clone for CommandFeed {
    fn clone(&self) -> Self {
        self.inner.producers.fetch_add(1, Ordering::Relaxed);
        CommandFeed {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Drop for CommandFeed {
    fn drop(&mut self) {
        // The last producer handle: nobody can push any more.
        if self.inner.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.settle(FeedState::Closed);
        }
    }
}

impl fmt::Debug for CommandFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.inner.queue();
        f.debug_struct("CommandFeed")
            .field("queued", &q.cmds.len())
            .field("state", &q.state)
            .finish()
    }
}

/// What the group found in the feed.
#[allow(clippy::large_enum_variant)] // moved out at once, never stored
pub(crate) enum Taken {
    /// The next command.
    Command(Command),
    /// Nothing yet: more may come.
    Empty,
    /// Closed, and every command taken.
    Closed,
}

impl CommandFeed {
    /// An open feed with no command in it.
    #[must_use]
    pub fn new() -> Self {
        CommandFeed::default()
    }

    /// Hands `cmd` to the group (it starts when there is room). Returns
    /// whether it was taken: a command pushed after the feed was closed,
    /// or once no group will read it (its group was dropped, cancelled or
    /// stopped starting), is dropped and the answer is `false`.
    pub fn push(&self, cmd: impl Into<Command>) -> bool {
        let mut q = self.inner.queue();
        if q.state != FeedState::Open {
            return false;
        }
        q.cmds.push_back(cmd.into());
        drop(q);
        self.inner.wake();
        true
    }

    /// No more commands: the group ends once those pushed are done. The
    /// drop of the last handle does the same.
    pub fn close(&self) {
        self.inner.settle(FeedState::Closed);
    }

    /// Whether the feed takes no more commands: closed, or no group will
    /// read it any more (see [`push`](Self::push)).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.queue().state != FeedState::Open
    }

    /// The handle a group reads the feed through.
    pub(crate) fn source(&self) -> FeedSource {
        FeedSource::new(Arc::clone(&self.inner))
    }
}

/// A group's handle on a [`CommandFeed`]: it takes the commands, and its
/// drop (the last one's) or [`end`](Self::end) tells producers that no
/// group will take more.
pub(crate) struct FeedSource {
    inner: Arc<Inner>,
}

impl Clone for FeedSource {
    fn clone(&self) -> Self {
        FeedSource::new(Arc::clone(&self.inner))
    }
}

impl Drop for FeedSource {
    fn drop(&mut self) {
        if self.inner.readers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.settle(FeedState::Ended);
        }
    }
}

impl FeedSource {
    fn new(inner: Arc<Inner>) -> Self {
        inner.readers.fetch_add(1, Ordering::Relaxed);
        FeedSource { inner }
    }

    /// The group stops taking commands (cancelled, or told to stop
    /// starting): pushes are refused from now on.
    pub(crate) fn end(&self) {
        self.inner.settle(FeedState::Ended);
    }

    /// Whether more commands may come.
    pub(crate) fn is_open(&self) -> bool {
        self.inner.queue().state == FeedState::Open
    }

    /// The next command, without waiting.
    pub(crate) fn take(&self) -> Taken {
        let mut q = self.inner.queue();
        match q.cmds.pop_front() {
            Some(cmd) => Taken::Command(cmd),
            None if q.state != FeedState::Open => Taken::Closed,
            None => Taken::Empty,
        }
    }

    /// The fd of the bell an engine watches (readable after a push or the
    /// close), made now if needed; `None` when none can be made: then the
    /// engine looks on a tick.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        let bell = self.inner.bell.get_or_make()?;
        // Pushed before the bell existed: say so now.
        let q = self.inner.queue();
        if !q.cmds.is_empty() || q.state != FeedState::Open {
            bell.ring();
        }
        Some(bell.fd())
    }

    /// The engine saw the bell readable: drains it (the queue itself
    /// says what came).
    pub(crate) fn acknowledge(&self) {
        self.inner.bell.drain();
    }
}

impl crate::driver::Feed for FeedSource {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        FeedSource::fd(self)
    }

    fn acknowledge(&self) {
        FeedSource::acknowledge(self);
    }

    fn is_open(&self) -> bool {
        FeedSource::is_open(self)
    }

    fn end(&self) {
        FeedSource::end(self);
    }
}
