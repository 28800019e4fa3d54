//! [`Stdio`]: where a child's stdin, stdout or stderr is connected, and
//! [`Route`], what `Command::stdout`/`stderr` accept (a `Stdio` or a [`Sink`]).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::Sink;

/// How one of the child's standard streams is connected, as in
/// [`std::process::Stdio`] and Python's `PIPE`, `DEVNULL`, `STDOUT`.
///
/// | spawn              | Python                     | shell        |
/// |--------------------|----------------------------|--------------|
/// | `Stdio::inherit()` | `None`                     | (nothing)    |
/// | `Stdio::null()`    | `subprocess.DEVNULL`       | `>/dev/null` |
/// | `Stdio::piped()`   | `subprocess.PIPE`          | `$(…)`       |
/// | `Stdio::merge()`   | `stderr=subprocess.STDOUT` | `2>&1`       |
/// | `Stdio::from(file)`| `stdout=f`                 | `>file`      |
///
/// # Examples
///
/// ```
/// use spawn::{Command, Stdio};
/// // (ls /nonexistent /) 2>&1, captured
/// let out = Command::new("ls").args(["/nonexistent", "/"])
///     .stdout(Stdio::piped())
///     .stderr(Stdio::merge())
///     .run()?;
/// assert!(out.stderr.is_empty());
/// assert!(!out.stdout.is_empty());
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Stdio(pub(crate) StdioKind);

#[derive(Clone, Debug)]
pub(crate) enum StdioKind {
    Inherit,
    Null,
    Piped,
    Merge,
    Fd(Arc<OwnedFd>),
}

impl Stdio {
    /// The child uses the parent's stream (the default for `run`).
    #[must_use]
    pub fn inherit() -> Self {
        Stdio(StdioKind::Inherit)
    }

    /// The child's stream is `/dev/null`.
    #[must_use]
    pub fn null() -> Self {
        Stdio(StdioKind::Null)
    }

    /// A pipe to the parent. For stdout and stderr, what is read is collected
    /// into [`Output`](crate::Output) (the same as [`Sink::collect`]); for
    /// stdin, [`Command::input`](crate::Command::input) is fed through it, or
    /// [`Child::take_stdin`](crate::Child::take_stdin) gives the write end.
    #[must_use]
    pub fn piped() -> Self {
        Stdio(StdioKind::Piped)
    }

    /// On stderr: send it wherever stdout goes (a pipe, a sink, a file, the
    /// terminal), like `2>&1`. On stdout: send it wherever stderr goes, like
    /// `1>&2` (duct's `stdout_to_stderr`). Order between the two streams is
    /// kept exactly, since the child writes both into one place. Not on
    /// both at once.
    #[must_use]
    pub fn merge() -> Self {
        Stdio(StdioKind::Merge)
    }

    /// The child's stream is this fd (duplicated into the child; the caller
    /// keeps its own).
    #[must_use]
    pub fn fd(fd: OwnedFd) -> Self {
        Stdio(StdioKind::Fd(Arc::new(fd)))
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Self {
        Stdio::fd(OwnedFd::from(f))
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Stdio::fd(fd)
    }
}

/// Where a child's stdout or stderr goes: a [`Stdio`] connection or a
/// [`Sink`] that consumes the bytes as they arrive.
///
/// Anything that converts into a `Route` can be passed to
/// [`Command::stdout`](crate::Command::stdout) and
/// [`Command::stderr`](crate::Command::stderr).
#[derive(Clone, Debug)]
pub enum Route {
    /// A plain connection (inherit, null, pipe, merge, fd).
    Stdio(Stdio),
    /// A pipe to the parent whose bytes go to this sink.
    Sink(Sink),
}

impl From<Stdio> for Route {
    fn from(s: Stdio) -> Self {
        Route::Stdio(s)
    }
}

impl From<Sink> for Route {
    fn from(s: Sink) -> Self {
        Route::Sink(s)
    }
}

impl From<File> for Route {
    fn from(f: File) -> Self {
        Route::Stdio(Stdio::from(f))
    }
}

impl From<OwnedFd> for Route {
    fn from(fd: OwnedFd) -> Self {
        Route::Stdio(Stdio::from(fd))
    }
}
