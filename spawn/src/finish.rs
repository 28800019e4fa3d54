//! The one finish: a slot of the driver, the core's outcome (or its stats
//! so far) and the slot's sinks become an [`Output`] or the [`Error`] that
//! ended the run. `Command::run`, `Group`, `Child::communicate` call
//! [`finish`]; `Pipeline` folds [`stage`] over its stages with
//! [`fold_pipeline`], so every entry point answers the same way for the same
//! sink, status and outcome. The errors of a run that ended without a slot
//! to finish (cancelled before it started, a wait's deadline, a status
//! someone else reaped) and the verdicts of `check*` on a finished run are
//! built here too: every `Error` that carries a run's output comes from
//! this file.

use std::time::{Duration, Instant};

use spawn_core::{ChildStats, GroupOutcome, Stream};
use spawn_sys::wait::Rusage;

use crate::driver::{Engine, Slot};
use crate::process::Reaped;
use crate::sink::SinkState;
use crate::{Error, ExitStatus, Output, PipelineOutput, Report};

/// Takes the kept bytes of one stream out of its sink.
fn take_kept(slot: &Slot, sinks: &mut [SinkState], stream: Stream) -> (Vec<u8>, u64) {
    let Some(i) = slot.sink_of(stream) else {
        return (Vec::new(), 0);
    };
    (sinks[i].take_kept(), sinks[i].dropped())
}

/// The output of a slot so far (`stats`: the core's counts, finished or
/// not), the kept bytes copied so that the sinks keep them.
pub(crate) fn output(slot: &Slot, sinks: &[SinkState], stats: Option<ChildStats>) -> Output {
    let peek = |stream| {
        slot.sink_of(stream).map_or((Vec::new(), 0), |i| {
            (sinks[i].peek_kept(), sinks[i].dropped())
        })
    };
    build(slot, peek(Stream::Stdout), peek(Stream::Stderr), stats)
}

fn build(
    slot: &Slot,
    (stdout, stdout_dropped): (Vec<u8>, u64),
    (stderr, stderr_dropped): (Vec<u8>, u64),
    stats: Option<ChildStats>,
) -> Output {
    let wall = slot.started.map_or(Duration::ZERO, |s| {
        slot.finished_at()
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(s)
    });
    let reaped = slot.process.as_ref().and_then(|p| p.reaped());
    let process = if reaped.is_some() || slot.exit.is_some() {
        crate::ProcessState::Exited
    } else if slot.process.is_some() {
        crate::ProcessState::Running
    } else {
        crate::ProcessState::NotStarted
    };
    let (status, rusage) = match reaped {
        Some(r) => {
            let w = r.wait_result();
            (w.status, w.rusage)
        }
        None => (slot.exit.unwrap_or(0), Rusage::default()),
    };
    let (spawn_path, fork_reason) = slot
        .process
        .as_ref()
        .map_or((crate::SpawnPath::NotStarted, None), |p| p.spawn_path());
    let containment = if slot
        .process
        .as_ref()
        .is_some_and(|p| p.contained_in_cgroup())
    {
        crate::Containment::Cgroup
    } else {
        crate::Containment::ProcessGroup
    };
    let mut report = Report {
        pid: slot.process.as_ref().map_or(0, |p| p.pid_u32()),
        spawn_path,
        fork_reason,
        pty: slot.process.as_ref().is_some_and(|p| p.has_pty()),
        containment,
        process,
        wall,
        spawn_time: slot.spawn_time,
        user_time: rusage.user,
        system_time: rusage.system,
        max_rss_bytes: rusage.max_rss_bytes,
        stdout_dropped,
        stderr_dropped,
        ..Report::default()
    };
    match slot.outcome() {
        Some(o) => {
            report.stdout_bytes = o.stdout_bytes;
            report.stderr_bytes = o.stderr_bytes;
            report.stdin_bytes = o.input_written.saturating_sub(slot.input_unread);
            report.input_broken = o.input_broken;
            report.stdout_abandoned = o.stdout_abandoned;
            report.stderr_abandoned = o.stderr_abandoned;
            report.timed_out = o.timed_out;
            report.idle_timed_out = o.idled.is_some();
            report.stop_step = slot
                .stop
                .ended_by(o.signals_sent.steps, o.signals_sent.kill);
            report.group_left = matches!(o.group, GroupOutcome::Left);
        }
        None => {
            if let Some(s) = stats {
                report.stdout_bytes = s.stdout_bytes;
                report.stderr_bytes = s.stderr_bytes;
                report.stdin_bytes = s.input_written.saturating_sub(slot.input_unread);
            }
        }
    }
    Output {
        status: ExitStatus::from_raw(status),
        stdout,
        stderr,
        report,
    }
}

