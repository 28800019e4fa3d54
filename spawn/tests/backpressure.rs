//! Backpressure per stream (issue 27, section 2): a sink that cannot take
//! bytes now stops the reading of its own stream only, and the run goes on
//! serving every other child; no byte is dropped and the EOF grace is no
//! deadline for a slow sink. Against real processes, bytes counted where
//! they arrive.

use std::io::{self, Read as _, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

mod common;

use common::gate::{Gate, GatedWriter, HUNG};

use spawn::{Command, Group, Sink, Stdio};

/// Child 0 writes 4 MB into `slow` (a sink blocked at `gate`); child 1
/// says hi. Child 1's result must come while child 0's sink is still
/// blocked; then the gate opens and child 0 finishes with every byte.
fn second_child_is_not_held_back_by(slow: Sink, gate: &Arc<Gate>) -> spawn::Output {
    gate.watchdog();
    let group = Group::new()
        .add(
            Command::new("head")
                .args(["-c", "4000000", "/dev/zero"])
                .stdout(slow),
        )
        .add(Command::new("echo").arg("hi").stdout(Stdio::piped()));
    let (tx, rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        for (ix, r) in group.results() {
            let _ = tx.send((ix, r));
        }
    });
    let (first, r) = rx.recv_timeout(HUNG * 2).expect("a result");
    assert!(
        !gate.by_watchdog.load(Ordering::SeqCst),
        "child 1's result waited for child 0's blocked sink"
    );
    assert_eq!(first, 1, "child 1 finished first");
    assert_eq!(r.expect("echo").stdout, b"hi\n");
    assert!(!gate.is_open());
    gate.open();
    let (second, r) = rx.recv_timeout(HUNG * 2).expect("child 0's result");
    assert_eq!(second, 0);
    runner.join().unwrap();
    r.expect("child 0 ends well")
}

#[test]
fn a_blocked_writer_sink_does_not_hold_back_another_childs_result() {
    let gate = Arc::new(Gate::default());
    let bytes = Arc::new(AtomicU64::new(0));
    let slow = Sink::writer(GatedWriter {
        gate: Arc::clone(&gate),
        bytes: Arc::clone(&bytes),
    });
    let out = second_child_is_not_held_back_by(slow, &gate);
    assert_eq!(out.report.stdout_bytes, 4_000_000);
    assert_eq!(bytes.load(Ordering::SeqCst), 4_000_000);
}

#[test]
fn a_blocked_lines_callback_does_not_hold_back_another_childs_result() {
    let gate = Arc::new(Gate::default());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (g, l) = (Arc::clone(&gate), Arc::clone(&lines));
    let slow = Sink::lines(move |line| {
        g.wait();
        l.lock().unwrap().push(line.len());
    });
    // 4 MB of lines of 10 bytes and a last one of 4 without its newline.
    let slow_child = Command::shell("yes 0123456789 | head -c 4000000").stdout(slow);
    gate.watchdog();
    let group = Group::new()
        .add(slow_child)
        // The case: its result is due long before the 4 MB are
        // through the blocked callback.
        .add(Command::shell("sleep 0.3; echo hi").stdout(Stdio::piped()));
    let (tx, rx) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        for (ix, r) in group.results() {
            let _ = tx.send((ix, r));
        }
    });
    let (first, r) = rx.recv_timeout(HUNG * 2).expect("a result");
    assert!(
        !gate.by_watchdog.load(Ordering::SeqCst),
        "child 1's result waited for child 0's blocked callback"
    );
    assert_eq!(first, 1);
    assert_eq!(r.expect("echo").stdout, b"hi\n");
    gate.open();
    let (second, r) = rx.recv_timeout(HUNG * 2).expect("child 0's result");
    assert_eq!(second, 0);
    runner.join().unwrap();
    assert_eq!(r.expect("yes").report.stdout_bytes, 4_000_000);
    let mut want = vec![10; 4_000_000 / 11];
    want.push(4);
    assert!(*lines.lock().unwrap() == want, "every line, in order");
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {path:?}");
}

/// Runs `head -c 1000000` into `sink` (a sink on `fifo`), whose reader
/// takes 4 KiB at a time with a pause between reads (a slow consumer, a
/// tenth of a second per 64 KiB at least), with an EOF grace far shorter
/// than that: every byte reaches the reader, in order, and the run says
/// nothing was abandoned.
fn a_slow_fifo_reader_gets_every_byte(fifo: &Path, sink: Sink) {
    mkfifo(fifo);
    // The reader end first (a nonblocking open needs no writer), then
    // blocking reads.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
        .unwrap();
    spawn_sys::pipe::set_nonblocking(std::os::fd::AsFd::as_fd(&reader), false).unwrap();
    // A writer of the test's own until the run returned: the reader sees
    // the end of file only then (not before the run opened the FIFO).
    let held = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    let (tx, rx) = mpsc::channel();
    let counter = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            // The slowness being tested, not a synchronisation.
            std::thread::sleep(Duration::from_millis(6));
        }
        got
    });
    std::thread::spawn(move || {
        let r = Command::shell("seq 1 1000000 | head -c 1000000")
            .stdout(sink)
            .eof_grace(Duration::from_millis(10))
            .run();
        let _ = tx.send(r);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the run hangs")
        .expect("the run");
    drop(held);
    assert!(out.status.success());
    assert!(!out.report.stdout_abandoned, "{:?}", out.report);
    assert_eq!(out.report.stdout_bytes, 1_000_000);
    let got = counter.join().unwrap();
    let want = std::process::Command::new("sh")
        .args(["-c", "seq 1 1000000 | head -c 1000000"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(got.len(), 1_000_000, "bytes at the reader");
    assert!(got == want, "the bytes differ");
}

#[test]
fn a_file_sink_on_a_fifo_with_a_slow_reader_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    a_slow_fifo_reader_gets_every_byte(&fifo, Sink::file(&fifo));
}

#[test]
fn an_append_file_sink_on_a_fifo_with_a_slow_reader_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    a_slow_fifo_reader_gets_every_byte(&fifo, Sink::append_file(&fifo));
}

/// A panic in a callback run off the loop thread still unwinds through the
/// run, as it did when it ran on it.
#[test]
fn a_panicking_lines_callback_unwinds_through_the_run() {
    let r = std::panic::catch_unwind(|| {
        Command::new("echo")
            .arg("boom")
            .stdout(Sink::lines(|_| panic!("callback panicked")))
            .run()
            .is_ok()
    });
    let payload = r.expect_err("the panic comes through");
    let msg = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(msg, "callback panicked");
}

/// A writer's error is reported as before: the stream is drained, the run
/// fails with `Error::Io`.
#[test]
fn a_failing_writer_still_fails_the_run() {
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("no room"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let e = Command::new("head")
        .args(["-c", "3000000", "/dev/zero"])
        .stdout(Sink::writer(Failing))
        .timeout(HUNG)
        .run()
        .expect_err("the writer failed");
    assert!(matches!(e, spawn::Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("no room"), "{e}");
}
