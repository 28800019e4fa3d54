//! A [`Slot`]: one child of the engine, from its [`Wiring`] to its finish,
//! and how it starts: launched from its wiring (with the pipeline plumbing
//! between stages), or adopted already running (a `Child`'s communicate or
//! wait).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{CloseReason, Outcome, PerStream, Stream};
use spawn_sys::Pid;

use super::Driving;
use super::pipe_io::PipeCap;

use crate::Error;
use crate::error::StreamName;
use crate::launch::{self, LaunchOptions, PidfdPlan};
use crate::process::{Process, ProcessGroup};
use crate::wiring::{GroupPlan, Plan, Reach, Wiring};

/// How a slot's process comes to be when the core says `Start`.
pub(crate) enum Start {
    /// Launch this wiring.
    Launch(Box<Wiring>),
    /// Already running: register the fds the slot holds.
    Adopted,
}

/// A pipeline stage's place in its pipeline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StageRole {
    pub index: usize,
    pub last: bool,
}

/// Who ends the process if the engine is dropped before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The engine started it: it kills and reaps it.
    Engine,
    /// A `Child` owns it and decides.
    Child,
}

/// Whether a child kept aside holds its pidfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AsidePidfd {
    /// It has one (a wait with a deadline polls it).
    Held,
    /// Started without it ([`PidfdPlan::Later`](crate::launch::PidfdPlan::Later)): opened when something
    /// first needs it.
    Later,
}

/// How the exit of one child is watched (decided by the exit watch,
/// `exit_watch.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Not started, or its exit was seen: nothing watches it.
    #[default]
    Nothing,
    /// Waited for on its own while nothing else is watched.
    Aside(AsidePidfd),
    /// Its pidfd is in the set.
    InSet,
    /// No pidfd: polled.
    Polled,
}

/// One child of the engine.
pub(crate) struct Slot {
    pub name: String,
    pub start: Option<Start>,
    pub stage: Option<StageRole>,
    pub process: Option<Arc<Process>>,
    pub fds: PerStream<Option<OwnedFd>>,
    pub input: Option<Arc<Vec<u8>>>,
    /// Indexes into the engine's sinks (stdout, stderr).
    pub sinks: PerStream<Option<usize>>,
    pub error: Option<Error>,
    pub overflow: Option<(StreamName, usize)>,
    /// The raw wait status, once the exit was seen.
    pub exit: Option<i32>,
    /// Input bytes still in the stdin pipe when it was closed because the
    /// child exited or closed its end: written, never taken.
    pub input_unread: u64,
    pub outcome: Option<Outcome>,
    pub spawn_time: Duration,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    pub owner: Owner,
    /// The core keeps the child unreaped until it finishes (it leads a
    /// group under teardown: its zombie pins the group id).
    pub keep_unreaped: bool,
    pub caps: PerStream<PipeCap>,
    /// The command chose its pipe capacity: leave it.
    pub fixed_cap: bool,
    /// The first signal of its teardown.
    pub stop_signal: crate::Signal,
    /// How its exit is watched (see `exit_watch.rs`).
    pub watch: Watch,
    /// Its start is being made on the spawner thread.
    pub starting_elsewhere: bool,
    /// Signals the forwarder received meanwhile (number, from the
    /// terminal), passed on once it has started.
    pub held_signals: Vec<(crate::Signal, bool)>,
    /// A [`CancelToken`](crate::CancelToken) it was given was cancelled
    /// before it finished: it was asked to stop, and a stop ends it with
    /// `Error::Cancelled`.
    pub cancelled: bool,
}

impl Slot {
    pub(crate) fn new(name: String, start: Start, owner: Owner) -> Slot {
        Slot {
            name,
            start: Some(start),
            stage: None,
            process: None,
            fds: PerStream::default(),
            input: None,
            sinks: PerStream::default(),
            error: None,
            overflow: None,
            exit: None,
            input_unread: 0,
            outcome: None,
            spawn_time: Duration::ZERO,
            started: None,
            finished: None,
            owner,
            keep_unreaped: false,
            caps: PerStream::default(),
            fixed_cap: false,
            stop_signal: crate::Signal::TERM,
            watch: Watch::Nothing,
            starting_elsewhere: false,
            held_signals: Vec::new(),
            cancelled: false,
        }
    }

