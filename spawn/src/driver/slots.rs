//! [`Slots`]: the engine's children, one [`Slot`] each, indexed as the
//! core's `ChildId`s, with the queue of finished ones a group takes its
//! results from.
//!
//! Invariants: slot `i` is the core's child `i` (a removed child's place
//! is empty, not a placeholder slot, until the next child the core numbers
//! so takes it); a slot is queued as finished at most once, and only while
//! finished slots are tracked.

use std::collections::VecDeque;
use std::ops::{Index, IndexMut};

use spawn_core::{Action, ChildId, Event, Output as CoreOutput, Stream};

use super::slot::{Owner, Slot};

/// The engine's children: see the module docs.
#[derive(Default)]
pub(crate) struct Slots {
    /// By the core's id; `None`: a removed child's place.
    list: Vec<Option<Slot>>,
    /// Finished children removed so far (for progress counts).
    removed: usize,
    /// Finished slots not handed out yet, in the order they finished; kept
    /// only for a group's results (other runs keep no queue: no allocation
    /// per run).
    finished: Option<VecDeque<usize>>,
}

impl Index<usize> for Slots {
    type Output = Slot;
    /// Slot `id`.
    ///
    /// # Panics
    /// Its child was removed: the caller kept an id it had handed back.
    fn index(&self, id: usize) -> &Slot {
        self.get(id).expect("a removed child's slot")
    }
}

impl IndexMut<usize> for Slots {
    fn index_mut(&mut self, id: usize) -> &mut Slot {
        self.get_mut(id).expect("a removed child's slot")
    }
}

impl Slots {
    /// Puts `slot` at index `id` (the core's number for it): a removed
    /// child's place, or the next one.
    pub(crate) fn put(&mut self, id: usize, slot: Slot) {
        if id < self.list.len() {
            debug_assert!(self.list[id].is_none(), "a place held by a child");
            self.list[id] = Some(slot);
        } else {
            debug_assert_eq!(id, self.list.len());
            // As the scheduler's children: room for one first (a slot is
            // large; four of them would take malloc's slow path).
            if self.list.capacity() == 0 {
                self.list.reserve_exact(1);
            }
            self.list.push(Some(slot));
        }
    }

    /// Slot `id`'s child was removed (its result taken): its place is
    /// empty, for the next child.
    pub(crate) fn removed(&mut self, id: usize) {
        if let Some(place) = self.list.get_mut(id)
            && place.take().is_some()
        {
            self.removed += 1;
        }
    }

    /// The number of places (children held, and removed children's places).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Slot `id`, unless its child was removed.
    pub(crate) fn get(&self, id: usize) -> Option<&Slot> {
        self.list.get(id)?.as_ref()
    }

    /// Slot `id`, unless its child was removed.
    pub(crate) fn get_mut(&mut self, id: usize) -> Option<&mut Slot> {
        self.list.get_mut(id)?.as_mut()
    }

