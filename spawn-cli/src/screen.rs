//! Our own stdout and stderr, for every subcommand: every byte the tool
//! writes goes through here, under one lock, so that
//!
//! - a write error on stdout is seen: `EPIPE` (the reader went away, as
//!   with `| head`) ends the run quietly with 141, any other error (a full
//!   disk) is an error naming the cause, with 125;
//! - the progress line of `spawn many` (on stderr, only when stderr is a
//!   terminal) is erased before any output and redrawn below it, so no
//!   output line ever shares a terminal line with it; output on the
//!   terminal that did not end its line (`printf tail`) is ended first (a
//!   newline on the terminal only), so erasing the progress line never
//!   erases it, and our own messages start on a line of their own.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Erases the current terminal line and returns to its start.
const ERASE: &[u8] = b"\r\x1b[2K";

/// The progress line is redrawn at most this often by output; a tick
/// redraws it when output left it erased.
const REDRAW_EVERY: Duration = Duration::from_millis(50);

/// Why writing to our stdout failed.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// The reader of stdout went away (`EPIPE`).
    BrokenPipe,
    /// Another error, e.g. `ENOSPC`.
    Error(String),
}

impl Failure {
    /// The exit code for it: 141 (128 + SIGPIPE, as a shell reports a
    /// process killed by it) for a broken pipe, else 125.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Failure::BrokenPipe => 141,
            Failure::Error(_) => 125,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BrokenPipe => f.write_str("cannot write to stdout: broken pipe"),
            Failure::Error(e) => write!(f, "cannot write to stdout: {e}"),
        }
    }
}

#[derive(Default)]
struct State {
    /// The progress text, if a progress line is shown.
    progress: Option<String>,
    /// Whether it is on the terminal now.
    drawn: bool,
    /// Whether the last output that reached the terminal did not end its
    /// line: the cursor is after it, on the line the progress would erase.
    mid_line: bool,
    last_draw: Option<Instant>,
    /// The first failure to write to stdout; later writes are not tried.
    failed: Option<Failure>,
}

/// Our stdout and stderr; see the module docs.
pub(crate) struct Screen {
    state: Mutex<State>,
    /// Whether stderr is a terminal (the progress line is drawn only then).
    tty: bool,
    /// Whether stdout is a terminal too (its output shares the screen).
    stdout_tty: bool,
    /// No progress line at all: the terminal is the jobs' (`--tty`).
    progress_off: std::sync::atomic::AtomicBool,
}

/// The one [`Screen`] of the process.
pub(crate) fn screen() -> &'static Screen {
    static SCREEN: OnceLock<Screen> = OnceLock::new();
    SCREEN.get_or_init(|| Screen {
        state: Mutex::new(State::default()),
        tty: io::stderr().is_terminal(),
        stdout_tty: io::stdout().is_terminal(),
        progress_off: std::sync::atomic::AtomicBool::new(false),
    })
}

fn stderr_raw(data: &[u8]) {
    let mut e = io::stderr().lock();
    let _ = e.write_all(data);
    let _ = e.flush();
}

impl Screen {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a progress line can be shown (stderr is a terminal).
    pub(crate) fn is_terminal(&self) -> bool {
        self.tty
    }

    fn erase(&self, st: &mut State) {
        if st.drawn {
            stderr_raw(ERASE);
            st.drawn = false;
        }
    }

    /// Records where `data`, written to a stream on the terminal, left the
    /// cursor.
    fn wrote_on_terminal(st: &mut State, data: &[u8]) {
        if let Some(&last) = data.last() {
            st.mid_line = last != b'\n';
        }
    }

    /// Ends a line that output left unfinished on the terminal (on stderr:
    /// the bytes of stdout stay as the job wrote them).
    fn end_line(&self, st: &mut State) {
        if self.tty && st.mid_line {
            stderr_raw(b"\n");
            st.mid_line = false;
        }
    }

    fn draw(&self, st: &mut State, force: bool) {
        if !self.tty || st.drawn || st.progress.is_none() {
            return;
        }
        let now = Instant::now();
        if !force && st.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) {
            return;
        }
        self.end_line(st);
        let text = st.progress.as_deref().unwrap_or_default();
        stderr_raw(text.as_bytes());
        st.drawn = true;
        st.last_draw = Some(now);
    }

    /// Writes `data` to stdout (all of it, flushed), below nothing: the
    /// progress line is erased first and redrawn after.
    ///
    /// # Errors
    /// Writing failed, now or before: the first failure.
    pub(crate) fn out(&self, data: &[u8]) -> Result<(), Failure> {
        let mut st = self.lock();
        if let Some(f) = &st.failed {
            return Err(f.clone());
        }
        self.erase(&mut st);
        let mut o = io::stdout().lock();
        let r = o.write_all(data).and_then(|()| o.flush());
        drop(o);
        if let Err(e) = r {
            let f = if e.kind() == io::ErrorKind::BrokenPipe {
                Failure::BrokenPipe
            } else {
                Failure::Error(e.to_string())
            };
            st.failed = Some(f.clone());
            return Err(f);
        }
        if self.stdout_tty {
            Self::wrote_on_terminal(&mut st, data);
        }
        self.draw(&mut st, false);
        Ok(())
    }

    /// Writes `data` to stderr, with the progress line erased first and
    /// redrawn after. Errors are ignored (there is nowhere to report them).
    pub(crate) fn err(&self, data: &[u8]) {
        let mut st = self.lock();
        self.erase(&mut st);
        self.err_locked(&mut st, data);
    }

    fn err_locked(&self, st: &mut State, data: &[u8]) {
        stderr_raw(data);
        if self.tty {
            Self::wrote_on_terminal(st, data);
        }
        self.draw(st, false);
    }

    /// A message on stderr: `spawn: {msg}` or `spawn {cmd}: {msg}`, on a
    /// line of its own.
    pub(crate) fn note(&self, msg: &str) {
        let mut st = self.lock();
        self.erase(&mut st);
        self.end_line(&mut st);
        self.err_locked(&mut st, format!("{msg}\n").as_bytes());
    }

    /// Shows no progress line from now on (`spawn many --tty`: the jobs
    /// draw on the terminal, and a progress line redrawn there would write
    /// over their screen and prompts).
    pub(crate) fn no_progress(&self) {
        self.progress_off
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Shows `text` as the progress line (only on a terminal), replacing
    /// the one shown.
    pub(crate) fn progress(&self, text: String) {
        if !self.tty || self.progress_off.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut st = self.lock();
        if st.progress.as_deref() == Some(text.as_str()) && st.drawn {
            return;
        }
        self.erase(&mut st);
        st.progress = Some(text);
        self.draw(&mut st, true);
    }

    /// Redraws the progress line if output erased it.
    pub(crate) fn tick(&self) {
        let mut st = self.lock();
        self.draw(&mut st, true);
    }

    /// Removes the progress line for good.
    pub(crate) fn clear_progress(&self) {
        let mut st = self.lock();
        self.erase(&mut st);
        st.progress = None;
    }

    /// The first failure to write to stdout, if any.
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.lock().failed.clone()
    }
}

/// The exit code after a stdout failure, with the failure said on stderr
/// unless it is a broken pipe (which ends a run quietly, as for `yes | head`).
pub(crate) fn failure_code(f: &Failure) -> i32 {
    if let Failure::Error(_) = f {
        screen().note(&format!("spawn: {f}"));
    }
    f.exit_code()
}

/// `code`, unless writing to stdout failed: then the code of that failure.
pub(crate) fn or_failure(code: i32) -> i32 {
    screen().failure().map_or(code, |f| failure_code(&f))
}
