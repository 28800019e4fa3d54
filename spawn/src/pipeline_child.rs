//! [`PipelineChild`]: a pipeline started by [`Pipeline::spawn`](crate::Pipeline::spawn)
//! and running: its stages' pids, its pipe ends, waits and kills.
//!
//! The stages start as `Pipeline::run` starts them (the same wirings, the
//! same launch and plumbing between stages, one process group led by the
//! first stage), and are driven as a [`Child`](crate::Child) is: adopted
//! into one engine by the first wait, with the pipe ends still held
//! drained into their sinks (`crate::child::HeldRun`).

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use spawn_core::ChildId;

use crate::child::{Drove, Feed, HeldPipes, HeldRun, Member};
use crate::driver::Until;
use crate::launch::{Driving, PidfdPlan, StagePlumbing, StageRole, launch_wiring};
use crate::wiring::Wiring;
use crate::{ChildStderr, ChildStdin, ChildStdout, Error, ExitStatus, Signal, Sink};

/// A running pipeline, as returned by [`Pipeline::spawn`](crate::Pipeline::spawn):
/// `Send + Sync`, its waits and kill on `&self`.
///
/// Its piped ends are there to take: the first stage's stdin
/// ([`take_stdin`](Self::take_stdin)), the last stage's stdout
/// ([`take_stdout`](Self::take_stdout)), and one pipe that every stage's
/// stderr goes into ([`take_stderr`](Self::take_stderr)), when the
/// pipeline routed them to pipes. [`wait`](Self::wait) drains the ones
/// not taken (as [`Child::wait`](crate::Child::wait) does) and returns
/// every stage's status.
///
/// Dropping it never leaves a zombie: stages still running are reaped in
/// the background when they exit.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Signal, Stdio};
/// use std::io::Read;
/// // yes | cat, read a little, then stop both.
/// let mut running = (Command::new("yes") | Command::new("cat")).stdout(Stdio::piped()).spawn()?;
/// let mut stdout = running.take_stdout().unwrap();
/// let mut some = [0u8; 6];
/// stdout.read_exact(&mut some).unwrap();
/// assert_eq!(&some, b"y\ny\ny\n");
/// running.kill()?;
/// let statuses = running.wait()?;
/// // (`cat` still had a reader: KILL, not SIGPIPE, ended it.)
/// assert_eq!(statuses[1].signal(), Some(Signal::KILL.as_raw()));
/// drop(stdout);
/// # Ok::<(), spawn::Error>(())
/// ```
pub struct PipelineChild {
    run: HeldRun,
    /// The stage whose slot reads the stderr pipe the stages share.
    stderr_at: Option<usize>,
}

// The contract: a running pipeline can be shared by threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<PipelineChild>();
};

impl fmt::Debug for PipelineChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineChild")
            .field("pipeline", &self.run.name)
            .field("pids", &self.pids())
            .finish_non_exhaustive()
    }
}

/// What reaches every stage of a started pipeline from outside.
pub(crate) struct StageControl {
    /// Stops every stage (`Pipeline::cancel_on`).
    pub cancel: Option<crate::CancelToken>,
    /// Signals passed on (`Pipeline::forward_signals`).
    pub forwarder: Option<crate::Forwarder>,
}

/// Starts the stages of a pipeline (see [`Pipeline::spawn`](crate::Pipeline::spawn)):
/// `wirings` and `plumbing` as `Pipeline::run` has them, `shared_stderr` the
/// sink and the read end of the one pipe the stderr of the stages without
/// one of their own (`own_stderr`) goes into; `control` what stops them or
/// passes signals on.
pub(crate) fn start(
    name: String,
    wirings: Vec<Wiring>,
    mut plumbing: StagePlumbing,
    shared_stderr: Option<(Sink, OwnedFd)>,
    own_stderr: &[bool],
    control: StageControl,
) -> Result<PipelineChild, Error> {
    let n = wirings.len();
    let mut members: Vec<Member> = Vec::with_capacity(n);
    let mut pipes = Vec::with_capacity(n);
    for (i, w) in wirings.iter().enumerate() {
        let role = StageRole {
            index: i,
            last: i + 1 == n,
        };
        let started =
            match launch_wiring(w, Some(role), &mut plumbing, PidfdPlan::Now, Driving::Held) {
                Ok(s) => s,
                Err(e) => {
                    for m in &members {
                        m.process.kill_all();
                        crate::reaper::reap_later(Arc::clone(&m.process));
                    }
                    return Err(e);
                }
            };
        // As `Pipeline::run` adds them: the first stage owns the group's
        // teardown, the others are members of it.
        members.push(Member::new(
            w,
            Arc::new(started.process),
            started.started,
            (i > 0).then_some(ChildId(0)),
        ));
        pipes.push(HeldPipes::new(started.fds));
    }
    // The shared stderr is read by the slot of the last stage that shares
    // it (the stages' own pipes close with them, this one with the last).
    let stderr_at = own_stderr
        .iter()
        .rposition(|own| !own)
        .filter(|_| shared_stderr.is_some());
    if let (Some(k), Some((sink, r))) = (stderr_at, shared_stderr) {
        pipes[k].stderr = Some(ChildStderr(r));
        members[k].sinks.stderr = Some(sink);
    }
    drop(wirings);
    let mut run = HeldRun::new(name, members, pipes, control.forwarder);
    run.cancel_all_on(control.cancel);
    Ok(PipelineChild { run, stderr_at })
}

