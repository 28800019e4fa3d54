//! [`Group`]: many commands at once, driven by one thread, with their
//! results as they finish ([`GroupResults`]) or all at the end.

mod feed;
mod results;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::driver::{CancelScope, Engine};
use crate::run_settings::RunSettings;
use crate::{Command, Error, Output};

pub use crate::driver::Progress;
pub use feed::CommandFeed;
pub(crate) use feed::FeedSource;
pub use results::GroupResults;
pub(crate) use results::InOrder;
use results::LazySource;
#[cfg(feature = "tokio")]
pub(crate) use results::{Indexed, Step};

type ProgressFn = Arc<Mutex<dyn FnMut(Progress) + Send>>;

/// Many commands run at once by one thread, with at most
/// [`max_running`](Self::max_running) alive at a time. Each child's input is
/// fed and its output drained as in [`Command::run`], with no deadlock and no
/// child waiting behind another's endless output.
///
/// Results come back in the order the commands were added. One child failing
/// (not found, timed out, …) is an `Err` in its place, not the end of the
/// group.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Group, Stdio};
/// let results = Group::new()
///     .max_running(4)
///     .add_all((1..=8).map(|i| Command::new("echo").arg(i.to_string()).stdout(Stdio::piped())))
///     .add(Command::new("no-such-program"))
///     .run()?;
/// assert_eq!(results.len(), 9);
/// assert_eq!(results[7].as_ref().unwrap().stdout, b"8\n");
/// assert!(matches!(results[8], Err(spawn::Error::NotFound { .. })));
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Group {
    cmds: Vec<Command>,
    lazy: Option<LazySource>,
    max_running: usize,
    progress: Option<ProgressFn>,
    /// Every member's timeout, graces, stop signal and containment where it
    /// set none of its own; the cancel token and forwarder of the group.
    settings: RunSettings,
    stop_starting: Option<crate::CancelToken>,
    feed: Option<FeedSource>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("cmds", &self.cmds)
            .field("max_running", &self.max_running)
            .finish_non_exhaustive()
    }
}

impl Group {
    /// An empty group with no limit on how many children run at once.
    #[must_use]
    pub fn new() -> Self {
        Group::default()
    }

    /// Runs at most `n` children at once (`0`: no limit); the others wait
    /// their turn in the order added.
    #[must_use]
    pub fn max_running(mut self, n: usize) -> Self {
        self.max_running = n;
        self
    }

    /// Adds a command.
    #[allow(clippy::should_implement_trait)] // the contract's name; not addition
    #[must_use]
    pub fn add(mut self, cmd: impl Into<Command>) -> Self {
        self.cmds.push(cmd.into());
        self
    }

