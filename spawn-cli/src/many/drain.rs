//! The drain after a stop by signal (TERM from a scheduler, Ctrl-C): no
//! job starts any more and the running ones get the signal; those still
//! running `--grace` later are stopped (TERM to their process groups, KILL
//! after the library's kill grace, 2 s), so that the run, its journal and
//! joblog flushed, ends within the grace a scheduler gives (Kubernetes'
//! `terminationGracePeriodSeconds`, 30 s by default; Slurm's `KillWait`).

use std::sync::Arc;
use std::time::Duration;

use spawn::Signal;

use super::control::{Control, Stop};

/// `--grace`'s default: with the kill grace, within Kubernetes' 30 s.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(25);

/// The time a stopped job gets between TERM and KILL.
const KILL_GRACE: Duration = spawn::DEFAULT_KILL_GRACE;

/// After the first `signal`: stops the running jobs of `control`
/// `grace` less the kill grace later (at once when the grace is shorter),
/// on a thread of its own that ends with the process.
pub(crate) fn stop_after(control: &Arc<Control>, signal: Signal, grace: Duration) {
    let c = Arc::clone(control);
    let wait = grace.saturating_sub(KILL_GRACE);
    let timer = std::thread::Builder::new()
        .name("spawn-many-grace".into())
        .spawn(move || {
            std::thread::sleep(wait);
            c.stop(Stop::Signal(signal), true);
        });
    if timer.is_err() {
        // No thread: stop the running jobs now rather than never.
        control.stop(Stop::Signal(signal), true);
    }
}
