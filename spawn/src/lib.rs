//! Start child processes and talk to them: Python's `subprocess`, done right.
//!
//! (Being written: see issue 4. Until then this crate is a stand-in over
//! `std::process` so that the CLI runs a real command.)

use std::ffi::OsString;
use std::io;
use std::process::{self, Stdio};

mod signal;
pub use signal::Signal;

/// A program to run, with its arguments.
#[derive(Clone, Debug)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
}

impl Command {
    /// A command that runs `program` (searched in `PATH` unless it contains `/`).
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the command with inherited stdio and returns its exit code (or 128+N
    /// when killed by signal N).
    ///
    /// # Errors
    /// When the program cannot be started.
    pub fn run_inherit(&self) -> io::Result<i32> {
        use std::os::unix::process::ExitStatusExt;
        let status = process::Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::inherit())
            .status()?;
        Ok(status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    }
}
