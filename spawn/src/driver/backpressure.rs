//! Backpressure per stream: a sink that cannot take bytes now pauses the
//! reading of its own stream (`Event::SinkFull`; the child then blocks on
//! its own pipe), and the stream resumes when the sink is ready again
//! (`Event::SinkReady`). Every other stream and child goes on meanwhile.
//!
//! What says "ready" is in the engine's epoll set, so the blocking loop
//! and every driver that waits on the set from outside (tokio, the
//! reaper) get it alike: a full FIFO, pipe or socket behind a `file` sink
//! is waited for to be writable (`Token::SinkWritable`); a writer or a
//! callback runs on the engine's sink workers (`crate::sink::offload`),
//! which ring a doorbell (`Token::SinkRing`) when the sink is down to its
//! low mark. A stream's end of file is reported to the core only once its
//! sink is done with every byte (the last line delivered, the writer
//! flushed): until then it is paused too, so the run ends only then, and
//! the EOF grace never abandons a pipe because its sink is slow.

use spawn_core::Stream;
use spawn_sys::poll::Interest;

use super::poller::Poller;
use super::sink_table::{Paused, SinkTable};
use super::token::Token;
use crate::sink::{Pool, Room, SinkState, Want};

/// How a file sink's readiness is watched.
const WRITABLE: Interest = Interest {
    readable: false,
    writable: true,
    edge: false,
};

impl SinkTable {
    /// Whether sink `ix` runs writers or callbacks and the workers that
    /// take them are not made yet.
    pub(super) fn needs_workers(&self, ix: usize) -> bool {
        self[ix].calls_back() && self.waits.pool.is_none()
    }

    /// Makes the workers, their doorbell in `poller`'s set (made by the
    /// caller); without them (none could be made), callbacks run here.
    pub(super) fn make_workers(&mut self, poller: &Poller) {
        let Some(pool) = Pool::new() else { return };
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        if poller.add(pool.fd(), Token::SinkRing, interest) {
            self.waits.pool = Some(pool);
        }
    }

    /// Hands the writers and callbacks of sink `ix` to the workers, if
    /// there are any.
    pub(super) fn offload(&mut self, ix: usize) {
        if !self[ix].calls_back() {
            return;
        }
        let (sink, waits) = self.with_waits(ix);
        if let Some(pool) = &waits.pool {
            let st = std::mem::replace(sink, SinkState::Discard);
            *sink = st.offload(pool, ix);
        }
    }

    /// Whether sink `ix` is full after a read (its stream is to pause).
    pub(super) fn is_full(&self, ix: usize) -> bool {
        self[ix].is_full()
    }

    /// Pauses `child`'s `stream` until sink `ix` has what `want` says;
    /// `false` when it has it now (nothing paused). The caller tells the
    /// core (`Event::SinkFull`).
    pub(super) fn pause(
        &mut self,
        (child, stream): (usize, Stream),
        ix: usize,
        want: Want,
        poller: &Poller,
    ) -> bool {
        if !self.arm(ix, want, false, poller) {
            return false;
        }
        self.waits.paused.push(Paused {
            sink: ix,
            child,
            stream,
            want,
        });
        true
    }

    /// Whether sink `ix` is still to be waited for, its readiness source
    /// armed (`writable`: its file just became writable).
    fn arm(&mut self, ix: usize, want: Want, writable: bool, poller: &Poller) -> bool {
        let (sink, waits) = self.with_waits(ix);
        let added = match sink.wait(want, writable) {
            Room::Now => return false,
            Room::Ring => return true,
            Room::Writable(_) if waits.in_epoll.contains(&ix) => return true,
            Room::Writable(fd) => poller.add(fd, Token::SinkWritable { sink: ix }, WRITABLE),
        };
        if added {
            waits.in_epoll.push(ix);
            return true;
        }
        // Nothing to wait in: the file is waited for here.
        let _ = self[ix].finish();
        false
    }

    /// The workers rang: their sinks may be ready. `resumed` is told each
    /// stream that goes on (the caller tells the core, `Event::SinkReady`).
    pub(super) fn rung(&mut self, poller: &Poller, resumed: &mut impl FnMut(usize, Stream)) {
        let mut rung = std::mem::take(&mut self.waits.rung);
        if let Some(pool) = &self.waits.pool {
            pool.take_rung(&mut rung);
        }
        for ix in rung.drain(..) {
            self.resume(ix, false, poller, resumed);
        }
        self.waits.rung = rung;
    }

    /// The file of sink `ix` became writable: as [`rung`](Self::rung).
    pub(super) fn writable(
        &mut self,
        ix: usize,
        poller: &Poller,
        resumed: &mut impl FnMut(usize, Stream),
    ) {
        self.forget_wake(ix, poller);
        self.resume(ix, true, poller, resumed);
    }

