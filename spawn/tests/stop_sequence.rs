//! `stop_sequence` (issue 32): every stop sends the declared steps in
//! order, each to the child and its group, the next only while something
//! is alive, KILL after the last; the report names the step that ended the
//! run. One setting of `RunSettings`: `Command`, `Pipeline` and `Group`.
//!
//! The children are python loggers that trap the signals and print each
//! one they get; a run is cancelled once every logger printed `ready` (its
//! handlers are in place), so no step can come before the handlers.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{HANG, gone_soon};
use spawn::{
    CancelToken, Command, Error, Forwarder, Group, Output, Pipeline, Signal, Sink, StopStep,
};

/// Prints `WHO ready PID` once its handlers are set, then `WHO SIGNAME T`
/// for every trapped signal (T: monotonic seconds); exits 1 on the signal
/// named by argv[1]; with argv[2] == "fork", a grandchild in the same group
/// does the same.
const LOGGER: &str = r#"
import os, signal, sys, time
exit_on, fork = "SIG" + sys.argv[1], sys.argv[2] == "fork"
who = "parent"
if fork and os.fork() == 0:
    who = "grandchild"
def say(*words):
    # One write per line: two loggers share the pipe.
    os.write(1, (" ".join(map(str, words)) + "\n").encode())
def h(n, f):
    name = signal.Signals(n).name
    say(who, name, time.monotonic())
    if name == exit_on:
        os._exit(1)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, h)
say(who, "ready", os.getpid())
while True:
    signal.pause()
"#;

fn logger(exit_on: &str, fork: bool) -> Command {
    Command::new("python3").args(["-c", LOGGER, exit_on, if fork { "fork" } else { "alone" }])
}

/// The lines a logger printed, shared with the sink that reads them; the
/// token is cancelled once `readies` loggers printed `ready`.
#[derive(Clone)]
struct Log {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Log {
    fn sink(readies: usize, token: &CancelToken) -> (Log, Sink) {
        let log = Log {
            lines: Arc::default(),
        };
        let (lines, token) = (Arc::clone(&log.lines), token.clone());
        let sink = Sink::lines(move |line| {
            let mut lines = lines.lock().unwrap();
            lines.push(String::from_utf8_lossy(line).trim_end().to_owned());
            if lines.iter().filter(|l| l.contains(" ready ")).count() == readies {
                token.cancel();
            }
        });
        (log, sink)
    }

    /// The signals `who` logged, in order, with their times.
    fn signals(&self, who: &str) -> Vec<(String, f64)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let mut w = l.split(' ');
                (w.next()? == who).then_some(())?;
                let name = w.next()?;
                let t = w.next()?.parse().ok()?;
                (name != "ready").then(|| (name.to_owned(), t))
            })
            .collect()
    }

    fn pid(&self, who: &str) -> u32 {
        let lines = self.lines.lock().unwrap();
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{who} ready ")))
            .unwrap_or_else(|| panic!("{who} printed no ready line: {lines:?}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }
}

fn names(signals: &[(String, f64)]) -> Vec<&str> {
    signals.iter().map(|(n, _)| n.as_str()).collect()
}

/// The partial output of a cancelled run.
fn cancelled(r: Result<Output, Error>) -> Output {
    match r {
        Err(Error::Cancelled { partial, .. }) => *partial,
        other => panic!("expected a cancel, got {other:?}"),
    }
}

/// GNU parallel's default sequence on a child that ignores TERM: three
/// TERMs, each after the last one's wait, then KILL, which the report
/// names.
#[test]
fn every_step_goes_out_in_order_after_its_wait_then_kill() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let ms = Duration::from_millis;
    let start = Instant::now();
    let out = cancelled(
        logger("NONE", false)
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([
                (Signal::TERM, ms(400)),
                (Signal::TERM, ms(300)),
                (Signal::TERM, ms(200)),
                (Signal::KILL, ms(100)),
            ])
            .run(),
    );
    assert!(start.elapsed() < HANG);
    let got = log.signals("parent");
    assert_eq!(names(&got), ["SIGTERM", "SIGTERM", "SIGTERM"], "{got:?}");
    // Each step waits for the one before: generous lower bounds (half the
    // wait), never an upper one.
    for (k, wait) in [(1, 0.4), (2, 0.3)] {
        let gap = got[k].1 - got[k - 1].1;
        assert!(
            gap >= wait / 2.0,
            "step {k} came {gap:.3}s after the one before"
        );
    }
    assert_eq!(
        out.report.stop_step,
        Some(StopStep {
            index: 3,
            signal: Signal::KILL
        })
    );
    assert_eq!(out.status.signal(), Some(Signal::KILL.as_raw()));
}

/// A child that exits at the second step gets no third one and no KILL:
/// the report names the second step.
#[test]
fn no_step_follows_once_the_child_is_gone() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let out = cancelled(
        logger("HUP", false)
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([
                (Signal::INT, Duration::from_millis(100)),
                (Signal::HUP, Duration::from_secs(60)),
                (Signal::USR1, Duration::from_secs(60)),
            ])
            .run(),
    );
    assert_eq!(names(&log.signals("parent")), ["SIGINT", "SIGHUP"]);
    assert_eq!(
        out.report.stop_step,
        Some(StopStep {
            index: 1,
            signal: Signal::HUP
        })
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Each step reaches the child's group: a grandchild logs the same steps,
/// and is gone at the end.
#[test]
fn each_step_reaches_the_group() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(2, &token);
    let ms = Duration::from_millis;
    let out = cancelled(
        logger("NONE", true)
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([
                (Signal::USR1, ms(200)),
                (Signal::INT, ms(200)),
                (Signal::KILL, ms(500)),
            ])
            .run(),
    );
    for who in ["parent", "grandchild"] {
        assert_eq!(names(&log.signals(who)), ["SIGUSR1", "SIGINT"], "{who}");
    }
    assert!(gone_soon(log.pid("grandchild")));
    assert_eq!(out.report.stop_step.map(|s| s.signal), Some(Signal::KILL));
}

/// A pipeline's sequence is every stage's, sent to the pipeline's group.
#[test]
fn a_pipelines_sequence_reaches_every_stage() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let err = Pipeline::new(logger("NONE", false))
        .pipe(logger("HUP", false))
        .stdout(sink)
        .cancel_on(&token)
        .stop_sequence([
            (Signal::USR1, Duration::from_millis(200)),
            // The first stage traps HUP and lives on: KILL after this wait.
            (Signal::HUP, Duration::from_secs(2)),
        ])
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    // The last stage's output is read: it got both steps, and exited at
    // the second.
    assert_eq!(names(&log.signals("parent")), ["SIGUSR1", "SIGHUP"]);
}

