//! [`HeldRun`]: how a started [`Child`](crate::Child), or every stage of a
//! started [`PipelineChild`](crate::PipelineChild), is driven once it runs:
//! its processes are adopted into one [`Engine`] (the same loop `run`
//! uses), with the pipe ends it still holds drained into its sinks, its
//! input fed, its timeout, cancel token and forwarded signals applied.
//!
//! The engine is made by the first call that drives (a wait,
//! `communicate`, `lines`) and kept across calls until every process is
//! finished, so a call stopped by its own deadline or by a line ready is
//! resumed by the next one, and nothing read is lost between them.
//!
//! The state sits behind a mutex so that waits take `&self` from any
//! thread: one thread drives at a time (the engine is taken out of the
//! mutex while it runs), the others wait on a condition variable for it to
//! be done (or for their own deadline), then look again. Signals never take
//! this lock: they go to the [`Process`] directly.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use spawn_core::{ChildId, PerStream};

use super::pipes::HeldPipes;
use crate::driver::{Adopted, CancelScope, Engine, Ran, Until};
use crate::finish::StageResult;
use crate::process::Process;
use crate::wiring::{Terms, Wiring};
use crate::{CancelToken, Error, Output, Sink};

/// One started process, as a `Child` (or a pipeline stage) keeps it for
/// its engine.
pub(crate) struct Member {
    pub name: String,
    pub process: Arc<Process>,
    /// What its wiring tells the core; the timeout is replaced by what is
    /// left of `deadline` whenever an engine adopts it.
    pub terms: Terms,
    /// The member whose group it joined (a pipeline's later stages).
    pub member_of: Option<ChildId>,
    pub deadline: Option<Instant>,
    pub sinks: PerStream<Option<Sink>>,
    pub input: Option<Arc<Vec<u8>>>,
    pub cancel: Option<CancelToken>,
}

impl Member {
    /// A member from the wiring it was launched with; `member_of`: the
    /// member whose group it joined.
    pub(crate) fn new(
        wiring: &Wiring,
        process: Arc<Process>,
        started: Instant,
        member_of: Option<ChildId>,
    ) -> Self {
        Member {
            name: wiring.name.clone(),
            process,
            terms: wiring.terms(),
            member_of,
            deadline: wiring.timeout.and_then(|t| started.checked_add(t)),
            sinks: wiring.sinks.clone(),
            input: wiring.input.clone(),
            cancel: wiring.cmd.settings.cancel.clone(),
        }
    }
}

/// What a drive does with the stdin the first member still holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Feed<'a> {
    /// Feed this input (empty: the command's own, if any), then close it
    /// (`communicate`, `wait`, `lines`).
    Input(&'a [u8]),
    /// Feed the command's own input if it has one (then close it), else
    /// leave the stdin open in the `Child` for the caller to write to
    /// (`wait_timeout`).
    LeaveOpen,
}

/// What a drive came to.
pub(crate) enum Drove {
    /// Every member was reaped already; nothing was driven (waits only).
    Reaped,
    /// Every member is finished; the results, when asked for.
    Done(Option<Vec<StageResult>>),
    /// The `until` condition was reached (the engine is kept).
    Reached,
    /// The deadline passed (the engine is kept).
    Stopped,
}

/// The mutable part: see the module docs.
#[derive(Default)]
pub(crate) struct State {
    /// The pipe ends not taken and not yet given to the engine, per member.
    pub pipes: Vec<HeldPipes>,
    /// The engine the members are adopted into, once something drove them.
    pub engine: Option<Engine<'static>>,
    /// A thread drives the engine outside the lock.
    busy: bool,
    /// The result of a drive a wait carried to its end, for the next
    /// `communicate` (or `lines`).
    pub finished: Option<Result<Output, Error>>,
    /// The stdin was given to an engine or closed: input given later has
    /// nowhere to go.
    pub stdin_closed: bool,
}

/// See the module docs.
pub(crate) struct HeldRun {
    pub name: String,
    pub members: Vec<Member>,
    forwarder: Option<crate::Forwarder>,
    /// A token that stops every member (`Pipeline::cancel_on`).
    cancel_all: Option<CancelToken>,
    state: Mutex<State>,
    idle: Condvar,
}

/// Resets `busy` and wakes the waiters, also when a drive panics.
struct Busy<'a>(&'a HeldRun);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.state().busy = false;
        self.0.idle.notify_all();
    }
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

impl HeldRun {
    pub(crate) fn new(
        name: String,
        members: Vec<Member>,
        pipes: Vec<HeldPipes>,
        forwarder: Option<crate::Forwarder>,
    ) -> Self {
        HeldRun {
            name,
            members,
            forwarder,
            cancel_all: None,
            state: Mutex::new(State {
                pipes,
                ..State::default()
            }),
            idle: Condvar::new(),
        }
    }

