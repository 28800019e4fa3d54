//! [`GroupResults`]: a [`Group`](super::Group)'s results in the order the
//! children finish, driven while the caller pulls. [`Group::run`](super::Group::run)
//! is this iterator collected into the order added: one way of driving a
//! group, not two.
//!
//! Commands are added to the engine as there is room for them (a window of
//! twice `max_running`, or [`UNLIMITED_WINDOW`] without a limit), so a lazy
//! source ([`Group::add_iter`](super::Group::add_iter)) is read only as fast
//! as children start, and the engine's state does not grow with the number
//! of commands.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::feed::Taken;
use crate::driver::{Engine, Ran, Until};
use crate::run_settings::{Precedence, RunSettings};
use crate::wiring::Wiring;
use crate::{Command, Error, Output};

/// Children in the engine at once when the group has no `max_running`.
pub(crate) const UNLIMITED_WINDOW: usize = 4096;

/// A lazy source of commands, shared by clones of a group.
pub(crate) type LazySource = Arc<Mutex<Box<dyn Iterator<Item = Command> + Send>>>;

/// One result: the command's index (in the order added) and what it gave.
pub(crate) type Indexed = (usize, Result<Output, Error>);

/// Where the commands come from: the group's own list (borrowed by
/// `run`, owned by `results`), then its lazy source.
enum Listed<'g> {
    Borrowed(std::slice::Iter<'g, Command>),
    Owned(std::vec::IntoIter<Command>),
}

/// The results of a [`Group`](super::Group) as its children finish: see
/// [`Group::results`](super::Group::results). Each item is the index of the
/// command (in the order added) and its result. Dropping it stops the
/// children still running with the normal teardown (the stop signal to each
/// child and its group, the grace, KILL) and reaps them in the background;
/// the commands not started are never started.
pub struct GroupResults<'g> {
    /// `None`: no engine could be made; every command gets `broken`.
    engine: Option<Engine<'static>>,
    broken: Option<std::io::Error>,
    listed: Listed<'g>,
    lazy: Option<LazySource>,
    /// The command index of each slot of the engine.
    index_of: Vec<usize>,
    /// Commands taken from the source so far.
    taken: usize,
    /// In the engine and not handed out.
    in_engine: usize,
    window: usize,
    /// The source has no more commands.
    drained: bool,
    /// Commands pushed while the group runs (`Group::add_feed`), after the
    /// others.
    feed: Option<super::feed::FeedSource>,
    /// Results known before their child started (a wiring refused).
    early: VecDeque<Indexed>,
    /// The group's run settings: each member's where it set none of its
    /// own (`Group::timeout` and friends).
    defaults: RunSettings,
}

impl std::fmt::Debug for GroupResults<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupResults")
            .field("started", &self.taken)
            .field("unfinished", &self.in_engine)
            .finish_non_exhaustive()
    }
}

impl<'g> GroupResults<'g> {
    fn new(
        engine: Option<Engine<'static>>,
        listed: Listed<'g>,
        lazy: Option<LazySource>,
        max_running: usize,
    ) -> Self {
        let window = if max_running == 0 {
            UNLIMITED_WINDOW
        } else {
            max_running.saturating_mul(2)
        };
        let mut engine = engine;
        if let Some(e) = engine.as_mut() {
            e.slots.track_finished();
        }
        GroupResults {
            engine,
            broken: None,
            listed,
            lazy,
            index_of: Vec::new(),
            taken: 0,
            in_engine: 0,
            window,
            drained: false,
            feed: None,
            early: VecDeque::new(),
            defaults: RunSettings::default(),
        }
    }

    pub(super) fn borrowed(
        engine: Engine<'static>,
        cmds: &'g [Command],
        lazy: Option<LazySource>,
        max_running: usize,
    ) -> Self {
        Self::new(
            Some(engine),
            Listed::Borrowed(cmds.iter()),
            lazy,
            max_running,
        )
    }

