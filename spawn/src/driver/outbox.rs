//! [`Outbox`]: what the parts found out for the core, in the order they
//! found it. A part does its I/O (a read, a write, a start, a close) and
//! says what happened here; the loop hands it all to the core before it
//! asks the core what to do next (`Engine::tell_core`), so that no part
//! needs the core, the tracer or the clock.
//!
//! Invariant: the outbox is empty whenever the core is polled.

use spawn_core::{ChildId, Event};

/// One thing to tell the core.
#[derive(Debug)]
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
    notes: Vec<Note>,
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

    /// Whether nothing is to be told.
    pub(super) fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }

    /// Takes the notes, in order; [`give_back`](Self::give_back) returns
    /// the emptied list, so that a turn allocates nothing.
    pub(super) fn take(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Returns the list [`take`](Self::take) gave, emptied.
    pub(super) fn give_back(&mut self, mut notes: Vec<Note>) {
        notes.clear();
        if self.notes.is_empty() {
            self.notes = notes;
        }
    }
}

#[cfg(test)]
mod tests {
    use spawn_core::{ChildId, Event, Stream};

    use super::{Note, Outbox};

    /// Notes come out in the order put in, and the list is reused.
    #[test]
    fn notes_come_out_in_order_and_the_list_is_reused() {
        let mut out = Outbox::default();
        let child = ChildId(3);
        out.event(Event::Started { child });
        out.terminate(child);
        out.event(Event::Eof {
            child,
            stream: Stream::Stdout,
        });
        let notes = out.take();
        assert!(out.is_empty());
        let kinds: Vec<&str> = notes
            .iter()
            .map(|n| match n {
                Note::Event(Event::Started { .. }) => "started",
                Note::Terminate(_) => "terminate",
                Note::Event(Event::Eof { .. }) => "eof",
                Note::Event(_) => "other",
            })
            .collect();
        assert_eq!(kinds, ["started", "terminate", "eof"]);
        let cap = notes.capacity();
        out.give_back(notes);
        assert!(out.is_empty());
        assert_eq!(out.take().capacity(), cap, "the emptied list is kept");
    }
}