/// A group's sequence is the default of its members.
#[test]
fn a_groups_sequence_is_its_members_default() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let results = Group::new()
        .add(logger("INT", false).stdout(sink))
        .cancel_on(&token)
        .stop_sequence([
            (Signal::USR1, Duration::from_millis(200)),
            (Signal::INT, Duration::from_secs(60)),
        ])
        .run()
        .unwrap();
    let out = cancelled(results.into_iter().next().unwrap());
    assert_eq!(names(&log.signals("parent")), ["SIGUSR1", "SIGINT"]);
    assert_eq!(out.report.stop_step.map(|s| s.index), Some(1));
}

/// A sequence that cannot be used is refused before anything starts, with
/// the program, the option and the cause.
#[test]
fn a_bad_sequence_is_refused_before_the_start() {
    let ms = Duration::from_millis;
    for (steps, cause) in [
        (vec![(Signal::KILL, ms(10)), (Signal::TERM, ms(10))], "KILL"),
        (vec![], "no step"),
        (vec![(Signal::TERM, ms(1)); 10], "at most"),
    ] {
        let err = Command::new("true")
            .stop_sequence(steps)
            .timeout(ms(10))
            .run()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("true") && text.contains("stop_sequence") && text.contains(cause),
            "{text}"
        );
    }
}

/// The later of `stop_signal` and `stop_sequence` is used.
#[test]
fn the_stop_signal_set_last_replaces_the_sequence() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let out = cancelled(
        logger("INT", false)
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([(Signal::USR1, Duration::from_secs(60))])
            .stop_signal(Signal::INT)
            .run(),
    );
    assert_eq!(names(&log.signals("parent")), ["SIGINT"]);
    assert_eq!(
        out.report.stop_step,
        Some(StopStep {
            index: 0,
            signal: Signal::INT
        })
    );
}

/// Logs USR1 and CONT as `child NAME T` (after `child ready PID`), and
/// exits 1 on USR1.
const CONT_LOGGER: &str = r#"
import os, signal, time
def h(n, f):
    name = signal.Signals(n).name
    os.write(1, ("child %s %f\n" % (name, time.monotonic())).encode())
    if name == "SIGUSR1":
        os._exit(1)
for s in (signal.SIGUSR1, signal.SIGCONT):
    signal.signal(s, h)
os.write(1, ("child ready %d\n" % os.getpid()).encode())
while True:
    signal.pause()
"#;

/// A STOP step stops the child for its wait: no CONT follows it (the CONT
/// after a step is for a step that a stopped child would keep pending).
/// The next step (USR1) is then continued: the child logs it, not a CONT
/// of the STOP step before it. Checked in its own group and in the
/// caller's (the descendants' tree, which freezes with STOP and continues).
#[test]
fn a_stop_step_is_not_continued() {
    for own_group in [true, false] {
        let token = CancelToken::new();
        let (log, sink) = Log::sink(1, &token);
        let mut cmd = Command::new("python3")
            .args(["-c", CONT_LOGGER])
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([
                (Signal::STOP, Duration::from_millis(300)),
                (Signal::USR1, Duration::from_secs(60)),
            ]);
        if !own_group {
            cmd = cmd.process_group(rustix::process::getpgrp().as_raw_nonzero().get() as u32);
        }
        let out = cancelled(cmd.run());
        let got = log.signals("child");
        assert_eq!(
            names(&got).first(),
            Some(&"SIGUSR1"),
            "own group {own_group}: {got:?}"
        );
        assert_eq!(out.status.code(), Some(1), "own group {own_group}");
        assert_eq!(out.report.stop_step.map(|s| s.index), Some(1));
    }
}

