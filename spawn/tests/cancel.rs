//! Cancellation and results as they finish, against real processes: a
//! `CancelToken` given to a command, a pipeline or a group stops them with
//! the teardown a timeout uses and keeps the output read so far; a
//! `Group::results` iterator dropped early stops and reaps the rest.

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{HANG, gone_soon, reaped_soon};
use spawn::{CancelToken, Command, CommandFeed, Error, Group, Sink, Stdio};

/// A command that prints `line` and then waits until it is stopped (a
/// `sleep` whose argument marks it in `/proc`).
fn prints_then_waits(line: &str, marker: u32) -> Command {
    Command::new("sh").args(["-c", &format!("echo {line}; exec sleep {marker}")])
}

/// Pids of our children whose command line is `sleep <marker>`.
fn sleepers(marker: u32) -> Vec<u32> {
    let me = std::process::id();
    let want = format!("sleep\0{marker}\0");
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if cmdline == want.as_bytes() && ppid == Some(me) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_cancelled_run_is_stopped_and_keeps_its_output() {
    let token = CancelToken::new();
    let t = token.clone();
    let start = Instant::now();
    let err = prints_then_waits("started", 3001)
        .stdout(Sink::lines(move |line| {
            if line == b"started" {
                t.cancel();
            }
        }))
        .stderr(Stdio::piped())
        .cancel_on(&token)
        .run()
        .unwrap_err();
    assert!(start.elapsed() < HANG, "cancel took {:?}", start.elapsed());
    let Error::Cancelled { partial, program } = err else {
        panic!("not a cancel: {err:?}");
    };
    assert_eq!(program, "sh");
    // Stopped by the stop signal (TERM), as a timeout does.
    assert_eq!(partial.status.signal(), Some(15), "{:?}", partial.status);
    assert!(!common::alive(partial.report.pid));
}

#[test]
fn a_cancelled_run_keeps_what_was_collected() {
    let token = CancelToken::new();
    let t = token.clone();
    // stderr tells when stdout's line was written; stdout is collected.
    let err = Command::new("sh")
        .args(["-c", "echo kept; echo go >&2; exec sleep 3002"])
        .stdout(Stdio::piped())
        .stderr(Sink::lines(move |_| t.cancel()))
        .cancel_on(&token)
        .run()
        .unwrap_err();
    let partial = err.into_output().expect("a cancel carries the output");
    assert_eq!(partial.stdout, b"kept\n");
}

#[test]
fn a_token_cancelled_before_the_run_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("ran");
    let token = CancelToken::new();
    token.cancel();
    let err = Command::new("touch")
        .arg(&flag)
        .cancel_on(&token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert!(!flag.exists(), "the command ran");
    // A group and a pipeline alike.
    let results = Group::new()
        .add(Command::new("touch").arg(&flag))
        .cancel_on(&token)
        .run()
        .unwrap();
    assert!(matches!(results[0], Err(Error::Cancelled { .. })));
    let err = (Command::new("touch").arg(&flag) | Command::new("cat"))
        .cancel_on(&token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert!(!flag.exists(), "a command ran");
}

#[test]
fn a_cancelled_group_of_100_keeps_the_finished_half() {
    let token = CancelToken::new();
    let t = token.clone();
    let fast = (0..50).map(|i| {
        Command::new("echo")
            .arg(i.to_string())
            .stdout(Stdio::piped())
    });
    let slow = (0..50).map(|_| Command::new("sleep").arg("3003"));
    let results = Group::new()
        .add_all(fast)
        .add_all(slow)
        .on_progress(move |p| {
            // The fifty echos are done; the sleeps run until stopped.
            if p.done >= 50 {
                t.cancel();
            }
        })
        .cancel_on(&token)
        .run()
        .unwrap();
    assert_eq!(results.len(), 100);
    for (i, r) in results[..50].iter().enumerate() {
        let out = r.as_ref().expect("a finished child keeps its result");
        assert_eq!(out.stdout, format!("{i}\n").as_bytes());
    }
    for r in &results[50..] {
        let Err(Error::Cancelled { partial, .. }) = r else {
            panic!("not cancelled: {r:?}");
        };
        assert!(reaped_soon(partial.report.pid));
    }
}

#[test]
fn queued_children_of_a_cancelled_group_never_start() {
    let dir = tempfile::tempdir().unwrap();
    let token = CancelToken::new();
    let t = token.clone();
    let cmds = (0..5).map(|i| {
        Command::new("sh").args([
            "-c",
            &format!("touch {}/{i}; exec sleep 3004", dir.path().display()),
        ])
    });
    let results = Group::new()
        .max_running(1)
        .add_all(cmds)
        .on_progress(move |p| {
            if p.running == 1 {
                t.cancel();
            }
        })
        .cancel_on(&token)
        .run()
        .unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled { .. }))),
        "{results:?}"
    );
    for i in 1..5 {
        assert!(!dir.path().join(i.to_string()).exists(), "queued {i} ran");
    }
}

