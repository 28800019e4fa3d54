//! [`Wiring`]: what a [`Command`] (or one stage of a pipeline) becomes
//! before anything starts: where each of its fds 0, 1, 2 goes, which sinks
//! read its pipes, the input to feed, the process group, and the teardown
//! policy. Decided once, here, for every entry point (`run`, `check*`,
//! `Group`, `Pipeline`, `Command::spawn`, `run_traced`), and validated
//! before the first process starts.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use spawn_core::{ChildId, ChildSpec, PerStream};

use spawn_sys::Pid;

use crate::process::ProcessGroup;
use crate::stdio::StdioKind;
use crate::stop_sequence::StopPlan;
use crate::{Command, Error, Route, Sink, Stdio};

/// Where one of the child's fds 0, 1, 2 goes.
#[derive(Clone, Debug, Default)]
pub(crate) enum Plan {
    /// Left as the parent's.
    #[default]
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
    /// The slave of the command's pseudo-terminal (`Command::pty`); the
    /// parent's end is a duplicate of its master.
    Pty,
}

/// Who may stop a run besides what its command says: an input to the
/// wiring from the entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stops {
    /// Only what the command says: its `timeout`, `cancel_on`,
    /// `kill_on_drop` or `forward_signals` (`run`, `check*`, `run_traced`,
    /// `Command::spawn`, `spawn_async`). Without any of them nothing stops
    /// the run, and the child starts as std starts it.
    ByCommand,
    /// Also its owner, whatever the command says: a `Group` (its cancel,
    /// the drop of its `GroupResults`), a pipeline, a future (its drop).
    ByOwner,
}

/// What a stop of the run ends besides the child: decided once, here, and
/// taken by every stop (timeout, cancel, a drop, `kill_on_drop`, forwarded
/// signals). A `Containment::Cgroup` adds the cgroup to any of them. See
/// ARCHITECTURE.md, *Stops*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Nothing can stop the run: the child alone (as std and Python).
    Child,
    /// The group or session the child leads: asked for, or chosen by spawn
    /// for a run that can be stopped when no terminal can be lost.
    Group,
    /// The child and its descendants, walked in `/proc`: the child stays in
    /// the caller's group (the caller has a controlling terminal, whose
    /// Ctrl-C must still reach it, or it joined a group it named).
    Descendants,
}

/// The group spawn chooses for a run that can be stopped and asked for no
/// group: one of its own (so that a stop reaches everything it started),
/// unless the caller has a controlling terminal: the terminal's Ctrl-C
/// goes to the foreground group, and a child moved out of it would outlive
/// a program that Ctrl-C ends (read once per process).
fn chosen_group() -> ProcessGroup {
    static TERMINAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *TERMINAL.get_or_init(spawn_sys::has_controlling_terminal) {
        ProcessGroup::Caller
    } else {
        ProcessGroup::Lead
    }
}

/// The group of a command, from what it asked for and whether the run can
/// be stopped. A group id it names must fit a pid; a new session cannot
/// also join or make a group (its leader leads a group of its own).
fn group_of(cmd: &Command, name: &str, stoppable: bool) -> Result<ProcessGroup, Error> {
    check_process_group(cmd, name)?;
    if cmd.pty.is_some() {
        // The terminal's slave is the controlling terminal of a session
        // the child leads: the group is that session's.
        return match (cmd.new_session, cmd.process_group) {
            (false, None) => Ok(ProcessGroup::Session),
            (true, _) => Err(Error::invalid(
                name,
                "pty() and new_session() were both given: a pty child leads a new session \
                 already (drop new_session())",
            )),
            (false, Some(g)) => Err(Error::invalid(
                name,
                format!(
                    "pty() and process_group({g}) were both given: a pty child leads a new \
                     session and its process group"
                ),
            )),
        };
    }
    Ok(match (cmd.new_session, cmd.process_group) {
        (true, None) => ProcessGroup::Session,
        (true, Some(g)) => {
            return Err(Error::invalid(
                name,
                format!(
                    "new_session() and process_group({g}) were both given: a new session's \
                     leader leads a new group of its own"
                ),
            ));
        }
        (false, Some(g)) => i32::try_from(g)
            .ok()
            .and_then(Pid::from_raw)
            .map_or(ProcessGroup::Lead, ProcessGroup::Join),
        (false, None) if stoppable => chosen_group(),
        (false, None) => ProcessGroup::Caller,
    })
}

