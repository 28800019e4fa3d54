//! The teardown that ends everything a run started, and the one path every
//! entry point takes (issue 12): timeouts that reach a group member that
//! ignores TERM, a leader that exits first, a child that leaves its group,
//! `kill_on_drop` of a group leader, pipelines in one group, a `Child`
//! whose state survives a timed-out `communicate`.
//!
//! Grandchildren print their pid first; a test then checks in `/proc` that
//! the pid is gone (or a zombie, if nobody reaps orphans here) by the time
//! the call returned.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{HANG, alive, first_pid, gone_soon};
use spawn::{Command, Error, Forwarder, Group, Signal, Sink, Stdio};

/// A member of the child's group that ignores TERM, then the leader.
const MEMBER_IGNORES_TERM: &str = "(trap '' TERM; exec sleep 37) & echo $!; exec sleep 30";

/// The pid a run printed first, from the partial output of its timeout.
fn pid_after_timeout<T: std::fmt::Debug>(result: Result<T, Error>) -> u32 {
    match result {
        Err(Error::Timeout { partial, .. }) => first_pid(&partial.stdout),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_timeout_kills_a_group_member_that_ignores_term() {
    let start = Instant::now();
    let member = pid_after_timeout(
        Command::shell(MEMBER_IGNORES_TERM)
            .stdout(Stdio::piped())
            .timeout(Duration::from_millis(300))
            .kill_grace(Duration::from_millis(200))
            .run(),
    );
    assert!(!alive(member), "the member {member} outlived the timeout");
    assert!(start.elapsed() < HANG);
}

#[test]
fn a_timeout_in_a_group_kills_a_member_that_ignores_term() {
    let results = Group::new()
        .add(
            Command::shell(MEMBER_IGNORES_TERM)
                .stdout(Stdio::piped())
                .timeout(Duration::from_millis(300))
                .kill_grace(Duration::from_millis(200)),
        )
        .add(Command::new("true"))
        .run()
        .unwrap();
    let Err(Error::Timeout { partial, .. }) = &results[0] else {
        panic!("expected a timeout, got {:?}", results[0])
    };
    let member = first_pid(&partial.stdout);
    assert!(!alive(member), "the member {member} outlived the timeout");
    assert!(results[1].is_ok());
}

#[test]
fn a_leader_that_exits_first_does_not_leave_its_member_behind_a_timeout() {
    // The leader exits at once; the member holds stdout and ignores TERM.
    let out = Command::shell("(trap '' TERM; exec sleep 37) & echo $!")
        .stdout(Stdio::piped())
        .timeout(Duration::from_secs(60))
        .kill_grace(Duration::from_millis(200))
        .eof_grace(Duration::from_millis(100))
        .run()
        .unwrap();
    assert!(out.status.success());
    let member = first_pid(&out.stdout);
    assert!(!alive(member), "the member {member} outlived its run");
    assert!(out.report.wall < Duration::from_secs(30));
}

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
    assert_eq!(nums[0], nums[1], "the first stage leads its group");
    assert_eq!(nums[2], nums[0], "the second stage joined it");
    assert_ne!(
        nums[0] as i32,
        rustix::process::getpgrp().as_raw_nonzero().get()
    );
}

#[test]
fn a_pipeline_timeout_reaches_the_children_of_its_stages() {
    let sleeper = pid_after_timeout(
        (Command::shell("sleep 100 & echo $!; wait") | Command::new("cat"))
            .stdout(Stdio::piped())
            .timeout(Duration::from_millis(300))
            .kill_grace(Duration::from_millis(200))
            .run(),
    );
    assert!(
        !alive(sleeper),
        "the stage's child {sleeper} outlived the timeout"
    );
}

#[test]
fn an_overflowing_pipeline_sink_is_the_same_error_as_for_a_command() {
    let sink = Sink::collect_limit(10).error_on_overflow();
    let cmd = Command::new("seq").arg("100000");
    let single = cmd.clone().stdout(sink.clone()).run().unwrap_err();
    assert!(matches!(single, Error::OutputLimit { .. }), "{single}");
    let piped = (cmd | Command::new("cat")).stdout(sink).run().unwrap_err();
    assert!(matches!(piped, Error::OutputLimit { .. }), "{piped}");
}

#[test]
fn a_merged_pipeline_stderr_goes_to_its_final_stdout() {
    // { echo one; echo err1 >&2; } | { grep -c .; echo err2 >&2; } 2>&1:
    // the second stage counts one line (err1 does not reach its stdin).
    let out = (Command::shell("echo one; echo err1 >&2")
        | Command::shell("grep -c .; echo err2 >&2"))
    .stdout(Stdio::piped())
    .stderr(Stdio::merge())
    .run()
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["1", "err1", "err2"], "{text:?}");
    assert!(out.stderr.is_empty());
}

#[test]
fn a_first_stage_input_is_fed() {
    let out = (Command::new("cat").input("fed\n") | Command::new("cat"))
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"fed\n");
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
fn a_piped_stdin_without_input_reads_eof() {
    let out = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .timeout(HANG)
        .run()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
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
