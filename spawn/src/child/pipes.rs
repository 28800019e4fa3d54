//! The pipe ends a [`Child`](crate::Child) (or a
//! [`PipelineChild`](crate::PipelineChild)) hands out: [`ChildStdin`],
//! [`ChildStdout`], [`ChildStderr`], and [`HeldPipes`], the ends it still
//! holds for its own waits, `communicate` and `lines` to drive.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::event::{PollFd, PollFlags};
use spawn_core::PerStream;

use crate::Stdio;

macro_rules! pipe_end {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name(pub(crate) OwnedFd);

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.as_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(p: $name) -> OwnedFd {
                p.0
            }
        }

        /// Connects this pipe end to another child's stdio, e.g. to build a
        /// pipeline by hand.
        impl From<$name> for Stdio {
            fn from(p: $name) -> Stdio {
                Stdio::fd(p.0)
            }
        }

        impl From<$name> for crate::Route {
            fn from(p: $name) -> crate::Route {
                crate::Route::Stdio(Stdio::fd(p.0))
            }
        }
    };
}

pipe_end!(
    ChildStdin,
    "The write end of a child's stdin pipe (blocking `Write`). Dropping it closes the pipe: the child sees EOF."
);
pipe_end!(
    ChildStdout,
    "The read end of a child's stdout pipe (blocking `Read`)."
);
pipe_end!(
    ChildStderr,
    "The read end of a child's stderr pipe (blocking `Read`)."
);

/// One blocking call on a pipe end, retried on `EINTR`. On `EAGAIN` it
/// waits in `poll(2)` until the fd is ready (`flags`) and tries again: the
/// end of a pty is a duplicate of its master, whose open file (and its
/// `O_NONBLOCK`) it shares with the duplicate the engine drives.
fn blocking<T>(
    fd: BorrowedFd<'_>,
    flags: PollFlags,
    mut f: impl FnMut() -> rustix::io::Result<T>,
) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                spawn_sys::poll::poll(&mut [PollFd::from_borrowed_fd(fd, flags)], None)?;
            }
            r => return r.map_err(io::Error::from),
        }
    }
}

/// A read of a pipe end: `EIO`, what a pty's master says once every fd of
/// its slave is closed, is its end of file (a pipe never says it).
fn read_end(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    match blocking(fd, PollFlags::IN, || rustix::io::read(fd, &mut *buf)) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => Ok(0),
        r => r,
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        blocking(self.0.as_fd(), PollFlags::OUT, || {
            rustix::io::write(&self.0, buf)
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_end(self.0.as_fd(), buf)
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_end(self.0.as_fd(), buf)
    }
}

/// The parent's ends of one process's pipes that nobody took yet.
#[derive(Debug, Default)]
pub(crate) struct HeldPipes {
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

impl HeldPipes {
    pub(crate) fn new(fds: PerStream<Option<OwnedFd>>) -> Self {
        HeldPipes {
            stdin: fds.stdin.map(ChildStdin),
            stdout: fds.stdout.map(ChildStdout),
            stderr: fds.stderr.map(ChildStderr),
        }
    }
}
