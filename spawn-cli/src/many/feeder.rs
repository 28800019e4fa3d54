//! The jobs of a `spawn many` run between the input and the group: the
//! input is read on a thread of its own ([`Jobs::read`]), each record made a
//! job and pushed into the group's [`CommandFeed`], so that waiting for a
//! slow input (`tail -f`, a slow `find`) never holds up the running jobs.
//!
//! The reader is bounded: it waits while [`Lookahead`] allows no more jobs
//! pushed and not finished, so memory does not grow with the input. The
//! runner takes each finished job back ([`Jobs::finish`]), pushing a failed
//! one again for `--retries`, and makes room for the next only once it has
//! decided on the result ([`Jobs::release`]: after `--halt`).
//!
//! The group starts a queued command in the slot a finished one freed
//! before it hands out that one's result. So with `-j` (at least 16) jobs queued
//! ahead of the running ones ([`Lookahead::Slots`], the default), a freed
//! slot is filled at once by the group's driving thread; with none queued,
//! it stays empty until the runner has decided, the reader has woken and
//! pushed, and the driver has woken again: three thread wake-ups per job,
//! each waiting for a core the running jobs hold. With `--halt`, a job
//! queued ahead would start in a slot after the result that halts the run
//! ([`Lookahead::Decided`]: none queued, so no job starts after the halt
//! but those running when it was decided). The feed is closed once the
//! input has ended and no job is left that could be tried again.
//!
//! With `--memfree`, a running job may be stopped and put back
//! ([`Jobs::stop_youngest`], [`Jobs::put_back`]: see [`super::evict`]);
//! the reader pushes a job put back before the next record, once
//! admission lets it start, and after the input's end it stays until no
//! job is left that could be put back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use spawn::{CancelToken, CommandFeed};

use super::admission::Admission;
use super::control::{Control, Stop};
use super::input::Records;
use super::job::{Job, Launch};
use super::output::{self, BufPool, Mode, Turn};
use super::progress::Counts;
use super::select::{Picked, Selection};
use super::spill::Stage;
use super::template::Numbers;

/// The bound when `-j 0` (no limit on running jobs).
const UNLIMITED_BOUND: usize = 8192;

/// The fewest jobs [`Lookahead::Slots`] queues ahead, so that even at a
/// small `-j` the reader is woken once per several jobs, not once per job.
const MIN_AHEAD: usize = 16;

/// How many jobs the reader pushes ahead of the running ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookahead {
    /// As many as may run (`-j`, at least [`MIN_AHEAD`]), queued in the
    /// group: a slot freed is filled without waiting for the runner or the
    /// reader.
    Slots,
    /// None: the next job is pushed only once a finished one's result is
    /// decided (`--halt`: no job may start after the result that halts).
    Decided,
}

#[derive(Default)]
struct State {
    /// The index the group gives the next command pushed.
    next_index: usize,
    /// The jobs pushed and not finished, by their index in the group.
    pending: HashMap<usize, Job>,
    /// Finished jobs handed to the runner and not released.
    deciding: usize,
    /// The input has ended (or its reading stopped).
    input_ended: bool,
    /// The reader waits for room.
    reader_waits: bool,
    /// With [`Launch::slots`]: which job slots (from 1, at `[slot - 1]`)
    /// a pushed job not finished holds.
    slots: Vec<bool>,
    /// Jobs stopped by [`Jobs::stop_youngest`] and put back, to be pushed
    /// again (each keeps its room and slot meanwhile).
    put_back: VecDeque<Job>,
    /// The index of the job [`Jobs::stop_youngest`] stopped, until its
    /// result comes: one stop at a time.
    stopping: Option<usize>,
}

impl State {
    /// The jobs that hold room: pushed and not finished, being decided,
    /// or put back.
    fn unfinished(&self) -> usize {
        self.pending.len() + self.deciding + self.put_back.len()
    }

    /// Whether no job is left that could still run.
    fn drained(&self) -> bool {
        self.input_ended && self.pending.is_empty() && self.put_back.is_empty()
    }

