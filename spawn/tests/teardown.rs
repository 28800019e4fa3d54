//! The teardown that ends everything a run started, and the one path every
//! entry point takes (issue 12): a child that leaves its group,
//! `kill_on_drop` of a group leader, pipelines in one group, a `Child`
//! whose state survives a timed-out `communicate`. (Timeouts that reach a
//! group member that ignores TERM, a leader that exits first, pipeline
//! teardown and sinks are in the shared case table, `tests/cases`, which
//! the blocking and the async drivers both run.)
//!
//! Grandchildren print their pid first; a test then checks in `/proc` that
//! the pid is gone (or a zombie, if nobody reaps orphans here) by the time
//! the call returned.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HANG, alive, gone_soon};
use spawn::{Command, Error, Forwarder, Signal, Stdio};

#[test]
fn a_child_that_leaves_its_group_is_still_stopped_at_its_timeout() {
    let start = Instant::now();
    let err = Command::new("python3")
        .args([
            "-c",
            "import os, time; os.setpgid(0, os.getpgid(os.getppid())); time.sleep(30)",
        ])
        .timeout(Duration::from_millis(300))
        .kill_grace(Duration::from_millis(200))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn kill_on_drop_of_a_group_leader_kills_its_group() {
    let mut child = Command::shell("sleep 37 & echo $!; wait")
        .stdout(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.take_stdout().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let member: u32 = line.trim().parse().unwrap();
    assert!(alive(member));
    drop(child);
    assert!(gone_soon(member), "the member {member} survived the drop");
}

#[test]
fn a_pipeline_runs_in_one_group_led_by_its_first_stage() {
    let out = (Command::new("python3").args(["-c", "import os; print(os.getpid(), os.getpgrp())"])
        | Command::new("python3").args([
            "-c",
            "import os, sys; print(sys.stdin.read().strip(), os.getpgrp())",
        ]))
    .stdout(Stdio::piped())
    .run()
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let nums: Vec<u32> = text
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 3, "{text}");
    if spawn_sys::has_controlling_terminal() {
        // In a terminal the stages stay in our group, where its Ctrl-C
        // reaches them (their stops walk their descendants).
        let own = rustix::process::getpgrp()
            .as_raw_nonzero()
            .get()
            .unsigned_abs();
        assert_eq!(
            (nums[1], nums[2]),
            (own, own),
            "the stages stay in our group"
        );
        return;
    }
    assert_eq!(nums[0], nums[1], "the first stage leads its group");
    assert_eq!(nums[2], nums[0], "the second stage joined it");
    assert_ne!(
        nums[0] as i32,
        rustix::process::getpgrp().as_raw_nonzero().get()
    );
}

/// A child that prints `a`, waits for `flag` to exist, prints `b`.
fn flagged(flag: &Path) -> Command {
    Command::shell("echo a; while [ ! -e \"$1\" ]; do sleep 0.01; done; echo b")
        .arg(flag)
        .stdout(Stdio::piped())
        // A failed test must not leave it polling forever.
        .kill_on_drop(true)
}

#[test]
fn a_reap_after_a_timed_out_communicate_keeps_the_status_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let mut child = flagged(&flag).spawn().unwrap();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    fs::write(&flag, "").unwrap();
    let status = child.wait_timeout(HANG).unwrap().expect("exited");
    assert!(status.success());
    let out = child.communicate(b"").unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
    assert!(out.status.success());
}

#[test]
fn wait_after_a_timed_out_communicate_keeps_the_output_for_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let mut child = flagged(&flag).spawn().unwrap();
    assert!(
        child
            .communicate_timeout(b"", Duration::from_millis(50))
            .is_err()
    );
    fs::write(&flag, "").unwrap();
    assert!(child.wait().unwrap().success());
    let out = child.communicate(b"").unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
}

