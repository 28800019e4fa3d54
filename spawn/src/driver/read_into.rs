//! One read from a child's pipe into its sink: spliced into a file, or into
//! `/dev/null` for a discarding sink, or read through the one warm buffer
//! and copied into the sink (always so from a pty's master, which
//! `splice` cannot pair with a file; its `EIO`, like any read error, is
//! the end).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use spawn_sys::Errno;

use super::pipe_cap::FdKind;
use crate::sink::{SinkError, SinkState, Stalled};

/// Most bytes one read takes through the warm buffer (so its size).
const WARM_BUFFER: usize = 256 << 10;

/// `/dev/null` for the discarding sinks of one engine: their bytes are
/// spliced into it, so the kernel drops them without copying them out to
/// us. Opened at the first read for such a sink (one fd for the engine,
/// closed with it).
pub(super) enum NullTarget {
    NotOpened,
    Open(OwnedFd),
    /// It could not be opened (no fd left), or the kernel refused to
    /// splice into it: discarded bytes are read through the warm buffer.
    Unavailable,
}

impl NullTarget {
    /// The fd to splice discarded bytes into, opened now if need be.
    fn get(&mut self) -> Option<&OwnedFd> {
        if matches!(self, NullTarget::NotOpened) {
            *self = spawn_sys::fd::dev_null(true).map_or(NullTarget::Unavailable, NullTarget::Open);
        }
        match self {
            NullTarget::Open(fd) => Some(fd),
            _ => None,
        }
    }
}

/// What one read did.
pub(super) enum ReadResult {
    /// `n` bytes; `short`: fewer than asked for, so the pipe was empty
    /// after the read.
    Bytes {
        n: usize,
        short: bool,
    },
    Eof,
    WouldBlock,
    /// A `file` sink's file is full: nothing was read.
    SinkFull,
}

/// Why the sink did not take bytes it was given (they still count as read).
pub(super) enum SinkFailure {
    /// A bounded sink that errors was full: the limit.
    Overflow(usize),
    /// The sink's writer or file failed.
    Io(std::io::Error),
}

/// Where a read was spliced to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spliced {
    /// The engine's `/dev/null` (a discarding sink).
    Null,
    /// A file sink's file.
    File,
}

/// Splices again at most this many times when both the pipe and the file
/// look ready after one moved nothing, before the file is taken as full.
const SPLICE_RETRIES: u32 = 3;

/// One nonblocking `splice(2)` of at most `max` bytes from the pipe `fd`.
/// (`ENOSYS` where the system or backend has no `splice`: the caller
/// copies instead.)
fn splice_once(fd: &OwnedFd, out: BorrowedFd<'_>, max: usize) -> rustix::io::Result<usize> {
    spawn_sys::pipe::splice(fd, out, max)
}

/// Reads once from `fd` into `sink` (retrying EINTR). A sink that fails is
/// reported beside the result; the pipe is still drained.
pub(super) fn read_into(
    fd: &OwnedFd,
    kind: FdKind,
    sink: &mut SinkState,
    buf: &mut Vec<u8>,
    null: &mut NullTarget,
    max: usize,
) -> (ReadResult, Option<SinkFailure>) {
    let mut failure = None;
    let mut retries = 0;
    let res = loop {
        // A discarding sink splices into /dev/null (the kernel releases the
        // pages, nothing is copied out), a file sink into its file.
        let spliced = if kind == FdKind::PtyMaster {
            None
        } else if sink.discards() {
            null.get()
                .map(|out| (Spliced::Null, splice_once(fd, out.as_fd(), max)))
        } else {
            sink.splice_target()
                .map(|out| (Spliced::File, splice_once(fd, out, max)))
        };
        if let Some((into, r)) = spliced {
            match r {
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => {
                    // The pipe is empty, or the file (a FIFO, a pipe) is full.
                    let Some(f) = sink.file_mut().filter(|_| into == Spliced::File) else {
                        break ReadResult::WouldBlock;
                    };
                    match f.after_again(fd.as_fd()) {
                        Stalled::SourceEmpty => break ReadResult::WouldBlock,
                        Stalled::DestFull => break ReadResult::SinkFull,
                        Stalled::Retry if retries < SPLICE_RETRIES => {
                            retries += 1;
                            continue;
                        }
                        Stalled::Retry => {
                            f.mark_full();
                            break ReadResult::SinkFull;
                        }
                    }
                }
                Ok(0) => break ReadResult::Eof,
                Ok(n) => {
                    // Fewer bytes than asked says the pipe ran dry, unless
                    // the file (a FIFO, a pipe) took no more.
                    let cut = into == Spliced::File
                        && sink.file_mut().is_some_and(|f| f.short_is_ambiguous());
                    break ReadResult::Bytes {
                        n,
                        short: n < max && !cut,
                    };
                }
                // /dev/null refused: discarded bytes are read from now on.
                Err(_) if into == Spliced::Null => {
                    *null = NullTarget::Unavailable;
                    continue;
                }
                // The file refused (a filesystem without splice, an
                // append-mode file): read from now on.
                Err(Errno::INVAL | Errno::NOSYS | Errno::BADF) => {
                    sink.no_splice();
                    continue;
                }
                Err(e) => {
                    // The file's side failed (disk full, …): report it, keep
                    // draining the pipe into nothing.
                    sink.fail();
                    failure.get_or_insert(SinkFailure::Io(std::io::Error::from(e)));
                    continue;
                }
            }
        }
        // Every other sink is filled through the one warm buffer: read into
        // it (its pages are resident and hot), then copied into the sink.
        // Reading straight into a collecting `Vec` was slower: the kernel
        // copies into cold pages, faulting them in while it holds the
        // pipe's lock (the writer spins on it), where the copy out of the
        // warm buffer faults them in with the lock free and streams them
        // (a one-way collect of 1 GiB: 0.935 s straight, 0.725 s through the
        // warm buffer; std's read_to_end 0.831 s).
        // At most WARM_BUFFER at a time: the buffer stays in the cache, and
        // only the pages reads have filled are resident (it is never
        // zeroed). A read that fills it is not short: the core reads again.
        let asked = max.min(WARM_BUFFER);
        buf.clear();
        buf.reserve_exact(asked);
        let r = match rustix::io::read(fd, rustix::buffer::spare_capacity(buf)) {
            Ok(n) if n > 0 => {
                match sink.write(&buf[..n]) {
                    Ok(()) => {}
                    Err(SinkError::Overflow(limit)) => {
                        failure.get_or_insert(SinkFailure::Overflow(limit));
                    }
                    Err(SinkError::Io(e)) => {
                        failure.get_or_insert(SinkFailure::Io(e));
                    }
                }
                Ok(n)
            }
            r => r,
        };
        match r {
            Err(Errno::INTR) => {}
            Ok(0) => break ReadResult::Eof,
            Ok(n) => {
                break ReadResult::Bytes {
                    n,
                    short: n < asked,
                };
            }
            Err(Errno::AGAIN) => break ReadResult::WouldBlock,
            // Any other read error ends the stream.
            Err(_) => break ReadResult::Eof,
        }
    };
    (res, failure)
}