    /// Stops every member when `token` is cancelled.
    pub(crate) fn cancel_all_on(&mut self, token: Option<CancelToken>) {
        self.cancel_all = token;
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, for callers that hold the `Child` mutably (no other
    /// thread can be in it).
    pub(crate) fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn all_reaped(&self) -> bool {
        self.members.iter().all(|m| m.process.reaped().is_some())
    }

    /// Drives the members until every one is finished, `until` is reached
    /// or `stop` passes; see [`Drove`]. `waiting`: a wait, which returns
    /// [`Drove::Reaped`] at once when there is nothing to wait for, and
    /// waits for another thread that drives meanwhile. `take`: on
    /// [`Drove::Done`], take the results (and the engine) out.
    ///
    /// # Errors
    /// Input given after driving started (or stdin not held); the engine
    /// could not be made or failed.
    pub(crate) fn drive(
        &self,
        feed: Feed<'_>,
        stop: Option<Instant>,
        until: Until,
        waiting: bool,
        take: bool,
    ) -> Result<Drove, Error> {
        let mut st = self.state();
        while st.busy {
            st = match stop {
                None => self.idle.wait(st).unwrap_or_else(PoisonError::into_inner),
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(Drove::Stopped);
                    }
                    self.idle
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        // Nothing to wait for; an engine still there is driven to its end
        // (it may hold the timeout or cancel that ended the child).
        if waiting && st.engine.is_none() && self.all_reaped() {
            return Ok(Drove::Reaped);
        }
        self.prepare(&mut st, feed)?;
        let Some(mut engine) = st.engine.take() else {
            unreachable!("prepared above")
        };
        st.busy = true;
        drop(st);
        let busy = Busy(self);
        let ran = engine.run_until(stop, until);
        let mut st = self.state();
        let drove = match ran {
            Ok(Ran::Done) if take => {
                let stages = (0..self.members.len())
                    .map(|i| crate::finish::stage_result(&mut engine, i))
                    .collect();
                Ok(Drove::Done(Some(stages)))
            }
            Ok(Ran::Done) => Ok(Drove::Done(None)),
            Ok(Ran::Reached) => Ok(Drove::Reached),
            Ok(Ran::Stopped) => Ok(Drove::Stopped),
            Err(e) => Err(e),
        };
        if !matches!(drove, Ok(Drove::Done(Some(_)))) {
            st.engine = Some(engine);
        }
        drop(st);
        drop(busy);
        drove
    }

    /// Input given to a `communicate`, as the first member's stdin takes
    /// it: on a pty, typed and ended with Ctrl-D (as the command's own
    /// input is, see `Wiring::on_pty`).
    fn typed(&self, input: &[u8]) -> Arc<Vec<u8>> {
        Arc::new(if self.members[0].process.has_pty() {
            crate::pty::input_with_eof(input)
        } else {
            input.to_vec()
        })
    }

    /// Makes the engine if there is none yet: every member adopted with
    /// the pipe ends it holds, the first one's stdin fed as `feed` says.
    fn prepare(&self, st: &mut State, feed: Feed<'_>) -> Result<(), Error> {
        let first = &self.members[0];
        if let Some(engine) = st.engine.as_mut() {
            if let Feed::Input(i) = feed {
                let held = st.pipes[0].stdin.take();
                if held.is_some() {
                    st.stdin_closed = true;
                }
                match (held, i.is_empty()) {
                    // Nothing more to feed: the stdin still held is closed.
                    (_, true) => {}
                    // Nothing was written yet (a `lines` or `wait_timeout`
                    // left the stdin open): the input goes to the engine.
                    (Some(stdin), false) => {
                        engine.give_stdin(0, OwnedFd::from(stdin), self.typed(i))?;
                    }
                    (None, false) => {
                        return Err(Error::invalid(
                            &self.name,
                            "cannot send input after communication started (a \
                             communicate_timeout fed the child's stdin already): call \
                             communicate with empty input to carry on",
                        ));
                    }
                }
            }
            return Ok(());
        }
        let (input, explicit): (Arc<Vec<u8>>, bool) = match feed {
            Feed::Input(i) if !i.is_empty() => (self.typed(i), true),
            _ => (first.input.clone().unwrap_or_default(), false),
        };
        let nowhere = st.stdin_closed || first.process.reaped().is_some();
        if explicit && st.pipes[0].stdin.is_none() && !nowhere {
            return Err(Error::invalid(
                &self.name,
                "input was given but the child's stdin is not a pipe we hold (was it taken, or not piped?)",
            ));
        }
        let give_stdin = !(matches!(feed, Feed::LeaveOpen) && input.is_empty());
        let mut engine = self.new_engine()?;
        for i in 0..self.members.len() {
            let pipes = &mut st.pipes[i];
            let stdin = if i == 0 && give_stdin {
                pipes.stdin.take().map(OwnedFd::from)
            } else {
                None
            };
            let fds = PerStream {
                stdin,
                stdout: pipes.stdout.take().map(OwnedFd::from),
                stderr: pipes.stderr.take().map(OwnedFd::from),
            };
            let input = (i == 0).then(|| Arc::clone(&input));
            self.adopt_member(&mut engine, i, fds, input)?;
        }
        if give_stdin {
            st.stdin_closed = true;
        }
        st.engine = Some(engine);
        Ok(())
    }

    /// An engine with the driver's forwarder and cancel token, no member
    /// in it yet.
    fn new_engine(&self) -> Result<Engine<'static>, Error> {
        let mut engine = Engine::new(0);
        if let Some(f) = &self.forwarder {
            engine.set_forwarder(f);
        }
        if let Some(token) = &self.cancel_all {
            engine.cancel_on(token, CancelScope::All);
        }
        Ok(engine)
    }

    /// Adopts member `i` into `engine` with the pipe ends `fds` (and its
    /// input, fed to its stdin when `fds` has it): what is left of its
    /// timeout, its graces, group teardown and cancel token apply.
    fn adopt_member(
        &self,
        engine: &mut Engine<'static>,
        i: usize,
        fds: PerStream<Option<OwnedFd>>,
        input: Option<Arc<Vec<u8>>>,
    ) -> Result<usize, Error> {
        let m = &self.members[i];
        let ix = engine.adopt(Adopted {
            process: Arc::clone(&m.process),
            fds,
            sinks: &m.sinks,
            terms: Terms {
                timeout: remaining(m.deadline),
                ..m.terms
            },
            member_of: m.member_of,
            input,
            name: &m.name,
        })?;
        if let Some(token) = &m.cancel {
            engine.cancel_on(token, CancelScope::Slot(ix));
        }
        Ok(ix)
    }

    #[cfg(feature = "tokio")]
    /// For a caller that holds the driver mutably and drives elsewhere (the
    /// async `communicate`): makes the engine if there is none, as a drive
    /// does, and lends it.
    pub(crate) fn engine_mut(&mut self, feed: Feed<'_>) -> Result<&mut Engine<'static>, Error> {
        let mut st = std::mem::take(self.state_mut());
        let prepared = self.prepare(&mut st, feed);
        *self.state_mut() = st;
        prepared?;
        match self.state_mut().engine.as_mut() {
            Some(engine) => Ok(engine),
            None => unreachable!("prepared above"),
        }
    }

    #[cfg(feature = "tokio")]
    /// An engine that watches the first member's exit alone (no pipes), for
    /// waits that run beside each other (the async `wait`): its timeout,
    /// teardown and cancel token apply. Returns the member's slot.
    pub(crate) fn exit_engine(&self) -> Result<(Engine<'static>, usize), Error> {
        let mut engine = self.new_engine()?;
        let ix = self.adopt_member(&mut engine, 0, PerStream::default(), None)?;
        Ok((engine, ix))
    }

    /// Gives the first member's pipe ends to the run: a `Child`'s at its
    /// start, an `AsyncChild`'s back (it holds them registered with its
    /// runtime until a drive needs them).
    pub(crate) fn hold(&mut self, fds: PerStream<Option<OwnedFd>>) {
        let held = &mut self.state_mut().pipes[0];
        let new = HeldPipes::new(fds);
        held.stdin = held.stdin.take().or(new.stdin);
        held.stdout = held.stdout.take().or(new.stdout);
        held.stderr = held.stderr.take().or(new.stderr);
    }

    #[cfg(feature = "tokio")]
    /// Whether an engine drives the members (a drive was stopped or dropped
    /// before its end).
    pub(crate) fn has_engine(&mut self) -> bool {
        self.state_mut().engine.is_some()
    }

    #[cfg(feature = "tokio")]
    /// Takes the first member's result out of a finished engine and drops
    /// the engine.
    pub(crate) fn finish_first(&mut self) -> Option<Result<Output, Error>> {
        let st = self.state_mut();
        let mut engine = st.engine.take()?;
        let result = crate::finish::result(&mut engine, 0);
        Some(result)
    }

    /// Keeps the result of a drive a wait finished, for `communicate`.
    pub(crate) fn keep(&self, result: Result<Output, Error>) {
        self.state().finished = Some(result);
    }

    /// The owner let go: closes the pipes, and hands every member not
    /// reaped to the background reaper (KILLed first, with what contains
    /// it, when `kill`). A member whose command has a timeout is handed
    /// over in its engine (made now if no call drove it yet), which the
    /// reaper drives to its end: the timeout and its teardown still apply
    /// after the drop, also to a teardown already under way.
    pub(crate) fn release(&mut self, kill: bool) {
        let timed = self
            .members
            .iter()
            .any(|m| m.deadline.is_some() && m.process.reaped().is_none());
        if timed && !kill {
            let mut st = self.state();
            // The command's input is fed, then the stdin closed, as the
            // drop of our end would close it.
            if self.prepare(&mut st, Feed::Input(&[])).is_ok()
                && let Some(mut engine) = st.engine.take()
            {
                st.pipes.clear();
                drop(st);
                engine.slots.own_children();
                crate::reaper::drive_later(Box::new(engine));
                return;
            }
        }
        let st = self.state_mut();
        st.pipes.clear();
        st.engine = None;
        for m in &self.members {
            if m.process.reaped().is_some() {
                continue;
            }
            if kill {
                m.process.kill_all();
            }
            crate::reaper::reap_later(Arc::clone(&m.process));
        }
    }
}
