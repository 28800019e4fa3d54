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

use spawn_core::{ChildId, Event, Stream};
use spawn_sys::poll::Interest;

use super::Engine;
use super::token::Token;
use crate::sink::{Pool, Room, Want};

/// A stream paused by its sink.
#[derive(Clone, Copy, Debug)]
pub(super) struct Paused {
    sink: usize,
    child: usize,
    stream: Stream,
    want: Want,
}

/// The sinks' side of an engine: its workers, if any, and who waits.
#[derive(Default)]
pub(super) struct SinkWaits {
    /// The workers of writers and callbacks, made at the first such sink.
    pub(super) pool: Option<Pool>,
    paused: Vec<Paused>,
    /// Sinks whose file is in the epoll set, waited for to be writable.
    in_epoll: Vec<usize>,
    /// Scratch for the rung sinks.
    rung: Vec<usize>,
}

impl Engine<'_> {
    /// Hands the writers and callbacks of sink `ix` to the workers (made
    /// now, their doorbell in the set); without them, they run here.
    pub(super) fn offload_sink(&mut self, ix: usize) {
        if !self.sinks[ix].calls_back() {
            return;
        }
        if self.sinks.waits.pool.is_none() {
            let Some(pool) = Pool::new() else { return };
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            let Ok(set) = self.ensure_epoll() else { return };
            if !set.add(pool.fd(), Token::SinkRing, interest) {
                return;
            }
            self.sinks.waits.pool = Some(pool);
        }
        self.sinks.offload(ix);
    }

    /// After a read into sink `ix`: pauses the stream if the sink is full.
    pub(super) fn pause_if_full(&mut self, child: usize, stream: Stream, ix: usize) {
        if self.sinks[ix].is_full() {
            self.pause(child, stream, ix, Want::Room);
        }
    }

    /// Pauses `child`'s `stream` until sink `ix` has what `want` says;
    /// `false` when it has it now (nothing paused).
    pub(super) fn pause(&mut self, child: usize, stream: Stream, ix: usize, want: Want) -> bool {
        if !self.arm(ix, want, false) {
            return false;
        }
        self.sinks.waits.paused.push(Paused {
            sink: ix,
            child,
            stream,
            want,
        });
        let now = self.now();
        self.feed(
            Event::SinkFull {
                child: ChildId(child),
                stream,
            },
            now,
        );
        true
    }

    /// Whether sink `ix` is still to be waited for, its readiness source
    /// armed (`writable`: its file just became writable).
    fn arm(&mut self, ix: usize, want: Want, writable: bool) -> bool {
        let (sink, waits) = self.sinks.with_waits(ix);
        let added = match sink.wait(want, writable) {
            Room::Now => return false,
            Room::Ring => return true,
            Room::Writable(_) if waits.in_epoll.contains(&ix) => return true,
            Room::Writable(fd) => {
                let interest = Interest {
                    readable: false,
                    writable: true,
                    edge: false,
                };
                self.poller
                    .add(fd, Token::SinkWritable { sink: ix }, interest)
            }
        };
        if added {
            waits.in_epoll.push(ix);
            return true;
        }
        // Nothing to wait in: the file is waited for here.
        let _ = self.sinks[ix].finish();
        false
    }

    /// The workers rang: their sinks may be ready.
    pub(super) fn sinks_rung(&mut self) {
        let mut rung = std::mem::take(&mut self.sinks.waits.rung);
        if let Some(pool) = &self.sinks.waits.pool {
            pool.take_rung(&mut rung);
        }
        for ix in rung.drain(..) {
            self.resume(ix, false);
        }
        self.sinks.waits.rung = rung;
    }

    /// The file of sink `ix` became writable.
    pub(super) fn sink_writable(&mut self, ix: usize) {
        self.forget_wake(ix);
        self.resume(ix, true);
    }

    /// Takes sink `ix`'s file out of the set.
    fn forget_wake(&mut self, ix: usize) {
        let waits = &mut self.sinks.waits;
        if let Some(at) = waits.in_epoll.iter().position(|&s| s == ix) {
            waits.in_epoll.swap_remove(at);
            if let Some(fd) = self.sinks[ix].wake_fd() {
                self.poller.delete(fd);
            }
        }
    }

    /// Resumes the streams paused by sink `ix` whose wait is over.
    fn resume(&mut self, ix: usize, mut writable: bool) {
        let mut i = 0;
        while i < self.sinks.waits.paused.len() {
            let p = self.sinks.waits.paused[i];
            if p.sink != ix {
                i += 1;
                continue;
            }
            let waiting = self.arm(ix, p.want, std::mem::take(&mut writable));
            if waiting {
                i += 1;
                continue;
            }
            self.sinks.waits.paused.swap_remove(i);
            let now = self.now();
            self.feed(
                Event::SinkReady {
                    child: ChildId(p.child),
                    stream: p.stream,
                },
                now,
            );
        }
    }

    /// `child`'s `stream` is closed: nothing waits for its sink any more.
    pub(super) fn unpause(&mut self, child: usize, stream: Stream) {
        let waits = &mut self.sinks.waits;
        let Some(at) = waits
            .paused
            .iter()
            .position(|p| p.child == child && p.stream == stream)
        else {
            return;
        };
        let ix = waits.paused.swap_remove(at).sink;
        if !waits.paused.iter().any(|p| p.sink == ix) {
            self.forget_wake(ix);
        }
    }
}
