//! The async API at scale: 1,000 concurrent `run_async` on one
//! current-thread runtime, and a `Group` of 2,000 through
//! `results_async`, each result checked.

#![cfg(feature = "tokio")]

mod common;

use std::future::poll_fn;
use std::pin::pin;
use std::time::Instant;

use futures_core::Stream;
use spawn::{Command, Group, Stdio};

#[test]
fn a_thousand_concurrent_runs_on_a_current_thread_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..1000 {
            let cmd = Command::new("sh")
                .args(["-c", "read x; echo \"$0 $x\""])
                .arg(i.to_string())
                .input(format!("in{i}\n"))
                .stdout(Stdio::piped());
            tasks.spawn(async move { (i, cmd.check_async().await) });
        }
        let mut seen = vec![false; 1000];
        while let Some(r) = tasks.join_next().await {
            let (i, out) = r.unwrap();
            assert_eq!(out.unwrap().stdout, format!("{i} in{i}\n").as_bytes());
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s));
    });
    assert!(start.elapsed() < common::HANG * 6, "{:?}", start.elapsed());
}

#[test]
fn a_group_of_two_thousand_through_results_async() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let group = Group::new().max_running(64).add_all((0..2000).map(|i| {
            Command::new("echo")
                .arg(i.to_string())
                .stdout(Stdio::piped())
        }));
        let mut results = pin!(group.results_async());
        let mut seen = vec![false; 2000];
        let mut n = 0;
        while let Some((index, result)) = poll_fn(|cx| results.as_mut().poll_next(cx)).await {
            assert_eq!(result.unwrap().stdout, format!("{index}\n").as_bytes());
            assert!(!seen[index], "{index} twice");
            seen[index] = true;
            n += 1;
        }
        assert_eq!(n, 2000);
    });
}
