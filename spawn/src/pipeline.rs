//! [`Pipeline`]: commands connected stdout to stdin, like `a | b | c`, with
//! the data flowing from child to child without passing through us.

use std::ops::BitOr;
use std::sync::Arc;
use std::time::Duration;

use spawn_core::PerStream;

use crate::driver::{CancelScope, Engine};
use crate::launch::{StagePlumbing, StageRole};
use crate::run_settings::{Precedence, RunSettings};
use crate::stdio::StdioKind;
use crate::wiring::{Plan, StagePlace, StageStderr, Wiring, route_sink};
use crate::{Command, Error, PipelineChild, PipelineOutput, Route, Stdio};

/// Commands whose stdout feeds the next one's stdin: `a | b | c`.
///
/// Build one with `|` between [`Command`]s. The stages are connected by
/// pipes directly (the data never passes through this process) and run in
/// one process group of their own, led by the first stage, so that a
/// timeout stops every stage and everything they started. The pipeline's
/// own `stdin`/`input` go to the first stage (a first stage's own `input`
/// is fed when the pipeline has none), its `stdout` route takes the last
/// stage's output, and its `stderr` route takes every stage's stderr
/// (unless a stage routes its own); `stderr(Stdio::merge())` sends every
/// stage's stderr where the last stage's stdout goes, like the shell's
/// `{ a | b; } 2>&1`.
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
    /// Every stage's timeout, graces, stop signal and containment where
    /// set, the cancel token and forwarder of the whole pipeline.
    settings: RunSettings,
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
            settings: RunSettings::default(),
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

    /// Stops every stage and what they started (the
    /// [`stop_signal`](Self::stop_signal) to the pipeline's group, KILL
    /// after the [`kill_grace`](Self::kill_grace)) when the pipeline runs
    /// longer than `timeout`; the run returns [`Error::Timeout`] with what
    /// was read. Every stage's own timeout gives way to it (a pipeline is
    /// one job: its run settings are every stage's, over the stage's own).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Stdio};
    /// use std::time::Duration;
    /// let err = (Command::new("sleep").arg("30") | Command::new("cat"))
    ///     .stdout(Stdio::piped())
    ///     .timeout(Duration::from_millis(100))
    ///     .run()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Timeout { .. }));
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Every stage's [`Command::idle_timeout`](crate::Command::idle_timeout),
    /// over its own: a stage whose output spawn reads (the last stage's
    /// stdout, a stage's stderr) is stopped when it writes nothing for
    /// `idle`, and the run returns [`Error::IdleTimeout`].
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.settings.idle_timeout = Some(idle);
        self
    }

    /// The time between the [`stop_signal`](Self::stop_signal) and KILL
    /// for every stage, over the stage's own (default
    /// [`DEFAULT_KILL_GRACE`](crate::DEFAULT_KILL_GRACE)).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error};
    /// use std::time::Duration;
    /// // A stage that ignores TERM is killed 50 ms after it.
    /// let err = (Command::shell("trap '' TERM; sleep 30") | Command::new("cat"))
    ///     .timeout(Duration::from_millis(100))
    ///     .kill_grace(Duration::from_millis(50))
    ///     .run()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Timeout { .. }));
    /// ```
    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.settings.kill_grace = Some(grace);
        self
    }

    /// How long every stage's stdout and stderr are still read after the
    /// stage exited, while something else (a background job it started)
    /// holds them open; then they are closed and the report says so (Go's
    /// `WaitDelay`). Over every stage's own (default
    /// [`DEFAULT_EOF_GRACE`](crate::DEFAULT_EOF_GRACE)).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// use std::time::{Duration, Instant};
    /// // The last stage exits at once, but its background `sleep` holds stdout.
    /// let start = Instant::now();
    /// let out = (Command::new("true") | Command::shell("echo done; sleep 5 &"))
    ///     .stdout(Stdio::piped())
    ///     .eof_grace(Duration::from_millis(100))
    ///     .run()?;
    /// assert_eq!(out.stdout, b"done\n");
    /// assert!(start.elapsed() < Duration::from_secs(4));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn eof_grace(mut self, grace: Duration) -> Self {
        self.settings.eof_grace = Some(grace);
        self
    }

    /// The first signal of every teardown of the pipeline that can wait (a
    /// [`timeout`](Self::timeout), an overflowing sink, a
    /// [`cancel_on`](Self::cancel_on) token): sent to every stage and the
    /// pipeline's group, then KILL after the [`kill_grace`](Self::kill_grace).
    /// Over every stage's own (default [`Signal::TERM`](crate::Signal::TERM)).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Error, Signal, Stdio};
    /// use std::time::Duration;
    /// let err = (Command::new("true")
    ///     | Command::shell("trap 'echo got INT; exit 3' INT; echo ready; sleep 30 & wait"))
    ///     .stdout(Stdio::piped())
    ///     .stop_signal(Signal::INT)
    ///     .timeout(Duration::from_millis(300))
    ///     .kill_grace(Duration::from_millis(200))
    ///     .run()
    ///     .unwrap_err();
    /// let Error::Timeout { partial, .. } = err else { panic!() };
    /// assert_eq!(partial.stdout, b"ready\ngot INT\n");
    /// ```
    #[must_use]
    pub fn stop_signal(mut self, signal: crate::Signal) -> Self {
        self.settings.set_stop_signal(signal);
        self
    }

    /// Every stage's [`Command::stop_sequence`](crate::Command::stop_sequence),
    /// over its own: the steps a stop of the pipeline sends to its group.
    #[must_use]
    pub fn stop_sequence(
        mut self,
        steps: impl IntoIterator<Item = (crate::Signal, Duration)>,
    ) -> Self {
        self.settings
            .set_stop_sequence(crate::StopSequence::new(steps));
        self
    }

    /// What holds every stage and what it starts for the teardown, over the
    /// stage's own; see [`Containment`](crate::Containment). With
    /// [`Containment::Cgroup`](crate::Containment::Cgroup) each stage gets
    /// a cgroup of its own, and nothing a stage starts outlives the run.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use spawn::{Command, Containment};
    /// // Not even the `setsid` job of the first stage survives the run.
    /// (Command::shell("setsid sleep 60 & echo started") | Command::new("cat"))
    ///     .containment(Containment::Cgroup)
    ///     .run()?;
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn containment(mut self, containment: crate::Containment) -> Self {
        self.settings.containment = Some(containment);
        self
    }

    /// Cancels the run when `token` is cancelled: every stage is stopped as
    /// a [`timeout`](Self::timeout) stops them (the stop signal to the
    /// pipeline's group, the grace, KILL) and the run returns
    /// [`Error::Cancelled`] with the output so far. A stage's own token
    /// (from [`Command::cancel_on`]) still stops that stage. See
    /// [`CancelToken`](crate::CancelToken).
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{CancelToken, Command, Error};
    /// let token = CancelToken::new();
    /// token.cancel();
    /// let err = (Command::new("echo").arg("never") | Command::new("cat"))
    ///     .cancel_on(&token)
    ///     .run()
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::Cancelled { .. }));
    /// ```
    #[must_use]
    pub fn cancel_on(mut self, token: &crate::CancelToken) -> Self {
        self.settings.cancel = Some(token.clone());
        self
    }

    /// Passes the signals `forwarder` receives (e.g. Ctrl-C) on to every
    /// running stage while the pipeline runs (its group, as the shell's job
    /// control does); see [`crate::Forwarder`]. A stage's own
    /// [`Command::forward_signals`] is not used in a pipeline: give the
    /// forwarder to the pipeline.
    #[must_use]
    pub fn forward_signals(mut self, forwarder: &crate::Forwarder) -> Self {
        self.settings.forwarder = Some(forwarder.clone());
        self
    }

    /// The pipeline as a shell would show it.
    pub(crate) fn name(&self) -> String {
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
    /// expired ([`Error::Timeout`], with the last stage's output so far and
    /// every stage's stderr), a sink overflowed ([`Error::OutputLimit`],
    /// as for a command), or a sink failed.
    pub fn run(&self) -> Result<PipelineOutput, Error> {
        let (mut engine, ix) = self.engine()?;
        engine.set_driving(crate::driver::Driving::InCall);
        engine.run(None)?;
        self.fold(&mut engine, ix)
    }

    /// The engine that runs this pipeline, every stage added, with its
    /// cancel token and forwarded signals: for `run` and `run_async`.
    pub(crate) fn engine(&self) -> Result<(Engine<'static>, Vec<usize>), Error> {
        let name = self.name();
        let mut engine = Engine::new(0);
        if let Some(token) = &self.settings.cancel {
            engine.cancel_on(token, CancelScope::All);
        }
        if let Some(f) = &self.settings.forwarder {
            engine.set_forwarder(f);
        }
        let ix = self.add_to(&mut engine, &name)?;
        Ok((engine, ix))
    }

    /// The pipeline's result, once `engine` finished every stage.
    pub(crate) fn fold(
        &self,
        engine: &mut Engine<'_>,
        ix: Vec<usize>,
    ) -> Result<PipelineOutput, Error> {
        let stages = ix
            .into_iter()
            .map(|i| crate::finish::stage_result(engine, i))
            .collect();
        crate::finish::fold_pipeline(&self.name(), stages)
    }

    /// The wiring of stage `i`: the stage's own command with the
    /// pipeline's routes, input and run settings; `shared`: where the stderr of
    /// a stage that routes none of its own goes when the pipeline's stderr
    /// is a sink.
    fn stage_wiring(&self, i: usize, shared: &StageStderr) -> Result<Wiring, Error> {
        let n = self.stages.len();
        let (first, last) = (i == 0, i + 1 == n);
        let mut cmd = self.stages[i].clone();
        if first {
            if self.input.is_some() && cmd.input.is_some() {
                return Err(Error::invalid(
                    &cmd.name(),
                    "both the pipeline and its first stage have input: give it to one of them",
                ));
            }
            cmd.input = self.input.clone().or(cmd.input);
            if self.stdin.is_some() {
                cmd.stdin.clone_from(&self.stdin);
            }
        } else {
            if cmd.input.is_some() {
                return Err(Error::invalid(
                    &cmd.name(),
                    "only the first stage of a pipeline can have input (the others read the stage before)",
                ));
            }
            cmd.stdin = None;
        }
        if last {
            if self.stdout.is_some() {
                cmd.stdout.clone_from(&self.stdout);
            }
        } else {
            cmd.stdout = None;
        }
        let merged_output = is_merge(self.stderr.as_ref());
        let stderr = if cmd.stderr.is_some() {
            StageStderr::AsRouted
        } else if merged_output {
            StageStderr::Merged
        } else {
            cmd.stderr.clone_from(&self.stderr);
            shared.clone()
        };
        cmd.settings.take_outer(&self.settings, Precedence::Outer);
        Wiring::stage(
            &cmd,
            &StagePlace {
                index: i,
                last,
                merged_output,
                stderr,
            },
        )
    }

    /// The stages as `Pipeline::run` and `Pipeline::spawn` start them,
    /// one by one through `launch::launch_wiring`: every stage's wiring (see
    /// [`stage_wiring`](Self::stage_wiring) for `shared`), and the plumbing
    /// they share (where the final stdout goes, and the pipe the last
    /// stage's stdout and the stages' merged stderr share).
    fn stage_builds(
        &self,
        shared: &StageStderr,
        name: &str,
    ) -> Result<(Vec<Wiring>, StagePlumbing), Error> {
        let wirings = (0..self.stages.len())
            .map(|i| self.stage_wiring(i, shared))
            .collect::<Result<Vec<_>, _>>()?;
        let (final_plan, merged) = match wirings.last().map(|w| &w.plans.stdout) {
            Some(Plan::PipelineStdout) => (Plan::Pipe, true),
            Some(plan) => (plan.clone(), false),
            None => (Plan::Inherit, false),
        };
        let plumbing = StagePlumbing::for_pipeline(final_plan, merged, name)?;
        Ok((wirings, plumbing))
    }

    /// Starts every stage and returns at once, for control while the
    /// pipeline runs (duct's `start`): its pipe ends, its pids, a
    /// [`wait`](PipelineChild::wait) for every stage's status, a
    /// [`kill`](PipelineChild::kill) of every stage and what they started.
    /// The stages are wired, grouped and started as [`run`](Self::run)
    /// does; the pipeline's piped stdin, stdout and stderr (one pipe every
    /// stage's stderr goes into) are the [`PipelineChild`]'s to take.
    ///
    /// # Errors
    /// A stage could not be started: the stages started before it are
    /// killed (with their group) and reaped in the background.
    ///
    /// # Examples
    ///
    /// ```
    /// use spawn::{Command, Stdio};
    /// use std::io::Read;
    /// // seq 1000 | grep 7 | wc -l, read while it runs
    /// let mut running = (Command::new("seq").arg("1000") | Command::new("grep").arg("7")
    ///     | Command::new("wc").arg("-l"))
    ///     .stdout(Stdio::piped())
    ///     .spawn()?;
    /// assert_eq!(running.pids().len(), 3);
    /// let mut count = String::new();
    /// running.take_stdout().unwrap().read_to_string(&mut count).unwrap();
    /// assert_eq!(count.trim(), "271");
    /// assert!(running.wait()?.iter().all(|s| s.success()));
    /// # Ok::<(), spawn::Error>(())
    /// ```
    pub fn spawn(&self) -> Result<PipelineChild, Error> {
        let name = self.name();
        // One pipe for the stderr the stages share, so that there is one
        // end to hand out (`run` reads a pipe per stage into one sink).
        let shared = match route_sink(self.stderr.as_ref()) {
            Some(sink) => {
                let (r, w) = spawn_sys::pipe::pipe().map_err(|e| {
                    Error::io(&name, "cannot create a pipe", std::io::Error::from(e))
                })?;
                Some((sink, r, Arc::new(w)))
            }
            None => None,
        };
        let stage_stderr = match &shared {
            Some((_, _, w)) => StageStderr::SharedPipe(Arc::clone(w)),
            None => StageStderr::AsRouted,
        };
        let (wirings, plumbing) = self.stage_builds(&stage_stderr, &name)?;
        let own_stderr: Vec<bool> = self.stages.iter().map(|c| c.stderr.is_some()).collect();
        crate::pipeline_child::start(
            name,
            wirings,
            plumbing,
            shared.map(|(sink, r, _)| (sink, r)),
            &own_stderr,
            crate::pipeline_child::StageControl {
                cancel: self.settings.cancel.clone(),
                forwarder: self.settings.forwarder.clone(),
            },
        )
    }

    /// Adds every stage to `engine`; returns their slots.
    pub(crate) fn add_to(&self, engine: &mut Engine<'_>, name: &str) -> Result<Vec<usize>, Error> {
        // The pipeline's own sinks, opened together: its stderr (shared by
        // every stage that routes none of its own) and its final stdout.
        let shared = engine.open_sinks(
            name,
            &PerStream {
                stdin: None,
                stdout: route_sink(self.stdout.as_ref()),
                stderr: route_sink(self.stderr.as_ref()),
            },
        )?;
        let n = self.stages.len();
        let stage_stderr = match shared.stderr {
            Some(_) => StageStderr::SharedSink,
            None => StageStderr::AsRouted,
        };
        let (wirings, plumbing) = self.stage_builds(&stage_stderr, name)?;
        engine.set_stage_plumbing(plumbing);
        let mut ix = Vec::with_capacity(n);
        for (i, w) in wirings.into_iter().enumerate() {
            let own_stderr = self.stages[i].stderr.is_some();
            let role = StageRole {
                index: i,
                last: i + 1 == n,
            };
            let stage_shared = PerStream {
                stdin: None,
                stdout: if role.last { shared.stdout } else { None },
                stderr: if own_stderr { None } else { shared.stderr },
            };
            let member_of = if i == 0 { None } else { ix.first().copied() };
            ix.push(engine.add_stage(w, Some(role), stage_shared, member_of)?);
        }
        Ok(ix)
    }
}

fn is_merge(route: Option<&Route>) -> bool {
    matches!(route, Some(Route::Stdio(s)) if matches!(s.0, StdioKind::Merge))
}
