//! [`Process`]: a started child as the facade holds it: its pid, its pidfd,
//! the process group it is in, and its status once reaped.
//!
//! This is the one place that knows "pidfd or pid": every signal, wait and
//! group probe of every entry point (`run`, `Group`, `Pipeline`, `Child`,
//! the drop of a `Child`, the background reaper) goes through it. It keeps
//! three promises:
//!
//! - a signal never reaches a reaped pid (it may belong to someone else by
//!   then): after the reap, [`Process::signal`] is a harmless `Ok`;
//! - a signal to a group never reaches the caller's own group, nor a group
//!   id that may have been reused (`signal_group` refuses pgid ≤ 1 below);
//! - the status is reaped once and every waiter sees the same one.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use spawn_sys::cgroup::Cgroup;
use spawn_sys::group::{GroupState, LiveGroups};
use spawn_sys::tree::ProcTable;
use spawn_sys::wait::{Rusage, WaitResult};
use spawn_sys::{Errno, Pid};

use crate::Signal;
use crate::descendants::Descendants;
use crate::driver::exit_watch::source;

/// The process group a child starts in: decided once, by its wiring
/// (`Wiring::group`), and read as it is by the launch (what the child is
/// asked to do), by [`Process`] (what "its group" means to a signal) and
/// by the teardown (whether the run owns the group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProcessGroup {
    /// The caller's group: group signals would reach the caller.
    Caller,
    /// A new group led by the child (`process_group(0)`, or chosen by
    /// spawn for a run that can be stopped when the caller has no
    /// controlling terminal; a pipeline's first stage then leads it). The
    /// run owns it.
    Lead,
    /// A new session (and group) led by the child (`new_session`). The run
    /// owns it.
    Session,
    /// An existing group: one the caller named (`process_group(pgid)`), or
    /// the one a pipeline's first stage leads. Signals may reach it, but the
    /// run does not own it.
    Join(Pid),
    /// (a pipeline's later stages, until the first stage started) the
    /// group the first stage leads: the launch makes it `Join` of that
    /// group, or `Caller` when the first stage leads none.
    JoinFirstStage,
}

impl ProcessGroup {
    /// Whether the child leads a group (or session) the run created.
    pub(crate) fn leads(self) -> bool {
        matches!(self, ProcessGroup::Lead | ProcessGroup::Session)
    }

    /// A later stage's group, once the pipeline's first stage started
    /// (`leader`: its pid, when it leads a group); any other as it is.
    pub(crate) fn resolved(self, leader: Option<Pid>) -> ProcessGroup {
        match self {
            ProcessGroup::JoinFirstStage => leader.map_or(ProcessGroup::Caller, ProcessGroup::Join),
            g => g,
        }
    }
}

/// Why a signal to a child's group was not sent.
#[derive(Debug)]
pub(crate) enum GroupSignalError {
    /// The child is in the caller's group (or its group is the caller's).
    NotOwn,
    /// The kernel refused.
    Os(io::Error),
}

/// How the reaped status was learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reaped {
    /// `wait4` gave it.
    Status(WaitResult),
    /// Someone else reaped the child (`waitpid(-1)` elsewhere, or SIGCHLD
    /// ignored): the status is lost.
    Lost,
}

#[derive(Debug, Default)]
struct State {
    reaped: Option<Reaped>,
    /// The group was empty when the child was reaped: its id may be reused,
    /// so it is never signalled again.
    group_gone: bool,
}

/// Scans of `/proc` made in one turn of an engine, shared by its probes
/// until a start or a signal makes them stale.
#[derive(Debug, Default)]
pub(crate) struct TurnScans {
    /// Which groups have a live member besides their leader.
    groups: Option<LiveGroups>,
    /// The process table by parent, for walks of descendants.
    table: Option<ProcTable>,
}

