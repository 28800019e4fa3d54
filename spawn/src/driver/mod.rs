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

mod add;
mod backpressure;
mod control;
mod exits;
mod hooks;
mod pipe_io;
pub(crate) mod slot;
mod spawner;
mod token;

use std::io;
use std::time::{Duration, Instant};

use spawn_core::{
    Action, ChildId, Event, Output as CoreOutput, Scheduler, SchedulerConfig, Stream, Timestamp,
    WaitReason,
};
use spawn_sys::poll::{Epoll, Ready};

use crate::sink::SinkState;
use crate::wiring::Wiring;
use crate::{Error, Output};

pub(crate) use crate::launch::Driving;
use crate::launch::StagePlumbing;
pub(crate) use add::Adopted;
pub(crate) use control::{CancelScope, Ran, Until};
pub(crate) use slot::{Owner, Slot};
use token::Token;

type Tracer<'t> = dyn FnMut(&crate::trace::Trace<'_>) + Send + 't;
type ProgressFn<'t> = dyn FnMut(crate::group::Progress) + Send + 't;

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
    /// Indexes in `sinks` of removed children, for the next ones to open
    /// theirs in (see `Engine::remove`).
    free_sinks: Vec<usize>,
    /// Made when a second thing is to be watched (see `exits.rs`): a lone
    /// child without pipes is waited for on its own.
    epoll: Option<Epoll>,
    /// Slots whose pidfd is to be watched and is not in the epoll set
    /// (there is none yet).
    unwatched: Vec<usize>,
    /// Finished children removed (see `Engine::remove`).
    removed: usize,
    /// Waits so far (a turn is the time between two).
    waits: u64,
    ready: Vec<Ready>,
    origin: Instant,
    /// The one warm read buffer.
    buf: Vec<u8>,
    /// `/dev/null`, which discarding sinks splice into.
    null: pipe_io::NullTarget,
    /// Children without a pidfd whose exit is still to be seen.
    polled: Vec<usize>,
    tick: Duration,
    plumbing: StagePlumbing,
    hooks: Hooks<'t>,
    /// The cancel tokens the engine watches.
    cancels: Vec<control::Watched>,
    /// A `CancelScope::Queued` token was cancelled: nothing more starts.
    stop_starting: bool,
    /// The command feed a group takes commands from, when its doorbell is
    /// in the set.
    feed: Option<crate::group::FeedSource>,
    /// The feed said commands came since the last `AnyFinished` stop.
    fed: bool,
    /// The feed's doorbell is in the set (else it is looked at on a tick).
    feed_in_epoll: bool,
    /// Finished slots are queued for [`Engine::next_finished`] (a group's
    /// results); other runs keep no queue (no allocation per run).
    track_finished: bool,
    /// Slots finished and not yet handed out by [`Engine::next_finished`].
    done: std::collections::VecDeque<usize>,
    /// A read happened since the last [`Until::AnyRead`] stop.
    read_seen: bool,
    /// When the engine next needs to be driven, as of its last turn
    /// (`None`: only when one of its fds is ready).
    next_wake: Option<Instant>,
    /// Commands to come, not added yet (for progress reports).
    not_added: usize,
    /// Handed to the background reaper once already: a second drop kills.
    abandoned: bool,
    /// Makes the starts while children run (see `spawner.rs`), once needed.
    spawner: Option<spawner::Spawner>,
    /// Bytes read from children's pipes since the last start: whether
    /// output is streaming in (see [`spawner::BULK_READ`]).
    read_since_start: usize,
    /// Who drives this engine to its end.
    driving: Driving,
    /// The scans of `/proc` that answered this turn's group probes, until
    /// a start or a signal (or the next wait) makes them stale: a teardown
    /// of many children probes each of their groups, with one scan.
    scans: crate::process::TurnScans,
    /// Streams paused by their sinks, and what will resume them.
    sink_waits: backpressure::SinkWaits,
}

