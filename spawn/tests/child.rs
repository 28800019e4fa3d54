//! `Child`, `Group` and `Pipeline` against real processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spawn::{Command, Error, Group, Progress, Signal, Sink, Stdio};

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (bounded, for hangs only) until `cond` holds.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn interactive_pipes() {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let mut stdout = BufReader::new(child.take_stdout().unwrap());
    for word in ["one", "two", "three"] {
        writeln!(stdin, "{word}").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, format!("{}\n", word.to_uppercase()));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn communicate_feeds_and_drains() {
    let mut child = Command::new("sh")
        .args(["-c", "cat; echo done >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = vec![b'z'; 3 << 20];
    let out = child.communicate(&input).unwrap();
    assert_eq!(out.stdout.len(), 3 << 20);
    assert_eq!(out.stderr, b"done\n");
    assert!(out.status.success());
    assert!(child.try_wait().unwrap().unwrap().success());
}

#[test]
fn communicate_timeout_resumes_where_it_stopped() {
    // The child reads one line, echoes it, waits for USR1, then reads the
    // rest of stdin and prints how much it got.
    let script = "import signal, sys\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\nline = sys.stdin.buffer.readline()\nsys.stdout.buffer.write(line)\nsys.stdout.flush()\nsignal.sigwait({signal.SIGUSR1})\nrest = sys.stdin.buffer.read()\nprint(len(rest), flush=True)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = b"first line\n".to_vec();
    input.extend(std::iter::repeat_n(b'r', 4 << 20));
    let mut first = true;
    let start = Instant::now();
    loop {
        let arg: &[u8] = if first { &input } else { b"" };
        first = false;
        match child.communicate_timeout(arg, Duration::from_millis(100)) {
            Err(Error::Timeout { partial, .. }) => {
                if partial.stdout == b"first line\n" {
                    break;
                }
                assert!(partial.stdout.is_empty() || b"first line\n".starts_with(&partial.stdout));
            }
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(30));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the child keeps running"
    );
    child.send_signal(Signal::USR1).unwrap();
    let out = child.communicate(b"").unwrap();
    assert_eq!(out.stdout, format!("first line\n{}\n", 4 << 20).as_bytes());
    assert_eq!(out.report.stdin_bytes, input.len() as u64);
}

#[test]
fn waits_and_signals() {
    let child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
    assert!(child.try_wait().unwrap().is_none());
    assert!(
        child
            .wait_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
    child.terminate().unwrap();
    let st = child
        .wait_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(st.signal(), Some(15));
    // Signals after the child was reaped are a no-op, never a reused pid.
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(15));

    let child = Command::new("sleep").arg("60").spawn().unwrap();
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
}

#[test]
fn usr1_reaches_a_handler() {
    let script = "import signal, sys\ngot = []\nsignal.signal(signal.SIGUSR1, lambda *a: got.append(1))\nprint('ready', flush=True)\nwhile not got: signal.pause()\nprint('got USR1', flush=True)\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.take_stdout().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    child.send_signal(Signal::USR1).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "got USR1\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn kill_group_reaches_the_grandchildren() {
    let mut child = Command::shell("sleep 60 & echo $!; wait")
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    assert!(alive(grandchild));
    child.kill_group().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    eventually("grandchild killed", || !alive(grandchild));

    // Without a group of its own, kill_group refuses (it would hit us).
    let child = Command::new("true").spawn().unwrap();
    assert!(matches!(
        child.kill_group(),
        Err(Error::InvalidInput { .. })
    ));
    child.wait().unwrap();
}

#[test]
fn dropping_a_child_leaves_no_zombie() {
    let child = Command::new("true").spawn().unwrap();
    let pid = child.pid();
    drop(child);
    eventually("dropped child reaped", || !exists(pid));

    let child = Command::new("sleep")
        .arg("60")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.pid();
    drop(child);
    eventually("kill_on_drop child killed and reaped", || !exists(pid));
}

#[test]
fn group_results_come_in_order_and_failures_stay_in_place() {
    let mut cmds: Vec<Command> = (0..50)
        .map(|i| Command::shell(format!("echo {i}")).stdout(Stdio::piped()))
        .collect();
    cmds[10] = Command::new("spawn-not-here");
    cmds[20] = Command::shell("exit 4");
    let results = Group::new().max_running(7).add_all(cmds).run().unwrap();
    assert_eq!(results.len(), 50);
    for (i, r) in results.iter().enumerate() {
        match i {
            10 => assert!(matches!(r, Err(Error::NotFound { .. }))),
            20 => assert_eq!(r.as_ref().unwrap().status.code(), Some(4)),
            _ => assert_eq!(r.as_ref().unwrap().stdout, format!("{i}\n").as_bytes()),
        }
    }
}

#[test]
fn group_never_exceeds_max_running() {
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let s2 = Arc::clone(&seen);
    let results = Group::new()
        .max_running(3)
        .add_all((0..20).map(|_| Command::new("true")))
        .on_progress(move |p| s2.lock().unwrap().push(p))
        .run()
        .unwrap();
    assert!(results.iter().all(|r| r.as_ref().unwrap().status.success()));
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|p| p.running <= 3), "{seen:?}");
    assert_eq!(seen.last().unwrap().done, 20);
}

#[test]
fn group_streams_lines_tagged_per_child() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let cmds = (0..10).map(|i| {
        let l = Arc::clone(&lines);
        Command::shell("for j in 1 2 3; do echo line$j; done").stdout(Sink::lines(move |line| {
            l.lock()
                .unwrap()
                .push(format!("[{i}] {}", String::from_utf8_lossy(line)));
        }))
    });
    Group::new().add_all(cmds).run().unwrap();
    let mut lines = lines.lock().unwrap().clone();
    lines.sort();
    assert_eq!(lines.len(), 30);
    assert_eq!(lines[0], "[0] line1");
    assert_eq!(lines[29], "[9] line3");
}

#[test]
fn group_timeout_is_a_result_in_its_place() {
    let results = Group::new()
        .add(
            Command::new("sleep")
                .arg("60")
                .timeout(Duration::from_millis(200)),
        )
        .add(Command::new("echo").arg("fine").stdout(Stdio::piped()))
        .run()
        .unwrap();
    assert!(matches!(results[0], Err(Error::Timeout { .. })));
    assert_eq!(results[1].as_ref().unwrap().stdout, b"fine\n");
}

#[test]
fn pipeline_connects_stages() {
    let out = (Command::new("printf").arg("a:1\nb:2\nc:3\n")
        | Command::new("grep").arg("-v").arg("b")
        | Command::new("cut").args(["-d:", "-f2"]))
    .stdout(Stdio::piped())
    .run()
    .unwrap();
    assert_eq!(out.stdout, b"1\n3\n");
    assert_eq!(out.statuses.len(), 3);
    assert!(out.statuses.iter().all(spawn::ExitStatus::success));
}

#[test]
fn pipeline_sigpipe_upstream_is_a_status() {
    let out = (Command::new("yes") | Command::new("head").args(["-n", "2"]))
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"y\ny\n");
    assert_eq!(out.statuses[0].signal(), Some(13));
    assert!(out.statuses[1].success());
    assert!(out.success());
}

