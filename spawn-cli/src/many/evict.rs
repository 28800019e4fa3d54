//! `--memfree SIZE`'s second rule, GNU parallel's: "If less than 50% size
//! bytes are free, the youngest job will be killed … and put back on the
//! queue to be run later". A thread of its own ([`MemoryWatch`]) looks at
//! the memory available every [`RECHECK`] (the figure admission holds
//! starts by: [`Admission::memory_short`]) while the run goes on; below
//! half of SIZE it stops the youngest running job
//! ([`Jobs::stop_youngest`]) through that job's own cancel token: the
//! run's one teardown of a job (the stop signal to its process group, the
//! grace, KILL), as `--timeout` and `--halt now` stop one.
//!
//! The job is then put back ([`Jobs::put_back`]): that try is no result
//! (not printed, not counted as failed, in neither the joblog nor the
//! journal; what it held is discarded, as GNU parallel does), and the job
//! runs again, with its number, once SIZE is free. One job is never
//! stopped (it could never finish), and a stop waits for the job it
//! stopped to end before the next, so one short moment stops one job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::admission::{self, Admission, RECHECK};
use super::control::Control;
use super::feeder::Jobs;
use crate::screen::screen;

/// Watches the memory of a run until dropped (see the module docs).
pub(crate) struct MemoryWatch {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MemoryWatch {
    /// Starts watching for `jobs` when `admission` has `--memfree`; `None`
    /// without it (or when no thread can be made: then only starts are
    /// held, which the note says).
    pub(crate) fn start(
        jobs: &Arc<Jobs>,
        admission: Option<&Arc<Admission>>,
        control: &Arc<Control>,
    ) -> Option<MemoryWatch> {
        let admission = Arc::clone(admission.filter(|a| a.memfree.is_some())?);
        let done = Arc::new(AtomicBool::new(false));
        let (jobs, control, d) = (Arc::clone(jobs), Arc::clone(control), Arc::clone(&done));
        let spawned = std::thread::Builder::new()
            .name("spawn-many-memfree".into())
            .spawn(move || watch(&jobs, &admission, &control, &d));
        match spawned {
            Ok(t) => Some(MemoryWatch {
                done,
                thread: Some(t),
            }),
            Err(e) => {
                screen().note(&format!(
                    "spawn many: --memfree: cannot watch the memory ({e}): no job is stopped \
                     when it runs short"
                ));
                None
            }
        }
    }
}

fn watch(jobs: &Jobs, admission: &Admission, control: &Control, done: &AtomicBool) {
    while !done.load(Ordering::Relaxed) && !control.stopping() {
        if let Some((seq, free)) = jobs.stop_youngest(|| admission.memory_short()) {
            screen().note(&format!(
                "spawn many: --memfree: {} free, under half of {}: job {seq} (the youngest) \
                 stopped, to run again",
                admission::size(free),
                admission::size(admission.memfree.unwrap_or_default()),
            ));
        }
        std::thread::park_timeout(RECHECK);
    }
}

impl Drop for MemoryWatch {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