impl<'t> Engine<'t> {
    /// An engine running at most `max_running` children at once (0: no
    /// limit). `name` is what an error of the engine itself names.
    pub(crate) fn new(max_running: usize, name: &str) -> Result<Self, Error> {
        let _ = name;
        Ok(Engine {
            sched: Scheduler::new(SchedulerConfig { max_running }),
            slots: Vec::new(),
            sinks: Vec::new(),
            free_sinks: Vec::new(),
            epoll: None,
            unwatched: Vec::new(),
            removed: 0,
            waits: 0,
            // Grown by the first `epoll_wait` (a lone child has none).
            ready: Vec::new(),
            origin: Instant::now(),
            buf: Vec::new(),
            null: pipe_io::NullTarget::NotOpened,
            polled: Vec::new(),
            tick: exits::MIN_TICK,
            plumbing: StagePlumbing::default(),
            hooks: Hooks::default(),
            cancels: Vec::new(),
            stop_starting: false,
            feed: None,
            fed: false,
            feed_in_epoll: false,
            track_finished: false,
            done: std::collections::VecDeque::new(),
            read_seen: false,
            read_since_start: 0,
            next_wake: None,
            not_added: 0,
            abandoned: false,
            spawner: None,
            driving: Driving::Held,
            scans: crate::process::TurnScans::default(),
            sink_waits: backpressure::SinkWaits::default(),
        })
    }

    /// Says who drives this engine to its end (before its first start).
    pub(crate) fn set_driving(&mut self, driving: Driving) {
        self.driving = driving;
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
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
                self.signals(&signals);
                signals.clear();
            }
            match out {
                CoreOutput::Action(a) => self.act(a),
                CoreOutput::Finished { child, outcome } => self.finished(child.0, outcome),
                CoreOutput::Wait { deadline, reason } => {
                    if (matches!(reason, WaitReason::Done) || self.sched.is_done())
                        && !self.awaits_feed()
                    {
                        self.next_wake = None;
                        return Ok(Ran::Done);
                    }
                    let mut timeout: Option<Duration> = deadline
                        .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(now.as_nanos())));
                    if self.cancels_polled() || self.feed_polled() {
                        timeout = Some(
                            timeout.map_or(control::CANCEL_TICK, |t| t.min(control::CANCEL_TICK)),
                        );
                    }
                    // Children without a pidfd are polled on a tick (`wait`
                    // applies it, but to a lone child's blocking wait).
                    self.next_wake = self
                        .polled_tick(timeout)
                        .and_then(|t| Instant::now().checked_add(t));
                    if self.reached(until) {
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
                    if self.feed_polled() {
                        // No doorbell for the feed: look at it after each
                        // wait (on the cancel tick at the latest).
                        self.fed = true;
                    }
                }
            }
        }
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.waits += 1;
        self.scans = crate::process::TurnScans::default();
        if !self.epoll_for_wait()? {
            self.wait_alone(timeout);
            return Ok(());
        }
        let timeout = self.polled_tick(timeout);
        let mut ready = std::mem::take(&mut self.ready);
        let res = self
            .epoll
            .as_ref()
            .map_or(Ok(()), |ep| ep.wait(&mut ready, 256, timeout));
        if let Err(e) = res {
            self.ready = ready;
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
                Token::Pipe { slot, stream } => self.readable(slot, stream, r.hangup, now),
                Token::Exit { slot } => self.check_exit(slot, now),
                Token::Cancel(_) => self.check_cancels(now),
                Token::Feed => self.feed_ready(),
                Token::Spawned => self.spawned_ready(),
                Token::SinkRing => self.sinks_rung(),
                Token::SinkWritable { sink } => self.sink_writable(sink),
            }
        }
        self.ready = ready;
        self.poll_exits(now);
        Ok(())
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
            Action::Read { child, stream, max } => self.read(child.0, stream, max),
            Action::Write { child, offset, len } => self.write(child.0, offset, len),
            Action::Close {
                child,
                stream,
                reason,
            } => {
                if stream == Stream::Stdin {
                    self.slots[child.0].note_unread_input(reason);
                }
                self.close(child.0, stream, reason);
            }
            // Signals never come here: `run_until` sends a turn's signals
            // together (`Engine::signals`).
            Action::ProbeGroup { child } => self.probe_group(child.0),
            Action::Interest { .. } => {} // edge-triggered: every pipe stays watched
            _ => {}
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
    /// An engine dropped before its children finished (a future or an
    /// iterator dropped, an early return) stops them with the normal
    /// teardown (the stop signal to each child and its group, the grace,
    /// KILL) and hands itself to the background reaper, which drives that
    /// teardown to its end and reaps them: none is left running unobserved,
    /// none becomes a zombie, and the dropping thread does not block. In a
    /// panic (a sink callback's) it cannot be trusted to run on: KILL to
    /// every child and its group, reaped in the background.
    fn drop(&mut self) {
        if !self.has_unfinished() {
            return;
        }
        if !self.abandoned && !std::thread::panicking() {
            if let Some(engine) = self.abandon() {
                crate::reaper::drive_later(engine);
                return;
            }
        }
        self.kill_unfinished();
    }
}

