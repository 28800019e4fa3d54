//! The async twins of the blocking runs: `Command::{run_async,
//! check_async, check_output_async, check_output_string_async}` and
//! `Pipeline::run_async`. Each builds the same engine as its blocking twin,
//! drives it with [`drive`](super::drive::drive) instead of blocking, and
//! finishes through the same functions (`Engine::result`, `Command::checked`,
//! `Command::stdout_string`, `finish::fold_pipeline`).

use std::future::Future;

use super::drive::drive;
use crate::driver::Engine;
use crate::{Command, Error, Output, Pipeline, PipelineOutput};

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Command {
    /// [`run`](Self::run) on tokio: the same run, through the same engine,
    /// with the same results and errors; the thread is not blocked while
    /// the child runs (its pipes and pidfd are watched by the runtime, the
    /// timeouts and graces are tokio timers).
    ///
    /// The future owns a copy of the command (it is `Send + 'static`, so
    /// it can be given to `tokio::spawn`), and nothing starts until it is
    /// first polled. Dropping it before it completes (a
    /// `tokio::time::timeout`, a `select!`, an aborted task) stops the
    /// child with the normal teardown: the
    /// [`stop_signal`](Self::stop_signal) to it and its group, the
    /// [`kill_grace`](Self::kill_grace), KILL; spawn's background reaper
    /// carries that out and reaps, also after the runtime was shut down.
    ///
    /// # Errors
    /// As [`run`](Self::run); also [`Error::NoRuntime`] outside a tokio
    /// runtime, or on one without its I/O driver or timer (checked before
    /// anything starts).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Stdio};
    /// let out = Command::new("sort").input("b\na\n").stdout(Stdio::piped()).run_async().await?;
    /// assert_eq!(out.stdout, b"a\nb\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_async(
        &self,
    ) -> impl Future<Output = Result<Output, Error>> + Send + 'static + use<> {
        let cmd = self.clone();
        async move { run(&cmd).await }
    }

    /// [`check`](Self::check) on tokio: as [`run_async`](Self::run_async),
    /// and [`Error::Failed`] unless the child exits with code 0.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = spawn::Command::new("false").check_async().await.unwrap_err();
    /// assert_eq!(err.to_string(), "false: exit status 1");
    /// # }
    /// ```
    pub fn check_async(
        &self,
    ) -> impl Future<Output = Result<Output, Error>> + Send + 'static + use<> {
        let cmd = self.clone();
        async move { cmd.checked(run(&cmd).await?) }
    }

    /// [`check_output`](Self::check_output) on tokio.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn check_output_async(
        &self,
    ) -> impl Future<Output = Result<Vec<u8>, Error>> + Send + 'static + use<> {
        let cmd = self.with_default_stdout();
        async move { Ok(cmd.checked(run(&cmd).await?)?.stdout) }
    }

    /// [`check_output_string`](Self::check_output_string) on tokio.
    ///
    /// # Errors
    /// As [`check_output_string`](Self::check_output_string).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// let hi = spawn::Command::new("echo").arg("hi").check_output_string_async().await?;
    /// assert_eq!(hi, "hi\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn check_output_string_async(
        &self,
    ) -> impl Future<Output = Result<String, Error>> + Send + 'static + use<> {
        let cmd = self.with_default_stdout();
        async move { cmd.stdout_string(cmd.checked(run(&cmd).await?)?) }
    }
}

/// One command through the engine, driven on the runtime.
async fn run(cmd: &Command) -> Result<Output, Error> {
    let (mut engine, ix): (Engine<'static>, usize) =
        crate::run_one::one(cmd, None, crate::wiring::Stops::ByOwner)?;
    drive(&mut engine, &cmd.name()).await?;
    crate::finish::result(&mut engine, ix)
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Pipeline {
    /// [`run`](Self::run) on tokio: the same stages, group, routes and
    /// results, without blocking the thread. Dropping the future before it
    /// completes stops every stage and what they started (the stop signal
    /// to the pipeline's group, the grace, KILL), in the background.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), spawn::Error> {
    /// use spawn::{Command, Stdio};
    /// let out = (Command::new("echo").arg("b a") | Command::new("tr").args([" ", "\n"]))
    ///     .stdout(Stdio::piped())
    ///     .run_async()
    ///     .await?;
    /// assert_eq!(out.stdout, b"b\na\n");
    /// # Ok(())
    /// # }
    /// ```
    pub fn run_async(
        &self,
    ) -> impl Future<Output = Result<PipelineOutput, Error>> + Send + 'static + use<> {
        let pipeline = self.clone();
        async move {
            let (mut engine, ix) = pipeline.engine()?;
            drive(&mut engine, &pipeline.name()).await?;
            pipeline.fold(&mut engine, ix)
        }
    }
}
