//! [`Sink`]: where the bytes a child writes to stdout or stderr go, chosen by
//! the caller, with memory bounded by that choice; and [`Log`], a merged,
//! stream-tagged record of both streams.
//!
//! A `Sink` is a description, cheap to clone: each run instantiates its own
//! state (a fresh buffer for `collect`, the file opened anew for `file`), so a
//! [`Command`](crate::Command) holding one stays reusable. Sinks that call
//! back into the caller (`lines`, `writer`) share the callback or writer
//! between clones.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::StreamName;

mod file;
pub(crate) mod offload;
pub(crate) mod open;
pub(crate) use file::{FileSink, Stalled};
pub(crate) use offload::Pool;
pub(crate) use open::open_pair;

type LineFn = dyn FnMut(&[u8]) + Send;

/// Where a stream's bytes go: a description, cheap to clone; each run
/// makes its own state (a fresh buffer, the file opened anew), so a
/// `Command` holding one stays reusable.
///
/// | sink                      | memory held                      | in `Output` |
/// |---------------------------|----------------------------------|-------------|
/// | `collect()`               | all output                       | all         |
/// | `collect_limit(n)`        | ≤ n                              | first n     |
/// | `head_tail(h, t)`         | ≤ h + t                          | head + tail |
/// | `lines(f)`                | ≤ one line (split past 1 MiB)    | nothing     |
/// | `writer(w)`               | ≤ 1 MiB + one read (hand-off)    | nothing     |
/// | `file(p)`                 | nothing (≤ one read, full FIFO)  | nothing     |
/// | `discard()`               | nothing                          | nothing     |
/// | `tee(a, b)`               | both                             | a's, else b's |
///
/// # Examples
///
/// ```
/// use spawn::{Command, Sink};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let seen2 = Arc::clone(&seen);
/// let out = Command::shell("seq 1 100000; echo done >&2")
///     .stdout(Sink::head_tail(6, 7))               // keep "1\n2\n3\n" and "100000\n"
///     .stderr(Sink::lines(move |line| seen2.lock().unwrap().push(line.to_vec())))
///     .run()?;
/// assert!(out.stdout.starts_with(b"1\n2\n3\n"));
/// assert!(out.stdout.ends_with(b"100000\n"));
/// assert_eq!(out.report.stdout_bytes, 588895);
/// assert_eq!(*seen.lock().unwrap(), vec![b"done".to_vec()]);
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone)]
pub struct Sink(pub(crate) SinkKind);

#[derive(Clone)]
pub(crate) enum SinkKind {
    Collect { limit: Option<usize>, error: bool },
    HeadTail { head: usize, tail: usize },
    Lines(Arc<Mutex<LineFn>>),
    Writer(Arc<Mutex<dyn Write + Send>>),
    File { path: PathBuf, append: bool },
    Discard,
    Tee(Box<Sink>, Box<Sink>),
    Log(Log),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            SinkKind::Collect { limit: None, .. } => f.write_str("Sink::collect()"),
            SinkKind::Collect {
                limit: Some(n),
                error,
            } => write!(
                f,
                "Sink::collect_limit({n}){}",
                if *error { ".error_on_overflow()" } else { "" }
            ),
            SinkKind::HeadTail { head, tail } => write!(f, "Sink::head_tail({head}, {tail})"),
            SinkKind::Lines(_) => f.write_str("Sink::lines(..)"),
            SinkKind::Writer(_) => f.write_str("Sink::writer(..)"),
            SinkKind::File { path, append } => write!(f, "Sink::file({path:?}, append: {append})"),
            SinkKind::Discard => f.write_str("Sink::discard()"),
            SinkKind::Tee(a, b) => write!(f, "Sink::tee({a:?}, {b:?})"),
            SinkKind::Log(_) => f.write_str("Sink::log(..)"),
        }
    }
}

/// Lines longer than this are delivered in pieces of this size, so that a
/// child printing without newlines cannot grow a `lines` sink without bound.
pub const MAX_LINE: usize = 1 << 20;

impl Sink {
    /// Keep every byte (what `Stdio::piped()` does for stdout and stderr).
    #[must_use]
    pub fn collect() -> Self {
        Sink(SinkKind::Collect {
            limit: None,
            error: false,
        })
    }

    /// Keep the first `n` bytes and count the rest without keeping them
    /// (`report.stdout_dropped`). Call [`error_on_overflow`](Self::error_on_overflow)
    /// to stop the child with [`Error::OutputLimit`](crate::Error::OutputLimit) instead.
    #[must_use]
    pub fn collect_limit(n: usize) -> Self {
        Sink(SinkKind::Collect {
            limit: Some(n),
            error: false,
        })
    }

