//! A `file` sink's per-run state: bytes spliced from the pipe into the
//! file, or copied where the kernel refuses to splice; and, for a
//! destination that can be full (a FIFO, a pipe, a socket, a terminal),
//! what did not fit yet.
//!
//! Such a destination is written without blocking. A splice that finds it
//! full moves nothing (the bytes stay in the child's pipe); a copy that
//! finds it full keeps the rest ([`FileSink::pending`], at most one read).
//! Either way the engine pauses the stream (`Event::SinkFull`) and waits
//! for the file to be writable in its epoll set, then writes what is
//! pending and resumes the stream (`Event::SinkReady`).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use rustix::event::{PollFd, PollFlags};
use spawn_sys::Errno;

use super::{Room, SinkError};

/// What a splice that moved nothing found (see [`FileSink::after_again`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stalled {
    /// The pipe had nothing to read.
    SourceEmpty,
    /// The file could take nothing: wait for it.
    DestFull,
    /// Both are ready again: splice again.
    Retry,
}

/// The per-run state of a `file` sink.
pub(crate) struct FileSink {
    /// Shared with the other stream's sink when both name the file.
    pub(crate) file: Arc<File>,
    pub(crate) failed: bool,
    /// Bytes move pipe → file with `splice(2)`, never through us, until
    /// the kernel refuses (an append-mode file, a filesystem without it).
    pub(crate) splice: bool,
    /// Not a regular file: it can be full (written without blocking).
    pub(crate) can_fill: bool,
    /// Bytes read that the file could not take yet (copying only).
    pending: Vec<u8>,
    /// A splice found the file full.
    dest_full: bool,
    /// A second fd on the file for the engine's epoll set (its own fd, so
    /// that stdout and stderr sharing the file register apart).
    wake: Option<OwnedFd>,
    /// An error writing what was pending, for the finish to report.
    late_error: Option<io::Error>,
}

impl FileSink {
    pub(crate) fn new(file: Arc<File>, can_fill: bool) -> FileSink {
        FileSink {
            file,
            failed: false,
            // Copied where there is no splice (see `splice_supported`).
            splice: spawn_sys::pipe::splice_supported(),
            can_fill,
            pending: Vec::new(),
            dest_full: false,
            wake: None,
            late_error: None,
        }
    }

    /// The file to `splice(2)` into, when that works and nothing is
    /// pending before the next bytes.
    pub(crate) fn splice_target(&self) -> Option<BorrowedFd<'_>> {
        (!self.failed && self.splice && self.pending.is_empty()).then(|| self.file.as_fd())
    }

    /// Whether a splice that moved fewer bytes than asked may have been
    /// cut short by the file (not only by the pipe running dry).
    pub(crate) fn short_is_ambiguous(&self) -> bool {
        self.can_fill
    }

    /// A nonblocking splice from `source` found nothing to do: an empty
    /// pipe, or a full file (then remembered).
    pub(crate) fn after_again(&mut self, source: BorrowedFd<'_>) -> Stalled {
        if !self.can_fill {
            return Stalled::SourceEmpty;
        }
        let mut fds = [
            PollFd::new(&source, PollFlags::IN),
            PollFd::new(&*self.file, PollFlags::OUT),
        ];
        if spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::ZERO)).is_err() {
            return Stalled::SourceEmpty;
        }
        let writable = fds[1]
            .revents()
            .intersects(PollFlags::OUT | PollFlags::ERR | PollFlags::HUP);
        if !writable {
            self.dest_full = true;
            Stalled::DestFull
        } else if fds[0].revents().intersects(PollFlags::IN | PollFlags::HUP) {
            Stalled::Retry
        } else {
            Stalled::SourceEmpty
        }
    }

    /// Marks the file full (a splice kept finding nothing to do).
    pub(crate) fn mark_full(&mut self) {
        self.dest_full = true;
    }

    /// The fd the engine's epoll set holds while it waits for the file.
    pub(crate) fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(AsFd::as_fd)
    }

    /// Whether the engine is to wait for the file before the next read:
    /// bytes are pending, or a splice found it full.
    pub(crate) fn wait_needed(&self) -> bool {
        !self.failed && (!self.pending.is_empty() || self.dest_full)
    }

    /// Copies `data` into the file; what it cannot take now is kept.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), SinkError> {
        if self.failed {
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(data);
            return Ok(());
        }
        match self.write_some(data) {
            Ok(n) => {
                self.pending.extend_from_slice(&data[n..]);
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(SinkError::Io(e))
            }
        }
    }

    /// Writes from `data` until done or the file is full: how much went.
    fn write_some(&self, data: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < data.len() {
            match rustix::io::write(&*self.file, &data[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        Ok(done)
    }

    /// Writes what is pending, as far as the file takes it.
    fn flush_pending(&mut self) {
        if self.pending.is_empty() || self.failed {
            return;
        }
        match self.write_some(&self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(e) => {
                self.failed = true;
                self.pending = Vec::new();
                self.late_error.get_or_insert(e);
            }
        }
    }

    /// Whether more bytes are to be read now (nothing pending, the file
    /// not known full); if not, the fd to wait on for the file to be
    /// writable. The engine calls it again once it is.
    pub(crate) fn wait(&mut self, writable: bool) -> Room<'_> {
        if writable {
            self.dest_full = false;
        }
        self.flush_pending();
        if self.failed || (self.pending.is_empty() && !self.dest_full) {
            return Room::Now;
        }
        if self.wake.is_none() {
            match self.file.as_fd().try_clone_to_owned() {
                Ok(fd) => self.wake = Some(fd),
                Err(_) => {
                    // No fd for the set: wait for the file here.
                    self.block_until_taken();
                    return Room::Now;
                }
            }
        }
        match &self.wake {
            Some(fd) => Room::Writable(fd.as_fd()),
            None => Room::Now,
        }
    }

    /// Writes what is pending, waiting for the file as long as it takes
    /// (a stream closed without its end of file); returns a late error.
    pub(crate) fn finish(&mut self) -> Result<(), SinkError> {
        self.block_until_taken();
        self.late_error
            .take()
            .map_or(Ok(()), |e| Err(SinkError::Io(e)))
    }

    fn block_until_taken(&mut self) {
        loop {
            self.flush_pending();
            if self.pending.is_empty() || self.failed {
                self.dest_full = false;
                return;
            }
            let mut fds = [PollFd::new(&*self.file, PollFlags::OUT)];
            if spawn_sys::poll::poll(&mut fds, None).is_err() {
                return;
            }
        }
    }
}
