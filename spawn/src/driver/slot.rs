//! A [`Slot`]: one child of the engine, from its [`Wiring`] to its finish,
//! and how it starts: launched from its wiring (through `crate::launch`),
//! or adopted already running (a `Child`'s communicate or
//! wait).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{ChildId, CloseReason, Event, Outcome, PerStream, Stream};
use spawn_sys::poll::Interest;

use super::spawner::{self, Job, Spawner};
use super::token::Token;
use super::{Engine, pipe_io};

use crate::Error;
use crate::error::StreamName;
use crate::launch::{PidfdPlan, StageRole, Started, launch_wiring};
use crate::process::Process;
use crate::wiring::Wiring;

/// How a slot's process comes to be when the core says `Start`.
pub(crate) enum Start {
    /// Launch this wiring.
    Launch(Box<Wiring>),
    /// Already running: register the fds the slot holds.
    Adopted,
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
    /// Its exit is polled (no pidfd in the epoll set).
    pub exit_polled: bool,
    /// Its pidfd is in the epoll set.
    pub pidfd_in_epoll: bool,
    /// It was started without its pidfd ([`PidfdPlan::Later`]): opened
    /// when something first needs it (see `Engine::open_late_pidfd`).
    pub pidfd_later: bool,
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
            exit_polled: false,
            pidfd_in_epoll: false,
            pidfd_later: false,
            starting_elsewhere: false,
            held_signals: Vec::new(),
            cancelled: false,
        }
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
        let second = self.epoll.is_none()
            && self
                .unwatched
                .iter()
                .any(|&i| self.slots[i].exit.is_none() && self.slots[i].finished.is_none());
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
        let pidfd = if self.epoll.is_none()
            && self.slots.len() == 1
            && self.cancels.is_empty()
            && !self.slots[child].keep_unreaped
            && self
                .sched
                .spec(id)
                .is_some_and(|s| s.timeout.is_none() && !s.signal_group)
        {
            PidfdPlan::Later
        } else {
            PidfdPlan::Now
        };
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
                let streaming = std::mem::take(&mut self.read_since_start) >= spawner::BULK_READ;
                if holds
                    && streaming
                    && stage.is_none()
                    && self.sched.running() > 1
                    && self.spawner().is_some()
                {
                    self.slots[child].starting_elsewhere = true;
                    if let Some(sp) = self.spawner.as_mut() {
                        sp.submit(Job {
                            slot: child,
                            wiring,
                            pidfd,
                            driving: self.driving,
                        });
                    }
                    return;
                }
                let res = launch_wiring(&wiring, stage, &mut self.plumbing, pidfd, self.driving);
                self.launched(child, wiring, pidfd, res);
            }
            Some(Start::Adopted) | None => self.now_started(child),
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
                slot.pidfd_later = pidfd == PidfdPlan::Later;
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
                self.now_started(child);
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
    fn now_started(&mut self, child: usize) {
        self.register(child);
        let now = self.now();
        self.feed(
            Event::Started {
                child: ChildId(child),
            },
            now,
        );
        self.watch_exit(child, now);
    }

    /// The engine's spawner, made now (its doorbell in the epoll set) if
    /// there is none; `None` when none can be had.
    fn spawner(&mut self) -> Option<&mut Spawner> {
        if self.spawner.is_none() {
            let sp = Spawner::new()?;
            let interest = Interest {
                readable: true,
                writable: false,
                edge: false,
            };
            let ep = self.ensure_epoll().ok()?;
            ep.add(sp.fd(), Token::Spawned.encode(), interest).ok()?;
            self.spawner = Some(sp);
        }
        self.spawner.as_mut()
    }

    /// The spawner's doorbell was readable: the starts it made are finished
    /// here, in the order made.
    pub(super) fn spawned_ready(&mut self) {
        let Some(sp) = self.spawner.as_mut() else {
            return;
        };
        let mut made = sp.take_done();
        for done in made.drain(..) {
            self.launched(done.slot, done.wiring, done.pidfd, done.result);
        }
        if let Some(sp) = self.spawner.as_mut() {
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
        let Some(epoll) = self.epoll.as_ref() else {
            return;
        };
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
        let _ = epoll.add(
            fd.as_fd(),
            Token::Pipe {
                slot: child,
                stream,
            }
            .encode(),
            interest,
        );
    }
}
