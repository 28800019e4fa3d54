//! The jobs of a `spawn many` run between the input and the group: the
//! input is read on a thread of its own ([`Jobs::read`]), each record made a
//! job and pushed into the group's [`CommandFeed`], so that waiting for a
//! slow input (`tail -f`, a slow `find`) never holds up the running jobs.
//!
//! The reader is bounded: it waits while `-j` jobs are pushed and not
//! finished, so memory does not grow with the input. The runner takes each
//! finished job back ([`Jobs::finish`]), pushing a failed one again for
//! `--retries`, and makes room for the next only once it has decided on the
//! result ([`Jobs::release`]: after `--halt`).
//!
//! The bound is `-j` and not more because the group starts a queued command
//! in the slot a finished one freed before it hands out that one's result:
//! with commands queued ahead, a `--halt soon` decided on the result would
//! come one job late in each slot. With none queued, no job starts after
//! the halt but those running when it was decided. The feed is closed once
//! the input has ended and no job is left that could be tried again.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use spawn::CommandFeed;

use super::control::{Control, Stop};
use super::input::Records;
use super::job::{Job, Launch};
use super::output::{self, BufPool, Mode};
use super::progress::Counts;

/// The bound when `-j 0` (no limit on running jobs).
const UNLIMITED_BOUND: usize = 8192;

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
}

/// The jobs of one run (see the module docs).
pub(crate) struct Jobs {
    feed: CommandFeed,
    state: Mutex<State>,
    room: Condvar,
    bound: usize,
    launch: Arc<Launch>,
    mode: Mode,
    control: Arc<Control>,
    /// The buffers jobs hold their output in (`--group`).
    pool: Arc<BufPool>,
}

impl Jobs {
    /// The jobs of a run of `launch` in `mode`, at most `max_running` at
    /// once (0: no limit).
    pub(crate) fn new(
        launch: Arc<Launch>,
        mode: Mode,
        control: Arc<Control>,
        pool: Arc<BufPool>,
        max_running: usize,
    ) -> Jobs {
        let bound = if max_running == 0 {
            UNLIMITED_BOUND
        } else {
            max_running
        };
        Jobs {
            feed: CommandFeed::new(),
            state: Mutex::new(State::default()),
            room: Condvar::new(),
            bound,
            launch,
            mode,
            control,
            pool,
        }
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
        let cmd = output::route(
            self.mode,
            self.launch.command(&job),
            &mut job,
            &self.control,
            &self.pool,
        );
        if self.feed.push(cmd) {
            state.pending.insert(state.next_index, job);
            state.next_index += 1;
        }
    }

    /// Closes the feed if nothing more can come.
    fn settle(&self, state: &State) {
        if state.input_ended && state.pending.is_empty() {
            self.feed.close();
        }
    }

    /// Reads `records` to their end (or until the run stops), pushing a job
    /// for each, never more than the bound unfinished; then
    /// says the input ended (its count in `counts`). A read error stops the
    /// run soon.
    pub(crate) fn read(&self, records: Records, counts: &Counts) {
        let mut seq = 0u64;
        for r in records {
            let inputs = match r {
                Ok(inputs) => inputs,
                Err(e) => {
                    self.control
                        .stop(Stop::Input(format!("cannot read stdin: {e}")), false);
                    break;
                }
            };
            let mut state = self.state();
            while state.pending.len() + state.deciding >= self.bound && !self.control.stopping() {
                state = self
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if self.control.stopping() {
                break;
            }
            seq += 1;
            let job = self.launch.job(seq, &inputs);
            self.push(&mut state, job);
        }
        if !self.control.stopping() {
            counts.set_total(seq);
        }
        let mut state = self.state();
        state.input_ended = true;
        self.settle(&state);
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
        state.deciding += 1;
        self.settle(&state);
        Some(job)
    }

    /// The runner has decided on a job [`finish`](Self::finish) gave it (and
    /// stopped the run if it had to): the next job may be pushed.
    pub(crate) fn release(&self) {
        let mut state = self.state();
        state.deciding = state.deciding.saturating_sub(1);
        drop(state);
        self.room.notify_one();
    }

    /// The jobs pushed that never got a result (the run stopped before
    /// the group took them); the reader is told to stop waiting.
    pub(crate) fn never_taken(&self) -> usize {
        let n = self.state().pending.len();
        self.room.notify_all();
        n
    }
}
