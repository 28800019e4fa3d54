//! Backpressure per stream through the async driver (issue 27, section 2):
//! a `Sink::writer` that blocks does not block the runtime thread that
//! drives the run, so other runs on that thread go on.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

mod common;

use common::gate::{Gate, GatedWriter};

use spawn::{Command, Sink, Stdio};

#[test]
fn a_blocked_writer_sink_does_not_block_the_runtime_thread() {
    let gate = Arc::new(Gate::default());
    let bytes = Arc::new(AtomicU64::new(0));
    gate.watchdog();
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