/// A finished stage: its output, and the error that ended it if any.
pub(crate) struct StageResult {
    pub output: Output,
    pub error: Option<Error>,
}

/// A finished slot as output plus the error (not yet chosen over the
/// output): sink failures, a lost status, an overflow, a timeout, a spawn
/// failure, in that order of precedence.
pub(crate) fn stage(
    slot: &mut Slot,
    sinks: &mut [SinkState],
    stats: Option<ChildStats>,
) -> StageResult {
    let out = take_kept(slot, sinks, Stream::Stdout);
    let err = take_kept(slot, sinks, Stream::Stderr);
    let output = build(slot, out, err, stats);
    // Copied only for an error (no allocation per successful run).
    let name = || slot.name.clone();
    let error = if let Some(e) = slot.error.take() {
        // A spawn failure, or a sink that failed: the error says which.
        Some(e)
    } else if slot
        .process
        .as_ref()
        .and_then(|p| p.reaped())
        .is_some_and(|r| r == Reaped::Lost)
    {
        Some(Error::StatusLost {
            program: name(),
            partial: Box::new(output.clone()),
        })
    } else if let Some((stream, limit)) = slot.overflow {
        Some(Error::OutputLimit {
            program: name(),
            stream,
            limit,
            partial: Box::new(output.clone()),
        })
    } else if output.report.timed_out {
        Some(Error::Timeout {
            program: name(),
            elapsed: output.report.wall,
            partial: Box::new(output.clone()),
        })
    } else if let Some(idle) = slot.outcome().and_then(|o| o.idled) {
        Some(Error::IdleTimeout {
            program: name(),
            idle,
            partial: Box::new(output.clone()),
        })
    } else if slot.cancelled && slot.outcome().is_some_and(|o| o.terminated) {
        Some(Error::Cancelled {
            program: name(),
            partial: Box::new(output.clone()),
        })
    } else {
        None
    };
    StageResult { output, error }
}

/// The error of a command a cancel kept from being added to its group's
/// engine: no process, no output.
pub(crate) fn cancelled_before_start(program: String) -> Error {
    Error::Cancelled {
        program,
        partial: Box::new(Output {
            status: ExitStatus::from_raw(0),
            stdout: Vec::new(),
            stderr: Vec::new(),
            report: Report::default(),
        }),
    }
}

/// The error of a wait whose deadline passed while the child still runs
/// (`Child::communicate_timeout`): what was read so far.
pub(crate) fn timed_out_running(program: String, partial: Output) -> Error {
    Error::Timeout {
        program,
        elapsed: partial.report.wall,
        partial: Box::new(partial),
    }
}

/// The error of a child whose status someone else reaped (`waitpid(-1)`
/// elsewhere, or `SIGCHLD` ignored), waited for outside an engine: its
/// report says what is known of `process` without a run (its pid, how it
/// started).
pub(crate) fn status_lost(program: String, process: &crate::process::Process) -> Error {
    let (spawn_path, fork_reason) = process.spawn_path();
    Error::StatusLost {
        program,
        partial: Box::new(Output {
            status: ExitStatus::from_raw(crate::process::LOST_STATUS),
            stdout: Vec::new(),
            stderr: Vec::new(),
            report: Report {
                pid: process.pid_u32(),
                spawn_path,
                fork_reason,
                pty: process.has_pty(),
                process: crate::ProcessState::Exited,
                ..Report::default()
            },
        }),
    }
}