    /// Adds commands.
    #[must_use]
    pub fn add_all<I>(mut self, cmds: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Command>,
    {
        self.cmds.extend(cmds.into_iter().map(Into::into));
        self
    }

    /// Adds the commands of `cmds` lazily: each is taken from the iterator
    /// only when there is room to start it (within twice
    /// [`max_running`](Self::max_running) of the running ones), so a long
    /// or endless source (lines of stdin, a generator) starts running
    /// before its end is read, and memory does not grow with its length.
    /// They come after the commands given with [`add`](Self::add), in the
    /// iterator's order. A clone of the group shares the iterator: each
    /// command runs in whichever group takes it first.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Group, Stdio};
    /// let endless = (0..).map(|i| Command::new("echo").arg(i.to_string()).stdout(Stdio::piped()));
    /// let first: Vec<_> = Group::new().max_running(4).add_iter(endless).results().take(10).collect();
    /// assert_eq!(first.len(), 10);
    /// ```
    #[must_use]
    pub fn add_iter<I>(mut self, cmds: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Command> + 'static,
        I::IntoIter: Send + 'static,
    {
        let more: Box<dyn Iterator<Item = Command> + Send> =
            Box::new(cmds.into_iter().map(Into::into));
        self.lazy = Some(Arc::new(Mutex::new(match self.lazy.take() {
            // A second lazy source comes after the first.
            Some(first) => Box::new(ChainShared {
                first,
                done: false,
                more,
            }),
            None => more,
        })));
        self
    }

    /// Stops every member that runs longer than `timeout` from its own
    /// start, as [`Command::timeout`] does (the stop signal to it and its
    /// group, the grace, KILL), unless the member set a timeout of its own;
    /// that member's result is [`Error::Timeout`] and the others go on
    /// (GNU parallel's `--timeout`). Not a deadline for the whole group:
    /// for that, [`cancel_on`](Self::cancel_on) a token cancelled at the
    /// deadline.
    ///
    /// The group's run settings ([`timeout`](Self::timeout),
    /// [`kill_grace`](Self::kill_grace), [`eof_grace`](Self::eof_grace),
    /// [`stop_signal`](Self::stop_signal),
    /// [`containment`](Self::containment)) are its members' defaults: a
    /// member's own setting wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Group};
    /// use std::time::Duration;
    /// let results = Group::new()
    ///     .add(Command::new("sleep").arg("30"))
    ///     .add(Command::new("true"))
    ///     .timeout(Duration::from_millis(100))
    ///     .run()?;
    /// assert!(matches!(results[0], Err(Error::Timeout { .. })));
    /// assert!(results[1].as_ref().unwrap().status.success());
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// The [`Command::idle_timeout`](crate::Command::idle_timeout) of every
    /// member that set none of its own: a member that writes nothing for
    /// `idle` is stopped and its result is [`Error::IdleTimeout`].
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = Some(idle);
        self
    }

    /// The time between the [`stop_signal`](Self::stop_signal) and KILL
    /// for every member that set none of its own (default
    /// [`DEFAULT_KILL_GRACE`](crate::DEFAULT_KILL_GRACE)).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Group};
    /// use std::time::Duration;
    /// // A member that ignores TERM is killed 50 ms after it.
    /// let results = Group::new()
    ///     .add(Command::shell("trap '' TERM; sleep 30"))
    ///     .timeout(Duration::from_millis(100))
    ///     .kill_grace(Duration::from_millis(50))
    ///     .run()?;
    /// assert!(matches!(results[0], Err(Error::Timeout { .. })));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.settings.kill_grace = Some(grace);
        self
    }

