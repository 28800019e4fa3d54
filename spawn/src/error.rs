//! [`Error`]: the one error type of spawn. Every variant names the program and
//! says what happened in words a user can act on.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::{ExitStatus, Output};

/// Which output stream of a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamName {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamName::Stdout => "stdout",
            StreamName::Stderr => "stderr",
        })
    }
}

/// Everything that can go wrong when running a child.
///
/// A non-zero exit is not an error for [`Command::run`](crate::Command::run);
/// it is [`Error::Failed`] for [`Command::check`](crate::Command::check) and
/// the `check_output*` pair. Output read before an error is never lost: the
/// variants that interrupt a run ([`Timeout`](Error::Timeout),
/// [`OutputLimit`](Error::OutputLimit)) carry it as `partial`.
///
/// Messages are lowercase without a final period, start with the program, and
/// convert into [`io::Error`] with a fitting [`io::ErrorKind`].
///
/// The error is small (at most 64 bytes: the [`Output`] a variant carries
/// is boxed), so a function returning `Result<_, spawn::Error>` passes
/// clippy's `result_large_err`; patterns such as
/// `Error::Timeout { partial, .. }` read the output through the box as
/// before (`partial.stdout`), and `*partial` moves it out.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Error};
///
/// match Command::new("no-such-program-here").run() {
///     Err(Error::NotFound { program, .. }) => assert_eq!(program, "no-such-program-here"),
///     other => panic!("unexpected: {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program was not found: not in any directory of the child's `PATH`,
    /// or, when it contains a `/`, not at that path.
    #[error("{program}: program not found ({searched})")]
    NotFound {
        /// The program as given.
        program: String,
        /// Where it was looked for: `searched PATH=…` or the path tried.
        searched: String,
    },
    /// The program exists but may not be executed (no execute permission, a
    /// directory, or a mount with `noexec`).
    #[error("{program}: permission denied ({path})")]
    PermissionDenied {
        /// The program as given.
        program: String,
        /// The file that could not be executed.
        path: String,
    },
    /// The working directory given with [`Command::cwd`](crate::Command::cwd)
    /// cannot be used.
    #[error("{program}: cannot change to working directory {}: {source}", cwd.display())]
    BadCwd {
        /// The program as given.
        program: String,
        /// The directory.
        cwd: PathBuf,
        /// Why (does not exist, not a directory, permission denied).
        source: io::Error,
    },
    /// An argument, environment variable, program name or directory cannot be
    /// passed to a program: a NUL byte inside, an empty program, an environment
    /// key that is empty or contains `=`, input given for a stdin that is not
    /// piped.
    #[error("{program}: invalid input: {reason}")]
    InvalidInput {
        /// The program as given.
        program: String,
        /// What is wrong, naming the offending argument or variable.
        reason: String,
    },
    /// The process (or the system) ran out of file descriptors while setting
    /// up the child's pipes or starting it.
    #[error(
        "{program}: too many open files (the fd limit was reached while setting up the child; close fds or raise `ulimit -n`)"
    )]
    TooManyOpenFiles {
        /// The program as given.
        program: String,
    },
    /// The arguments and environment together exceed the kernel's limit
    /// (`E2BIG`).
    #[error(
        "{program}: argument list too long ({bytes} bytes of arguments and environment; the kernel refused them)"
    )]
    ArgumentListTooLong {
        /// The program as given.
        program: String,
        /// The bytes of argv and envp, terminators included.
        bytes: usize,
    },
    /// Starting the child failed for another reason.
    #[error("{program}: cannot start: {source}")]
    Spawn {
        /// The program as given.
        program: String,
        /// The error from the kernel.
        source: io::Error,
    },
    /// The child exited with a non-zero status (or was killed) where success
    /// was required ([`Command::check`](crate::Command::check) and friends).
    /// The message names the command with its arguments, as a shell would
    /// read it (`sh -c 'exit 3': exit status 3`).
    #[error("{command}: {status}{}", stderr_tail(&output.stderr))]
    Failed {
        /// The program as given.
        program: String,
        /// The program and its arguments, shell-quoted, cut after 200
        /// characters with `…`.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// Everything it produced (boxed: the error stays small).
        output: Box<Output>,
    },
    /// The child ran past its timeout and was stopped (TERM to its process
    /// group, KILL after the grace). `partial` holds everything read before.
    #[error("{program}: timed out after {:.3}s ({})", elapsed.as_secs_f64(), how_it_ended(partial))]
    Timeout {
        /// The program as given.
        program: String,
        /// From the start to the end of the run.
        elapsed: Duration,
        /// Everything read until the child was stopped, and how it ended
        /// (boxed: the error stays small).
        partial: Box<Output>,
    },
    /// The child wrote nothing that spawn reads for its
    /// [`idle_timeout`](crate::Command::idle_timeout) and was stopped as a
    /// timeout stops it. `partial` holds everything read before.
    #[error("{program}: no output for {:.3}s ({})", idle.as_secs_f64(), how_it_ended(partial))]
    IdleTimeout {
        /// The program as given.
        program: String,
        /// The idle timeout it went past.
        idle: Duration,
        /// Everything read until the child was stopped, and how it ended
        /// (boxed: the error stays small).
        partial: Box<Output>,
    },
    /// The run was cancelled through a [`CancelToken`](crate::CancelToken)
    /// it was given ([`Command::cancel_on`](crate::Command::cancel_on)): the
    /// child was stopped as a timeout stops it (the stop signal to it and
    /// its group, the grace, KILL). `partial` holds everything read before.
    #[error("{program}: cancelled ({})", how_it_ended(partial))]
    Cancelled {
        /// The program as given.
        program: String,
        /// Everything read until the child was stopped, and how it ended
        /// (a child cancelled before it started has no output, and its
        /// report says `ProcessState::NotStarted`; boxed).
        partial: Box<Output>,
    },
    /// A [`Sink::collect_limit`](crate::Sink::collect_limit) set to error
    /// overflowed: the child was stopped. `partial` holds what was kept.
    #[error("{program}: {stream} exceeded the limit of {limit} bytes; the child was stopped")]
    OutputLimit {
        /// The program as given.
        program: String,
        /// Which stream overflowed.
        stream: StreamName,
        /// The limit.
        limit: usize,
        /// Everything read until the child was stopped, and how it ended
        /// (boxed: the error stays small).
        partial: Box<Output>,
    },
    /// The output was not UTF-8 where text was asked for
    /// ([`Command::check_output_string`](crate::Command::check_output_string)).
    #[error("{program}: output is not valid UTF-8 (at byte {valid_up_to})")]
    NotUtf8 {
        /// The program as given.
        program: String,
        /// How many leading bytes were valid.
        valid_up_to: usize,
        /// The output, as bytes (boxed).
        output: Box<Output>,
    },
    /// The child's exit status was lost: another part of the program reaped
    /// it first (a `waitpid(-1)` elsewhere, or `SIGCHLD` set to `SIG_IGN`,
    /// which makes the kernel reap children at once). `partial` holds the
    /// output read; its `status` means nothing (exit status 255).
    #[error(
        "{program}: exit status lost: the child was reaped by another part of the program (a waitpid(-1) elsewhere, or SIGCHLD set to SIG_IGN)"
    )]
    StatusLost {
        /// The program as given.
        program: String,
        /// Everything read from the child (boxed).
        partial: Box<Output>,
    },
    /// An I/O error while talking to the child (reading, writing, waiting,
    /// signalling) or writing to a sink.
    #[error("{program}: {context}: {source}")]
    Io {
        /// The program as given.
        program: String,
        /// What was being done.
        context: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The program is a script whose `#!` line names an interpreter that
    /// does not exist. (The kernel says "no such file" for it, as if the
    /// script itself were missing.)
    #[error("{program}: its interpreter {interpreter} (from its #! line) was not found")]
    InterpreterNotFound {
        /// The program as given.
        program: String,
        /// The interpreter, as the `#!` line names it.
        interpreter: String,
    },
    /// The file of a [`Sink::file`](crate::Sink::file) (or
    /// [`Sink::append_file`](crate::Sink::append_file)) could not be opened;
    /// the child was not started. A FIFO that nobody reads is refused at
    /// once (`no reader on this FIFO`) instead of waiting for a reader.
    #[error("{program}: cannot open the {stream} sink file {}: {source}", path.display())]
    SinkFile {
        /// The program as given.
        program: String,
        /// Whose sink it is.
        stream: StreamName,
        /// The file, as given.
        path: PathBuf,
        /// Why it could not be opened.
        source: io::Error,
    },
    /// [`Command::require_posix_spawn`](crate::Command::require_posix_spawn)
    /// was asked, and an option of the command needs a fork of the parent;
    /// nothing was started.
    #[error(
        "{program}: {option} needs a fork of the parent (fork+exec), which require_posix_spawn() forbids"
    )]
    ForkRequired {
        /// The program as given.
        program: String,
        /// The option that needs the fork (`"uid"`, `"umask"`, …).
        option: &'static str,
    },
    /// [`Containment::Cgroup`](crate::Containment::Cgroup) was asked and
    /// no cgroup could be made for the child (no cgroup v2 mounted, or no
    /// right to write under the caller's cgroup); nothing was started.
    #[error("{program}: cannot contain the child in a cgroup: {reason}")]
    NoCgroup {
        /// The program as given.
        program: String,
        /// Why, in words (the path tried and the OS error).
        reason: String,
    },
    /// An option this operating system does not have (see PLATFORMS.md):
    /// [`Containment::Cgroup`](crate::Containment::Cgroup) off Linux,
    /// [`parent_death_signal`](crate::Command::parent_death_signal) on
    /// macOS. Checked before anything starts; never silently ignored.
    #[error("{program}: {option} is not supported on {platform}")]
    Unsupported {
        /// The program as given.
        program: String,
        /// The option (`"containment(Cgroup)"`, `"parent_death_signal"`).
        option: &'static str,
        /// The system (`std::env::consts::OS`: `"macos"`, `"freebsd"`…).
        platform: &'static str,
    },
    /// The async API (cargo feature `tokio`) was called where tokio cannot
    /// drive a child: outside a tokio runtime, or on one built without its
    /// I/O driver or its timer. Checked before anything starts.
    #[error(
        "{program}: {reason}; spawn's async API needs a tokio runtime built with enable_io() and enable_time() (or enable_all())"
    )]
    NoRuntime {
        /// The program as given (`"group"` for a `Group`).
        program: String,
        /// What is missing: no runtime, its I/O driver, or its timer.
        reason: &'static str,
    },
}

