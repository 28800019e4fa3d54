//! [`Poller`]: the readiness set the loop waits in, made when a second
//! thing is to be watched (a lone child is waited for on its own: see
//! `exit_watch/mod.rs`), with the buffer its waits fill and the count of waits
//! (a turn is the time between two).
//!
//! The set is a [`Selector`]: `spawn_sys::ReadySet`, the process's
//! backend's set (epoll on Linux, kqueue on macOS and the BSDs, `poll(2)`
//! elsewhere and with `SPAWN_BACKEND=portable`), chosen when it is made;
//! the loop does not change. A `poll(2)` set has no fd of its own: a
//! driver that waits elsewhere looks at it on a tick.
//!
//! Invariant: an fd is added at most once under a token and deleted before
//! it is closed; with no set made, nothing is registered anywhere and
//! [`Poller::add`] says so (`false`), so the caller falls back (a polled
//! exit, a ticked cancel token).

use std::os::fd::BorrowedFd;
use std::time::Duration;

use spawn_sys::ReadySet;
use spawn_sys::poll::{Interest, Ready};
use spawn_sys::{Errno, Pid};

use super::token::Token;

/// Readiness events taken per wait at most.
const MAX_READY: usize = 256;

/// A readiness set of fds, each registered under a token.
pub(crate) trait Selector: Sized + Send {
    /// A new, empty set.
    ///
    /// # Errors
    /// No set can be made (out of fds).
    fn new() -> Result<Self, Errno>;
    /// Watches `fd` under `token`.
    ///
    /// # Errors
    /// The kernel refused (the fd cannot be watched, or is already).
    fn add(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> Result<(), Errno>;
    /// Stops watching `fd`.
    ///
    /// # Errors
    /// It was not watched.
    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno>;
    /// Waits until something is ready or `timeout` passes; `ready` is
    /// cleared and filled with at most `max` events.
    ///
    /// # Errors
    /// The wait failed (not `EINTR`, which is no event).
    fn wait(
        &self,
        ready: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno>;
    /// The set's own fd, readable while something in it is ready; `None`
    /// for a set that has none (`poll(2)`).
    fn fd(&self) -> Option<BorrowedFd<'_>>;
    /// Watches the exit of our child `pid` where the set can (kqueue).
    ///
    /// # Errors
    /// `ESRCH`: it exited already; `ENOSYS`: the set cannot.
    fn add_exit(&self, pid: Pid, token: u64) -> Result<(), Errno>;
    /// Stops watching the exit of `pid`.
    fn delete_exit(&self, pid: Pid);
}

impl Selector for ReadySet {
    fn new() -> Result<Self, Errno> {
        ReadySet::new()
    }

    fn add(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> Result<(), Errno> {
        ReadySet::add(self, fd, token, interest)
    }

    fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        ReadySet::delete(self, fd)
    }

    fn wait(
        &self,
        ready: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        ReadySet::wait(self, ready, max, timeout)
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        ReadySet::fd(self)
    }

    fn add_exit(&self, pid: Pid, token: u64) -> Result<(), Errno> {
        ReadySet::add_exit(self, pid, token)
    }

    fn delete_exit(&self, pid: Pid) {
        ReadySet::delete_exit(self, pid);
    }
}

/// The set this system's loop waits in: the backend's (epoll on Linux,
/// kqueue on macOS and the BSDs, `poll(2)` with `SPAWN_BACKEND=portable`).
pub(crate) type Set = ReadySet;

/// Whether [`Poller::make`] made the set now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Made {
    /// It was there already.
    Before,
    /// Made by this call: what was kept aside is to be added now.
    Now,
}

/// The loop's readiness set (once made), its event buffer and its waits.
pub(crate) struct Poller<S: Selector = Set> {
    set: Option<S>,
    /// Grown by the first wait (a lone child has none).
    ready: Vec<Ready>,
    /// Waits so far.
    waits: u64,
}

impl<S: Selector> Default for Poller<S> {
    fn default() -> Self {
        Poller {
            set: None,
            ready: Vec::new(),
            waits: 0,
        }
    }
}

impl<S: Selector> Poller<S> {
    /// Whether the set was made.
    pub(crate) fn is_made(&self) -> bool {
        self.set.is_some()
    }

    /// Makes the set if there is none.
    ///
    /// # Errors
    /// It cannot be made (out of fds).
    pub(crate) fn make(&mut self) -> Result<Made, Errno> {
        if self.set.is_some() {
            return Ok(Made::Before);
        }
        self.set = Some(S::new()?);
        Ok(Made::Now)
    }

