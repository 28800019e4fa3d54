//! The driver side of the simulation: does what the core says against the
//! simulated kernel, answers at once (as a blocking driver does), hands
//! readiness and exits to the core in a random order, and checks every
//! promise of the core on the way (see the module documentation).

use alloc::format;
use alloc::vec::Vec;

use super::{Note, Report, Sim};
use crate::{
    Action, ChildId, CloseReason, Event, GroupOutcome, KillSignal, Outcome, Output, SignalTarget,
    SignalsSent, Stream,
};

const STREAMS: [Stream; 3] = Stream::ALL;

/// The index of `stream` in the kernel's per-process arrays.
fn ix(stream: Stream) -> usize {
    match stream {
        Stream::Stdin => 0,
        Stream::Stdout => 1,
        _ => 2,
    }
}

/// Most actions in one turn before the sim calls it a livelock of `poll`.
const TURN_LIMIT: usize = 10_000_000;

impl Sim {
    /// Polls the core until it waits, doing each action; `None` when the
    /// driver (with [`SimConfig::pauses`](super::SimConfig::pauses)) left
    /// the loop early, to come back later.
    pub(super) fn driver_turn(&mut self) -> Option<Output> {
        for _ in 0..TURN_LIMIT {
            if self.cfg.pauses && self.rng.one_in(8) {
                return None;
            }
            match self.sched.poll(self.now) {
                Output::Action(a) => {
                    self.report.actions += 1;
                    self.act(a);
                }
                Output::Finished { child, outcome } => {
                    self.report.actions += 1;
                    self.finished(child.0, outcome);
                }
                wait => return Some(wait),
            }
        }
        self.violation(format!("poll never returned Wait at {:?}", self.now));
        Some(Output::Action(Action::Start { child: ChildId(0) }))
    }

    fn handle(&mut self, e: Event) {
        if let Event::Read { child, n: 1.., .. } = e {
            self.procs[child.0].output_at.push(self.now);
        }
        if let Event::GroupEmpty { child } | Event::GroupLive { child } = e {
            let p = &mut self.procs[child.0];
            let after_exit = p.probing.take();
            if after_exit == Some(true) && matches!(e, Event::GroupEmpty { .. }) {
                p.empty_seen_at.get_or_insert(self.now);
            }
        }
        self.sched.handle(e, self.now);
    }

    /// Answers a read or write: at once, or (with `async_answers`) later,
    /// among the readiness notes.
    fn answer(&mut self, e: Event) {
        if self.cfg.async_answers && self.rng.one_in(2) {
            self.notes.push(Note::Event(e));
        } else {
            self.handle(e);
        }
    }

    fn act(&mut self, a: Action) {
        match a {
            Action::Start { child } => self.start(child.0),
            Action::Read { child, stream, max } => self.read(child.0, ix(stream), max),
            Action::Write { child, offset, len } => self.write(child.0, offset, len),
            Action::Close {
                child,
                stream,
                reason,
            } => self.close(child.0, ix(stream), reason),
            Action::Signal {
                child,
                signal,
                target,
            } => self.signal(child.0, signal, target),
            Action::ProbeGroup { child } => self.probe(child.0),
            Action::Interest { child, stream, on } => self.interest(child.0, ix(stream), on),
        }
    }

    fn start(&mut self, c: usize) {
        if self.last_started.is_some_and(|l| l >= c) || self.procs[c].started {
            self.violation(format!("child {c} started out of order or twice"));
        }
        self.last_started = Some(c);
        self.procs[c].slot = true;
        self.running += 1;
        self.report.max_running_seen = self.report.max_running_seen.max(self.running);
        if self.cfg.max_running > 0 && self.running > self.cfg.max_running {
            self.violation(format!("{} children running", self.running));
        }
        let child = ChildId(c);
        if self.stalled {
            self.violation(format!(
                "child {c} started after a deferred start before any running child finished"
            ));
        }
        if self.procs[c].deferred < self.children[c].start_deferrals {
            // Out of fds: back in the queue until a running child frees
            // some; with none running, a failure.
            let p = &mut self.procs[c];
            p.deferred += 1;
            p.slot = false;
            self.running -= 1;
            self.last_started = c.checked_sub(1);
            if self.running == 0 {
                self.procs[c].defer_failed = true;
                self.procs[c].slot = true;
                self.running += 1;
            } else {
                self.stalled = true;
            }
            self.handle(Event::StartDeferred { child });
            return;
        }
        if self.children[c].spawn_fails {
            self.handle(Event::SpawnFailed { child });
            return;
        }
        let spec = self.children[c].spec;
        // A leader leads its group; a member joins its leader's, as the
        // core understood it, if the leader holds a running slot.
        let joined = self
            .sched
            .spec(child)
            .and_then(|s| s.member_of)
            .map(|l| l.0)
            .filter(|&l| self.procs[l].slot && !self.procs[l].finished);
        let p = &mut self.procs[c];
        p.started = true;
        p.joined = joined;
        p.pgroup = if spec.signal_group { Some(c) } else { joined };
        for (i, held) in [spec.stdin, spec.stdout, spec.stderr]
            .into_iter()
            .enumerate()
        {
            p.fd_open[i] = held;
            p.pipes[i] = super::kernel::Pipe {
                ours: held,
                child: held,
                armed: true,
                ..super::kernel::Pipe::default()
            };
        }
        self.report.started[c] = Some(self.now);
        self.make_runnable(c);
        self.touch(c);
        self.handle(Event::Started { child });
    }