    /// The place of a removed child, until the next child takes it: owned
    /// by nobody, finished, with nothing to start.
    pub(crate) fn vacant() -> Slot {
        let mut slot = Slot::new(String::new(), Start::Adopted, Owner::Child);
        slot.finished = Some(Instant::now());
        slot.start = None;
        slot
    }

    /// The stdin pipe is about to be closed because the child exited or
    /// closed its end (`reason`): notes the input still in it, which the
    /// child never took (`Report::stdin_bytes` leaves it out). Any other
    /// close (all input written while the child runs) notes nothing: the
    /// child may still read what is in the pipe.
    pub(crate) fn note_unread_input(&mut self, reason: CloseReason) {
        if matches!(reason, CloseReason::Broken | CloseReason::ChildExited)
            && let Some(fd) = &self.fds.stdin
        {
            self.input_unread = spawn_sys::pipe::unread(fd).unwrap_or(0);
        }
    }

    /// The sink index of an output stream.
    pub(crate) fn sink_of(&self, stream: Stream) -> Option<usize> {
        match stream {
            Stream::Stdin => None,
            s => self.sinks[s],
        }
    }
}

/// What the stages of one pipeline share while they start.
#[derive(Default)]
pub(crate) struct StagePlumbing {
    /// The read end of the pipe from the previous stage.
    pub prev: Option<OwnedFd>,
    /// The group the first stage leads.
    pub leader_pgid: Option<Pid>,
    /// The tree a stop of the pipeline reaches when its stages stay in the
    /// caller's group (`Reach::Descendants`): every stage is a root.
    pub tree: Option<Arc<crate::descendants::Descendants>>,
    /// The write end of the pipe the last stage's stdout (and merged
    /// stderr of every stage) goes into, until the last stage started.
    pub final_write: Option<OwnedFd>,
    /// Its read end, for the last stage's slot.
    pub final_read: Option<OwnedFd>,
}

/// A launched child: its process and the parent's ends of its pipes.
pub(crate) struct Started {
    pub process: Process,
    pub fds: PerStream<Option<OwnedFd>>,
    pub spawn_time: Duration,
    pub started: Instant,
}

fn launch_plan<'a>(
    plan: &'a Plan,
    stream: Stream,
    plumbing: &'a StagePlumbing,
    next: Option<&'a OwnedFd>,
    pipeline_stdout: &'a Plan,
) -> launch::Plan<'a> {
    match plan {
        Plan::Inherit => launch::Plan::Inherit,
        Plan::Null => launch::Plan::Null,
        Plan::Pipe => launch::Plan::Pipe,
        Plan::Fd(fd) => launch::Plan::Fd(fd.as_fd()),
        Plan::Merge => launch::Plan::Merge,
        Plan::Stage => match (stream, &plumbing.prev, next) {
            (Stream::Stdin, Some(fd), _) => launch::Plan::Fd(fd.as_fd()),
            (Stream::Stdin, None, _) => launch::Plan::Null,
            (_, _, Some(fd)) => launch::Plan::Fd(fd.as_fd()),
            (_, _, None) => launch::Plan::Null,
        },
        Plan::PipelineStdout => match (&plumbing.final_write, pipeline_stdout) {
            (Some(fd), _) => launch::Plan::Fd(fd.as_fd()),
            (None, Plan::Null) => launch::Plan::Null,
            (None, Plan::Fd(fd)) => launch::Plan::Fd(fd.as_fd()),
            // Inherited stdout: the stage's stderr goes to our fd 1.
            (None, _) => launch::Plan::InheritStdout,
        },
    }
}

