//! [`Child::lines`]: the lines of a running child's stdout and stderr as
//! they arrive, read through the child's one engine (both pipes drained
//! together, [`Until::AnyRead`] after each read). The lines are cut
//! straight out of the engine's collecting sinks, so whatever was read and
//! not handed out stays there for a later `communicate`.

use std::time::Instant;

use spawn_core::Stream;

use super::Child;
use super::drive::{Drove, Feed, HeldRun, State};
use crate::driver::Until;
use crate::line_cut::Cut;
use crate::{Chunk, Error, StreamName};

const STREAMS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

/// The iterator of [`Child::lines`]; the async `AsyncChild::lines` cuts
/// its lines with it too ([`ready`](Self::ready), [`driven`](Self::driven)),
/// driving the engine itself.
pub(crate) struct Lines<'c> {
    pub(crate) run: &'c mut HeldRun,
    /// When the child started (the lines' `at`).
    started: Instant,
    /// Per stream (stdout, stderr): where the cutting of its buffer stands.
    cuts: [Cut; 2],
    /// The iterator has ended.
    done: bool,
}

/// The buffer a stream's lines are cut from: the engine's collecting sink
/// while one runs, else what a finished wait kept.
fn buffer(st: &mut State, stream: Stream) -> Option<&mut Vec<u8>> {
    if let Some(e) = st.engine.as_mut() {
        return e.collected(0, stream);
    }
    match st.finished.as_mut() {
        Some(Ok(out)) => Some(if stream == Stream::Stdout {
            &mut out.stdout
        } else {
            &mut out.stderr
        }),
        _ => None,
    }
}

/// What [`Lines::ready`] found.
pub(crate) enum Ready {
    Line(Chunk),
    /// Both streams are at their end.
    End,
    /// No whole line yet: drive the engine until something is read
    /// (`Until::AnyRead`), then tell [`Lines::driven`].
    Read,
}

/// Whether more may still be read into the stream's buffer.
fn reading(st: &State, stream: Stream) -> bool {
    st.engine.as_ref().is_some_and(|e| e.reading(0, stream))
}

impl<'c> Lines<'c> {
    pub(crate) fn new(run: &'c mut HeldRun, started: Instant) -> Self {
        Lines {
            run,
            started,
            cuts: [Cut::default(); 2],
            done: false,
        }
    }

    /// The next line already read, or what to do for one.
    pub(crate) fn ready(&mut self) -> Ready {
        loop {
            if let Some(chunk) = self.cut() {
                return Ready::Line(chunk);
            }
            if self.done {
                return Ready::End;
            }
            let st = self.run.state_mut();
            let held = st.pipes[0].stdout.is_some() || st.pipes[0].stderr.is_some();
            let more = match &st.engine {
                Some(_) => STREAMS.iter().any(|&s| reading(st, s)),
                // Nothing was driven yet: only pipes we hold can have lines.
                None => st.finished.is_none() && held,
            };
            if !more {
                // Both streams are at their end (partial last lines were
                // cut above, `open` being false): done, without waiting for
                // the exit.
                self.done = true;
                continue;
            }
            // The engine's sink may be bounded: give it back the room of
            // the lines handed out before it reads more.
            self.compact();
            return Ready::Read;
        }
    }

    /// After a drive on [`Ready::Read`]: its outcome, an error handed back
    /// (the lines end after it).
    pub(crate) fn driven(&mut self, drove: Result<Drove, Error>) -> Option<Error> {
        match drove {
            Ok(Drove::Reached | Drove::Stopped | Drove::Reaped) => None,
            Ok(Drove::Done(_)) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(e)
            }
        }
    }

    /// The next line already in a buffer, if any.
    fn cut(&mut self) -> Option<Chunk> {
        let st = self.run.state_mut();
        for (k, &stream) in STREAMS.iter().enumerate() {
            let open = reading(st, stream);
            let Some(buf) = buffer(st, stream) else {
                continue;
            };
            let Some(line) = self.cuts[k].next(buf, open) else {
                continue;
            };
            let chunk = Chunk {
                stream: if stream == Stream::Stdout {
                    StreamName::Stdout
                } else {
                    StreamName::Stderr
                },
                at: self.started.elapsed(),
                data: line.to_vec(),
            };
            return Some(chunk);
        }
        None
    }

    /// Drops the lines handed out from the front of the buffers.
    fn compact(&mut self) {
        let st = self.run.state_mut();
        for (k, &stream) in STREAMS.iter().enumerate() {
            self.cuts[k].compact(buffer(st, stream));
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Result<Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.ready() {
                Ready::Line(chunk) => return Some(Ok(chunk)),
                Ready::End => return None,
                Ready::Read => {}
            }
            let drove = self
                .run
                .drive(Feed::LeaveOpen, None, Until::AnyRead, false, false);
            if let Some(e) = self.driven(drove) {
                return Some(Err(e));
            }
        }
    }
}

impl Drop for Lines<'_> {
    fn drop(&mut self) {
        self.compact();
    }
}

impl Child {
    /// Every line of the child's piped stdout and stderr as it arrives:
    /// [`Chunk::stream`] says which, [`Chunk::data`] is the line without
    /// its `\n` (a last line without one comes at EOF; a line longer than
    /// [`MAX_LINE`](crate::MAX_LINE) comes in pieces), [`Chunk::at`] is when it was cut,
    /// since the child started. Both pipes are drained together, so
    /// neither can block the child, through the same driver as
    /// [`communicate`](Self::communicate) (the command's timeout, token and
    /// forwarded signals apply). The command's own
    /// [`input`](crate::Command::input) is fed (then stdin is closed);
    /// without one, the stdin the `Child` holds stays open, as
    /// [`wait_timeout`](Self::wait_timeout) leaves it: a later
    /// [`communicate`](Self::communicate) delivers its input, then closes
    /// it. A child that reads its stdin to the end before it writes needs
    /// that end first: take the stdin ([`take_stdin`](Self::take_stdin)),
    /// write to it and drop it before the lines.
    ///
    /// What the iterator has read and not yielded stays in the `Child`:
    /// break out of the loop, and a later `communicate` (or the next
    /// `lines`) returns the rest, each byte once. The iterator ends when
    /// both streams are at EOF; then [`wait`](Self::wait) gives the status
    /// (or the timeout or cancel that ended the child). Streams routed to a
    /// sink other than a collecting one ([`Stdio::piped`](crate::Stdio::piped),
    /// [`Sink::collect`](crate::Sink::collect)) yield no lines: their bytes go
    /// to that sink.
    ///
    /// # Errors
    /// An item is an error when the driver failed (e.g. `epoll_wait`); the
    /// iterator ends after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, StreamName};
    /// let mut child = Command::shell("echo one; echo two >&2; echo three")
    ///     .capture_output()
    ///     .spawn()?;
    /// let mut out = Vec::new();
    /// for line in child.lines() {
    ///     let line = line?;
    ///     if line.stream == StreamName::Stdout {
    ///         out.push(String::from_utf8(line.data).unwrap());
    ///     }
    /// }
    /// assert_eq!(out, ["one", "three"]);
    /// assert!(child.wait()?.success());
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn lines(&mut self) -> impl Iterator<Item = Result<Chunk, Error>> + '_ {
        Lines::new(&mut self.solo.run, self.solo.started)
    }
}
