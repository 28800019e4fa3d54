//! [`Command`]: the owned, reusable builder of a child process, and the calls
//! people reach for first (`run`, `check`, `check_output`, `spawn`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::run_settings::RunSettings;
use crate::{Child, Error, Output, Route, Sink, Stdio};

/// How long a child gets between TERM and KILL when it is stopped (timeout,
/// output limit, cancel). Change it with [`Command::kill_grace`].
pub const DEFAULT_KILL_GRACE: Duration = spawn_core::DEFAULT_KILL_GRACE;

/// How long, after a child exited, its stdout and stderr are still read while
/// something else (a grandchild) holds them open. Change it with
/// [`Command::eof_grace`].
pub const DEFAULT_EOF_GRACE: Duration = spawn_core::DEFAULT_EOF_GRACE;

/// A program to run, with everything about how to run it.
///
/// An owned builder: each method takes and returns `self`. A `Command` is
/// `Clone` and not consumed by running it, so one can be run many times.
///
/// Defaults, as in Python's `subprocess.run`:
/// - stdin, stdout and stderr are inherited from the parent, except that
///   [`input`](Self::input) pipes stdin and the `check_output*` pair pipes stdout;
/// - the environment and working directory are the parent's;
/// - the program is searched in the `PATH` the child will get (see
///   [`env`](Self::env)), unless it contains a `/`;
/// - no timeout; every stop of a run (see *What a stop ends*) ends
///   everything the run started;
/// - no shell: arguments are passed as they are. [`Command::shell`] runs a
///   shell on purpose.
///
/// # What a stop ends
///
/// Every stop of a run (its timeout, a [`cancel_on`](Self::cancel_on)
/// token, [`kill_on_drop`](Self::kill_on_drop), a dropped future or
/// [`GroupResults`](crate::GroupResults), signals passed on by a
/// [`Forwarder`](crate::Forwarder)) ends the same thing, decided when the
/// run starts: the group or session the child leads
/// ([`process_group(0)`](Self::process_group),
/// [`new_session`](Self::new_session), or a group spawn makes for a run
/// that can be stopped when the caller has no controlling terminal); else
/// (the caller has a terminal, whose Ctrl-C must still reach the child, or
/// the child joined a group it named) the child and its descendants, found
/// in `/proc` at the stop; and its cgroup with
/// [`Containment::Cgroup`](crate::Containment::Cgroup). A run that nothing
/// can stop starts in the caller's group, as with std. Choose
/// `process_group(0)` or `new_session()` to reach what a child's children
/// leave behind even in a terminal (Ctrl-C then no longer reaches them), and
/// a cgroup to reach double-forked daemons too.
///
/// # In a pipeline or a group
///
/// The run settings ([`timeout`](Self::timeout),
/// [`kill_grace`](Self::kill_grace), [`eof_grace`](Self::eof_grace),
/// [`stop_signal`](Self::stop_signal),
/// [`containment`](Self::containment)) are also set on a
/// [`Pipeline`](crate::Pipeline) and a [`Group`](crate::Group): a
/// pipeline's replace its stages' own (a pipeline is one job), a group's
/// apply to the members that set none of their own. A command's own
/// [`cancel_on`](Self::cancel_on) token still cancels it alone; its
/// [`forward_signals`](Self::forward_signals) is not used there (give the
/// forwarder to the pipeline or group).
///
/// # Examples
///
/// ```
/// use spawn::Command;
/// // subprocess.run(["ls", "-l", "/"], capture_output=True)
/// let out = Command::new("ls").args(["-l", "/"]).stdout(spawn::Stdio::piped()).run()?;
/// assert!(out.status.success());
/// assert!(!out.stdout.is_empty());
///
/// // subprocess.check_output(["echo", "hi"], text=True)
/// assert_eq!(Command::new("echo").arg("hi").check_output_string()?, "hi\n");
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) arg0: Option<OsString>,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: BTreeMap<OsString, Option<OsString>>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Option<Stdio>,
    pub(crate) stdout: Option<Route>,
    pub(crate) stderr: Option<Route>,
    pub(crate) input: Option<Arc<Vec<u8>>>,
    /// Timeout, graces, stop signal, containment, cancel token, forwarder.
    pub(crate) settings: RunSettings,
    pub(crate) process_group: Option<u32>,
    pub(crate) new_session: bool,
    pub(crate) kill_on_drop: bool,
    pub(crate) pipe_capacity: Option<usize>,
    pub(crate) umask: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) rlimits: Vec<(i32, u64, u64)>,
    pub(crate) passed_fds: Vec<(i32, Arc<std::os::fd::OwnedFd>)>,
    pub(crate) parent_death_signal: Option<crate::Signal>,
    pub(crate) require_posix_spawn: bool,
    pub(crate) pty: Option<crate::Pty>,
}

