//! The blocking driver: one thread, one epoll set, any number of children.
//!
//! The driver owns the fds, the read buffer and the sinks; the
//! [`spawn_core::Scheduler`] decides what to do. The loop is the one the
//! core documents: hand it events, then poll until it says to wait, then
//! wait in `epoll_wait` until the core's next deadline. Every entry point
//! (`run`, `Group`, `Pipeline`, `Child`'s communicate and waits, tracing)
//! goes through this one loop; they differ only in what they add to it.
//!
//! - `token.rs`: what an epoll readiness is about;
//! - `slot.rs`: one child, and how it starts (launched from its wiring, or
//!   adopted already running);
//! - `pipe_io.rs`: reads into sinks and writes of input;
//! - `exits.rs`: exits, signals, group probes and reaping, through
//!   [`Process`](crate::process::Process);
//! - the finish (slot + outcome + sinks → `Output` or `Error`) is
//!   `crate::finish`.

mod exits;
mod pipe_io;
pub(crate) mod slot;
mod token;

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_core::{
    Action, ChildId, ChildSpec, Event, Output as CoreOutput, PerStream, Scheduler, SchedulerConfig,
    Stream, Timestamp, WaitReason,
};
use spawn_sys::Errno;
use spawn_sys::poll::{Epoll, Interest, Ready};

use crate::process::Process;
use crate::sink::SinkState;
use crate::wiring::{Plan, Wiring};
use crate::{Error, Output, Sink};

use slot::StagePlumbing;
pub(crate) use slot::{Owner, Slot, StageRole, Start};
use token::Token;

/// Bytes read per `read(2)` at most: a raised pipe's whole capacity.
pub(crate) const READ_CHUNK: usize = crate::pipes::TARGET;
/// Bytes written per `write(2)` of input: a raised pipe's whole capacity.
pub(crate) const WRITE_CHUNK: usize = crate::pipes::TARGET;

type Tracer<'t> = dyn FnMut(&crate::trace::Trace<'_>) + Send + 't;
type ProgressFn<'t> = dyn FnMut(crate::group::Progress) + Send + 't;

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// What an entry point adds to the loop besides children.
#[derive(Default)]
struct Hooks<'t> {
    /// Sees every event handed to the core and every output it returns.
    tracer: Option<Box<Tracer<'t>>>,
    /// Signals to pass on to the running children.
    forwarder: Option<crate::Forwarder>,
    /// Told when a child starts or finishes.
    progress: Option<Box<ProgressFn<'t>>>,
}

/// The driver: see the module docs.
pub(crate) struct Engine<'t> {
    sched: Scheduler,
    pub(crate) slots: Vec<Slot>,
    sinks: Vec<SinkState>,
    epoll: Epoll,
    ready: Vec<Ready>,
    origin: Instant,
    /// The one warm read buffer.
    buf: Vec<u8>,
    /// Children without a pidfd whose exit is still to be seen.
    polled: Vec<usize>,
    tick: Duration,
    plumbing: StagePlumbing,
    /// Where a pipeline's final stdout goes (for stages' merged stderr).
    pipeline_stdout: Plan,
    hooks: Hooks<'t>,
}

impl<'t> Engine<'t> {
    /// An engine running at most `max_running` children at once (0: no
    /// limit). `name` is what an error of the engine itself names.
    pub(crate) fn new(max_running: usize, name: &str) -> Result<Self, Error> {
        let epoll =
            Epoll::new().map_err(|e| Error::io(name, "cannot create an epoll set", io_err(e)))?;
        Ok(Engine {
            sched: Scheduler::new(SchedulerConfig { max_running }),
            slots: Vec::new(),
            sinks: Vec::new(),
            epoll,
            ready: Vec::with_capacity(64),
            origin: Instant::now(),
            buf: Vec::new(),
            polled: Vec::new(),
            tick: exits::MIN_TICK,
            plumbing: StagePlumbing::default(),
            pipeline_stdout: Plan::Inherit,
            hooks: Hooks::default(),
        })
    }

    pub(crate) fn set_tracer(&mut self, f: Box<Tracer<'t>>) {
        self.hooks.tracer = Some(f);
    }

    /// Passes the signals `f` receives on to the running children.
    pub(crate) fn set_forwarder(&mut self, f: &crate::Forwarder) {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        if self
            .epoll
            .add(f.fd(), Token::Forwarder.encode(), interest)
            .is_ok()
        {
            self.hooks.forwarder = Some(f.clone());
        }
    }