    pub(super) fn owned(
        engine: Engine<'static>,
        cmds: Vec<Command>,
        lazy: Option<LazySource>,
        max_running: usize,
    ) -> GroupResults<'static> {
        GroupResults::new(
            Some(engine),
            Listed::Owned(cmds.into_iter()),
            lazy,
            max_running,
        )
    }

    /// No engine could be made (`error`): every command gets that error as
    /// its result, nothing starts.
    pub(super) fn failed(
        error: Error,
        cmds: Vec<Command>,
        lazy: Option<LazySource>,
    ) -> GroupResults<'static> {
        let mut r = GroupResults::new(None, Listed::Owned(cmds.into_iter()), lazy, 1);
        r.broken = Some(std::io::Error::from(error));
        r
    }

    /// How many commands were taken from the source so far.
    pub(super) fn taken(&self) -> usize {
        self.taken
    }

    /// Takes commands from `feed` after the others (see
    /// [`Group::add_feed`](super::Group::add_feed)).
    pub(super) fn with_feed(mut self, feed: Option<super::feed::FeedSource>) -> Self {
        self.feed = feed;
        self
    }

    /// Gives every member the group's run settings where it set none of
    /// its own (see [`Group::timeout`](super::Group::timeout)).
    pub(super) fn with_defaults(mut self, defaults: RunSettings) -> Self {
        self.defaults = defaults;
        self
    }

    fn next_command(&mut self) -> Next {
        let listed = match &mut self.listed {
            Listed::Borrowed(it) => it.next().cloned(),
            Listed::Owned(it) => it.next(),
        };
        let lazy = listed.or_else(|| {
            self.lazy
                .as_ref()?
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next()
        });
        if let Some(cmd) = lazy {
            return Next::Command(cmd);
        }
        match self.feed.as_ref().map(super::feed::FeedSource::take) {
            Some(Taken::Command(cmd)) => Next::Command(cmd),
            Some(Taken::Empty) => Next::Later,
            Some(Taken::Closed) | None => Next::End,
        }
    }

    /// Every listed command not taken yet is cancelled in its place.
    fn cancel_listed(&mut self) {
        loop {
            let cmd = match &mut self.listed {
                Listed::Borrowed(it) => it.next().cloned(),
                Listed::Owned(it) => it.next(),
            };
            let Some(cmd) = cmd else { break };
            let index = self.taken;
            self.taken += 1;
            self.early.push_back((
                index,
                Err(crate::finish::cancelled_before_start(cmd.name())),
            ));
        }
    }

    /// Adds commands while there is room in the window.
    fn refill(&mut self) {
        while !self.drained && self.in_engine < self.window {
            if self.engine.as_ref().is_some_and(Engine::stops_starting) {
                // Cancelled, or `Group::stop_starting_on`: the listed
                // commands get their place, cancelled without starting; the
                // lazy source and the feed are not read any more.
                self.cancel_listed();
                self.drained = true;
                break;
            }
            let mut cmd = match self.next_command() {
                Next::Command(cmd) => cmd,
                Next::Later => break,
                Next::End => {
                    self.drained = true;
                    break;
                }
            };
            let index = self.taken;
            self.taken += 1;
            let Some(engine) = self.engine.as_mut() else {
                let broken = self.broken.as_ref().map_or_else(
                    || std::io::Error::other("no driver"),
                    |b| std::io::Error::new(b.kind(), b.to_string()),
                );
                self.early.push_back((
                    index,
                    Err(Error::io(&cmd.name(), "cannot drive the group", broken)),
                ));
                continue;
            };
            cmd.settings.take_outer(&self.defaults, Precedence::Own);
            match Wiring::command(&cmd, crate::wiring::Stops::ByOwner).and_then(|w| engine.add(w)) {
                Ok(slot) => {
                    if self.index_of.len() <= slot {
                        self.index_of.resize(slot + 1, usize::MAX);
                    }
                    self.index_of[slot] = index;
                    self.in_engine += 1;
                }
                Err(e) => self.early.push_back((index, Err(e))),
            }
        }
        let listed = match &self.listed {
            Listed::Borrowed(it) => it.len(),
            Listed::Owned(it) => it.len(),
        };
        if let Some(engine) = self.engine.as_mut() {
            engine.set_not_added(listed);
        }
    }

    /// The next result, or the error that stopped the engine itself (then
    /// what it still held is killed and reaped in the background).
    pub(super) fn next_result(&mut self) -> Result<Option<Indexed>, Error> {
        loop {
            match self.step() {
                Step::Item(r) => return Ok(Some(r)),
                Step::End => return Ok(None),
                Step::Drive => {
                    let Some(engine) = self.engine_mut() else {
                        continue;
                    };
                    let done = engine.run_until(None, Until::AnyFinished)? == Ran::Done;
                    self.driven(done);
                }
            }
        }
    }

    /// What the feeding decides without driving the engine: the next
    /// result known now, the end, or that the engine must be driven until
    /// a child finishes (the blocking `next_result` and the async stream
    /// both take this one step).
    pub(crate) fn step(&mut self) -> Step {
        loop {
            self.refill();
            if let Some(r) = self.early.pop_front() {
                return Step::Item(r);
            }
            let Some(engine) = self.engine.as_mut() else {
                if self.drained {
                    return Step::End;
                }
                continue;
            };
            if let Some(slot) = engine.slots.next_finished() {
                self.in_engine -= 1;
                let index = self.index_of.get(slot).copied().unwrap_or(slot);
                let result = crate::finish::result(engine, slot);
                // Only its result is kept: the engine reuses its slot.
                engine.remove(slot);
                return Step::Item((index, result));
            }
            if self.in_engine == 0 && self.drained {
                return Step::End;
            }
            return Step::Drive;
        }
    }

    /// The engine to drive on [`Step::Drive`].
    pub(crate) fn engine_mut(&mut self) -> Option<&mut Engine<'static>> {
        self.engine.as_mut()
    }

    /// After driving on [`Step::Drive`]: `all_done` when the engine said
    /// every child is finished.
    pub(crate) fn driven(&mut self, all_done: bool) {
        if all_done
            && !self
                .engine
                .as_ref()
                .is_some_and(|e| e.slots.has_finished_pending())
        {
            // Nothing left in the engine (a count gone wrong must not
            // spin here).
            self.in_engine = 0;
        }
    }

    /// The driver itself failed (`e`): every child it still held gets the
    /// error in its place, and is killed and reaped; the commands not
    /// started are never started. Returns the first of those results.
    pub(crate) fn fail(&mut self, e: Error) -> Option<Indexed> {
        let no_runtime = match &e {
            Error::NoRuntime { reason, .. } => Some(*reason),
            _ => None,
        };
        let kind = std::io::Error::from(e);
        let engine = self.engine.as_mut()?;
        for (slot, name) in engine.slots.unfinished() {
            let index = self.index_of.get(slot).copied().unwrap_or(slot);
            let err = match no_runtime {
                // Nothing started: each child's error says why, as its own.
                Some(reason) => Error::NoRuntime {
                    program: name,
                    reason,
                },
                None => {
                    let source = std::io::Error::new(kind.kind(), kind.to_string());
                    Error::io(&name, "driving the group's children", source)
                }
            };
            self.early.push_back((index, Err(err)));
        }
        engine.slots.kill_unfinished();
        self.in_engine = 0;
        self.drained = true;
        self.early.pop_front()
    }
}

/// One step of the feeding: see [`GroupResults::step`].
/// What the sources have next.
#[allow(clippy::large_enum_variant)] // moved out at once, never stored
enum Next {
    Command(Command),
    /// Nothing yet: the feed is open and empty.
    Later,
    /// Every source is exhausted.
    End,
}

#[allow(clippy::large_enum_variant)] // moved out at once, never stored
pub(crate) enum Step {
    /// A result.
    Item(Indexed),
    /// No more results.
    End,
    /// Drive the engine until a child finishes, then step again.
    Drive,
}

/// Results put back into the order the commands were added (`Group::run`
/// and `Group::run_async`).
#[derive(Default)]
pub(crate) struct InOrder(Vec<Option<Result<Output, Error>>>);

impl InOrder {
    pub(crate) fn put(&mut self, (index, result): Indexed) {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(result);
    }

    pub(crate) fn into_vec(self) -> Vec<Result<Output, Error>> {
        self.0.into_iter().flatten().collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl Iterator for GroupResults<'_> {
    type Item = (usize, Result<Output, Error>);

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_result() {
            Ok(r) => r,
            Err(e) => self.fail(e),
        }
    }
}
