//! The progress line of `spawn many` on a terminal: counts, failures and,
//! once the number of jobs is known, an ETA. It is drawn on stderr by
//! [`screen`](crate::screen), which erases it before any output and
//! redraws it below; off a terminal there is none.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::screen::screen;

/// Unknown total.
const UNKNOWN: u64 = u64::MAX;

/// The counts of a run, updated by the runner.
pub(crate) struct Counts {
    /// Running now (as the group says).
    pub running: AtomicU64,
    pub done: AtomicU64,
    pub failed: AtomicU64,
    total: AtomicU64,
    since: Instant,
    /// Why no job starts now (admission), if it is so.
    waiting: Mutex<Option<String>>,
}

impl Counts {
    pub(crate) fn new(total: Option<u64>) -> Counts {
        Counts {
            running: AtomicU64::new(0),
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(UNKNOWN)),
            since: Instant::now(),
            waiting: Mutex::new(None),
        }
    }

    /// Says why jobs wait to start (`None`: they do not).
    pub(crate) fn set_waiting(&self, why: Option<String>) {
        *self.waiting.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }

    /// The number of jobs is now known (the input ended).
    pub(crate) fn set_total(&self, n: u64) {
        self.total.store(n, Ordering::Relaxed);
    }

    /// The number of jobs, once known.
    pub(crate) fn total(&self) -> Option<u64> {
        let t = self.total.load(Ordering::Relaxed);
        (t != UNKNOWN).then_some(t)
    }

    /// The progress text.
    pub(crate) fn text(&self) -> String {
        let running = self.running.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let mut s = if total == UNKNOWN {
            format!("[{done} done")
        } else {
            format!("[{done}/{total} done")
        };
        if failed > 0 {
            s += &format!(", {failed} failed");
        }
        s += &format!(", {running} running");
        if total != UNKNOWN && done > 0 && done < total {
            let per_job = self.since.elapsed().as_secs_f64() / done as f64;
            let left = Duration::from_secs_f64(per_job * (total - done) as f64);
            let secs = left.as_secs();
            s += &format!(", ETA {}:{:02}", secs / 60, secs % 60);
        }
        if let Some(why) = &*self.waiting.lock().unwrap_or_else(PoisonError::into_inner) {
            s += &format!(", waiting: {why}");
        }
        s.push(']');
        s
    }
}

/// Redraws the progress line every 200 ms until dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts redrawing `counts` (only when stderr is a terminal).
    pub(crate) fn start(counts: &Arc<Counts>) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = screen().is_terminal().then(|| {
            let (stop, counts) = (Arc::clone(&stop), Arc::clone(counts));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    screen().progress(counts.text());
                    screen().tick();
                    std::thread::park_timeout(Duration::from_millis(200));
                }
            })
        });
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        screen().clear_progress();
    }
}
