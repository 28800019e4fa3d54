//! `AsyncChild::lines`: the blocking `Child::lines` contract, awaited:
//! lines of stdout and stderr as they come (cut from the engine's
//! collecting sinks), and what is not yielded stays for a later
//! `communicate`. (Before, `AsyncChild` had no `lines`: this file did not
//! compile.)

#![cfg(feature = "tokio")]

mod common;

use common::HANG;
use spawn::{Command, Stdio, StreamName};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

#[tokio::test]
async fn lines_come_as_the_child_writes_them() {
    // `cat` echoes each line only once it is written: a line that came
    // out before the next was written was yielded as it came, not at EOF.
    let mut child = Command::shell("cat; echo done >&2")
        .stdin(Stdio::piped())
        .capture_output()
        .spawn_async()
        .unwrap();
    let mut stdin = child.take_stdin().unwrap();
    let mut lines = child.lines();
    for i in 0..20 {
        stdin
            .write_all(format!("line {i}\n").as_bytes())
            .await
            .unwrap();
        let line = timeout(HANG, lines.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(line.stream, StreamName::Stdout);
        assert_eq!(line.data, format!("line {i}").as_bytes());
    }
    // A last line without its newline comes at EOF. Stdout's EOF and
    // stderr's `done` come in the same moment (`sh` holds stdout until it
    // exits, after `done`): in either order.
    stdin.write_all(b"tail").await.unwrap();
    drop(stdin);
    let mut last = Vec::new();
    for _ in 0..2 {
        let line = timeout(HANG, lines.next()).await.unwrap().unwrap().unwrap();
        last.push((line.stream == StreamName::Stdout, line.data));
    }
    last.sort();
    assert_eq!(
        last,
        vec![(false, b"done".to_vec()), (true, b"tail".to_vec())]
    );
    assert!(lines.next().await.is_none());
    drop(lines);
    assert!(
        timeout(HANG, child.wait())
            .await
            .unwrap()
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn lines_not_taken_stay_for_communicate() {
    let mut child = Command::shell("echo one; echo two; echo err >&2; echo three")
        .capture_output()
        .spawn_async()
        .unwrap();
    let mut lines = child.lines();
    let first = lines.next().await.unwrap().unwrap();
    assert_eq!(first.data, b"one");
    drop(lines);
    let out = timeout(HANG, child.communicate(b""))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.stdout, b"two\nthree\n");
    assert_eq!(out.stderr, b"err\n");
    assert!(out.status.success());
}

#[tokio::test]
async fn a_dropped_next_loses_no_line() {
    let mut child = Command::shell("for i in 1 2 3; do echo $i; sleep 0.05; done")
        .capture_output()
        .spawn_async()
        .unwrap();
    let mut lines = child.lines();
    let mut got = Vec::new();
    let start = std::time::Instant::now();
    loop {
        assert!(start.elapsed() < HANG, "hangs");
        match timeout(std::time::Duration::from_millis(1), lines.next()).await {
            Ok(Some(line)) => got.push(String::from_utf8(line.unwrap().data).unwrap()),
            Ok(None) => break,
            Err(_elapsed) => {}
        }
    }
    assert_eq!(got, ["1", "2", "3"]);
}
