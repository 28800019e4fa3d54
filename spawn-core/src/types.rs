//! The vocabulary of the core: ids, streams, specs, events in, actions and
//! outputs out. Every type is `Debug` (and `Serialize` with the `serde`
//! feature) so traces, test failures and snapshots speak one language.

use core::time::Duration;

/// Nanoseconds since an epoch the driver chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The epoch.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp `n` nanoseconds after the epoch.
    #[must_use]
    pub const fn from_nanos(n: u64) -> Self {
        Timestamp(n)
    }

    /// Nanoseconds since the epoch.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    /// `self - earlier`, or zero.
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// A child of a [`Scheduler`](crate::Scheduler): its index in the order added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChildId(pub usize);

/// One of a child's standard streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Stream {
    /// Its stdin (we write).
    Stdin,
    /// Its stdout (we read).
    Stdout,
    /// Its stderr (we read).
    Stderr,
}

/// The signals the core asks for when it stops a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum KillSignal {
    /// `SIGTERM`: please stop.
    Term,
    /// `SIGKILL`: stop now.
    Kill,
}

/// What the core needs to know about one child, with defaults for every policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChildSpec {
    /// The driver holds the write end of a pipe to the child's stdin.
    pub stdin: bool,
    /// Bytes of input to feed; stdin is closed when they are all written
    /// (at once when 0).
    pub input_len: u64,
    /// The driver holds the read end of the child's stdout.
    pub stdout: bool,
    /// The driver holds the read end of the child's stderr.
    pub stderr: bool,
    /// From `Started`: TERM (to the group with `signal_group`), then KILL
    /// after `kill_grace`.
    pub timeout: Option<Duration>,
    /// Time between TERM and KILL. Default 2 s.
    pub kill_grace: Duration,
    /// After the child exited, how long to wait for EOF on stdout/stderr
    /// (a grandchild may hold them) before closing them as abandoned.
    /// When it ends, what is in the pipe is still read, until a read would
    /// block (or 16 MiB more came), so no byte written before is lost.
    /// Default 100 ms.
    pub eof_grace: Duration,
    /// Signals go to the child's process group.
    pub signal_group: bool,
    /// Most bytes per `Read` action. Default 64 KiB.
    pub read_chunk: usize,
    /// Most consecutive reads of one stream before other ready streams get
    /// a turn. Default 4.
    pub read_budget: u32,
    /// Most bytes per `Write` action. Default 64 KiB.
    pub write_chunk: usize,
}

impl Default for ChildSpec {
    fn default() -> Self {
        ChildSpec {
            stdin: false,
            input_len: 0,
            stdout: false,
            stderr: false,
            timeout: None,
            kill_grace: Duration::from_secs(2),
            eof_grace: Duration::from_millis(100),
            signal_group: false,
            read_chunk: 64 << 10,
            read_budget: 4,
            write_chunk: 64 << 10,
        }
    }
}