#[test]
fn communicate_with_input_after_wait_returns_normally() {
    let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    assert!(child.wait().unwrap().success());
    let out = child.communicate(b"nowhere to go").unwrap();
    assert!(out.status.success());
}

#[test]
fn a_zero_communicate_timeout_takes_what_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let mut child = flagged(&flag).spawn().unwrap();
    let start = Instant::now();
    loop {
        match child.communicate_timeout(b"", Duration::ZERO) {
            Err(Error::Timeout { partial, .. }) if partial.stdout == b"a\n" => break,
            Err(Error::Timeout { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(start.elapsed() < HANG, "a zero timeout never read a byte");
        std::thread::yield_now();
    }
    fs::write(&flag, "").unwrap();
    assert_eq!(child.communicate(b"").unwrap().stdout, b"a\nb\n");
}

#[test]
fn a_spawned_command_with_a_timeout_is_stopped_by_communicate_and_wait() {
    let start = Instant::now();
    let mut child = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let err = child.communicate(b"").unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let child = Command::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let err = child.wait().unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_handed_in_fd_is_not_kept_open_by_the_child() {
    // yes | head -c 10, by hand: yes must get SIGPIPE once head is done,
    // which needs every copy of the pipe's read end closed.
    let mut yes = Command::new("yes").stdout(Stdio::piped()).spawn().unwrap();
    let pipe = yes.take_stdout().unwrap();
    let mut head = Command::new("head")
        .args(["-c", "10"])
        .stdin(pipe)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(head.communicate(b"").unwrap().stdout, b"y\ny\ny\ny\ny\n");
    let status = yes.wait_timeout(HANG).unwrap().expect("yes got SIGPIPE");
    assert_eq!(status.signal(), Some(Signal::PIPE.as_raw()));
}

#[test]
fn forward_signals_reach_a_spawned_child() {
    let fwd = Forwarder::new().unwrap();
    let child = Command::new("sleep")
        .arg("30")
        .forward_signals(&fwd)
        .spawn()
        .unwrap();
    fwd.forward(Signal::TERM);
    let status = child.wait_timeout(HANG).unwrap().expect("stopped");
    assert_eq!(status.signal(), Some(Signal::TERM.as_raw()));
}

#[test]
fn run_traced_honours_forward_signals_as_run_does() {
    let fwd = Forwarder::new().unwrap();
    fwd.forward(Signal::TERM);
    let mut steps = 0;
    let out = Command::new("sleep")
        .arg("30")
        .forward_signals(&fwd)
        .timeout(HANG)
        .run_traced(|_| steps += 1)
        .unwrap();
    assert_eq!(out.status.signal(), Some(Signal::TERM.as_raw()));
    assert!(steps > 0);
}

/// A child that ignores TERM (the disposition survives the `exec`).
fn ignores_term() -> Command {
    Command::new("sh").args(["-c", "trap '' TERM; exec sleep 3010"])
}

#[test]
fn a_dropped_child_is_still_stopped_at_its_timeout() {
    let child = ignores_term()
        .timeout(Duration::from_millis(100))
        .kill_grace(Duration::from_millis(100))
        .spawn()
        .unwrap();
    let pid = child.pid();
    drop(child);
    // The reaper drives its teardown: TERM (ignored), the grace, KILL.
    assert!(common::reaped_soon(pid), "{pid} outlived its timeout");
}

#[test]
fn a_child_dropped_during_its_teardown_is_killed_after_the_grace() {
    let child = ignores_term()
        .timeout(Duration::from_millis(50))
        .kill_grace(Duration::from_millis(500))
        .spawn()
        .unwrap();
    let pid = child.pid();
    // The wait stops in the grace: TERM was sent (and ignored), KILL is due.
    let waited = child.wait_timeout(Duration::from_millis(200)).unwrap();
    assert!(waited.is_none());
    assert!(alive(pid));
    drop(child);
    assert!(common::reaped_soon(pid), "{pid} outlived its teardown");
}
