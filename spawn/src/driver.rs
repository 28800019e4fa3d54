//! The blocking driver: one thread, one epoll set, any number of children.
//!
//! The driver owns the fds, the read buffer and the sinks; the
//! [`spawn_core::Scheduler`] decides what to do. The loop is the one the core
//! documents: hand it events, then poll actions until it says to wait, then
//! wait in `epoll_wait` until the core's next deadline.
//!
//! Exits are seen through pidfds in the same epoll set; where pidfds are
//! missing (old kernels, or `SPAWN_NO_PIDFD=1`), children are polled with
//! `wait4(WNOHANG)` on a short, backing-off tick, and at once when their
//! output pipes reach EOF.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{
    Action, ChildId, ChildSpec, CloseReason, Event, KillSignal, Outcome, Scheduler,
    SchedulerConfig, Stream, Timestamp, WaitReason,
};
use spawn_sys::poll::{Epoll, Interest, Ready};
use spawn_sys::wait::{Rusage, WaitResult};
use spawn_sys::{Errno, Pid};

use crate::error::StreamName;
use crate::launch::{self, LaunchOptions, Launched, Plan};
use crate::sink::{SinkError, SinkState};
use crate::stdio::StdioKind;
use crate::{Command, Error, ExitStatus, Output, Report, Route, Signal, Sink};

/// Bytes read per `read(2)` at most: a raised pipe's whole capacity in one
/// call. A read asks for no more than the pipe holds (see `Slot::cap`). One
/// buffer per driver, reused for every read that does not go straight into
/// a collecting sink.
const READ_CHUNK: usize = crate::pipes::TARGET;
/// Bytes written per `write(2)` of input: a raised pipe's whole capacity.
const WRITE_CHUNK: usize = crate::pipes::TARGET;
/// A read of a pipe that looked empty (into the warm buffer).
const EMPTY_READ: usize = 64 << 10;
/// Exit polling tick without pidfds: starts here, doubles to `MAX_TICK`.
const MIN_TICK: Duration = Duration::from_micros(500);
const MAX_TICK: Duration = Duration::from_millis(20);

const TOKEN_KINDS: u64 = 4;
/// The token of a signal forwarder's pipe.
const TOKEN_FORWARD: u64 = u64::MAX;
const KIND_PIDFD: u64 = 3;

fn token(child: usize, kind: u64) -> u64 {
    child as u64 * TOKEN_KINDS + kind
}

fn stream_kind(s: Stream) -> u64 {
    match s {
        Stream::Stdin => 0,
        Stream::Stdout => 1,
        _ => 2,
    }
}

/// How a slot's process comes to be.
pub(crate) enum Source {
    /// Launch this command when the core says Start.
    Command {
        cmd: Box<Command>,
        /// Pipeline wiring: (stdin from, stdout to) fds given by the engine.
        stage: Option<StageWiring>,
    },
    /// Already running (a [`crate::Child`] being communicated with).
    Running,
}

/// Which pipeline stage a slot is.
pub(crate) struct StageWiring {
    pub index: usize,
    pub last: bool,
    /// The pipeline's own stdin route, for the first stage.
    pub stdin: Option<crate::Stdio>,
    /// The pipeline's stdout route, for the last stage.
    pub stdout: Option<Route>,
    /// The pipeline's stderr route, for every stage.
    pub stderr: Option<Route>,
}

/// One child of the engine.
pub(crate) struct Slot {
    pub source: Source,
    pub name: String,
    pub pid: Option<Pid>,
    pub pidfd: Option<Arc<OwnedFd>>,
    pub pgid: Option<Pid>,
    pub fds: [Option<OwnedFd>; 3],
    pub input: Option<Arc<Vec<u8>>>,
    /// Index into the engine's sinks for stdout and stderr.
    pub sinks: [Option<usize>; 2],
    pub error: Option<Error>,
    pub overflow: Option<(StreamName, usize)>,
    pub wait: Option<WaitResult>,
    pub outcome: Option<Outcome>,
    pub spawn_time: Duration,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    /// Whether the engine started this child (and must not leave it behind).
    pub owned: bool,
    /// Someone else reaped the child: its status is unknown.
    pub status_lost: bool,
    /// The capacity of each pipe in `fds` (0: none, or unknown).
    pub cap: [usize; 3],
    /// Capacity raised by the driver, held until the pipe is closed.
    pub lease: [Option<crate::pipes::Lease>; 3],
    /// The command chose its pipe capacity: leave it.
    pub fixed_cap: bool,
}

impl Slot {
    pub(crate) fn new_with(source: Source, name: String) -> Self {
        Slot {
            source,
            name,
            pid: None,
            pidfd: None,
            pgid: None,
            fds: [None, None, None],
            input: None,
            sinks: [None, None],
            error: None,
            overflow: None,
            wait: None,
            outcome: None,
            spawn_time: Duration::ZERO,
            started: None,
            finished: None,
            owned: false,
            status_lost: false,
            cap: [0; 3],
            lease: [None, None, None],
            fixed_cap: false,
        }
    }
}

