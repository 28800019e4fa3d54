//! The one place `spawn many` hands its jobs to the library: a
//! [`spawn::Group`] fed lazily from an iterator ([`Group::add_iter`]: a job
//! is built only when there is room for it), its results taken in
//! completion order ([`Group::results`]), stopped by a [`CancelToken`].

use spawn::{CancelToken, Command, Error, Forwarder, Group, Output};

/// The most jobs one group runs; the next group takes the rest of the
/// input. A group's engine keeps every finished child's slot (and its
/// pidfd) until the group ends, and some of its work per event grows with
/// them: 10,000 jobs in one group took 6 times as long per job as 1,000,
/// and 20,000 ran out of fds. Until the engine recycles finished slots, a
/// group is ended after this many; the cost is that the last jobs of a
/// group run with fewer beside them while the group winds down.
pub(crate) const GROUP_JOBS: usize = 1024;

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
