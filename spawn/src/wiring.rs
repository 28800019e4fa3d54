//! [`Wiring`]: what a [`Command`] (or one stage of a pipeline) becomes
//! before anything starts: where each of its fds 0, 1, 2 goes, which sinks
//! read its pipes, the input to feed, the process group, and the teardown
//! policy. Decided once, here, for every entry point (`run`, `check*`,
//! `Group`, `Pipeline`, `Command::spawn`, `run_traced`), and validated
//! before the first process starts.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use spawn_core::{ChildSpec, PerStream};

use crate::stdio::StdioKind;
use crate::{Command, Error, Route, Sink, Stdio};

/// Where one of the child's fds 0, 1, 2 goes.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    /// Left as the parent's.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent keeps the other end (read into a sink, or
    /// handed to the caller by `Child`).
    Pipe,
    /// This fd, duplicated into place (the caller's `Stdio::from(fd)`).
    Fd(Arc<OwnedFd>),
    /// (stderr only) wherever the child's stdout goes.
    Merge,
    /// (pipeline stages) the pipe from the previous stage, or to the next.
    Stage,
    /// (pipeline stages' stderr) wherever the pipeline's final stdout goes.
    PipelineStdout,
}

/// The process group the child is started in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupPlan {
    /// The caller's group.
    Caller,
    /// A new group led by the child (`process_group(0)`, a timeout, the
    /// first stage of a pipeline).
    Lead,
    /// A new session led by the child.
    Session,
    /// An existing group the caller named (`process_group(pgid)`).
    Join(u32),
    /// The group led by the first stage of the same pipeline.
    JoinFirstStage,
}

impl GroupPlan {
    /// Whether the child leads a group the run created.
    pub(crate) fn leads(self) -> bool {
        matches!(self, GroupPlan::Lead | GroupPlan::Session)
    }
}

/// A command, decided: see the module docs.
pub(crate) struct Wiring {
    /// The command itself (program, argv, env, cwd, start-up options); kept
    /// until the child starts, then dropped, so the parent keeps no copy of
    /// an fd the caller handed in.
    pub cmd: Command,
    pub name: String,
    pub plans: PerStream<Plan>,
    /// The sinks that read stdout and stderr (their pipes), if any.
    pub sinks: PerStream<Option<Sink>>,
    pub input: Option<Arc<Vec<u8>>>,
    pub group: GroupPlan,
    pub timeout: Option<Duration>,
    pub kill_grace: Duration,
    pub eof_grace: Duration,
    /// The first signal of a teardown.
    pub stop_signal: crate::Signal,
    pub containment: crate::Containment,
}

/// Extra fds go to numbers 3 and up, below the fd limit (the child's
/// `dup2` to a number at or above its `RLIMIT_NOFILE` fails, and it gets our
/// limit: its own `rlimit` is set after its fds), each once.
fn check_passed_fds(cmd: &Command, name: &str) -> Result<(), Error> {
    if cmd.passed_fds.is_empty() {
        return Ok(());
    }
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    for (i, (child_fd, _)) in cmd.passed_fds.iter().enumerate() {
        if let Some(limit) = limit
            && u64::try_from(*child_fd).is_ok_and(|n| n >= limit)
        {
            return Err(Error::invalid(
                name,
                format!(
                    "pass_fd({child_fd}, ..): fd numbers must be below this process's fd limit \
                     (RLIMIT_NOFILE {limit}), which the child inherits"
                ),
            ));
        }
        if *child_fd < 3 {
            return Err(Error::invalid(
                name,
                format!(
                    "pass_fd({child_fd}, ..): fds 0, 1 and 2 are set with stdin(), stdout() and stderr(); pass_fd is for 3 and up"
                ),
            ));
        }
        if cmd.passed_fds[..i].iter().any(|(n, _)| n == child_fd) {
            return Err(Error::invalid(
                name,
                format!("pass_fd({child_fd}, ..) was given twice"),
            ));
        }
    }
    Ok(())
}

/// The sink that reads a route's pipe, if the route is read through one.
pub(crate) fn route_sink(route: Option<&Route>) -> Option<Sink> {
    match route {
        Some(Route::Sink(s)) => Some(s.clone()),
        Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Piped) => Some(Sink::collect()),
        _ => None,
    }
}

fn stdio_plan(s: &Stdio) -> Plan {
    match &s.0 {
        StdioKind::Inherit => Plan::Inherit,
        StdioKind::Null => Plan::Null,
        StdioKind::Piped => Plan::Pipe,
        StdioKind::Merge => Plan::Merge,
        StdioKind::Fd(fd) => Plan::Fd(Arc::clone(fd)),
    }
}

