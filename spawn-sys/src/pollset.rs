//! [`PollSet`]: a readiness set over plain `poll(2)`, for systems with
//! neither epoll nor kqueue (and for `SPAWN_BACKEND=portable`, see
//! [`mod@crate::backend`]): fds with a `u64` token each, as [`crate::poll`]'s
//! epoll set has them.
//!
//! `poll(2)` only reports levels. A reader that wants edges (it reads until
//! `EAGAIN`, then waits for more) would be woken again and again by an fd
//! it leaves unread on purpose (a paused stream, a stdin with nothing to
//! write). So an fd added with [`Interest::edge`] that is ready again with
//! the same events and the same unread byte count (`FIONREAD`) as when it
//! was last reported is taken as not changed: it is left out of the next
//! `poll` for a tick (0.5 ms, doubling to 20 ms while it stays so), then
//! reported once more. An edge is therefore never lost (at worst it comes
//! a tick late, when new bytes happen to leave the count as it was), and
//! an fd left ready costs a wake-up per tick instead of a busy loop.
//!
//! The set has no fd of its own: a driver that waits elsewhere (an async
//! runtime, a thread watching many sets) cannot nest it, and polls it on a
//! tick instead.

#![allow(unsafe_code)]
//! # Safety
//! `poll(2)` and `ioctl(FIONREAD)` are given raw fd numbers, which they
//! only look up in the kernel's table (a closed number is `POLLNVAL` or an
//! error, never memory unsafety), and pointers to buffers we own, valid
//! for the call.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::Errno;
use crate::poll::{Interest, Ready};

/// The first tick an unchanged fd is left out for.
const MIN_TICK: Duration = Duration::from_micros(500);
/// The longest.
const MAX_TICK: Duration = Duration::from_millis(20);

/// What an fd showed when it was last reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    revents: libc::c_short,
    unread: Option<u64>,
}

#[derive(Debug)]
struct Entry {
    fd: RawFd,
    token: u64,
    interest: Interest,
    /// What it showed when last reported (edge entries only).
    last: Option<Seen>,
    /// Left out of the `poll`s of this wait.
    muted: bool,
    /// Report at its next readiness even if unchanged (its tick passed).
    force: bool,
    /// How long it is left out when found unchanged.
    tick: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<Entry>,
    /// The `pollfd` array, kept between waits.
    fds: Vec<libc::pollfd>,
}

/// A readiness set over `poll(2)`; see the [module docs](self).
#[derive(Debug, Default)]
pub struct PollSet {
    inner: Mutex<Inner>,
}

fn events(i: Interest) -> libc::c_short {
    let mut e = 0;
    if i.readable {
        e |= libc::POLLIN;
    }
    if i.writable {
        e |= libc::POLLOUT;
    }
    e
}

/// `ioctl(FIONREAD)` on a raw fd: the bytes a pipe or socket holds.
fn unread(fd: RawFd) -> Option<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into `n`, ours; see the module docs
    // for the raw fd.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if r == 0 { u64::try_from(n).ok() } else { None }
}

/// `timeout` in whole milliseconds, rounded up, for `poll`: -1 for none.
fn ms_up(timeout: Option<Duration>) -> libc::c_int {
    timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
    })
}