/// The per-run state that outlives one call (a `Child`'s communicate can be
/// resumed after a timeout).
pub(crate) struct Engine<'t> {
    sched: Scheduler,
    pub slots: Vec<Slot>,
    pub sinks: Vec<SinkState>,
    epoll: Epoll,
    ready: Vec<Ready>,
    origin: Instant,
    buf: Vec<u8>,
    /// Children without a pidfd whose exit is still to be seen.
    polled: Vec<usize>,
    tick: Duration,
    /// The read end of the pipe from the previous pipeline stage.
    stage_pipe: Option<OwnedFd>,
    /// Sees every event handed to the core and every output it returns.
    tracer: Option<Box<Tracer<'t>>>,
    /// Signals to pass on to the running children.
    forwarder: Option<crate::Forwarder>,
    /// Told when a child starts or finishes.
    progress: Option<Box<dyn FnMut(crate::group::Progress) + Send + 't>>,
}

type Tracer<'t> = dyn FnMut(&crate::trace::Trace<'_>) + Send + 't;

/// The sink for a route that reads through a pipe, if any.
fn route_sink(route: Option<&Route>) -> Option<Sink> {
    match route {
        Some(Route::Sink(s)) => Some(s.clone()),
        Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Piped) => Some(Sink::collect()),
        _ => None,
    }
}

fn is_merge(route: Option<&Route>) -> bool {
    matches!(route, Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Merge))
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

impl<'t> Engine<'t> {
    pub(crate) fn new(max_running: usize) -> Result<Self, io::Error> {
        Ok(Engine {
            sched: Scheduler::new(SchedulerConfig { max_running }),
            slots: Vec::new(),
            sinks: Vec::new(),
            epoll: Epoll::new().map_err(io_err)?,
            ready: Vec::with_capacity(64),
            origin: Instant::now(),
            buf: Vec::new(),
            polled: Vec::new(),
            tick: MIN_TICK,
            stage_pipe: None,
            tracer: None,
            forwarder: None,
            progress: None,
        })
    }

    pub(crate) fn set_tracer(&mut self, f: Box<Tracer<'t>>) {
        self.tracer = Some(f);
    }

    /// Passes the signals `f` receives on to the running children.
    pub(crate) fn set_forwarder(&mut self, f: &crate::Forwarder) {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        if self.epoll.add(f.fd(), TOKEN_FORWARD, interest).is_ok() {
            self.forwarder = Some(f.clone());
        }
    }