/// Blocks a realtime signal (argv[1]) and TERM, prints `child ready PID`,
/// then takes them one at a time with sigwaitinfo: `child RT T` for each
/// instance of the realtime signal (they queue: two sends are two lines),
/// exit 1 on TERM.
const RT_COUNTER: &str = r#"
import os, signal, sys, time
rt = int(sys.argv[1])
signal.pthread_sigmask(signal.SIG_BLOCK, {rt, signal.SIGTERM})
os.write(1, ("child ready %d\n" % os.getpid()).encode())
while True:
    info = signal.sigwaitinfo({rt, signal.SIGTERM})
    if info.si_signo == signal.SIGTERM:
        os._exit(1)
    os.write(1, ("child RT %f\n" % time.monotonic()).encode())
"#;

/// Each process gets each step once, whatever contains it: its own group
/// (by default, `process_group(0)`, `new_session()`) or, in the caller's
/// group, the tree of its descendants (which holds the child itself). A
/// realtime signal queues, so a second send of a step is a second line.
#[test]
fn each_step_reaches_the_child_once() {
    let rt = Signal::from_raw(libc::SIGRTMIN() + 4);
    let caller = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
    for mode in [
        "default",
        "process_group(0)",
        "new_session",
        "caller's group",
    ] {
        let token = CancelToken::new();
        let (log, sink) = Log::sink(1, &token);
        let cmd = Command::new("python3")
            .args(["-c", RT_COUNTER, &rt.as_raw().to_string()])
            .stdout(sink)
            .cancel_on(&token)
            .stop_sequence([
                (rt, Duration::from_millis(300)),
                (Signal::TERM, Duration::from_secs(60)),
            ]);
        let cmd = match mode {
            "process_group(0)" => cmd.process_group(0),
            "new_session" => cmd.new_session(),
            "caller's group" => cmd.process_group(caller),
            _ => cmd,
        };
        let out = cancelled(cmd.run());
        assert_eq!(names(&log.signals("child")), ["RT"], "{mode}");
        assert_eq!(out.status.code(), Some(1), "{mode}");
    }
    // A pipeline's stages share the first one's group: the last stage
    // (whose lines are read) gets each step once too.
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let counter = || Command::new("python3").args(["-c", RT_COUNTER, &rt.as_raw().to_string()]);
    let err = Pipeline::new(counter())
        .pipe(counter())
        .stdout(sink)
        .cancel_on(&token)
        .stop_sequence([
            (rt, Duration::from_millis(300)),
            (Signal::TERM, Duration::from_secs(60)),
        ])
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert_eq!(names(&log.signals("child")), ["RT"], "pipeline");
}

/// A signal forwarded to a child in the caller's group (not from the
/// terminal, which would have reached it already) goes to its tree, which
/// holds the child: the child gets it once, not again on its own.
#[test]
fn a_forwarded_signal_reaches_a_child_in_the_callers_group_once() {
    let rt = Signal::from_raw(libc::SIGRTMIN() + 4);
    let caller = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
    let fwd = Forwarder::new().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (seen, relay) = (Arc::clone(&lines), fwd.clone());
    // The RT on `ready`; TERM once the first RT is logged (a second RT, if
    // any, was queued before it, and is taken first).
    let sink = Sink::lines(move |line| {
        let line = String::from_utf8_lossy(line).trim_end().to_owned();
        if line.starts_with("child ready ") {
            relay.forward(rt);
        } else if line.starts_with("child RT ")
            && !seen
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("child RT "))
        {
            relay.forward(Signal::TERM);
        }
        seen.lock().unwrap().push(line);
    });
    let out = Command::new("python3")
        .args(["-c", RT_COUNTER, &rt.as_raw().to_string()])
        .process_group(caller)
        .forward_signals(&fwd)
        .stdout(sink)
        .timeout(HANG)
        .run()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = Log { lines };
    assert_eq!(names(&log.signals("child")), ["RT"]);
}

/// A pipeline is stopped as one job: its stop (the pipeline's setting,
/// else its first stage's) goes to its process group, which every stage is
/// in, once; a later stage's own stop signal does not apply to a stop of
/// the whole pipeline (it would be a second signal to that stage). Here the
/// first stage's TERM reaches the last stage, and its own INT is not sent.
#[test]
fn a_pipeline_is_stopped_with_its_first_stages_signal_once() {
    let token = CancelToken::new();
    let (log, sink) = Log::sink(1, &token);
    let err = Pipeline::new(Command::new("sleep").arg("60"))
        .pipe(logger("TERM", false).stop_signal(Signal::INT))
        .stdout(sink)
        .cancel_on(&token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert_eq!(names(&log.signals("parent")), ["SIGTERM"]);
}
