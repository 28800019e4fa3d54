//! The blocking driver: one thread, one epoll set, any number of children.
//!
//! The driver owns the fds, the read buffer and the sinks; the
//! [`spawn_core::Scheduler`] decides what to do. The loop is the one the
//! core documents: hand it events, then poll until it says to wait, then
//! wait in `epoll_wait` until the core's next deadline. Every entry point
//! (`run`, `Group`, `Pipeline`, `Child`'s communicate and waits, tracing)
//! goes through this one loop; they differ only in what they add to it.
//!
//! This file is the loop, and the only `impl Engine`: each field of
//! [`Engine`] is a part with one job, and the other files are those parts
//! or the work one action does on the parts it names:
//!
//! - `pipe_io.rs`: reads into sinks (made by `read_into.rs`), writes of
//!   the input, closes, and the pipes' capacity (`pipe_cap.rs`);
//! - `exits.rs`: signals, group probes and the end of a child, through
//!   [`Process`](crate::process::Process);
//! - `starts.rs`: how a child starts (in place or on the spawner thread);
//! - `add.rs`: the slot a command or a running child becomes;
//! - `outbox.rs`: what they found out, told to the core by the loop;
//! - `abandon.rs`: an engine dropped before its children finished.
//!
//! The finish of a child is the caller's (`finish.rs` reads
//! [`Engine::finish_parts`]).

mod abandon;
mod add;
mod backpressure;
pub(crate) mod exit_watch;
mod exits;
mod hooks;
mod outbox;
mod pipe_cap;
mod pipe_io;
mod poller;
mod read_into;
mod sink_table;
pub(crate) mod slot;
mod slots;
mod spawner;
mod starts;
mod stop_conditions;
mod token;

use std::io;
use std::time::{Duration, Instant};

use spawn_core::{
    Action, ChildId, ChildStats, Event, Output as CoreOutput, PerStream, Scheduler,
    SchedulerConfig, Stream, Timestamp, WaitReason,
};
use spawn_sys::Errno;
use spawn_sys::poll::Interest;

use crate::Error;
use crate::launch::{PidfdPlan, StagePlumbing, StageRole};
use crate::sink::SinkState;
use crate::wiring::Wiring;

pub(crate) use crate::launch::Driving;
use abandon::Abandoned;
pub(crate) use add::Adopted;
use exit_watch::ExitWatch;
use hooks::Hooks;
pub use hooks::{Progress, Trace, What};
pub(crate) use hooks::{ProgressFn, Tracer};
use outbox::{Note, Outbox};
use poller::{Made, Poller};
use sink_table::SinkTable;
use slot::Phase;
pub(crate) use slot::Slot;
use slots::Slots;
use starts::Starts;
use starts::{Begun, StartPlan};
use stop_conditions::StopConditions;
pub(crate) use stop_conditions::{CancelScope, Feed, Ran, Until};
use token::Token;

use crate::CancelToken;

/// When the engine runs from, and when it next needs driving.
struct Clock {
    origin: Instant,
    /// When the engine next needs to be driven, as of its last turn
    /// (`None`: only when one of its fds is ready).
    next_wake: Option<Instant>,
}

/// The driver: see the module docs. Each field is a part with one job;
/// this file is the loop that ties them.
pub(crate) struct Engine<'t> {
    /// The core: what to do next.
    sched: Scheduler,
    /// The children.
    pub(crate) slots: Slots,
    /// Their sinks, what fills them and their backpressure.
    sinks: SinkTable,
    /// The readiness set, made when a second thing is to be watched (a
    /// lone child without pipes is waited for on its own).
    poller: Poller,
    /// How each child's exit is learnt.
    exits: ExitWatch,
    /// Cancel tokens, a group's feed, the `Until` flags.
    stops: StopConditions,
    /// What the entry point hands in: tracer, forwarder, progress.
    hooks: Hooks<'t>,
    /// What starts share: spawner, plumbing, who drives.
    starts: Starts,
    clock: Clock,
    /// The scans of `/proc` that answered this turn's group probes, until
    /// a start or a signal (or the next wait) makes them stale: a teardown
    /// of many children probes each of their groups, with one scan.
    scans: crate::process::TurnScans,
    /// Handed to the background reaper once already: a second drop kills.
    abandoned: Abandoned,
    /// What the parts found out for the core since it was last told.
    outbox: Outbox,
}