    /// For [`collect_limit`](Self::collect_limit): past the limit, stop the
    /// child (TERM to its group, KILL after the grace) and fail with
    /// [`Error::OutputLimit`](crate::Error::OutputLimit), which carries the
    /// bytes kept. Other sinks are returned unchanged.
    #[must_use]
    pub fn error_on_overflow(self) -> Self {
        match self.0 {
            SinkKind::Collect { limit, .. } => Sink(SinkKind::Collect { limit, error: true }),
            other => Sink(other),
        }
    }

    /// Keep the first `head` and the last `tail` bytes; `Output` holds the
    /// two joined, and the report counts the bytes dropped between them.
    #[must_use]
    pub fn head_tail(head: usize, tail: usize) -> Self {
        Sink(SinkKind::HeadTail { head, tail })
    }

    /// Call `f` with each line as it arrives, without its `\n` (a final line
    /// without one is delivered at EOF). Lines longer than [`MAX_LINE`] come
    /// in pieces. Nothing is kept in `Output`.
    ///
    /// `f` runs on a sink worker thread of the run, one call at a time,
    /// in the order of the lines: a slow `f` pauses this stream only (the
    /// child blocks on its pipe once 1 MiB waits for `f`); the run ends
    /// after the last line was delivered. A panic in `f` unwinds through
    /// the run. It must be
    /// `'static`: to count into a local or borrow anything else of the
    /// caller's, use [`Command::run_lines`](crate::Command::run_lines).
    #[must_use]
    pub fn lines<F>(f: F) -> Self
    where
        F: FnMut(&[u8]) + Send + 'static,
    {
        Sink(SinkKind::Lines(Arc::new(Mutex::new(f))))
    }

    /// Write every byte to `w` as it arrives (blocking writes, e.g. to a
    /// `Vec`, a socket or `io::stderr()`). An error from `w` stops writing to
    /// it; the rest of the stream is read and dropped, and the run returns
    /// [`Error::Io`](crate::Error::Io).
    ///
    /// `w` is written on a sink worker thread of the run, never on the
    /// thread (or async runtime thread) driving it: a slow or blocking
    /// `w` pauses this stream only (the child blocks on its pipe once
    /// 1 MiB waits for `w`), every other stream and child goes on. What
    /// waits is written in one call. The run ends after `w` took every
    /// byte and was flushed (not flushed when the run gave it nothing).
    #[must_use]
    pub fn writer<W>(w: W) -> Self
    where
        W: Write + Send + 'static,
    {
        Sink(SinkKind::Writer(Arc::new(Mutex::new(w))))
    }

    /// Write every byte to the file at `path`, created or truncated when the
    /// run starts.
    ///
    /// Given for both stdout and stderr (the same path, or another path to
    /// the same file), the file is opened once and both streams write
    /// through that one open file, as `>p 2>&1` does: truncated once,
    /// neither overwriting the other (the order between the two streams is
    /// the order their bytes were read in). A FIFO must have a reader when
    /// the run starts: without one the run fails at once with
    /// [`Error::SinkFile`](crate::Error::SinkFile) instead of waiting.
    #[must_use]
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Sink(SinkKind::File {
            path: path.into(),
            append: false,
        })
    }

    /// Append every byte to the file at `path`, created if missing. Shared
    /// between stdout and stderr as [`file`](Self::file) is.
    #[must_use]
    pub fn append_file(path: impl Into<PathBuf>) -> Self {
        Sink(SinkKind::File {
            path: path.into(),
            append: true,
        })
    }

    /// Read and drop every byte (unlike `Stdio::null()`, the bytes are
    /// counted, and the child sees a pipe). The bytes are spliced from the
    /// pipe into `/dev/null`, so none is copied out of the kernel; the run
    /// holds one fd on `/dev/null` for that while it runs.
    #[must_use]
    pub fn discard() -> Self {
        Sink(SinkKind::Discard)
    }

    /// Send every byte to both `a` and `b`. `Output` holds what `a` keeps, or
    /// what `b` keeps when `a` keeps nothing.
    #[must_use]
    pub fn tee(a: impl Into<Sink>, b: impl Into<Sink>) -> Self {
        Sink(SinkKind::Tee(Box::new(a.into()), Box::new(b.into())))
    }

    /// Append the stream to `log`, each chunk tagged with its stream and
    /// arrival time. Give the same log to stdout and stderr to get one
    /// merged, ordered record that still knows which stream said what
    /// (which Python's `stderr=STDOUT` loses).
    #[must_use]
    pub fn log(log: &Log) -> Self {
        Sink(SinkKind::Log(log.clone()))
    }
}