    /// Takes the lowest free job slot (GNU parallel's rule).
    fn take_slot(&mut self) -> u64 {
        let free = match self.slots.iter().position(|taken| !taken) {
            Some(i) => i,
            None => {
                self.slots.push(false);
                self.slots.len() - 1
            }
        };
        self.slots[free] = true;
        free as u64 + 1
    }

    fn free_slot(&mut self, slot: u64) {
        if let Some(taken) = usize::try_from(slot)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| self.slots.get_mut(i))
        {
            *taken = false;
        }
    }
}

/// The jobs of one run (see the module docs).
pub(crate) struct Jobs {
    feed: CommandFeed,
    state: Mutex<State>,
    room: Condvar,
    /// The reader waits when this many jobs are unfinished...
    bound: usize,
    /// ...until no more than this many are: with jobs queued ahead, it is
    /// woken once per half a round of them, not once per job.
    resume_at: usize,
    launch: Arc<Launch>,
    mode: Mode,
    control: Arc<Control>,
    /// The buffers jobs hold their output in (`--group`).
    pool: Arc<BufPool>,
    /// With `--keep-order --line-buffer`: whose turn it is to stream.
    turn: Option<Arc<Turn>>,
    /// With `--group` unordered: who may stream past the bound.
    stage: Option<Arc<Stage>>,
    /// Which records become jobs (`--shard`, `--resume`…; `None`: all).
    selection: Option<Arc<Selection>>,
    /// When a job may start (`--memfree`, `--load`, `--delay`): then none
    /// is queued ahead ([`Lookahead::Decided`]).
    admission: Option<Arc<Admission>>,
    /// `--memfree`: each job gets a [`Job::stop`] token, and may be put
    /// back.
    stoppable: bool,
}

impl Jobs {
    /// The jobs of a run of `launch` in `mode`, at most `max_running` at
    /// once (0: no limit), `lookahead` more pushed ahead of them.
    #[allow(clippy::too_many_arguments)] // the parts of one run, each its own
    pub(crate) fn new(
        launch: Arc<Launch>,
        mode: Mode,
        turn: Option<Arc<Turn>>,
        stage: Option<Arc<Stage>>,
        control: Arc<Control>,
        pool: Arc<BufPool>,
        max_running: usize,
        lookahead: Lookahead,
    ) -> Jobs {
        let (bound, resume_at) = match (max_running, lookahead) {
            (0, _) => (UNLIMITED_BOUND, UNLIMITED_BOUND / 2),
            (j, Lookahead::Decided) => (j, j - 1),
            (j, Lookahead::Slots) => {
                let ahead = j.max(MIN_AHEAD);
                (j.saturating_add(ahead), j.saturating_add(ahead / 2))
            }
        };
        Jobs {
            feed: CommandFeed::new(),
            state: Mutex::new(State::default()),
            room: Condvar::new(),
            bound,
            resume_at,
            launch,
            mode,
            control,
            pool,
            turn,
            stage,
            selection: None,
            admission: None,
            stoppable: false,
        }
    }

    /// The same, taking only the jobs `selection` picks, each started when
    /// `admission` allows (see [`scale`](super::scale)).
    pub(crate) fn with_scale(
        mut self,
        selection: Option<Arc<Selection>>,
        admission: Option<Arc<Admission>>,
    ) -> Jobs {
        self.stoppable = admission.as_ref().is_some_and(|a| a.memfree.is_some());
        self.selection = selection;
        self.admission = admission;
        self
    }

