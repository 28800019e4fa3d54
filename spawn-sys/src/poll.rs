//! Readiness: an epoll set over borrowed fds, with a `u64` token per fd.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};

use crate::Errno;

/// An epoll set (the epoll fd is close-on-exec).
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

/// Most fds reported by one [`Epoll::wait`]; more stay ready for the next.
pub const MAX_EVENTS: usize = 256;

/// What to watch an fd for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// `EPOLLIN`.
    pub readable: bool,
    /// `EPOLLOUT`.
    pub writable: bool,
    /// `EPOLLET`: report changes, not levels.
    pub edge: bool,
}

/// One ready fd, as reported by [`Epoll::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The token given when the fd was added.
    pub token: u64,
    /// Readable (`EPOLLIN`).
    pub readable: bool,
    /// Writable (`EPOLLOUT`).
    pub writable: bool,
    /// The other end hung up (`EPOLLHUP`).
    pub hangup: bool,
    /// An error condition (`EPOLLERR`), e.g. the read end of a pipe we write closed.
    pub error: bool,
}

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
    /// # References
    /// - [Linux](https://man7.org/linux/man-pages/man2/epoll_ctl.2.html)
    pub fn add(&self, fd: impl AsFd, token: u64, interest: Interest) -> rustix::io::Result<()> {
        epoll::add(&self.fd, fd, EventData::new_u64(token), flags(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_MOD)`—Changes what `fd` is watched for.
    pub fn modify(&self, fd: impl AsFd, token: u64, interest: Interest) -> rustix::io::Result<()> {
        epoll::modify(&self.fd, fd, EventData::new_u64(token), flags(interest))
    }

    /// `epoll_ctl(EPOLL_CTL_DEL)`—Stops watching `fd`.
    pub fn delete(&self, fd: impl AsFd) -> rustix::io::Result<()> {
        epoll::delete(&self.fd, fd)
    }

    /// `epoll_wait`—Waits up to `timeout` (`None`: forever) for at most
    /// `max` (at most [`MAX_EVENTS`]) ready fds and puts them in `out`
    /// (cleared first; no allocation once `out` has room). A timeout is
    /// rounded up to whole milliseconds so a short wait never becomes a busy
    /// loop. `EINTR` returns with `out` empty.
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
        let ts = timeout.map(|t| {
            let ms = t.as_nanos().div_ceil(1_000_000);
            let ms = u64::try_from(ms).unwrap_or(u64::MAX / 2);
            Timespec {
                tv_sec: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
                tv_nsec: i64::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
            }
        });
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
