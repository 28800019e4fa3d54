//! The vocabulary of the core: ids, streams, specs, events in, actions and
//! outputs out. Every type is `Debug` (and `Serialize` with the `serde`
//! feature) so traces, test failures and snapshots speak one language.

use core::ops::{Index, IndexMut};
use core::time::Duration;

use crate::stop_steps::StopGraces;

/// The default [`ChildSpec::eof_grace`]: how long, after the exit, the
/// output pipes get to reach end of file.
pub const DEFAULT_EOF_GRACE: Duration = Duration::from_millis(200);

/// The default [`ChildSpec::kill_grace`]: the time between TERM and KILL
/// (and, after KILL, how long a teardown waits for the group to empty).
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

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

impl Stream {
    /// Every stream: stdin, stdout, stderr.
    pub const ALL: [Stream; 3] = [Stream::Stdin, Stream::Stdout, Stream::Stderr];
    /// The streams the core reads: stdout, stderr.
    pub const OUTPUTS: [Stream; 2] = [Stream::Stdout, Stream::Stderr];
}

/// One value per standard stream, indexed by [`Stream`].
///
/// ```
/// use spawn_core::{PerStream, Stream};
///
/// let mut bytes = PerStream::from_fn(|s| if s == Stream::Stdin { 0 } else { 1 });
/// bytes[Stream::Stderr] += 1;
/// assert_eq!(bytes, PerStream { stdin: 0, stdout: 1, stderr: 2 });
/// assert_eq!(bytes.map(|n| n * 10)[Stream::Stderr], 20);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PerStream<T> {
    /// The value for stdin.
    pub stdin: T,
    /// The value for stdout.
    pub stdout: T,
    /// The value for stderr.
    pub stderr: T,
}

impl<T> PerStream<T> {
    /// The value `f(stream)` for each stream, called in [`Stream::ALL`] order.
    pub fn from_fn(mut f: impl FnMut(Stream) -> T) -> Self {
        PerStream {
            stdin: f(Stream::Stdin),
            stdout: f(Stream::Stdout),
            stderr: f(Stream::Stderr),
        }
    }

    /// Applies `f` to each value, in [`Stream::ALL`] order.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerStream<U> {
        PerStream {
            stdin: f(self.stdin),
            stdout: f(self.stdout),
            stderr: f(self.stderr),
        }
    }
}

impl<T> Index<Stream> for PerStream<T> {
    type Output = T;

    fn index(&self, stream: Stream) -> &T {
        match stream {
            Stream::Stdin => &self.stdin,
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
        }
    }
}

impl<T> IndexMut<Stream> for PerStream<T> {
    fn index_mut(&mut self, stream: Stream) -> &mut T {
        match stream {
            Stream::Stdin => &mut self.stdin,
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }
}

/// The signals the core asks for when it stops a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum KillSignal {
    /// Step `n` (from 0) of the child's stop sequence
    /// ([`ChildSpec::stop_graces`]): please stop. The driver knows its
    /// signal (`SIGTERM` unless the caller chose others).
    Step(u8),
    /// `SIGKILL`: stop now.
    Kill,
}

