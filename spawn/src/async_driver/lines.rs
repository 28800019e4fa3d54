//! [`AsyncChild::lines`](super::AsyncChild::lines): the blocking
//! [`Child::lines`](crate::Child::lines), awaited. The lines are cut by the
//! same cutter (`child/lines.rs`: out of the engine's collecting sinks, what
//! is not yielded stays for a later `communicate` or `wait`); only the
//! drive until something is read is the async driver's.

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use super::drive::Waiter;
use crate::child::{Drove, Feed, Lines, Ready};
use crate::driver::Until;
use crate::{Chunk, Error};

/// The lines of an [`AsyncChild`](super::AsyncChild)'s stdout and stderr
/// as they arrive ([`AsyncChild::lines`](super::AsyncChild::lines)): take
/// them with [`next`](Self::next)`.await`, or poll it as a
/// `futures_core::Stream`.
pub struct AsyncLines<'c> {
    lines: Lines<'c>,
    waiter: Waiter,
}

impl fmt::Debug for AsyncLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncLines").finish_non_exhaustive()
    }
}

impl<'c> AsyncLines<'c> {
    pub(super) fn new(lines: Lines<'c>) -> Self {
        let waiter = Waiter::new(&lines.run.name);
        AsyncLines { lines, waiter }
    }

    /// The next line of stdout or stderr (see
    /// [`Child::lines`](crate::Child::lines) for what a line is); `None`
    /// once both streams are at their end. Cancel-safe: dropping the future
    /// before it completes loses nothing (what was read stays for the next
    /// call, or for `communicate`).
    pub async fn next(&mut self) -> Option<Result<Chunk, Error>> {
        poll_fn(|cx| self.poll_line(cx)).await
    }

    fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk, Error>>> {
        loop {
            match self.lines.ready() {
                Ready::Line(chunk) => return Poll::Ready(Some(Ok(chunk))),
                Ready::End => return Poll::Ready(None),
                Ready::Read => {}
            }
            let drove = match self.lines.run.engine_mut(Feed::LeaveOpen) {
                Ok(engine) => match self.waiter.poll_drive(engine, Until::AnyRead, cx) {
                    // Something was read, or the child is finished: the
                    // cutter sees which (its streams no longer read).
                    Poll::Ready(Ok(())) => Ok(Drove::Reached),
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) => Err(e),
            };
            if let Some(e) = self.lines.driven(drove) {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl futures_core::Stream for AsyncLines<'_> {
    type Item = Result<Chunk, Error>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_line(cx)
    }
}
