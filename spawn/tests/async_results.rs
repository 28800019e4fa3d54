//! `Group::results_async` taken with its inherent `next().await` (no
//! `futures-core`, no hand-written `poll_fn`), cancel-safe under
//! `select!`. (Before `AsyncGroupResults`, `results_async` returned an
//! opaque `impl Stream` without `next`: this file did not compile.)

#![cfg(feature = "tokio")]

mod common;

use std::time::{Duration, Instant};

use common::HANG;
use spawn::{Command, Group, Stdio};

#[tokio::test]
async fn next_gives_every_result_as_children_finish() {
    let group = Group::new().max_running(3).add_all((0..10).map(|i| {
        Command::new("echo")
            .arg(i.to_string())
            .stdout(Stdio::piped())
    }));
    let mut results = group.results_async();
    let mut seen = Vec::new();
    while let Some((index, result)) = results.next().await {
        assert_eq!(result.unwrap().stdout, format!("{index}\n").as_bytes());
        seen.push(index);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..10).collect::<Vec<_>>());
    // Ended: it stays ended.
    assert!(results.next().await.is_none());
}

#[tokio::test]
async fn a_dropped_next_loses_no_result() {
    let group = Group::new().add_all([
        Command::shell("sleep 0.3; echo slow").stdout(Stdio::piped()),
        Command::new("echo").arg("fast").stdout(Stdio::piped()),
    ]);
    let mut results = group.results_async();
    let mut seen = Vec::new();
    let mut dropped = 0;
    let start = Instant::now();
    // Each `next` given 1 ms: many are dropped before they complete (the
    // slow child takes 300 ms); none loses a result.
    while seen.len() < 2 {
        assert!(start.elapsed() < HANG, "hangs");
        match tokio::time::timeout(Duration::from_millis(1), results.next()).await {
            Ok(r) => {
                let (index, result) = r.expect("ended early");
                seen.push((index, result.unwrap().stdout));
            }
            Err(_elapsed) => dropped += 1,
        }
    }
    assert!(dropped > 0);
    seen.sort();
    assert_eq!(seen, [(0, b"slow\n".to_vec()), (1, b"fast\n".to_vec())]);
    assert!(results.next().await.is_none());
}
