//! The run settings a `Pipeline` and a `Group` share with `Command`
//! (timeout, kill grace, EOF grace, stop signal, containment): each takes
//! effect on real processes, a pipeline's over every stage's own, a group's
//! as the default of every member that set none of its own.
//!
//! A stop comes once every child said `ready` on stderr (a cancel token
//! cancelled from a line sink), so that the traps are set before it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::HANG;
use spawn::{CancelToken, Command, Containment, Error, Group, Signal, Sink, Stdio};

/// A token cancelled once `n` `ready` lines came through the sinks of
/// [`Gate::sink`]; every stderr line is kept in `lines`.
struct Gate {
    token: CancelToken,
    readies: Arc<AtomicUsize>,
    n: usize,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Gate {
    fn new(n: usize) -> Gate {
        Gate {
            token: CancelToken::new(),
            readies: Arc::new(AtomicUsize::new(0)),
            n,
            lines: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A stderr sink that counts `ready` and keeps every line.
    fn sink(&self) -> Sink {
        let (token, readies, n, lines) = (
            self.token.clone(),
            Arc::clone(&self.readies),
            self.n,
            Arc::clone(&self.lines),
        );
        Sink::lines(move |line| {
            if line == b"ready" {
                if readies.fetch_add(1, Ordering::SeqCst) + 1 == n {
                    token.cancel();
                }
            } else {
                lines
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(line).into_owned());
            }
        })
    }

    fn lines(&self) -> Vec<String> {
        let mut l = self.lines.lock().unwrap().clone();
        l.sort();
        l
    }
}

/// `sh` that reports INT and HUP (as `NAME got SIG`, on `stream`), says
/// `ready` on stderr, and waits.
fn trapper(name: &str, stream: &str) -> Command {
    Command::shell(format!(
        "trap 'echo {name} got INT {stream}; exit 3' INT; \
         trap 'echo {name} got HUP {stream}; exit 4' HUP; \
         echo ready >&2; sleep 30 & wait"
    ))
}

#[test]
fn a_pipeline_stop_signal_reaches_every_stage() {
    let gate = Gate::new(2);
    let start = Instant::now();
    let err = (trapper("first", ">&2") | trapper("last", ">&2"))
        .stderr(gate.sink())
        .stop_signal(Signal::INT)
        .timeout(HANG)
        .kill_grace(Duration::from_millis(300))
        .cancel_on(&gate.token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert_eq!(gate.lines(), ["first got INT", "last got INT"]);
    assert!(start.elapsed() < HANG);
}

#[test]
fn a_pipeline_stop_signal_wins_over_a_stages_own() {
    let gate = Gate::new(1);
    let err = (Command::new("true") | trapper("last", ">&2").stop_signal(Signal::HUP))
        .stderr(gate.sink())
        .stop_signal(Signal::INT)
        .kill_grace(Duration::from_millis(300))
        .cancel_on(&gate.token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert_eq!(gate.lines(), ["last got INT"]);
}

#[test]
fn a_pipeline_eof_grace_applies_to_every_stage_over_its_own() {
    // The last stage exits at once; its background job writes a second
    // later, into the pipe it still holds. The stage's own grace (50 ms)
    // would close that pipe first; the pipeline's keeps reading.
    let out = (Command::new("true")
        | Command::shell("echo early; (sleep 1; echo late) &")
            .eof_grace(Duration::from_millis(50)))
    .stdout(Stdio::piped())
    .eof_grace(HANG)
    .run()
    .unwrap();
    assert_eq!(out.stdout, b"early\nlate\n");
}

#[test]
fn a_pipeline_containment_applies_to_every_stage() {
    if !cgroups_here() {
        return;
    }
    let out = (Command::new("true") | Command::new("true").containment(Containment::ProcessGroup))
        .containment(Containment::Cgroup)
        .run()
        .unwrap();
    let got: Vec<_> = out.reports.iter().map(|r| r.containment).collect();
    assert_eq!(got, [Containment::Cgroup, Containment::Cgroup]);
}

#[test]
fn a_group_stop_signal_is_the_default_of_members_without_their_own() {
    let gate = Gate::new(2);
    let results = Group::new()
        .add(
            trapper("plain", "")
                .stderr(gate.sink())
                .stdout(Stdio::piped()),
        )
        .add(
            trapper("own", "")
                .stderr(gate.sink())
                .stdout(Stdio::piped())
                .stop_signal(Signal::HUP),
        )
        .stop_signal(Signal::INT)
        .kill_grace(Duration::from_millis(300))
        .cancel_on(&gate.token)
        .run()
        .unwrap();
    let stdout = |r: &Result<spawn::Output, Error>| match r {
        Err(Error::Cancelled { partial, .. }) => {
            String::from_utf8_lossy(&partial.stdout).into_owned()
        }
        other => panic!("expected a cancel, got {other:?}"),
    };
    assert_eq!(stdout(&results[0]), "plain got INT\n");
    assert_eq!(stdout(&results[1]), "own got HUP\n");
}

#[test]
fn a_group_timeout_stops_members_without_a_timeout_of_their_own() {
    let start = Instant::now();
    let results = Group::new()
        .add(Command::new("sleep").arg("30"))
        // Its own timeout is longer than its run: the group's does not apply.
        .add(
            Command::shell("sleep 1; echo survived")
                .stdout(Stdio::piped())
                .timeout(HANG),
        )
        .timeout(Duration::from_millis(200))
        .run()
        .unwrap();
    assert!(
        matches!(results[0], Err(Error::Timeout { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().stdout, b"survived\n");
    assert!(start.elapsed() < HANG);
}

#[test]
fn a_group_kill_grace_is_the_default_of_members_without_their_own() {
    // Each member takes 3 s to clean up after TERM: longer than the
    // default grace (2 s), shorter than the group's (the test's bound).
    let slow_cleanup = |name: &str| {
        Command::shell(format!(
            "trap 'echo {name} got TERM; sleep 3; echo {name} cleaned up; exit 0' TERM; \
             echo ready >&2; sleep 30 & wait"
        ))
        .stdout(Stdio::piped())
    };
    let gate = Gate::new(2);
    let results = Group::new()
        .add(slow_cleanup("plain").stderr(gate.sink()))
        .add(
            slow_cleanup("own")
                .stderr(gate.sink())
                .kill_grace(Duration::from_millis(100)),
        )
        .kill_grace(HANG)
        .cancel_on(&gate.token)
        .run()
        .unwrap();
    let stdout = |r: &Result<spawn::Output, Error>| match r {
        Err(Error::Cancelled { partial, .. }) => {
            String::from_utf8_lossy(&partial.stdout).into_owned()
        }
        other => panic!("expected a cancel, got {other:?}"),
    };
    assert_eq!(stdout(&results[0]), "plain got TERM\nplain cleaned up\n");
    assert_eq!(stdout(&results[1]), "own got TERM\n");
}

#[test]
fn a_group_eof_grace_is_the_default_of_members_without_their_own() {
    // Each member exits at once; its background job writes 3 s later into
    // the stdout it still holds.
    let late_writer =
        || Command::shell("echo early; (sleep 3; echo late) &").stdout(Stdio::piped());
    let results = Group::new()
        .add(late_writer())
        .add(late_writer().eof_grace(Duration::from_millis(50)))
        .eof_grace(HANG)
        .run()
        .unwrap();
    assert_eq!(results[0].as_ref().unwrap().stdout, b"early\nlate\n");
    assert_eq!(results[1].as_ref().unwrap().stdout, b"early\n");
}

#[test]
fn a_group_containment_is_the_default_of_members_without_their_own() {
    if !cgroups_here() {
        return;
    }
    let results = Group::new()
        .add(Command::new("true"))
        .add(Command::new("true").containment(Containment::ProcessGroup))
        .containment(Containment::Cgroup)
        .run()
        .unwrap();
    let got: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap().report.containment)
        .collect();
    assert_eq!(got, [Containment::Cgroup, Containment::ProcessGroup]);
}

/// Whether this machine lets us make cgroups; prints why not.
fn cgroups_here() -> bool {
    match Command::new("true").containment(Containment::Cgroup).run() {
        Ok(_) => true,
        Err(e @ Error::NoCgroup { .. }) => {
            eprintln!("skipped: {e}");
            false
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_spawned_pipeline_takes_its_stop_signal_too() {
    use std::io::{BufRead, BufReader, Read};
    let token = CancelToken::new();
    let mut running = (trapper("first", ">&2") | trapper("last", ">&2"))
        .stderr(Stdio::piped())
        .stop_signal(Signal::INT)
        .kill_grace(Duration::from_millis(300))
        .cancel_on(&token)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(running.take_stderr().unwrap());
    let mut line = String::new();
    for _ in 0..2 {
        line.clear();
        stderr.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
    }
    token.cancel();
    let err = running.wait().unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let mut got: Vec<_> = rest.lines().collect();
    got.sort_unstable();
    assert_eq!(got, ["first got INT", "last got INT"]);
}