    /// Watches `fd` under `token`: whether it is watched (`false` with no
    /// set, or when the kernel refused).
    pub(crate) fn add(&self, fd: BorrowedFd<'_>, token: Token, interest: Interest) -> bool {
        self.set
            .as_ref()
            .is_some_and(|set| set.add(fd, token.encode(), interest).is_ok())
    }

    /// Watches the exit of our child `pid` under `token` in the set itself
    /// (kqueue's `EVFILT_PROC`): `Ok(true)` watched, `Ok(false)` it
    /// exited already (`ESRCH`: look at it now), `Err` the set cannot (no
    /// set, epoll, `poll(2)`).
    pub(crate) fn add_exit(&self, pid: Pid, token: Token) -> Result<bool, Errno> {
        let set = self.set.as_ref().ok_or(Errno::NOSYS)?;
        match set.add_exit(pid, token.encode()) {
            Ok(()) => Ok(true),
            Err(Errno::SRCH) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stops watching the exit of `pid` (nothing with no set).
    pub(crate) fn delete_exit(&self, pid: Pid) {
        if let Some(set) = &self.set {
            set.delete_exit(pid);
        }
    }

    /// Stops watching `fd` (nothing with no set).
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) {
        if let Some(set) = &self.set {
            let _ = set.delete(fd);
        }
    }

    /// The set's own fd, readable when something in it is ready (for
    /// drivers that wait elsewhere: the reaper, tokio).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.set.as_ref().and_then(S::fd)
    }

    /// Waits in the set (one more turn): the events, to be handed back
    /// with [`recycle`](Self::recycle) so the buffer stays warm.
    ///
    /// # Errors
    /// The wait failed.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<Ready>, Errno> {
        self.waits += 1;
        let mut ready = std::mem::take(&mut self.ready);
        let res = match &self.set {
            Some(set) => set.wait(&mut ready, MAX_READY, timeout),
            None => {
                ready.clear();
                Ok(())
            }
        };
        match res {
            Ok(()) => Ok(ready),
            Err(e) => {
                self.ready = ready;
                Err(e)
            }
        }
    }

    /// A wait made without the set (a lone child waited for on its own):
    /// one more turn all the same.
    pub(crate) fn count_wait(&mut self) {
        self.waits += 1;
    }

    /// Takes back the buffer [`wait`](Self::wait) handed out.
    pub(crate) fn recycle(&mut self, ready: Vec<Ready>) {
        self.ready = ready;
    }

    /// Whether the last wait in the set found nothing ready.
    #[cfg(feature = "tokio")]
    pub(crate) fn looked_idle(&self) -> bool {
        self.ready.is_empty()
    }

    /// Waits so far: what marks a turn.
    pub(crate) fn waits(&self) -> u64 {
        self.waits
    }
}

#[cfg(test)]
mod tests {
    use super::{Made, Poller, Token};
    use spawn_sys::poll::Interest;
    use std::os::fd::AsFd;
    use std::time::Duration;

    const READABLE: Interest = Interest {
        readable: true,
        writable: false,
        edge: false,
    };

    /// Nothing is registered before the set is made; made once, it is
    /// made once; a readable fd comes back under its token; a deleted one
    /// no more; every wait counts as a turn.
    #[test]
    fn the_set_is_made_once_and_gives_back_tokens() {
        let (r, w) = spawn_sys::pipe::pipe().expect("pipe");
        let mut poller: Poller = Poller::default();
        assert!(!poller.add(r.as_fd(), Token::Feed, READABLE), "no set yet");
        assert_eq!(poller.make(), Ok(Made::Now));
        assert_eq!(poller.make(), Ok(Made::Before));
        assert!(poller.add(r.as_fd(), Token::Feed, READABLE));
        rustix::io::write(&w, b"x").expect("write");
        let ready = poller.wait(Some(Duration::from_secs(10))).expect("wait");
        assert_eq!(ready.len(), 1);
        assert_eq!(Token::decode(ready[0].token), Token::Feed);
        poller.recycle(ready);
        poller.delete(r.as_fd());
        let ready = poller.wait(Some(Duration::ZERO)).expect("wait");
        assert!(ready.is_empty(), "deleted: {ready:?}");
        poller.recycle(ready);
        assert_eq!(poller.waits(), 2);
    }
}