/// One chunk of a [`Log`]: a stream, when it arrived, and the bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Chunk {
    /// Which stream it came from.
    #[serde(serialize_with = "ser_stream")]
    pub stream: StreamName,
    /// When it was read, since the log was created.
    pub at: Duration,
    /// The bytes, as read in one go (not split at lines).
    #[serde(serialize_with = "ser_lossy")]
    pub data: Vec<u8>,
}

fn ser_stream<S: serde::Serializer>(s: &StreamName, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&s.to_string())
}

fn ser_lossy<S: serde::Serializer>(d: &[u8], ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&String::from_utf8_lossy(d))
}

/// A merged, stream-tagged record of a child's output: each chunk with its
/// stream of origin and arrival time. Clones share the record.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Log, Sink, StreamName};
/// let log = Log::new();
/// Command::shell("echo out; echo err >&2")
///     .stdout(Sink::log(&log))
///     .stderr(Sink::log(&log))
///     .run()?;
/// let chunks = log.chunks();
/// assert!(chunks.iter().any(|c| c.stream == StreamName::Stderr && c.data == b"err\n"));
/// assert!(chunks.iter().any(|c| c.stream == StreamName::Stdout && c.data == b"out\n"));
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone)]
pub struct Log {
    inner: Arc<Mutex<LogInner>>,
}

struct LogInner {
    start: Instant,
    chunks: Vec<Chunk>,
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log").field("chunks", &self.len()).finish()
    }
}

impl Default for Log {
    fn default() -> Self {
        Self::new()
    }
}

impl Log {
    /// An empty log; arrival times count from now.
    #[must_use]
    pub fn new() -> Self {
        Log {
            inner: Arc::new(Mutex::new(LogInner {
                start: Instant::now(),
                chunks: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the chunks so far.
    #[must_use]
    pub fn chunks(&self) -> Vec<Chunk> {
        self.lock().chunks.clone()
    }

    /// Takes the chunks so far, leaving the log empty.
    #[must_use]
    pub fn take(&self) -> Vec<Chunk> {
        std::mem::take(&mut self.lock().chunks)
    }

    /// How many chunks are in the log.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().chunks.len()
    }

    /// Whether the log has no chunk.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&self, stream: StreamName, data: &[u8]) {
        let mut inner = self.lock();
        let at = inner.start.elapsed();
        inner.chunks.push(Chunk {
            stream,
            at,
            data: data.to_vec(),
        });
    }
}

/// Feeds `data` to a `lines` callback: each complete line without its `\n`,
/// the rest kept in `partial` for the next call. A line longer than
/// [`MAX_LINE`] comes in pieces of exactly `MAX_LINE` bytes and a last,
/// shorter one (never an empty one), whatever the reads were: a line of
/// exactly `MAX_LINE` bytes whose `\n` comes in a later read is one line.
/// `partial` never holds more than `MAX_LINE` bytes.
fn split_lines(partial: &mut Vec<u8>, data: &[u8], f: &mut LineFn) {
    let mut rest = data;
    loop {
        let nl = rest.iter().position(|&b| b == b'\n');
        let mut line = &rest[..nl.unwrap_or(rest.len())];
        // Full pieces first, so that `partial` stays within MAX_LINE.
        while partial.len() + line.len() > MAX_LINE {
            let take = MAX_LINE - partial.len();
            if partial.is_empty() {
                f(&line[..take]);
            } else {
                partial.extend_from_slice(&line[..take]);
                f(partial);
                partial.clear();
            }
            line = &line[take..];
        }
        let Some(nl) = nl else {
            partial.extend_from_slice(line);
            return;
        };
        if partial.is_empty() {
            f(line);
        } else {
            partial.extend_from_slice(line);
            f(partial);
            partial.clear();
        }
        rest = &rest[nl + 1..];
    }
}

/// Why a sink refused bytes.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// `collect_limit(n).error_on_overflow()` went past `n`.
    Overflow(usize),
    /// Writing to a writer or file failed.
    Io(io::Error),
}

/// What the engine waits for from a sink that cannot take bytes now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// Room for more bytes.
    Room,
    /// The stream's end done: every byte taken, the last line delivered,
    /// the writer flushed.
    Done,
}

/// Whether a sink can take bytes now, and if not, what says when.
pub(crate) enum Room<'a> {
    /// It can (or what was awaited is done).
    Now,
    /// Its worker rings the engine's sink pool (see `offload.rs`).
    Ring,
    /// This fd becomes writable (a full FIFO, pipe or socket).
    Writable(BorrowedFd<'a>),
}

/// The per-run state of a [`Sink`].
pub(crate) enum SinkState {
    Collect {
        buf: Vec<u8>,
        limit: Option<usize>,
        error: bool,
        dropped: u64,
    },
    HeadTail {
        head: Vec<u8>,
        head_max: usize,
        tail: VecDeque<u8>,
        tail_max: usize,
        dropped: u64,
    },
    Lines {
        partial: Vec<u8>,
        f: Arc<Mutex<LineFn>>,
    },
    Writer {
        w: Arc<Mutex<dyn Write + Send>>,
        failed: bool,
    },
    File(FileSink),
    /// A `Lines` or `Writer` state run off the driving thread.
    Handoff(offload::Handoff),
    Discard,
    Tee(Box<SinkState>, Box<SinkState>),
    Log {
        log: Log,
        stream: StreamName,
    },
}

/// Chunks at least this large are faulted in with one call before they are
/// copied into a collecting sink (see [`spawn_sys::mem::populate_write`]).
const PREFAULT_MIN: usize = 64 << 10;

impl SinkState {
    /// The file to `splice(2)` into, for a `file` sink where that works.
    pub(crate) fn splice_target(&self) -> Option<BorrowedFd<'_>> {
        match self {
            SinkState::File(f) => f.splice_target(),
            _ => None,
        }
    }