/// What a stop of a run in `group` reaches.
fn reach_of(group: ProcessGroup, stoppable: bool) -> Reach {
    match group {
        ProcessGroup::Lead | ProcessGroup::Session => Reach::Group,
        _ if stoppable => Reach::Descendants,
        _ => Reach::Child,
    }
}

/// Where a pipeline puts one of its stages (see [`Wiring::stage`]).
pub(crate) struct StagePlace {
    pub index: usize,
    pub last: bool,
    /// The pipeline's stderr is merged into its final stdout: a piped final
    /// stdout is the pipe the merged stderr shares.
    pub merged_output: bool,
    pub stderr: StageStderr,
}

/// Where a stage's stderr goes.
#[derive(Clone)]
pub(crate) enum StageStderr {
    /// As the stage's command routes it (its own route, or the pipeline's
    /// when that is no sink).
    AsRouted,
    /// Where the pipeline's final stdout goes (`stderr(Stdio::merge())`).
    Merged,
    /// Through a pipe of its own into the pipeline's one stderr sink, which
    /// the engine opened (`Pipeline::run`).
    SharedSink,
    /// Into the one pipe every stage's stderr shares, whose read end is
    /// handed out (`Pipeline::spawn`).
    SharedPipe(Arc<OwnedFd>),
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
    /// The process group it starts in (the one decision launch, `Process`
    /// and the teardown read).
    pub group: ProcessGroup,
    /// What a stop of the run ends besides the child.
    pub reach: Reach,
    pub timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub eof_grace: Duration,
    /// How a stop goes: its steps' signals and graces, the wait after KILL.
    pub stop: StopPlan,
    pub containment: crate::Containment,
}

