//! A [`Slot`]: one child of the engine, from its [`Wiring`] to its finish,
//! and how it starts: launched from its wiring (with the pipeline plumbing
//! between stages), or adopted already running (a `Child`'s communicate or
//! wait).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{ChildId, CloseReason, Event, Outcome, PerStream, Stream};
use spawn_sys::Pid;
use spawn_sys::poll::Interest;

use super::exit_watch::{ExitWatch, Watch};
use super::spawner::{Job, Spawner};
use super::token::Token;
use super::{Driving, Engine, pipe_io};

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

/// The capacity of one pipe the driver holds.
#[derive(Debug, Default)]
pub(crate) struct PipeCap {
    /// Bytes (0: no pipe, or unknown).
    pub cap: usize,
    /// Capacity raised by the driver, held until the pipe is closed.
    pub lease: Option<crate::pipes::Lease>,
    /// The last read emptied it, in the turn after this many waits, and
    /// no edge came since.
    pub drained: Option<u64>,
    /// An edge said its writers are gone (`EPOLLHUP`).
    pub hung_up: bool,
}

/// Who ends the process if the engine is dropped before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The engine started it: it kills and reaps it.
    Engine,
    /// A `Child` owns it and decides.
    Child,
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

/// Whether a start failed for want of what running children hold and give
/// back when they finish: fds (`EMFILE`, `ENFILE`) or processes (`EAGAIN`
/// from fork under `RLIMIT_NPROC`).
fn lacks_what_children_free(e: &Error) -> bool {
    match e {
        Error::TooManyOpenFiles { .. } => true,
        Error::Spawn { source, .. } => source.raw_os_error() == Some(libc::EAGAIN),
        _ => false,
    }
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

impl Engine<'_> {
    /// Starts slot `child` (launches its wiring, or registers what an
    /// adopted child holds) and tells the core.
    pub(super) fn start(&mut self, child: usize) {
        let id = ChildId(child);
        let start = self.slots[child].start.take();
        // A retry after a deferred start: the error that deferred it is
        // not this start's.
        self.slots[child].error = None;
        // Pipes are watched in the epoll set, and so are the exits of
        // more than one child: made now if this child is the first to
        // need it (before it starts, so that it waits for the fd if there
        // is none).
        let holds = self
            .sched
            .spec(id)
            .is_some_and(|s| s.stdin || s.stdout || s.stderr);
        let second = !self.poller.is_made() && self.exits.has_aside(&self.slots);
        if (holds || second)
            && let Err(e) = self.ensure_epoll()
        {
            let e = Error::io(
                &self.slots[child].name,
                "cannot create an epoll set",
                std::io::Error::from(e),
            );
            self.start_failed(child, start, e);
            return;
        }
        // The engine's only child, with nothing to wait for but its exit
        // (no pipe, no deadline, no epoll set: no cancel token, forwarder
        // or outside driver) and nobody to signal it, is waited for in one
        // blocking `wait4`: its pidfd is opened only if that changes.
        let lone = !self.poller.is_made()
            && self.slots.len() == 1
            && !self.stops.watches_cancels()
            && !self.slots[child].keep_unreaped
            && self
                .sched
                .spec(id)
                .is_some_and(|s| s.timeout.is_none() && !s.signal_group);
        let pidfd = ExitWatch::pidfd_plan(lone);
        match start {
            Some(Start::Launch(wiring)) => {
                let stage = self.slots[child].stage;
                // While output streams in from running children (at least
                // `BULK_READ` bytes read since the last start), a child with
                // pipes starts on the spawner thread (see `spawner.rs`), so
                // that the pipes are read during its spawn call. Else it
                // starts in place: a child without pipes, a lone child, a
                // stage (in its leader's turn), and any start while the
                // pipes are quiet (`true`, `echo`: nothing to read
                // meanwhile, and the hand-over would only add two wake-ups).
                let streaming = self.starts.streaming();
                if holds
                    && streaming
                    && stage.is_none()
                    && self.sched.running() > 1
                    && self.spawner().is_some()
                {
                    self.slots[child].starting_elsewhere = true;
                    if let Some(sp) = self.starts.spawner.as_mut() {
                        sp.submit(Job {
                            slot: child,
                            wiring,
                            pidfd,
                            driving: self.starts.driving,
                        });
                    }
                    return;
                }
                let res = launch_wiring(
                    &wiring,
                    stage,
                    &mut self.starts.plumbing,
                    &self.starts.pipeline_stdout,
                    pidfd,
                    self.starts.driving,
                );
                self.launched(child, wiring, pidfd, res);
            }
            Some(Start::Adopted) | None => self.now_started(child, PidfdPlan::Now),
        }
    }

    /// The second half of a start, in place or on the spawner thread: the
    /// slot takes what the launch gave, or the start failed.
    pub(super) fn launched(
        &mut self,
        child: usize,
        wiring: Box<Wiring>,
        pidfd: PidfdPlan,
        res: Result<Started, Error>,
    ) {
        self.slots[child].starting_elsewhere = false;
        let held = std::mem::take(&mut self.slots[child].held_signals);
        match res {
            Ok(s) => {
                // The command (and any fd the caller handed in) is
                // dropped here: the parent keeps no copy it was not
                // asked to keep.
                drop(wiring);
                let slot = &mut self.slots[child];
                slot.process = Some(Arc::new(s.process));
                slot.fds = s.fds;
                slot.spawn_time = s.spawn_time;
                slot.started = Some(s.started);
                // Pipes the core does not manage (a merged stderr has none).
                for stream in [Stream::Stdout, Stream::Stderr] {
                    if slot.sinks[stream].is_none() {
                        slot.fds[stream] = None;
                    }
                }
                self.now_started(child, pidfd);
                if let Some(p) = &self.slots[child].process {
                    for (sig, from_terminal) in held {
                        super::hooks::forward_to(p, sig, from_terminal);
                    }
                }
            }
            Err(e) => self.start_failed(child, Some(Start::Launch(wiring)), e),
        }
    }

    /// A slot holds its running child: its pipes and exit are watched and
    /// the core is told.
    fn now_started(&mut self, child: usize, pidfd: PidfdPlan) {
        self.register(child);
        let now = self.now();
        self.feed(
            Event::Started {
                child: ChildId(child),
            },
            now,
        );
        self.exits
            .watch(child, &mut self.slots[child], &self.poller, pidfd);
        self.tell_exits(now);
    }

    /// The engine's spawner, made now (its doorbell in the epoll set) if
    /// there is none; `None` when none can be had.
    fn spawner(&mut self) -> Option<&mut Spawner> {
        if self.starts.spawner.is_none() {
            let sp = Spawner::new()?;
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            let set = self.ensure_epoll().ok()?;
            if !set.add(sp.fd(), Token::Spawned, interest) {
                return None;
            }
            self.starts.spawner = Some(sp);
        }
        self.starts.spawner.as_mut()
    }

    /// The spawner's doorbell was readable: the starts it made are finished
    /// here, in the order made.
    pub(super) fn spawned_ready(&mut self) {
        let Some(sp) = self.starts.spawner.as_mut() else {
            return;
        };
        let mut made = sp.take_done();
        for done in made.drain(..) {
            self.launched(done.slot, done.wiring, done.pidfd, done.result);
        }
        if let Some(sp) = self.starts.spawner.as_mut() {
            sp.give_back(made);
        }
    }

    /// A start that failed: deferred (the wiring kept for the retry) when
    /// what it lacked is what running children give back as they finish
    /// (fds, processes) and it is no pipeline stage; else failed. The core
    /// decides whether a deferral can wait (see `Event::StartDeferred`);
    /// the error stays for when it cannot.
    fn start_failed(&mut self, child: usize, start: Option<Start>, e: Error) {
        let id = ChildId(child);
        let now = self.now();
        let slot = &mut self.slots[child];
        let deferrable = slot.stage.is_none()
            && matches!(start, Some(Start::Launch(_)))
            && lacks_what_children_free(&e);
        slot.error = Some(e);
        if deferrable {
            slot.start = start;
            self.feed(Event::StartDeferred { child: id }, now);
        } else {
            drop(start);
            self.feed(Event::SpawnFailed { child: id }, now);
        }
    }

    /// Watches the pipes of a started slot.
    pub(super) fn register(&mut self, child: usize) {
        for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
            self.register_pipe(child, stream);
        }
    }

    /// Watches pipe `stream` of a started slot, if it holds one.
    pub(super) fn register_pipe(&mut self, child: usize, stream: Stream) {
        if !self.poller.is_made() {
            return;
        }
        let slot = &mut self.slots[child];
        let input = slot.input.as_ref().map_or(0, |v| v.len());
        let Some(fd) = slot.fds[stream].as_ref() else {
            return;
        };
        pipe_io::size_pipe(fd, stream, input, slot.fixed_cap, &mut slot.caps[stream]);
        // Our end of a pipe made for this start: no other flag to keep.
        let _ = spawn_sys::pipe::set_new_pipe_nonblocking(fd);
        let interest = Interest {
            readable: stream != Stream::Stdin,
            writable: stream == Stream::Stdin,
            edge: true,
        };
        let token = Token::Pipe {
            slot: child,
            stream,
        };
        let _ = self.poller.add(fd.as_fd(), token, interest);
    }
}
