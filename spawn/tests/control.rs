//! Control from anywhere (issue 14): a `Child` shared by threads (waits and
//! signals on `&self`, every waiter the same status), a `ChildHandle` that
//! outlives its `Child`, waits that drain the pipes the `Child` holds,
//! `Child::lines` losing nothing to a later `communicate`, a `Child`'s
//! cancel token, and running pipelines (`Pipeline::spawn`).
//!
//! Every wait that could hang runs on a thread of its own and is bounded
//! by [`HANG`]: past it the child is killed (through a handle) and the test
//! fails, instead of hanging the suite.

// Results of waits cross threads whole: `Error` carries the child's output.

mod common;

use std::io::Read;
use std::sync::mpsc;
use std::thread;

use common::{HANG, alive, first_pid, gone_soon, reaped_soon};
use spawn::{CancelToken, Command, Error, Signal, Stdio, StreamName};

/// Runs `f` on a thread of its own; kills `child_pid`'s handle holder's
/// child (through `kill`) and fails if it takes longer than [`HANG`].
fn bounded<T: Send + 'static>(
    what: &str,
    kill: impl FnOnce(),
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG) {
        Ok(v) => {
            t.join().unwrap();
            v
        }
        Err(_) => {
            kill();
            panic!("{what}: still blocked after {HANG:?}");
        }
    }
}

#[test]
fn wait_drains_the_pipes_the_child_holds() {
    // More than any pipe holds, and nobody reads it: the old wait blocked
    // on the exit while the child blocked on the full pipe.
    let mut child = Command::new("seq")
        .arg("1000000")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let handle = child.handle();
    let (status, out) = bounded(
        "wait on a child with a full stdout pipe",
        move || {
            let _ = handle.kill();
        },
        move || {
            let status = child.wait().unwrap();
            // What the wait read is kept for communicate.
            let out = child.communicate(b"").unwrap();
            (status, out)
        },
    );
    assert!(status.success());
    assert_eq!(out.status, status);
    assert_eq!(out.stdout.len(), 6_888_896);
    assert!(out.stdout.starts_with(b"1\n2\n3\n"));
    assert!(out.stdout.ends_with(b"999999\n1000000\n"));
}

#[test]
fn wait_timeout_drains_too_and_communicate_returns_everything_once() {
    let mut child = Command::shell("seq 200000; seq 5 >&2")
        .capture_output()
        .spawn()
        .unwrap();
    let handle = child.handle();
    let out = bounded(
        "wait_timeout then communicate",
        move || {
            let _ = handle.kill();
        },
        move || {
            while child.wait_timeout(HANG / 100).unwrap().is_none() {}
            assert!(child.take_stdout().is_none(), "the wait drains it");
            child.communicate(b"").unwrap()
        },
    );
    let want: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(out.stdout, want.as_bytes());
    assert_eq!(out.stderr, b"1\n2\n3\n4\n5\n");
}

#[test]
fn two_threads_wait_while_a_third_kills_and_both_get_the_same_status() {
    // The child holds a pipe the waits drain: one waiter drives, the
    // other waits for it.
    let child = Command::shell("seq 100000; exec sleep 30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.pid();
    let handle = child.handle();
    let statuses = bounded(
        "two waiters and a kill",
        move || {
            let _ = handle.kill();
        },
        move || {
            thread::scope(|s| {
                let a = s.spawn(|| child.wait());
                let b = s.spawn(|| child.wait());
                // A signal never waits for a wait to let go of the child.
                s.spawn(|| child.kill().unwrap()).join().unwrap();
                let a = a.join().unwrap().unwrap();
                let b = b.join().unwrap().unwrap();
                // And a third look, after both, agrees.
                (a, b, child.wait().unwrap(), child.try_wait().unwrap())
            })
        },
    );
    let (a, b, c, d) = statuses;
    assert_eq!(a.signal(), Some(Signal::KILL.as_raw()));
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(Some(a), d);
    assert!(!alive(pid));
}

#[test]
fn a_bounded_wait_returns_while_another_thread_waits_forever() {
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let handle = child.handle();
    let (early, late) = bounded(
        "wait_timeout beside a wait",
        move || {
            let _ = handle.kill();
        },
        move || {
            thread::scope(|s| {
                let forever = s.spawn(|| child.wait());
                // Whether or not the other thread drives already, this one
                // returns by its own deadline.
                let early = child.wait_timeout(HANG / 200).unwrap();
                child.terminate().unwrap();
                (early, forever.join().unwrap().unwrap())
            })
        },
    );
    assert_eq!(early, None);
    assert_eq!(late.signal(), Some(Signal::TERM.as_raw()));
}

#[test]
fn a_handle_outlives_its_child() {
    let child = Command::new("sleep").arg("30").spawn().unwrap();
    let handle = child.handle();
    let pid = handle.pid();
    // Dropped while running (no kill_on_drop): the child runs on, reaped
    // in the background once it exits; the handle still reaches it.
    drop(child);
    assert!(alive(pid));
    handle.kill().unwrap();
    let h = handle.clone();
    let status = bounded(
        "a handle's wait",
        move || {
            let _ = h.kill();
        },
        move || handle.wait().unwrap(),
    );
    assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));

    // A handle taken from a child that already finished: the same status,
    // and signals are harmless.
    let child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let handle = child.handle();
    assert_eq!(child.wait().unwrap().code(), Some(7));
    drop(child);
    assert_eq!(handle.wait().unwrap().code(), Some(7));
    assert_eq!(handle.try_wait().unwrap().and_then(|s| s.code()), Some(7));
    handle.kill().unwrap();
}

