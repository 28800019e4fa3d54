//! [`Pipeline`]: commands connected stdout to stdin, like `a | b | c`, with
//! the data flowing from child to child without passing through us.

use std::ops::BitOr;
use std::sync::Arc;
use std::time::Duration;

use crate::driver::{Engine, StageWiring};
use crate::error::StreamName;
use crate::sink::Sink;
use crate::stdio::StdioKind;
use crate::{Command, Error, Output, PipelineOutput, Route, Stdio};

/// Commands whose stdout feeds the next one's stdin: `a | b | c`.
///
/// Build one with `|` between [`Command`]s. The stages are connected by
/// pipes directly (the data never passes through this process). The
/// pipeline's own `stdin`/`input` go to the first stage, its `stdout` route
/// takes the last stage's output, and its `stderr` route takes every
/// stage's stderr (unless a stage routes its own). A stage's own stdin and
/// stdout routes are ignored.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Stdio};
/// // printf 'b\na\nb\n' | sort | uniq -c
/// let out = (Command::new("sort") | Command::new("uniq").arg("-c"))
///     .input("b\na\nb\n")
///     .stdout(Stdio::piped())
///     .run()?;
/// assert_eq!(out.statuses.len(), 2);
/// assert!(out.success());
/// let text = String::from_utf8(out.stdout).unwrap();
/// assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["1", "a", "2", "b"]);
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pipeline {
    stages: Vec<Command>,
    stdin: Option<Stdio>,
    stdout: Option<Route>,
    stderr: Option<Route>,
    input: Option<Arc<Vec<u8>>>,
    timeout: Option<Duration>,
    kill_grace: Option<Duration>,
}

impl BitOr<Command> for Command {
    type Output = Pipeline;
    fn bitor(self, rhs: Command) -> Pipeline {
        Pipeline::new(self).pipe(rhs)
    }
}

impl BitOr<Command> for Pipeline {
    type Output = Pipeline;
    fn bitor(self, rhs: Command) -> Pipeline {
        self.pipe(rhs)
    }
}

impl Pipeline {
    /// A pipeline of one stage.
    #[must_use]
    pub fn new(first: Command) -> Self {
        Pipeline {
            stages: vec![first],
            stdin: None,
            stdout: None,
            stderr: None,
            input: None,
            timeout: None,
            kill_grace: None,
        }
    }

    /// Appends a stage (what `|` does).
    #[must_use]
    pub fn pipe(mut self, next: Command) -> Self {
        self.stages.push(next);
        self
    }

    /// The stages, in order.
    #[must_use]
    pub fn stages(&self) -> &[Command] {
        &self.stages
    }

    /// Where the first stage's stdin comes from.
    #[must_use]
    pub fn stdin(mut self, stdin: impl Into<Stdio>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// Where the last stage's stdout goes.
    #[must_use]
    pub fn stdout(mut self, stdout: impl Into<Route>) -> Self {
        self.stdout = Some(stdout.into());
        self
    }

    /// Where every stage's stderr goes (a sink receives them interleaved in
    /// arrival order).
    #[must_use]
    pub fn stderr(mut self, stderr: impl Into<Route>) -> Self {
        self.stderr = Some(stderr.into());
        self
    }

    /// Bytes fed to the first stage's stdin.
    #[must_use]
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(Arc::new(input.into()));
        self
    }

    /// Stops every stage (TERM, then KILL after the grace) when the
    /// pipeline runs longer than `timeout`; the run returns
    /// [`Error::Timeout`] with what was read.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time between TERM and KILL for every stage.
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = Some(grace);
        self
    }

    /// The pipeline as a shell would show it.
    fn name(&self) -> String {
        self.stages
            .iter()
            .map(Command::name)
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Runs the pipeline to completion. Non-zero statuses are not errors
    /// (see [`PipelineOutput::success`], which also forgives SIGPIPE
    /// upstream).
    ///
    /// # Errors
    /// A stage could not be started (the other stages still ran, with EOF
    /// or a closed pipe where that stage would have been), the timeout
    /// expired ([`Error::Timeout`], with the last stage's output so far), or
    /// a sink failed.
    pub fn run(&self) -> Result<PipelineOutput, Error> {
        let name = self.name();
        let mut engine =
            Engine::new(0).map_err(|e| Error::io(&name, "cannot create an epoll set", e))?;
        let shared = match &self.stderr {
            Some(Route::Sink(s)) => Some(engine.add_shared_sink(s, StreamName::Stderr, &name)?),
            Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Piped) => {
                Some(engine.add_shared_sink(&Sink::collect(), StreamName::Stderr, &name)?)
            }
            _ => None,
        };
        let n = self.stages.len();
        let mut ix = Vec::with_capacity(n);
        for (i, stage) in self.stages.iter().enumerate() {
            let mut cmd = stage.clone();
            cmd.input = if i == 0 { self.input.clone() } else { None };
            if let Some(t) = self.timeout {
                cmd.timeout = Some(t);
            }
            if let Some(g) = self.kill_grace {
                cmd.kill_grace = g;
            }
            let wiring = StageWiring {
                index: i,
                last: i + 1 == n,
                stdin: self.stdin.clone(),
                stdout: self.stdout.clone(),
                stderr: self.stderr.clone(),
            };
            ix.push(engine.add_command(cmd, Some(wiring), shared)?);
        }
        engine.run(None)?;
        let mut statuses = Vec::with_capacity(n);
        let mut reports = Vec::with_capacity(n);
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut first_error = None;
        let mut timed_out = false;
        for &i in &ix {
            if let Some(e) = engine.slots[i].error.take() {
                first_error.get_or_insert(e);
            }
            let lost = engine.slots[i].status_lost;
            let stage = engine.slots[i].name.clone();
            let out = engine.output(i, false);
            if lost {
                first_error.get_or_insert(Error::StatusLost {
                    program: stage,
                    partial: out.clone(),
                });
            }
            timed_out |= out.report.timed_out;
            statuses.push(out.status);
            stderr.extend_from_slice(&out.stderr);
            stdout = out.stdout;
            reports.push(out.report);
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if timed_out {
            // The stage the timeout stopped speaks for the pipeline.
            let stopped = reports.iter().position(|r| r.timed_out).unwrap_or(0);
            return Err(Error::Timeout {
                program: name,
                elapsed: reports.iter().map(|r| r.wall).max().unwrap_or_default(),
                partial: Output {
                    status: statuses[stopped],
                    stdout,
                    stderr,
                    report: reports[stopped].clone(),
                },
            });
        }
        Ok(PipelineOutput {
            statuses,
            stdout,
            stderr,
            reports,
        })
    }
}