/// Starts the child of `wiring`. `plumbing` carries the pipes between the
/// stages of a pipeline (unused otherwise); `pipeline_stdout` is where the
/// pipeline's final stdout goes (for merged stage stderr); `driving` says
/// whether the child may outlive the call (then the start makes sure the
/// background reaper thread runs).
pub(crate) fn launch_wiring(
    wiring: &Wiring,
    stage: Option<StageRole>,
    plumbing: &mut StagePlumbing,
    pipeline_stdout: &Plan,
    pidfd: PidfdPlan,
    driving: Driving,
) -> Result<Started, Error> {
    // The pipe to the next stage.
    let next = match stage {
        Some(StageRole { last: false, .. }) => {
            let (r, w) = spawn_sys::pipe::pipe().map_err(|e| {
                Error::io(
                    &wiring.name,
                    "cannot create a pipe",
                    std::io::Error::from(e),
                )
            })?;
            Some((r, w))
        }
        _ => None,
    };
    let (process_group, own_group) = match wiring.group {
        GroupPlan::Caller | GroupPlan::Session => (None, false),
        GroupPlan::Lead => (Some(0), true),
        GroupPlan::Join(pg) => (Some(pg), false),
        GroupPlan::JoinFirstStage => (
            plumbing
                .leader_pgid
                .map(|p| p.as_raw_nonzero().get().unsigned_abs()),
            false,
        ),
    };
    let next_write = next.as_ref().map(|(_, w)| w);
    let cgroup = match wiring.containment {
        crate::Containment::Cgroup => Some(crate::process::new_cgroup(&wiring.name)?),
        _ => None,
    };
    crate::reaper::prepare();
    let result = {
        let p = &*plumbing;
        let plans = [Stream::Stdin, Stream::Stdout, Stream::Stderr]
            .map(|s| launch_plan(&wiring.plans[s], s, p, next_write, pipeline_stdout));
        let [stdin, stdout, stderr] = plans;
        launch::launch(
            &wiring.cmd,
            &LaunchOptions {
                name: &wiring.name,
                stdin,
                stdout,
                stderr,
                process_group,
                own_group,
                cgroup: cgroup.as_ref().map(spawn_sys::cgroup::Cgroup::fd),
                pidfd,
            },
        )
    };
    // The previous stage's read end is the child's now.
    plumbing.prev = next.map(|(r, _)| r);
    if stage.is_some_and(|s| s.last) {
        plumbing.final_write = None;
    }
    let l = match result {
        Ok(l) => l,
        Err(e) => {
            // Nothing started in it: the cgroup made for the child goes too.
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
            return Err(e);
        }
    };
    if driving == Driving::Held {
        crate::reaper::started();
    }
    let group = match wiring.group {
        GroupPlan::Caller => ProcessGroup::Caller,
        GroupPlan::Lead | GroupPlan::Session => ProcessGroup::Leads(l.pid),
        GroupPlan::Join(_) | GroupPlan::JoinFirstStage => {
            l.pgid.map_or(ProcessGroup::Caller, ProcessGroup::Joined)
        }
    };
    if stage.is_some_and(|s| s.index == 0) && wiring.group.leads() {
        plumbing.leader_pgid = Some(l.pid);
    }
    let mut process = Process::new(l.pid, l.pidfd, group, cgroup).with_path(l.path, l.fork_reason);
    // One tree for the run: a lone child's own, or the one every stage of
    // a pipeline joins (made by its first stage).
    let tree = match stage {
        None => (wiring.reach == Reach::Descendants).then(Default::default),
        Some(s) if s.index == 0 => {
            plumbing.tree = (wiring.reach == Reach::Descendants).then(Default::default);
            plumbing.tree.clone()
        }
        Some(_) => plumbing.tree.clone(),
    };
    if let Some(tree) = tree {
        process = process.with_descendants(tree);
    }
    let mut stdout = l.stdout;
    if stage.is_some_and(|s| s.last) && stdout.is_none() {
        stdout = plumbing.final_read.take();
    }
    Ok(Started {
        process,
        fds: PerStream {
            stdin: l.stdin,
            stdout,
            stderr: l.stderr,
        },
        spawn_time: l.spawn_time,
        started: l.started,
    })
}

/// Launches a wiring that is no pipeline stage (a `Child`, an `AsyncChild`,
/// a start on the spawner thread): no plumbing, its own stdout plan.
pub(crate) fn launch_alone(
    wiring: &Wiring,
    pidfd: PidfdPlan,
    driving: Driving,
) -> Result<Started, Error> {
    launch_wiring(
        wiring,
        None,
        &mut StagePlumbing::default(),
        &Plan::Inherit,
        pidfd,
        driving,
    )
}