    /// How long a member's stdout and stderr are still read after it
    /// exited, while something else (a background job it started) holds
    /// them open, for every member that set none of its own (default
    /// [`DEFAULT_EOF_GRACE`](crate::DEFAULT_EOF_GRACE)); then they are
    /// closed and the report says so (Go's `WaitDelay`).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Group, Stdio};
    /// use std::time::Duration;
    /// let results = Group::new()
    ///     .add(Command::shell("echo done; sleep 5 &").stdout(Stdio::piped()))
    ///     .eof_grace(Duration::from_millis(50))
    ///     .run()?;
    /// let out = results[0].as_ref().unwrap();
    /// assert_eq!(out.stdout, b"done\n");
    /// assert!(out.report.wall < Duration::from_secs(4));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn eof_grace(mut self, grace: Duration) -> Self {
        self.settings.eof_grace = Some(grace);
        self
    }

    /// The first signal of every teardown of a member that can wait (its
    /// timeout, an overflowing sink, a [`cancel_on`](Self::cancel_on)
    /// token, a dropped [`GroupResults`]), for every member that set none
    /// of its own: sent to the member and its group, then KILL after the
    /// [`kill_grace`](Self::kill_grace). Default
    /// [`Signal::TERM`](crate::Signal::TERM).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Group, Signal, Stdio};
    /// use std::time::Duration;
    /// let results = Group::new()
    ///     .add(Command::shell("trap 'echo got INT; exit 3' INT; sleep 30 & wait")
    ///         .stdout(Stdio::piped()))
    ///     .stop_signal(Signal::INT)
    ///     .timeout(Duration::from_millis(200))
    ///     .kill_grace(Duration::from_millis(200))
    ///     .run()?;
    /// let Err(Error::Timeout { partial, .. }) = &results[0] else { panic!() };
    /// assert_eq!(partial.stdout, b"got INT\n");
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn stop_signal(mut self, signal: crate::Signal) -> Self {
        self.settings.set_stop_signal(signal);
        self
    }

    /// The [`Command::stop_sequence`](crate::Command::stop_sequence) of
    /// every member that set no stop signal or sequence of its own.
    #[must_use]
    pub fn stop_sequence(
        mut self,
        steps: impl IntoIterator<Item = (crate::Signal, Duration)>,
    ) -> Self {
        self.settings
            .set_stop_sequence(crate::StopSequence::new(steps));
        self
    }

    /// What holds each member and what it starts for the teardown, for
    /// every member that set none of its own; see
    /// [`Containment`](crate::Containment). With
    /// [`Containment::Cgroup`](crate::Containment::Cgroup) each member gets
    /// a cgroup of its own.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use spawn::{Command, Containment, Group};
    /// // Nothing a member starts outlives it, not even `setsid` jobs.
    /// let results = Group::new()
    ///     .add_all((0..4).map(|_| Command::shell("setsid sleep 60 & echo started")))
    ///     .containment(Containment::Cgroup)
    ///     .run()?;
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn containment(mut self, containment: crate::Containment) -> Self {
        self.settings.containment = Some(containment);
        self
    }

    /// Cancels the group when `token` is cancelled: every running child is
    /// stopped as a timeout stops it (the stop signal to it and its group,
    /// the grace, KILL), every child not finished gets
    /// [`Error::Cancelled`] in its place (those never started have no
    /// output), and the finished ones keep their results. A member's own
    /// token (from [`Command::cancel_on`]) still cancels that member alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{CancelToken, Command, Error, Group};
    /// let token = CancelToken::new();
    /// token.cancel();
    /// let results = Group::new().add(Command::new("true")).cancel_on(&token).run()?;
    /// assert!(matches!(results[0], Err(Error::Cancelled { .. })));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn cancel_on(mut self, token: &crate::CancelToken) -> Self {
        self.settings.cancel = Some(token.clone());
        self
    }

    /// Takes commands pushed to `feed` while the group runs, after the
    /// others (see [`CommandFeed`]): the group starts them as they come
    /// and there is room, never blocks on the feed, and ends once the feed
    /// is closed and every command is done. A second feed replaces the
    /// first.
    #[must_use]
    pub fn add_feed(mut self, feed: &CommandFeed) -> Self {
        self.feed = Some(feed.source());
        self
    }

    /// Stops starting commands when `token` is cancelled, and lets the
    /// running ones finish (GNU parallel's `--halt soon`; a first Ctrl-C):
    /// the commands not started yet get [`Error::Cancelled`] in their place
    /// (they have no output), and no more are taken from the sources. For
    /// stopping the running ones too, see [`cancel_on`](Self::cancel_on).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{CancelToken, Command, Error, Group};
    /// let token = CancelToken::new();
    /// let halt = token.clone();
    /// let results = Group::new()
    ///     .max_running(1)
    ///     .add(Command::new("sh").args(["-c", "exit 1"]))
    ///     .add(Command::new("true"))
    ///     .on_progress(move |p| if p.done >= 1 { halt.cancel() })
    ///     .stop_starting_on(&token)
    ///     .run()?;
    /// assert_eq!(results[0].as_ref().unwrap().status.code(), Some(1));
    /// assert!(matches!(results[1], Err(Error::Cancelled { .. })));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn stop_starting_on(mut self, token: &crate::CancelToken) -> Self {
        self.stop_starting = Some(token.clone());
        self
    }

    /// Calls `f` whenever a child starts or finishes, with the counts (for
    /// a progress line). `f` runs on the driving thread: keep it short.
    #[must_use]
    pub fn on_progress<F>(mut self, f: F) -> Self
    where
        F: FnMut(Progress) + Send + 'static,
    {
        self.progress = Some(Arc::new(Mutex::new(f)));
        self
    }

    /// Passes the signals `forwarder` receives (e.g. Ctrl-C) on to every
    /// running child; see [`crate::Forwarder`]. A member's own
    /// [`Command::forward_signals`] is not used in a group: give the
    /// forwarder to the group.
    #[must_use]
    pub fn forward_signals(mut self, forwarder: &crate::Forwarder) -> Self {
        self.settings.forwarder = Some(forwarder.clone());
        self
    }

    /// How many commands were added with [`add`](Self::add) and
    /// [`add_all`](Self::add_all) (those of [`add_iter`](Self::add_iter)
    /// are not counted: they are not read yet).
    #[must_use]
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Whether no command was added (with [`add`](Self::add),
    /// [`add_all`](Self::add_all) or [`add_iter`](Self::add_iter)).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty() && self.lazy.is_none() && self.feed.is_none()
    }

    /// Runs every command and returns one result per command, in the order
    /// added. The same driving as [`results`](Self::results), collected.
    ///
    /// # Errors
    /// Only when the driver itself cannot work (no epoll set, `epoll_wait`
    /// failed); each child's own failure is a result in its place.
    pub fn run(&self) -> Result<Vec<Result<Output, Error>>, Error> {
        let mut engine = self.engine()?;
        engine.set_driving(crate::driver::Driving::InCall);
        let mut results =
            GroupResults::borrowed(engine, &self.cmds, self.lazy.clone(), self.max_running)
                .with_feed(self.feed.clone())
                .with_defaults(self.settings.clone());
        let mut all = InOrder::default();
        while let Some(r) = results.next_result()? {
            all.put(r);
        }
        debug_assert_eq!(all.len(), results.taken());
        Ok(all.into_vec())
    }

    /// The results as the children finish: each item is the index of the
    /// command (in the order added) and its result. Children are driven
    /// while the caller pulls (between two calls of `next` nothing is read,
    /// and a child blocked on a full pipe waits), so handling a result can
    /// take its time. Breaking out of the loop, or dropping the iterator,
    /// stops the children still running with the normal teardown (the stop
    /// signal to each child and its group, the grace, KILL: GNU parallel's
    /// `--halt now`) and reaps them in the background; the commands not
    /// started never start.
    ///
    /// When the driver itself fails (`epoll_wait`), every child it held
    /// gets that error as its result.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Group, Stdio};
    /// let group = Group::new()
    ///     .max_running(8)
    ///     .add_all(["3", "1", "2"].map(|s| Command::new("sh").args(["-c", "echo $0", s]).stdout(Stdio::piped())));
    /// for (index, result) in group.results() {
    ///     let out = result?;
    ///     println!("command {index} finished: {}", String::from_utf8_lossy(&out.stdout));
    /// }
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn results(self) -> GroupResults<'static> {
        let max = self.max_running;
        match self.engine() {
            Ok(engine) => GroupResults::owned(engine, self.cmds, self.lazy, max)
                .with_feed(self.feed)
                .with_defaults(self.settings),
            Err(e) => GroupResults::failed(e, self.cmds, self.lazy),
        }
    }

    /// The engine this group's children are driven by, with its hooks.
    fn engine(&self) -> Result<Engine<'static>, Error> {
        let mut engine = Engine::new(self.max_running);
        if let Some(p) = &self.progress {
            let p = Arc::clone(p);
            engine.set_progress(Box::new(move |pr| {
                (p.lock().unwrap_or_else(PoisonError::into_inner))(pr);
            }));
        }
        if let Some(f) = &self.settings.forwarder {
            engine.set_forwarder(f);
        }
        if let Some(token) = &self.settings.cancel {
            engine.cancel_on(token, CancelScope::All);
        }
        if let Some(token) = &self.stop_starting {
            engine.cancel_on(token, CancelScope::Queued);
        }
        if let Some(feed) = &self.feed {
            engine.watch_feed(Box::new(feed.clone()));
        }
        Ok(engine)
    }
}

/// Two lazy sources one after the other, the first shared with clones made
/// before the second was added.
struct ChainShared {
    first: LazySource,
    done: bool,
    more: Box<dyn Iterator<Item = Command> + Send>,
}

impl Iterator for ChainShared {
    type Item = Command;
    fn next(&mut self) -> Option<Command> {
        if !self.done {
            let next = self
                .first
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .next();
            if next.is_some() {
                return next;
            }
            self.done = true;
        }
        self.more.next()
    }
}