/// `Command::run` and `Command::run_traced`: one child through the engine.
pub(crate) fn run_one<'t>(
    cmd: &crate::Command,
    tracer: Option<Box<Tracer<'t>>>,
) -> Result<Output, Error> {
    let (mut engine, ix) = one(cmd, tracer, crate::wiring::Stops::ByCommand)?;
    engine.set_driving(Driving::InCall);
    engine.run(None)?;
    engine.result(ix)
}

/// The engine of one command's run, the command added to it; returns its
/// slot (`run`, `run_traced`, `run_async`).
pub(crate) fn one<'t>(
    cmd: &crate::Command,
    tracer: Option<Box<Tracer<'t>>>,
    stops: crate::wiring::Stops,
) -> Result<(Engine<'t>, usize), Error> {
    let wiring = Wiring::command(cmd, stops)?;
    let mut engine = Engine::new(0, &wiring.name)?;
    if let Some(f) = &cmd.forwarder {
        engine.set_forwarder(f);
    }
    if let Some(t) = tracer {
        engine.set_tracer(t);
    }
    let ix = engine.add(wiring)?;
    Ok((engine, ix))
}

#[cfg(test)]
mod tests {
    use super::{Engine, Ran, Until};
    use crate::wiring::Wiring;
    use crate::{Command, Stdio};

    /// Runs `n` commands `cmd(i)`, at most `width` at once, through one
    /// engine; returns whether it made its spawner thread.
    fn made_a_spawner(n: usize, width: usize, cmd: impl Fn(usize) -> Command) -> bool {
        let mut engine = Engine::new(width, "sh").expect("engine");
        for i in 0..n {
            engine
                .add(Wiring::command(&cmd(i), crate::wiring::Stops::ByCommand).expect("wiring"))
                .expect("added");
        }
        match engine.run_until(None, Until::AllDone).expect("runs") {
            Ran::Done | Ran::Reached => {}
            Ran::Stopped => panic!("no deadline was set"),
        }
        for i in 0..n {
            assert!(engine.result(i).expect("result").status.success());
        }
        engine.spawner.is_some()
    }

    /// Starts go to the spawner thread only while output streams in: with
    /// children that print a line, every start is made in place; once a
    /// child's 1 MiB has been read since the last start, the next start
    /// (with children still running) is made on the thread.
    #[test]
    fn starts_move_to_the_spawner_only_while_output_streams_in() {
        let quiet = made_a_spawner(40, 4, |i| {
            Command::new("echo")
                .arg(i.to_string())
                .stdout(Stdio::piped())
        });
        assert!(!quiet, "quiet pipes: every start is made in place");
        let streaming = made_a_spawner(12, 4, |_| {
            Command::new("head")
                .args(["-c", "1048576", "/dev/zero"])
                .stdout(Stdio::piped())
        });
        assert!(streaming, "1 MiB per child: the starts go to the spawner");
    }