    fn forward_signals(&mut self) {
        let Some(f) = &self.forwarder else { return };
        for (sig, from_terminal) in f.drain() {
            for slot in &self.slots {
                if slot.wait.is_some() || slot.finished.is_some() {
                    continue;
                }
                let Some(pid) = slot.pid else { continue };
                match slot.pgid {
                    // Its own group: the terminal did not reach it.
                    Some(pgid) => {
                        let _ = spawn_sys::signal::signal_group(pgid, sig);
                    }
                    // Our group: the terminal's signal reached it already.
                    None if from_terminal => {}
                    None => match &slot.pidfd {
                        Some(fd) => {
                            let _ = spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), sig);
                        }
                        None => {
                            let _ = spawn_sys::signal::signal_process(pid, sig);
                        }
                    },
                }
            }
        }
    }

    pub(crate) fn set_progress(&mut self, f: Box<dyn FnMut(crate::group::Progress) + Send + 't>) {
        self.progress = Some(f);
    }

    fn report_progress(&mut self) {
        if let Some(p) = &mut self.progress {
            p(crate::group::Progress {
                done: self.sched.finished(),
                running: self.sched.running(),
                queued: self.sched.queued(),
            });
        }
    }

    /// The fd a traced step is about, if it is about one.
    fn fd_of(&self, child: ChildId, stream: Option<Stream>) -> Option<i32> {
        use std::os::fd::AsRawFd;
        let slot = self.slots.get(child.0)?;
        match stream {
            Some(s) => slot.fds[stream_kind(s) as usize]
                .as_ref()
                .map(AsRawFd::as_raw_fd),
            None => slot.pidfd.as_deref().map(AsRawFd::as_raw_fd),
        }
    }

    fn event_fd(&self, event: &Event) -> Option<i32> {
        match *event {
            Event::Readable { child, stream }
            | Event::Read { child, stream, .. }
            | Event::ReadWouldBlock { child, stream }
            | Event::Eof { child, stream } => self.fd_of(child, Some(stream)),
            Event::Writable { child }
            | Event::Wrote { child, .. }
            | Event::WriteWouldBlock { child }
            | Event::WriteBroken { child } => self.fd_of(child, Some(Stream::Stdin)),
            Event::Exited { child, .. } => self.fd_of(child, None),
            _ => None,
        }
    }

    fn output_fd(&self, out: &spawn_core::Output) -> Option<i32> {
        match out {
            spawn_core::Output::Action(
                Action::Read { child, stream, .. }
                | Action::Close { child, stream, .. }
                | Action::Interest { child, stream, .. },
            ) => self.fd_of(*child, Some(*stream)),
            spawn_core::Output::Action(Action::Write { child, .. }) => {
                self.fd_of(*child, Some(Stream::Stdin))
            }
            _ => None,
        }
    }

    /// Hands `event` to the core (and the tracer).
    fn feed(&mut self, event: Event, now: Timestamp) {
        if self.tracer.is_some() {
            let fd = self.event_fd(&event);
            if let Some(t) = &mut self.tracer {
                t(&crate::trace::Trace {
                    at: Duration::from_nanos(now.as_nanos()),
                    what: crate::trace::What::Event(&event),
                    fd,
                });
            }
        }
        self.sched.handle(event, now);
    }

    fn poll_core(&mut self, now: Timestamp) -> spawn_core::Output {
        let out = self.sched.poll(now);
        if self.tracer.is_some() {
            let fd = self.output_fd(&out);
            if let Some(t) = &mut self.tracer {
                t(&crate::trace::Trace {
                    at: Duration::from_nanos(now.as_nanos()),
                    what: crate::trace::What::Output(&out),
                    fd,
                });
            }
        }
        out
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn add_sink(&mut self, sink: &Sink, stream: StreamName, name: &str) -> Result<usize, Error> {
        let st = SinkState::open(sink, stream).map_err(|e| e.into_error(name))?;
        Ok(self.push_sink(st))
    }

    fn push_sink(&mut self, st: SinkState) -> usize {
        self.sinks.push(st);
        self.sinks.len() - 1
    }

    /// Queues a command; returns its index (results come back in this order).
    /// `shared_stderr`: a sink index every stage's stderr goes to (pipelines).
    pub(crate) fn add_command(
        &mut self,
        cmd: Command,
        stage: Option<StageWiring>,
        shared_stderr: Option<usize>,
    ) -> Result<usize, Error> {
        let name = cmd.name();
        let (stdin_piped, input, stdout_route, stderr_route) = match &stage {
            None => (
                cmd.stdin_piped(),
                cmd.input.clone(),
                cmd.stdout.clone(),
                cmd.stderr.clone(),
            ),
            Some(w) => (
                w.index == 0
                    && match &w.stdin {
                        Some(s) => matches!(s.0, StdioKind::Piped),
                        None => cmd.input.is_some(),
                    },
                if w.index == 0 {
                    cmd.input.clone()
                } else {
                    None
                },
                if w.last { w.stdout.clone() } else { None },
                cmd.stderr.clone().or_else(|| w.stderr.clone()),
            ),
        };
        if input.is_some() && !stdin_piped {
            return Err(Error::invalid(
                &name,
                "input was given but stdin is routed elsewhere (use Stdio::piped() or no stdin route)",
            ));
        }
        let timeout = cmd.timeout;
        let kill_grace = cmd.kill_grace;
        let eof_grace = cmd.eof_grace;
        let signal_group = cmd.timeout.is_some() || cmd.new_session || cmd.process_group.is_some();
        let mut slot = Slot::new_with(
            Source::Command {
                cmd: Box::new(cmd),
                stage,
            },
            name.clone(),
        );
        let out_sink = route_sink(stdout_route.as_ref());
        let merged = is_merge(stderr_route.as_ref());
        let err_sink = if merged {
            None
        } else {
            route_sink(stderr_route.as_ref())
        };
        let own_err = err_sink.as_ref().filter(|_| shared_stderr.is_none());
        let opened =
            crate::sink::open_pair(out_sink.as_ref(), own_err).map_err(|e| e.into_error(&name))?;
        slot.sinks[0] = opened.stdout.map(|st| self.push_sink(st));
        slot.sinks[1] = opened.stderr.map(|st| self.push_sink(st));
        if err_sink.is_some() && shared_stderr.is_some() {
            slot.sinks[1] = shared_stderr;
        }
        slot.input = input;
        let spec = ChildSpec {
            stdin: stdin_piped,
            input_len: slot.input.as_ref().map_or(0, |i| i.len() as u64),
            stdout: out_sink.is_some(),
            stderr: err_sink.is_some(),
            timeout,
            kill_grace,
            eof_grace,
            signal_group,
            read_chunk: READ_CHUNK,
            write_chunk: WRITE_CHUNK,
            ..ChildSpec::default()
        };
        let id = self.sched.add(spec);
        debug_assert_eq!(id.0, self.slots.len());
        slot.owned = true;
        self.slots.push(slot);
        Ok(id.0)
    }

    /// Adds a shared sink (pipeline stderr), returning its index.
    pub(crate) fn add_shared_sink(
        &mut self,
        sink: &Sink,
        stream: StreamName,
        name: &str,
    ) -> Result<usize, Error> {
        self.add_sink(sink, stream, name)
    }

    /// Adds an already running child (a `Child`'s communicate).
    pub(crate) fn add_running(
        &mut self,
        mut slot: Slot,
        spec: ChildSpec,
        routes: &[Option<Sink>; 2],
    ) -> Result<usize, Error> {
        let opened = crate::sink::open_pair(routes[0].as_ref(), routes[1].as_ref())
            .map_err(|e| e.into_error(&slot.name))?;
        slot.sinks[0] = opened.stdout.map(|st| self.push_sink(st));
        slot.sinks[1] = opened.stderr.map(|st| self.push_sink(st));
        let id = self.sched.add(spec);
        debug_assert_eq!(id.0, self.slots.len());
        self.slots.push(slot);
        Ok(id.0)
    }

    /// Drives every child until all are finished (`Ok(true)`) or `stop_at`
    /// passes (`Ok(false)`, state intact, to be resumed).
    pub(crate) fn run(&mut self, stop_at: Option<Instant>) -> Result<bool, Error> {
        loop {
            let now = self.now();
            match self.poll_core(now) {
                spawn_core::Output::Action(a) => self.act(a),
                spawn_core::Output::Wait { deadline, reason } => {
                    if matches!(reason, WaitReason::Done) || self.sched.is_done() {
                        return Ok(true);
                    }
                    let mut timeout: Option<Duration> = deadline
                        .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos())));
                    if let Some(stop) = stop_at {
                        let left = stop.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Ok(false);
                        }
                        timeout = Some(timeout.map_or(left, |t| t.min(left)));
                    }
                    if !self.polled.is_empty() {
                        timeout = Some(timeout.map_or(self.tick, |t| t.min(self.tick)));
                    }
                    self.wait(timeout)?;
                }
                _ => {}
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let mut ready = std::mem::take(&mut self.ready);
        let res = self.epoll.wait(&mut ready, 256, timeout);
        if let Err(e) = res {
            self.ready = ready;
            let name = self
                .slots
                .first()
                .map_or_else(String::new, |s| s.name.clone());
            return Err(Error::io(
                &name,
                "waiting for the children (epoll_wait)",
                io_err(e),
            ));
        }
        let now = self.now();
        for r in &ready {
            if r.token == TOKEN_FORWARD {
                self.forward_signals();
                continue;
            }
            let child = (r.token / TOKEN_KINDS) as usize;
            let kind = r.token % TOKEN_KINDS;
            let id = ChildId(child);
            match kind {
                0 => self.feed(Event::Writable { child: id }, now),
                1 | 2 => {
                    let stream = if kind == 1 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    };
                    self.feed(Event::Readable { child: id, stream }, now);
                }
                _ => self.reap(child, now),
            }
        }
        self.ready = ready;
        if !self.polled.is_empty() {
            let polled = std::mem::take(&mut self.polled);
            let before = polled.len();
            for &i in &polled {
                self.reap(i, now);
            }
            let mut still: Vec<usize> = polled;
            still.retain(|&i| self.slots[i].wait.is_none() && self.slots[i].pid.is_some());
            self.tick = if still.len() < before {
                MIN_TICK
            } else {
                (self.tick * 2).min(MAX_TICK)
            };
            self.polled = still;
        }
        Ok(())
    }

    /// Collects the exit status of `child` if it has exited.
    fn reap(&mut self, child: usize, now: Timestamp) {
        let slot = &mut self.slots[child];
        let Some(pid) = slot.pid else { return };
        if slot.wait.is_some() {
            return;
        }
        match spawn_sys::wait::wait_pid(pid, true) {
            Ok(Some(w)) => {
                let status = w.status;
                slot.wait = Some(w);
                if let Some(fd) = &slot.pidfd {
                    let _ = self.epoll.delete(fd.as_fd());
                }
                self.feed(
                    Event::Exited {
                        child: ChildId(child),
                        status,
                    },
                    now,
                );
            }
            Ok(None) => {}
            Err(e) => {
                // ECHILD: someone else reaped it (waitpid(-1) elsewhere, or
                // SIGCHLD ignored). The status is lost; say so.
                let _ = e;
                slot.status_lost = true;
                slot.wait = Some(WaitResult {
                    status: 255 << 8,
                    rusage: Rusage::default(),
                });
                if let Some(fd) = &slot.pidfd {
                    let _ = self.epoll.delete(fd.as_fd());
                }
                self.feed(
                    Event::Exited {
                        child: ChildId(child),
                        status: 255 << 8,
                    },
                    now,
                );
            }
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Start { child } => {
                self.start(child.0);
                self.report_progress();
            }
            Action::Read { child, stream, max } => self.read(child.0, stream, max),
            Action::Write { child, offset, len } => self.write(child.0, offset, len),
            Action::Close {
                child,
                stream,
                reason,
            } => {
                let slot = &mut self.slots[child.0];
                let i = stream_kind(stream) as usize;
                if let Some(fd) = slot.fds[i].take() {
                    let _ = self.epoll.delete(&fd);
                    drop(fd);
                }
                slot.lease[i] = None;
                if i > 0 && matches!(reason, CloseReason::Eof | CloseReason::Abandoned) {
                    self.finish_sink(child.0, i - 1);
                }
                // Without a pidfd, EOF on the output is the best hint of an exit.
                if slot_needs_poll(&self.slots[child.0]) {
                    let now = self.now();
                    self.reap(child.0, now);
                }
            }
            Action::Signal {
                child,
                signal,
                group,
            } => self.signal(child.0, signal, group),
            Action::Finished { child, outcome } => {
                let slot = &mut self.slots[child.0];
                for fd in &mut slot.fds {
                    if let Some(fd) = fd.take() {
                        let _ = self.epoll.delete(&fd);
                    }
                }
                slot.lease = [None, None, None];
                slot.finished = Some(Instant::now());
                slot.outcome = Some(outcome);
                for i in 0..2 {
                    self.finish_sink(child.0, i);
                }
                self.polled.retain(|&i| i != child.0);
                self.report_progress();
            }
            _ => {}
        }
    }

    fn finish_sink(&mut self, child: usize, i: usize) {
        if let Some(s) = self.slots[child].sinks[i]
            && let Err(SinkError::Io(e)) = self.sinks[s].finish()
        {
            let slot = &mut self.slots[child];
            slot.error
                .get_or_insert_with(|| Error::io(&slot.name, "writing output to its sink", e));
        }
    }

    fn start(&mut self, child: usize) {
        let now = self.now();
        let id = ChildId(child);
        let slot = &mut self.slots[child];
        if matches!(slot.source, Source::Running) {
            // Already running: register what it has.
            self.register(child);
            self.feed(Event::Started { child: id }, now);
            if let Some(w) = &self.slots[child].wait {
                let status = w.status;
                self.feed(Event::Exited { child: id, status }, now);
            } else if slot_needs_poll(&self.slots[child]) {
                self.polled.push(child);
            }
            return;
        }
        let Source::Command { cmd, stage } = &slot.source else {
            return;
        };
        let cmd: &Command = cmd;
        slot.fixed_cap = cmd.pipe_capacity.is_some();
        // Pipeline plumbing: the pipe to the next stage.
        let mut next_pipe: Option<(OwnedFd, OwnedFd)> = None;
        let prev = self.stage_pipe.take();
        let result = (|| {
            let (stdin, stdout, stderr, own_group) = match stage {
                None => (
                    cmd.stdin.as_ref().map_or_else(
                        || {
                            if cmd.input.is_some() {
                                Plan::Pipe
                            } else {
                                Plan::Inherit
                            }
                        },
                        launch::plan_stdio,
                    ),
                    launch::plan_route(cmd.stdout.as_ref()),
                    launch::plan_route(cmd.stderr.as_ref()),
                    cmd.timeout.is_some(),
                ),
                Some(w) => {
                    let stdin = match (&prev, w.index) {
                        (Some(fd), _) => Plan::Fd(fd.as_fd()),
                        (None, 0) => w.stdin.as_ref().map_or_else(
                            || {
                                if cmd.input.is_some() {
                                    Plan::Pipe
                                } else {
                                    Plan::Inherit
                                }
                            },
                            launch::plan_stdio,
                        ),
                        (None, _) => Plan::Null,
                    };
                    let stdout = if w.last {
                        launch::plan_route(w.stdout.as_ref())
                    } else {
                        let (r, wr) = spawn_sys::pipe::pipe().map_err(|e| {
                            Error::io(&slot.name, "cannot create a pipe", io_err(e))
                        })?;
                        next_pipe = Some((r, wr));
                        Plan::Inherit // replaced below
                    };
                    let stderr = launch::plan_route(cmd.stderr.as_ref().or(w.stderr.as_ref()));
                    (stdin, stdout, stderr, false)
                }
            };
            let stdout = match &next_pipe {
                Some((_, w)) => Plan::Fd(w.as_fd()),
                None => stdout,
            };
            crate::reaper::prepare();
            launch::launch(
                cmd,
                &LaunchOptions {
                    stdin,
                    stdout,
                    stderr,
                    process_group: None,
                    own_group,
                },
            )
        })();
        drop(prev);
        let now = self.now();
        match result {
            Ok(l) => {
                crate::reaper::started();
                self.stage_pipe = next_pipe.map(|(r, _w)| r);
                self.adopt(child, l);
                self.register(child);
                self.feed(Event::Started { child: id }, now);
                if slot_needs_poll(&self.slots[child]) {
                    self.polled.push(child);
                }
            }
            Err(e) => {
                // The next stage reads from /dev/null-like EOF: no pipe.
                self.slots[child].error = Some(e);
                self.feed(Event::SpawnFailed { child: id }, now);
            }
        }
    }

    fn adopt(&mut self, child: usize, l: Launched) {
        let slot = &mut self.slots[child];
        slot.pid = Some(l.pid);
        slot.pidfd = l.pidfd.map(Arc::new);
        slot.pgid = l.pgid;
        slot.fds = [l.stdin, l.stdout, l.stderr];
        // Pipes the core does not manage (a merged stderr has none).
        if slot.sinks[0].is_none() {
            slot.fds[1] = None;
        }
        if slot.sinks[1].is_none() {
            slot.fds[2] = None;
        }
        slot.spawn_time = l.spawn_time;
        slot.started = Some(l.started);
    }

    fn register(&mut self, child: usize) {
        let slot = &mut self.slots[child];
        for (i, fd) in slot.fds.iter().enumerate() {
            if let Some(fd) = fd {
                // A command that chose its capacity may have got less than
                // it asked for: ask the pipe. Others have the default.
                slot.cap[i] = if slot.fixed_cap {
                    spawn_sys::pipe::pipe_size(fd)
                        .unwrap_or_else(|_| crate::pipes::default_capacity())
                } else {
                    crate::pipes::default_capacity()
                };
                // Input larger than the pipe: raise it now.
                let input = slot.input.as_ref().map_or(0, |v| v.len());
                if i == 0
                    && !slot.fixed_cap
                    && input > slot.cap[0]
                    && let Some((cap, lease)) = crate::pipes::raise(fd, slot.cap[0])
                {
                    slot.cap[0] = cap;
                    slot.lease[0] = Some(lease);
                }
                let _ = spawn_sys::pipe::set_nonblocking(fd, true);
                let interest = Interest {
                    readable: i > 0,
                    writable: i == 0,
                    edge: true,
                };
                let _ = self.epoll.add(fd, token(child, i as u64), interest);
            }
        }
        if let Some(fd) = &slot.pidfd {
            let interest = Interest {
                readable: true,
                writable: false,
                edge: true,
            };
            if self
                .epoll
                .add(fd.as_fd(), token(child, KIND_PIDFD), interest)
                .is_err()
            {
                // Without it in the set, fall back to polling this child.
                self.slots[child].pidfd = None;
            }
        }
    }

    fn read(&mut self, child: usize, stream: Stream, max: usize) {
        let now = self.now();
        let id = ChildId(child);
        let i = stream_kind(stream) as usize;
        let slot = &mut self.slots[child];
        let Some(fd) = slot.fds[i].as_ref() else {
            self.feed(Event::Eof { child: id, stream }, now);
            return;
        };
        let Some(sink_ix) = slot.sinks[i - 1] else {
            self.feed(Event::Eof { child: id, stream }, now);
            return;
        };
        // A read gets at most what the pipe holds: ask for no more (a
        // collecting sink reserves what is asked for).
        let cap = slot.cap[i];
        let max = if cap > 0 { max.min(cap) } else { max };
        let sink = &mut self.sinks[sink_ix];
        let res = loop {
            if let Some(out) = sink.splice_target() {
                let flags = rustix::pipe::SpliceFlags::NONBLOCK | rustix::pipe::SpliceFlags::MOVE;
                match rustix::pipe::splice(fd, None, out, None, max, flags) {
                    Err(Errno::INVAL | Errno::NOSYS | Errno::BADF) => {
                        sink.no_splice();
                        continue;
                    }
                    Err(Errno::INTR) => continue,
                    Err(e) if e != Errno::AGAIN => {
                        // The file's side failed (disk full, …): report it,
                        // keep draining the pipe into nothing.
                        sink.fail();
                        slot.error.get_or_insert_with(|| {
                            Error::io(&slot.name, "writing output to its sink", io_err(e))
                        });
                        continue;
                    }
                    r => break r,
                }
            }
            // A plain collecting sink is read into straight, after the
            // bytes the pipe holds (FIONREAD) are faulted in with one call:
            // the kernel holds the pipe's lock while it copies, and a fault
            // there keeps the writer spinning on it. Other sinks get the
            // bytes through the one warm buffer, as does a read of an empty
            // pipe (EOF, or nothing yet).
            let avail = sink.unbounded_buffer().map_or(0, |_| {
                usize::try_from(rustix::io::ioctl_fionread(fd).unwrap_or(0))
                    .unwrap_or(0)
                    .min(max)
            });
            let r = if avail > 0
                && let Some(v) = sink.unbounded_buffer()
            {
                v.reserve(avail);
                spawn_sys::mem::populate_write(&mut v.spare_capacity_mut()[..avail]);
                rustix::io::read(fd, rustix::buffer::spare_capacity(v))
            } else {
                let max = if sink.unbounded_buffer().is_some() {
                    max.min(EMPTY_READ)
                } else {
                    max
                };
                if self.buf.len() < max {
                    self.buf.resize(max, 0);
                }
                match rustix::io::read(fd, &mut self.buf[..max]) {
                    Ok(0) => Ok(0),
                    Ok(n) => match sink.write(&self.buf[..n]) {
                        Ok(()) => Ok(n),
                        Err(SinkError::Overflow(limit)) => {
                            let which = if i == 1 {
                                StreamName::Stdout
                            } else {
                                StreamName::Stderr
                            };
                            slot.overflow.get_or_insert((which, limit));
                            Ok(n)
                        }
                        Err(SinkError::Io(e)) => {
                            slot.error.get_or_insert_with(|| {
                                Error::io(&slot.name, "writing output to its sink", e)
                            });
                            Ok(n)
                        }
                    },
                    Err(e) => Err(e),
                }
            };
            if r != Err(Errno::INTR) {
                break r;
            }
        };
        let overflowed = slot.overflow.is_some();
        match res {
            Ok(0) => self.feed(Event::Eof { child: id, stream }, now),
            Ok(n) => {
                // The pipe was full: the child writes faster than we read.
                // A larger pipe means fewer wake-ups for both.
                if n >= cap
                    && cap > 0
                    && !slot.fixed_cap
                    && slot.lease[i].is_none()
                    && let Some(fd) = slot.fds[i].as_ref()
                    && let Some((new, lease)) = crate::pipes::raise(fd, cap)
                {
                    slot.cap[i] = new;
                    slot.lease[i] = Some(lease);
                }
                self.feed(
                    Event::Read {
                        child: id,
                        stream,
                        n,
                    },
                    now,
                );
                if overflowed && self.slots[child].outcome.is_none() {
                    self.feed(Event::Terminate { child: id }, now);
                }
            }
            Err(e) if e == Errno::AGAIN => {
                self.feed(Event::ReadWouldBlock { child: id, stream }, now);
            }
            Err(_) => self.feed(Event::Eof { child: id, stream }, now),
        }
    }

    fn write(&mut self, child: usize, offset: u64, len: usize) {
        let now = self.now();
        let id = ChildId(child);
        let slot = &self.slots[child];
        let (Some(fd), Some(input)) = (slot.fds[0].as_ref(), slot.input.as_ref()) else {
            self.feed(Event::WriteBroken { child: id }, now);
            return;
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let end = start.saturating_add(len).min(input.len());
        let res = loop {
            let r = rustix::io::write(fd, &input[start..end]);
            if r != Err(Errno::INTR) {
                break r;
            }
        };
        let ev = match res {
            Ok(n) if n > 0 => Event::Wrote { child: id, n },
            Err(e) if e == Errno::AGAIN => Event::WriteWouldBlock { child: id },
            _ => Event::WriteBroken { child: id },
        };
        self.feed(ev, now);
    }

    fn signal(&mut self, child: usize, signal: KillSignal, group: bool) {
        let slot = &self.slots[child];
        let sig = match signal {
            KillSignal::Term => Signal::TERM,
            _ => Signal::KILL,
        }
        .as_raw();
        // A stopped process keeps TERM pending until it is continued: send
        // CONT after it, as shells and systemd do.
        let sigs: &[i32] = if sig == Signal::TERM.as_raw() {
            &[sig, Signal::CONT.as_raw()]
        } else {
            &[sig]
        };
        if group && let Some(pgid) = slot.pgid {
            // The group outlives its leader while members remain, and its id
            // is not reused while it has members.
            for &s in sigs {
                let _ = spawn_sys::signal::signal_group(pgid, s);
            }
            return;
        }
        if slot.wait.is_some() {
            return; // reaped: the pid may be reused
        }
        for &s in sigs {
            match (&slot.pidfd, slot.pid) {
                (Some(fd), _) => {
                    let _ = spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), s);
                }
                (None, Some(pid)) => {
                    let _ = spawn_sys::signal::signal_process(pid, s);
                }
                _ => {}
            }
        }
    }

    /// The output of a finished (or, with `snapshot`, unfinished) child.
    /// `snapshot` copies the kept bytes instead of taking them.
    pub(crate) fn output(&mut self, child: usize, snapshot: bool) -> Output {
        let slot = &self.slots[child];
        let mut kept = [Vec::new(), Vec::new()];
        let mut dropped = [0, 0];
        for i in 0..2 {
            if let Some(s) = slot.sinks[i] {
                kept[i] = if snapshot {
                    self.sinks[s].peek_kept()
                } else {
                    self.sinks[s].take_kept()
                };
                dropped[i] = self.sinks[s].dropped();
            }
        }
        let [stdout, stderr] = kept;
        let now = Instant::now();
        let wall = slot.started.map_or(Duration::ZERO, |s| {
            slot.finished.unwrap_or(now).saturating_duration_since(s)
        });
        let (status, rusage) = match &slot.wait {
            Some(w) => (w.status, w.rusage),
            None => (0, Rusage::default()),
        };
        let mut report = Report {
            pid: slot.pid.map_or(0, |p| p.as_raw_nonzero().get() as u32),
            wall,
            spawn_time: slot.spawn_time,
            user_time: rusage.user,
            system_time: rusage.system,
            max_rss_bytes: rusage.max_rss_bytes,
            stdout_dropped: dropped[0],
            stderr_dropped: dropped[1],
            ..Report::default()
        };
        let stats = match &slot.outcome {
            Some(o) => Some((
                o.stdout_bytes,
                o.stderr_bytes,
                o.input_written,
                o.input_broken,
                o.stdout_abandoned,
                o.stderr_abandoned,
                o.timed_out,
            )),
            None => self.sched.stats(ChildId(child)).map(|s| {
                (
                    s.stdout_bytes,
                    s.stderr_bytes,
                    s.input_written,
                    false,
                    false,
                    false,
                    false,
                )
            }),
        };
        if let Some((o, e, i, b, oa, ea, t)) = stats {
            report.stdout_bytes = o;
            report.stderr_bytes = e;
            report.stdin_bytes = i;
            report.input_broken = b;
            report.stdout_abandoned = oa;
            report.stderr_abandoned = ea;
            report.timed_out = t;
        }
        Output {
            status: ExitStatus::from_raw(status),
            stdout,
            stderr,
            report,
        }
    }

    /// The result of a finished child: its output, or the error that ended it.
    pub(crate) fn result(&mut self, child: usize) -> Result<Output, Error> {
        if let Some(e) = self.slots[child].error.take() {
            if self.slots[child].pid.is_none() {
                return Err(e);
            }
            // Errors after the start are sink failures: the bytes went
            // nowhere anyway.
            return Err(e);
        }
        let out = self.output(child, false);
        let name = self.slots[child].name.clone();
        if self.slots[child].status_lost {
            return Err(Error::StatusLost {
                program: name,
                partial: out,
            });
        }
        if let Some((stream, limit)) = self.slots[child].overflow {
            return Err(Error::OutputLimit {
                program: name,
                stream,
                limit,
                partial: out,
            });
        }
        if out.report.timed_out {
            return Err(Error::Timeout {
                program: name,
                elapsed: out.report.wall,
                partial: out,
            });
        }
        Ok(out)
    }

    /// Takes the slots' pids out so that dropping the engine leaves them alone
    /// (used by `Child`, which owns its process).
    pub(crate) fn disown(&mut self) {
        for s in &mut self.slots {
            s.owned = false;
        }
    }
}

