//! [`Kqueue`]: macOS's and the BSDs' readiness set: fds (`EVFILT_READ`,
//! `EVFILT_WRITE`), a child's exit (`EVFILT_PROC`/`NOTE_EXIT`) and a
//! doorbell (`EVFILT_USER`) in one kqueue, each with a `u64` token, as
//! [`crate::poll`]'s epoll set has them.
//!
//! An event is told apart by its filter and ident together (a pid and an
//! fd can share a number); the token says whose it is. A child that exited
//! before [`Kqueue::add_exit`] is `ESRCH` there: the caller reaps it at
//! once. `NOTE_EXIT` only says it exited: it is still reaped with
//! `waitpid`.

#![allow(unsafe_code)]
//! # Safety
//! `kevent` is given fd numbers the caller watches until it deletes them
//! (the contract of [`Kqueue::add`]); a stale number is the kernel's
//! `EBADF`, not memory unsafety. The token travels in `udata` as an
//! integer, never dereferenced.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::kqueue::{self, Event, EventFilter, EventFlags, ProcessEvents};

use crate::poll::{Interest, Ready};
use crate::{Errno, Pid};

/// A kqueue (close-on-exec); see the [module docs](self).
#[derive(Debug)]
pub struct Kqueue {
    fd: OwnedFd,
}

/// The kqueue's own fd: readable while an event is pending, so one set can
/// be watched from another (an async runtime's, a thread's).
impl AsFd for Kqueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Most events taken by one [`Kqueue::wait`].
const MAX_EVENTS: usize = 256;

fn udata(token: u64) -> *mut std::ffi::c_void {
    token as usize as *mut std::ffi::c_void
}

impl Kqueue {
    /// `kqueue()`—A new, empty set (rustix makes it close-on-exec).
    ///
    /// # Errors
    /// Out of fds or memory.
    pub fn new() -> Result<Self, Errno> {
        Ok(Kqueue {
            fd: kqueue::kqueue()?,
        })
    }

    fn apply(&self, changes: &[Event]) -> Result<(), Errno> {
        let mut none: [std::mem::MaybeUninit<Event>; 0] = [];
        // SAFETY: the changes name fds the caller keeps open until it
        // deletes them (see `add`); no event is asked back.
        unsafe { kqueue::kevent(&self.fd, changes, &mut none[..], Some(Duration::ZERO)) }?;
        Ok(())
    }

    /// Watches `fd` (`EVFILT_READ` and/or `EVFILT_WRITE`, `EV_CLEAR` for
    /// an edge), reporting it as `token`. Delete it before closing it.
    ///
    /// # Errors
    /// What `kevent` says.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> Result<(), Errno> {
        let raw = fd.as_raw_fd();
        let mut flags = EventFlags::ADD;
        if interest.edge {
            flags |= EventFlags::CLEAR;
        }
        let mut changes = Vec::with_capacity(2);
        if interest.readable {
            changes.push(Event::new(EventFilter::Read(raw), flags, udata(token)));
        }
        if interest.writable {
            changes.push(Event::new(EventFilter::Write(raw), flags, udata(token)));
        }
        self.apply(&changes)
    }

    /// Stops watching `fd` for reading and writing (a filter it was not
    /// watched for is skipped).
    ///
    /// # Errors
    /// `ENOENT` when it was watched for neither.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let raw = fd.as_raw_fd();
        let read = self.apply(&[Event::new(
            EventFilter::Read(raw),
            EventFlags::DELETE,
            udata(0),
        )]);
        let write = self.apply(&[Event::new(
            EventFilter::Write(raw),
            EventFlags::DELETE,
            udata(0),
        )]);
        read.or(write)
    }

    /// Watches the exit of our child `pid` (`EVFILT_PROC`, `NOTE_EXIT`,
    /// once), reported readable as `token`.
    ///
    /// # Errors
    /// `ESRCH`: it exited already (reap it now).
    pub fn add_exit(&self, pid: Pid, token: u64) -> Result<(), Errno> {
        self.apply(&[Event::new(
            EventFilter::Proc {
                pid,
                flags: ProcessEvents::EXIT,
            },
            EventFlags::ADD | EventFlags::ONESHOT,
            udata(token),
        )])
    }

    /// Stops watching the exit of `pid` (one that fired is gone already:
    /// `ENOENT`).
    ///
    /// # Errors
    /// `ENOENT` when it was not watched.
    pub fn delete_exit(&self, pid: Pid) -> Result<(), Errno> {
        self.apply(&[Event::new(
            EventFilter::Proc {
                pid,
                flags: ProcessEvents::EXIT,
            },
            EventFlags::DELETE,
            udata(0),
        )])
    }

    /// `kevent`—Waits up to `timeout` (`None`: forever) for at most `max`
    /// events and puts them in `out` (cleared first): an fd readable
    /// (`EV_EOF` on a read filter is readable and hung up), writable
    /// (`EV_EOF` on a write filter: the reader is gone, an error), an exit
    /// or a user event (readable). `EINTR` returns `Ok` with `out` empty.
    ///
    /// # Errors
    /// What `kevent` says.
    pub fn wait(
        &self,
        out: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        out.clear();
        let mut buf = [const { std::mem::MaybeUninit::<Event>::uninit() }; MAX_EVENTS];
        let n = max.clamp(1, MAX_EVENTS);
        // SAFETY: no change is applied; the events are written into `buf`.
        let got = match unsafe { kqueue::kevent(&self.fd, &[], &mut buf[..n], timeout) } {
            Ok((events, _)) => events,
            Err(Errno::INTR) => return Ok(()),
            Err(e) => return Err(e),
        };
        for ev in got.iter() {
            let token = ev.udata() as usize as u64;
            let eof = ev.flags().contains(EventFlags::EOF);
            let (readable, writable, hangup, error) = match ev.filter() {
                EventFilter::Read(_) => (true, false, eof, false),
                EventFilter::Write(_) => (false, !eof, false, eof),
                _ => (true, false, false, ev.flags().contains(EventFlags::ERROR)),
            };
            // One fd watched both ways comes as two events: one `Ready`.
            if let Some(r) = out.iter_mut().find(|r| r.token == token) {
                r.readable |= readable;
                r.writable |= writable;
                r.hangup |= hangup;
                r.error |= error;
                continue;
            }
            out.push(Ready {
                token,
                readable,
                writable,
                hangup,
                error,
            });
        }
        Ok(())
    }
}