impl<'t> Engine<'t> {
    /// An engine running at most `max_running` children at once (0: no
    /// limit).
    pub(crate) fn new(max_running: usize) -> Self {
        Engine {
            sched: Scheduler::new(SchedulerConfig { max_running }),
            slots: Slots::default(),
            sinks: SinkTable::default(),
            poller: Poller::default(),
            exits: ExitWatch::default(),
            stops: StopConditions::default(),
            hooks: Hooks::default(),
            starts: Starts::default(),
            clock: Clock {
                origin: Instant::now(),
                next_wake: None,
            },
            scans: crate::process::TurnScans::default(),
            abandoned: Abandoned::No,
            outbox: Outbox::default(),
        }
    }

    /// Says who drives this engine to its end (before its first start).
    pub(crate) fn set_driving(&mut self, driving: Driving) {
        self.starts.driving = driving;
    }

    pub(crate) fn set_tracer(&mut self, f: Box<Tracer<'t>>) {
        self.hooks.set_tracer(f);
    }

    pub(crate) fn set_progress(&mut self, f: Box<ProgressFn<'t>>) {
        self.hooks.set_progress(f);
    }

    /// Commands known to come that are not added yet, counted as queued
    /// in the progress reports (a `Group` adds its commands as there is
    /// room).
    pub(crate) fn set_not_added(&mut self, n: usize) {
        self.hooks.set_not_added(n);
    }

    /// Passes the signals `f` receives on to the running children.
    pub(crate) fn set_forwarder(&mut self, f: &crate::Forwarder) {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        if self
            .ensure_epoll()
            .is_ok_and(|set| set.add(f.fd(), Token::Forwarder, interest))
        {
            self.hooks.forwarder = Some(f.clone());
        }
    }

    fn report_progress(&mut self) {
        if !self.hooks.wants_progress() {
            return;
        }
        // The counts are the core's once it heard what happened.
        self.tell_core(self.now());
        let done = self.sched.finished() + self.slots.removed_count();
        self.hooks
            .progress(done, self.sched.running(), self.sched.queued());
    }

    /// Hands what the parts found out to the core (and the tracer), in
    /// order: the outbox is empty after.
    fn tell_core(&mut self, now: Timestamp) {
        let n = self.outbox.len();
        if n == 0 {
            return;
        }
        for note in (0..n).filter_map(|i| self.outbox.get(i)) {
            match note {
                Note::Event(event) => {
                    tell(&mut self.sched, &mut self.hooks, &self.slots, event, now);
                }
                Note::Terminate(child) => self.sched.terminate(child, now),
            }
        }
        self.outbox.clear();
    }

    /// The core's next output (shown to the tracer).
    fn poll_core(&mut self, now: Timestamp) -> CoreOutput {
        let out = self.sched.poll(now);
        if self.hooks.tracing() {
            let fd = self.slots.output_fd(&out);
            self.hooks.output(now, &out, fd);
        }
        out
    }

    /// Hands the writers and callbacks of sink `ix` to the workers (made
    /// now, their doorbell in the set); without them, they run here.
    fn offload_sink(&mut self, ix: usize) {
        if self.sinks.needs_workers(ix) && self.ensure_epoll().is_ok() {
            self.sinks.make_workers(&self.poller);
        }
        self.sinks.offload(ix);
    }

