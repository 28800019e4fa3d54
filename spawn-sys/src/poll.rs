//! Readiness: an epoll set over fds with a `u64` token each, and `poll(2)`
//! over borrowed fds. Timeouts round up to whole milliseconds, so a short
//! deadline never turns into a busy loop of zero-length waits.

#[cfg(any(target_os = "linux", target_os = "android"))]
use std::mem::MaybeUninit;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use rustix::event::{PollFd, Timespec};

use crate::Errno;

/// An epoll set (the epoll fd is close-on-exec). Linux only: macOS and
/// the BSDs have kqueue, every system [`poll`].
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// The epoll set's own fd: readable while any fd in the set is ready, so
/// one set can be watched from another (a background thread's, an async
/// runtime's).
#[cfg(any(target_os = "linux", target_os = "android"))]
impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Most fds reported by one [`Epoll::wait`]; more stay ready for the next.
pub const MAX_EVENTS: usize = 256;

/// What to watch an fd for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// `EPOLLIN` (and `EPOLLRDHUP`).
    pub readable: bool,
    /// `EPOLLOUT`.
    pub writable: bool,
    /// `EPOLLET`: report changes, not levels.
    pub edge: bool,
}

/// One ready fd, as reported by [`Epoll::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The token given when the fd was added or modified.
    pub token: u64,
    /// Readable (`EPOLLIN`, or `EPOLLRDHUP`: a read returns end of file).
    pub readable: bool,
    /// Writable (`EPOLLOUT`).
    pub writable: bool,
    /// The other end hung up (`EPOLLHUP`), e.g. every write end of a pipe
    /// we read is closed.
    pub hangup: bool,
    /// An error condition (`EPOLLERR`), e.g. the read end of a pipe we write
    /// is closed.
    pub error: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn flags(i: Interest) -> EventFlags {
    let mut f = EventFlags::empty();
    if i.readable {
        f |= EventFlags::IN | EventFlags::RDHUP;
    }
    if i.writable {
        f |= EventFlags::OUT;
    }
    if i.edge {
        f |= EventFlags::ET;
    }
    f
}

/// The longest single wait: `i32::MAX` ms (about 24.8 days), what
/// `epoll_wait` and `poll` take without `epoll_pwait2`/`ppoll`'s wider
/// types. A caller that waits longer loops.
const MAX_WAIT_MS: u64 = i32::MAX as u64;

/// `timeout` rounded up to whole milliseconds and capped at
/// [`MAX_WAIT_MS`]; `None` (forever) stays `None`.
fn timespec_ms_up(timeout: Option<Duration>) -> Option<Timespec> {
    timeout.map(|t| {
        let ms = u64::try_from(t.as_nanos().div_ceil(1_000_000))
            .unwrap_or(MAX_WAIT_MS)
            .min(MAX_WAIT_MS);
        Timespec {
            tv_sec: (ms / 1000) as i64,
            tv_nsec: ((ms % 1000) * 1_000_000) as i64,
        }
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`—A new, empty set.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_create.2.html)
    pub fn new() -> rustix::io::Result<Self> {
        Ok(Epoll {
            fd: epoll::create(CreateFlags::CLOEXEC)?,
        })
    }

    /// `epoll_ctl(EPOLL_CTL_ADD)`—Watches `fd`, reporting it as `token`.
    ///
    /// The set refers to the open file, not the fd number: close the fd only
    /// after [`delete`](Self::delete), or the set may keep reporting it.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)
    pub fn add(&self, fd: impl AsFd, token: u64, interest: Interest) -> rustix::io::Result<()> {
        epoll::add(&self.fd, fd, EventData::new_u64(token), flags(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_MOD)`—Changes what `fd` is watched for, and its
    /// token.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)
    pub fn modify(&self, fd: impl AsFd, token: u64, interest: Interest) -> rustix::io::Result<()> {
        epoll::modify(&self.fd, fd, EventData::new_u64(token), flags(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_DEL)`—Stops watching `fd`.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)
    pub fn delete(&self, fd: impl AsFd) -> rustix::io::Result<()> {
        epoll::delete(&self.fd, fd)
    }

    /// `epoll_wait`—Waits up to `timeout` (`None`: forever) for at most
    /// `max` (1 to [`MAX_EVENTS`]) ready fds and puts them in `out`.
    ///
    /// `out` is cleared first; once it has room for `max`, no call
    /// allocates. The timeout is rounded up to whole milliseconds. An
    /// interrupted wait (`EINTR`) returns `Ok` with `out` empty, like a
    /// timeout: the caller checks its clock either way.
    ///
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_wait.2.html)
    pub fn wait(
        &self,
        out: &mut Vec<Ready>,
        max: usize,
        timeout: Option<Duration>,
    ) -> rustix::io::Result<()> {
        out.clear();
        let ts = timespec_ms_up(timeout);
        let mut buf = [const { MaybeUninit::<epoll::Event>::uninit() }; MAX_EVENTS];
        let n = max.clamp(1, MAX_EVENTS);
        let events = match epoll::wait(&self.fd, &mut buf[..n], ts.as_ref()) {
            Ok((events, _)) => events,
            Err(Errno::INTR) => return Ok(()),
            Err(e) => return Err(e),
        };
        out.extend(events.iter().map(|e| {
            // Copies: the kernel's struct is packed.
            let (flags, data) = (e.flags, e.data);
            Ready {
                token: data.u64(),
                readable: flags.intersects(EventFlags::IN | EventFlags::RDHUP),
                writable: flags.contains(EventFlags::OUT),
                hangup: flags.contains(EventFlags::HUP),
                error: flags.contains(EventFlags::ERR),
            }
        }));
        Ok(())
    }
}

/// `poll`—Waits up to `timeout` (`None`: forever) until one of `fds` is
/// ready; returns how many are (0 on timeout or `EINTR`), each `PollFd`
/// saying which events it got.
///
/// The fds are borrowed for as long as `fds` lives, so none can be closed
/// while polled. The timeout is rounded up to whole milliseconds.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/poll.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/poll.2.html)
pub fn poll(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> rustix::io::Result<usize> {
    match rustix::event::poll(fds, timespec_ms_up(timeout).as_ref()) {
        Err(Errno::INTR) => Ok(0),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        let ms = |t: Option<Timespec>| t.map(|t| t.tv_sec * 1000 + t.tv_nsec / 1_000_000);
        assert_eq!(ms(timespec_ms_up(None)), None);
        assert_eq!(ms(timespec_ms_up(Some(Duration::ZERO))), Some(0));
        assert_eq!(ms(timespec_ms_up(Some(Duration::from_nanos(1)))), Some(1));
        assert_eq!(
            ms(timespec_ms_up(Some(Duration::from_micros(300)))),
            Some(1)
        );
        assert_eq!(
            ms(timespec_ms_up(Some(Duration::from_micros(1001)))),
            Some(2)
        );
        assert_eq!(
            ms(timespec_ms_up(Some(Duration::from_millis(2500)))),
            Some(2500)
        );
        assert_eq!(
            ms(timespec_ms_up(Some(Duration::MAX))),
            Some(i64::from(i32::MAX))
        );
    }
}