/// A started child: see the module docs.
#[derive(Debug)]
pub(crate) struct Process {
    pid: Pid,
    pidfd: Option<OwnedFd>,
    group: ProcessGroup,
    /// The cgroup made for the child ([`Containment::Cgroup`](crate::Containment::Cgroup)),
    /// removed when the last holder of the process lets go and it is empty.
    cgroup: Option<Cgroup>,
    /// The tree a stop reaches when the child stays in the caller's group
    /// ([`Reach::Descendants`](crate::wiring::Reach::Descendants)); shared by
    /// the stages of a pipeline.
    descendants: Option<Arc<Descendants>>,
    /// How it was started, and the option that needed fork.
    path: crate::SpawnPath,
    fork_reason: Option<&'static str>,
    /// A duplicate of its pseudo-terminal's master (`Command::pty`), for
    /// [`crate::PtyControl`].
    pty: Option<Arc<OwnedFd>>,
    state: Mutex<State>,
}

impl Process {
    pub(crate) fn new(
        pid: Pid,
        pidfd: Option<OwnedFd>,
        group: ProcessGroup,
        cgroup: Option<Cgroup>,
    ) -> Self {
        Process {
            pid,
            pidfd,
            group,
            cgroup,
            descendants: None,
            path: crate::SpawnPath::PosixSpawn,
            fork_reason: None,
            pty: None,
            state: Mutex::new(State::default()),
        }
    }

    /// The tree a stop of this child reaches (it stays in the caller's
    /// group); the child is one of its roots.
    pub(crate) fn with_descendants(mut self, tree: Arc<Descendants>) -> Self {
        tree.add_root(self.pid);
        self.descendants = Some(tree);
        self
    }

    /// Records how the child was started.
    pub(crate) fn with_path(
        mut self,
        path: crate::SpawnPath,
        fork_reason: Option<&'static str>,
    ) -> Self {
        self.path = path;
        self.fork_reason = fork_reason;
        self
    }

    /// Records the pseudo-terminal the child was started on.
    pub(crate) fn with_pty(mut self, master: Option<Arc<OwnedFd>>) -> Self {
        self.pty = master;
        self
    }

    /// Whether the child was started on a pseudo-terminal.
    pub(crate) fn has_pty(&self) -> bool {
        self.pty.is_some()
    }

    /// The duplicate of its pseudo-terminal's master it holds, if any.
    pub(crate) fn pty_master(&self) -> Option<Arc<OwnedFd>> {
        self.pty.clone()
    }