#[test]
fn breaking_out_of_results_after_the_first_failure_stops_and_reaps_the_rest() {
    let marker = 3005;
    let group = Group::new()
        .add_all((0..50).map(|_| Command::new("sleep").arg(marker.to_string())))
        .add(Command::new("sh").args(["-c", "exit 3"]));
    let mut results = group.results();
    let (index, first) = results.next().expect("a result");
    assert_eq!(index, 50);
    assert_eq!(first.unwrap().status.code(), Some(3));
    let running = sleepers(marker);
    assert_eq!(running.len(), 50, "the sleeps started with the failure");
    let start = Instant::now();
    drop(results);
    assert!(start.elapsed() < Duration::from_secs(1), "the drop blocked");
    for pid in running {
        assert!(reaped_soon(pid), "{pid} still there (alive or a zombie)");
    }
}

#[test]
fn dropping_results_stops_children_with_the_stop_signal_first() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ready");
    let termed = dir.path().join("termed");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .run()
            .unwrap()
            .status
            .success()
    );
    // It says it is ready (trap set) through the fifo; the other child
    // finishes once it read that.
    let trapper = Command::new("sh").args([
        "-c",
        &format!(
            "trap 'echo yes > {}; exit 0' TERM; echo ready > {}; while :; do sleep 0.05; done",
            termed.display(),
            fifo.display()
        ),
    ]);
    let reader = Command::new("cat").arg(&fifo).stdout(Stdio::piped());
    let mut results = Group::new().add(trapper).add(reader).results();
    let (index, out) = results.next().unwrap();
    assert_eq!(index, 1);
    assert_eq!(out.unwrap().stdout, b"ready\n");
    drop(results);
    // The teardown in the background sends TERM (the trap runs) before KILL.
    let start = Instant::now();
    while !termed.exists() {
        assert!(start.elapsed() < HANG, "no TERM reached the child");
        std::thread::yield_now();
    }
}

/// The starts a group makes while output streams in are made on its
/// starter thread, in order (each child here prints 100 KB before it
/// sleeps: more than the engine's `BULK_READ` between two starts): dropped
/// while most are still to be made, the group makes no more, and every
/// child those starts made is stopped and reaped.
#[test]
fn dropping_results_while_starts_are_being_made_leaves_no_child_behind() {
    let marker = 3007;
    let group = Group::new()
        .add(Command::new("sh").args(["-c", "exit 3"]))
        .add_all((0..300).map(|_| {
            Command::new("sh")
                .args([
                    "-c",
                    "head -c 100000 /dev/zero; exec sleep \"$0\"",
                    &marker.to_string(),
                ])
                .stdout(Stdio::piped())
        }));
    let mut results = group.results();
    let (index, first) = results.next().expect("a result");
    assert_eq!(index, 0);
    assert_eq!(first.unwrap().status.code(), Some(3));
    drop(results);
    let start = Instant::now();
    while spawn::diag::reaper_engines() > 0 || !sleepers(marker).is_empty() {
        assert!(start.elapsed() < HANG, "{:?} still there", sleepers(marker));
        std::thread::yield_now();
    }
    // The engine is gone, and its starter thread with it: nothing starts
    // any more (the core hands that thread two starts at a time, so the
    // starts not made at the drop are queued in the core, and never made:
    // `spawn-core`'s `starts_not_answered_hold_the_next_back`).
    assert!(sleepers(marker).is_empty());
}

#[test]
fn a_cancelled_pipeline_is_stopped_and_keeps_its_output() {
    let token = CancelToken::new();
    let t = token.clone();
    let err = (prints_then_waits("a", 3006) | Command::new("cat"))
        .stdout(Sink::lines(move |_| t.cancel()))
        .cancel_on(&token)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{err:?}");
    assert!(sleepers(3006).iter().all(|&p| gone_soon(p)));
}

