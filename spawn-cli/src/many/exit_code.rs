//! `spawn many`'s exit codes, one contract a scheduler can act on (a
//! Kubernetes `podFailurePolicy`, a Slurm requeue): the ranges never
//! overlap, so "jobs failed", "the runner failed" and "stopped from
//! outside" are told apart.
//!
//! | code      | meaning                                                          |
//! |-----------|------------------------------------------------------------------|
//! | 0         | every job succeeded (or `--halt` halted on successes)            |
//! | 1–101     | that many jobs failed (101: 101 or more), GNU parallel's rule    |
//! | 125       | the runner's own error at run time: stdin unreadable, stdout, the joblog or the journal unwritable |
//! | 126       | a usage error: bad options or arguments, `--shard auto` with no scheduler's variables |
//! | 128+N     | stopped by signal N after the drain (130 INT, 143 TERM, 129 HUP) |
//! | 141       | our stdout is a closed pipe (as a process killed by SIGPIPE)     |
//!
//! With `--halt` and a threshold of one job, the code is that job's (as
//! GNU parallel's); see `spawn many --help`.

/// Every job succeeded.
pub(crate) const SUCCESS: i32 = 0;

/// The most the count of failed jobs gives.
pub(crate) const MAX_FAILED: i32 = 101;

/// The runner's own error at run time.
pub(crate) const RUNNER_ERROR: i32 = 125;

/// A usage error.
pub(crate) const USAGE: i32 = 126;

/// The code of a run in which `failed` jobs failed.
pub(crate) fn of_failed(failed: u64) -> i32 {
    if failed == 0 {
        return SUCCESS;
    }
    i32::try_from(failed).map_or(MAX_FAILED, |n| n.min(MAX_FAILED))
}

/// The code of a run stopped by `signal` (after the drain).
pub(crate) fn of_signal(signal: spawn::Signal) -> i32 {
    128 + signal.as_raw()
}

/// Says `msg` (naming `spawn many`) and returns [`USAGE`].
pub(crate) fn usage(msg: &str) -> i32 {
    crate::screen::screen().note(&format!("spawn many: {msg}"));
    USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_do_not_overlap() {
        assert_eq!(of_failed(0), SUCCESS);
        assert_eq!(of_failed(7), 7);
        assert_eq!(of_failed(5000), MAX_FAILED);
        assert_eq!(of_signal(spawn::Signal::TERM), 143);
        const { assert!(MAX_FAILED < RUNNER_ERROR && RUNNER_ERROR < USAGE && USAGE < 128) };
    }
}