    /// A group takes results out and removes their children: what the
    /// engine holds follows the children it runs, not the count that went
    /// through it (its slots and its sink table alike).
    #[test]
    fn removed_children_leave_their_slots_and_sinks_for_the_next() {
        let mut engine = Engine::new(2, "sh").expect("engine");
        engine.track_finished();
        let cmd = |i: usize| {
            Command::new("sh")
                .args(["-c", "echo $1; echo e$1 >&2", "sh", &i.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
        };
        let (mut added, mut done) = (0, 0);
        while done < 40 {
            while added < 40 && added - done < 2 {
                engine
                    .add(
                        Wiring::command(&cmd(added), crate::wiring::Stops::ByOwner)
                            .expect("wiring"),
                    )
                    .expect("added");
                added += 1;
            }
            match engine.run_until(None, Until::AnyFinished).expect("runs") {
                Ran::Done | Ran::Reached => {}
                Ran::Stopped => panic!("no deadline was set"),
            }
            while let Some(slot) = engine.next_finished() {
                let out = engine.result(slot).expect("result");
                assert!(out.status.success());
                engine.remove(slot);
                done += 1;
            }
        }
        assert!(engine.slots.len() <= 3, "slots: {}", engine.slots.len());
        assert!(engine.sinks.len() <= 6, "sinks: {}", engine.sinks.len());
    }

    fn has_pidfd(engine: &Engine<'_>, ix: usize) -> bool {
        engine.slots[ix]
            .process
            .as_ref()
            .is_some_and(|p| p.pidfd().is_some())
    }

    /// A `run()` of a command without pipes or deadline waits in one
    /// blocking `wait4`: no pidfd is opened for it (the child looks at
    /// its parent's fds, from the moment it runs until it exits).
    #[test]
    fn a_lone_child_with_nothing_but_its_exit_to_wait_for_gets_no_pidfd() {
        let script = r#"for f in /proc/$PPID/fd/*; do
                [ "$(readlink "$f")" = "anon_inode:[pidfd]" ] && exit 1
            done; exit 0"#;
        let out = Command::new("sh").args(["-c", script]).run().expect("runs");
        assert_eq!(out.status.code(), Some(0), "the parent held a pidfd");
    }

    /// A driver that waits on the engine's epoll set from outside (the
    /// reaper, tokio) makes the set after the start: the child kept aside
    /// without its pidfd gets it then, and its exit wakes the set.
    #[test]
    fn a_child_started_without_its_pidfd_gets_it_when_the_epoll_set_is_made() {
        let (held, release) = spawn_sys::pipe::pipe().expect("pipe");
        let cmd = Command::new("sh")
            .args(["-c", "read x; exit 3"])
            .stdin(Stdio::fd(held));
        let mut engine = Engine::new(0, "sh").expect("engine");
        let ix = engine
            .add(Wiring::command(&cmd, crate::wiring::Stops::ByCommand).expect("wiring"))
            .expect("added");
        drop(cmd);
        // Started, and looked at once without waiting: no pidfd yet.
        let driven = engine.drive_now().expect("driven");
        assert!(driven.is_some(), "finished: {:?}", engine.result(ix));
        assert!(!has_pidfd(&engine, ix));
        let fd = engine
            .epoll_fd()
            .expect("set")
            .try_clone_to_owned()
            .expect("dup");
        assert_eq!(has_pidfd(&engine, ix), spawn_sys::pidfd::pidfd_supported());
        drop(release);
        let bound = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while engine.drive_now().expect("driven").is_some() {
            assert!(std::time::Instant::now() < bound, "hung");
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let _ = spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::from_millis(50)));
        }
        assert_eq!(engine.result(ix).expect("result").status.code(), Some(3));
    }
}