/// `check`'s verdict on a finished run that did not exit with code 0.
pub(crate) fn failed(program: String, command: String, out: Output) -> Error {
    Error::Failed {
        program,
        command,
        status: out.status,
        output: Box::new(out),
    }
}

/// A finished run's stdout as text, or [`Error::NotUtf8`] carrying the
/// output (`check_output_string`).
pub(crate) fn stdout_text(program: String, out: Output) -> Result<String, Error> {
    match String::from_utf8(out.stdout) {
        Ok(s) => Ok(s),
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let output = Output {
                stdout: e.into_bytes(),
                ..out
            };
            Err(Error::NotUtf8 {
                program,
                valid_up_to,
                output: Box::new(output),
            })
        }
    }
}

/// The result of one finished slot.
pub(crate) fn finish(
    slot: &mut Slot,
    sinks: &mut [SinkState],
    stats: Option<ChildStats>,
) -> Result<Output, Error> {
    let r = stage(slot, sinks, stats);
    match r.error {
        Some(e) => Err(e),
        None => Ok(r.output),
    }
}

/// Folds the stages of a pipeline into its output, or the first error of a
/// stage, re-addressed to the pipeline with the pipeline's partial output
/// (the last stage's stdout, every stage's stderr).
pub(crate) fn fold_pipeline(name: &str, stages: Vec<StageResult>) -> Result<PipelineOutput, Error> {
    let n = stages.len();
    let mut statuses = Vec::with_capacity(n);
    let mut reports = Vec::with_capacity(n);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut first_error: Option<(usize, Error)> = None;
    for (i, s) in stages.into_iter().enumerate() {
        if let Some(e) = s.error
            && first_error.is_none()
        {
            first_error = Some((i, e));
        }
        statuses.push(s.output.status);
        stderr.extend_from_slice(&s.output.stderr);
        if i + 1 == n {
            stdout = s.output.stdout;
        }
        reports.push(s.output.report);
    }
    let Some((i, e)) = first_error else {
        return Ok(PipelineOutput {
            statuses,
            stdout,
            stderr,
            reports,
        });
    };
    let partial = Box::new(Output {
        status: statuses[i],
        stdout,
        stderr,
        report: reports[i].clone(),
    });
    Err(match e {
        Error::Timeout { .. } => Error::Timeout {
            program: name.to_owned(),
            elapsed: reports.iter().map(|r| r.wall).max().unwrap_or_default(),
            partial,
        },
        Error::IdleTimeout { idle, .. } => Error::IdleTimeout {
            program: name.to_owned(),
            idle,
            partial,
        },
        Error::OutputLimit { stream, limit, .. } => Error::OutputLimit {
            program: name.to_owned(),
            stream,
            limit,
            partial,
        },
        Error::Cancelled { .. } => Error::Cancelled {
            program: name.to_owned(),
            partial,
        },
        Error::StatusLost { program, .. } => Error::StatusLost { program, partial },
        other => other,
    })
}

/// The output of a child of `engine` so far (finished or not); the kept
/// bytes are copied, so the child's sinks keep them.
pub(crate) fn partial(engine: &Engine<'_>, child: usize) -> Output {
    let (slot, sinks, stats) = engine.finish_parts(child);
    output(slot, sinks, stats)
}

/// The result of a finished child of `engine`: its output, or the error
/// that ended it. Takes the kept bytes out.
pub(crate) fn result(engine: &mut Engine<'_>, child: usize) -> Result<Output, Error> {
    let (slot, sinks, stats) = engine.finish_parts_mut(child);
    finish(slot, sinks, stats)
}

/// A finished pipeline stage's error and output, for [`fold_pipeline`].
pub(crate) fn stage_result(engine: &mut Engine<'_>, child: usize) -> StageResult {
    let (slot, sinks, stats) = engine.finish_parts_mut(child);
    stage(slot, sinks, stats)
}
