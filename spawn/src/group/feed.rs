//! [`CommandFeed`]: commands handed to a running [`Group`](super::Group)
//! from any thread, as they come (lines of a slow stdin, a queue of work):
//! the group starts them while it drives the others, and never blocks on
//! the source.
//!
//! A feed is a queue and an `eventfd`. The group's engine watches the
//! eventfd, so a [`push`](CommandFeed::push) wakes it at once (without an
//! eventfd it looks on a short tick), and it takes commands from the queue
//! without waiting, as there is room for them.

use std::collections::VecDeque;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::Command;

#[derive(Default)]
struct Queue {
    cmds: VecDeque<Command>,
    closed: bool,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    eventfd: OnceLock<Option<OwnedFd>>,
}

/// Commands for a running [`Group`](super::Group), pushed from any thread:
/// `Clone + Send + Sync`, every clone the same feed. Give it to a group
/// with [`Group::add_feed`](super::Group::add_feed); the group takes its
/// commands, in the order pushed, after those added before, and ends once
/// the feed is [`close`](Self::close)d and every command is done. Until
/// then a group with nothing to run waits for the feed.
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
#[derive(Clone, Default)]
pub struct CommandFeed {
    inner: Arc<Inner>,
}

impl fmt::Debug for CommandFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.queue();
        f.debug_struct("CommandFeed")
            .field("queued", &q.cmds.len())
            .field("closed", &q.closed)
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

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `cmd` to the group (it starts when there is room). A command
    /// pushed after [`close`](Self::close) is dropped: returns whether it
    /// was taken.
    pub fn push(&self, cmd: impl Into<Command>) -> bool {
        let mut q = self.queue();
        if q.closed {
            return false;
        }
        q.cmds.push_back(cmd.into());
        drop(q);
        self.wake();
        true
    }

    /// No more commands: the group ends once those pushed are done.
    pub fn close(&self) {
        self.queue().closed = true;
        self.wake();
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.queue().closed
    }

    fn wake(&self) {
        if let Some(Some(fd)) = self.inner.eventfd.get() {
            // Nonblocking: the counter only overflows after 2^64 - 1 writes.
            let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
        }
    }

    /// The next command, without waiting.
    pub(crate) fn take(&self) -> Taken {
        let mut q = self.queue();
        match q.cmds.pop_front() {
            Some(cmd) => Taken::Command(cmd),
            None if q.closed => Taken::Closed,
            None => Taken::Empty,
        }
    }

    /// The eventfd an engine watches (readable after a push or the close),
    /// made now if needed; `None` when none can be made: then the engine
    /// looks on a tick.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.inner.eventfd.get_or_init(|| {
            rustix::event::eventfd(
                0,
                rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
            )
            .ok()
        });
        if let Some(fd) = fd {
            // Pushed before the fd existed: say so now.
            let q = self.queue();
            if !q.cmds.is_empty() || q.closed {
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
        }
        fd.as_ref().map(AsFd::as_fd)
    }

    /// The engine saw the eventfd readable: resets it (the queue itself
    /// says what came).
    pub(crate) fn acknowledge(&self) {
        if let Some(Some(fd)) = self.inner.eventfd.get() {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(fd, &mut buf);
        }
    }
}
