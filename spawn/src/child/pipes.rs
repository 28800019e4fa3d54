//! The pipe ends a [`Child`](crate::Child) (or a
//! [`PipelineChild`](crate::PipelineChild)) hands out: [`ChildStdin`],
//! [`ChildStdout`], [`ChildStderr`], and [`HeldPipes`], the ends it still
//! holds for its own waits, `communicate` and `lines` to drive.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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

fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e == rustix::io::Errno::INTR => {}
            r => return r.map_err(io::Error::from),
        }
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        retry(|| rustix::io::write(&self.0, buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| rustix::io::read(&self.0, &mut *buf))
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| rustix::io::read(&self.0, &mut *buf))
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
