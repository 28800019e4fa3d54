//! `AsyncChild` (`Command::spawn_async`): async pipe ends, waits and
//! signals on `&self` from several tasks, a resumable `communicate`, the
//! command's timeout in `wait`, `kill_group`, `handle()`, drops; and the
//! waits again without pidfds (`SPAWN_NO_PIDFD=1`, in a process of its own).

#![cfg(feature = "tokio")]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{HANG, alive, first_pid, gone_soon, rerun_this_binary};
use spawn::{AsyncChild, Command, Error, Signal, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn send<T: Send>(_: &T) {}

fn reaped_soon(pid: u32) -> bool {
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        if start.elapsed() > HANG {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

#[tokio::test]
async fn interactive_pipes_read_and_write_without_blocking() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn_async()
        .unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let mut lines = BufReader::new(child.take_stdout().unwrap()).lines();
    for i in 0..100 {
        stdin
            .write_all(format!("ping {i}\n").as_bytes())
            .await
            .unwrap();
        assert_eq!(
            lines.next_line().await.unwrap().unwrap(),
            format!("ping {i}")
        );
    }
    // More than a pipe holds, written and read by two tasks at once.
    let writer = tokio::spawn(async move {
        stdin.write_all(&vec![b'q'; 4 << 20]).await.unwrap();
    });
    let mut got = 0;
    let mut stdout = lines.into_inner();
    let mut buf = vec![0; 1 << 16];
    while got < 4 << 20 {
        let n = stdout.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got += n;
    }
    writer.await.unwrap(); // its stdin dropped: cat sees EOF
    assert_eq!(stdout.read(&mut buf).await.unwrap(), 0);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_waits_while_another_kills() {
    let child = Arc::new(Command::new("sleep").arg("30").spawn_async().unwrap());
    let (a, b) = (Arc::clone(&child), Arc::clone(&child));
    let waiter = tokio::spawn(async move { a.wait().await });
    let waiter2 = tokio::spawn(async move { b.wait().await });
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    for w in [waiter, waiter2] {
        let status = tokio::time::timeout(HANG, w)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(status.signal(), Some(Signal::KILL.as_raw()));
    }
    assert_eq!(child.try_wait().unwrap().unwrap().signal(), Some(9));
    assert_eq!(child.wait().await.unwrap().signal(), Some(9));
}

#[tokio::test]
async fn every_future_is_send() {
    let mut child = Command::new("true")
        .stdin(Stdio::piped())
        .spawn_async()
        .unwrap();
    let cmd = Command::new("true");
    send(&cmd.run_async());
    send(&cmd.check_async());
    send(&cmd.check_output_async());
    send(&cmd.check_output_string_async());
    send(&(Command::new("true") | Command::new("true")).run_async());
    send(&spawn::Group::new().run_async());
    send(&spawn::Group::new().results_async());
    send(&child.wait());
    send(&child.communicate(b""));
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&child);
    child.wait().await.unwrap();
}

#[tokio::test]
async fn a_dropped_communicate_is_resumed_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("flag");
    let mut child =
        Command::shell("echo a; cat; while [ ! -e \"$1\" ]; do sleep 0.01; done; echo b")
            .arg(&flag)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn_async()
            .unwrap();
    // The input is more than a pipe holds; the first call is dropped
    // before it completes (the child waits for the flag).
    let input = vec![b'i'; 3 << 20];
    let first = tokio::time::timeout(Duration::from_millis(100), child.communicate(&input)).await;
    assert!(first.is_err(), "completed before the flag: {first:?}");
    std::fs::write(&flag, "").unwrap();
    let out = child.communicate(b"").await.unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 2 + (3 << 20) + 2);
    assert!(out.stdout.starts_with(b"a\ni"));
    assert!(out.stdout.ends_with(b"i\nb\n") || out.stdout.ends_with(b"ib\n"));
    assert_eq!(out.report.stdin_bytes, 3 << 20);
}

#[tokio::test]
async fn wait_enforces_the_commands_timeout_on_its_group() {
    let mut child = Command::shell("(trap '' TERM; exec sleep 37) & echo $!; exec sleep 30")
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(300))
        .kill_grace(Duration::from_millis(200))
        .spawn_async()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.take_stdout().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let member: u32 = line.trim().parse().unwrap();
    let start = Instant::now();
    let err = child.wait().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(start.elapsed() < HANG);
    assert!(
        gone_soon(member),
        "the member {member} outlived the timeout"
    );
}