#[test]
fn a_signal_after_the_reap_is_ok_and_reaches_nobody() {
    let child = Command::new("true").process_group(0).spawn().unwrap();
    assert!(child.wait().unwrap().success());
    child.kill().unwrap();
    child.terminate().unwrap();
    child.send_signal(Signal::USR1).unwrap();
    // Its group was empty at the reap: its id may be someone else's now.
    child.kill_group().unwrap();
    child.signal_group(Signal::TERM).unwrap();
    let handle = child.handle();
    handle.kill().unwrap();
    handle.kill_group().unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn kill_group_after_the_leader_was_reaped_reaches_the_members_left() {
    // The leader starts a member that outlives it (and does not hold the
    // pipe), prints its pid, and exits.
    let mut child = Command::shell("sleep 60 >/dev/null 2>&1 & echo $!")
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    child
        .take_stdout()
        .unwrap()
        .read_to_string(&mut line)
        .unwrap();
    let member = first_pid(line.as_bytes());
    assert!(child.wait().unwrap().success());
    assert!(alive(member), "the member outlives its leader");
    child.kill_group().unwrap();
    assert!(gone_soon(member), "kill_group reached the member left");
    // And a handle does the same once it is gone.
    child.handle().kill_group().unwrap();
}

#[test]
fn a_cancel_token_stops_a_childs_wait() {
    let token = CancelToken::new();
    let child = Command::new("sleep")
        .arg("30")
        .cancel_on(&token)
        .spawn()
        .unwrap();
    let handle = child.handle();
    let remote = token.clone();
    let canceller = thread::spawn(move || remote.cancel());
    let result = bounded(
        "a cancelled wait",
        move || {
            let _ = handle.kill();
        },
        move || child.wait(),
    );
    canceller.join().unwrap();
    match result {
        Err(Error::Cancelled { partial, .. }) => {
            assert_eq!(
                partial.status.signal(),
                Some(Signal::TERM.as_raw()),
                "{partial:#?}"
            );
        }
        other => panic!("expected a cancel, got {other:#?}"),
    }
}

#[test]
fn a_cancel_token_stops_a_childs_communicate() {
    let token = CancelToken::new();
    token.cancel();
    let mut child = Command::shell("echo before; exec sleep 30")
        .stdout(Stdio::piped())
        .cancel_on(&token)
        .spawn()
        .unwrap();
    let handle = child.handle();
    let result = bounded(
        "a cancelled communicate",
        move || {
            let _ = handle.kill();
        },
        move || child.communicate(b""),
    );
    match result {
        // Stopped, not just given up on: the child got the stop signal.
        Err(Error::Cancelled { partial, .. }) => {
            assert_eq!(partial.status.signal(), Some(Signal::TERM.as_raw()));
            assert!(!alive(partial.report.pid));
        }
        other => panic!("expected a cancel, got {other:#?}"),
    }
}

#[test]
fn lines_drain_both_pipes_a_mib_of_stderr_before_the_first_stdout_line() {
    // 1 MiB on stderr (more than any pipe holds) before stdout says a word:
    // reading stdout alone would block the child forever.
    let script = "yes 0123456789abcde | head -c 1048576 >&2; echo first; echo second";
    let mut child = Command::shell(script).capture_output().spawn().unwrap();
    let handle = child.handle();
    let (err_lines, out_lines, status) = bounded(
        "lines of a child that fills stderr first",
        move || {
            let _ = handle.kill();
        },
        move || {
            let mut err = 0usize;
            let mut out = Vec::new();
            for line in child.lines() {
                let line = line.unwrap();
                match line.stream {
                    StreamName::Stderr => {
                        assert_eq!(line.data, b"0123456789abcde");
                        err += 1;
                    }
                    _ => out.push(String::from_utf8(line.data).unwrap()),
                }
            }
            (err, out, child.wait().unwrap())
        },
    );
    assert_eq!(err_lines, 1_048_576 / 16);
    assert_eq!(out_lines, ["first", "second"]);
    assert!(status.success());
}

#[test]
fn lines_then_communicate_lose_nothing() {
    let script = "seq 1000; seq 1 300 >&2; printf 'no newline' >&2";
    let mut child = Command::shell(script).capture_output().spawn().unwrap();
    let handle = child.handle();
    let (yielded, out) = bounded(
        "lines then communicate",
        move || {
            let _ = handle.kill();
        },
        move || {
            let yielded: Vec<_> = child.lines().take(3).map(Result::unwrap).collect();
            (yielded, child.communicate(b"").unwrap())
        },
    );
    assert_eq!(yielded.len(), 3);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    for line in &yielded {
        let to = if line.stream == StreamName::Stdout {
            &mut stdout
        } else {
            &mut stderr
        };
        to.extend_from_slice(&line.data);
        to.push(b'\n');
    }
    let from_stdout = yielded
        .iter()
        .filter(|l| l.stream == StreamName::Stdout)
        .count();
    stdout.extend_from_slice(&out.stdout);
    stderr.extend_from_slice(&out.stderr);
    let want: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    assert_eq!(stdout, want.as_bytes());
    assert_eq!(
        out.stdout.iter().filter(|&&b| b == b'\n').count(),
        1000 - from_stdout
    );
    let mut want: String = (1..=300).map(|i| format!("{i}\n")).collect();
    want.push_str("no newline");
    assert_eq!(String::from_utf8(stderr).unwrap(), want);
    assert!(out.status.success());
}

#[test]
fn lines_yield_a_last_line_without_newline_and_feed_the_commands_input() {
    let mut child = Command::new("sh")
        .args(["-c", "cat; printf tail"])
        .input("a\nb\n")
        .capture_output()
        .spawn()
        .unwrap();
    let lines: Vec<_> = child
        .lines()
        .map(|l| String::from_utf8(l.unwrap().data).unwrap())
        .collect();
    assert_eq!(lines, ["a", "b", "tail"]);
    assert!(child.wait().unwrap().success());
    // Everything was handed out: communicate returns the status only.
    let out = child.communicate(b"").unwrap();
    assert!(out.stdout.is_empty() && out.status.success());
}

#[test]
fn input_after_communication_started_is_refused() {
    // Reads its input to EOF, then waits for USR1 before it answers: the
    // first communicate cannot have finished.
    let script = "import signal, sys\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\nprint('ready', flush=True)\ndata = sys.stdin.buffer.read()\nsignal.sigwait({signal.SIGUSR1})\nsys.stdout.buffer.write(data)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(matches!(
        child.communicate_timeout(b"x", std::time::Duration::ZERO),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        child.communicate(b"more"),
        Err(Error::InvalidInput { .. })
    ));
    // Lines carry on with the same drive (its input still fed): USR1 is
    // blocked once the child says so.
    let ready = child.lines().next().unwrap().unwrap();
    assert_eq!(ready.data, b"ready");
    child.send_signal(Signal::USR1).unwrap();
    let handle = child.handle();
    let out = bounded(
        "communicate after the refusal",
        move || {
            let _ = handle.kill();
        },
        move || child.communicate(b"").unwrap(),
    );
    assert_eq!(out.stdout, b"x");
}

