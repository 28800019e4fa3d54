//! Cancel-safety of the async API: futures dropped at every stage (before
//! they were polled, while feeding input, while draining output, during
//! the kill grace of a timeout, and with the runtime shut down right after
//! the drop) stop their children with the normal teardown in the
//! background: no zombie, no live descendant, no leaked fd.
//!
//! One test, its stages in sequence, so that the fd count of this process
//! is not disturbed by other tests running at the same time.

#![cfg(feature = "tokio")]

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{HANG, gone_soon};
use spawn::{Command, Error, Stdio};
use tokio::io::AsyncBufReadExt;

/// The fds this process has open.
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (bounded) until `pid` is no more in `/proc`: reaped, not a zombie.
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

/// Waits (bounded) until the fd count is back to `baseline` (the reaper
/// closes a dropped run's fds once it has driven its teardown).
fn fds_back_to(baseline: usize) -> usize {
    let start = Instant::now();
    loop {
        let n = fds();
        if n <= baseline || start.elapsed() > HANG {
            return n;
        }
        std::thread::yield_now();
    }
}

/// A FIFO in `dir` through which a child tells its pid and its
/// grandchild's, once it has reached the stage the test is about.
fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("pids");
    Command::new("mkfifo").arg(&path).check().unwrap();
    path
}

/// Polls `fut` until the child has written its two pids to `fifo`, then
/// drops it; returns the pids.
async fn drop_when_told<F: Future>(fifo: &Path, fut: F) -> (u32, u32) {
    let rx = tokio::net::unix::pipe::OpenOptions::new()
        .open_receiver(fifo)
        .unwrap();
    let mut lines = tokio::io::BufReader::new(rx).lines();
    let line = tokio::select! {
        line = lines.next_line() => line.unwrap().expect("a line of pids"),
        _ = fut => panic!("the run ended before it was dropped"),
    };
    // `fut` is dropped here, with the select.
    let mut nums = line.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    (nums.next().unwrap(), nums.next().unwrap())
}

/// Both gone: the child reaped (no zombie), the grandchild not alive.
fn assert_cleaned(stage: &str, (child, grandchild): (u32, u32)) {
    assert!(
        reaped_soon(child),
        "{stage}: the child {child} was not reaped"
    );
    assert!(
        gone_soon(grandchild),
        "{stage}: the grandchild {grandchild} outlived the drop"
    );
}

/// A child (in a group of its own, as a timeout gives it) that starts a
/// grandchild ignoring TERM, tells both pids, then does `then`.
fn teller(fifo: &Path, then: &str) -> Command {
    Command::shell(format!(
        "(trap '' TERM; exec sleep 37) & echo $$ $! > \"$1\"; {then}"
    ))
    .arg(fifo)
    .timeout(Duration::from_secs(600))
    .kill_grace(Duration::from_millis(300))
}

