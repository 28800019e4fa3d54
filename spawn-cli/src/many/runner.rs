//! The one place `spawn many` hands its jobs to the library: a
//! [`spawn::Group`] fed lazily from an iterator ([`Group::add_iter`]: a job
//! is built only when there is room for it), its results taken in
//! completion order ([`Group::results`]), stopped by a [`CancelToken`].

use spawn::{CancelToken, Command, Error, Forwarder, Group, Output};

/// Stops the running jobs of a run (stop signal, grace, KILL); the jobs
/// not started never start.
pub(crate) type Cancel = CancelToken;

/// Runs `cmds`, at most `max_running` at once (0: no limit), each pulled
/// only when there is room for it; yields `(index, result)` as each ends,
/// `index` counting the commands pulled from 0. Signals `forwarder` gets
/// are passed on to the running jobs.
pub(crate) fn results<I>(
    cmds: I,
    max_running: usize,
    cancel: &Cancel,
    forwarder: Option<&Forwarder>,
) -> impl Iterator<Item = (usize, Result<Output, Error>)>
where
    I: Iterator<Item = Command> + Send + 'static,
{
    let mut g = Group::new()
        .max_running(max_running)
        .cancel_on(cancel)
        .add_iter(cmds);
    if let Some(f) = forwarder {
        g = g.forward_signals(f);
    }
    g.results()
}