#[test]
fn a_running_pipeline_read_to_eof() {
    let mut running = (Command::new("seq").arg("100000")
        | Command::new("grep").arg("7")
        | Command::new("sed").arg("s/^/n=/"))
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let pids = running.pids();
    assert_eq!(pids.len(), 3);
    let mut stdout = running.take_stdout().unwrap();
    let mut stderr = running.take_stderr().unwrap();
    assert!(running.take_stdout().is_none());
    let handle_pids = pids.clone();
    let (text, errors, statuses) = bounded(
        "a running pipeline read to EOF",
        move || {
            for pid in handle_pids {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).run();
            }
        },
        move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).unwrap();
            let mut errors = Vec::new();
            stderr.read_to_end(&mut errors).unwrap();
            (text, errors, running.wait().unwrap())
        },
    );
    let want: String = (1..=100_000)
        .filter(|i| i.to_string().contains('7'))
        .map(|i| format!("n={i}\n"))
        .collect();
    assert_eq!(text, want);
    assert!(errors.is_empty());
    assert_eq!(statuses.len(), 3);
    assert!(
        statuses.iter().all(spawn::ExitStatus::success),
        "{statuses:?}"
    );
    for pid in pids {
        assert!(!alive(pid));
    }
}

#[test]
fn a_running_pipeline_killed_mid_way_leaves_no_stage_alive() {
    let mut running = (Command::new("yes") | Command::new("cat"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pids = running.pids();
    let mut some = vec![0u8; 1 << 20];
    let mut stdout = running.take_stdout().unwrap();
    stdout.read_exact(&mut some).unwrap();
    assert!(some.chunks(2).all(|c| c == b"y\n"));
    running.kill().unwrap();
    let statuses = bounded(
        "wait after a kill",
        || {},
        move || {
            // Its stdout still held by us: the wait does not need it read.
            let statuses = running.wait().unwrap();
            drop(stdout);
            statuses
        },
    );
    assert_eq!(statuses[1].signal(), Some(Signal::KILL.as_raw()));
    // `yes` may see its reader die first.
    assert!(matches!(statuses[0].signal(), Some(9 | 13)), "{statuses:?}");
    for pid in pids {
        assert!(gone_soon(pid), "stage {pid} left alive");
    }
}

#[test]
fn a_running_pipelines_wait_drains_what_it_holds_and_feeds_its_input() {
    // More output than a pipe holds, and more stderr from both stages,
    // nobody reading: the wait drains them.
    // The last stage succeeds only if all of the input came through.
    let last = "n=$(wc -c); seq 100000 >&2; seq 100000; test \"$n\" -eq 1048576";
    let running = (Command::shell("cat; seq 100000 >&2") | Command::shell(last))
        .input(vec![b'x'; 1 << 20])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pids = running.pids();
    let statuses = bounded(
        "a pipeline's wait on full pipes",
        move || {
            for pid in pids {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).run();
            }
        },
        move || running.wait().unwrap(),
    );
    assert!(
        statuses.iter().all(spawn::ExitStatus::success),
        "{statuses:?}"
    );
}

#[test]
fn a_dropped_running_pipeline_is_reaped_in_the_background() {
    let running = (Command::new("sleep").arg("30") | Command::new("cat"))
        .spawn()
        .unwrap();
    let pids = running.pids();
    running.kill().unwrap();
    drop(running);
    for pid in pids {
        assert!(reaped_soon(pid), "stage {pid} left a zombie or alive");
    }
}

#[test]
fn a_running_pipelines_cancel_token_stops_every_stage() {
    let token = CancelToken::new();
    let running = (Command::new("sleep").arg("30") | Command::new("sleep").arg("31"))
        .cancel_on(&token)
        .spawn()
        .unwrap();
    let pids = running.pids();
    let remote = token.clone();
    let canceller = thread::spawn(move || remote.cancel());
    let result = bounded("a cancelled pipeline wait", || {}, move || running.wait());
    canceller.join().unwrap();
    assert!(matches!(result, Err(Error::Cancelled { .. })), "{result:?}");
    for pid in pids {
        assert!(gone_soon(pid), "stage {pid} left alive");
    }
}

#[test]
fn a_wait_after_lines_returns_the_timeout_that_ended_the_child() {
    let mut child = Command::shell("echo one; exec sleep 30")
        .stdout(Stdio::piped())
        .timeout(std::time::Duration::from_millis(200))
        .spawn()
        .unwrap();
    let handle = child.handle();
    let (lines, waited, status) = bounded(
        "lines of a child that times out",
        move || {
            let _ = handle.kill();
        },
        move || {
            let lines: Vec<_> = child.lines().map(|l| l.unwrap().data).collect();
            (lines, child.wait(), child.wait())
        },
    );
    assert_eq!(lines, [b"one".to_vec()]);
    match waited {
        Err(Error::Timeout { partial, .. }) => {
            assert_eq!(partial.status.signal(), Some(Signal::TERM.as_raw()));
        }
        other => panic!("expected the timeout, got {other:?}"),
    }
    // Every later waiter: the same status.
    assert_eq!(status.unwrap().signal(), Some(Signal::TERM.as_raw()));
}

#[test]
fn input_given_after_lines_or_wait_timeout_is_delivered() {
    // Says it is ready, then copies its stdin: nothing is written to it
    // before the communicate.
    for first in ["lines", "wait_timeout"] {
        let mut child = Command::new("sh")
            .args(["-c", "echo ready; cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        if first == "lines" {
            let ready = child.lines().next().unwrap().unwrap();
            assert_eq!(ready.data, b"ready");
        } else {
            let waited = child.wait_timeout(std::time::Duration::ZERO).unwrap();
            assert!(waited.is_none(), "cat waits for its input");
        }
        let handle = child.handle();
        let out = bounded(
            "communicate with input after lines",
            move || {
                let _ = handle.kill();
            },
            move || child.communicate(b"input"),
        );
        let out = out.unwrap_or_else(|e| panic!("after {first}: {e}"));
        let want: &[u8] = if first == "lines" {
            b"input"
        } else {
            b"ready\ninput"
        };
        assert_eq!(out.stdout, want, "after {first}");
        assert_eq!(out.report.stdin_bytes, 5, "after {first}");
        assert!(out.status.success(), "after {first}");
    }
}