/// What happened, as the driver tells the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Event {
    /// The driver started the child (after [`Action::Start`]).
    Started {
        /// The child.
        child: ChildId,
    },
    /// The driver could not start the child; it keeps the error itself.
    SpawnFailed {
        /// The child.
        child: ChildId,
    },
    /// The stream became readable (or hung up): an edge. The core
    /// remembers it until a read answers [`Event::ReadWouldBlock`] or
    /// [`Event::Eof`]; repeating it (a level-triggered driver) is harmless.
    Readable {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// Stdin became writable (or its reader went away): an edge, kept like
    /// [`Event::Readable`] until a write answers it would block.
    Writable {
        /// The child.
        child: ChildId,
    },
    /// `n > 0` bytes were read and given to the sink (the answer to
    /// [`Action::Read`]; `n == 0` is taken as [`Event::Eof`]).
    Read {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
        /// How many.
        n: usize,
    },
    /// A read found nothing (`EAGAIN`).
    ReadWouldBlock {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// A read found end of file.
    Eof {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// `n > 0` bytes of input were written, maybe fewer than asked (the
    /// answer to [`Action::Write`]; `n == 0` is taken as
    /// [`Event::WriteWouldBlock`]).
    Wrote {
        /// The child.
        child: ChildId,
        /// How many.
        n: usize,
    },
    /// A write found the pipe full (`EAGAIN`).
    WriteWouldBlock {
        /// The child.
        child: ChildId,
    },
    /// The child closed its stdin (`EPIPE`): stop writing, keep reading.
    WriteBroken {
        /// The child.
        child: ChildId,
    },
    /// The stream's sink is full: stop reading this stream only.
    SinkFull {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// The stream's sink has room again.
    SinkReady {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// The child exited and was reaped; `status` is the raw wait status.
    /// From now on the core sends it no signal (its pid may be reused);
    /// stdin, if still open, is closed ([`CloseReason::ChildExited`]) and
    /// the outputs get `eof_grace` to reach EOF.
    Exited {
        /// The child.
        child: ChildId,
        /// The raw wait status.
        status: i32,
    },
    /// Stop the child (a cancel, Ctrl-C, an overflowing sink): TERM, then
    /// KILL after the grace, as for a timeout, and `outcome.terminated`.
    /// A child still queued is finished at once without being started
    /// (`status: None`, `started_at: None`); one that exited already is
    /// left alone.
    Terminate {
        /// The child.
        child: ChildId,
    },
}

/// Why the core closes one of a child's streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum CloseReason {
    /// All input was written.
    InputDone,
    /// End of file was read.
    Eof,
    /// The child closed its end (`EPIPE`).
    Broken,
    /// The child exited but something kept the pipe open past the EOF grace.
    Abandoned,
    /// The child exited with input still to write.
    ChildExited,
}

/// What to do, as the core tells the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Action {
    /// Start the child; answer `Started` or `SpawnFailed`.
    Start {
        /// The child.
        child: ChildId,
    },
    /// Read up to `max` bytes of the stream into its sink.
    Read {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
        /// At most this many bytes.
        max: usize,
    },
    /// Write bytes `[offset, offset + len)` of the child's input.
    Write {
        /// The child.
        child: ChildId,
        /// From this byte of the input.
        offset: u64,
        /// At most this many bytes.
        len: usize,
    },
    /// Close (and stop watching) the stream's fd.
    Close {
        /// The child.
        child: ChildId,
        /// Which stream.
        stream: Stream,
        /// Why.
        reason: CloseReason,
    },
    /// Send `signal` to the child (or its process group).
    Signal {
        /// The child.
        child: ChildId,
        /// Which signal.
        signal: KillSignal,
        /// To the child's process group.
        group: bool,
    },
    /// For level-triggered drivers: watch the stream's fd (`on`) or not.
    /// Emitted when it changes; edge-triggered drivers may ignore it.
    Interest {
        /// The child.
        child: ChildId,
        /// Which stream.
        stream: Stream,
        /// Watch it.
        on: bool,
    },
    /// The child is done: exited (or never started) and every stream closed.
    Finished {
        /// The child.
        child: ChildId,
        /// How it went.
        outcome: Outcome,
    },
}

/// Which stop signals the core asked the driver to send to a child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalsSent {
    /// [`KillSignal::Term`] was sent (an [`Action::Signal`] was emitted).
    pub term: bool,
    /// [`KillSignal::Kill`] was sent.
    pub kill: bool,
}

/// How a child's run went: the payload of [`Action::Finished`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Outcome {
    /// The raw wait status; `None` when it never ran (spawn failed, or it
    /// was terminated while still queued).
    pub status: Option<i32>,
    /// The driver could not start it ([`Event::SpawnFailed`]).
    pub spawn_failed: bool,
    /// It ran past its timeout (TERM, then KILL after the grace, were due).
    pub timed_out: bool,
    /// It was asked to stop with [`Event::Terminate`].
    pub terminated: bool,
    /// The stop signals actually emitted as [`Action::Signal`].
    pub signals_sent: SignalsSent,
    /// Bytes of input written.
    pub input_written: u64,
    /// Not all input was delivered: the child closed stdin (`EPIPE`) or
    /// exited before taking it all.
    pub input_broken: bool,
    /// Bytes read from stdout.
    pub stdout_bytes: u64,
    /// Bytes read from stderr.
    pub stderr_bytes: u64,
    /// Stdout was closed without EOF, `eof_grace` after the exit (something
    /// else, e.g. a grandchild, still held it).
    pub stdout_abandoned: bool,
    /// Stderr was closed without EOF, `eof_grace` after the exit.
    pub stderr_abandoned: bool,
    /// When [`Event::Started`] was handled.
    pub started_at: Option<Timestamp>,
    /// When [`Event::Exited`] was handled.
    pub exited_at: Option<Timestamp>,
    /// When it finished (the `now` of the call that finished it).
    pub finished_at: Timestamp,
}

/// Where a child is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum ChildState {
    /// Added, waiting for a running slot.
    #[default]
    Queued,
    /// [`Action::Start`] was emitted; waiting for [`Event::Started`] or
    /// [`Event::SpawnFailed`].
    Starting,
    /// Started and not exited.
    Running,
    /// Exited; waiting for its streams to close (EOF or the EOF grace).
    Exited,
    /// Done; [`Action::Finished`] was (or is about to be) emitted.
    Finished,
}

/// A child's progress so far (for partial output and progress reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChildStats {
    /// Bytes read from stdout.
    pub stdout_bytes: u64,
    /// Bytes read from stderr.
    pub stderr_bytes: u64,
    /// Bytes of input written.
    pub input_written: u64,
    /// Where it is in its life.
    pub state: ChildState,
}

/// Settings of a [`Scheduler`](crate::Scheduler).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SchedulerConfig {
    /// How many children may run (be started and not finished) at once;
    /// 0 means no limit (the default).
    pub max_running: usize,
}

/// The timers the core keeps per child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Timer {
    /// The child's timeout.
    Timeout,
    /// Between TERM and KILL.
    KillGrace,
    /// Waiting for EOF after exit.
    EofGrace,
}

/// Why the core has nothing to do right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum WaitReason {
    /// Every child is finished.
    Done,
    /// Waiting for I/O readiness or an exit.
    Io,
    /// Waiting for a child's timer.
    Deadline {
        /// The child.
        child: ChildId,
        /// Which timer.
        timer: Timer,
    },
}

/// What [`Scheduler::poll`](crate::Scheduler::poll) returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Output {
    /// Do this, then report what happened and poll again.
    Action(Action),
    /// Nothing to do until an event arrives or `deadline` passes.
    Wait {
        /// When to poll again at the latest.
        deadline: Option<Timestamp>,
        /// Why.
        reason: WaitReason,
    },
}