/// How a stop of `cmd`'s child goes, resolved once: its stop sequence (or
/// stop signal and kill grace); a sequence that cannot be used is refused.
fn stop_of(cmd: &Command, name: &str) -> Result<StopPlan, Error> {
    cmd.settings
        .stop_plan()
        .map_err(|cause| Error::invalid(name, format!("stop_sequence: {cause}")))
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

/// The start-up options of `cmd` are possible: its passed fds, what this
/// system has, and no option that needs fork when it asked for
/// `posix_spawn`.
fn check_start(cmd: &Command, name: &str) -> Result<(), Error> {
    check_passed_fds(cmd, name)?;
    crate::platform::check(cmd, name)?;
    if cmd.require_posix_spawn
        && let Some(option) = cmd.fork_options().fork_reason()
    {
        return Err(Error::ForkRequired {
            program: name.to_owned(),
            option,
        });
    }
    Ok(())
}

/// A process group id the caller names fits a pid (at most `i32::MAX`).
pub(crate) fn check_process_group(cmd: &Command, name: &str) -> Result<(), Error> {
    match cmd.process_group {
        Some(g) if i32::try_from(g).is_err() => Err(Error::invalid(
            name,
            format!(
                "process_group({g}): a process group id is at most {}",
                i32::MAX
            ),
        )),
        _ => Ok(()),
    }
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
    pub(crate) fn command(cmd: &Command, stops: Stops) -> Result<Wiring, Error> {
        let name = cmd.name();
        let stoppable = stops == Stops::ByOwner
            || cmd.settings.timeout.is_some()
            || cmd.settings.idle_timeout.is_some()
            || cmd.settings.cancel.is_some()
            || cmd.kill_on_drop
            || cmd.settings.forwarder.is_some();
        let group = group_of(cmd, &name, stoppable)?;
        let wiring = Wiring::decided(cmd, name, group, reach_of(group, stoppable))?;
        let read = |p: &Plan| matches!(p, Plan::Pipe | Plan::Pty);
        if wiring.idle_timeout.is_some()
            && !read(&wiring.plans.stdout)
            && !read(&wiring.plans.stderr)
        {
            // It would never fire: refused rather than ignored.
            return Err(Error::invalid(
                &wiring.name,
                "idle_timeout watches the output spawn reads, and neither stdout nor stderr \
                 goes to spawn (route one with Stdio::piped() or a Sink)",
            ));
        }
        Ok(wiring)
    }

    /// Stage `place.index` of a pipeline: `cmd` is the stage's command with
    /// the pipeline's routes, input and timeout given to it. Every stage is
    /// in one group, whatever its command asked (a group id it names is
    /// still checked): the first carries the pipeline's reach (the group
    /// spawn chooses for a run that can be stopped, or the stages and
    /// their descendants), the others join it and are stopped with it.
    /// Its stdin and stdout are the pipes between the stages (the first's
    /// stdin and the last's stdout as routed), its stderr as `place` says.
    pub(crate) fn stage(cmd: &Command, place: &StagePlace) -> Result<Wiring, Error> {
        let name = cmd.name();
        check_process_group(cmd, &name)?;
        if cmd.pty.is_some() {
            return Err(Error::invalid(
                &name,
                "pty() on a pipeline stage: a stage's stdin and stdout are the pipes between \
                 the stages (run the whole pipeline under a shell with pty())",
            ));
        }
        let chosen = chosen_group();
        let (group, reach) = match place.index {
            0 => (chosen, reach_of(chosen, true)),
            _ if chosen.leads() => (ProcessGroup::JoinFirstStage, Reach::Child),
            _ => (ProcessGroup::Caller, Reach::Child),
        };
        let mut w = Wiring::decided(cmd, name, group, reach)?;
        if place.index > 0 {
            w.plans.stdin = Plan::Stage;
        }
        if !place.last {
            w.plans.stdout = Plan::Stage;
            w.sinks.stdout = None;
        } else if place.merged_output && matches!(w.plans.stdout, Plan::Pipe) {
            // The last stage writes into the pipe every stage's stderr shares.
            w.plans.stdout = Plan::PipelineStdout;
        }
        match &place.stderr {
            StageStderr::AsRouted => {}
            StageStderr::Merged => {
                w.plans.stderr = Plan::PipelineStdout;
                w.sinks.stderr = None;
            }
            // The pipeline's one stderr sink, opened by the engine.
            StageStderr::SharedSink => w.sinks.stderr = None,
            StageStderr::SharedPipe(fd) => {
                w.plans.stderr = Plan::Fd(Arc::clone(fd));
                w.sinks.stderr = None;
            }
        }
        Ok(w)
    }

    /// A command in `group`, whose stop reaches `reach`: its plans, sinks
    /// and input, checked.
    fn decided(
        cmd: &Command,
        name: String,
        group: ProcessGroup,
        reach: Reach,
    ) -> Result<Wiring, Error> {
        if cmd.pty.is_some() {
            return Wiring::on_pty(cmd, name, group, reach);
        }
        let stdin = match &cmd.stdin {
            Some(s) => stdio_plan(s),
            None if cmd.input.is_some() => Plan::Pipe,
            None => Plan::Inherit,
        };
        let stop = stop_of(cmd, &name)?;
        if matches!(stdin, Plan::Merge) {
            return Err(Error::invalid(
                &name,
                "Stdio::merge() is for stdout or stderr",
            ));
        }
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
        check_start(cmd, &name)?;
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
            reach,
            timeout: cmd.settings.timeout,
            idle_timeout: cmd.settings.idle_timeout,
            eof_grace: cmd.settings.eof_grace(),
            stop,
            containment: cmd.settings.containment(),
        })
    }

    /// A command on a pseudo-terminal (`Command::pty`): stdin and stdout
    /// (and stderr, unless routed apart) are its slave; stdout is read into
    /// its sink (collected by default), the input is typed and ended with
    /// Ctrl-D, `TERM` is set unless the command sets it.
    fn on_pty(
        cmd: &Command,
        name: String,
        group: ProcessGroup,
        reach: Reach,
    ) -> Result<Wiring, Error> {
        let Some(pty) = &cmd.pty else {
            return Err(Error::invalid(&name, "no pty() to wire"));
        };
        if let Some(s) = &cmd.stdin
            && !matches!(s.0, StdioKind::Piped)
        {
            return Err(Error::invalid(
                &name,
                "pty() and stdin() were both given: a pty child's stdin is the terminal \
                 (give input() or use Child::take_stdin instead)",
            ));
        }
        let stdout_sink = match &cmd.stdout {
            None => Sink::collect(),
            Some(route) => route_sink(Some(route)).ok_or_else(|| {
                Error::invalid(
                    &name,
                    "pty() and a stdout() that is no Sink: a pty child's stdout is the \
                     terminal, read into a Sink (Sink::collect() unless another is given)",
                )
            })?,
        };
        let (stderr, stderr_sink) = match &cmd.stderr {
            None => (Plan::Pty, None),
            Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Merge) => (Plan::Pty, None),
            Some(route) => (route_plan(Some(route)), route_sink(Some(route))),
        };
        check_start(cmd, &name)?;
        let stop = stop_of(cmd, &name)?;
        let mut own = cmd.clone();
        own.env
            .entry("TERM".into())
            .or_insert_with(|| Some(pty.term.clone().into()));
        Ok(Wiring {
            cmd: own,
            name,
            sinks: PerStream {
                stdin: None,
                stdout: Some(stdout_sink),
                stderr: stderr_sink,
            },
            plans: PerStream {
                stdin: Plan::Pty,
                stdout: Plan::Pty,
                stderr,
            },
            input: cmd
                .input
                .as_deref()
                .map(|i| Arc::new(crate::pty::input_with_eof(i))),
            group,
            reach,
            timeout: cmd.settings.timeout,
            idle_timeout: cmd.settings.idle_timeout,
            eof_grace: cmd.settings.eof_grace(),
            stop,
            containment: cmd.settings.containment(),
        })
    }

    /// Whether a stop of the run reaches beyond the child (its group, its
    /// descendants, its cgroup): the core's `signal_group`.
    pub(crate) fn owns_group_teardown(&self) -> bool {
        self.reach != Reach::Child || self.ends_leftovers()
    }

    /// Whether what the child leaves behind is ended when it is done, with
    /// or without a timeout: a cgroup contains everything its run started.
    pub(crate) fn ends_leftovers(&self) -> bool {
        self.containment == crate::Containment::Cgroup
    }

    /// What the core is told of this child besides the pipes the engine
    /// holds (see [`child_spec`]).
    pub(crate) fn terms(&self) -> Terms {
        Terms {
            timeout: self.timeout,
            idle_timeout: self.idle_timeout,
            stop: self.stop,
            eof_grace: self.eof_grace,
            signal_group: self.owns_group_teardown(),
            end_leftovers: self.ends_leftovers(),
        }
    }
}

