//! Pipe I/O of the driver: reads from a child's stdout and stderr into
//! their sinks (spliced into a file, or into `/dev/null` for a discarding
//! sink, or read through the one warm buffer),
//! writes of the input, closes, and the pipe capacity policy
//! (`crate::pipes`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use spawn_core::{ChildId, CloseReason, Event, Stream, Timestamp};
use spawn_sys::Errno;

use super::Engine;
use crate::Error;
use crate::error::StreamName;
use crate::sink::{SinkError, SinkState, Stalled, Want};

/// Most bytes one read takes through the warm buffer (so its size).
const WARM_BUFFER: usize = 256 << 10;

/// The capacity of one pipe the driver holds.
#[derive(Debug, Default)]
pub(crate) struct PipeCap {
    /// Bytes (0: no pipe, or unknown).
    pub cap: usize,
    /// Capacity raised by the driver, held until the pipe is closed.
    pub lease: Option<crate::pipes::Lease>,
    /// The last read emptied it, in the turn after this many waits, and
    /// no edge came since.
    pub drained: Option<u64>,
    /// An edge said its writers are gone (`EPOLLHUP`).
    pub hung_up: bool,
}

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

/// Sets up the capacity of a pipe the driver is about to watch.
pub(super) fn size_pipe(
    fd: &OwnedFd,
    stream: Stream,
    input_len: usize,
    fixed: bool,
    cap: &mut PipeCap,
) {
    // A command that chose its capacity may have got less than it asked
    // for: ask the pipe. Others have the default.
    cap.cap = if fixed {
        spawn_sys::pipe::pipe_size(fd).unwrap_or_else(|_| crate::pipes::default_capacity())
    } else {
        crate::pipes::default_capacity()
    };
    // Input larger than the pipe: raise it now.
    if stream == Stream::Stdin
        && !fixed
        && input_len > cap.cap
        && let Some((new, lease)) = crate::pipes::raise(fd, cap.cap)
    {
        cap.cap = new;
        cap.lease = Some(lease);
    }
}

