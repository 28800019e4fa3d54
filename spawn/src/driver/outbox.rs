//! [`Outbox`]: what the parts found out for the core, in the order they
//! found it. A part does its I/O (a read, a write, a start, a close) and
//! says what happened here; the loop hands it all to the core before it
//! asks the core what to do next (`Engine::tell_core`), so that no part
//! needs the core, the tracer or the clock.
//!
//! Invariant: the outbox is empty whenever the core is polled.
//!
//! It holds a turn's usual few notes inline: an engine lives for one run,
//! and a heap list would cost every run an allocation and its growth.

use smallvec::SmallVec;
use spawn_core::{ChildId, Event};

/// Notes held without an allocation.
const INLINE: usize = 8;

/// One thing to tell the core.
#[derive(Clone, Copy, Debug)]
pub(super) enum Note {
    /// Handed to `Scheduler::handle`.
    Event(Event),
    /// The child is to be stopped (`Scheduler::terminate`): its sink
    /// overflowed with an erroring limit.
    Terminate(ChildId),
}

/// What the parts found out for the core: see the module docs.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    notes: SmallVec<[Note; INLINE]>,
}

impl Outbox {
    /// Something happened that the core is to hear of.
    pub(super) fn event(&mut self, event: Event) {
        self.notes.push(Note::Event(event));
    }

    /// Child `child` is to be stopped.
    pub(super) fn terminate(&mut self, child: ChildId) {
        self.notes.push(Note::Terminate(child));
    }

    /// How many notes are to be told.
    pub(super) fn len(&self) -> usize {
        self.notes.len()
    }

    /// Note `i`, in the order put in.
    pub(super) fn get(&self, i: usize) -> Option<Note> {
        self.notes.get(i).copied()
    }

    /// Forgets the notes (all told).
    pub(super) fn clear(&mut self) {
        self.notes.clear();
    }
}

#[cfg(test)]
mod tests {
    use spawn_core::{ChildId, Event, Stream};

    use super::{Note, Outbox};

    /// Notes come out in the order put in; a turn's usual few need no
    /// allocation, and more than that are kept too.
    #[test]
    fn notes_come_out_in_order() {
        let mut out = Outbox::default();
        let child = ChildId(3);
        out.event(Event::Started { child });
        out.terminate(child);
        out.event(Event::Eof {
            child,
            stream: Stream::Stdout,
        });
        let kinds: Vec<&str> = (0..out.len())
            .filter_map(|i| out.get(i))
            .map(|n| match n {
                Note::Event(Event::Started { .. }) => "started",
                Note::Terminate(_) => "terminate",
                Note::Event(Event::Eof { .. }) => "eof",
                Note::Event(_) => "other",
            })
            .collect();
        assert_eq!(kinds, ["started", "terminate", "eof"]);
        assert!(!out.notes.spilled(), "held inline");
        out.clear();
        assert_eq!(out.len(), 0);
        for _ in 0..100 {
            out.terminate(child);
        }
        assert_eq!(out.len(), 100, "past the inline ones too");
    }
}
