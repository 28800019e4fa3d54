//! Why and how a `spawn many` run stops early: one place that Ctrl-C, a
//! broken stdout, `--halt` and a failed read of stdin all go through.
//! Stopping *soon* means no job starts any more; stopping *now* also stops
//! the running ones (their stop signal, the grace, then KILL, as a timeout
//! does).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use spawn::Signal;

use super::runner::Cancel;
use crate::screen::Failure;

/// Why the run stopped early.
#[derive(Clone, Debug)]
pub(crate) enum Stop {
    /// A signal (Ctrl-C, `kill`, a hang-up).
    Signal(Signal),
    /// Writing our stdout failed.
    Output(Failure),
    /// `--halt` was triggered; the exit code it leaves, if not the usual.
    Halt(Option<i32>),
    /// Reading stdin failed.
    Input(String),
}

/// The stop state of one run.
pub(crate) struct Control {
    stopping: AtomicBool,
    cancel: Cancel,
    why: Mutex<Option<Stop>>,
}

impl Control {
    pub(crate) fn new() -> Control {
        Control {
            stopping: AtomicBool::new(false),
            cancel: Cancel::new(),
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
        if now {
            self.cancel.cancel();
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

    /// The token that stops the running jobs.
    pub(crate) fn cancel_token(&self) -> &Cancel {
        &self.cancel
    }
}