fn stream_name(stream: Stream) -> StreamName {
    if stream == Stream::Stdout {
        StreamName::Stdout
    } else {
        StreamName::Stderr
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
fn splice_once(fd: &OwnedFd, out: BorrowedFd<'_>, max: usize) -> rustix::io::Result<usize> {
    let flags = rustix::pipe::SpliceFlags::NONBLOCK | rustix::pipe::SpliceFlags::MOVE;
    rustix::pipe::splice(fd, None, out, None, max, flags)
}

/// Reads once from `fd` into `sink` (retrying EINTR). A sink that fails is
/// reported beside the result; the pipe is still drained.
pub(super) fn read_into(
    fd: &OwnedFd,
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
        let spliced = if sink.discards() {
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

impl Engine<'_> {
    pub(super) fn read(&mut self, child: usize, stream: Stream, max: usize) {
        let now = self.now();
        let id = ChildId(child);
        let slot = &mut self.slots[child];
        let (Some(fd), Some(sink_ix)) = (slot.fds[stream].as_ref(), slot.sink_of(stream)) else {
            self.feed(Event::Eof { child: id, stream }, now);
            return;
        };
        let pc = &slot.caps[stream];
        if pc.drained == Some(self.poller.waits()) && !pc.hung_up && slot.exit.is_none() {
            // The last read, in this turn, emptied the pipe: whatever came
            // since is an edge in the epoll set (the next write, or the
            // hangup), seen at the next wait. A read now would only say
            // "would block". (Not after a hangup: the edge that said so was
            // the last, and the next read says EOF. Not after the exit: the
            // EOF grace wants a real read.)
            self.feed(Event::ReadWouldBlock { child: id, stream }, now);
            return;
        }
        // A read gets at most what the pipe holds: ask for no more (a
        // collecting sink reserves what is asked for).
        let cap = slot.caps[stream].cap;
        let max = if cap > 0 { max.min(cap) } else { max };
        let (res, failure) = self.sinks.fill(sink_ix, fd, max);
        self.stops.note_read();
        match failure {
            Some(SinkFailure::Overflow(limit)) => {
                slot.overflow.get_or_insert((stream_name(stream), limit));
            }
            Some(SinkFailure::Io(e)) => {
                slot.error
                    .get_or_insert_with(|| Error::io(&slot.name, "writing output to its sink", e));
            }
            None => {}
        }
        match res {
            // The end is reported once the sink is done with every byte:
            // until then the stream is paused (and read again, at its end).
            ReadResult::Eof if self.pause(child, stream, sink_ix, Want::Done) => {
                self.feed(Event::ReadWouldBlock { child: id, stream }, now);
            }
            ReadResult::Eof => self.feed(Event::Eof { child: id, stream }, now),
            ReadResult::WouldBlock => {
                self.feed(Event::ReadWouldBlock { child: id, stream }, now);
            }
            ReadResult::SinkFull => {
                if !self.pause(child, stream, sink_ix, Want::Room) {
                    // Ready again already: not an empty pipe, read again.
                    self.feed(Event::Readable { child: id, stream }, now);
                }
                self.feed(Event::ReadWouldBlock { child: id, stream }, now);
            }
            ReadResult::Bytes { n, short } => {
                self.starts.read(n);
                let slot = &mut self.slots[child];
                slot.caps[stream].drained = short.then_some(self.poller.waits());
                // The pipe was full: the child writes faster than we read. A
                // larger pipe means fewer wake-ups for both.
                let pc = &mut slot.caps[stream];
                if n >= cap
                    && cap > 0
                    && !slot.fixed_cap
                    && pc.lease.is_none()
                    && let Some(fd) = slot.fds[stream].as_ref()
                    && let Some((new, lease)) = crate::pipes::raise(fd, cap)
                {
                    pc.cap = new;
                    pc.lease = Some(lease);
                }
                let overflowed = slot.overflow.is_some() && slot.outcome.is_none();
                self.feed(
                    Event::Read {
                        child: id,
                        stream,
                        n,
                    },
                    now,
                );
                if overflowed {
                    // An overflowing sink that errors stops the child (once:
                    // the core ignores a second terminate).
                    self.sched.terminate(id, now);
                }
                if self.sinks.is_full(sink_ix) {
                    self.pause(child, stream, sink_ix, Want::Room);
                }
            }
        }
    }

    /// An edge of an output pipe: bytes (or the hangup) came since the
    /// last read.
    /// `hangup`: the writers are gone (no edge comes after this one, so
    /// every later read is a real one: the next says EOF).
    pub(super) fn readable(&mut self, child: usize, stream: Stream, hangup: bool, now: Timestamp) {
        if let Some(slot) = self.slots.get_mut(child) {
            let cap = &mut slot.caps[stream];
            cap.drained = None;
            cap.hung_up |= hangup;
        }
        self.feed(
            Event::Readable {
                child: ChildId(child),
                stream,
            },
            now,
        );
    }

    pub(super) fn write(&mut self, child: usize, offset: u64, len: usize) {
        let now = self.now();
        let id = ChildId(child);
        let slot = &self.slots[child];
        let (Some(fd), Some(input)) = (slot.fds.stdin.as_ref(), slot.input.as_ref()) else {
            self.feed(Event::WriteBroken { child: id }, now);
            return;
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let end = start.saturating_add(len).min(input.len());
        let res = loop {
            let r = rustix::io::write(fd, &input[start..end]);
            if r != Err(Errno::INTR) {
                break r;
            }
        };
        let ev = match res {
            Ok(n) if n > 0 => Event::Wrote { child: id, n },
            Err(Errno::AGAIN) => Event::WriteWouldBlock { child: id },
            _ => Event::WriteBroken { child: id },
        };
        self.feed(ev, now);
    }

    pub(super) fn close(&mut self, child: usize, stream: Stream, reason: CloseReason) {
        let slot = &mut self.slots[child];
        if let Some(fd) = slot.fds[stream].take() {
            self.poller.delete(fd.as_fd());
        }
        slot.caps[stream].lease = None;
        if stream != Stream::Stdin {
            self.sinks.unpause(child, stream, &self.poller);
        }
        if stream != Stream::Stdin && matches!(reason, CloseReason::Eof | CloseReason::Abandoned) {
            self.finish_sink(child, stream);
        }
        // Without a pidfd, EOF on the output is the best hint of an exit.
        self.exits
            .output_ended(child, &mut self.slots[child], &self.poller);
        let now = self.now();
        self.tell_exits(now);
    }

    /// Flushes and closes the sink of one output stream.
    pub(super) fn finish_sink(&mut self, child: usize, stream: Stream) {
        let slot = &mut self.slots[child];
        if let Some(s) = slot.sink_of(stream)
            && let Err(SinkError::Io(e)) = self.sinks[s].finish()
        {
            slot.error
                .get_or_insert_with(|| Error::io(&slot.name, "writing output to its sink", e));
        }
    }
}
