//! [`Group`]: many commands at once, driven by one thread.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::driver::Engine;
use crate::wiring::Wiring;
use crate::{Command, Error, Output};

/// Where a [`Group`] is, for progress displays: counts of children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Finished (successfully or not).
    pub done: usize,
    /// Started and not finished.
    pub running: usize,
    /// Waiting for a running slot.
    pub queued: usize,
}

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
    max_running: usize,
    progress: Option<ProgressFn>,
    forwarder: Option<crate::Forwarder>,
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
    /// running child; see [`crate::Forwarder`].
    #[must_use]
    pub fn forward_signals(mut self, forwarder: &crate::Forwarder) -> Self {
        self.forwarder = Some(forwarder.clone());
        self
    }

    /// How many commands were added.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Whether no command was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Runs every command and returns one result per command, in the order
    /// added.
    ///
    /// # Errors
    /// Only when the driver itself cannot work (no epoll set); each child's
    /// own failure is a result in its place.
    pub fn run(&self) -> Result<Vec<Result<Output, Error>>, Error> {
        let mut engine = Engine::new(self.max_running, "group")?;
        engine.take_results_when_finished();
        let mut ix: Vec<Result<usize, Error>> = Vec::with_capacity(self.cmds.len());
        for cmd in &self.cmds {
            ix.push(Wiring::command(cmd).and_then(|w| engine.add(w)));
        }
        if let Some(p) = &self.progress {
            let p = Arc::clone(p);
            engine.set_progress(Box::new(move |pr| {
                (p.lock().unwrap_or_else(PoisonError::into_inner))(pr);
            }));
        }
        if let Some(f) = &self.forwarder {
            engine.set_forwarder(f);
        }
        engine.run(None)?;
        Ok(ix
            .into_iter()
            .map(|i| i.and_then(|i| engine.result(i)))
            .collect())
    }
}