#[test]
fn add_iter_takes_commands_only_as_there_is_room() {
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&taken);
    let endless = (0..).map(move |i: u64| {
        counter.fetch_add(1, Ordering::SeqCst);
        Command::new("echo")
            .arg(i.to_string())
            .stdout(Stdio::piped())
    });
    let first: Vec<_> = Group::new()
        .max_running(2)
        .add_iter(endless)
        .results()
        .take(10)
        .collect();
    assert_eq!(first.len(), 10);
    assert!(first.iter().all(|(_, r)| r.is_ok()));
    // Ten handed out, at most a window (2 x max_running) more taken.
    assert!(taken.load(Ordering::SeqCst) <= 14, "{taken:?}");
}

#[test]
fn run_with_add_iter_keeps_the_order_added() {
    let results = Group::new()
        .add(Command::new("echo").arg("first").stdout(Stdio::piped()))
        .add_iter((1..=20).map(|i| {
            Command::new("sh")
                .args(["-c", "echo $0", &i.to_string()])
                .stdout(Stdio::piped())
        }))
        .max_running(3)
        .run()
        .unwrap();
    assert_eq!(results.len(), 21);
    assert_eq!(results[0].as_ref().unwrap().stdout, b"first\n");
    for (i, r) in results.iter().enumerate().skip(1) {
        assert_eq!(r.as_ref().unwrap().stdout, format!("{i}\n").as_bytes());
    }
}

#[test]
fn results_come_in_completion_order() {
    // The first command cannot end before the test writes to its fifo,
    // which it does only after it got the second one's result.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("go");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .run()
            .unwrap()
            .status
            .success()
    );
    let waits = Command::new("cat").arg(&fifo).stdout(Stdio::piped());
    let quick = Command::new("echo").arg("quick").stdout(Stdio::piped());
    let mut results = Group::new().add(waits).add(quick).results();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout), (1, b"quick\n".to_vec()));
    fs::write(&fifo, "late\n").unwrap();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout), (0, b"late\n".to_vec()));
    assert!(results.next().is_none());
}

#[test]
fn a_feed_is_read_without_blocking_the_running_children() {
    let feed = CommandFeed::new();
    // 8 MiB: far more than a pipe holds, so the child ends only if it is
    // drained while the feed is open and empty.
    feed.push(
        Command::new("head")
            .args(["-c", "8388608", "/dev/zero"])
            .stdout(Stdio::piped()),
    );
    let mut results = Group::new().add_feed(&feed).results();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout.len()), (0, 8 << 20));
    // More come later, from another thread.
    let pusher = feed.clone();
    let producer = std::thread::spawn(move || {
        pusher.push(Command::new("echo").arg("late").stdout(Stdio::piped()));
        pusher.close();
    });
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout), (1, b"late\n".to_vec()));
    assert!(results.next().is_none(), "the closed feed ends the group");
    producer.join().unwrap();
    assert!(
        !feed.push(Command::new("true")),
        "a closed feed takes nothing"
    );
}

#[test]
fn stop_starting_lets_the_running_finish_and_cancels_the_queued() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("go");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .run()
            .unwrap()
            .status
            .success()
    );
    let halt = CancelToken::new();
    let mut results = Group::new()
        .max_running(2)
        .add(Command::new("sh").args(["-c", "exit 1"]))
        .add(Command::new("cat").arg(&fifo).stdout(Stdio::piped()))
        .add_all((0..5).map(|i| Command::new("echo").arg(i.to_string())))
        .stop_starting_on(&halt)
        .results();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().status.code()), (0, Some(1)));
    halt.cancel();
    fs::write(&fifo, "still running\n").unwrap();
    let rest: Vec<_> = results.collect();
    assert_eq!(rest.len(), 6, "{rest:?}");
    for (i, r) in rest {
        match i {
            1 => assert_eq!(r.unwrap().stdout, b"still running\n"),
            // Started in the turn the first one finished, before the halt.
            2 => assert!(r.is_ok() || matches!(r, Err(Error::Cancelled { .. }))),
            _ => assert!(matches!(r, Err(Error::Cancelled { .. })), "{i}: {r:?}"),
        }
    }
}

