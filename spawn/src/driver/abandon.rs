//! An engine dropped before its children finished: it hands itself to the
//! background reaper once (`Engine::abandon`), which drives the teardown
//! to its end; a second drop, or a drop in a panic, kills.

use std::io;
use std::time::Instant;

use super::Engine;
use crate::Error;

/// Whether an engine was handed to the background reaper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Abandoned {
    No,
    /// Once already: a second drop kills.
    Once,
}

impl crate::reaper::Abandoned for Engine<'static> {
    fn drive_now(&mut self) -> Result<Option<Option<Instant>>, Error> {
        Engine::drive_now(self)
    }

    fn epoll_fd(&mut self) -> io::Result<std::os::fd::BorrowedFd<'_>> {
        Engine::epoll_fd(self)
    }

    fn kill_unfinished(&mut self) {
        self.slots.kill_unfinished();
    }
}

impl Drop for Engine<'_> {
    /// An engine dropped before its children finished (a future or an
    /// iterator dropped, an early return) stops them with the normal
    /// teardown (the stop signal to each child and its group, the grace,
    /// KILL) and hands itself to the background reaper, which drives that
    /// teardown to its end and reaps them: none is left running unobserved,
    /// none becomes a zombie, and the dropping thread does not block. In a
    /// panic (a sink callback's) it cannot be trusted to run on: KILL to
    /// every child and its group, reaped in the background.
    fn drop(&mut self) {
        if !self.slots.has_unfinished() {
            return;
        }
        if self.abandoned == Abandoned::No && !std::thread::panicking() {
            if let Some(engine) = self.abandon() {
                crate::reaper::drive_later(Box::new(engine));
                return;
            }
        }
        self.slots.kill_unfinished();
    }
}