impl fmt::Debug for Command {
    /// Shows the command as a shell would read it (`ls -l 'a b'`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_quote(&self.program))?;
        for a in &self.args {
            f.write_str(" ")?;
            f.write_str(&shell_quote(a))?;
        }
        Ok(())
    }
}

/// At most this many characters of a command line go into a message.
const COMMAND_LINE_MAX: usize = 200;

impl Command {
    /// The command as a shell would read it, for messages: the program and
    /// its arguments, each quoted as one shell word, cut after
    /// [`COMMAND_LINE_MAX`] characters with `…` (Python's
    /// `CalledProcessError` names the command so). A [`Command::shell`]
    /// reads `sh -c 'script'`, without the `$0` it passes.
    pub(crate) fn command_line(&self) -> String {
        let shell = self.program == "/bin/sh"
            && self.arg0.as_deref() == Some(OsStr::new("sh"))
            && self.args.len() >= 3
            && self.args[0] == "-c"
            && self.args[2] == "sh";
        let (program, args): (&OsStr, Vec<&OsString>) = if shell {
            let mut args: Vec<&OsString> = self.args.iter().collect();
            args.remove(2);
            (OsStr::new("sh"), args)
        } else {
            (&self.program, self.args.iter().collect())
        };
        let mut line = shell_quote(program);
        for a in args {
            line.push(' ');
            line.push_str(&shell_quote(a));
            if line.chars().count() > COMMAND_LINE_MAX {
                break;
            }
        }
        match line.char_indices().nth(COMMAND_LINE_MAX) {
            Some((cut, _)) => {
                line.truncate(cut);
                line.push('…');
                line
            }
            None => line,
        }
    }
}

