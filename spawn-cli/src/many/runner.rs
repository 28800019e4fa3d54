//! The one place `spawn many` hands its jobs to the library: a
//! [`spawn::Group`] fed lazily from an iterator, results taken in
//! completion order.
//!
//! TEMPORARY: until `Group::{add_iter, results, cancel_on}` land, this runs
//! the commands in chunks through `Group::run` (no stop of running jobs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use spawn::{Command, Error, Forwarder, Group, Output};

/// Stops the running jobs of a run (stop signal, grace, KILL).
#[derive(Clone, Debug, Default)]
pub(crate) struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub(crate) fn new() -> Cancel {
        Cancel::default()
    }

    pub(crate) fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `cmds`, at most `max_running` at once (0: no limit), each pulled
/// only when there is room for it; yields `(index, result)` as each ends,
/// `index` counting the commands pulled from 0.
pub(crate) fn results<I>(
    cmds: I,
    max_running: usize,
    cancel: &Cancel,
    forwarder: Option<&Forwarder>,
) -> Box<dyn Iterator<Item = (usize, Result<Output, Error>)>>
where
    I: Iterator<Item = Command> + Send + 'static,
{
    let chunk = max_running.max(1) * 8;
    let fwd = forwarder.cloned();
    let _ = cancel;
    let mut cmds = cmds.fuse();
    let mut base = 0;
    Box::new(
        std::iter::from_fn(move || {
            let batch: Vec<Command> = cmds.by_ref().take(chunk).collect();
            if batch.is_empty() {
                return None;
            }
            let n = batch.len();
            let mut g = Group::new().max_running(max_running).add_all(batch);
            if let Some(f) = &fwd {
                g = g.forward_signals(f);
            }
            let rs = match g.run() {
                Ok(rs) => rs,
                Err(e) => {
                    eprintln!("spawn many: {e}");
                    return None;
                }
            };
            let first = base;
            base += n;
            Some(rs.into_iter().enumerate().map(move |(i, r)| (first + i, r)))
        })
        .flatten(),
    )
}
