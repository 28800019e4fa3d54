//! The pipe ends of an [`AsyncChild`](super::AsyncChild):
//! [`AsyncChildStdin`] (`AsyncWrite`), [`AsyncChildStdout`] and
//! [`AsyncChildStderr`] (`AsyncRead`). Each is the parent's end of the pipe,
//! set nonblocking and registered in the runtime's reactor; reads and
//! writes are plain `read(2)`/`write(2)` that wait for readiness on
//! `EAGAIN`, so no runtime thread ever blocks on them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use spawn_sys::async_fd::Registered;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// A pipe end registered for `interest`, nonblocking.
pub(super) fn register(fd: OwnedFd, interest: Interest) -> io::Result<Registered> {
    spawn_sys::pipe::set_nonblocking(&fd, true).map_err(io::Error::from)?;
    Registered::new(fd, interest)
}

/// One `read(2)` into `buf` once the pipe is readable.
fn poll_read_fd(
    fd: &Registered,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    loop {
        let mut guard = ready!(fd.poll_read_ready(cx))?;
        let unfilled = buf.initialize_unfilled();
        match guard.try_io(|fd| retry(|| rustix::io::read(fd.get_ref(), &mut *unfilled))) {
            Ok(Ok(n)) => {
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            // `EIO` is a pty master's end of file (never a pipe's).
            Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                return Poll::Ready(Ok(()));
            }
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(_would_block) => {}
        }
    }
}

fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => {}
            r => return r.map_err(io::Error::from),
        }
    }
}

macro_rules! async_pipe_end {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name(pub(super) Registered);

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.get_ref().as_fd()
            }
        }

        /// The pipe end, out of the reactor (still nonblocking).
        impl From<$name> for OwnedFd {
            fn from(p: $name) -> OwnedFd {
                p.0.into_inner()
            }
        }
    };
}

async_pipe_end!(
    AsyncChildStdin,
    "The write end of an [`AsyncChild`](super::AsyncChild)'s stdin pipe (`tokio::io::AsyncWrite`). Dropping it closes the pipe: the child sees EOF."
);
async_pipe_end!(
    AsyncChildStdout,
    "The read end of an [`AsyncChild`](super::AsyncChild)'s stdout pipe (`tokio::io::AsyncRead`)."
);
async_pipe_end!(
    AsyncChildStderr,
    "The read end of an [`AsyncChild`](super::AsyncChild)'s stderr pipe (`tokio::io::AsyncRead`)."
);

impl AsyncWrite for AsyncChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|fd| retry(|| rustix::io::write(fd.get_ref(), buf))) {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => {}
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Nothing to do: a pipe is closed by dropping its end.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for AsyncChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_fd(&self.0, cx, buf)
    }
}

impl AsyncRead for AsyncChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_fd(&self.0, cx, buf)
    }
}
