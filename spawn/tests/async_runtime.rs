//! The async API on a tokio runtime that cannot drive it: built without
//! its I/O driver, or without its timer. Every entry point returns
//! `Error::NoRuntime` naming the program and the builder call missing,
//! before anything starts: no panic, no child left running, no zombie.
//! (Before, tokio panicked: "IO is disabled" in every run, also after
//! `spawn_async` had started the child, and "timers are disabled" at the
//! first deadline of a run with a timeout.)

#![cfg(feature = "tokio")]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::HANG;
use spawn::{Command, Error, Group, Stdio};
use tokio::runtime::{Builder, Runtime};

/// The pids of this process's children not reaped yet (zombies included).
fn children() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(list.split_whitespace().map(str::to_owned));
    }
    out
}

fn no_children_soon() -> bool {
    let start = Instant::now();
    while !children().is_empty() {
        if start.elapsed() > HANG {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

fn assert_no_runtime(err: &Error, program: &str, needs: &str) {
    assert!(matches!(err, Error::NoRuntime { .. }), "{err:?}");
    assert_eq!(err.program(), program);
    assert_eq!(err.kind(), "no_runtime");
    assert!(err.to_string().contains(needs), "{err}");
}

/// Every async entry point, on `rt`, each of a command that would leave
/// a file behind if it started; all must fail with `needs` named.
fn every_entry_point_fails(rt: &Runtime, dir: &Path, timeout: Option<Duration>, needs: &str) {
    let touch = |name: &str| {
        let cmd = Command::new("touch").arg(dir.join(name));
        match timeout {
            Some(t) => cmd.timeout(t),
            None => cmd,
        }
    };
    let err = rt.block_on(touch("run").run_async()).unwrap_err();
    assert_no_runtime(&err, "touch", needs);
    let err = rt
        .block_on(touch("check").check_output_string_async())
        .unwrap_err();
    assert_no_runtime(&err, "touch", needs);
    let err = rt
        .block_on((touch("pipe") | Command::new("cat")).run_async())
        .unwrap_err();
    assert_no_runtime(&err, "touch | cat", needs);
    let err = rt
        .block_on(Group::new().add(touch("group")).run_async())
        .unwrap_err();
    assert_no_runtime(&err, "group", needs);
    let (index, result) = rt
        .block_on(async {
            Group::new()
                .add(touch("results"))
                .results_async()
                .next()
                .await
        })
        .unwrap();
    assert_eq!(index, 0);
    assert_no_runtime(&result.unwrap_err(), "touch", needs);
    let err = rt
        .block_on(async { touch("spawned").stdout(Stdio::piped()).spawn_async() })
        .unwrap_err();
    assert_no_runtime(&err, "touch", needs);

    assert!(no_children_soon(), "children left: {:?}", children());
    let started: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    assert!(started.is_empty(), "started: {started:?}");
}

#[test]
fn a_runtime_without_io_is_an_error_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Builder::new_current_thread().enable_time().build().unwrap();
    every_entry_point_fails(&rt, dir.path(), None, "enable_io()");
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    every_entry_point_fails(&rt, dir.path(), None, "enable_io()");
}

#[test]
fn a_runtime_without_time_is_an_error_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Builder::new_current_thread().enable_io().build().unwrap();
    let timeout = Some(Duration::from_secs(600));
    every_entry_point_fails(&rt, dir.path(), timeout, "enable_time()");
    // Also without a timeout of its own: the run's other deadlines (the
    // EOF grace, a cancel's kill grace) need the timer as well.
    every_entry_point_fails(&rt, dir.path(), None, "enable_time()");
}

#[test]
fn a_full_runtime_still_runs_after_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let bad = Builder::new_current_thread().enable_time().build().unwrap();
    every_entry_point_fails(&bad, dir.path(), None, "enable_io()");
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let out = rt
        .block_on(
            Command::new("echo")
                .arg("ok")
                .timeout(HANG)
                .check_output_string_async(),
        )
        .unwrap();
    assert_eq!(out, "ok\n");
    // And the bad one is still refused (nothing remembered wrongly).
    every_entry_point_fails(&bad, dir.path(), None, "enable_io()");
}