#[tokio::test]
async fn kill_group_reaches_the_grandchildren_and_handle_outlives_the_child() {
    let mut child = Command::shell("sleep 37 & echo $!; wait")
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn_async()
        .unwrap();
    let mut out = Vec::new();
    let mut stdout = child.take_stdout().unwrap();
    while !out.contains(&b'\n') {
        let mut buf = [0; 64];
        let n = stdout.read(&mut buf).await.unwrap();
        assert!(n > 0);
        out.extend_from_slice(&buf[..n]);
    }
    let grandchild = first_pid(&out);
    let handle = child.handle();
    assert_eq!(handle.pid(), child.pid());
    child.kill_group().unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(9));
    assert!(
        gone_soon(grandchild),
        "grandchild {grandchild} survived kill_group"
    );
    drop(child);
    assert_eq!(handle.try_wait().unwrap().unwrap().signal(), Some(9));

    // Without a group of its own, kill_group refuses (it would hit us).
    let child = Command::new("true").spawn_async().unwrap();
    assert!(matches!(
        child.kill_group(),
        Err(Error::InvalidInput { .. })
    ));
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn signals_reach_a_handler_and_terminate_stops() {
    let mut child = Command::new("python3")
        .args(["-c", "import signal, sys, time\nsignal.signal(signal.SIGUSR1, lambda *a: (print('usr1', flush=True), sys.exit(5)))\nprint('ready', flush=True)\ntime.sleep(30)"])
        .stdout(Stdio::piped())
        .spawn_async()
        .unwrap();
    let mut lines = BufReader::new(child.take_stdout().unwrap()).lines();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "ready");
    child.send_signal(Signal::USR1).unwrap();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "usr1");
    assert_eq!(child.wait().await.unwrap().code(), Some(5));
    // After the reap a signal reaches nobody, and is no error.
    child.terminate().unwrap();

    let child = Command::new("sleep").arg("30").spawn_async().unwrap();
    child.terminate().unwrap();
    assert_eq!(child.wait().await.unwrap().signal(), Some(15));
}

#[tokio::test]
async fn wait_closes_stdin_and_dropping_leaves_no_zombie() {
    let child = Command::new("cat")
        .stdin(Stdio::piped())
        .spawn_async()
        .unwrap();
    assert!(
        tokio::time::timeout(HANG, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );

    let child = Command::new("true").spawn_async().unwrap();
    let pid = child.pid();
    drop(child);
    assert!(reaped_soon(pid), "dropped child {pid} not reaped");

    let child = Command::new("sleep")
        .arg("60")
        .kill_on_drop(true)
        .spawn_async()
        .unwrap();
    let pid = child.pid();
    drop(child);
    assert!(
        reaped_soon(pid),
        "kill_on_drop child {pid} not killed and reaped"
    );
    assert!(!alive(pid));
}

#[tokio::test]
async fn communicate_drains_into_sinks_and_input_needs_a_pipe() {
    let mut child = Command::new("sh")
        .args(["-c", "cat; echo done >&2"])
        .stdin(Stdio::piped())
        .stdout(spawn::Sink::head_tail(3, 3))
        .stderr(Stdio::piped())
        .spawn_async()
        .unwrap();
    let out = child.communicate(b"abcdefgh").await.unwrap();
    assert_eq!(out.stdout, b"abcfgh");
    assert_eq!(out.stderr, b"done\n");
    assert!(child.try_wait().unwrap().unwrap().success());

    let mut child: AsyncChild = Command::new("sleep").arg("0.1").spawn_async().unwrap();
    let err = child.communicate(b"x").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(child.wait().await.unwrap().success());
}

#[test]
fn the_waits_work_without_pidfds() {
    if std::env::var_os("SPAWN_NO_PIDFD").is_some() {
        return; // the inner run: the other tests are the test
    }
    rerun_this_binary(
        &["--skip", "the_waits_work_without_pidfds"],
        ("SPAWN_NO_PIDFD", "1"),
        9,
    );
}
