//! What a finished child leaves behind: [`ExitStatus`], [`Output`] and the run
//! [`Report`], all `serde::Serialize`.

use std::fmt;
use std::time::Duration;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::Signal;

/// How a child ended: an exit code, or the signal that killed it.
///
/// Wraps the raw status from `wait4(2)`. Like [`std::process::ExitStatus`], but
/// serializable and with [`signal`](Self::signal) without an extension trait.
///
/// # Examples
///
/// ```
/// let out = spawn::Command::new("sh").args(["-c", "exit 3"]).run()?;
/// assert_eq!(out.status.code(), Some(3));
/// assert!(!out.status.success());
/// assert_eq!(out.status.signal(), None);
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExitStatus(i32);

impl ExitStatus {
    /// A status from the raw value `wait4(2)` stored.
    #[must_use]
    pub const fn from_raw(raw: i32) -> Self {
        ExitStatus(raw)
    }

    /// The raw wait status.
    #[must_use]
    pub const fn into_raw(self) -> i32 {
        self.0
    }

    /// The exit code, when the child exited (rather than being killed).
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        spawn_sys::wait::exit_code(self.0)
    }

    /// The number of the signal that killed the child, if one did.
    #[must_use]
    pub fn signal(&self) -> Option<i32> {
        spawn_sys::wait::term_signal(self.0)
    }

    /// Whether the child exited with code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }

    /// Whether the signal that killed the child also dumped core.
    #[must_use]
    pub fn core_dumped(&self) -> bool {
        spawn_sys::wait::core_dumped(self.0)
    }

    /// The exit code a shell would report: the code, or 128 + the signal number.
    #[must_use]
    pub fn shell_code(&self) -> i32 {
        match (self.code(), self.signal()) {
            (Some(code), _) => code,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 255,
        }
    }
}

impl fmt::Debug for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(code), _) => write!(f, "exit status {code}"),
            (None, Some(sig)) => {
                write!(f, "killed by signal {}", Signal::from_raw(sig))?;
                if self.core_dumped() {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
            (None, None) => write!(f, "wait status {:#x}", self.0),
        }
    }
}

impl Serialize for ExitStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ExitStatus", 3)?;
        st.serialize_field("code", &self.code())?;
        st.serialize_field("signal", &self.signal())?;
        st.serialize_field("success", &self.success())?;
        st.end()
    }
}

/// Everything a finished child produced: its status, what its sinks kept of
/// stdout and stderr, and a [`Report`] of the run.
///
/// `stdout` and `stderr` hold what the routes kept: all bytes for a pipe or
/// [`Sink::collect`](crate::Sink::collect), the head and tail for
/// [`Sink::head_tail`](crate::Sink::head_tail), nothing for inherited, file,
/// discarded or streamed output. [`Report`] counts every byte read either way.
///
/// Serialized, `stdout` and `stderr` are strings (invalid UTF-8 replaced by
/// U+FFFD), which is what people reading JSON want.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// What the stdout route kept.
    pub stdout: Vec<u8>,
    /// What the stderr route kept.
    pub stderr: Vec<u8>,
    /// Timings, resource use and byte counts of the run.
    pub report: Report,
}

impl Output {
    /// `stdout` as text, with invalid UTF-8 replaced.
    #[must_use]
    pub fn stdout_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// `stderr` as text, with invalid UTF-8 replaced.
    #[must_use]
    pub fn stderr_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

impl Serialize for Output {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Output", 4)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("stdout", &self.stdout_lossy())?;
        st.serialize_field("stderr", &self.stderr_lossy())?;
        st.serialize_field("report", &self.report)?;
        st.end()
    }
}