    /// The sink workers rang, or sink `writable`'s file became writable:
    /// the streams whose sinks are ready go on.
    fn sinks_ready(&mut self, writable: Option<usize>) {
        let out = &mut self.outbox;
        let mut resumed = |child: usize, stream: Stream| {
            let child = ChildId(child);
            out.event(Event::SinkReady { child, stream });
        };
        match writable {
            Some(ix) => self.sinks.writable(ix, &self.poller, &mut resumed),
            None => self.sinks.rung(&self.poller, &mut resumed),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_nanos(
            u64::try_from(self.clock.origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
        )
    }

    /// Drives every child until all are finished (`Ok(true)`) or `stop_at`
    /// passes (`Ok(false)`, state intact, to be resumed). Even with
    /// `stop_at` already past, what is ready now is read and written once.
    pub(crate) fn run(&mut self, stop_at: Option<Instant>) -> Result<bool, Error> {
        Ok(matches!(
            self.run_until(stop_at, Until::AllDone)?,
            Ran::Done
        ))
    }

    /// Drives the children until every one is finished ([`Ran::Done`]),
    /// `until` is reached ([`Ran::Reached`]) or `stop_at` passes
    /// ([`Ran::Stopped`]); the state is kept for the next call either way.
    /// It stops only where the core says to wait, so that every action due
    /// now was taken.
    pub(crate) fn run_until(
        &mut self,
        stop_at: Option<Instant>,
        until: Until,
    ) -> Result<Ran, Error> {
        let mut looked = false;
        // Signals due together (a teardown of many children) go out
        // together: one walk of `/proc` for all the trees they stop.
        let mut signals = Vec::new();
        loop {
            let now = self.now();
            self.tell_core(now);
            self.check_cancels(now);
            let out = self.poll_core(now);
            if let CoreOutput::Action(Action::Signal {
                child,
                signal,
                target,
            }) = out
            {
                signals.push((child.0, signal, target));
                continue;
            }
            if !signals.is_empty() {
                self.scans = crate::process::TurnScans::default();
                exits::signals(&self.slots, &signals);
                signals.clear();
            }
            match out {
                CoreOutput::Action(a) => self.act(a),
                CoreOutput::Finished { child, outcome } => {
                    exits::finished(
                        &mut self.slots,
                        &mut self.sinks,
                        &self.poller,
                        &mut self.exits,
                        child.0,
                        outcome,
                    );
                    self.report_progress();
                }
                CoreOutput::Wait { deadline, reason } => {
                    if (matches!(reason, WaitReason::Done) || self.sched.is_done())
                        && !self.stops.awaits_feed()
                    {
                        self.clock.next_wake = None;
                        return Ok(Ran::Done);
                    }
                    let mut timeout: Option<Duration> = deadline
                        .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos())));
                    if self.stops.ticked() {
                        timeout = Some(timeout.map_or(stop_conditions::CANCEL_TICK, |t| {
                            t.min(stop_conditions::CANCEL_TICK)
                        }));
                    }
                    // Children without a pidfd are polled on a tick (`wait`
                    // applies it, but to a lone child's blocking wait).
                    self.clock.next_wake = self
                        .exits
                        .tick(timeout)
                        .and_then(|t| Instant::now().checked_add(t));
                    if self.stops.reached(until, &self.slots) {
                        return Ok(Ran::Reached);
                    }
                    if let Some(stop) = stop_at {
                        let left = stop.saturating_duration_since(Instant::now());
                        if left.is_zero() && looked {
                            return Ok(Ran::Stopped);
                        }
                        timeout = Some(timeout.map_or(left, |t| t.min(left)));
                    }
                    self.wait(timeout)?;
                    looked = true;
                    // No doorbell for the feed: look at it after each
                    // wait (on the cancel tick at the latest).
                    self.stops.feed_looked_at();
                }
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.scans = crate::process::TurnScans::default();
        if !self.set_for_wait()? {
            self.poller.count_wait();
            self.exits
                .wait_alone(&mut self.slots, &self.poller, timeout);
            self.tell_exits();
            return Ok(());
        }
        let timeout = self.exits.tick(timeout);
        let ready = match self.poller.wait(timeout) {
            Ok(ready) => ready,
            Err(e) => {
                let name = self
                    .slots
                    .first()
                    .map_or("", |s| s.name.as_str())
                    .to_owned();
                return Err(Error::io(
                    &name,
                    "waiting for the children (epoll_wait)",
                    io::Error::from(e),
                ));
            }
        };
        for r in &ready {
            match Token::decode(r.token) {
                Token::Forwarder => self
                    .hooks
                    .forward_signals(&mut self.slots, &mut self.outbox),
                Token::Pipe {
                    slot,
                    stream: Stream::Stdin,
                } => self.outbox.event(Event::Writable {
                    child: ChildId(slot),
                }),
                Token::Pipe { slot, stream } => pipe_io::readable(
                    self.slots.get_mut(slot),
                    &mut self.outbox,
                    slot,
                    stream,
                    r.hangup,
                ),
                Token::Exit { slot } => self.check_exit(slot),
                Token::Cancel(_) => {
                    // Told first: the core hears of what came before.
                    let now = self.now();
                    self.tell_core(now);
                    self.check_cancels(now);
                }
                Token::Feed => self.stops.feed_rang(),
                Token::Spawned => self.spawned_ready(),
                Token::SinkRing => self.sinks_ready(None),
                Token::SinkWritable { sink } => self.sinks_ready(Some(sink)),
            }
        }
        self.poller.recycle(ready);
        self.exits.poll(&mut self.slots, &self.poller);
        self.tell_exits();
        Ok(())
    }

    /// The readiness set, made now (with every child kept aside moved into
    /// it) if there is none.
    ///
    /// # Errors
    /// The set cannot be made (out of fds).
    fn ensure_epoll(&mut self) -> Result<&Poller, Errno> {
        if self.poller.make()? == Made::Now {
            self.exits.set_made(&mut self.slots, &self.poller);
        }
        Ok(&self.poller)
    }

    /// Whether the wait needs the set (made now if so): not while at most
    /// one child is kept aside and nothing else is watched.
    fn set_for_wait(&mut self) -> Result<bool, Error> {
        if self.poller.is_made() {
            return Ok(true);
        }
        if !self.exits.wants_set(&self.slots) {
            return Ok(false);
        }
        match self.ensure_epoll() {
            Ok(_) => Ok(true),
            Err(e) => {
                let name = self.slots.first().map_or("", |s| s.name.as_str());
                Err(Error::io(
                    name,
                    "cannot create an epoll set",
                    io::Error::from(e),
                ))
            }
        }
    }

    /// Tells the core the exits the watch saw.
    fn tell_exits(&mut self) {
        let seen = self.exits.take_seen();
        for &(child, status) in &seen {
            self.outbox.event(Event::Exited {
                child: ChildId(child),
                status,
            });
        }
        self.exits.recycle(seen);
    }

    /// Sees slot `child`'s exit if it has exited (its pidfd was readable).
    fn check_exit(&mut self, child: usize) {
        self.exits
            .check(child, &mut self.slots[child], &self.poller);
        self.tell_exits();
    }

    fn act(&mut self, action: Action) {
        if matches!(action, Action::Start { .. } | Action::Signal { .. }) {
            self.scans = crate::process::TurnScans::default();
        }
        match action {
            Action::Start { child } => {
                self.start(child.0);
                self.report_progress();
            }
            Action::Read { child, stream, max } => {
                let read = pipe_io::read(
                    &mut self.slots[child.0],
                    &mut self.sinks,
                    &self.poller,
                    &mut self.outbox,
                    child.0,
                    stream,
                    max,
                );
                if let Some(n) = read {
                    self.starts.read(n);
                    self.stops.note_read();
                }
            }
            Action::Write { child, offset, len } => {
                pipe_io::write(&self.slots[child.0], &mut self.outbox, child.0, offset, len);
            }
            Action::Close {
                child,
                stream,
                reason,
            } => {
                let slot = &mut self.slots[child.0];
                pipe_io::close(slot, &mut self.sinks, &self.poller, child.0, stream, reason);
                // Without a pidfd, EOF on the output is the best hint of an
                // exit.
                self.exits.output_ended(child.0, slot, &self.poller);
                self.tell_exits();
            }
            // Signals never come here: `run_until` sends a turn's signals
            // together (`exits::signals`).
            Action::ProbeGroup { child } => {
                if let Some(event) =
                    exits::probe_group(&self.slots[child.0], &mut self.scans, child.0)
                {
                    self.outbox.event(event);
                }
            }
            Action::Interest { .. } => {} // edge-triggered: every pipe stays watched
            _ => {}
        }
    }

    /// Starts slot `child` (launches its wiring, or registers what an
    /// adopted child holds); the core hears of it.
    fn start(&mut self, child: usize) {
        let id = ChildId(child);
        // Pipes are watched in the set, and so are the exits of more than
        // one child: made now if this child is the first to need it
        // (before it starts, so that it waits for the fd if there is none).
        let holds_pipes = self
            .sched
            .spec(id)
            .is_some_and(|s| s.stdin || s.stdout || s.stderr);
        let second = !self.poller.is_made() && self.exits.has_aside(&self.slots);
        if (holds_pipes || second)
            && let Err(e) = self.ensure_epoll()
        {
            let slot = &mut self.slots[child];
            let e = Error::io(&slot.name, "cannot create an epoll set", io::Error::from(e));
            let start = match std::mem::replace(&mut slot.phase, Phase::Started) {
                Phase::Queued(start) => Some(start),
                _ => None,
            };
            starts::failed(slot, child, start, e, &mut self.outbox);
            return;
        }
        // The engine's only child, with nothing to wait for but its exit
        // (no pipe, no deadline, no set: no cancel token, forwarder or
        // outside driver) and nobody to signal it, is waited for in one
        // blocking `wait4`: its pidfd is opened only if that changes.
        let lone = !self.poller.is_made()
            && self.slots.len() == 1
            && !self.stops.watches_cancels()
            && !self.slots[child].keep_unreaped
            && self
                .sched
                .spec(id)
                .is_some_and(|s| s.timeout.is_none() && !s.signal_group);
        let plan = StartPlan {
            holds_pipes,
            others_run: self.sched.running() > 1,
            pidfd: ExitWatch::pidfd_plan(lone),
        };
        match self
            .starts
            .begin(&mut self.slots[child], child, &plan, &self.poller)
        {
            Begun::OnSpawner => {}
            Begun::Launched(wiring, res) => self.launched(child, wiring, plan.pidfd, res),
            Begun::Adopted => self.now_started(child, PidfdPlan::Now),
        }
    }

    /// The second half of a start, in place or on the spawner thread.
    fn launched(
        &mut self,
        child: usize,
        wiring: Box<Wiring>,
        pidfd: PidfdPlan,
        res: Result<crate::launch::Started, Error>,
    ) {
        let slot = &mut self.slots[child];
        let Some(held) = starts::take_launch(slot, child, wiring, res, &mut self.outbox) else {
            return;
        };
        self.now_started(child, pidfd);
        if let Some(p) = &self.slots[child].process {
            for (sig, from_terminal) in held {
                hooks::forward_to(p, sig, from_terminal);
            }
        }
    }

    /// A slot holds its running child: its pipes and exit are watched and
    /// the core hears of it.
    fn now_started(&mut self, child: usize, pidfd: PidfdPlan) {
        let slot = &mut self.slots[child];
        pipe_io::register(slot, &self.poller, child);
        self.outbox.event(Event::Started {
            child: ChildId(child),
        });
        self.exits.watch(child, slot, &self.poller, pidfd);
        self.tell_exits();
    }

    /// The spawner's doorbell was readable: the starts it made are finished
    /// here, in the order made.
    fn spawned_ready(&mut self) {
        let mut made = self.starts.take_done();
        for done in made.drain(..) {
            self.launched(done.slot, done.wiring, done.pidfd, done.result);
        }
        self.starts.give_back(made);
    }

    /// Opens the sinks of one run's stdout and stderr together (one file
    /// shared by both when both name it, like `>p 2>&1`); returns their
    /// indexes.
    pub(crate) fn open_sinks(
        &mut self,
        name: &str,
        sinks: &PerStream<Option<crate::Sink>>,
    ) -> Result<PerStream<Option<usize>>, Error> {
        let opened = self.sinks.open(name, sinks)?;
        for ix in [opened.stdout, opened.stderr].into_iter().flatten() {
            self.offload_sink(ix);
        }
        Ok(opened)
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
        let mut sinks = self.open_sinks(&wiring.name, &add::own_sinks(&wiring, &shared))?;
        sinks.stdout = sinks.stdout.or(shared.stdout);
        sinks.stderr = sinks.stderr.or(shared.stderr);
        let (slot, spec, cancel) = add::queued(wiring, stage, sinks, member_of);
        let ix = self.push(slot, spec);
        if let Some(token) = cancel {
            self.cancel_on(&token, CancelScope::Slot(ix));
        }
        Ok(ix)
    }

    /// Sets what a pipeline's stages share while they start (where its
    /// final stdout goes, the pipe its merged stderr shares with it).
    pub(crate) fn set_stage_plumbing(&mut self, plumbing: StagePlumbing) {
        self.starts.plumbing = plumbing;
    }

    /// Adds an already running child (a `Child`'s communicate or wait).
    pub(crate) fn adopt(&mut self, child: Adopted<'_>) -> Result<usize, Error> {
        let sinks = self.open_sinks(child.name, child.sinks)?;
        let (slot, spec) = add::adopted(child, sinks);
        Ok(self.push(slot, spec))
    }

    /// Gives adopted slot `child`, which was adopted without its stdin,
    /// the stdin pipe `fd` with `input` to write (input given after the
    /// driving started: a `communicate` after `Child::lines`). The core
    /// decides (`Scheduler::add_stdin`): a child that has exited gets
    /// nothing, and `fd` is closed here.
    ///
    /// # Errors
    /// No epoll set could be made to watch the pipe in.
    pub(crate) fn give_stdin(
        &mut self,
        child: usize,
        fd: std::os::fd::OwnedFd,
        input: std::sync::Arc<Vec<u8>>,
    ) -> Result<(), Error> {
        if let Err(e) = self.ensure_epoll() {
            let name = &self.slots[child].name;
            return Err(Error::io(
                name,
                "cannot create an epoll set",
                io::Error::from(e),
            ));
        }
        if !self.sched.add_stdin(ChildId(child), input.len() as u64) {
            return Ok(());
        }
        let slot = &mut self.slots[child];
        slot.fds.stdin = Some(fd);
        slot.input = Some(input);
        // A slot not started yet registers its pipes when it starts.
        if !matches!(slot.phase, Phase::Queued(_)) {
            pipe_io::register_pipe(slot, &self.poller, child, Stream::Stdin);
        }
        Ok(())
    }

    fn push(&mut self, slot: Slot, spec: spawn_core::ChildSpec) -> usize {
        let id = self.sched.add(spec);
        self.slots.put(id.0, slot);
        id.0
    }

    /// Takes a finished child whose result was taken out of the engine
    /// (a `Group` hands each result out as it finishes): the core forgets
    /// it (`Scheduler::remove`) and a later `add` reuses its slot, so the
    /// engine holds only the children it runs and queues, whatever the
    /// number that went through it.
    pub(crate) fn remove(&mut self, child: usize) {
        if self.sched.remove(ChildId(child)).is_none() {
            return;
        }
        self.stops.forget_slot(child, &self.poller);
        self.exits.forget_slot(child);
        let slot = &self.slots[child];
        for i in [slot.sinks.stdout, slot.sinks.stderr].into_iter().flatten() {
            // Its bytes were taken: what the sink held goes.
            self.sinks.release(i);
        }
        self.slots.removed(child);
    }

    /// Stops the children of `scope` when `token` is cancelled (at once if
    /// it is already).
    pub(crate) fn cancel_on(&mut self, token: &CancelToken, scope: CancelScope) {
        if token.fd().is_some() {
            // Its doorbell is watched in the set (without one, a tick).
            let _ = self.ensure_epoll();
        }
        self.stops.watch_cancel(token, scope, &self.poller);
    }

    /// Applies the cancel tokens cancelled since the last look.
    fn check_cancels(&mut self, now: Timestamp) {
        self.stops
            .apply(&self.poller, &mut self.slots, &mut self.sched, now);
    }

    /// Whether a token of the whole engine was cancelled: nothing more is
    /// to be started (a group stops taking commands).
    pub(crate) fn stops_starting(&self) -> bool {
        self.stops.stops_starting()
    }

    /// Takes commands from `feed` (a group's `add_feed`): its doorbell wakes
    /// [`Until::AnyFinished`] when commands come (without one, a tick
    /// does), and until it is closed the engine is not done when its
    /// children are: it waits for more.
    pub(crate) fn watch_feed(&mut self, feed: Box<dyn Feed>) {
        // The set is made even when the feed has no doorbell: waits with
        // nothing else to watch then sleep on its tick there.
        let _ = self.ensure_epoll();
        self.stops.watch_feed(feed, &self.poller);
    }

    /// Drives what is ready now, without blocking: `None` once every child
    /// is finished, else when the engine next needs driving (`Some(None)`:
    /// only when its epoll set is readable). For drivers that wait
    /// elsewhere (the background reaper, an async runtime) on
    /// [`Engine::epoll_fd`].
    pub(crate) fn drive_now(&mut self) -> Result<Option<Option<Instant>>, Error> {
        self.drive_now_until(Until::AllDone)
    }

    /// As [`drive_now`](Self::drive_now), stopping also when `until` is
    /// reached (then `None` too): for an async stream of results as they
    /// finish.
    pub(crate) fn drive_now_until(
        &mut self,
        until: Until,
    ) -> Result<Option<Option<Instant>>, Error> {
        match self.run_until(Some(Instant::now()), until)? {
            Ran::Done | Ran::Reached => Ok(None),
            Ran::Stopped => Ok(Some(self.clock.next_wake)),
        }
    }

    /// The buffer of `slot`'s `stream` when a plain collecting sink reads
    /// it, for `Child::lines` to cut lines out of (what it leaves is the
    /// output a later `communicate` returns).
    pub(crate) fn collected(&mut self, slot: usize, stream: Stream) -> Option<&mut Vec<u8>> {
        let i = self.slots.get(slot)?.sink_of(stream)?;
        self.sinks[i].collected_mut()
    }

    /// Whether `slot`'s `stream` is still read into its sink (not at EOF,
    /// not abandoned, the slot not finished).
    pub(crate) fn reading(&self, slot: usize, stream: Stream) -> bool {
        self.slots.get(slot).is_some_and(|s| {
            !s.is_finished() && s.sink_of(stream).is_some() && s.fds[stream].is_some()
        })
    }

    /// The engine's epoll set: readable while one of its fds is ready.
    /// Made now if there is none yet (an engine waited for elsewhere
    /// watches everything in it, the exit of a lone child too).
    ///
    /// # Errors
    /// The set cannot be made (out of fds).
    pub(crate) fn epoll_fd(&mut self) -> io::Result<std::os::fd::BorrowedFd<'_>> {
        self.ensure_epoll()
            .map_err(io::Error::from)?
            .fd()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Asks the core to stop every unfinished child and moves the engine's
    /// state into an engine of its own (without the hooks that borrow from
    /// the caller), for the background reaper to drive. `None` when no new
    /// epoll set could be made for the empty shell left behind.
    pub(super) fn abandon(&mut self) -> Option<Engine<'static>> {
        // The background reaper waits on the set: everything must be in it.
        self.ensure_epoll().ok()?;
        let now = self.now();
        for (i, _) in self.slots.unfinished() {
            self.sched.terminate(ChildId(i), now);
        }
        self.stops.forget_all(&self.poller);
        let mut owned = Engine::new(0);
        std::mem::swap(&mut owned.sched, &mut self.sched);
        owned.slots = self.slots.take();
        owned.sinks = self.sinks.take();
        owned.poller = std::mem::take(&mut self.poller);
        owned.exits = std::mem::take(&mut self.exits);
        owned.hooks = self.hooks.take_owned();
        owned.starts = self.starts.take();
        owned.clock.origin = self.clock.origin;
        owned.clock.next_wake = Some(Instant::now());
        owned.abandoned = Abandoned::Once;
        Some(owned)
    }

