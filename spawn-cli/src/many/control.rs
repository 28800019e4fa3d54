//! Why and how a `spawn many` run stops early: one place that Ctrl-C, a
//! broken stdout, `--halt` and a failed read of stdin all go through.
//! Stopping *soon* means no job starts any more and the running ones
//! finish (the group's [`stop_starting_on`](spawn::Group::stop_starting_on));
//! stopping *now* also stops the running ones (their stop signal, the
//! grace, then KILL, as a timeout does: the group's
//! [`cancel_on`](spawn::Group::cancel_on)).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use spawn::{CancelToken, Signal};

use crate::screen::Failure;

/// Why the run stopped early.
#[derive(Clone, Debug)]
pub(crate) enum Stop {
    /// A signal (Ctrl-C, `kill`, a hang-up).
    Signal(Signal),
    /// Writing our stdout failed.
    Output(Failure),
    /// `--halt` was triggered; the exit code it leaves.
    Halt(i32),
    /// Reading stdin failed.
    Input(String),
}

/// The stop state of one run.
pub(crate) struct Control {
    stopping: AtomicBool,
    /// Cancelled to stop soon: no job starts any more.
    soon: CancelToken,
    /// Cancelled to stop now: the running jobs are stopped too.
    now: CancelToken,
    why: Mutex<Option<Stop>>,
}

impl Control {
    pub(crate) fn new() -> Control {
        Control {
            stopping: AtomicBool::new(false),
            soon: CancelToken::new(),
            now: CancelToken::new(),
            why: Mutex::new(None),
        }
    }

    /// Stops launching jobs and, if `now`, stops the running ones. The
    /// first reason given is the one kept.
    pub(crate) fn stop(&self, why: Stop, now: bool) {
        {
            let mut w = self.why.lock().unwrap_or_else(PoisonError::into_inner);
            if w.is_none() {
                *w = Some(why);
            }
        }
        self.stopping.store(true, Ordering::SeqCst);
        self.soon.cancel();
        if now {
            self.now.cancel();
        }
    }

    /// Whether no more jobs may start.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Why the run stopped early, if it did.
    pub(crate) fn why(&self) -> Option<Stop> {
        self.why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the run's stop ended the job that gave `result` (it did not
    /// fail on its own): stopped by us (Ctrl-C's second, `--halt now`, a
    /// closed stdout), or killed by the signal passed on to it.
    pub(crate) fn ended_it(&self, result: &Result<spawn::Output, spawn::Error>) -> bool {
        match (self.why(), result) {
            (None, _) => false,
            (Some(_), Err(spawn::Error::Cancelled { .. })) => true,
            (Some(Stop::Signal(sig)), Ok(o)) => o.status.signal() == Some(sig.as_raw()),
            (Some(_), _) => false,
        }
    }

    /// The token cancelled when no job may start any more.
    pub(crate) fn soon_token(&self) -> &CancelToken {
        &self.soon
    }

    /// The token cancelled when the running jobs are to be stopped.
    pub(crate) fn now_token(&self) -> &CancelToken {
        &self.now
    }
}