    /// The feed the run's group takes its commands from.
    pub(crate) fn feed(&self) -> &CommandFeed {
        &self.feed
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pushes `job` into the feed under `state`'s lock (so that the index
    /// it gets is the group's: the group takes the feed's commands in the
    /// order pushed).
    fn push(&self, state: &mut State, mut job: Job) {
        let mut cmd = self.launch.command(&job);
        if self.stoppable {
            let stop = CancelToken::new();
            cmd = cmd.cancel_on(&stop);
            job.stop = Some(stop);
        }
        let cmd = output::route(
            self.mode,
            self.launch.verbose,
            self.turn.as_deref(),
            self.stage.as_ref(),
            cmd,
            &mut job,
            &self.control,
            &self.pool,
        );
        if self.feed.push(cmd) {
            state.pending.insert(state.next_index, job);
            state.next_index += 1;
        }
    }

    /// Closes the feed if nothing more can come (and wakes a reader that
    /// waits for jobs put back).
    fn settle(&self, state: &State) {
        if state.drained() {
            self.feed.close();
            if state.reader_waits {
                self.room.notify_all();
            }
        }
    }

    /// Waits (without the lock) until admission lets a job start, if the
    /// run has admission.
    fn admit<'a>(&'a self, state: MutexGuard<'a, State>, counts: &Counts) -> MutexGuard<'a, State> {
        let Some(a) = &self.admission else {
            return state;
        };
        drop(state);
        let _ = a.wait(&self.control, counts);
        self.state()
    }

    /// Pushes the jobs put back, each once admission lets it start; stops
    /// at the run's stop.
    fn push_put_back<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        counts: &Counts,
    ) -> MutexGuard<'a, State> {
        while !state.put_back.is_empty() && !self.control.stopping() {
            state = self.admit(state, counts);
            if self.control.stopping() {
                break;
            }
            if let Some(job) = state.put_back.pop_front() {
                self.push(&mut state, job);
            }
        }
        state
    }

    /// Reads `records` to their end (or until the run stops), pushing a job
    /// for each, never more than the bound unfinished (then waiting until
    /// they are down to `resume_at`); then
    /// says the input ended (its count in `counts`). A read error stops the
    /// run soon.
    pub(crate) fn read(&self, records: Records, counts: &Counts) {
        let (mut ordinal, mut taken) = (0u64, 0u64);
        for r in records {
            let inputs = match r {
                Ok(inputs) => inputs,
                Err(e) => {
                    self.control
                        .stop(Stop::Input(format!("cannot read stdin: {e}")), false);
                    break;
                }
            };
            ordinal += 1;
            let picked = match &self.selection {
                None => Picked {
                    seq: ordinal,
                    key: None,
                },
                Some(s) => match s.pick(ordinal, &inputs) {
                    Some(p) => p,
                    None => continue,
                },
            };
            taken += 1;
            let mut state = self.push_put_back(self.state(), counts);
            if state.unfinished() >= self.bound {
                state.reader_waits = true;
                while state.unfinished() > self.resume_at && !self.control.stopping() {
                    state = self
                        .room
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    state = self.push_put_back(state, counts);
                }
                state.reader_waits = false;
            }
            state = self.admit(state, counts);
            if self.control.stopping() {
                break;
            }
            // With slots there is no job queued ahead (Lookahead::Decided):
            // one pushed now starts now, in a slot no running job holds.
            let slot = if self.launch.slots {
                state.take_slot()
            } else {
                0
            };
            let seq = picked.seq;
            let mut job = self.launch.job(Numbers { seq, slot }, &inputs);
            (job.key, job.order) = (picked.key, taken);
            self.push(&mut state, job);
        }
        if !self.control.stopping() {
            counts.set_total(taken);
        }
        let mut state = self.state();
        state.input_ended = true;
        self.settle(&state);
        // Jobs may still be put back until none is left.
        while self.stoppable && !state.drained() && !self.control.stopping() {
            state.reader_waits = true;
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.reader_waits = false;
            state = self.push_put_back(state, counts);
        }
    }

    /// Starts [`read`](Self::read) on a thread of its own; if no thread can
    /// be made, the run stops with the reason.
    pub(crate) fn start_reading(self: &Arc<Self>, records: Records, counts: &Arc<Counts>) {
        let (jobs, counts) = (Arc::clone(self), Arc::clone(counts));
        let spawned = std::thread::Builder::new()
            .name("spawn-many-input".into())
            .spawn(move || jobs.read(records, &counts));
        if let Err(e) = spawned {
            self.control.stop(
                Stop::Input(format!("cannot start reading stdin: {e}")),
                false,
            );
            let mut state = self.state();
            state.input_ended = true;
            self.settle(&state);
        }
    }

    /// The job of the group's result `index`, now finished; `retry` says
    /// whether it is to run again (then it is pushed again, with one more
    /// try, and `None` is returned). A job returned holds its room until
    /// [`release`](Self::release)d.
    pub(crate) fn finish(&self, index: usize, retry: impl FnOnce(&Job) -> bool) -> Option<Job> {
        let mut state = self.state();
        let job = state.pending.remove(&index)?;
        if retry(&job) {
            let mut again = job;
            again.tries += 1;
            self.push(&mut state, again);
            return None;
        }
        state.free_slot(job.slot);
        state.deciding += 1;
        self.settle(&state);
        Some(job)
    }

    /// Stops the youngest job (the last pushed of those not finished: with
    /// `--memfree` none is queued ahead, so it started last) through its
    /// [`Job::stop`] token when `short` (asked under the lock, so that
    /// its figure is not older than the last job pushed) says so, to be
    /// put back when its result comes ([`put_back`](Self::put_back));
    /// returns its number and `short`'s figure. None is stopped while
    /// fewer than two run (the last one must be able to finish) or while
    /// an earlier stop has not ended its job.
    pub(crate) fn stop_youngest<T>(&self, short: impl FnOnce() -> Option<T>) -> Option<(u64, T)> {
        let mut state = self.state();
        if state.stopping.is_some() || state.pending.len() < 2 || self.control.stopping() {
            return None;
        }
        let figure = short()?;
        let (&index, job) = state.pending.iter().max_by_key(|(i, _)| **i)?;
        let stop = job.stop.as_ref()?;
        stop.cancel();
        let seq = job.seq;
        state.stopping = Some(index);
        Some((seq, figure))
    }

    /// Whether the group's result `index` with `result` is a job
    /// [`stop_youngest`](Self::stop_youngest) stopped: then it is put
    /// back (its result is no result: not printed, counted or recorded),
    /// and runs again when admission lets it. A job that ended before the
    /// stop reached it is not put back.
    pub(crate) fn put_back(
        &self,
        index: usize,
        result: &Result<spawn::Output, spawn::Error>,
    ) -> bool {
        if !self.stoppable {
            return false;
        }
        let mut state = self.state();
        if state.stopping != Some(index) {
            return false;
        }
        state.stopping = None;
        if !matches!(result, Err(spawn::Error::Cancelled { .. })) {
            return false;
        }
        let Some(mut job) = state.pending.remove(&index) else {
            return false;
        };
        (job.stop, job.held) = (None, None);
        state.put_back.push_back(job);
        drop(state);
        self.room.notify_all();
        true
    }

    /// The runner has decided on a job [`finish`](Self::finish) gave it (and
    /// stopped the run if it had to): the next job may be pushed.
    pub(crate) fn release(&self) {
        let mut state = self.state();
        state.deciding = state.deciding.saturating_sub(1);
        let wake =
            state.reader_waits && (state.unfinished() <= self.resume_at || self.control.stopping());
        drop(state);
        if wake {
            self.room.notify_one();
        }
    }

    /// The jobs pushed that never got a result (the run stopped before
    /// the group took them); the reader is told to stop waiting.
    pub(crate) fn never_taken(&self) -> usize {
        let n = {
            let state = self.state();
            state.pending.len() + state.put_back.len()
        };
        self.room.notify_all();
        n
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::super::template::Template;
    use super::*;

    fn jobs(max_running: usize, lookahead: Lookahead) -> Arc<Jobs> {
        jobs_admitted(max_running, lookahead, None)
    }

    fn jobs_admitted(
        max_running: usize,
        lookahead: Lookahead,
        admission: Option<Admission>,
    ) -> Arc<Jobs> {
        let launch = Launch {
            more: Default::default(),
            template: Template::parse(b"true {}").expect("parses"),
            quote: true,
            slots: false,
            tag: None,
            always_shell: false,
            verbose: false,
            shell: "/bin/sh".into(),
            posix_shell: true,
            functions: Vec::new(),
            timeout: None,
            idle_timeout: None,
            term_seq: None,
            tty: false,
            runtimes: super::super::options::Runtimes::default(),
        };
        Arc::new(
            Jobs::new(
                Arc::new(launch),
                Mode::Group,
                None,
                None,
                Arc::new(Control::new()),
                Arc::new(BufPool::default()),
                max_running,
                lookahead,
            )
            .with_scale(None, admission.map(Arc::new)),
        )
    }

    /// Waits (boundedly) until the jobs' state is as `what` says.
    fn until(j: &Jobs, what: impl Fn(&State) -> bool) {
        let start = std::time::Instant::now();
        while !what(&j.state()) {
            assert!(start.elapsed() < Duration::from_secs(60), "never came");
            std::thread::yield_now();
        }
    }

    #[test]
    fn memfree_stops_the_youngest_of_two_puts_it_back_and_never_stops_the_last() {
        let memfree = Admission::new(Some(1), None, None, 1);
        let j = jobs_admitted(2, Lookahead::Decided, memfree);
        let reader = {
            let j = Arc::clone(&j);
            let (tx, _rx) = mpsc::channel();
            std::thread::spawn(move || j.read(counted(2, tx), &Counts::new(None)))
        };
        until(&j, |s| s.pending.len() == 2);
        // The youngest (the last pushed, job 2) is stopped through its own
        // token; no second stop while that one's result has not come.
        assert_eq!(j.stop_youngest(|| None::<()>), None, "memory not short");
        assert_eq!(j.stop_youngest(|| Some(())), Some((2, ())));
        assert_eq!(j.stop_youngest(|| Some(())), None);
        let token = j.state().pending[&1].stop.clone().expect("a token");
        assert!(token.is_cancelled());
        let cancelled = spawn::Command::new("true").cancel_on(&token).run();
        assert!(!j.put_back(0, &cancelled), "not the job stopped");
        assert!(j.put_back(1, &cancelled));
        // The reader (past the input's end) pushes it again: job 2 anew.
        until(&j, |s| s.pending.get(&2).is_some_and(|job| job.seq == 2));
        assert!(
            j.state().pending[&2]
                .stop
                .as_ref()
                .is_some_and(|t| !t.is_cancelled())
        );
        // Alone, a job is never stopped.
        assert!(j.finish(0, |_| false).is_some());
        j.release();
        assert_eq!(j.stop_youngest(|| Some(())), None);
        assert!(j.finish(2, |_| false).is_some());
        j.release();
        reader.join().expect("the reader ends once no job is left");
    }

    /// Records that say on `pulled` each time one is taken.
    fn counted(n: u8, pulled: mpsc::Sender<u8>) -> Records {
        Box::new((1..=n).map(move |i| {
            let _ = pulled.send(i);
            Ok(vec![vec![b'0' + i]])
        }))
    }

    #[test]
    fn without_halt_the_reader_queues_a_round_of_jobs_ahead_of_the_running_ones() {
        let j = jobs(2, Lookahead::Slots);
        let (tx, rx) = mpsc::channel();
        let reader = {
            let j = Arc::clone(&j);
            std::thread::spawn(move || j.read(counted(40, tx), &Counts::new(None)))
        };
        // Nothing finishes, yet 2 running + 16 queued are pushed: the 19th
        // record is taken (and waits for room).
        for want in 1..=19 {
            let got = rx.recv_timeout(Duration::from_secs(60));
            assert_eq!(got, Ok(want), "record {want} not taken");
        }
        assert_eq!(j.state().pending.len(), 18);
        // The reader is woken when half the jobs ahead are done (8), and
        // then fills the room up again: 8 more come.
        for ix in 0..8 {
            let job = j.finish(ix, |_| false).map(|job| job.seq);
            assert_eq!(job, Some(ix as u64 + 1));
            j.release();
        }
        for want in 20..=27 {
            let got = rx.recv_timeout(Duration::from_secs(60));
            assert_eq!(got, Ok(want), "record {want} not taken");
        }
        j.control.stop(Stop::Input(String::new()), false);
        j.never_taken();
        reader.join().expect("the reader ends once the run stops");
    }
}
