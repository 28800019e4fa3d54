//! The timer heap: a min-heap of `(deadline, child, timer, generation)` with
//! lazy deletion.
//!
//! Arming or cancelling a timer bumps the child's generation for it; an
//! entry whose generation is no longer current (or whose child finished) is
//! stale and is dropped when it reaches the top. Each operation is
//! `O(log n)` in the number of entries. A child arms each timer at most
//! once, except the group probe, which is re-armed only after its entry
//! fired (popped), so the heap holds a few entries per child at most.
//! Generations are carried over when a removed child's slot is reused, so
//! its entries stay stale for the successor.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;

use crate::child::{Child, TIMERS, timer_ix};
use crate::types::{ChildId, ChildState, Timer, Timestamp};

/// One armed timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    pub at: Timestamp,
    pub child: usize,
    pub timer: usize,
    pub generation: u32,
}

impl Entry {
    pub fn timer(&self) -> Timer {
        TIMERS[self.timer]
    }

    pub fn child(&self) -> ChildId {
        ChildId(self.child)
    }
}

/// The heap.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
}

impl Timers {
    /// Arms `timer` of `child` (index `c`) at `at`, replacing any earlier arming.
    pub fn arm(&mut self, c: usize, child: &mut Child, timer: Timer, at: Timestamp) {
        let t = timer_ix(timer);
        child.timer_gen[t] = child.timer_gen[t].wrapping_add(1);
        self.heap.push(Reverse(Entry {
            at,
            child: c,
            timer: t,
            generation: child.timer_gen[t],
        }));
    }

    /// Cancels `timer` of `child` (its heap entry goes stale).
    pub fn cancel(child: &mut Child, timer: Timer) {
        let t = timer_ix(timer);
        child.timer_gen[t] = child.timer_gen[t].wrapping_add(1);
    }

    fn live(children: &[Child], e: &Entry) -> bool {
        let ch = &children[e.child];
        ch.state() != ChildState::Finished && ch.timer_gen[e.timer] == e.generation
    }

    /// Removes and returns the earliest live entry due at `now`, dropping
    /// stale entries on the way.
    pub fn pop_due(&mut self, children: &[Child], now: Timestamp) -> Option<Entry> {
        while let Some(&Reverse(top)) = self.heap.peek() {
            if top.at > now {
                return None;
            }
            self.heap.pop();
            if Self::live(children, &top) {
                return Some(top);
            }
        }
        None
    }

    /// The earliest live entry, dropping stale entries on the way.
    pub fn next(&mut self, children: &[Child]) -> Option<Entry> {
        while let Some(&Reverse(top)) = self.heap.peek() {
            if Self::live(children, &top) {
                return Some(top);
            }
            self.heap.pop();
        }
        None
    }

    /// Entries in the heap, stale ones included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
