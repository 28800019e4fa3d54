//! The shared table of behaviour cases (`tests/cases`) through the blocking
//! API and through the async driver, on both runtime flavours, and again
//! without pidfds (`SPAWN_NO_PIDFD=1`, in a process of its own since the
//! probe is made once per process). The drivers must agree on every case.
//! The blocking runner runs without the `tokio` feature too.

mod cases;
mod common;

#[cfg(feature = "tokio")]
use std::time::Instant;

#[cfg(feature = "tokio")]
use cases::{Case, Got, Job};

/// Runs `job` through the async API.
#[cfg(feature = "tokio")]
async fn run_async(job: Job) -> Got {
    match job {
        Job::Run(c) => Got::Run(c.run_async().await),
        Job::Check(c) => Got::Run(c.check_async().await),
        Job::CheckOutput(c) => Got::Bytes(c.check_output_async().await),
        Job::CheckOutputString(c) => Got::Text(c.check_output_string_async().await),
        Job::Pipeline(p) => Got::Pipeline(p.run_async().await),
        Job::Group(g) => Got::Group(g.run_async().await),
        Job::Communicate(c, input) => Got::Run(match c.spawn_async() {
            Ok(mut child) => child.communicate(&input).await,
            Err(e) => Err(e),
        }),
    }
}

/// Every case at once, each in a task of its own on `rt`.
#[cfg(feature = "tokio")]
fn run_all_async(rt: &tokio::runtime::Runtime) {
    let failed = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for Case { name, build } in cases::all() {
            tasks.spawn(async move {
                let (job, check) = build();
                let start = Instant::now();
                let got = run_async(job).await;
                // The checks block (they look in /proc): off the runtime.
                tokio::task::spawn_blocking(move || {
                    cases::checked(name, check, got, start.elapsed())
                })
                .await
                .unwrap()
            });
        }
        let mut failed = Vec::new();
        while let Some(r) = tasks.join_next().await {
            failed.extend(r.unwrap());
        }
        failed
    });
    cases::report(&failed);
}

#[test]
fn blocking_runner() {
    cases::run_blocking();
}

#[cfg(feature = "tokio")]
#[test]
fn async_runner_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run_all_async(&rt);
}

#[cfg(feature = "tokio")]
#[test]
fn async_runner_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    run_all_async(&rt);
}

#[cfg(feature = "tokio")]
#[test]
fn async_runners_without_pidfds() {
    if std::env::var_os("SPAWN_NO_PIDFD").is_some() {
        // This is the inner run; the runners themselves are the test.
        return;
    }
    common::rerun_this_binary(
        &[
            "--exact",
            "async_runner_current_thread",
            "async_runner_multi_thread",
            "--test-threads=1",
        ],
        ("SPAWN_NO_PIDFD", "1"),
        2,
    );
}
