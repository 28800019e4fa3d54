//! [`Solo`]: what a [`Child`](crate::Child) and an
//! [`AsyncChild`](crate::AsyncChild) are made of, and their one
//! constructor: a command's child launched alone, its [`ChildHandle`] (pid,
//! `try_wait`, signals), the [`HeldRun`] its waits drive, and the drop that
//! never leaves a zombie. The two differ only in how their pipe ends are
//! held (blocking ends in the run, or tokio's) and how they wait.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Instant;

use spawn_core::PerStream;

use super::drive::{HeldRun, Member};
use super::pipes::HeldPipes;
use crate::launch::{Driving, PidfdPlan, launch_alone};
use crate::process::Process;
use crate::wiring::{Stops, Wiring};
use crate::{ChildHandle, Command, Error};

/// See the module docs.
pub(crate) struct Solo {
    pub handle: ChildHandle,
    pub run: HeldRun,
    /// Its drop kills the child (`Command::kill_on_drop`).
    kill_on_drop: bool,
    /// When it was started (the `at` of the lines of its `lines`).
    pub started: Instant,
}

impl Solo {
    /// Wires `cmd` and launches it alone: the child, held with no pipe end
    /// in its run yet, and the parent's ends of its pipes (for the caller
    /// to hold: in its run, or registered with tokio).
    pub(crate) fn spawn(cmd: &Command) -> Result<(Solo, PerStream<Option<OwnedFd>>), Error> {
        let wiring = Wiring::command(cmd, Stops::ByCommand)?;
        let started = launch_alone(&wiring, PidfdPlan::Now, Driving::Held)?;
        let process = Arc::new(started.process);
        let member = Member::new(&wiring, Arc::clone(&process), started.started, None);
        let solo = Solo {
            handle: ChildHandle::new(&wiring.name, process),
            run: HeldRun::new(
                wiring.name.clone(),
                vec![member],
                vec![HeldPipes::new(PerStream::default())],
                cmd.settings.forwarder.clone(),
            ),
            kill_on_drop: cmd.kill_on_drop,
            started: started.started,
        };
        Ok((solo, started.fds))
        // `wiring` (and the caller's fds it holds) is dropped here.
    }

    /// The child's process.
    pub(crate) fn process(&self) -> &Process {
        &self.run.members[0].process
    }
}

impl Drop for Solo {
    /// Our pipe ends the run holds close first, so a child blocked on them
    /// can finish; then the child is reaped in the background (KILLed first
    /// with `kill_on_drop`; with a timeout pending, its engine is driven by
    /// the reaper to the end of its teardown).
    fn drop(&mut self) {
        self.run.release(self.kill_on_drop);
    }
}