/// Quotes `s` for display as one shell word.
pub(crate) fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Command {
    /// A command that runs `program` with no arguments.
    ///
    /// `program` is searched in the child's `PATH` unless it contains a `/`.
    /// Nothing runs until [`run`](Self::run), [`check`](Self::check),
    /// [`check_output`](Self::check_output) or [`spawn`](Self::spawn).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            input: None,
            settings: RunSettings::default(),
            process_group: None,
            new_session: false,
            kill_on_drop: false,
            pipe_capacity: None,
            umask: None,
            uid: None,
            gid: None,
            groups: None,
            rlimits: Vec::new(),
            passed_fds: Vec::new(),
            parent_death_signal: None,
            require_posix_spawn: false,
            pty: None,
        }
    }

    /// `/bin/sh -c script`: runs a shell on purpose (spawn never does
    /// implicitly). The script sees `$0` as `sh`; more arguments given with
    /// [`arg`](Self::arg) become `$1`, `$2`, ….
    ///
    /// # Warning
    /// Never build `script` from untrusted input: pass data as arguments
    /// (`"$1"`) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = spawn::Command::shell("echo \"$1-$HOME\"").arg("x")
    ///     .env("HOME", "/home/me").check_output_string()?;
    /// assert_eq!(out, "x-/home/me\n");
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn shell(script: impl AsRef<OsStr>) -> Self {
        Command::new("/bin/sh")
            .arg0("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]`, which is the program name as given by default.
    #[must_use]
    pub fn arg0(mut self, arg0: impl AsRef<OsStr>) -> Self {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for the child (and for the `PATH` search
    /// of its program, when `key` is `PATH`).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets several environment variables.
    #[must_use]
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    #[must_use]
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts the child's environment empty (variables set with
    /// [`env`](Self::env) after or before this still apply). The program is
    /// then searched in `/bin:/usr/bin` unless `PATH` is set.
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.retain(|_, v| v.is_some());
        self
    }

    /// Runs the child in `dir`. A relative program path (one with a `/`) is
    /// relative to `dir`, as with `execve` after `chdir`.
    #[must_use]
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Where the child's stdin comes from.
    #[must_use]
    pub fn stdin(mut self, stdin: impl Into<Stdio>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Where the child's stdout goes: a [`Stdio`] or a [`Sink`].
    #[must_use]
    pub fn stdout(mut self, stdout: impl Into<Route>) -> Self {
        self.stdout = Some(stdout.into());
        self
    }

    /// Where the child's stderr goes: a [`Stdio`] (including
    /// [`Stdio::merge`], into stdout) or a [`Sink`].
    #[must_use]
    pub fn stderr(mut self, stderr: impl Into<Route>) -> Self {
        self.stderr = Some(stderr.into());
        self
    }

    /// Bytes to feed to the child's stdin (which becomes a pipe), written
    /// while its output is read, then stdin is closed. A child that exits or
    /// closes stdin before taking it all is not an error: the report says how
    /// much it took.
    #[must_use]
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(Arc::new(input.into()));
        self
    }

    /// Stops the child when it runs longer than `timeout`, and with it
    /// everything in its process group: TERM to the child (through its
    /// pidfd) and to its group, KILL to both after the
    /// [`kill_grace`](Self::kill_grace), and KILL again until the group is
    /// empty. The run returns [`Error::Timeout`] with everything read so
    /// far, once the teardown has ended.
    ///
    /// A timeout bounds the life of the whole group: when the child exits
    /// first and leaves members of its group behind (a background job), they
    /// are stopped the same way once its pipes are closed, and the run
    /// returns the child's status.
    ///
    /// The teardown reaches what the child started too (see *What a stop
    /// ends* in the [type docs](Command)): a group of its own where no
    /// terminal can be lost, else its descendants. With
    /// [`process_group(pgid)`](Self::process_group) of an existing group the
    /// run did not create, it reaches the child and its descendants: spawn
    /// never tears down a group it does not own.
    ///
    /// A [`spawn`](Self::spawn)ed child's timeout runs from its start and
    /// is enforced by [`Child::communicate`] and [`Child::wait`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Stops the child when it writes nothing that spawn reads, on stdout
    /// or stderr, for `idle`: a hung program that still runs. The stop is
    /// a timeout's (the [`stop_signal`](Self::stop_signal) to the child and
    /// what contains it, KILL after the [`kill_grace`](Self::kill_grace)),
    /// and the run returns [`Error::IdleTimeout`] with everything read so
    /// far. The time counts from the start, then from the last output.
    ///
    /// Only output that spawn reads counts: with neither stdout nor stderr
    /// going to spawn (both inherited, or sent to a file the child writes
    /// itself) it could never fire, and the run is refused with
    /// [`Error::InvalidInput`]. A [`spawn`](Self::spawn)ed child's idle
    /// time counts from when [`Child::communicate`] or [`Child::wait`]
    /// starts reading it.
    ///
    /// ```
    /// use spawn::{Command, Error, Stdio};
    /// use std::time::Duration;
    /// let err = Command::shell("echo started; sleep 30")
    ///     .stdout(Stdio::piped())
    ///     .idle_timeout(Duration::from_millis(200))
    ///     .run()
    ///     .unwrap_err();
    /// let Error::IdleTimeout { partial, .. } = err else { panic!("{err}") };
    /// assert_eq!(partial.stdout, b"started\n");
    /// ```
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = Some(idle);
        self
    }

    /// The time between TERM and KILL when the child is stopped
    /// (default [`DEFAULT_KILL_GRACE`]).
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.settings.kill_grace = Some(grace);
        self
    }

    /// How long to keep reading stdout and stderr after the child exited,
    /// while something else holds them open (default [`DEFAULT_EOF_GRACE`]);
    /// then the pipes are closed and the report says so (Go's `WaitDelay`).
    #[must_use]
    pub fn eof_grace(mut self, grace: Duration) -> Self {
        self.settings.eof_grace = Some(grace);
        self
    }

    /// Puts the child in process group `pgid`; `0` makes a new group led by
    /// the child (like `setpgid(0, 0)`). Every stop of the run and
    /// [`Child::kill_group`] then go to that group (which the terminal's
    /// Ctrl-C no longer reaches).
    #[must_use]
    pub fn process_group(mut self, pgid: u32) -> Self {
        self.process_group = Some(pgid);
        self
    }

    /// Runs the child on a new pseudo-terminal, set up as `pty` says: the
    /// child starts in a new session (leading its own process group) with
    /// the terminal's slave as its controlling terminal on fds 0, 1 and 2,
    /// so that it sees a terminal (`isatty`), with colours, line buffering
    /// and prompts. What it writes is read from the master into the
    /// [`stdout`](Self::stdout) sink ([`Sink::collect`](crate::Sink::collect)
    /// unless another sink is given), with every sink's limits and
    /// backpressure; its stderr goes there too, unless
    /// [`stderr`](Self::stderr) routes it apart (then fd 2 is that route,
    /// a pipe for a sink). [`input`](Self::input) is typed into the
    /// terminal, followed by the end-of-file character (Ctrl-D) so that a
    /// child reading to the end sees it (`input(b"")` sends only that);
    /// with no input nothing is typed ([`Child::take_stdin`](crate::Child::take_stdin)
    /// gives the master's write side). Every stop reaches the child's
    /// session (its process group); [`Child::pty`](crate::Child::pty)
    /// resizes the terminal; [`Report::pty`](crate::Report::pty) says a
    /// pty was used.
    ///
    /// The start stays fork-free: the child opens the slave by path as a
    /// new session's leader, which makes it its controlling terminal on
    /// Linux, on the `clone3` and `posix_spawn` (`POSIX_SPAWN_SETSID`)
    /// paths alike. Elsewhere (macOS, the BSDs: a terminal is acquired
    /// only by `TIOCSCTTY`) it is [`Error::Unsupported`].
    ///
    /// Refused before anything starts ([`Error::InvalidInput`]): a
    /// `stdin` other than [`Stdio::piped`], a `stdout` that is no sink
    /// and not [`Stdio::piped`], `process_group`, `new_session`, and a
    /// pipeline stage. Limits: the terminal reads input a line at a time,
    /// 4,095 bytes at most per line (canonical mode); with echo on, the
    /// input comes back in the output; when the child exits, the kernel
    /// hangs its terminal up, and what it left running in its group gets
    /// `SIGHUP`, as in a terminal window that closes; a pty's throughput
    /// is the terminal's (about 110 MB/s here, BENCHMARKS.md), a pipe's
    /// is ten times more.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Pty};
    /// let out = Command::new("python3")
    ///     .args(["-c", "import sys; print(sys.stdout.isatty())"])
    ///     .pty(Pty::new())
    ///     .run()?;
    /// assert_eq!(out.stdout_lossy(), "True\r\n");
    /// assert!(out.report.pty);
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn pty(mut self, pty: crate::Pty) -> Self {
        self.pty = Some(pty);
        self
    }

    /// Starts the child in a new session (`setsid`), detached from the
    /// terminal, leading its own process group.
    #[must_use]
    pub fn new_session(mut self) -> Self {
        self.new_session = true;
        self
    }

    /// Whether dropping the [`Child`] from [`spawn`](Self::spawn) kills it
    /// (default: no; it is reaped in the background either way): KILL to
    /// the child and what contains it (the group it leads, its cgroup), at
    /// once, without the [`stop_signal`](Self::stop_signal) or a grace.
    #[must_use]
    pub fn kill_on_drop(mut self, kill: bool) -> Self {
        self.kill_on_drop = kill;
        self
    }

    /// Asks for this capacity (bytes) on the pipes to and from the child
    /// (`F_SETPIPE_SZ`, capped at `/proc/sys/fs/pipe-max-size`). Larger pipes
    /// mean fewer wake-ups for children that write a lot.
    ///
    /// Without it, spawn raises a pipe to 1 MiB by itself once the pipe
    /// proves busy (a read found it full, or the input is larger than it),
    /// holding at most a quarter of the user's pipe quota
    /// (`/proc/sys/fs/pipe-user-pages-soft`) in raised pipes at once; with
    /// it, the capacity is what you asked for and stays so.
    #[must_use]
    pub fn pipe_capacity(mut self, bytes: usize) -> Self {
        self.pipe_capacity = Some(bytes);
        self
    }

    /// Passes the signals `forwarder` receives (e.g. Ctrl-C) on to the
    /// child while [`run`](Self::run) drives it, or the waits of a
    /// [`spawn`](Self::spawn)ed one; see [`crate::Forwarder`]. Not used
    /// in a [`Group`](crate::Group) or [`Pipeline`](crate::Pipeline): give
    /// the forwarder to it.
    #[must_use]
    pub fn forward_signals(mut self, forwarder: &crate::Forwarder) -> Self {
        self.settings.forwarder = Some(forwarder.clone());
        self
    }

    /// Cancels the run when `token` is cancelled, from any thread: the
    /// child is stopped as a [`timeout`](Self::timeout) stops it (the
    /// [`stop_signal`](Self::stop_signal) to it and its group, the
    /// [`kill_grace`](Self::kill_grace), KILL) and the run returns
    /// [`Error::Cancelled`](crate::Error::Cancelled) with the output read so
    /// far. A token cancelled before the run starts nothing. Applies to
    /// every way of running the command ([`run`](Self::run), `check*`, a
    /// [`Group`](crate::Group) or [`Pipeline`](crate::Pipeline) it is in,
    /// and the waits and `communicate` of a spawned [`Child`](crate::Child)).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{CancelToken, Command, Error, Stdio};
    /// let token = CancelToken::new();
    /// token.cancel();
    /// let err = Command::new("echo").arg("never").stdout(Stdio::piped())
    ///     .cancel_on(&token).run().unwrap_err();
    /// assert!(matches!(err, Error::Cancelled { .. }));
    /// ```
    #[must_use]
    pub fn cancel_on(mut self, token: &crate::CancelToken) -> Self {
        self.settings.cancel = Some(token.clone());
        self
    }

    /// The first signal of every teardown of this child that can wait (a
    /// timeout, an overflowing sink, a cancel): sent to the child and its
    /// group, then KILL after the [`kill_grace`](Self::kill_grace). A drop
    /// with [`kill_on_drop`](Self::kill_on_drop) cannot wait: it sends KILL
    /// at once, not this signal. Default [`Signal::TERM`](crate::Signal::TERM);
    /// many programs clean up on [`Signal::INT`](crate::Signal::INT).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Signal};
    /// use std::time::Duration;
    /// let err = Command::shell("trap 'echo got INT; exit 3' INT; sleep 30 & wait")
    ///     .stdout(spawn::Stdio::piped())
    ///     .stop_signal(Signal::INT)
    ///     .timeout(Duration::from_millis(200))
    ///     .run()
    ///     .unwrap_err();
    /// let Error::Timeout { partial, .. } = err else { panic!() };
    /// assert_eq!(partial.stdout, b"got INT\n");
    /// ```
    #[must_use]
    pub fn stop_signal(mut self, signal: crate::Signal) -> Self {
        self.settings.set_stop_signal(signal);
        self
    }

    /// The steps every stop of this child takes, in place of the
    /// [`stop_signal`](Self::stop_signal) and its
    /// [`kill_grace`](Self::kill_grace) (GNU parallel's `--term-seq`):
    /// each `(signal, wait)` goes to the child and its group, the next step
    /// only if something is still alive after `wait`, and KILL after the
    /// last step, repeated until the group is empty. The run's
    /// [`Report::stop_step`](crate::Report::stop_step) names the step that
    /// ended it. A bad sequence (none, too many steps, KILL before the
    /// last) is [`Error::InvalidInput`] before anything starts. The one of
    /// `stop_signal` and `stop_sequence` called last is used.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Signal, Stdio};
    /// use std::time::Duration;
    /// let err = Command::shell("trap 'echo INT' INT; trap 'echo HUP; exit 1' HUP; \
    ///                           echo ready; while :; do sleep 0.01; done")
    ///     .stdout(Stdio::piped())
    ///     .stop_sequence([
    ///         (Signal::INT, Duration::from_millis(300)),
    ///         (Signal::HUP, Duration::from_secs(5)),
    ///     ])
    ///     .timeout(Duration::from_millis(300))
    ///     .run()
    ///     .unwrap_err();
    /// let Error::Timeout { partial, .. } = err else { panic!("{err}") };
    /// assert_eq!(partial.stdout, b"ready\nINT\nHUP\n");
    /// assert_eq!(partial.report.stop_step.unwrap().signal, Signal::HUP);
    /// ```
    #[must_use]
    pub fn stop_sequence(
        mut self,
        steps: impl IntoIterator<Item = (crate::Signal, Duration)>,
    ) -> Self {
        self.settings
            .set_stop_sequence(crate::StopSequence::new(steps));
        self
    }

    /// Pipes stdout and stderr and collects both (Python's
    /// `capture_output=True`): the same as `.stdout(Stdio::piped())
    /// .stderr(Stdio::piped())`.
    #[must_use]
    pub fn capture_output(self) -> Self {
        self.stdout(Stdio::piped()).stderr(Stdio::piped())
    }

    /// The program, as given.
    #[must_use]
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, without the program.
    #[must_use]
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The program as text, for messages.
    pub(crate) fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Runs the command to completion and returns its output; a non-zero exit
    /// is not an error (see [`check`](Self::check)).
    ///
    /// Routes not set are inherited (stdin is piped when there is
    /// [`input`](Self::input)). Output from pipes and sinks is read while
    /// input is written, so the child never blocks on a full pipe.
    ///
    /// # Errors
    /// The child could not be started ([`Error::NotFound`],
    /// [`Error::PermissionDenied`], [`Error::BadCwd`], …), it timed out
    /// ([`Error::Timeout`], with the partial output), or a sink failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// let out = Command::new("sort").input("b\na\n").stdout(Stdio::piped()).run()?;
    /// assert_eq!(out.stdout, b"a\nb\n");
    /// assert_eq!(out.report.stdin_bytes, 4);
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn run(&self) -> Result<Output, Error> {
        crate::run_one::run_one(self, None)
    }

    /// Runs the command like [`run`](Self::run) and fails with
    /// [`Error::Failed`] unless it exits with code 0 (Python's `check_call`).
    ///
    /// # Errors
    /// As [`run`](Self::run), plus [`Error::Failed`], whose message ends with
    /// the last lines of stderr when stderr was captured.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error};
    /// let err = Command::new("false").check().unwrap_err();
    /// assert!(matches!(err, Error::Failed { .. }));
    /// assert_eq!(err.to_string(), "false: exit status 1");
    /// ```
    pub fn check(&self) -> Result<Output, Error> {
        self.checked(self.run()?)
    }

    /// Runs the command with stdout collected (unless routed elsewhere),
    /// checks that it succeeded, and returns stdout (Python's `check_output`).
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn check_output(&self) -> Result<Vec<u8>, Error> {
        let cmd = self.with_default_stdout();
        Ok(cmd.checked(cmd.run()?)?.stdout)
    }

    /// As [`check_output`](Self::check_output), as text.
    ///
    /// # Errors
    /// As [`check`](Self::check), plus [`Error::NotUtf8`] (which carries
    /// the output) when stdout is not UTF-8.
    pub fn check_output_string(&self) -> Result<String, Error> {
        let cmd = self.with_default_stdout();
        cmd.stdout_string(cmd.checked(cmd.run()?)?)
    }

    /// `check`'s verdict on a finished run (shared by the blocking and the
    /// async entry points): the output, or [`Error::Failed`] unless it
    /// exited with code 0.
    pub(crate) fn checked(&self, out: Output) -> Result<Output, Error> {
        if out.status.success() {
            Ok(out)
        } else {
            Err(crate::finish::failed(self.name(), self.command_line(), out))
        }
    }

    /// A checked run's stdout as text, or [`Error::NotUtf8`] carrying the
    /// output (`check_output_string` and its async twin).
    pub(crate) fn stdout_string(&self, out: Output) -> Result<String, Error> {
        crate::finish::stdout_text(self.name(), out)
    }

    /// The command the `check_output*` calls run: stdout collected unless
    /// routed elsewhere.
    pub(crate) fn with_default_stdout(&self) -> Command {
        let mut cmd = self.clone();
        if cmd.stdout.is_none() {
            cmd.stdout = Some(Route::Sink(Sink::collect()));
        }
        cmd
    }

    /// Starts the child and returns at once, for Popen-style control:
    /// interactive I/O through [`Child::take_stdin`] and friends,
    /// [`Child::communicate`], signals and waits.
    ///
    /// Routes not set are inherited; ask for pipes with [`Stdio::piped`].
    /// Sinks given for stdout or stderr apply when
    /// [`Child::communicate`] drains the streams.
    ///
    /// # Errors
    /// The child could not be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// use std::io::{BufRead, BufReader, Write};
    ///
    /// let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    /// let mut stdin = child.take_stdin().unwrap();
    /// let mut stdout = BufReader::new(child.take_stdout().unwrap());
    /// writeln!(stdin, "ping").unwrap();
    /// let mut line = String::new();
    /// stdout.read_line(&mut line).unwrap();
    /// assert_eq!(line, "ping\n");
    /// drop(stdin);
    /// assert!(child.wait()?.success());
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn spawn(&self) -> Result<Child, Error> {
        Child::spawn(self)
    }
}

impl From<&Command> for Command {
    fn from(c: &Command) -> Self {
        c.clone()
    }
}