/// `poll(2)` over `fds` for up to `wait`: how many are ready.
///
/// `poll` refuses more entries than `RLIMIT_NOFILE` (`EINVAL`), which a set
/// holds when the limit was lowered below fds opened before: then the
/// entries are looked at in slices the limit allows, without waiting, on
/// a tick (1 ms) until one is ready or `wait` passes.
fn poll_all(fds: &mut [libc::pollfd], wait: Option<Duration>) -> Result<usize, Errno> {
    match poll_raw(fds, ms_up(wait)) {
        Err(Errno::INVAL) if !fds.is_empty() => {}
        other => return other,
    }
    let limit = crate::fd::nofile_limit()
        .ok()
        .and_then(|(soft, _)| usize::try_from(soft).ok())
        .filter(|&l| l > 0)
        .ok_or(Errno::INVAL)?;
    let deadline = wait.map(|w| Instant::now() + w);
    loop {
        let mut n = 0;
        for slice in fds.chunks_mut(limit) {
            n += poll_raw(slice, 0)?;
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if n > 0 || left == Some(Duration::ZERO) {
            return Ok(n);
        }
        let tick = left.map_or(TICK_OVER_LIMIT, |l| l.min(TICK_OVER_LIMIT));
        poll_raw(&mut [], ms_up(Some(tick)))?;
    }
}

/// The tick of [`poll_all`] over the fd limit.
const TICK_OVER_LIMIT: Duration = Duration::from_millis(1);

/// One `poll(2)` call; `EINTR` is an error here.
fn poll_raw(fds: &mut [libc::pollfd], ms: libc::c_int) -> Result<usize, Errno> {
    let nfds = libc::nfds_t::try_from(fds.len()).map_err(|_| Errno::INVAL)?;
    // SAFETY: `fds` holds `nfds` initialised `pollfd`s, ours, valid for
    // writes for the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds, ms) };
    usize::try_from(n)
        .map_err(|_| Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
}

impl PollSet {
    /// A new, empty set (no syscall).
    #[must_use]
    pub fn new() -> Self {
        PollSet::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches `fd`, reporting it as `token`. The set keeps the fd's
    /// number, where epoll forgets a closed fd by itself: an entry left
    /// under the same number (its fd closed without a delete) is taken
    /// over by the new fd, and one found closed (`POLLNVAL`) leaves the
    /// set at the next wait.
    ///
    /// # Errors
    /// None (the `Result` is the other sets').
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64, interest: Interest) -> Result<(), Errno> {
        let raw = fd.as_raw_fd();
        let mut inner = self.inner();
        inner.entries.retain(|e| e.fd != raw);
        inner.entries.push(Entry {
            fd: raw,
            token,
            interest,
            last: None,
            muted: false,
            force: false,
            tick: MIN_TICK,
        });
        Ok(())
    }

    /// Stops watching `fd`.
    ///
    /// # Errors
    /// `ENOENT` when it was not watched.
    pub fn delete(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        let raw = fd.as_raw_fd();
        let mut inner = self.inner();
        let i = inner
            .entries
            .iter()
            .position(|e| e.fd == raw)
            .ok_or(Errno::NOENT)?;
        inner.entries.swap_remove(i);
        Ok(())
    }

    /// How many fds are watched.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    /// Whether no fd is watched.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `poll`—Waits up to `timeout` (`None`: forever) for at most `max` ready
    /// fds and puts them in `out` (cleared first), as
    /// [`Epoll::wait`](crate::poll) does. `EINTR` returns `Ok` with `out`
    /// empty, like a timeout; so does a tick spent waiting for an
    /// unchanged fd (see the [module docs](self)).
    ///
    /// # Errors
    /// What `poll(2)` says (`ENOMEM`, `EINVAL` for too many fds).
    ///
    /// # References
    /// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/poll.html)
    pub fn wait(
        &self,
        out: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        out.clear();
        let max = max.max(1);
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut guard = self.inner();
        let inner = &mut *guard;
        for e in &mut inner.entries {
            if e.muted {
                e.muted = false;
                e.force = true;
            }
        }
        // A second round only when the first found nothing but unchanged fds.
        for _round in 0..2 {
            inner.fds.clear();
            let mut tick: Option<Duration> = None;
            for e in &inner.entries {
                if e.muted {
                    tick = Some(tick.map_or(e.tick, |t| t.min(e.tick)));
                }
                inner.fds.push(libc::pollfd {
                    fd: if e.muted { -1 } else { e.fd },
                    events: events(e.interest),
                    revents: 0,
                });
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let wait = match (left, tick) {
                (Some(l), Some(t)) => Some(l.min(t)),
                (l, t) => l.or(t),
            };
            let n = match poll_all(&mut inner.fds, wait) {
                Ok(n) => n,
                Err(Errno::INTR) => return Ok(()),
                Err(e) => return Err(e),
            };
            let mut unchanged = false;
            for (e, p) in inner.entries.iter_mut().zip(&inner.fds) {
                if p.fd < 0 {
                    continue;
                }
                if p.revents & libc::POLLNVAL != 0 {
                    // Closed without a delete: gone (dropped below).
                    e.fd = -1;
                    continue;
                }
                if p.revents == 0 {
                    e.last = None;
                    continue;
                }
                if out.len() >= max {
                    continue;
                }
                if e.interest.edge {
                    let seen = Seen {
                        revents: p.revents,
                        unread: unread(e.fd),
                    };
                    if !e.force && e.last == Some(seen) {
                        e.muted = true;
                        e.tick = (e.tick * 2).min(MAX_TICK);
                        unchanged = true;
                        continue;
                    }
                    if e.last != Some(seen) {
                        e.tick = MIN_TICK;
                    }
                    e.last = Some(seen);
                    e.force = false;
                }
                out.push(Ready {
                    token: e.token,
                    readable: p.revents & libc::POLLIN != 0,
                    writable: p.revents & libc::POLLOUT != 0,
                    hangup: p.revents & libc::POLLHUP != 0,
                    error: p.revents & (libc::POLLERR | libc::POLLNVAL) != 0,
                });
            }
            inner.entries.retain(|e| e.fd >= 0);
            if !out.is_empty() || !unchanged || n == 0 {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    const EDGE_READ: Interest = Interest {
        readable: true,
        writable: false,
        edge: true,
    };

    /// A readable pipe comes back under its token; left unread and
    /// unchanged it is not reported at once again, but is after a tick;
    /// more bytes make it new at once; deleted, it is gone.
    #[test]
    fn edges_are_emulated_without_losing_one() {
        let (r, w) = crate::pipe::pipe().unwrap();
        let set = PollSet::new();
        set.add(r.as_fd(), 6, EDGE_READ).unwrap();
        // The same number again takes the entry over.
        set.add(r.as_fd(), 7, EDGE_READ).unwrap();
        assert_eq!(set.len(), 1);
        let mut out = Vec::new();
        set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
        assert!(out.is_empty());
        rustix::io::write(&w, b"x").unwrap();
        set.wait(&mut out, 8, Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].token, out[0].readable), (7, true));
        // Unchanged: not at once.
        set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
        assert!(out.is_empty(), "{out:?}");
        // After its tick, once more.
        set.wait(&mut out, 8, Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(out.len(), 1);
        // New bytes: at once.
        rustix::io::write(&w, b"y").unwrap();
        set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
        assert_eq!(out.len(), 1);
        set.delete(r.as_fd()).unwrap();
        assert_eq!(set.delete(r.as_fd()), Err(Errno::NOENT));
        set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
        assert!(out.is_empty());
    }

    /// A level fd is reported at every wait while it is ready.
    #[test]
    fn levels_are_levels() {
        let (r, w) = crate::pipe::pipe().unwrap();
        let set = PollSet::new();
        let level = Interest {
            edge: false,
            ..EDGE_READ
        };
        set.add(r.as_fd(), 1, level).unwrap();
        rustix::io::write(&w, b"x").unwrap();
        let mut out = Vec::new();
        for _ in 0..3 {
            set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
            assert_eq!(out.len(), 1);
        }
        drop(w);
        set.wait(&mut out, 8, Some(Duration::ZERO)).unwrap();
        assert!(out[0].hangup || out[0].readable);
    }
}