impl PipelineChild {
    /// Every stage's process id, in pipeline order.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        self.run
            .members
            .iter()
            .map(|m| m.process.pid_u32())
            .collect()
    }

    /// Takes the write end of the first stage's stdin pipe (when the
    /// pipeline's stdin was piped, and not taken or closed by a wait yet).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.run.state_mut().pipes[0].stdin.take()
    }

    /// Takes the read end of the last stage's stdout pipe (when the
    /// pipeline's stdout was piped, and not taken or drained by a wait).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.run.state_mut().pipes.last_mut()?.stdout.take()
    }

    /// Takes the read end of the one pipe every stage's stderr goes into
    /// (the stages that route no stderr of their own), when the
    /// pipeline's stderr was piped.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        let k = self.stderr_at?;
        self.run.state_mut().pipes[k].stderr.take()
    }

    /// Waits for every stage to finish and returns their statuses, in
    /// pipeline order; from any thread, every waiter gets the same ones.
    /// Closes the first stage's stdin first (if not taken; after feeding
    /// the pipeline's input), and drains the pipes not taken meanwhile (so
    /// a full pipe cannot block the wait: what it read is dropped with the
    /// `PipelineChild`, or costs memory while it lives; take the pipes, or
    /// route them elsewhere, to avoid it). The pipeline's timeout and
    /// cancel token apply.
    ///
    /// # Errors
    /// The pipeline's timeout passed ([`Error::Timeout`], every stage and
    /// its group stopped); its token was cancelled ([`Error::Cancelled`]);
    /// a stage's status was lost
    /// ([`Error::StatusLost`]); a sink failed.
    pub fn wait(&self) -> Result<Vec<ExitStatus>, Error> {
        match self
            .run
            .drive(Feed::Input(&[]), None, Until::AllDone, true, true)?
        {
            Drove::Done(Some(stages)) => {
                crate::finish::fold_pipeline(&self.run.name, stages).map(|out| out.statuses)
            }
            _ => self.statuses(),
        }
    }

    /// The statuses of the reaped stages.
    fn statuses(&self) -> Result<Vec<ExitStatus>, Error> {
        self.run
            .members
            .iter()
            .map(|m| match m.process.reaped() {
                Some(r) => crate::handle::status_of(&m.name, &m.process, r),
                None => crate::ChildHandle::new(&m.name, Arc::clone(&m.process)).wait(),
            })
            .collect()
    }

    /// Sends `SIGKILL` to every stage and to everything they started (the
    /// stages' process group, or their descendants when they stay in the
    /// caller's group, and their cgroups with
    /// [`Containment::Cgroup`](crate::Containment::Cgroup)). Stages already
    /// reaped are not signalled; the group still is while a member is left
    /// in it. Never waits for a wait running on another thread.
    ///
    /// # Errors
    /// The kernel refused.
    pub fn kill(&self) -> Result<(), Error> {
        for m in &self.run.members {
            m.process.kill_all();
        }
        // The stages' group, when they have one (in a terminal they stay
        // in the caller's, and `kill_all` reached their descendants).
        let leader = &self.run.members[0];
        if leader.process.group().leads() {
            crate::handle::signal_group(&self.run.name, &leader.process, Signal::KILL)
        } else {
            Ok(())
        }
    }
}

impl Drop for PipelineChild {
    fn drop(&mut self) {
        self.run.release(false);
    }
}