    pub(crate) fn set_progress(&mut self, f: Box<ProgressFn<'t>>) {
        self.hooks.progress = Some(f);
    }

    fn report_progress(&mut self) {
        if let Some(p) = &mut self.hooks.progress {
            p(crate::group::Progress {
                done: self.sched.finished(),
                running: self.sched.running(),
                queued: self.sched.queued(),
            });
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Opens the sinks of one run's stdout and stderr together (one file
    /// shared by both when both name it, like `>p 2>&1`); returns their
    /// indexes.
    pub(crate) fn open_sinks(
        &mut self,
        name: &str,
        sinks: &PerStream<Option<Sink>>,
    ) -> Result<PerStream<Option<usize>>, Error> {
        let opened = crate::sink::open_pair(sinks.stdout.as_ref(), sinks.stderr.as_ref())
            .map_err(|e| e.into_error(name))?;
        let mut push = |st: SinkState| {
            self.sinks.push(st);
            self.sinks.len() - 1
        };
        Ok(PerStream {
            stdin: None,
            stdout: opened.stdout.map(&mut push),
            stderr: opened.stderr.map(&mut push),
        })
    }

    /// Queues a command; returns its slot (results come back in this order).
    pub(crate) fn add(&mut self, wiring: Wiring) -> Result<usize, Error> {
        self.add_stage(wiring, None, PerStream::default(), None)
    }

    /// Queues a command, as a pipeline stage when `stage` says so.
    /// `shared`: sinks opened already by the pipeline (its final stdout,
    /// the stderr every stage shares), used instead of the wiring's own;
    /// `member_of`: the slot whose group this one joins.
    pub(crate) fn add_stage(
        &mut self,
        wiring: Wiring,
        stage: Option<StageRole>,
        shared: PerStream<Option<usize>>,
        member_of: Option<usize>,
    ) -> Result<usize, Error> {
        let own = PerStream {
            stdin: None,
            stdout: wiring
                .sinks
                .stdout
                .clone()
                .filter(|_| shared.stdout.is_none()),
            stderr: wiring
                .sinks
                .stderr
                .clone()
                .filter(|_| shared.stderr.is_none()),
        };
        let mut sinks = self.open_sinks(&wiring.name, &own)?;
        sinks.stdout = sinks.stdout.or(shared.stdout);
        sinks.stderr = sinks.stderr.or(shared.stderr);
        let leader = stage.is_some_and(|s| s.index == 0);
        let spec = ChildSpec {
            stdout: sinks.stdout.is_some(),
            stderr: sinks.stderr.is_some(),
            signal_group: wiring.owns_group_teardown(leader),
            member_of: member_of.map(ChildId),
            ..wiring.spec(READ_CHUNK, WRITE_CHUNK)
        };
        let mut slot = Slot::new(wiring.name.clone(), Start::Adopted, Owner::Engine);
        slot.fixed_cap = wiring.cmd.pipe_capacity.is_some();
        slot.input = wiring.input.clone();
        slot.sinks = sinks;
        slot.stage = stage;
        slot.keep_unreaped = spec.signal_group;
        slot.start = Some(Start::Launch(Box::new(wiring)));
        Ok(self.push(slot, spec))
    }

    /// Sets where a pipeline's final stdout goes, and makes the pipe that
    /// its last stage's stdout and the stages' merged stderr share when
    /// that is a pipe to us.
    pub(crate) fn set_pipeline_stdout(
        &mut self,
        plan: Plan,
        shared: bool,
        name: &str,
    ) -> Result<(), Error> {
        if shared && matches!(plan, Plan::Pipe) {
            let (r, w) = spawn_sys::pipe::pipe()
                .map_err(|e| Error::io(name, "cannot create a pipe", io_err(e)))?;
            self.plumbing.final_read = Some(r);
            self.plumbing.final_write = Some(w);
        }
        self.pipeline_stdout = plan;
        Ok(())
    }

    /// Adds an already running child (a `Child`'s communicate or wait):
    /// `fds` are the parent's pipe ends the engine is to drive.
    pub(crate) fn adopt(
        &mut self,
        process: Arc<Process>,
        fds: PerStream<Option<std::os::fd::OwnedFd>>,
        sinks: &PerStream<Option<Sink>>,
        spec: ChildSpec,
        input: Option<Arc<Vec<u8>>>,
        name: &str,
    ) -> Result<usize, Error> {
        let sink_ix = self.open_sinks(name, sinks)?;
        let spec = ChildSpec {
            stdin: fds.stdin.is_some(),
            stdout: sink_ix.stdout.is_some() && fds.stdout.is_some(),
            stderr: sink_ix.stderr.is_some() && fds.stderr.is_some(),
            ..spec
        };
        let mut slot = Slot::new(name.to_owned(), Start::Adopted, Owner::Child);
        slot.started = Some(Instant::now());
        slot.fds = fds;
        slot.sinks = sink_ix;
        slot.input = input;
        slot.keep_unreaped = spec.signal_group;
        slot.process = Some(process);
        Ok(self.push(slot, spec))
    }

    fn push(&mut self, slot: Slot, spec: ChildSpec) -> usize {
        let id = self.sched.add(spec);
        debug_assert_eq!(id.0, self.slots.len());
        self.slots.push(slot);
        id.0
    }

    /// Drives every child until all are finished (`Ok(true)`) or `stop_at`
    /// passes (`Ok(false)`, state intact, to be resumed). Even with
    /// `stop_at` already past, what is ready now is read and written once.
    pub(crate) fn run(&mut self, stop_at: Option<Instant>) -> Result<bool, Error> {
        let mut looked = false;
        loop {
            let now = self.now();
            match self.poll_core(now) {
                CoreOutput::Action(a) => self.act(a),
                CoreOutput::Finished { child, outcome } => self.finished(child.0, outcome),
                CoreOutput::Wait { deadline, reason } => {
                    if matches!(reason, WaitReason::Done) || self.sched.is_done() {
                        return Ok(true);
                    }
                    let mut timeout: Option<Duration> = deadline
                        .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos())));
                    if let Some(stop) = stop_at {
                        let left = stop.saturating_duration_since(Instant::now());
                        if left.is_zero() && looked {
                            return Ok(false);
                        }
                        timeout = Some(timeout.map_or(left, |t| t.min(left)));
                    }
                    if !self.polled.is_empty() {
                        timeout = Some(timeout.map_or(self.tick, |t| t.min(self.tick)));
                    }
                    self.wait(timeout)?;
                    looked = true;
                }
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        let mut ready = std::mem::take(&mut self.ready);
        if let Err(e) = self.epoll.wait(&mut ready, 256, timeout) {
            self.ready = ready;
            let name = self
                .slots
                .first()
                .map_or("", |s| s.name.as_str())
                .to_owned();
            return Err(Error::io(
                &name,
                "waiting for the children (epoll_wait)",
                io_err(e),
            ));
        }
        let now = self.now();
        for r in &ready {
            match Token::decode(r.token) {
                Token::Forwarder => self.forward_signals(),
                Token::Pipe {
                    slot,
                    stream: Stream::Stdin,
                } => self.feed(
                    Event::Writable {
                        child: ChildId(slot),
                    },
                    now,
                ),
                Token::Pipe { slot, stream } => self.feed(
                    Event::Readable {
                        child: ChildId(slot),
                        stream,
                    },
                    now,
                ),
                Token::Exit { slot } => self.check_exit(slot, now),
            }
        }
        self.ready = ready;
        self.poll_exits(now);
        Ok(())
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
            } => self.close(child.0, stream, reason),
            Action::Signal {
                child,
                signal,
                target,
            } => self.signal(child.0, signal, target),
            Action::ProbeGroup { child } => self.probe_group(child.0),
            Action::Interest { .. } => {} // edge-triggered: every pipe stays watched
            _ => {}
        }
    }

    /// Hands `event` to the core (and the tracer).
    fn feed(&mut self, event: Event, now: Timestamp) {
        if self.hooks.tracer.is_some() {
            let fd = self.event_fd(&event);
            if let Some(t) = &mut self.hooks.tracer {
                t(&crate::trace::Trace {
                    at: Duration::from_nanos(now.as_nanos()),
                    what: crate::trace::What::Event(&event),
                    fd,
                });
            }
        }
        self.sched.handle(event, now);
    }

    fn poll_core(&mut self, now: Timestamp) -> CoreOutput {
        let out = self.sched.poll(now);
        if self.hooks.tracer.is_some() {
            let fd = self.output_fd(&out);
            if let Some(t) = &mut self.hooks.tracer {
                t(&crate::trace::Trace {
                    at: Duration::from_nanos(now.as_nanos()),
                    what: crate::trace::What::Output(&out),
                    fd,
                });
            }
        }
        out
    }

    /// The fd a traced step is about, if it is about one.
    fn fd_of(&self, child: ChildId, stream: Option<Stream>) -> Option<i32> {
        use std::os::fd::AsRawFd;
        let slot = self.slots.get(child.0)?;
        match stream {
            Some(s) => slot.fds[s].as_ref().map(AsRawFd::as_raw_fd),
            None => slot
                .process
                .as_ref()
                .and_then(|p| p.pidfd())
                .map(|fd| fd.as_raw_fd()),
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

    fn output_fd(&self, out: &CoreOutput) -> Option<i32> {
        match out {
            CoreOutput::Action(
                Action::Read { child, stream, .. }
                | Action::Close { child, stream, .. }
                | Action::Interest { child, stream, .. },
            ) => self.fd_of(*child, Some(*stream)),
            CoreOutput::Action(Action::Write { child, .. }) => {
                self.fd_of(*child, Some(Stream::Stdin))
            }
            _ => None,
        }
    }

    /// Starts slot `child` (launches its wiring, or registers what an
    /// adopted child holds) and tells the core.
    fn start(&mut self, child: usize) {
        let id = ChildId(child);
        let start = self.slots[child].start.take();
        if let Some(Start::Launch(wiring)) = start {
            let stage = self.slots[child].stage;
            let res =
                slot::launch_wiring(&wiring, stage, &mut self.plumbing, &self.pipeline_stdout);
            // The command (and any fd the caller handed in) is dropped here:
            // the parent keeps no copy it was not asked to keep.
            drop(wiring);
            let now = self.now();
            match res {
                Ok(s) => {
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
                }
                Err(e) => {
                    self.slots[child].error = Some(e);
                    self.feed(Event::SpawnFailed { child: id }, now);
                    return;
                }
            }
        }
        self.register(child);
        let now = self.now();
        self.feed(Event::Started { child: id }, now);
        self.watch_exit(child, now);
    }

    /// Watches the pipes of a started slot.
    fn register(&mut self, child: usize) {
        let slot = &mut self.slots[child];
        let input = slot.input.as_ref().map_or(0, |v| v.len());
        for stream in [Stream::Stdin, Stream::Stdout, Stream::Stderr] {
            let Some(fd) = slot.fds[stream].as_ref() else {
                continue;
            };
            pipe_io::size_pipe(fd, stream, input, slot.fixed_cap, &mut slot.caps[stream]);
            let _ = spawn_sys::pipe::set_nonblocking(fd, true);
            let interest = Interest {
                readable: stream != Stream::Stdin,
                writable: stream == Stream::Stdin,
                edge: true,
            };
            let _ = self.epoll.add(
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

    /// The output of a child so far (finished or not); the kept bytes are
    /// copied, so the child's sinks keep them.
    pub(crate) fn partial(&self, child: usize) -> Output {
        crate::finish::output(
            &self.slots[child],
            &self.sinks,
            self.sched.stats(ChildId(child)).copied(),
        )
    }

    /// The result of a finished child: its output, or the error that ended
    /// it. Takes the kept bytes out.
    pub(crate) fn result(&mut self, child: usize) -> Result<Output, Error> {
        let stats = self.sched.stats(ChildId(child)).copied();
        crate::finish::finish(&mut self.slots[child], &mut self.sinks, stats)
    }

    /// The slot's error and output, for folding pipeline stages.
    pub(crate) fn stage_result(&mut self, child: usize) -> crate::finish::StageResult {
        let stats = self.sched.stats(ChildId(child)).copied();
        crate::finish::stage(&mut self.slots[child], &mut self.sinks, stats)
    }
}

impl Drop for Engine<'_> {
    /// An engine dropped before its children finished (a panic in a sink
    /// callback, an early return) stops and reaps the children it started,
    /// their groups too: none is left running unobserved, none becomes a
    /// zombie.
    fn drop(&mut self) {
        for s in &mut self.slots {
            if s.owner != Owner::Engine || s.finished.is_some() {
                continue;
            }
            if let Some(p) = s.process.take() {
                p.kill_all();
                crate::reaper::reap_later(p);
            }
        }
    }
}

/// `Command::run` and `Command::run_traced`: one child through the engine.
pub(crate) fn run_one<'t>(
    cmd: &crate::Command,
    tracer: Option<Box<Tracer<'t>>>,
) -> Result<Output, Error> {
    let wiring = Wiring::command(cmd)?;
    let mut engine = Engine::new(0, &wiring.name)?;
    if let Some(f) = &cmd.forwarder {
        engine.set_forwarder(f);
    }
    if let Some(t) = tracer {
        engine.set_tracer(t);
    }
    let ix = engine.add(wiring)?;
    engine.run(None)?;
    engine.result(ix)
}
