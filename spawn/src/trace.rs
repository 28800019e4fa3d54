//! Tracing a run: every event the driver hands to the core and every output
//! the core returns, with the time since the run started. This is the window
//! into the state machine that `spawn trace` prints.

pub use spawn_core as core;

use crate::{Command, Error, Output};

pub use crate::driver::{Trace, What};

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
        crate::run_one::run_one(self, Some(Box::new(f)))
    }
}