    /// A `file` sink's state (for what a splice found).
    pub(crate) fn file_mut(&mut self) -> Option<&mut FileSink> {
        match self {
            SinkState::File(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the sink drops every byte ([`Sink::discard`]): its bytes may
    /// go to `/dev/null` without being read out.
    pub(crate) fn discards(&self) -> bool {
        matches!(self, SinkState::Discard)
    }

    /// The kernel refused to splice: copy from now on.
    pub(crate) fn no_splice(&mut self) {
        if let SinkState::File(f) = self {
            f.splice = false;
        }
    }

    /// Writing to the file failed: drop the rest.
    pub(crate) fn fail(&mut self) {
        match self {
            SinkState::File(FileSink { failed, .. }) | SinkState::Writer { failed, .. } => {
                *failed = true;
            }
            _ => {}
        }
    }

    /// Whether the sink runs the caller's code (a writer, a callback),
    /// which then runs off the driving thread ([`offload`](Self::offload)).
    pub(crate) fn calls_back(&self) -> bool {
        match self {
            SinkState::Lines { .. } | SinkState::Writer { .. } => true,
            SinkState::Tee(a, b) => a.calls_back() || b.calls_back(),
            _ => false,
        }
    }

    /// The same sink with its writers and callbacks handed to `pool`'s
    /// workers; `key` is the sink's index in the engine.
    pub(crate) fn offload(self, pool: &Pool, key: usize) -> SinkState {
        match self {
            SinkState::Lines { .. } | SinkState::Writer { .. } => {
                SinkState::Handoff(offload::Handoff::new(self, pool, key))
            }
            SinkState::Tee(a, b) => SinkState::Tee(
                Box::new(a.offload(pool, key)),
                Box::new(b.offload(pool, key)),
            ),
            other => other,
        }
    }

    /// The fd a `file` sink's wait named (to take it out of the set).
    pub(crate) fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            SinkState::File(f) => f.wake_fd(),
            SinkState::Tee(a, b) => a.wake_fd().or_else(|| b.wake_fd()),
            _ => None,
        }
    }

    /// Whether the sink holds as much as it may: its stream is to pause.
    pub(crate) fn is_full(&self) -> bool {
        match self {
            SinkState::Handoff(h) => h.is_full(),
            SinkState::File(f) => f.wait_needed(),
            SinkState::Tee(a, b) => a.is_full() || b.is_full(),
            _ => false,
        }
    }

    /// Whether `want` holds now; if not, what tells when to ask again.
    /// `writable`: the fd it named last became writable.
    pub(crate) fn wait(&mut self, want: Want, writable: bool) -> Room<'_> {
        match self {
            SinkState::Handoff(h) => h.wait(want),
            SinkState::File(f) => f.wait(writable),
            SinkState::Tee(a, b) => match a.wait(want, writable) {
                Room::Now => b.wait(want, writable),
                other => other,
            },
            _ => Room::Now,
        }
    }