    /// How the child was started, and the option that needed fork.
    pub(crate) fn spawn_path(&self) -> (crate::SpawnPath, Option<&'static str>) {
        (self.path, self.fork_reason)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pid, for a wait that names it (an exit waiter thread).
    pub(crate) fn pid(&self) -> Pid {
        self.pid
    }

    /// The pid as a number, for reports.
    pub(crate) fn pid_u32(&self) -> u32 {
        self.pid.as_raw_nonzero().get().unsigned_abs()
    }

    pub(crate) fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    pub(crate) fn group(&self) -> ProcessGroup {
        self.group
    }

    /// The id of the group "signal the group" means, when it is not the
    /// caller's: the child's own pid when it leads one.
    pub(crate) fn pgid(&self) -> Option<Pid> {
        match self.group {
            ProcessGroup::Caller | ProcessGroup::JoinFirstStage => None,
            ProcessGroup::Lead | ProcessGroup::Session => Some(self.pid),
            ProcessGroup::Join(pgid) => Some(pgid),
        }
    }

    /// Opens the pidfd of a child started without one ([`PidfdPlan::Later`](crate::launch::PidfdPlan::Later)),
    /// now that something is to watch or signal it; whether it has one
    /// after. A child already reaped gets none. The pid is still ours while
    /// we have not reaped it (unless `SIGCHLD` is ignored and the kernel
    /// reaped it), so the new pidfd is checked to name a child of ours
    /// before it is kept: `waitid` on the pid says `ECHILD` for any other.
    pub(crate) fn open_late_pidfd(&mut self) -> bool {
        if self.pidfd.is_some() {
            return true;
        }
        if self.reaped().is_some() {
            return false;
        }
        self.pidfd = source::open_checked_pidfd(self.pid);
        self.pidfd.is_some()
    }

    /// Closes the pidfd of a reaped child (nothing is signalled or waited
    /// for through it any more): a finished child holds no fd.
    pub(crate) fn close_pidfd(&mut self) {
        if self.reaped().is_some() {
            self.pidfd = None;
        }
    }

    /// The status, once reaped.
    pub(crate) fn reaped(&self) -> Option<Reaped> {
        self.state().reaped
    }

    /// Sends `signal` to the child (through its pidfd where there is one).
    /// `Ok` without sending once the child is reaped.
    pub(crate) fn signal(&self, signal: Signal) -> io::Result<()> {
        let st = self.state();
        if st.reaped.is_some() {
            return Ok(());
        }
        let res = match &self.pidfd {
            Some(fd) => spawn_sys::pidfd::pidfd_send_signal(fd.as_fd(), signal.as_raw()),
            None => spawn_sys::signal::signal_process(self.pid, signal.as_raw()),
        };
        drop(st);
        match res {
            // Exited, not yet reaped: nothing to stop.
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    /// Sends `signal` to the child's process group. `Ok` without sending
    /// when the group was empty at the reap (its id may be someone else's
    /// by now); refused for the caller's own group.
    pub(crate) fn signal_group(&self, signal: Signal) -> Result<(), GroupSignalError> {
        let Some(pgid) = self.pgid() else {
            return Err(GroupSignalError::NotOwn);
        };
        if pgid == spawn_sys::group::own_process_group() {
            return Err(GroupSignalError::NotOwn);
        }
        let st = self.state();
        if st.group_gone {
            return Ok(());
        }
        let res = spawn_sys::signal::signal_group(pgid, signal.as_raw());
        drop(st);
        match res {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(GroupSignalError::Os(io::Error::from(e))),
        }
    }

    /// Whether something other than the (exited, unreaped) child is alive in
    /// what contains it: the group it leads (or its descendants), and its
    /// cgroup.
    ///
    /// `scans`: the scans of `/proc` made for this turn's probes (the
    /// engine's: one scan for the probes of many children, until a start or
    /// a signal makes them stale); made here when missing.
    pub(crate) fn probe_contained(&self, scans: &mut TurnScans) -> GroupState {
        let group = match (self.group, &self.descendants) {
            (_, Some(tree)) if tree.any_alive_except(self.pid, &mut scans.table) => {
                GroupState::Live
            }
            (group, _) if group.leads() => {
                if scans.groups.is_none() {
                    scans.groups = LiveGroups::scan().ok();
                }
                scans
                    .groups
                    .as_ref()
                    .map_or(GroupState::Unknown, |s| s.probe_led(self.pid))
            }
            _ => GroupState::Empty,
        };
        // A zombie is no longer in its cgroup: `populated` counts the living.
        let cgroup = match self.cgroup.as_ref().map(Cgroup::populated) {
            Some(Ok(true)) => GroupState::Live,
            Some(Err(_)) => GroupState::Unknown,
            _ => GroupState::Empty,
        };
        match (group, cgroup) {
            (GroupState::Live, _) | (_, GroupState::Live) => GroupState::Live,
            (GroupState::Empty, GroupState::Empty) => GroupState::Empty,
            _ => GroupState::Unknown,
        }
    }

    /// The tree a stop of this child walks, if it stays in the caller's
    /// group (for a batch of stops: `descendants::signal_all`).
    pub(crate) fn descendants(&self) -> Option<&Descendants> {
        self.descendants.as_deref()
    }

    /// Sends `signal` to everything a stop of the child reaches: the group
    /// it leads, or its descendants (the child among them), and its cgroup
    /// (KILL there is `cgroup.kill`). Nothing for a child that nothing
    /// stops but itself. Call it before the signal to the child alone: a
    /// child that dies first has its children reparented away.
    pub(crate) fn signal_contained(&self, signal: Signal) {
        if let Some(tree) = &self.descendants {
            tree.signal(signal);
        }
        self.signal_group_and_cgroup(signal);
    }

    /// [`signal_contained`](Self::signal_contained) without the
    /// descendants (signalled by the caller, in a batch).
    pub(crate) fn signal_group_and_cgroup(&self, signal: Signal) {
        match &self.cgroup {
            // The cgroup holds the group: one signal per process (a
            // program that counts its TERMs must see one per step); KILL
            // to both, since a process that left it is still KILLed.
            Some(cg) if signal == Signal::KILL => {
                let _ = cg.kill();
                if self.group.leads() {
                    let _ = self.signal_group(signal);
                }
            }
            Some(cg) => {
                let _ = cg.signal_all(signal.as_raw());
            }
            None if self.group.leads() => {
                let _ = self.signal_group(signal);
            }
            None => {}
        }
    }

    /// Whether the child is in the process group `pgid` now.
    pub(crate) fn in_group(&self, pgid: Pid) -> bool {
        spawn_sys::group::group_of(self.pid) == Ok(pgid)
    }

    /// Whether [`signal_group_and_cgroup`](Self::signal_group_and_cgroup)
    /// reaches the child itself (its cgroup holds it, its descendants'
    /// tree holds it as a member, or it is still in the group it leads,
    /// not the caller's), so that a signal to the child and what contains
    /// it is not sent to the child twice.
    pub(crate) fn containment_reaches_child(&self) -> bool {
        if self.cgroup.is_some() || self.descendants.is_some() {
            return true;
        }
        let Some(pgid) = self.pgid().filter(|_| self.group.leads()) else {
            return false;
        };
        pgid != spawn_sys::group::own_process_group() && self.in_group(pgid)
    }

    /// Whether the child has a cgroup of its own.
    pub(crate) fn contained_in_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// For the background reaper: whether the child's cgroup (if any) is
    /// empty; a populated one gets `cgroup.kill` again.
    pub(crate) fn cgroup_drained(&self) -> bool {
        let Some(cg) = &self.cgroup else { return true };
        match cg.populated() {
            Ok(false) | Err(_) => true,
            Ok(true) => {
                let _ = cg.kill();
                false
            }
        }
    }

    /// The raw wait status if the child has exited, without reaping it (its
    /// zombie keeps pinning its pid and group id).
    pub(crate) fn exited(&self) -> Option<i32> {
        if let Some(r) = self.reaped() {
            return Some(match r {
                Reaped::Status(w) => w.status,
                Reaped::Lost => LOST_STATUS,
            });
        }
        match source::peek(self.pid) {
            Ok(s) => s,
            // ECHILD: reaped elsewhere. Reap (and record the loss) now.
            Err(_) => self.try_reap().ok().flatten().map(|r| match r {
                Reaped::Status(w) => w.status,
                Reaped::Lost => LOST_STATUS,
            }),
        }
    }

    /// Reaps the child if it has exited (`block`: wait until it does).
    /// Every caller after the first gets the same answer.
    ///
    /// # Errors
    /// `wait4` failed for another reason than `ECHILD`.
    pub(crate) fn reap(&self, block: bool) -> io::Result<Option<Reaped>> {
        let mut st = self.state();
        if let Some(r) = st.reaped {
            return Ok(Some(r));
        }
        if block {
            // Block without the lock and without reaping (other threads may
            // signal, or wait too), then reap under the lock: every waiter
            // gets the one status, none sees another's reap as `ECHILD`.
            drop(st);
            let waited = source::wait_exited(self.pid);
            st = self.state();
            if let Some(r) = st.reaped {
                return Ok(Some(r));
            }
            let res = match waited {
                Ok(()) => source::reap(self.pid, true),
                Err(e) => Err(e),
            };
            return self.record(&mut st, res);
        }
        let res = source::reap(self.pid, true);
        self.record(&mut st, res)
    }

    /// As [`reap`](Self::reap) with `block`, for the one holder of the
    /// process (`&mut`: no other thread can wait for it or signal it): one
    /// blocking `wait4`, without the `WNOWAIT` wait that lets other waiters
    /// share the status.
    ///
    /// # Errors
    /// `wait4` failed for another reason than `ECHILD`.
    pub(crate) fn reap_alone(&mut self) -> io::Result<Option<Reaped>> {
        let mut st = self.state();
        if let Some(r) = st.reaped {
            return Ok(Some(r));
        }
        let res = source::reap(self.pid, false);
        self.record(&mut st, res)
    }

    /// As [`reap`](Self::reap) without blocking.
    pub(crate) fn try_reap(&self) -> io::Result<Option<Reaped>> {
        self.reap(false)
    }

    fn record(
        &self,
        st: &mut State,
        res: rustix::io::Result<Option<WaitResult>>,
    ) -> io::Result<Option<Reaped>> {
        let reaped = match res {
            Ok(Some(w)) => Reaped::Status(w),
            Ok(None) => return Ok(None),
            Err(Errno::CHILD) => Reaped::Lost,
            Err(Errno::INTR) => return Ok(None),
            Err(e) => return Err(io::Error::from(e)),
        };
        if let Some(pgid) = self.pgid() {
            // While a member lives, the group id stays allocated and cannot
            // be reused; once empty it may be.
            st.group_gone = spawn_sys::signal::signal_group(pgid, 0).is_err();
        }
        st.reaped = Some(reaped);
        Ok(Some(reaped))
    }

    /// KILL to the child and to what contains it (the group it leads, its
    /// cgroup). For teardowns that cannot wait (a drop, a panic).
    pub(crate) fn kill_all(&self) {
        self.signal_contained(Signal::KILL);
        let _ = self.signal(Signal::KILL);
    }
}

impl Drop for Process {
    /// The last holder let go: a cgroup of the child's is ended and removed
    /// (it is empty by now unless the teardown gave up, or the child was
    /// dropped while running without being reaped).
    fn drop(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            if matches!(cg.populated(), Ok(true)) {
                let _ = cg.kill();
            }
            // EBUSY while something still dies in it: nothing more to do
            // without blocking; the report said what was left.
            let _ = cg.remove();
        }
    }
}

/// How many names [`new_cgroup`] tries before it gives up.
const CGROUP_NAME_TRIES: u32 = 64;

/// A fresh cgroup for one child of `program`, under the caller's own
/// cgroup v2 (`Containment::Cgroup`), named `spawn-<pid>-<n>` with `n`
/// counted per process. A name taken (by a process with the same pid in
/// another pid namespace, or one SIGKILLed mid-run) is passed for the next,
/// [`CGROUP_NAME_TRIES`] times at most; the count moves on for good, so a
/// process passes each taken name once.
///
/// # Errors
/// [`Error::NoCgroup`](crate::Error::NoCgroup), saying why, when there is no
/// cgroup v2, no right to make one there, or every name tried is taken.
pub(crate) fn new_cgroup(program: &str) -> Result<Cgroup, crate::Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let no = |reason: String| crate::Error::NoCgroup {
        program: program.to_owned(),
        reason,
    };
    let own = spawn_sys::cgroup::own_cgroup()
        .map_err(|e| no(format!("no cgroup v2 for this process ({e})")))?;
    let mut taken = None;
    for _ in 0..CGROUP_NAME_TRIES {
        let name = format!(
            "spawn-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match Cgroup::create_under(&own, &name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => taken = Some(e),
            made => return made.map_err(|e| no(e.to_string())),
        }
    }
    let last = taken.map(|e| e.to_string()).unwrap_or_default();
    Err(no(format!(
        "{CGROUP_NAME_TRIES} cgroup names in a row were taken (the last: {last})"
    )))
}

/// The status recorded for a child whose status was lost.
pub(crate) const LOST_STATUS: i32 = 255 << 8;

impl Reaped {
    /// The raw status and resource use (a lost status reads as exit 255).
    pub(crate) fn wait_result(self) -> WaitResult {
        match self {
            Reaped::Status(w) => w,
            Reaped::Lost => WaitResult {
                status: LOST_STATUS,
                rusage: Rusage::default(),
            },
        }
    }
}
