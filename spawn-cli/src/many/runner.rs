//! The one place `spawn many` hands its jobs to the library: ONE
//! [`spawn::Group`] per run, taking its commands from a [`CommandFeed`]
//! as the input reader pushes them ([`Group::add_feed`]: the group never
//! blocks on the input), its results taken in completion order
//! ([`Group::results`]), stopped soon ([`Group::stop_starting_on`]) or now
//! ([`Group::cancel_on`]).

use spawn::{CancelToken, CommandFeed, Error, Forwarder, Group, Output, Progress};

/// How the run's group is stopped and watched.
pub(crate) struct Hooks<'a> {
    /// Cancelled: no job starts any more; the running ones finish.
    pub soon: &'a CancelToken,
    /// Cancelled: the running jobs are stopped too (stop signal, grace,
    /// KILL).
    pub now: &'a CancelToken,
    /// Signals it gets are passed on to the running jobs.
    pub forwarder: Option<&'a Forwarder>,
    /// Called as jobs start and end.
    pub progress: Box<dyn FnMut(Progress) + Send>,
}

/// Runs the commands pushed to `feed`, at most `max_running` at once (0:
/// no limit), until the feed is closed and every one is done or the run is
/// stopped; yields `(index, result)` as each ends, `index` counting the
/// commands in the order pushed, from 0.
pub(crate) fn results(
    feed: &CommandFeed,
    max_running: usize,
    hooks: Hooks<'_>,
) -> impl Iterator<Item = (usize, Result<Output, Error>)> {
    let mut g = Group::new()
        .max_running(max_running)
        .add_feed(feed)
        .stop_starting_on(hooks.soon)
        .cancel_on(hooks.now)
        .on_progress(hooks.progress);
    if let Some(f) = hooks.forwarder {
        g = g.forward_signals(f);
    }
    g.results()
}