/// The status of an interrupted child, for `Timeout`'s and `Cancelled`'s
/// messages: only an exited child has one.
fn how_it_ended(partial: &Output) -> String {
    match partial.report.process {
        crate::ProcessState::Exited => partial.status.to_string(),
        crate::ProcessState::Running => "still running".to_owned(),
        crate::ProcessState::NotStarted => "not started".to_owned(),
    }
}

/// The last lines of stderr, for `Failed`'s message.
fn stderr_tail(stderr: &[u8]) -> String {
    const MAX_LINES: usize = 5;
    const MAX_BYTES: usize = 1000;
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim_end();
    if text.is_empty() {
        return String::new();
    }
    let mut start = text.len().saturating_sub(MAX_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    let lines: Vec<&str> = tail.lines().collect();
    let keep = &lines[lines.len().saturating_sub(MAX_LINES)..];
    let mut out = String::from("; stderr ends with:");
    for line in keep {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

impl Error {
    /// The program the error is about, as given to [`Command::new`](crate::Command::new).
    #[must_use]
    pub fn program(&self) -> &str {
        match self {
            Error::NotFound { program, .. }
            | Error::PermissionDenied { program, .. }
            | Error::BadCwd { program, .. }
            | Error::InvalidInput { program, .. }
            | Error::TooManyOpenFiles { program }
            | Error::ArgumentListTooLong { program, .. }
            | Error::Spawn { program, .. }
            | Error::Failed { program, .. }
            | Error::Timeout { program, .. }
            | Error::IdleTimeout { program, .. }
            | Error::Cancelled { program, .. }
            | Error::OutputLimit { program, .. }
            | Error::NotUtf8 { program, .. }
            | Error::StatusLost { program, .. }
            | Error::Io { program, .. }
            | Error::InterpreterNotFound { program, .. }
            | Error::SinkFile { program, .. }
            | Error::ForkRequired { program, .. }
            | Error::NoCgroup { program, .. }
            | Error::Unsupported { program, .. }
            | Error::NoRuntime { program, .. } => program,
        }
    }

    /// A short, stable name of the variant (`"not_found"`, `"timeout"`, …),
    /// as in the serialized form.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::PermissionDenied { .. } => "permission_denied",
            Error::BadCwd { .. } => "bad_cwd",
            Error::InvalidInput { .. } => "invalid_input",
            Error::TooManyOpenFiles { .. } => "too_many_open_files",
            Error::ArgumentListTooLong { .. } => "argument_list_too_long",
            Error::Spawn { .. } => "spawn",
            Error::Failed { .. } => "failed",
            Error::Timeout { .. } => "timeout",
            Error::IdleTimeout { .. } => "idle_timeout",
            Error::Cancelled { .. } => "cancelled",
            Error::OutputLimit { .. } => "output_limit",
            Error::NotUtf8 { .. } => "not_utf8",
            Error::StatusLost { .. } => "status_lost",
            Error::Io { .. } => "io",
            Error::InterpreterNotFound { .. } => "interpreter_not_found",
            Error::SinkFile { .. } => "sink_file",
            Error::ForkRequired { .. } => "fork_required",
            Error::NoCgroup { .. } => "no_cgroup",
            Error::Unsupported { .. } => "unsupported",
            Error::NoRuntime { .. } => "no_runtime",
        }
    }

    /// The output the child produced, when the error came after it ran
    /// (`Failed`, `Timeout`, `IdleTimeout`, `Cancelled`, `OutputLimit`, `NotUtf8`,
    /// `StatusLost`).
    #[must_use]
    pub fn output(&self) -> Option<&Output> {
        match self {
            Error::Failed { output, .. } | Error::NotUtf8 { output, .. } => Some(&**output),
            Error::Timeout { partial, .. }
            | Error::IdleTimeout { partial, .. }
            | Error::Cancelled { partial, .. }
            | Error::OutputLimit { partial, .. }
            | Error::StatusLost { partial, .. } => Some(&**partial),
            _ => None,
        }
    }

    /// Consumes the error and returns its output, as [`output`](Self::output).
    #[must_use]
    pub fn into_output(self) -> Option<Output> {
        match self {
            Error::Failed { output, .. } | Error::NotUtf8 { output, .. } => Some(*output),
            Error::Timeout { partial, .. }
            | Error::IdleTimeout { partial, .. }
            | Error::Cancelled { partial, .. }
            | Error::OutputLimit { partial, .. }
            | Error::StatusLost { partial, .. } => Some(*partial),
            _ => None,
        }
    }

    /// Whether the error means the child never started.
    #[must_use]
    pub fn is_spawn_error(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. }
                | Error::PermissionDenied { .. }
                | Error::BadCwd { .. }
                | Error::InvalidInput { .. }
                | Error::TooManyOpenFiles { .. }
                | Error::ArgumentListTooLong { .. }
                | Error::Spawn { .. }
                | Error::InterpreterNotFound { .. }
                | Error::SinkFile { .. }
                | Error::ForkRequired { .. }
                | Error::NoCgroup { .. }
                | Error::Unsupported { .. }
        )
    }

    pub(crate) fn io(program: &str, context: &'static str, source: io::Error) -> Self {
        if matches!(source.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
            return Error::TooManyOpenFiles {
                program: program.to_owned(),
            };
        }
        Error::Io {
            program: program.to_owned(),
            context,
            source,
        }
    }

    pub(crate) fn invalid(program: &str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            program: program.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::NotFound { .. } => io::ErrorKind::NotFound,
            Error::InterpreterNotFound { .. } => io::ErrorKind::NotFound,
            Error::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::InvalidInput { .. }
            | Error::ArgumentListTooLong { .. }
            | Error::ForkRequired { .. } => io::ErrorKind::InvalidInput,
            Error::Timeout { .. } | Error::IdleTimeout { .. } => io::ErrorKind::TimedOut,
            Error::Cancelled { .. } => io::ErrorKind::Interrupted,
            Error::NotUtf8 { .. } => io::ErrorKind::InvalidData,
            Error::StatusLost { .. } => io::ErrorKind::NotFound,
            Error::NoCgroup { .. } | Error::NoRuntime { .. } | Error::Unsupported { .. } => {
                io::ErrorKind::Unsupported
            }
            Error::BadCwd { source, .. }
            | Error::Spawn { source, .. }
            | Error::Io { source, .. }
            | Error::SinkFile { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Serialized as `{"kind": "...", "message": "...", "program": "..."}`; the
/// partial output of a timeout is not repeated here (the caller serializes it
/// beside the error).
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Error", 3)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.serialize_field("program", self.program())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_keeps_the_last_lines() {
        let text = (1..=20).map(|i| format!("line {i}\n")).collect::<String>();
        let tail = stderr_tail(text.as_bytes());
        assert!(tail.starts_with("; stderr ends with:"));
        assert!(tail.contains("line 20"));
        assert!(tail.contains("line 16"));
        assert!(!tail.contains("line 15\n"));
        assert_eq!(stderr_tail(b"  \n"), "");
    }

    #[test]
    fn errors_are_send_sync_static() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