    /// Takes sink `ix`'s file out of the set.
    fn forget_wake(&mut self, ix: usize, poller: &Poller) {
        let waits = &mut self.waits;
        if let Some(at) = waits.in_epoll.iter().position(|&s| s == ix) {
            waits.in_epoll.swap_remove(at);
            if let Some(fd) = self[ix].wake_fd() {
                poller.delete(fd);
            }
        }
    }

    /// Resumes the streams paused by sink `ix` whose wait is over.
    fn resume(
        &mut self,
        ix: usize,
        mut writable: bool,
        poller: &Poller,
        resumed: &mut impl FnMut(usize, Stream),
    ) {
        let mut i = 0;
        while i < self.waits.paused.len() {
            let p = self.waits.paused[i];
            if p.sink != ix {
                i += 1;
                continue;
            }
            if self.arm(ix, p.want, std::mem::take(&mut writable), poller) {
                i += 1;
                continue;
            }
            self.waits.paused.swap_remove(i);
            resumed(p.child, p.stream);
        }
    }

    /// `child`'s `stream` is closed: nothing waits for its sink any more.
    pub(super) fn unpause(&mut self, child: usize, stream: Stream, poller: &Poller) {
        let waits = &mut self.waits;
        let Some(at) = waits
            .paused
            .iter()
            .position(|p| p.child == child && p.stream == stream)
        else {
            return;
        };
        let ix = waits.paused.swap_remove(at).sink;
        if !waits.paused.iter().any(|p| p.sink == ix) {
            self.forget_wake(ix, poller);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use spawn_core::Stream;

    use crate::driver::pipe_cap::FdKind;
    use crate::driver::poller::Poller;
    use crate::driver::read_into::ReadResult;
    use crate::driver::sink_table::SinkTable;
    use crate::driver::token::Token;
    use crate::error::StreamName;
    use crate::sink::{Sink, SinkState, Want};

    /// A `file` sink on a pipe nobody reads fills up: its stream pauses
    /// (the pipe's writability is watched in the set), nothing resumes it
    /// while the pipe stays full, and once the reader drains the pipe the
    /// set says so and exactly that stream goes on.
    #[test]
    fn a_full_file_sink_pauses_its_stream_until_its_pipe_is_writable() {
        if !spawn_sys::pipe::splice_supported() {
            return; // a copying file sink says it is full through `wait_needed`
        }
        let (out_r, out_w) = spawn_sys::pipe::pipe().expect("pipe");
        let path = format!("/proc/self/fd/{}", out_w.as_raw_fd());
        let mut sinks = SinkTable::default();
        let ix = sinks
            .insert(SinkState::open(&Sink::file(path), StreamName::Stdout).expect("file sink"));
        drop(out_w);
        let mut poller: Poller = Poller::default();
        poller.make().expect("set");
        // The child's pipe, always full of bytes to read.
        let (src_r, src_w) = spawn_sys::pipe::pipe().expect("pipe");
        spawn_sys::pipe::set_nonblocking(&src_r, true).expect("nonblocking");
        spawn_sys::pipe::set_nonblocking(&src_w, true).expect("nonblocking");
        let chunk = vec![b'x'; 4096];
        let mut full = false;
        for _ in 0..10_000 {
            while rustix::io::write(&src_w, &chunk).is_ok() {}
            match sinks.fill(ix, &src_r, FdKind::Pipe, 65_536).0 {
                ReadResult::SinkFull => {
                    full = true;
                    break;
                }
                ReadResult::Bytes { .. } | ReadResult::WouldBlock => {}
                ReadResult::Eof => panic!("the source pipe never ends"),
            }
        }
        assert!(full, "the sink never said it was full");
        assert!(
            sinks.pause((3, Stream::Stdout), ix, Want::Room, &poller),
            "a full sink pauses its stream"
        );
        let mut resumed = Vec::new();
        sinks.rung(&poller, &mut |child, stream| resumed.push((child, stream)));
        assert!(resumed.is_empty(), "nothing resumes a sink still full");
        // The reader drains the sink's pipe: the set says it is writable.
        spawn_sys::pipe::set_nonblocking(&out_r, true).expect("nonblocking");
        let mut buf = vec![0u8; 65_536];
        while rustix::io::read(&out_r, &mut buf).is_ok_and(|n| n > 0) {}
        let ready = poller.wait(Some(Duration::from_secs(20))).expect("wait");
        let tokens: Vec<Token> = ready.iter().map(|r| Token::decode(r.token)).collect();
        assert_eq!(tokens, vec![Token::SinkWritable { sink: ix }]);
        poller.recycle(ready);
        sinks.writable(ix, &poller, &mut |child, stream| {
            resumed.push((child, stream));
        });
        assert_eq!(resumed, vec![(3, Stream::Stdout)], "that stream goes on");
    }
}