/// Whom an [`Action::Signal`] is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum SignalTarget {
    /// The child process only (a driver with pidfds signals through the
    /// child's pidfd, so a reused pid is never hit).
    Child,
    /// The child's process group only (`kill(-pgid, ..)`). Asked only for a
    /// child with [`ChildSpec::signal_group`] that exited and that the
    /// driver has not reaped yet (its zombie pins the pgid).
    Group,
    /// Both the child and its group: the child may have left its group
    /// (`setpgid`), and a member of the group may ignore the signal. Asked
    /// only while the child runs.
    ChildAndGroup,
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
    /// From `Started`: TERM (to the child and its group with
    /// `signal_group`), then KILL after `kill_grace`. With `signal_group`,
    /// a timeout also bounds the life of the whole group: members left
    /// behind by a leader that exited by itself are stopped too (see the
    /// crate docs, *Process groups*).
    pub timeout: Option<Duration>,
    /// From `Started`: stopped as a timeout stops it (TERM, KILL after
    /// `kill_grace`) once it went this long without a byte read from its
    /// stdout or stderr ([`Event::Read`]); [`Outcome::idled`]
    /// says so. Watched only while the driver reads one of them: a child
    /// whose output the driver holds no pipe of is never idle.
    pub idle_timeout: Option<Duration>,
    /// Time between TERM and KILL when no [`stop_graces`](Self::stop_graces)
    /// are declared; with `signal_group`, also how long after KILL the
    /// teardown waits for the group to empty before it gives up
    /// ([`GroupOutcome::Left`]). Default
    /// [`DEFAULT_KILL_GRACE`] (2 s).
    pub kill_grace: Duration,
    /// The stop sequence's steps before KILL (their graces); empty, the
    /// default: one step of `kill_grace`. Every stop (timeout, idle
    /// timeout, terminate, leftovers) takes it.
    pub stop_graces: StopGraces,
    /// After the child exited, how long to wait for EOF on stdout/stderr
    /// (a grandchild may hold them) before closing them as abandoned.
    /// When it ends, what is in the pipe is still read, until a read would
    /// block (or 16 MiB more came), so no byte written before is lost.
    /// Default [`DEFAULT_EOF_GRACE`] (200 ms).
    pub eof_grace: Duration,
    /// The child leads a process group that the run owns (for the driver,
    /// whatever a stop of the run reaches beyond the child: the group or
    /// session it leads, its cgroup, or its descendants): stop signals go
    /// to the child and its group, and a stopped child is finished only
    /// when its group is empty (or the teardown gave up). Its
    /// [`Event::Exited`] means "exited, not reaped" (see the crate docs,
    /// *The contract*). A child that exits by itself, with no `timeout`,
    /// no `end_leftovers` and no terminate, is finished without a probe
    /// ([`GroupOutcome::NotProbed`]): nothing would be done about its
    /// leftovers, and a probe costs the driver a look at every process.
    pub signal_group: bool,
    /// This child joined the group that the given child (which has
    /// `signal_group`) leads, as pipeline stages 2..n join stage 1's. Its
    /// own signals go to it alone ([`SignalTarget::Child`]: the leader's
    /// teardown covers the group), and the leader is not finished before
    /// every started member exited. Ignored (taken as `None`) when that
    /// child is unknown, finished, or has no `signal_group`.
    pub member_of: Option<ChildId>,
    /// With `signal_group`: whatever is left in the child's group when the
    /// child is done (exited, pipes closed, members exited) is stopped, with
    /// or without a timeout (a containment that ends everything its run
    /// started). Without it, leftovers are stopped only under a timeout or
    /// a terminate.
    pub end_leftovers: bool,
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
            idle_timeout: None,
            kill_grace: DEFAULT_KILL_GRACE,
            stop_graces: StopGraces::default(),
            eof_grace: DEFAULT_EOF_GRACE,
            signal_group: false,
            member_of: None,
            end_leftovers: false,
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
    /// The driver could not start the child for want of something running
    /// children hold and give back when they finish (fds: `EMFILE`,
    /// `ENFILE`; processes: `EAGAIN` from fork). The child goes back to the
    /// front of the start queue, and nothing more starts until a running
    /// child finishes; then it is started again. With no other child
    /// running, nothing would free what it needs: it is finished as
    /// [`SpawnFailed`](Event::SpawnFailed) (the driver keeps the error).
    StartDeferred {
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
    /// The stream's sink is full: stop reading this stream only. It may
    /// answer a [`Action::Read`] in the same turn (sent before the
    /// answer): the pipe is then not taken as empty, and the EOF grace
    /// does not abandon it while it is paused.
    SinkFull {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// The stream's sink has room again: the stream is read again.
    SinkReady {
        /// The child.
        child: ChildId,
        /// Stdout or stderr.
        stream: Stream,
    },
    /// The child exited; `status` is the raw wait status. From now on the
    /// core sends no signal to the child itself; stdin, if still open, is
    /// closed ([`CloseReason::ChildExited`]) and the outputs get
    /// `eof_grace` to reach EOF.
    ///
    /// For a child with [`ChildSpec::signal_group`] it means exited and
    /// **not reaped**: the driver keeps the zombie (it pins the pid and the
    /// pgid, so signals to the group stay safe) and reaps it when it gets
    /// [`Output::Finished`]. Any other child may be reaped at once.
    Exited {
        /// The child.
        child: ChildId,
        /// The raw wait status.
        status: i32,
    },
    /// The answer to [`Action::ProbeGroup`]: nothing but the (exited,
    /// unreaped) leader is left in the child's group (`kill(-pgid, 0)`
    /// fails with `ESRCH`, or only the zombie leader is there).
    GroupEmpty {
        /// The child that leads the group.
        child: ChildId,
    },
    /// The answer to [`Action::ProbeGroup`]: some process other than the
    /// leader is still alive in the child's group.
    GroupLive {
        /// The child that leads the group.
        child: ChildId,
    },
    /// The child was continued after a job-control stop (Ctrl-Z, then
    /// `fg`): it could write nothing while stopped, so its idle clock
    /// starts again now, as if it had just written.
    Continued {
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Action {
    /// Start the child; answer `Started`, `SpawnFailed` or `StartDeferred`.
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
    /// Send `signal` to the child, its process group, or both.
    Signal {
        /// The child.
        child: ChildId,
        /// Which signal.
        signal: KillSignal,
        /// To whom.
        target: SignalTarget,
    },
    /// Is anything but the (exited, unreaped) leader still alive in the
    /// child's process group? Answer exactly once, at once or later, with
    /// [`Event::GroupEmpty`] or [`Event::GroupLive`] (`kill(-pgid, 0)`; a
    /// driver that cannot tell a zombie leader from a live member may
    /// count members only). At most one probe per child is in flight.
    /// Only for children with [`ChildSpec::signal_group`], never after
    /// [`Output::Finished`].
    ProbeGroup {
        /// The child that leads the group.
        child: ChildId,
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
}

/// Which stop signals the core asked the driver to send to a child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SignalsSent {
    /// How many steps of the stop sequence ([`KillSignal::Step`]) were
    /// sent (an [`Action::Signal`] was emitted for each); 0: none.
    pub steps: u8,
    /// [`KillSignal::Kill`] was sent.
    pub kill: bool,
}

/// What became of a child's process group (children with
/// [`ChildSpec::signal_group`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum GroupOutcome {
    /// The run owns no group: no `signal_group`, or the child never started.
    #[default]
    NotOwned,
    /// The group was empty when the child finished; nothing was stopped.
    Empty,
    /// Members were left or the run was stopped (timeout, terminate): a
    /// TERM went out, and the teardown ended with the group empty.
    Stopped,
    /// Members were still alive when the child finished: the teardown gave
    /// up `kill_grace` after KILL, or (without a timeout or a terminate)
    /// leftovers are left alone.
    Left,
    /// The child exited by itself and nothing asked for its leftovers to
    /// be ended (no `timeout`, no `end_leftovers`, no terminate): the group
    /// was not probed, and what is left in it, if anything, is left alone.
    NotProbed,
}

/// How a child's run went: the payload of [`Output::Finished`].
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
    /// It went its [`ChildSpec::idle_timeout`] (this long) without output
    /// and was stopped (TERM, then KILL after the grace, were due); a
    /// pipeline's leader stopped because a stage idled says its own.
    pub idled: Option<Duration>,
    /// It was asked to stop with
    /// [`Scheduler::terminate`](crate::Scheduler::terminate).
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
    /// What became of its process group.
    pub group: GroupOutcome,
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
    /// Exited; waiting for its streams to close (EOF or the EOF grace)
    /// and, with `signal_group`, for its group to empty and its members
    /// to exit.
    Exited,
    /// Done; [`Output::Finished`] was (or is about to be) emitted.
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
    /// The child's idle timeout: when it is due if no output comes
    /// meanwhile.
    Idle,
    /// Between TERM and KILL.
    KillGrace,
    /// Waiting for EOF after exit.
    EofGrace,
    /// The next probe of the group while a teardown waits for it to empty
    /// (1 ms, doubling up to 50 ms).
    GroupProbe,
    /// After KILL: when the teardown gives up waiting for the group.
    TeardownLimit,
}

/// Why the core has nothing to do right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum WaitReason {
    /// Every child is finished.
    Done,
    /// Waiting for I/O readiness, an exit, or the answer to a probe.
    Io,
    /// Waiting for a child's timer.
    Deadline {
        /// The child.
        child: ChildId,
        /// Which timer.
        timer: Timer,
    },
    /// More children are to start, but a turn's worth of them started
    /// already: the deadline is now, so that the driver takes in what is
    /// ready (output, exits) before the next ones start (see
    /// [`Scheduler`](crate::Scheduler)).
    Starting,
}

/// What [`Scheduler::poll`](crate::Scheduler::poll) returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Output {
    /// Do this, then report what happened and poll again.
    Action(Action),
    /// The child is done: exited (or never started), every stream closed
    /// and, with `signal_group`, its group empty (or given up on) and its
    /// members exited. The driver reaps it now if it was kept unreaped,
    /// and sends no event about it any more. Poll again.
    Finished {
        /// The child.
        child: ChildId,
        /// How it went.
        outcome: Outcome,
    },
    /// Nothing to do until an event arrives or `deadline` passes.
    Wait {
        /// When to poll again at the latest.
        deadline: Option<Timestamp>,
        /// Why.
        reason: WaitReason,
    },
}