#[test]
fn pipeline_input_stderr_and_timeout() {
    let out = (Command::new("sort") | Command::shell("cat; echo note >&2"))
        .input("b\na\n")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
    assert_eq!(out.stderr, b"note\n");

    let start = Instant::now();
    let err = (Command::new("sleep").arg("60") | Command::new("cat"))
        .timeout(Duration::from_millis(200))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));

    let err = (Command::new("echo") | Command::new("spawn-absent-stage"))
        .run()
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref program, .. } if program == "spawn-absent-stage"),
        "{err}"
    );
}

#[test]
fn a_timed_out_communicate_on_a_running_child_says_it_is_still_running() {
    let mut child = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child
        .communicate_timeout(b"", Duration::from_millis(50))
        .expect_err("sleep 30 outlives the timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.ends_with("(still running)"), "{message}");
    assert!(!message.contains("exit status"), "{message}");
    child.kill().unwrap();
    assert!(child.wait().unwrap().signal().is_some());
}

#[test]
fn stdin_bytes_counts_what_the_child_took_not_what_sat_in_the_pipe() {
    // 4 MiB to a child that reads one byte and exits: the pipe held far
    // more than that when it went away. (Not in run.rs: its RSS test would
    // count these megabytes.)
    let out = Command::new("head")
        .args(["-c", "1"])
        .input(vec![b'x'; 4 << 20])
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"x");
    assert!(out.report.input_broken, "{:?}", out.report);
    // `head -c 1` reads at most one buffer (a few KiB) before it exits.
    assert!(
        (1..=64 << 10).contains(&out.report.stdin_bytes),
        "stdin_bytes = {}",
        out.report.stdin_bytes
    );

    // A child that takes it all is counted in full.
    let out = Command::new("wc")
        .arg("-c")
        .input(vec![b'x'; 4 << 20])
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy().trim(), (4 << 20).to_string());
    assert_eq!(out.report.stdin_bytes, 4 << 20);
    assert!(!out.report.input_broken);
}
