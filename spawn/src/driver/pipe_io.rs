//! Pipe I/O of the driver, one action each: a read from a child's stdout
//! or stderr into its sink (`read_into.rs` makes the read), a write of
//! the input, a close, and the pipes' place in the set. Each works on one
//! slot and the parts it names, and says what happened in the [`Outbox`].

use std::os::fd::AsFd;

use spawn_core::{ChildId, CloseReason, Event, Stream};
use spawn_sys::Errno;
use spawn_sys::poll::Interest;

use super::outbox::Outbox;
use super::pipe_cap::{FdKind, size_pipe};
use super::poller::Poller;
use super::read_into::{ReadResult, SinkFailure};
use super::sink_table::SinkTable;
use super::slot::Slot;
use super::token::Token;
use crate::Error;
use crate::error::StreamName;
use crate::sink::{SinkError, Want};

fn stream_name(stream: Stream) -> StreamName {
    if stream == Stream::Stdout {
        StreamName::Stdout
    } else {
        StreamName::Stderr
    }
}

/// Reads once from `child`'s `stream` (at most `max` bytes) into its sink,
/// and says what came of it in `out`: bytes read, EOF, an empty pipe, or
/// a sink that is full (the stream paused until it has room). Returns the
/// bytes read, or `None` when no read was made (no pipe or sink left, or
/// the pipe is known to be empty).
pub(super) fn read(
    slot: &mut Slot,
    sinks: &mut SinkTable,
    poller: &Poller,
    out: &mut Outbox,
    child: usize,
    stream: Stream,
    max: usize,
) -> Option<usize> {
    let id = ChildId(child);
    let (Some(fd), Some(sink_ix)) = (slot.fds[stream].as_ref(), slot.sink_of(stream)) else {
        out.event(Event::Eof { child: id, stream });
        return None;
    };
    let pc = &slot.caps[stream];
    if pc.drained == Some(poller.waits()) && !pc.hung_up && slot.exit.is_none() {
        // The last read, in this turn, emptied the pipe: whatever came
        // since is an edge in the epoll set (the next write, or the
        // hangup), seen at the next wait. A read now would only say
        // "would block". (Not after a hangup: the edge that said so was
        // the last, and the next read says EOF. Not after the exit: the
        // EOF grace wants a real read.)
        out.event(Event::ReadWouldBlock { child: id, stream });
        return None;
    }
    // A read gets at most what the pipe holds: ask for no more (a
    // collecting sink reserves what is asked for).
    let cap = slot.caps[stream].cap;
    let max = if cap > 0 { max.min(cap) } else { max };
    let (res, failure) = sinks.fill(sink_ix, fd, slot.caps[stream].kind, max);
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
    let pause = |sinks: &mut SinkTable, want: Want, out: &mut Outbox| {
        let paused = sinks.pause((child, stream), sink_ix, want, poller);
        if paused {
            out.event(Event::SinkFull { child: id, stream });
        }
        paused
    };
    match res {
        // The end is reported once the sink is done with every byte:
        // until then the stream is paused (and read again, at its end).
        ReadResult::Eof if pause(sinks, Want::Done, out) => {
            out.event(Event::ReadWouldBlock { child: id, stream });
        }
        ReadResult::Eof => out.event(Event::Eof { child: id, stream }),
        ReadResult::WouldBlock => out.event(Event::ReadWouldBlock { child: id, stream }),
        ReadResult::SinkFull => {
            if !pause(sinks, Want::Room, out) {
                // Ready again already: not an empty pipe, read again.
                out.event(Event::Readable { child: id, stream });
            }
            out.event(Event::ReadWouldBlock { child: id, stream });
        }
        ReadResult::Bytes { n, short } => {
            let drained = short && slot.caps[stream].kind == FdKind::Pipe;
            slot.caps[stream].drained = drained.then_some(poller.waits());
            // The pipe was full: the child writes faster than we read. A
            // larger pipe means fewer wake-ups for both.
            let pc = &mut slot.caps[stream];
            if n >= cap
                && cap > 0
                && !slot.fixed_cap
                && pc.kind == FdKind::Pipe
                && pc.lease.is_none()
                && let Some(fd) = slot.fds[stream].as_ref()
                && let Some((new, lease)) = crate::pipes::raise(fd, cap)
            {
                pc.cap = new;
                pc.lease = Some(lease);
            }
            out.event(Event::Read {
                child: id,
                stream,
                n,
            });
            if slot.overflow.is_some() && !slot.is_finished() {
                // An overflowing sink that errors stops the child (once:
                // the core ignores a second terminate).
                out.terminate(id);
            }
            if sinks.is_full(sink_ix) {
                pause(sinks, Want::Room, out);
            }
            return Some(n);
        }
    }
    Some(0)
}