    /// Whether the last look at the epoll set (a turn's, see
    /// [`drive_now_until`](Self::drive_now_until)) found nothing ready: a
    /// driver that waits elsewhere turns again while its looks find
    /// something (events come while it works) and goes back to waiting once
    /// one finds nothing, with no readiness check besides.
    #[cfg(feature = "tokio")]
    pub(crate) fn looked_idle(&self) -> bool {
        self.poller.looked_idle()
    }

    /// For a driver that waits elsewhere (tokio): the pidfd of the one
    /// child whose exit is all there is to wait for while there is no set,
    /// opened now if it was started without one (see
    /// `ExitWatch::lone_exit_fd`); `None`: the set is to be watched
    /// ([`Engine::epoll_fd`]).
    #[cfg(feature = "tokio")]
    pub(crate) fn lone_exit_fd(&mut self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.exits.lone_exit_fd(&mut self.slots, &self.poller)
    }

    /// A child's slot, the engine's sinks and the core's counts for it:
    /// what `finish` makes its output or error of.
    pub(crate) fn finish_parts(&self, child: usize) -> (&Slot, &[SinkState], Option<ChildStats>) {
        let stats = self.sched.stats(ChildId(child)).copied();
        (&self.slots[child], &self.sinks, stats)
    }

    /// As [`finish_parts`](Self::finish_parts), to take the kept bytes out.
    pub(crate) fn finish_parts_mut(
        &mut self,
        child: usize,
    ) -> (&mut Slot, &mut [SinkState], Option<ChildStats>) {
        let stats = self.sched.stats(ChildId(child)).copied();
        (&mut self.slots[child], &mut self.sinks, stats)
    }
}

/// Hands `event` to the core, and shows it to the tracer.
fn tell(sched: &mut Scheduler, hooks: &mut Hooks<'_>, slots: &Slots, event: Event, now: Timestamp) {
    if hooks.tracing() {
        let fd = slots.event_fd(&event);
        hooks.event(now, &event, fd);
    }
    sched.handle(event, now);
}

#[cfg(test)]
mod tests;
