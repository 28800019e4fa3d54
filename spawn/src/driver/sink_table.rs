//! [`SinkTable`]: the sinks of an engine's children, what fills them (the
//! one warm read buffer, `/dev/null` for discarding sinks) and their
//! backpressure (who is paused, what resumes them: `backpressure.rs`).
//!
//! Invariants: a sink is at one index for its whole life and indexes are
//! never shared between live children; a removed child's sinks are emptied
//! and their indexes reused, so the table follows the children held, not
//! every child that went through the engine.

use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;

use super::pipe_cap::FdKind;
use super::read_into::{NullTarget, ReadResult, SinkFailure, read_into};
use spawn_core::{PerStream, Stream};

use crate::sink::{Pool, SinkState, Want};
use crate::{Error, Sink};

/// A stream paused by its sink.
#[derive(Clone, Copy, Debug)]
pub(super) struct Paused {
    pub(super) sink: usize,
    pub(super) child: usize,
    pub(super) stream: Stream,
    pub(super) want: Want,
}

/// The sinks' side of an engine: its workers, if any, and who waits.
#[derive(Default)]
pub(super) struct SinkWaits {
    /// The workers of writers and callbacks, made at the first such sink.
    pub(super) pool: Option<Pool>,
    pub(super) paused: Vec<Paused>,
    /// Sinks whose file is in the epoll set, waited for to be writable.
    pub(super) in_epoll: Vec<usize>,
    /// Scratch for the rung sinks.
    pub(super) rung: Vec<usize>,
}

/// The engine's sinks: see the module docs.
pub(crate) struct SinkTable {
    states: Vec<SinkState>,
    /// Indexes of removed children's sinks, for the next ones.
    free: Vec<usize>,
    /// The one warm read buffer.
    buf: Vec<u8>,
    /// `/dev/null`, which discarding sinks splice into.
    null: NullTarget,
    /// Streams paused by their sinks, and what will resume them.
    pub(super) waits: SinkWaits,
}

impl Default for SinkTable {
    fn default() -> Self {
        SinkTable {
            states: Vec::new(),
            free: Vec::new(),
            buf: Vec::new(),
            // Without splice (`SPAWN_BACKEND=portable`, other systems)
            // discarded bytes are read through the warm buffer.
            null: if spawn_sys::pipe::splice_supported() {
                NullTarget::NotOpened
            } else {
                NullTarget::Unavailable
            },
            waits: SinkWaits::default(),
        }
    }
}

impl Deref for SinkTable {
    type Target = [SinkState];
    fn deref(&self) -> &[SinkState] {
        &self.states
    }
}

impl DerefMut for SinkTable {
    fn deref_mut(&mut self) -> &mut [SinkState] {
        &mut self.states
    }
}

impl SinkTable {
    /// Opens the sinks of one run's stdout and stderr together (one file
    /// shared by both when both name it, like `>p 2>&1`) for the program
    /// `name`; returns their indexes.
    ///
    /// # Errors
    /// A sink cannot be opened (its file, its pool).
    pub(super) fn open(
        &mut self,
        name: &str,
        sinks: &PerStream<Option<Sink>>,
    ) -> Result<PerStream<Option<usize>>, Error> {
        let opened = crate::sink::open_pair(sinks.stdout.as_ref(), sinks.stderr.as_ref())
            .map_err(|e| e.into_error(name))?;
        // A removed child's place is taken first: the table holds the
        // sinks of the children held, not of every one that went through.
        Ok(PerStream {
            stdin: None,
            stdout: opened.stdout.map(|st| self.insert(st)),
            stderr: opened.stderr.map(|st| self.insert(st)),
        })
    }

    /// Adds a sink; returns its index (a removed child's first).
    pub(crate) fn insert(&mut self, st: SinkState) -> usize {
        if let Some(i) = self.free.pop() {
            self.states[i] = st;
            i
        } else {
            self.states.push(st);
            self.states.len() - 1
        }
    }

    /// Sink `i`'s bytes were taken and its child removed: what it held (a
    /// buffer's capacity, a file, a writer) goes, and its index is free.
    pub(crate) fn release(&mut self, i: usize) {
        self.states[i] = SinkState::Collect {
            buf: Vec::new(),
            limit: None,
            error: false,
            dropped: 0,
        };
        self.free.push(i);
    }

    /// Reads at most `max` bytes from `fd`, of `kind`, into sink `ix`
    /// (through the warm buffer, or spliced from a pipe).
    pub(super) fn fill(
        &mut self,
        ix: usize,
        fd: &OwnedFd,
        kind: FdKind,
        max: usize,
    ) -> (ReadResult, Option<SinkFailure>) {
        read_into(
            fd,
            kind,
            &mut self.states[ix],
            &mut self.buf,
            &mut self.null,
            max,
        )
    }

    /// Sink `ix` and the waits of every sink, to arm its wait.
    pub(super) fn with_waits(&mut self, ix: usize) -> (&mut SinkState, &mut SinkWaits) {
        (&mut self.states[ix], &mut self.waits)
    }

    /// Moves every sink out (for an engine handed to the reaper).
    pub(crate) fn take(&mut self) -> SinkTable {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::SinkTable;
    use crate::sink::SinkState;

    /// A released index is reused; the table does not grow with every
    /// child that went through it.
    #[test]
    fn released_indexes_are_reused() {
        let mut t = SinkTable::default();
        let a = t.insert(SinkState::Discard);
        let b = t.insert(SinkState::Discard);
        assert_ne!(a, b);
        t.release(a);
        assert!(matches!(t[a], SinkState::Collect { .. }), "emptied");
        assert_eq!(t.insert(SinkState::Discard), a);
        assert_eq!(t.len(), 2);
    }
}
