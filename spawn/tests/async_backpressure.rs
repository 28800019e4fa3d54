//! Backpressure per stream through the async driver (issue 27, section 2):
//! a `Sink::writer` that blocks does not block the runtime thread that
//! drives the run, so other runs on that thread go on.
#![cfg(feature = "tokio")]

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use spawn::{Command, Sink, Stdio};

/// How long before the test calls the runtime thread blocked.
const HUNG: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    by_watchdog: AtomicBool,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

struct GatedWriter {
    gate: Arc<Gate>,
    bytes: Arc<AtomicU64>,
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

#[test]
fn a_blocked_writer_sink_does_not_block_the_runtime_thread() {
    let gate = Arc::new(Gate::default());
    let bytes = Arc::new(AtomicU64::new(0));
    let watchdog = Arc::clone(&gate);
    std::thread::spawn(move || {
        let open = watchdog.open.lock().unwrap();
        let (open, waited) = watchdog
            .opened
            .wait_timeout_while(open, HUNG, |open| !*open)
            .unwrap();
        if waited.timed_out() {
            drop(open);
            watchdog.by_watchdog.store(true, Ordering::SeqCst);
            watchdog.open();
        }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let slow = Sink::writer(GatedWriter {
        gate: Arc::clone(&gate),
        bytes: Arc::clone(&bytes),
    });
    let out = rt.block_on(async {
        let slow_run = tokio::spawn(
            Command::new("head")
                .args(["-c", "4000000", "/dev/zero"])
                .stdout(slow)
                .run_async(),
        );
        // Let the slow run start and reach its writer first.
        tokio::task::yield_now().await;
        let hi = Command::new("echo")
            .arg("hi")
            .stdout(Stdio::piped())
            .run_async()
            .await
            .expect("echo");
        assert!(
            !gate.by_watchdog.load(Ordering::SeqCst),
            "the echo waited for the other run's blocked writer"
        );
        assert_eq!(hi.stdout, b"hi\n");
        gate.open();
        slow_run.await.expect("joined").expect("head")
    });
    assert_eq!(out.report.stdout_bytes, 4_000_000);
    assert_eq!(bytes.load(Ordering::SeqCst), 4_000_000);
}
