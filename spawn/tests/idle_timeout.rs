//! `idle_timeout` (issue 32): a child that writes nothing spawn reads for
//! the idle time is stopped as a timeout stops it, with everything read so
//! far; output resets the count. One setting of `RunSettings`, so
//! `Command`, `Pipeline`, `Group` and the async runs all have it.

mod common;

use std::time::{Duration, Instant};

use common::{HANG, first_pid, gone_soon};
use spawn::{Command, Error, Group, Stdio};

/// A shell that prints its background `sleep`'s pid, then goes quiet: the
/// idle stop ends the shell and what it started, and the output read
/// before is kept.
#[test]
fn a_quiet_child_is_stopped_with_its_output_and_what_it_started() {
    let start = Instant::now();
    let err = Command::shell("sleep 60 & echo $!; wait")
        .stdout(Stdio::piped())
        .idle_timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    assert!(start.elapsed() < HANG, "took {:?}", start.elapsed());
    let Error::IdleTimeout {
        ref program,
        idle,
        ref partial,
    } = err
    else {
        panic!("expected an idle timeout, got {err}")
    };
    assert_eq!(program, "/bin/sh");
    assert_eq!(idle, Duration::from_millis(300));
    assert!(partial.report.idle_timed_out && !partial.report.timed_out);
    let sleep = first_pid(&partial.stdout);
    assert!(gone_soon(sleep), "the background sleep {sleep} still runs");
    assert!(err.to_string().contains("no output for 0.300s"), "{err}");
    assert_eq!(err.kind(), "idle_timeout");
}

/// Output resets the count: a child that writes every 50 ms for longer than
/// the idle time is never idle and succeeds.
#[test]
fn output_keeps_a_child_from_being_idle() {
    let out = Command::shell("for i in $(seq 30); do echo $i; sleep 0.05; done")
        .stdout(Stdio::piped())
        .idle_timeout(Duration::from_secs(1))
        .run()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.split(|&b| b == b'\n').count(), 31);
    assert!(!out.report.idle_timed_out);
}

/// With no output going to spawn, the idle timeout could never fire: the
/// run is refused before anything starts, naming the option.
#[test]
fn an_idle_timeout_with_no_output_read_is_refused() {
    let err = Command::new("true")
        .idle_timeout(Duration::from_secs(1))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("idle_timeout"), "{err}");
}

/// Stderr counts as output too.
#[test]
fn stderr_output_counts() {
    let out = Command::shell("for i in $(seq 30); do echo $i >&2; sleep 0.05; done")
        .stderr(Stdio::piped())
        .idle_timeout(Duration::from_secs(1))
        .run()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// A group's idle timeout is its members' default: the quiet one is
/// stopped, the one that finishes is not.
#[test]
fn a_groups_idle_timeout_is_every_members_default() {
    let results = Group::new()
        .add(Command::new("sleep").arg("60").stdout(Stdio::piped()))
        .add(Command::new("echo").arg("done").stdout(Stdio::piped()))
        .idle_timeout(Duration::from_millis(300))
        .run()
        .unwrap();
    assert!(
        matches!(results[0], Err(Error::IdleTimeout { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().stdout, b"done\n");
}

/// A pipeline's idle timeout: a last stage that gets nothing to pass on
/// writes nothing; the whole pipeline (its first stage leads the group)
/// is stopped, and returns the idle error.
#[test]
fn a_pipelines_idle_timeout_stops_a_quiet_pipeline() {
    let start = Instant::now();
    let err = (Command::new("sleep").arg("60") | Command::new("cat"))
        .stdout(Stdio::piped())
        .idle_timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::IdleTimeout { .. }), "{err}");
    assert!(start.elapsed() < HANG);
}

/// The async run takes the same setting.
#[cfg(feature = "tokio")]
#[test]
fn an_async_run_has_it_too() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(
            Command::shell("echo hi; exec sleep 60")
                .stdout(Stdio::piped())
                .idle_timeout(Duration::from_millis(300))
                .run_async(),
        )
        .unwrap_err();
    let Error::IdleTimeout { partial, .. } = err else {
        panic!("expected an idle timeout, got {err}")
    };
    assert_eq!(partial.stdout, b"hi\n");
}