/// What happened during a run, beyond the exit status.
///
/// Times are wall-clock durations measured by the parent; CPU times and
/// `max_rss_bytes` come from `wait4(2)` and cover the child alone (not its
/// own children, unless it waited for them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The child's process id.
    pub pid: u32,
    /// From just before the spawn to the moment the child was finished with
    /// (exited and its pipes drained or abandoned).
    pub wall: Duration,
    /// How long starting the child took (the spawn call returning, once
    /// the child has exec'd).
    pub spawn_time: Duration,
    /// CPU time the child spent in user mode.
    pub user_time: Duration,
    /// CPU time the child spent in the kernel.
    pub system_time: Duration,
    /// The child's peak resident set size, in bytes.
    pub max_rss_bytes: u64,
    /// Bytes read from the child's stdout (also those a sink did not keep).
    pub stdout_bytes: u64,
    /// Bytes read from the child's stderr (also those a sink did not keep).
    pub stderr_bytes: u64,
    /// Bytes of input the child took: those written into its stdin pipe,
    /// less those still unread in the pipe when spawn closed its end
    /// because the child had exited or closed its stdin (`EPIPE`; on
    /// Linux, which tells the bytes queued in a pipe through its write
    /// end). 4 MiB given to `head -c 1` count the few bytes `head` read,
    /// not the pipe's capacity. When all the input was written while the
    /// child ran, the pipe is closed then and every byte counts: what the
    /// child may still read is not followed after that.
    pub stdin_bytes: u64,
    /// Not all input could be given: the child closed its stdin, or
    /// exited, before taking all of it (a write into the pipe failed with
    /// `EPIPE`, or input was left when it exited). Not an error;
    /// `stdin_bytes` says how much it took.
    pub input_broken: bool,
    /// Bytes of stdout read but not kept by a bounded sink.
    pub stdout_dropped: u64,
    /// Bytes of stderr read but not kept by a bounded sink.
    pub stderr_dropped: u64,
    /// The child exited but something (a grandchild) kept its stdout open
    /// past the EOF grace, so the pipe was closed without waiting for EOF.
    pub stdout_abandoned: bool,
    /// As `stdout_abandoned`, for stderr.
    pub stderr_abandoned: bool,
    /// The child was signalled because its timeout expired.
    pub timed_out: bool,
    /// The child was signalled because it wrote nothing for its
    /// [`idle_timeout`](crate::Command::idle_timeout).
    pub idle_timed_out: bool,
    /// The step of the stop that ended the run: the last signal a stop
    /// (timeout, idle timeout, cancel, overflow) sent before the child and
    /// its group were gone (see [`StopSequence`](crate::StopSequence));
    /// `None` when no stop signal was sent.
    pub stop_step: Option<crate::StopStep>,
    /// Members of the process group the child led were still alive when
    /// the run ended: either the teardown (a timeout, a stop, or leftovers
    /// of a run with a timeout) gave up on them after they survived KILL for
    /// the kill grace (a process stuck in the kernel), or the run had no
    /// timeout and left them alone on purpose (a pipeline's first stage
    /// that started a background job). Always `false` for a child in the
    /// caller's group: spawn cannot tell what it left there.
    pub group_left: bool,
    /// How the child was started;
    /// [`SpawnPath::NotStarted`](crate::SpawnPath::NotStarted) (the
    /// default) in the report of a child that never started (its `pid` is
    /// 0: a run refused or cancelled before the spawn).
    pub spawn_path: crate::SpawnPath,
    /// The option that needed the fork+exec path, when it was taken.
    pub fork_reason: Option<&'static str>,
    /// The child ran on a pseudo-terminal ([`Command::pty`](crate::Command::pty)):
    /// its stdout (and stderr, unless routed apart) is what the terminal
    /// showed.
    pub pty: bool,
    /// What held the child for its teardown.
    pub containment: crate::Containment,
    /// Where the child was when this report was made: exited (then
    /// [`Output::status`] is its status), still running (the output of a
    /// [`Child::communicate_timeout`](crate::Child::communicate_timeout)
    /// that timed out), or never started (a child a cancel kept from
    /// starting). Only for `Exited` does `status` mean anything.
    pub process: ProcessState,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Report", 21)?;
        st.serialize_field("pid", &self.pid)?;
        st.serialize_field("wall_ms", &ms(self.wall))?;
        st.serialize_field("spawn_ms", &ms(self.spawn_time))?;
        st.serialize_field("user_ms", &ms(self.user_time))?;
        st.serialize_field("system_ms", &ms(self.system_time))?;
        st.serialize_field("max_rss_bytes", &self.max_rss_bytes)?;
        st.serialize_field("stdout_bytes", &self.stdout_bytes)?;
        st.serialize_field("stderr_bytes", &self.stderr_bytes)?;
        st.serialize_field("stdin_bytes", &self.stdin_bytes)?;
        st.serialize_field("input_broken", &self.input_broken)?;
        st.serialize_field("stdout_dropped", &self.stdout_dropped)?;
        st.serialize_field("stderr_dropped", &self.stderr_dropped)?;
        st.serialize_field("stdout_abandoned", &self.stdout_abandoned)?;
        st.serialize_field("stderr_abandoned", &self.stderr_abandoned)?;
        st.serialize_field("timed_out", &self.timed_out)?;
        st.serialize_field("idle_timed_out", &self.idle_timed_out)?;
        st.serialize_field("stop_step", &self.stop_step)?;
        st.serialize_field("group_left", &self.group_left)?;
        st.serialize_field("spawn_path", &self.spawn_path)?;
        st.serialize_field("fork_reason", &self.fork_reason)?;
        st.serialize_field("pty", &self.pty)?;
        st.serialize_field("containment", &self.containment)?;
        st.end()
    }
}

/// Where a child was when its [`Report`] was made: see
/// [`Report::process`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    /// It never started (cancelled in the queue, or its start failed).
    #[default]
    NotStarted,
    /// It was still running.
    Running,
    /// It exited (or was killed); the output's status says how.
    Exited,
}

/// What a finished [`Pipeline`](crate::Pipeline) produced: one status per stage,
/// and what the routes kept of the last stage's stdout and every stage's stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineOutput {
    /// The status of each stage, in pipeline order.
    pub statuses: Vec<ExitStatus>,
    /// What the stdout route kept of the last stage's output.
    pub stdout: Vec<u8>,
    /// What the stderr route kept of all stages' stderr, in arrival order.
    pub stderr: Vec<u8>,
    /// One report per stage, in pipeline order.
    pub reports: Vec<Report>,
}

impl PipelineOutput {
    /// The status of the last stage, as a shell reports for `a | b | c`.
    #[must_use]
    pub fn status(&self) -> ExitStatus {
        self.statuses
            .last()
            .copied()
            .unwrap_or(ExitStatus::from_raw(0))
    }

    /// Whether every stage succeeded, counting an upstream stage killed by
    /// `SIGPIPE` (its reader finished early) as a success, like `pipefail`
    /// minus the noise.
    #[must_use]
    pub fn success(&self) -> bool {
        let n = self.statuses.len();
        self.statuses
            .iter()
            .enumerate()
            .all(|(i, s)| s.success() || (i + 1 < n && s.signal() == Some(Signal::PIPE.as_raw())))
    }
}

impl PipelineOutput {
    /// `stdout` as text, with invalid UTF-8 replaced.
    #[must_use]
    pub fn stdout_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// `stderr` as text, with invalid UTF-8 replaced.
    #[must_use]
    pub fn stderr_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

impl Serialize for PipelineOutput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PipelineOutput", 4)?;
        st.serialize_field("statuses", &self.statuses)?;
        st.serialize_field("stdout", &self.stdout_lossy())?;
        st.serialize_field("stderr", &self.stderr_lossy())?;
        st.serialize_field("reports", &self.reports)?;
        st.end()
    }
}