/// What a wiring tells the core of its child besides its pipes: its timeout
/// and graces, and what a stop of it reaches. A `Child` keeps them after its
/// wiring is dropped (an adoption then gives what is left of the timeout).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Terms {
    pub timeout: Option<Duration>,
    /// How long the child may go without output read from it.
    pub idle_timeout: Option<Duration>,
    /// How a stop goes (the signals are the driver's, the graces the
    /// core's).
    pub stop: StopPlan,
    pub eof_grace: Duration,
    /// A stop reaches beyond the child (the core's `signal_group`).
    pub signal_group: bool,
    /// What the child leaves behind is ended when it is done (a cgroup).
    pub end_leftovers: bool,
}

/// What the engine holds of a child when it is added to the core.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    /// The pipe ends the engine drives (stdin written, stdout and stderr
    /// read into a sink).
    pub pipes: PerStream<bool>,
    /// Bytes of input to write to its stdin.
    pub input_len: u64,
    /// The child whose group this one joined (a pipeline's later stages).
    pub member_of: Option<ChildId>,
}

/// Bytes read per `read(2)` at most: a raised pipe's whole capacity.
const READ_CHUNK: usize = crate::pipes::TARGET;
/// Bytes written per `write(2)` of input: a raised pipe's whole capacity.
const WRITE_CHUNK: usize = crate::pipes::TARGET;

/// The one builder of the core's view of a child, for every entry point
/// (launched by the engine or adopted running): `terms` from its wiring,
/// `held` from what the engine holds of it.
pub(crate) fn child_spec(terms: Terms, held: Held) -> ChildSpec {
    ChildSpec {
        stdin: held.pipes.stdin,
        input_len: held.input_len,
        stdout: held.pipes.stdout,
        stderr: held.pipes.stderr,
        timeout: terms.timeout,
        idle_timeout: terms.idle_timeout,
        kill_grace: terms.stop.kill_grace,
        stop_graces: terms.stop.graces,
        eof_grace: terms.eof_grace,
        signal_group: terms.signal_group,
        end_leftovers: terms.end_leftovers,
        member_of: held.member_of,
        read_chunk: READ_CHUNK,
        write_chunk: WRITE_CHUNK,
        ..ChildSpec::default()
    }
}