#[test]
fn a_cancelled_group_stops_reading_an_endless_source() {
    let token = CancelToken::new();
    let t = token.clone();
    let endless = (0..).map(|i: u64| Command::new("echo").arg(i.to_string()));
    let results: Vec<_> = Group::new()
        .max_running(2)
        .add_iter(endless)
        .on_progress(move |p| {
            if p.done >= 3 {
                t.cancel();
            }
        })
        .cancel_on(&token)
        .results()
        .collect();
    assert!(results.len() < 20, "{}", results.len());
}

#[test]
fn a_finished_childs_token_does_not_cancel_the_child_after_it() {
    // One running at a time, two in the engine: the third child reuses the
    // first's slot once its result is handed out.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("go");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .run()
            .unwrap()
            .status
            .success()
    );
    let first = CancelToken::new();
    let mut results = Group::new()
        .max_running(1)
        .add(Command::new("true").cancel_on(&first))
        .add(Command::new("true"))
        .add(Command::new("cat").arg(&fifo).stdout(Stdio::piped()))
        .results();
    let (i, r) = results.next().unwrap();
    assert_eq!(i, 0);
    r.unwrap();
    first.cancel();
    let (i, r) = results.next().unwrap();
    assert_eq!(i, 1);
    r.unwrap();
    fs::write(&fifo, "mine\n").unwrap();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout), (2, b"mine\n".to_vec()));
}

/// Runs `f` on a thread of its own; panics if it has not returned after
/// [`HANG`] (a group that never ends).
fn ends_in_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: still running after {HANG:?}"))
}

#[test]
fn a_feed_whose_every_handle_is_dropped_ends_its_group() {
    let feed = CommandFeed::new();
    let group = Group::new().max_running(2).add_feed(&feed);
    let producer = std::thread::spawn(move || {
        let pusher = feed.clone();
        for i in 0..3 {
            assert!(
                pusher.push(
                    Command::new("echo")
                        .arg(i.to_string())
                        .stdout(Stdio::piped())
                )
            );
        }
        // Neither handle calls close: their drops are the close.
    });
    let results = ends_in_time("a group fed by dropped handles", move || {
        group.run().unwrap()
    });
    producer.join().unwrap();
    let outs: Vec<_> = results.into_iter().map(|r| r.unwrap().stdout).collect();
    assert_eq!(outs, [b"0\n".to_vec(), b"1\n".to_vec(), b"2\n".to_vec()]);
}

#[test]
fn a_push_to_a_feed_whose_group_was_dropped_or_cancelled_is_refused() {
    // The group is dropped: its results iterator and the builder.
    let feed = CommandFeed::new();
    let results = Group::new().add_feed(&feed).results();
    assert!(
        feed.push(Command::new("true")),
        "the group is there to take it"
    );
    drop(results);
    assert!(
        !feed.push(Command::new("true")),
        "no group will ever take this command"
    );

    // The group is cancelled while it runs: it reads its feed no more.
    let feed = CommandFeed::new();
    let token = CancelToken::new();
    let mut results = Group::new()
        .add(Command::new("echo").arg("first").stdout(Stdio::piped()))
        .add_feed(&feed)
        .cancel_on(&token)
        .results();
    let (i, r) = results.next().unwrap();
    assert_eq!((i, r.unwrap().stdout), (0, b"first\n".to_vec()));
    token.cancel();
    assert!(results.next().is_none(), "a cancelled group ends");
    assert!(
        !feed.push(Command::new("true")),
        "a cancelled group takes no more commands"
    );
    drop(results);
    assert!(!feed.push(Command::new("true")));
}

#[test]
fn a_child_a_cancel_kept_from_starting_says_it_did_not_start() {
    let token = CancelToken::new();
    let t = token.clone();
    let results = Group::new()
        .max_running(1)
        .add(
            prints_then_waits("started", 3007).stdout(Sink::lines(move |line| {
                if line == b"started" {
                    t.cancel();
                }
            })),
        )
        .add(Command::new("/bin/sh").args(["-c", "exit 0"]))
        .cancel_on(&token)
        .run()
        .unwrap();
    let Err(first) = &results[0] else {
        panic!("{:?}", results[0])
    };
    let message = first.to_string();
    assert!(message.contains("killed by signal"), "{message}");
    let Err(second) = &results[1] else {
        panic!("{:?}", results[1])
    };
    assert!(matches!(second, Error::Cancelled { .. }), "{second:?}");
    assert_eq!(second.to_string(), "/bin/sh: cancelled (not started)");
}
