//! Every stop of an async run ends everything it started (issue 27): a
//! `run_async` or `Group::run_async` future dropped (a `tokio::time::timeout`
//! around it), with or without `process_group(0)`, and a runtime dropped
//! while a spawned `run_async` runs, leave no grandchild running. The child
//! (`sh`) writes its grandchild's pid into a file; the stop comes once the
//! file names it.

#![cfg(feature = "tokio")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{HANG, gone_soon};
use spawn::{Command, Group};

fn with_grandchild(file: &Path) -> Command {
    Command::new("sh").args([
        "-c",
        r#"sleep 65 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"; wait; true"#,
        &file.display().to_string(),
    ])
}

/// The pid in `file`, once the child wrote it.
async fn pid_in(file: &Path) -> u32 {
    let start = std::time::Instant::now();
    loop {
        if let Ok(s) = tokio::fs::read_to_string(file).await
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(start.elapsed() < HANG, "{} never written", file.display());
        tokio::task::yield_now().await;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_dropped_run_async_future_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    for (i, leads) in [false, true].into_iter().enumerate() {
        let file = dir.path().join(i.to_string());
        let pid = runtime().block_on(async {
            let mut cmd = with_grandchild(&file);
            if leads {
                cmd = cmd.process_group(0);
            }
            let run = cmd.run_async();
            tokio::pin!(run);
            // Drive the run until the grandchild is there, then drop it.
            tokio::select! {
                res = &mut run => panic!("finished: {res:?}"),
                pid = pid_in(&file) => pid,
            }
        });
        assert!(
            gone_soon(pid),
            "process_group(0): {leads}: grandchild {pid} still runs"
        );
    }
}

#[test]
fn a_dropped_group_run_async_future_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..2).map(|i| dir.path().join(i.to_string())).collect();
    let pids = runtime().block_on(async {
        let run = Group::new()
            .add_all(files.iter().map(|f| with_grandchild(f)))
            .run_async();
        tokio::pin!(run);
        tokio::select! {
            res = &mut run => panic!("finished: {res:?}"),
            pids = async {
                let mut pids = Vec::new();
                for f in &files {
                    pids.push(pid_in(f).await);
                }
                pids
            } => pids,
        }
    });
    for pid in pids {
        assert!(gone_soon(pid), "grandchild {pid} still runs");
    }
}

#[test]
fn a_runtime_dropped_while_a_spawned_run_async_runs_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cmd = with_grandchild(&file);
    rt.spawn(async move { cmd.run_async().await });
    let pid = rt.block_on(pid_in(&file));
    drop(rt);
    assert!(gone_soon(pid), "grandchild {pid} still runs");
}

#[test]
fn a_timed_out_run_async_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let pid = runtime().block_on(async {
        let run = with_grandchild(&file).run_async();
        let pid = async { pid_in(&file).await };
        tokio::pin!(run, pid);
        let pid = tokio::select! {
            res = &mut run => panic!("finished: {res:?}"),
            pid = &mut pid => pid,
        };
        // The caller's own timeout around the future: its drop stops it.
        let res = tokio::time::timeout(Duration::from_millis(1), run).await;
        assert!(res.is_err(), "{res:?}");
        pid
    });
    assert!(gone_soon(pid), "grandchild {pid} still runs");
}