    fn read(&mut self, c: usize, i: usize, max: usize) {
        let child = ChildId(c);
        let stream = STREAMS[i];
        let p = &self.procs[c];
        if i == 0 || !p.fd_open[i] || max == 0 {
            self.violation(format!(
                "read of {stream:?} of child {c}: not an open output"
            ));
            return;
        }
        if p.sinks[i - 1].full {
            self.violation(format!(
                "read of {stream:?} of child {c} while its sink is full"
            ));
        }
        if let Some(since) = self.procs[c].ready_since[i].take() {
            self.report.max_read_wait = self.report.max_read_wait.max(self.turns - since);
        }
        self.turns += 1;
        let pipe = self.procs[c].pipes[i];
        if pipe.len() == 0 {
            if pipe.theirs() {
                self.procs[c].pipes[i].armed = true;
                self.answer(Event::ReadWouldBlock { child, stream });
            } else {
                self.procs[c].eof_seen[i] = true;
                self.answer(Event::Eof { child, stream });
            }
            return;
        }
        let limit = self.procs[c].limit;
        let room = limit.map_or(u64::MAX, |l| {
            l.saturating_sub(self.procs[c].sinks[i - 1].held)
        });
        let n = self.partial((max as u64).min(pipe.len()).min(room.max(1)));
        let keep = self.cfg.keep_bytes;
        let p = &mut self.procs[c];
        if keep {
            let from = pipe.start;
            p.sink_bytes[i - 1].extend((from..from + n).map(|k| super::pattern(c, i == 2, k)));
        }
        p.pipes[i].start += n;
        let sink = &mut p.sinks[i - 1];
        sink.received += n;
        sink.held += n;
        let (held, full) = (sink.held, limit.is_some_and(|l| sink.held >= l));
        let peak = &mut self.report.sink_peak[c][i - 1];
        *peak = (*peak).max(held);
        if let Some(l) = limit
            && held > l
        {
            let over = usize::try_from(held - l).unwrap_or(usize::MAX);
            self.report.max_sink_overshoot = self.report.max_sink_overshoot.max(over);
        }
        p.ready_since[i] = Some(self.turns);
        self.make_runnable(c);
        self.touch(c);
        // A fast writer refills the pipe before the next read.
        if self.cfg.fast_writers && self.procs[c].in_runnable {
            self.run_proc(c);
        }
        self.answer(Event::Read {
            child,
            stream,
            n: usize::try_from(n).unwrap_or(usize::MAX),
        });
        if full {
            self.procs[c].sinks[i - 1].full = true;
            self.procs[c].ready_since[i] = None;
            self.full_sinks.push((c, i));
            self.handle(Event::SinkFull { child, stream });
        }
    }