    /// The slots held, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.list.iter().flatten()
    }

    /// The slots held, in id order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.list.iter_mut().flatten()
    }

    /// The slots held with their ids.
    pub(super) fn enumerate(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.as_ref()?)))
    }

    /// The first slot held (for an error's program name).
    pub(crate) fn first(&self) -> Option<&Slot> {
        self.iter().next()
    }

    /// Finished children removed so far.
    pub(crate) fn removed_count(&self) -> usize {
        self.removed
    }

    /// Queues finished slots from now on.
    pub(crate) fn track_finished(&mut self) {
        self.finished.get_or_insert_with(VecDeque::new);
    }

    /// Slot `id` finished: queued if finished slots are tracked.
    pub(crate) fn note_finished(&mut self, id: usize) {
        if let Some(q) = &mut self.finished {
            q.push_back(id);
        }
    }

    /// The next finished slot not handed out yet.
    pub(crate) fn next_finished(&mut self) -> Option<usize> {
        self.finished.as_mut()?.pop_front()
    }

    /// Whether a finished slot waits to be handed out.
    pub(crate) fn has_finished_pending(&self) -> bool {
        self.finished.as_ref().is_some_and(|q| !q.is_empty())
    }

    /// Takes over the children adopted from a `Child` being dropped: the
    /// engine's now, so that its drop or failure stops them too.
    pub(crate) fn own_children(&mut self) {
        for s in self.iter_mut() {
            s.owner = Owner::Engine;
        }
    }

    /// The unfinished children the engine started: their slots and names.
    pub(crate) fn unfinished(&self) -> Vec<(usize, String)> {
        self.enumerate()
            .filter(|(_, s)| s.owner == Owner::Engine && !s.is_finished())
            .map(|(i, s)| (i, s.name.clone()))
            .collect()
    }

    /// Whether a child the engine started is not finished.
    pub(crate) fn has_unfinished(&self) -> bool {
        self.iter()
            .any(|s| s.owner == Owner::Engine && !s.is_finished())
    }

    /// KILL to every unfinished child the engine started and to what
    /// contains it, reaped in the background.
    pub(crate) fn kill_unfinished(&mut self) {
        for s in self.iter_mut() {
            if s.owner != Owner::Engine || s.is_finished() {
                continue;
            }
            if let Some(p) = s.process.take() {
                p.kill_all();
                crate::reaper::reap_later(p);
            }
        }
    }

    /// The fd a traced step is about, if it is about one.
    pub(super) fn fd_of(&self, child: ChildId, stream: Option<Stream>) -> Option<i32> {
        use std::os::fd::AsRawFd;
        let slot = self.get(child.0)?;
        match stream {
            Some(s) => slot.fds[s].as_ref().map(AsRawFd::as_raw_fd),
            None => slot
                .process
                .as_ref()
                .and_then(|p| p.pidfd())
                .map(|fd| fd.as_raw_fd()),
        }
    }

    pub(super) fn event_fd(&self, event: &Event) -> Option<i32> {
        match *event {
            Event::Readable { child, stream }
            | Event::Read { child, stream, .. }
            | Event::ReadWouldBlock { child, stream }
            | Event::Eof { child, stream } => self.fd_of(child, Some(stream)),
            Event::Writable { child }
            | Event::Wrote { child, .. }
            | Event::WriteWouldBlock { child }
            | Event::WriteBroken { child } => self.fd_of(child, Some(Stream::Stdin)),
            Event::Exited { child, .. } => self.fd_of(child, None),
            _ => None,
        }
    }

    pub(super) fn output_fd(&self, out: &CoreOutput) -> Option<i32> {
        match out {
            CoreOutput::Action(
                Action::Read { child, stream, .. }
                | Action::Close { child, stream, .. }
                | Action::Interest { child, stream, .. },
            ) => self.fd_of(*child, Some(*stream)),
            CoreOutput::Action(Action::Write { child, .. }) => {
                self.fd_of(*child, Some(Stream::Stdin))
            }
            _ => None,
        }
    }

    /// Moves every slot out (for an engine handed to the reaper), leaving
    /// none; the queue of finished ones is not the new owner's.
    pub(crate) fn take(&mut self) -> Slots {
        Slots {
            list: std::mem::take(&mut self.list),
            removed: 0,
            finished: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;
    use crate::driver::slot::{Owner, Slot, Start};

    fn adopted() -> Slot {
        Slot::new("x".to_owned(), Start::Adopted, Owner::Child)
    }

    /// Places are the core's numbers: a removed one is reused in place;
    /// finished slots are queued only once tracked, in finishing order.
    #[test]
    fn places_are_reused_and_finished_slots_queued_in_order() {
        let mut slots = Slots::default();
        slots.put(0, adopted());
        slots.put(1, adopted());
        slots.note_finished(0);
        assert_eq!(slots.next_finished(), None, "not tracked yet");
        slots.track_finished();
        slots.note_finished(1);
        slots.note_finished(0);
        assert!(slots.has_finished_pending());
        assert_eq!(slots.next_finished(), Some(1));
        assert_eq!(slots.next_finished(), Some(0));
        assert!(!slots.has_finished_pending());
        slots.removed(1);
        assert_eq!(slots.removed_count(), 1);
        assert!(slots.get(1).is_none(), "a removed place is empty");
        assert_eq!(slots.iter().count(), 1, "an empty place is not a slot");
        slots.removed(1);
        assert_eq!(slots.removed_count(), 1, "removed once");
        slots.put(1, adopted());
        assert_eq!(slots.len(), 2, "the removed place was reused");
        assert!(slots.get(1).is_some());
    }
}
