//! [`Command::run_lines`]: a blocking run whose lines go to a closure
//! that may borrow from the caller (count into a local, push into a `Vec`
//! on the stack), where [`Sink::lines`](crate::Sink::lines) needs a
//! `'static + Send` one. The run is `run`'s engine, driven until each read
//! ([`Until::AnyRead`]); the lines are cut out of its collecting sinks with
//! the same [`Cut`] as [`Child::lines`](crate::Child::lines), handed to the
//! closure on the calling thread and dropped, so memory stays at one
//! pipe's read however long the output.

use spawn_core::Stream;

use crate::driver::{Driving, Ran, Until};
use crate::line_cut::Cut;
use crate::{Command, Error, Output, StreamName};

const STREAMS: [(Stream, StreamName); 2] = [
    (Stream::Stdout, StreamName::Stdout),
    (Stream::Stderr, StreamName::Stderr),
];

impl Command {
    /// Runs the command like [`run`](Self::run) and calls `f` with each
    /// line of its output as it arrives, on the calling thread: the stream
    /// it came from and the line without its `\n` (a last line without one
    /// comes at EOF; a line longer than [`MAX_LINE`](crate::MAX_LINE)
    /// comes in pieces). Unlike [`Sink::lines`](crate::Sink::lines), `f`
    /// may borrow from the caller: it lives only as long as the call.
    ///
    /// Stdout is collected for its lines unless routed elsewhere; stderr
    /// gives lines when it is piped ([`Stdio::piped`](crate::Stdio::piped)
    /// or [`Sink::collect`](crate::Sink::collect)), and goes where it is
    /// routed otherwise (inherited by default). A stream routed to another
    /// sink (a file, `discard`, `Sink::lines`) gives no lines here. The
    /// lines handed to `f` are not kept: the returned [`Output`]'s
    /// `stdout` and `stderr` are empty, its report counts the bytes.
    ///
    /// # Errors
    /// As [`run`](Self::run). A panic in `f` unwinds through the run (the
    /// child is killed and reaped).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, StreamName};
    /// let mut count = 0;
    /// let mut last = Vec::new();
    /// let out = Command::new("seq").arg("1000").run_lines(|stream, line| {
    ///     assert_eq!(stream, StreamName::Stdout);
    ///     count += 1;
    ///     last = line.to_vec();
    /// })?;
    /// assert!(out.status.success());
    /// assert_eq!(count, 1000);
    /// assert_eq!(last, b"1000");
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn run_lines<F>(&self, mut f: F) -> Result<Output, Error>
    where
        F: FnMut(StreamName, &[u8]),
    {
        let cmd = self.with_default_stdout();
        let (mut engine, ix) = crate::run_one::one(&cmd, None, crate::wiring::Stops::ByCommand)?;
        engine.set_driving(Driving::InCall);
        let mut cuts = [Cut::default(); 2];
        loop {
            let ran = engine.run_until(None, Until::AnyRead)?;
            for (cut, &(stream, name)) in cuts.iter_mut().zip(&STREAMS) {
                let open = engine.reading(ix, stream);
                let Some(buf) = engine.collected(ix, stream) else {
                    continue;
                };
                while let Some(line) = cut.next(buf, open) {
                    f(name, line);
                }
                cut.compact(Some(buf));
            }
            if ran == Ran::Done {
                return crate::finish::result(&mut engine, ix);
            }
        }
    }
}