fn slot_needs_poll(slot: &Slot) -> bool {
    slot.pidfd.is_none() && slot.pid.is_some() && slot.wait.is_none()
}

impl Drop for Engine<'_> {
    /// An engine dropped before its children finished (a panic in a sink
    /// callback, an early return) kills and reaps the children it started:
    /// none is left running unobserved, none becomes a zombie.
    fn drop(&mut self) {
        for s in &mut self.slots {
            if s.owned
                && s.wait.is_none()
                && let Some(pid) = s.pid
            {
                match &s.pidfd {
                    Some(fd) => {
                        let _ =
                            spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), Signal::KILL.as_raw());
                    }
                    None => {
                        let _ = spawn_sys::signal::signal_process(pid, Signal::KILL.as_raw());
                    }
                }
                crate::reaper::reap_later(pid, s.pidfd.take());
            }
        }
    }
}

/// `Command::run`: one child through the engine.
pub(crate) fn run_one(cmd: &Command) -> Result<Output, Error> {
    let mut engine =
        Engine::new(0).map_err(|e| Error::io(&cmd.name(), "cannot create an epoll set", e))?;
    if let Some(f) = &cmd.forwarder {
        engine.set_forwarder(f);
    }
    let ix = engine.add_command(cmd.clone(), None, None)?;
    engine.run(None)?;
    engine.result(ix)
}

