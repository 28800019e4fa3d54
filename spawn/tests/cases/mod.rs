//! The behaviour cases of the blocking API as one table, run by a blocking
//! runner and by the async runners (`tests/async_cases.rs`) alike: each case
//! builds a [`Job`] (a command, pipeline, group or spawned child, and how to
//! run it) and a check of what came back. The two drivers must agree on
//! every one: the same engine underneath, the same results.

#![allow(dead_code)]
// each test binary uses some of the helpers
// `Error` carries the child's output by contract; as in the crate.

pub(crate) use std::sync::{Arc, Mutex};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use spawn::{
    CancelToken, Command, Error, Group, Log, Output, Pipeline, PipelineOutput, Sink, Stdio,
    StreamName,
};

pub(crate) use crate::common::{alive, first_pid, gone_soon};

mod children;
mod pipelines;
mod run;
mod sinks;
mod teardown;

/// What to run, and through which entry point.
pub enum Job {
    /// `run` / `run_async`.
    Run(Command),
    /// `check` / `check_async`.
    Check(Command),
    /// `check_output` / `check_output_async`.
    CheckOutput(Command),
    /// `check_output_string` / `check_output_string_async`.
    CheckOutputString(Command),
    /// `Pipeline::run` / `Pipeline::run_async`.
    Pipeline(Pipeline),
    /// `Group::run` / `Group::run_async`.
    Group(Group),
    /// `spawn` + `communicate(input)` / `spawn_async` + `communicate(input)`.
    Communicate(Command, Vec<u8>),
}

/// What a job returned.
#[derive(Debug)]
pub enum Got {
    Run(Result<Output, Error>),
    Bytes(Result<Vec<u8>, Error>),
    Text(Result<String, Error>),
    Pipeline(Result<PipelineOutput, Error>),
    Group(Result<Vec<Result<Output, Error>>, Error>),
}

impl Got {
    pub fn run(self) -> Result<Output, Error> {
        match self {
            Got::Run(r) => r,
            other => panic!("expected a run, got {other:?}"),
        }
    }
    pub(crate) fn ok(self) -> Output {
        self.run().unwrap()
    }
    pub(crate) fn err(self) -> Error {
        self.run().unwrap_err()
    }
    pub(crate) fn bytes(self) -> Result<Vec<u8>, Error> {
        match self {
            Got::Bytes(r) => r,
            other => panic!("expected bytes, got {other:?}"),
        }
    }
    pub(crate) fn text(self) -> Result<String, Error> {
        match self {
            Got::Text(r) => r,
            other => panic!("expected text, got {other:?}"),
        }
    }
    pub(crate) fn pipeline(self) -> Result<PipelineOutput, Error> {
        match self {
            Got::Pipeline(r) => r,
            other => panic!("expected a pipeline, got {other:?}"),
        }
    }
    pub(crate) fn group(self) -> Vec<Result<Output, Error>> {
        match self {
            Got::Group(r) => r.unwrap(),
            other => panic!("expected a group, got {other:?}"),
        }
    }
}

/// Checks what a job returned, and how long it took.
pub type Check = Box<dyn FnOnce(Got, Duration) + Send>;

/// One row of the table.
pub struct Case {
    pub name: &'static str,
    pub build: fn() -> (Job, Check),
}

/// Runs `job` through the blocking API.
pub fn blocking(job: Job) -> Got {
    match job {
        Job::Run(c) => Got::Run(c.run()),
        Job::Check(c) => Got::Run(c.check()),
        Job::CheckOutput(c) => Got::Bytes(c.check_output()),
        Job::CheckOutputString(c) => Got::Text(c.check_output_string()),
        Job::Pipeline(p) => Got::Pipeline(p.run()),
        Job::Group(g) => Got::Group(g.run()),
        Job::Communicate(c, input) => Got::Run(c.spawn().and_then(|mut ch| ch.communicate(&input))),
    }
}

/// Runs every case of `cases` through `run` (each on its own thread or
/// task, as the runner decides) and panics naming each case that failed.
pub fn report(failed: &[(&'static str, String)]) {
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed
            .iter()
            .map(|(n, m)| format!("- {n}: {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The message of a caught panic.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

/// Runs `check` on `got`, catching its panic as the case's failure.
pub fn checked(
    case: &'static str,
    check: Check,
    got: Got,
    took: Duration,
) -> Option<(&'static str, String)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(got, took)))
        .err()
        .map(|p| (case, panic_message(&*p)))
}

/// The blocking runner: every case, each on a thread of its own.
pub fn run_blocking() {
    let failed: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = all()
            .into_iter()
            .map(|case| {
                s.spawn(move || {
                    let (job, check) = (case.build)();
                    let start = Instant::now();
                    let got = blocking(job);
                    checked(case.name, check, got, start.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    report(&failed);
}

pub(crate) fn sh(script: &str) -> Command {
    Command::shell(script)
}

pub(crate) fn check(f: impl FnOnce(Got, Duration) + Send + 'static) -> Check {
    Box::new(f)
}

/// A member of the child's group that ignores TERM, then the leader.
pub(crate) const MEMBER_IGNORES_TERM: &str =
    "(trap '' TERM; exec sleep 37) & echo $!; exec sleep 30";

/// Generous bound for runs that must end early.
pub(crate) const SOON: Duration = Duration::from_secs(30);

/// The table.
pub fn all() -> Vec<Case> {
    [
        run::cases(),
        sinks::cases(),
        teardown::cases(),
        pipelines::cases(),
        children::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A writer shared with the check.
#[derive(Clone)]
pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