    /// The buffer of a collecting sink (bounded or not), for
    /// `Child::lines` to take the lines it hands out from.
    pub(crate) fn collected_mut(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            SinkState::Collect { buf, .. } => Some(buf),
            _ => None,
        }
    }

    /// Consumes `data`. An error is reported once; later bytes are dropped.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), SinkError> {
        match self {
            SinkState::Collect {
                buf,
                limit,
                error,
                dropped,
            } => {
                let room = limit.map_or(usize::MAX, |l| l.saturating_sub(buf.len()));
                if data.len() <= room {
                    if data.len() >= PREFAULT_MIN {
                        buf.reserve(data.len());
                        let spare = buf.spare_capacity_mut();
                        let n = data.len().min(spare.len());
                        spawn_sys::mem::populate_write(&mut spare[..n]);
                    }
                    buf.extend_from_slice(data);
                } else {
                    buf.extend_from_slice(&data[..room]);
                    let was = *dropped;
                    *dropped += (data.len() - room) as u64;
                    if *error && was == 0 {
                        return Err(SinkError::Overflow(limit.unwrap_or(0)));
                    }
                }
            }
            SinkState::HeadTail {
                head,
                head_max,
                tail,
                tail_max,
                dropped,
            } => {
                let take = (*head_max - head.len().min(*head_max)).min(data.len());
                head.extend_from_slice(&data[..take]);
                let rest = &data[take..];
                if rest.len() >= *tail_max {
                    *dropped += (tail.len() + rest.len() - *tail_max) as u64;
                    tail.clear();
                    tail.extend(&rest[rest.len() - *tail_max..]);
                } else {
                    tail.extend(rest);
                    let excess = tail.len().saturating_sub(*tail_max);
                    if excess > 0 {
                        tail.drain(..excess);
                        *dropped += excess as u64;
                    }
                }
            }
            SinkState::Lines { partial, f } => {
                let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
                split_lines(partial, data, &mut *f);
            }
            SinkState::Writer { w, failed } => {
                if !*failed {
                    let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = w.write_all(data) {
                        *failed = true;
                        return Err(SinkError::Io(e));
                    }
                }
            }
            SinkState::File(f) => f.write(data)?,
            SinkState::Handoff(h) => h.write(data)?,
            SinkState::Discard => {}
            SinkState::Tee(a, b) => {
                let ra = a.write(data);
                let rb = b.write(data);
                ra?;
                rb?;
            }
            SinkState::Log { log, stream } => log.push(*stream, data),
        }
        Ok(())
    }

    /// The stream ended: deliver a last partial line, flush writers. Waits
    /// for a sink's worker and a full file (for a stream closed before its
    /// end of file: the engine waits for both without blocking at an end
    /// of file, `Want::Done`).
    pub(crate) fn finish(&mut self) -> Result<(), SinkError> {
        match self {
            SinkState::Lines { partial, f } if !partial.is_empty() => {
                let mut f = f.lock().unwrap_or_else(PoisonError::into_inner);
                f(partial);
                partial.clear();
            }
            SinkState::Writer { w, failed } if !*failed => {
                let mut w = w.lock().unwrap_or_else(PoisonError::into_inner);
                w.flush().map_err(SinkError::Io)?;
            }
            SinkState::File(f) => f.finish()?,
            SinkState::Handoff(h) => h.finish()?,
            SinkState::Tee(a, b) => {
                let ra = a.finish();
                let rb = b.finish();
                ra?;
                rb?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The bytes kept for `Output` (taken out of the state).
    pub(crate) fn take_kept(&mut self) -> Vec<u8> {
        match self {
            SinkState::Collect { buf, .. } => std::mem::take(buf),
            SinkState::HeadTail { head, tail, .. } => {
                let mut out = std::mem::take(head);
                out.extend(tail.drain(..));
                out
            }
            SinkState::Tee(a, b) => {
                let kept = a.take_kept();
                if kept.is_empty() { b.take_kept() } else { kept }
            }
            _ => Vec::new(),
        }
    }

    /// A copy of the bytes kept so far (for partial output that a later call
    /// must still return).
    pub(crate) fn peek_kept(&self) -> Vec<u8> {
        match self {
            SinkState::Collect { buf, .. } => buf.clone(),
            SinkState::HeadTail { head, tail, .. } => {
                let mut out = head.clone();
                out.extend(tail.iter());
                out
            }
            SinkState::Tee(a, b) => {
                let kept = a.peek_kept();
                if kept.is_empty() { b.peek_kept() } else { kept }
            }
            _ => Vec::new(),
        }
    }

    /// Bytes read but not kept by a bounded sink.
    pub(crate) fn dropped(&self) -> u64 {
        match self {
            SinkState::Collect { dropped, .. } | SinkState::HeadTail { dropped, .. } => *dropped,
            SinkState::Tee(a, b) => a.dropped().max(b.dropped()),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests;
