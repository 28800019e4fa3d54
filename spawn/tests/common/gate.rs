//! A gate a sink waits at until the test opens it, with a watchdog that
//! opens it when a run hangs: the backpressure tests' blocked sinks.

#![allow(dead_code)] // each test binary uses some of it

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a test waits for what must come at once before it calls the
/// run hung (and opens the gate, so that the run can end).
pub const HUNG: Duration = Duration::from_secs(20);

/// A gate a sink waits at until the test opens it.
#[derive(Default)]
pub struct Gate {
    pub open: Mutex<bool>,
    pub opened: Condvar,
    /// The watchdog opened it: the run was hung.
    pub by_watchdog: AtomicBool,
}

impl Gate {
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    pub fn is_open(&self) -> bool {
        *self.open.lock().unwrap()
    }

    /// Opens the gate after [`HUNG`] unless it was opened before, and says
    /// so: a run the gate blocked can end and the test fail instead of hang.
    pub fn watchdog(self: &Arc<Self>) {
        let gate = Arc::clone(self);
        std::thread::spawn(move || {
            let open = gate.open.lock().unwrap();
            let (open, waited) = gate
                .opened
                .wait_timeout_while(open, HUNG, |open| !*open)
                .unwrap();
            if waited.timed_out() {
                drop(open);
                gate.by_watchdog.store(true, Ordering::SeqCst);
                gate.open();
            }
        });
    }
}

/// A writer that waits at the gate before its first write, then counts.
pub struct GatedWriter {
    pub gate: Arc<Gate>,
    pub bytes: Arc<AtomicU64>,
}

impl Write for GatedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.gate.wait();
        self.bytes.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