fn route_plan(route: Option<&Route>) -> Plan {
    match route {
        None => Plan::Inherit,
        Some(Route::Sink(_)) => Plan::Pipe,
        Some(Route::Stdio(s)) => stdio_plan(s),
    }
}

impl Wiring {
    /// A plain command (`run`, `Group`, `spawn`).
    pub(crate) fn command(cmd: &Command) -> Result<Wiring, Error> {
        let name = cmd.name();
        let stdin = match &cmd.stdin {
            Some(s) => stdio_plan(s),
            None if cmd.input.is_some() => Plan::Pipe,
            None => Plan::Inherit,
        };
        if cmd.input.is_some() && !matches!(stdin, Plan::Pipe) {
            return Err(Error::invalid(
                &name,
                "input was given but stdin is routed elsewhere (use Stdio::piped() or no stdin route)",
            ));
        }
        let stdout = route_plan(cmd.stdout.as_ref());
        let stderr = route_plan(cmd.stderr.as_ref());
        if matches!(stdout, Plan::Merge) && matches!(stderr, Plan::Merge) {
            return Err(Error::invalid(
                &name,
                "stdout and stderr are both Stdio::merge(): one of them must go somewhere",
            ));
        }
        check_passed_fds(cmd, &name)?;
        if cmd.require_posix_spawn
            && let Some(option) = cmd.fork_reason()
        {
            return Err(Error::ForkRequired {
                program: name,
                option,
            });
        }
        let group = match (cmd.new_session, cmd.process_group) {
            (true, _) => GroupPlan::Session,
            (false, Some(0)) => GroupPlan::Lead,
            (false, Some(pg)) => GroupPlan::Join(pg),
            (false, None) if cmd.timeout.is_some() => GroupPlan::Lead,
            (false, None) => GroupPlan::Caller,
        };
        if let (GroupPlan::Join(pg), Some(_)) = (group, cmd.timeout) {
            return Err(Error::invalid(
                &name,
                format!(
                    "timeout with process_group({pg}): a timeout stops the child's whole group, \
                     and group {pg} is not one this run created (use process_group(0))"
                ),
            ));
        }
        // A merged stream has no pipe of its own: the other one reads both.
        let stderr_sink = if matches!(stderr, Plan::Merge) {
            None
        } else {
            route_sink(cmd.stderr.as_ref())
        };
        let stdout_sink = if matches!(stdout, Plan::Merge) {
            None
        } else {
            route_sink(cmd.stdout.as_ref())
        };
        Ok(Wiring {
            cmd: cmd.clone(),
            name,
            sinks: PerStream {
                stdin: None,
                stdout: stdout_sink,
                stderr: stderr_sink,
            },
            plans: PerStream {
                stdin,
                stdout,
                stderr,
            },
            input: cmd.input.clone(),
            group,
            timeout: cmd.timeout,
            kill_grace: cmd.kill_grace,
            eof_grace: cmd.eof_grace,
            stop_signal: cmd.stop_signal,
            containment: cmd.containment,
        })
    }

    /// Whether the run owns the child's group for its teardown: the child
    /// leads a group the run created, and something bounds its life (a
    /// timeout; a pipeline keeps its first stage for the whole pipeline).
    pub(crate) fn owns_group_teardown(&self, pipeline_leader: bool) -> bool {
        (self.group.leads() && (self.timeout.is_some() || pipeline_leader)) || self.ends_leftovers()
    }

    /// Whether what the child leaves behind is ended when it is done, with
    /// or without a timeout: a cgroup contains everything its run started.
    pub(crate) fn ends_leftovers(&self) -> bool {
        self.containment == crate::Containment::Cgroup
    }

    /// The core's view of this child.
    pub(crate) fn spec(&self, read_chunk: usize, write_chunk: usize) -> ChildSpec {
        ChildSpec {
            // A piped stdin with no input is closed at once (EOF).
            stdin: matches!(self.plans.stdin, Plan::Pipe),
            input_len: self.input.as_ref().map_or(0, |i| i.len() as u64),
            stdout: self.sinks.stdout.is_some(),
            stderr: self.sinks.stderr.is_some(),
            timeout: self.timeout,
            kill_grace: self.kill_grace,
            eof_grace: self.eof_grace,
            signal_group: self.owns_group_teardown(false),
            end_leftovers: self.ends_leftovers(),
            read_chunk,
            write_chunk,
            ..ChildSpec::default()
        }
    }
}
