//! [`Doorbell`]: how another thread wakes an engine. Whoever has news
//! (a [`CancelToken`](crate::CancelToken) cancelled, a
//! [`CommandFeed`](crate::CommandFeed) pushed to, the spawner thread with
//! a start made, a sink worker with room again) rings the bell; the engine
//! has the bell's fd in its epoll set, wakes, drains the bell and looks at
//! the shared state the news is in. The bell carries no data: it only says
//! "look".
//!
//! [`LazyBell`] is a bell made on first use, for owners that exist in runs
//! that never watch them (a token or feed made but not waited on): a ring
//! before the bell is made rings nothing, so its maker must ring it once
//! made if there is news already (see [`LazyBell::get_or_make`]).
//!
//! The mechanism is private to this file: on Linux an `eventfd`
//! (close-on-exec, nonblocking); on macOS, the BSDs and with
//! `SPAWN_BACKEND=portable` a nonblocking pipe (kqueue's `EVFILT_USER`
//! would save its two fds; not done). The callers do not change.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::OnceLock;

/// A wake-up for an engine from any thread: readable in the engine's
/// epoll set after a [`ring`](Self::ring), until a [`drain`](Self::drain).
pub(crate) struct Doorbell {
    bell: Bell,
}

impl Doorbell {
    /// A bell not rung.
    pub(crate) fn new() -> io::Result<Doorbell> {
        Ok(Doorbell { bell: Bell::new()? })
    }

    /// Makes the bell readable (from any thread). Never blocks; ringing a
    /// rung bell keeps it rung.
    pub(crate) fn ring(&self) {
        self.bell.ring();
    }

    /// Makes the bell not readable until the next ring (the engine's side,
    /// after it saw the bell readable). Never blocks, rung or not.
    pub(crate) fn drain(&self) {
        self.bell.drain();
    }

    /// What the engine puts in its epoll set (readable while rung).
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.bell.fd()
    }
}

/// A [`Doorbell`] made the first time an engine asks for it; `None`
/// inside when it could not be made (the engine then looks on a tick).
#[derive(Default)]
pub(crate) struct LazyBell {
    cell: OnceLock<Option<Doorbell>>,
}

impl LazyBell {
    /// The bell, made now if needed; `None` when none can be made. News
    /// that came before the bell was made rang nothing: the caller rings
    /// the bell it gets when its state already holds news.
    pub(crate) fn get_or_make(&self) -> Option<&Doorbell> {
        self.cell.get_or_init(|| Doorbell::new().ok()).as_ref()
    }

    /// Rings the bell if it was made (nobody watches one not made).
    pub(crate) fn ring(&self) {
        if let Some(Some(bell)) = self.cell.get() {
            bell.ring();
        }
    }

    /// Drains the bell if it was made.
    pub(crate) fn drain(&self) {
        if let Some(Some(bell)) = self.cell.get() {
            bell.drain();
        }
    }
}

/// The mechanism: on Linux an `eventfd` counter (rung while not zero),
/// elsewhere and with `SPAWN_BACKEND=portable` a pipe (rung while it holds
/// a byte).
enum Bell {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Event(std::os::fd::OwnedFd),
    Pipe(PipeBell),
}

impl Bell {
    fn new() -> io::Result<Bell> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if spawn_sys::backend::linux_native() {
            use rustix::event::{EventfdFlags, eventfd};
            let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            return Ok(Bell::Event(fd));
        }
        Ok(Bell::Pipe(PipeBell::new()?))
    }

    fn ring(&self) {
        match self {
            // Nonblocking: the counter only overflows after 2^64 - 1
            // writes, and a full counter (EAGAIN) is rung anyway.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Bell::Event(fd) => {
                let _ = rustix::io::write(fd, &1u64.to_ne_bytes());
            }
            Bell::Pipe(p) => p.ring(),
        }
    }

    fn drain(&self) {
        match self {
            // One read resets the counter to zero (not a semaphore
            // eventfd): that is the drain, with no second read to see
            // EAGAIN. Not rung: EAGAIN at once.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Bell::Event(fd) => {
                let mut count = [0u8; 8];
                let _ = rustix::io::read(fd, &mut count);
            }
            Bell::Pipe(p) => p.drain(),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Bell::Event(fd) => fd.as_fd(),
            Bell::Pipe(p) => p.read.as_fd(),
        }
    }
}

/// A pipe as a bell (both ends nonblocking, close-on-exec): a ring writes a
/// byte (a full pipe is rung already), a drain reads until it is empty.
struct PipeBell {
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
}

impl PipeBell {
    fn new() -> io::Result<PipeBell> {
        let (read, write) = spawn_sys::pipe::pipe()?;
        spawn_sys::pipe::set_new_pipe_nonblocking(&read)?;
        spawn_sys::pipe::set_new_pipe_nonblocking(&write)?;
        Ok(PipeBell { read, write })
    }

    fn ring(&self) {
        let _ = rustix::io::write(&self.write, &[1]);
    }

    fn drain(&self) {
        // A read shorter than the buffer emptied the pipe.
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.read, &mut buf) {
                Ok(n) if n == buf.len() => {}
                Err(rustix::io::Errno::INTR) => {}
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::event::{PollFd, PollFlags, poll};
    use std::sync::Arc;

    fn readable(bell: &Doorbell) -> bool {
        let mut fds = [PollFd::from_borrowed_fd(bell.fd(), PollFlags::IN)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let n = poll(&mut fds, Some(&zero)).expect("poll");
        n == 1 && fds[0].revents().contains(PollFlags::IN)
    }

    #[test]
    fn rings_from_many_threads_drain_once_then_ring_again() {
        let bell = Arc::new(Doorbell::new().expect("doorbell"));
        assert!(!readable(&bell));
        let ringers: Vec<_> = (0..8)
            .map(|_| {
                let bell = Arc::clone(&bell);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        bell.ring();
                    }
                })
            })
            .collect();
        for r in ringers {
            r.join().expect("ringer");
        }
        assert!(readable(&bell));
        bell.drain();
        assert!(!readable(&bell), "one drain leaves the bell quiet");
        bell.ring();
        assert!(readable(&bell), "a later ring is seen");
        bell.drain();
        assert!(!readable(&bell));
    }

    #[test]
    fn drain_of_an_unrung_bell_does_not_block() {
        let bell = Doorbell::new().expect("doorbell");
        bell.drain();
        bell.drain();
        assert!(!readable(&bell));
    }

    #[test]
    fn lazy_bell_rings_nothing_until_made() {
        let lazy = LazyBell::default();
        lazy.ring();
        lazy.drain();
        let bell = lazy.get_or_make().expect("doorbell");
        assert!(!readable(bell), "a ring before the bell was made is lost");
        lazy.ring();
        assert!(readable(lazy.get_or_make().expect("same bell")));
        lazy.drain();
        assert!(!readable(bell));
    }
}