    fn write(&mut self, c: usize, offset: u64, len: usize) {
        let child = ChildId(c);
        let input_len = self.children[c].spec.input_len;
        let p = &self.procs[c];
        if !p.fd_open[0] || len == 0 || offset != p.written || offset + len as u64 > input_len {
            self.violation(format!(
                "write [{offset}, +{len}) to child {c}: open {}, written {}, input {input_len}",
                p.fd_open[0], p.written
            ));
            return;
        }
        if let Some(since) = self.procs[c].ready_since[0].take() {
            self.report.max_read_wait = self.report.max_read_wait.max(self.turns - since);
        }
        self.turns += 1;
        let cap = self.cfg.pipe_capacity as u64;
        let pipe = self.procs[c].pipes[0];
        if !pipe.theirs() {
            self.procs[c].epipe_seen = true;
            self.answer(Event::WriteBroken { child });
            return;
        }
        if pipe.len() >= cap {
            self.procs[c].pipes[0].armed = true;
            self.answer(Event::WriteWouldBlock { child });
            return;
        }
        let n = self.partial((len as u64).min(cap - pipe.len()));
        let p = &mut self.procs[c];
        p.pipes[0].end += n;
        p.written += n;
        p.ready_since[0] = Some(self.turns);
        self.make_runnable(c);
        self.touch(c);
        self.answer(Event::Wrote {
            child,
            n: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }

    fn close(&mut self, c: usize, i: usize, reason: CloseReason) {
        let spec = self.children[c].spec;
        let p = &self.procs[c];
        if !p.fd_open[i] {
            self.violation(format!("close of {:?} of child {c}: not open", STREAMS[i]));
            return;
        }
        let ok = match reason {
            CloseReason::InputDone => i == 0 && p.written == spec.input_len,
            CloseReason::Eof => i > 0 && p.eof_seen[i],
            CloseReason::Broken => i == 0 && p.epipe_seen,
            CloseReason::ChildExited => i == 0 && p.exited_at.is_some(),
            CloseReason::Abandoned => {
                // Held by the grandchild (until this very moment at most),
                // or a zero grace; the grace is over, and nothing the child
                // wrote is left in the pipe (the core reads until a read
                // would block before it abandons).
                i > 0
                    && (p.pipes[i].gc > 0
                        || p.released_at == Some(self.now)
                        || spec.eof_grace.is_zero())
                    && p.exited_at
                        .is_some_and(|t| t.saturating_add(spec.eof_grace) <= self.now)
                    && p.pipes[i].len() == 0
            }
        };
        if !ok {
            self.violation(format!(
                "close of {:?} of child {c} as {reason:?} at {:?}: not true (exited at {:?})",
                STREAMS[i], self.now, p.exited_at
            ));
        }
        let p = &mut self.procs[c];
        p.fd_open[i] = false;
        p.interest[i] = false;
        p.closed[i] = Some(reason);
        p.ready_since[i] = None;
        p.pipes[i].ours = false;
        self.watched.remove(&(c, i));
        // A reader of stdin sees EOF; a writer of an output, EPIPE.
        self.make_runnable(c);
    }

    fn signal(&mut self, c: usize, signal: KillSignal, target: SignalTarget) {
        let spec = self.children[c].spec;
        let leads = spec.signal_group;
        let p = &self.procs[c];
        let exited = p.exited_at.is_some();
        // To the child only while its exit is not handled; to the group
        // only for a leader, and not after it finished (reaped).
        let target_ok = match target {
            SignalTarget::Child => !leads && !exited,
            SignalTarget::ChildAndGroup => leads && !exited,
            SignalTarget::Group => leads && exited,
        };
        let finished = p.finished;
        if !p.started || finished || !target_ok {
            self.violation(format!(
                "{signal:?} to {target:?} of child {c} (leader {leads}, exit handled {exited}, \
                 finished {finished}): not allowed"
            ));
        }
        let now = self.now;
        let p = &self.procs[c];
        match signal {
            KillSignal::Step(n @ 1..) => {
                // A later step: the grace of the step before it ended, and
                // the sequence declares it.
                let due = p.last_step.filter(|&(m, _)| m + 1 == n).and_then(|(m, t)| {
                    Some(t.saturating_add(spec.stop_graces.grace(m, spec.kill_grace)?))
                });
                let on_time = match due {
                    Some(d) if leads => d <= now,
                    Some(d) => d == now,
                    None => false,
                };
                if !on_time || p.kill_at.is_some() {
                    self.violation(format!("step {n} to child {c} at {now:?}, due {due:?}"));
                }
                self.procs[c].last_step = Some((n, now));
            }
            KillSignal::Step(_) => {
                let due = self.term_due(c);
                // A leader that exited by itself also gets its leftovers
                // stopped: only with a timeout or a terminate, once its
                // pipes are closed and its members exited.
                let leftovers = leads
                    && exited
                    && (spec.timeout.is_some() || p.terminate_at.is_some())
                    && p.fd_open.iter().all(|&o| !o)
                    && self
                        .procs
                        .iter()
                        .all(|m| m.joined != Some(c) || m.exited_at.is_some());
                let optional = self.timeout_at_exit(c) == Some(now);
                let idle_now = !exited && self.idle_due_before(c, now) == Some(now);
                let p = &self.procs[c];
                if p.term_at.is_some() || (due != Some(now) && !leftovers && !optional && !idle_now)
                {
                    self.violation(format!("TERM to child {c} at {now:?}, due {due:?}"));
                }
                self.procs[c].term_at = Some(now);
                self.procs[c].last_step = Some((0, now));
            }
            KillSignal::Kill => {
                // The last step's grace ended (every declared step went).
                let due = p
                    .last_step
                    .filter(|&(m, _)| !spec.stop_graces.has_next(m))
                    .and_then(|(m, t)| {
                        Some(t.saturating_add(spec.stop_graces.grace(m, spec.kill_grace)?))
                    });
                // A leader gets KILL again while its group lives; the first
                // one comes at the end of the grace (later only when a late
                // member joined a group found empty).
                let on_time = match (p.kill_at, leads) {
                    (None, false) => due == Some(now),
                    (None, true) => due.is_some_and(|d| d <= now),
                    (Some(_), repeat) => repeat,
                };
                if !on_time {
                    self.violation(format!("KILL to child {c} at {now:?}, due {due:?}"));
                }
                self.procs[c].kill_at.get_or_insert(now);
            }
        }
        self.report.signals[c].push((now, signal));
        self.kill(c, signal, target);
    }

    /// Answers a probe of `c`'s group, at once or later.
    fn probe(&mut self, c: usize) {
        let p = &self.procs[c];
        let after_exit = p.exited_at.is_some();
        if !self.children[c].spec.signal_group || !p.started || p.finished || p.probing.is_some() {
            self.violation(format!(
                "probe of child {c}: not a started leader, finished, or one in flight"
            ));
        }
        self.procs[c].probing = Some(after_exit);
        self.report.probes[c] += 1;
        let child = ChildId(c);
        let (live, _) = self.group_live(c);
        self.answer(if live > 0 {
            Event::GroupLive { child }
        } else {
            Event::GroupEmpty { child }
        });
    }

    fn interest(&mut self, c: usize, i: usize, on: bool) {
        let p = &mut self.procs[c];
        if !p.fd_open[i] || p.interest[i] == on {
            self.violation(format!(
                "interest {on} in {:?} of child {c}: not a change of an open pipe",
                STREAMS[i]
            ));
            return;
        }
        p.interest[i] = on;
        if on {
            self.watched.insert((c, i));
        } else {
            self.watched.remove(&(c, i));
        }
        self.touch(c);
    }

    fn finished(&mut self, c: usize, o: Outcome) {
        let now = self.now;
        let spec = self.children[c].spec;
        let fails = self.children[c].spawn_fails;
        let p = &self.procs[c];
        let started = self.report.started[c];
        let unstarted = started.is_none();
        let mut bad = Vec::new();
        if p.finished {
            bad.push("finished twice");
        }
        if p.fd_open.iter().any(|&o| o) {
            bad.push("finished with a pipe open");
        }
        let status = if fails || unstarted { None } else { p.status };
        if o.status != status || (!fails && !unstarted && p.exited_at.is_none()) {
            bad.push("status");
        }
        // A child terminated while queued never gets to fail.
        if o.spawn_failed != ((fails && p.slot) || p.defer_failed) {
            bad.push("spawn_failed");
        }
        let received = [p.sinks[0].received, p.sinks[1].received];
        if [o.stdout_bytes, o.stderr_bytes] != received {
            bad.push("byte counts");
        }
        let abandoned = [1, 2].map(|i| p.closed[i] == Some(CloseReason::Abandoned));
        if [o.stdout_abandoned, o.stderr_abandoned] != abandoned {
            bad.push("abandoned flags");
        }
        for i in 1..3 {
            // Abandoned or not, every byte written reached the sink (the
            // simulated grandchild holds pipes but writes nothing).
            if received[i - 1] != p.pipes[i].end {
                bad.push("bytes lost");
            }
        }
        if o.input_written != p.written {
            bad.push("input_written");
        }
        let broken = matches!(
            p.closed[0],
            Some(CloseReason::Broken | CloseReason::ChildExited)
        );
        let short = spec.stdin && p.started && p.written != spec.input_len;
        if o.input_broken != broken || (!broken && short) {
            bad.push("input delivery");
        }
        let sent = SignalsSent {
            steps: p.last_step.map_or(0, |(m, _)| m + 1),
            kill: p.kill_at.is_some(),
        };
        if o.signals_sent != sent {
            bad.push("signals_sent");
        }
        // TERM and KILL were sent if due before the exit was handled (for
        // a leader: before its group was known empty).
        let leads = spec.signal_group;
        let end = if leads {
            p.empty_seen_at.unwrap_or(now)
        } else {
            p.exited_at.unwrap_or(now)
        };
        // A timeout is cancelled by the exit (a leader's leftovers are
        // stopped, if at all, by a TERM of their own, checked when sent).
        let timeout_end = p.exited_at.unwrap_or(now);
        let timeout_due = started
            .zip(spec.timeout)
            .map(|(s, t)| s.saturating_add(t))
            .filter(|&t| t < timeout_end);
        let terminate_due = p
            .terminate_at
            .filter(|&t| started.is_some_and(|s| t >= s) && t < end);
        // Idle for the whole idle timeout before the exit was handled.
        let idle_due = self.idle_first_due(c).filter(|&t| t < timeout_end);
        if o.idled.is_some() != (p.term_at.is_some() && o.idled == spec.idle_timeout)
            && o.idled.is_some()
        {
            bad.push("idled without a stop");
        }
        // (A leader's TERM may have come earlier, for its leftovers.)
        if let Some(due) = [timeout_due, terminate_due, idle_due]
            .into_iter()
            .flatten()
            .min()
            && p.term_at.is_none_or(|t| t > due)
        {
            bad.push("TERM missing");
        }
        if let Some((m, t)) = p.last_step
            && let Some(grace) = spec.stop_graces.grace(m, spec.kill_grace)
            && t.saturating_add(grace) < end
            && p.kill_at.is_none()
        {
            bad.push(if spec.stop_graces.has_next(m) {
                "next stop step missing"
            } else {
                "KILL missing"
            });
        }
        if leads && !unstarted && !fails {
            let (live, stuck) = self.group_live(c);
            self.report.group_at_finish[c] = Some((live, stuck));
            // A terminate due at the very instant the leader finished may
            // come after the finish (events of one instant have no order).
            let bounded = spec.timeout.is_some() || p.terminate_at.is_some_and(|t| t < end);
            let ok = match o.group {
                GroupOutcome::Empty => live == 0 && p.term_at.is_none(),
                GroupOutcome::Stopped => live == 0 && p.term_at.is_some(),
                // With a timeout or a terminate, only what KILL cannot end.
                GroupOutcome::Left => !bounded || live == stuck,
                // Exited by itself, nothing to end: not looked at.
                GroupOutcome::NotProbed => !bounded && !spec.end_leftovers && p.term_at.is_none(),
                _ => false,
            };
            if !ok {
                bad.push("group outcome");
            }
            if self
                .procs
                .iter()
                .any(|m| m.joined == Some(c) && m.exited_at.is_none())
            {
                bad.push("finished before its members exited");
            }
            if p.probing.is_some() {
                bad.push("finished with a probe in flight");
            }
        } else if o.group != GroupOutcome::NotOwned {
            bad.push("group outcome");
        }
        // Timed out iff the timeout was due before the exit (either when
        // both happened at the same instant).
        let timeout_at = started.zip(spec.timeout).map(|(s, t)| s.saturating_add(t));
        let due = timeout_at.is_some_and(|t| t < timeout_end);
        if o.timed_out != due && timeout_at != Some(timeout_end) {
            bad.push("timed_out");
        }
        if o.terminated && p.terminate_at.is_none() {
            bad.push("terminated");
        }
        if o.started_at != started || o.exited_at != p.exited_at || o.finished_at != now {
            bad.push("times");
        }
        if !bad.is_empty() {
            self.violation(format!("child {c} finished with wrong {bad:?}: {o:?}"));
        }
        if self.procs[c].slot {
            self.running -= 1;
            self.stalled = false;
        }
        self.procs[c].finished = true;
        self.report.outcomes[c] = Some(o);
    }

    /// Finds what became ready and queues it for the core.
    pub(super) fn readiness(&mut self) {
        let cap = self.cfg.pipe_capacity as u64;
        let ready = |p: &super::kernel::Proc, i: usize| {
            let pipe = &p.pipes[i];
            if i == 0 {
                pipe.len() < cap || !pipe.theirs()
            } else {
                pipe.len() > 0 || !pipe.theirs()
            }
        };
        let event = |c: usize, i: usize| {
            let child = ChildId(c);
            if i == 0 {
                Event::Writable { child }
            } else {
                Event::Readable {
                    child,
                    stream: STREAMS[i],
                }
            }
        };
        if self.cfg.level_triggered {
            self.dirty.clear();
            self.notes.retain(|e| {
                !matches!(
                    e,
                    Note::Event(Event::Readable { .. } | Event::Writable { .. })
                )
            });
            for &(c, i) in &self.watched {
                if ready(&self.procs[c], i) {
                    self.notes.push(Note::Event(event(c, i)));
                }
            }
            return;
        }
        let mut dirty = core::mem::take(&mut self.dirty);
        for &c in &dirty {
            for i in 0..3 {
                let p = &mut self.procs[c];
                if p.fd_open[i] && p.pipes[i].armed && ready(p, i) {
                    p.pipes[i].armed = false;
                    self.notes.push(Note::Event(event(c, i)));
                }
            }
        }
        dirty.clear();
        self.dirty = dirty;
    }

    /// Hands a random part of the pending readiness and exits to the core,
    /// in a random order.
    pub(super) fn deliver(&mut self) {
        let n = 1 + self.rng.below(self.notes.len());
        for _ in 0..n {
            if self.notes.is_empty() {
                return;
            }
            let k = self.rng.below(self.notes.len());
            let e = match self.notes.swap_remove(k) {
                Note::Event(e) => e,
                Note::Terminate(c) => {
                    let p = &mut self.procs[c];
                    if !p.finished && p.terminate_at.is_none() {
                        p.terminate_at = Some(self.now);
                    }
                    self.sched.terminate(ChildId(c), self.now);
                    continue;
                }
            };
            let now = self.now;
            match e {
                Event::Readable { child, stream } => {
                    let p = &mut self.procs[child.0];
                    let i = ix(stream);
                    if !p.fd_open[i] {
                        continue;
                    }
                    p.ready_since[i].get_or_insert(self.turns);
                }
                Event::Writable { child } => {
                    let p = &mut self.procs[child.0];
                    if !p.fd_open[0] {
                        continue;
                    }
                    p.ready_since[0].get_or_insert(self.turns);
                }
                Event::Exited { child, .. } => self.procs[child.0].exited_at = Some(now),
                _ => {}
            }
            self.handle(e);
        }
    }

    /// Consumers take bytes out of full sinks (all of them with `all`,
    /// else a random few). Whether any did.
    pub(super) fn drain_sinks(&mut self, all: bool) -> bool {
        let mut any = false;
        let mut k = 0;
        while k < self.full_sinks.len() {
            if !all && !self.rng.one_in(3) {
                k += 1;
                continue;
            }
            let (c, i) = self.full_sinks.swap_remove(k);
            let held = self.procs[c].sinks[i - 1].held;
            let take = if all {
                held
            } else {
                1 + self.rng.below(usize::try_from(held).unwrap_or(usize::MAX)) as u64
            };
            let p = &mut self.procs[c];
            p.sinks[i - 1].held = held.saturating_sub(take);
            p.sinks[i - 1].full = false;
            if p.fd_open[i] && p.pipes[i].len() > 0 {
                p.ready_since[i].get_or_insert(self.turns);
            }
            any = true;
            self.handle(Event::SinkReady {
                child: ChildId(c),
                stream: STREAMS[i],
            });
        }
        any
    }

    /// Runs the end checks and returns the report.
    #[must_use]
    pub fn into_report(mut self) -> Report {
        if !self.report.finished_all && !self.report.livelock {
            for c in 0..self.procs.len() {
                let p = &self.procs[c];
                if p.finished {
                    continue;
                }
                // Left unfinished, legitimately: it hangs with nothing due,
                // or it waits for a slot behind such a child.
                let hangs = p.alive() && p.hang && self.term_due(c).is_none();
                let waits = !p.started && self.cfg.max_running > 0;
                if !hangs && !waits {
                    self.violation(format!("stalled: child {c} unfinished: {p:?}"));
                }
            }
        }
        let mut r = self.report;
        for (c, p) in self.procs.into_iter().enumerate() {
            r.received[c] = [p.sinks[0].received, p.sinks[1].received];
            r.written[c] = [p.pipes[1].end, p.pipes[2].end];
            r.input_consumed[c] = p.pipes[0].start;
            r.input_read[c] = p.input_bytes;
            r.sinks[c] = p.sink_bytes;
        }
        r.now = self.now;
        r
    }
}