/// An edge of an output pipe: bytes (or the hangup) came since the last
/// read. `hangup`: the writers are gone (no edge comes after this one, so
/// every later read is a real one: the next says EOF).
pub(super) fn readable(
    slot: Option<&mut Slot>,
    out: &mut Outbox,
    child: usize,
    stream: Stream,
    hangup: bool,
) {
    if let Some(slot) = slot {
        let cap = &mut slot.caps[stream];
        cap.drained = None;
        cap.hung_up |= hangup;
    }
    out.event(Event::Readable {
        child: ChildId(child),
        stream,
    });
}

/// Writes at most `len` bytes of the input from `offset` to `child`'s
/// stdin, and says what came of it.
pub(super) fn write(slot: &Slot, out: &mut Outbox, child: usize, offset: u64, len: usize) {
    let id = ChildId(child);
    let (Some(fd), Some(input)) = (slot.fds.stdin.as_ref(), slot.input.as_ref()) else {
        out.event(Event::WriteBroken { child: id });
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
    out.event(match res {
        Ok(n) if n > 0 => Event::Wrote { child: id, n },
        Err(Errno::AGAIN) => Event::WriteWouldBlock { child: id },
        _ => Event::WriteBroken { child: id },
    });
}

/// Closes `child`'s pipe `stream` (out of the set first); at the end of
/// an output, its sink is finished.
pub(super) fn close(
    slot: &mut Slot,
    sinks: &mut SinkTable,
    poller: &Poller,
    child: usize,
    stream: Stream,
    reason: CloseReason,
) {
    if stream == Stream::Stdin {
        slot.note_unread_input(reason);
    }
    if let Some(fd) = slot.fds[stream].take() {
        poller.delete(fd.as_fd());
    }
    slot.caps[stream].lease = None;
    if stream != Stream::Stdin {
        sinks.unpause(child, stream, poller);
    }
    if stream != Stream::Stdin && matches!(reason, CloseReason::Eof | CloseReason::Abandoned) {
        finish_sink(slot, sinks, stream);
    }
}

/// Flushes and closes the sink of one output stream.
pub(super) fn finish_sink(slot: &mut Slot, sinks: &mut SinkTable, stream: Stream) {
    if let Some(s) = slot.sink_of(stream)
        && let Err(SinkError::Io(e)) = sinks[s].finish()
    {
        slot.error
            .get_or_insert_with(|| Error::io(&slot.name, "writing output to its sink", e));
    }
}

/// Watches the pipes of a started slot (when the set is made).
pub(super) fn register(slot: &mut Slot, poller: &Poller, child: usize) {
    for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
        register_pipe(slot, poller, child, stream);
    }
}

/// Watches pipe `stream` of a started slot, if it holds one and the set
/// is made.
pub(super) fn register_pipe(slot: &mut Slot, poller: &Poller, child: usize, stream: Stream) {
    if !poller.is_made() {
        return;
    }
    let input = slot.input.as_ref().map_or(0, |v| v.len());
    let Some(fd) = slot.fds[stream].as_ref() else {
        return;
    };
    // A pty's master is the stdin and stdout of its child (stderr, when
    // routed apart, is a pipe).
    if stream != Stream::Stderr && slot.process.as_ref().is_some_and(|p| p.has_pty()) {
        slot.caps[stream].kind = FdKind::PtyMaster;
    }
    size_pipe(fd, stream, input, slot.fixed_cap, &mut slot.caps[stream]);
    // Our end of a pipe made for this start: no other flag to keep.
    let _ = spawn_sys::pipe::set_new_pipe_nonblocking(fd);
    let interest = Interest {
        readable: stream != Stream::Stdin,
        writable: stream == Stream::Stdin,
        edge: true,
    };
    let token = Token::Pipe {
        slot: child,
        stream,
    };
    let _ = poller.add(fd.as_fd(), token, interest);
}