/// `Command::run_traced`.
pub(crate) fn run_one_traced<F>(cmd: &Command, f: F) -> Result<Output, Error>
where
    F: FnMut(&crate::trace::Trace<'_>) + Send,
{
    let mut engine =
        Engine::new(0).map_err(|e| Error::io(&cmd.name(), "cannot create an epoll set", e))?;
    engine.set_tracer(Box::new(f));
    let ix = engine.add_command(cmd.clone(), None, None)?;
    engine.run(None)?;
    engine.result(ix)
}

/// Spec for a running child's communicate.
pub(crate) fn running_spec(
    stdin: bool,
    input_len: u64,
    stdout: bool,
    stderr: bool,
    cmd: &Command,
) -> ChildSpec {
    ChildSpec {
        stdin,
        input_len,
        stdout,
        stderr,
        timeout: None,
        kill_grace: cmd.kill_grace,
        eof_grace: cmd.eof_grace,
        signal_group: false,
        read_chunk: READ_CHUNK,
        write_chunk: WRITE_CHUNK,
        ..ChildSpec::default()
    }
}

/// The sink a `Child`'s stdout/stderr route drains into during `communicate`.
pub(crate) fn communicate_sink(route: Option<&Route>) -> Sink {
    match route {
        Some(Route::Sink(s)) => s.clone(),
        _ => Sink::collect(),
    }
}