#[test]
fn dropped_futures_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();

    // Outside a runtime: an error, not a panic, and nothing starts.
    let marker = dir.path().join("started");
    let err = block_on_without_runtime(Command::new("touch").arg(&marker).run_async()).unwrap_err();
    assert!(matches!(err, Error::NoRuntime { .. }), "{err}");
    let err = Command::new("true").spawn_async().unwrap_err();
    assert!(matches!(err, Error::NoRuntime { .. }), "{err}");
    assert!(wait_no_children(HANG).is_empty());
    assert!(
        !marker.exists(),
        "a run outside a runtime started its child"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Warm up: the reaper thread and its epoll set exist from here on.
    rt.block_on(Command::new("true").run_async()).unwrap();
    let baseline = fds();

    // Before it was polled: nothing starts.
    let fut = Command::new("touch").arg(&marker).run_async();
    drop(fut);
    rt.block_on(Command::new("true").run_async()).unwrap();
    assert!(!marker.exists(), "an unpolled future started its child");

    // While feeding input: `sleep` never reads, the 16 MiB wait in our pipe.
    let f = fifo(dir.path());
    let cmd = teller(&f, "exec sleep 30").input(vec![b'x'; 16 << 20]);
    let pids = rt.block_on(drop_when_told(&f, cmd.run_async()));
    assert_cleaned("feeding input", pids);
    std::fs::remove_file(&f).unwrap();

    // While draining output.
    let f = fifo(dir.path());
    let cmd = teller(&f, "exec yes").stdout(Stdio::piped());
    let pids = rt.block_on(drop_when_told(&f, cmd.check_output_async()));
    assert_cleaned("draining output", pids);
    std::fs::remove_file(&f).unwrap();

    // A pipeline and a group, dropped while running.
    let f = fifo(dir.path());
    let pipeline = (teller(&f, "exec yes") | Command::new("cat")).stdout(Stdio::piped());
    let pids = rt.block_on(drop_when_told(&f, pipeline.run_async()));
    assert_cleaned("a pipeline", pids);
    std::fs::remove_file(&f).unwrap();
    let f = fifo(dir.path());
    let group = spawn::Group::new()
        .add(teller(&f, "exec sleep 30"))
        .add(Command::new("sleep").arg("30"));
    let pids = rt.block_on(drop_when_told(&f, group.run_async()));
    assert_cleaned("a group", pids);
    std::fs::remove_file(&f).unwrap();

    // During the grace: the command's timeout passed and its TERM was
    // ignored (by the child and its grandchild); `tokio::time::timeout`
    // drops the run before the KILL at the grace's end.
    let f = fifo(dir.path());
    let reader = {
        let f = f.clone();
        std::thread::spawn(move || std::fs::read_to_string(f).unwrap())
    };
    let start = Instant::now();
    let cmd = Command::shell("trap '' TERM; (exec sleep 37) & echo $$ $! > \"$1\"; exec sleep 30")
        .arg(&f)
        .timeout(Duration::from_millis(100))
        .kill_grace(Duration::from_millis(1500));
    let dropped = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(600), cmd.run_async()).await
    });
    assert!(
        dropped.is_err(),
        "the run ended before the outer timeout: {dropped:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "the drop came after the grace"
    );
    let line = reader.join().unwrap();
    let mut nums = line.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    let pids = (nums.next().unwrap(), nums.next().unwrap());
    assert_cleaned("during the grace", pids);
    std::fs::remove_file(&f).unwrap();

    // The runtime shut down right after the drop: the reaper, not a task,
    // carries the teardown out.
    let f = fifo(dir.path());
    let rt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cmd = teller(&f, "exec sleep 30");
    let task = rt2.spawn(cmd.run_async());
    let pids = rt2.block_on(async {
        let rx = tokio::net::unix::pipe::OpenOptions::new()
            .open_receiver(&f)
            .unwrap();
        let mut lines = tokio::io::BufReader::new(rx).lines();
        let line = lines.next_line().await.unwrap().unwrap();
        let mut nums = line.split_whitespace().map(|n| n.parse::<u32>().unwrap());
        (nums.next().unwrap(), nums.next().unwrap())
    });
    drop(rt2); // aborts the task, dropping its future
    drop(task);
    assert_cleaned("runtime shut down", pids);

    drop(rt);
    let left = wait_no_children(HANG);
    assert!(left.is_empty(), "children left: {left:?}");
    // The runtime's own fds are gone with it; everything else is back.
    let now = fds_back_to(baseline);
    assert!(now <= baseline, "fds: {now} open, {baseline} before");
}

/// This process's children (any state), waited for (bounded) to be none.
fn wait_no_children(limit: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let kids = children();
        if kids.is_empty() || start.elapsed() > limit {
            return kids;
        }
        std::thread::yield_now();
    }
}

fn children() -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = entry.path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Polls a future to completion without a tokio runtime.
fn block_on_without_runtime<F: Future>(fut: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(start.elapsed() < HANG, "never ready");
        std::thread::yield_now();
    }
}
