//! Tracing a run: every event the driver hands to the core and every output
//! the core returns, with the time since the run started. This is the window
//! into the state machine that `spawn trace` prints.

use std::time::Duration;

pub use spawn_core as core;

use crate::{Command, Error, Output};

/// One step of a traced run.
#[derive(Debug)]
pub struct Trace<'a> {
    /// Time since the run started.
    pub at: Duration,
    /// What happened.
    pub what: What<'a>,
    /// The parent's fd the step is about (a pipe end, or the child's pidfd
    /// for an exit), while it is open.
    pub fd: Option<i32>,
}

/// What a [`Trace`] step is.
#[derive(Debug)]
#[non_exhaustive]
pub enum What<'a> {
    /// An event handed to the core (readiness, bytes read or written, EOF, exit, …).
    Event(&'a core::Event),
    /// What the core answered: an action for the driver, or why and until when it waits.
    Output(&'a core::Output),
}

impl Command {
    /// Runs like [`run`](Command::run), calling `f` with every event and
    /// core output of the run, in order.
    ///
    /// # Errors
    /// As [`run`](Command::run).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut steps = 0;
    /// spawn::Command::new("true").run_traced(|_t| steps += 1)?;
    /// assert!(steps > 3);
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn run_traced<F>(&self, f: F) -> Result<Output, Error>
    where
        F: FnMut(&Trace<'_>) + Send,
    {
        crate::driver::run_one(self, Some(Box::new(f)))
    }
}
