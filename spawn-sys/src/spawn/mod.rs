//! Starting a program: a vfork-style `clone3` (x86-64 Linux) or
//! `posix_spawn` (where `clone3` is refused, and elsewhere) with fd
//! actions, working directory, process group or session, a clean signal
//! state and no stray fds; a fork+exec fallback for what they cannot
//! express; and the `PATH` search done against the child's environment.
//!
//! The pieces: [`CStringArray`] and [`env_array`] (argv and envp as bytes,
//! checked once), [`EnvChanges`] (the caller's environment with a few
//! changes, its strings not copied: [`Envp::Changed`]), [`find_program`] (the `PATH` search), [`SpawnOptions`]
//! (everything about one start) and [`spawn`] (the call).
//!
//! In every child, whichever way it is started:
//! 0. it is in its cgroup, if one is asked for ([`SpawnOptions::cgroup`]);
//! 1. every signal is at its default disposition and the signal mask is
//!    empty (a Rust parent ignores `SIGPIPE`; the child must not inherit that),
//!    the libc's reserved signals included (glibc's `posix_spawn` would set
//!    32 and 33 to `SIG_IGN`, and its `sigaction` cannot reset them);
//! 2. the session or process group is made or joined;
//! 3. the [`FdAction`]s run in order, correct when sources and targets
//!    overlap;
//! 4. every fd but 0, 1, 2 and the fds named by the actions is closed, even
//!    fds that other code of the parent opened without close-on-exec;
//! 5. the working directory is changed, and the program executed.
//!
//! On the fork and `clone3` paths, resource limits, umask, groups, gid and
//! uid are set between 4 and 5, then the parent death signal
//! ([`ForkOptions::parent_death_signal`]), and the `pre_exec` hook runs
//! last (fork path only).
//!
//! A failure at any step is an error of the [`spawn`] call, with the step
//! ([`SpawnStage`]) and the child's errno.
//!
//! # Which path starts the child
//! [`spawn`] says which in [`Spawned::path`]:
//! - [`SpawnPath::Clone3`], `clone3(CLONE_VM | CLONE_VFORK)` (x86-64
//!   Linux): the default. No copy of the parent's memory, one stack kept
//!   between starts, the pidfd made in the same call when
//!   [`SpawnOptions::pidfd`] asks for it; with [`SpawnOptions::cgroup`]
//!   (and no [`ForkOptions::pre_exec`] hook) also `CLONE_INTO_CGROUP`, the
//!   child in its cgroup from its first instruction;
//! - [`SpawnPath::PosixSpawn`], glibc's `posix_spawn` (a `vfork`-like clone
//!   that does not copy the parent's memory either): where the kernel has
//!   no `clone3` or a seccomp filter refuses it, on other architectures,
//!   and with `SPAWN_NO_CLONE3=1` in the environment;
//! - [`SpawnPath::Fork`], `fork` then `execve`: a copy of the parent's page
//!   tables, for what the others cannot do ([`ForkOptions::fork_reason`]
//!   names it), or for a cgroup where `clone3` is missing or refused (the
//!   child then writes itself into `cgroup.procs` before anything else).

use std::ffi::{CStr, CString, c_int};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};

use crate::{Errno, Pid};

mod args;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod clone3;
mod env;
mod fork;
mod os;
mod path;
mod posix;

pub use args::{CStringArray, EnvError, Envp, InteriorNul, env_array};
pub use env::EnvChanges;
pub use os::HAS_PARENT_DEATH_SIGNAL;
pub use path::{DEFAULT_PATH, LookupError, find_program, find_program_in};

/// What happens to one fd of the child before it runs the program; the
/// actions of a [`SpawnOptions`] run in order. `dst` is an fd number in the
/// child, not an fd of ours.
#[derive(Debug)]
pub enum FdAction<'fd> {
    /// `dup2(src, dst)`: the child's `dst` is our `src`. Correct when sources
    /// and targets overlap (swapping 1 and 2 works) and when `src` is
    /// already numbered `dst` (the child gets it even though ours is
    /// close-on-exec).
    Dup2 {
        /// Our fd.
        src: BorrowedFd<'fd>,
        /// The child's fd number.
        dst: i32,
    },
    /// The child's `dst` is closed.
    Close {
        /// The child's fd number.
        dst: i32,
    },
    /// The child's `dst` is `path`, opened in the child with `flags` (minus
    /// `O_CLOEXEC`, which would defeat the action) and `mode`.
    Open {
        /// The child's fd number.
        dst: i32,
        /// The file, relative to the parent's working directory.
        path: CString,
        /// `open(2)` flags.
        flags: OFlags,
        /// `open(2)` mode, for created files.
        mode: Mode,
    },
}

impl FdAction<'_> {
    /// The child's fd number this action is about.
    #[must_use]
    pub fn dst(&self) -> i32 {
        match self {
            FdAction::Dup2 { dst, .. } | FdAction::Close { dst } | FdAction::Open { dst, .. } => {
                *dst
            }
        }
    }
}

/// A pre-exec hook: runs in the child after fork, just before exec.
///
/// It is `Fn`, not `FnMut` as std's, because [`spawn`] takes its options by
/// shared reference (a forked child has its own copy of memory anyway, so
/// what the hook changes is never seen by the parent).
///
/// # Warning
/// It runs in a forked copy of a possibly multi-threaded process: it must
/// only make async-signal-safe calls (no allocation, no locks, no `println!`).
pub type PreExec = Box<dyn Fn() -> io::Result<()> + Send + Sync>;

/// What only fork+exec can do. When any is set, [`spawn`] forks (see
/// [`ForkOptions::fork_reason`]).
#[derive(Default)]
pub struct ForkOptions {
    /// `setuid` in the child.
    pub uid: Option<u32>,
    /// `setgid` in the child.
    pub gid: Option<u32>,
    /// `setgroups` in the child (supplementary groups).
    pub groups: Option<Vec<u32>>,
    /// `umask` in the child.
    pub umask: Option<u32>,
    /// `setrlimit(resource, {soft, hard})` in the child, with `resource` one
    /// of `libc::RLIMIT_*` and `u64::MAX` for unlimited.
    pub rlimits: Vec<(i32, u64, u64)>,
    /// A hook run just before exec; see [`PreExec`].
    pub pre_exec: Option<PreExec>,
    /// `prctl(PR_SET_PDEATHSIG, sig)` in the child: the kernel sends it
    /// `sig` when the parent dies.
    ///
    /// Set after the user and groups change (a change of credentials
    /// clears it), then the child compares `getppid()` with the parent's
    /// pid taken before the fork: when they differ, the parent died before
    /// the `prctl` could take effect, and the child sends itself `sig` at
    /// once (or exits with `128 + sig` if `sig` does not end it), before
    /// running a single instruction of the program. A signal number out of
    /// range is [`SpawnStage::ParentDeathSignal`], `EINVAL`.
    ///
    /// # Warning
    /// The kernel sends it when the *thread* that started the child exits,
    /// not the process: a child spawned from a short-lived thread (a
    /// thread pool's worker, a scoped thread) gets `sig` when that thread
    /// ends, while the parent runs on. Spawn such children from a thread
    /// that lives as long as the parent should (the main thread, or one
    /// long-lived spawner thread). The setting is also cleared when the
    /// child executes a set-user-ID or set-group-ID program or one with
    /// file capabilities.
    ///
    /// # References
    /// - [Linux `prctl`](https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html)
    pub parent_death_signal: Option<i32>,
}

impl fmt::Debug for ForkOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkOptions")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("groups", &self.groups)
            .field("umask", &self.umask)
            .field("rlimits", &self.rlimits)
            .field("pre_exec", &self.pre_exec.is_some())
            .field("parent_death_signal", &self.parent_death_signal)
            .finish()
    }
}

impl ForkOptions {
    /// Whether anything here needs fork+exec: [`ForkOptions::fork_reason`]
    /// is `Some`.
    #[must_use]
    pub fn needs_fork(&self) -> bool {
        self.fork_reason().is_some()
    }

    /// The name of the first option that needs fork+exec, in this order:
    /// `"uid"`, `"gid"`, `"groups"`, `"umask"`, `"rlimit"`, `"pre_exec"`,
    /// `"parent_death_signal"`; `None` when `clone3` or `posix_spawn` can do
    /// it all.
    ///
    /// With a [`SpawnOptions::cgroup`] the child is started by `clone3`
    /// (no copy of the parent) whatever these say, but for `"pre_exec"`;
    /// where `clone3` is refused it forks.
    #[must_use]
    pub fn fork_reason(&self) -> Option<&'static str> {
        [
            (self.uid.is_some(), "uid"),
            (self.gid.is_some(), "gid"),
            (self.groups.is_some(), "groups"),
            (self.umask.is_some(), "umask"),
            (!self.rlimits.is_empty(), "rlimit"),
            (self.pre_exec.is_some(), "pre_exec"),
            (self.parent_death_signal.is_some(), "parent_death_signal"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

/// How [`spawn`] started a child; see the [module docs](self#which-path-starts-the-child).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnPath {
    /// `posix_spawn` (glibc's: a `vfork`-like clone, no copy of the
    /// parent's memory): where `clone3` is refused.
    PosixSpawn,
    /// `fork` then `execve`: the parent's page tables are copied.
    Fork,
    /// `clone3(CLONE_VM | CLONE_VFORK)` then `execve` (with
    /// `CLONE_INTO_CGROUP` for a cgroup): no copy of the parent's memory;
    /// the default on x86-64 Linux.
    Clone3,
}

impl SpawnPath {
    /// A short lowercase name: `"posix_spawn"`, `"fork"`, `"clone3"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SpawnPath::PosixSpawn => "posix_spawn",
            SpawnPath::Fork => "fork",
            SpawnPath::Clone3 => "clone3",
        }
    }

    /// Whether this path copies the parent's address space (only
    /// [`SpawnPath::Fork`]).
    #[must_use]
    pub fn copies_parent(self) -> bool {
        self == SpawnPath::Fork
    }
}

impl fmt::Display for SpawnPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A started child, as [`spawn`] returns it.
#[derive(Debug)]
pub struct Spawned {
    /// Its pid (the caller's to reap).
    pub pid: Pid,
    /// How it was started.
    pub path: SpawnPath,
    /// A pidfd for it when the path got one from the kernel at no extra
    /// cost (`clone3` with `CLONE_PIDFD`, unless `SPAWN_NO_PIDFD` turns
    /// pidfds off); else `None`, and [`crate::pidfd_open`] makes one.
    pub pidfd: Option<OwnedFd>,
}

/// Everything about starting one program.
#[derive(Debug)]
pub struct SpawnOptions<'fd> {
    /// The file to execute (already resolved, see [`find_program`]); a
    /// relative path is relative to `cwd`.
    pub program: CString,
    /// The arguments, `argv[0]` first.
    pub argv: CStringArray,
    /// The environment.
    pub envp: Envp,
    /// The working directory, if not ours.
    pub cwd: Option<CString>,
    /// What happens to the child's fds, in order. Fds 0, 1, 2 not named here
    /// are inherited (if they are open and not close-on-exec); every other
    /// fd is closed in the child unless an action names it.
    pub fd_actions: Vec<FdAction<'fd>>,
    /// `Some(0)`: a new process group led by the child; `Some(pgid)`: join it.
    /// A negative value is refused ([`SpawnStage::ProcessGroup`], `EINVAL`).
    pub process_group: Option<i32>,
    /// A new session (`setsid`); the child leads it and a new process group.
    pub new_session: bool,
    /// What needs fork+exec.
    pub fork: ForkOptions,
    /// A cgroup v2 directory (an fd opened on it, e.g.
    /// [`crate::Cgroup::fd`]) the child starts in, before it runs a single
    /// instruction of the program: `clone3` with `CLONE_INTO_CGROUP`
    /// ([`SpawnPath::Clone3`]) where it works and no `pre_exec` hook is
    /// set, else the fork path with the child writing itself into the
    /// cgroup's `cgroup.procs` first thing ([`SpawnPath::Fork`]). A cgroup
    /// that cannot take the child is [`SpawnStage::Cgroup`] with the errno
    /// (`EACCES` without write access to it, `EBUSY`/`EOPNOTSUPP` for a
    /// cgroup with controllers that cannot hold processes).
    pub cgroup: Option<BorrowedFd<'fd>>,
    /// Whether a pidfd is wanted where the start can have the kernel make
    /// one in the same call (`clone3` with `CLONE_PIDFD`; see
    /// [`Spawned::pidfd`]). `false` makes none: a caller that only waits
    /// for the child by pid saves the fd and its `close`. Default `true`.
    pub pidfd: bool,
}

impl SpawnOptions<'_> {
    /// Options to run `program` with `argv` and `envp`, and nothing else
    /// changed.
    #[must_use]
    pub fn new(program: CString, argv: CStringArray, envp: impl Into<Envp>) -> Self {
        SpawnOptions {
            program,
            argv,
            envp: envp.into(),
            cwd: None,
            fd_actions: Vec::new(),
            process_group: None,
            new_session: false,
            fork: ForkOptions::default(),
            cgroup: None,
            pidfd: true,
        }
    }
}

/// The step that failed to start a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnStage {
    /// Executing the program.
    Exec,
    /// Changing to the working directory.
    Cwd,
    /// An fd action (or preparing one in the parent).
    FdAction,
    /// Joining or making the process group.
    ProcessGroup,
    /// Making the session.
    Session,
    /// `setgroups`, `setgid` or `setuid`.
    Credentials,
    /// `umask`.
    Umask,
    /// `setrlimit`.
    Rlimit,
    /// The pre-exec hook.
    PreExec,
    /// `fork` itself, or the pipe that reports the child's errors.
    Fork,
    /// Setting up the spawn attributes in the parent.
    Setup,
    /// Placing the child in its cgroup ([`SpawnOptions::cgroup`]).
    Cgroup,
    /// Setting the parent death signal
    /// ([`ForkOptions::parent_death_signal`]).
    ParentDeathSignal,
}

impl fmt::Display for SpawnStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpawnStage::Exec => "executing the program",
            SpawnStage::Cwd => "changing to the working directory",
            SpawnStage::FdAction => "setting up the child's fds",
            SpawnStage::ProcessGroup => "setting the process group",
            SpawnStage::Session => "starting a new session",
            SpawnStage::Credentials => "setting the user or groups",
            SpawnStage::Umask => "setting the umask",
            SpawnStage::Rlimit => "setting a resource limit",
            SpawnStage::PreExec => "the pre-exec hook",
            SpawnStage::Fork => "forking",
            SpawnStage::Setup => "preparing the spawn",
            SpawnStage::Cgroup => "placing the child in its cgroup",
            SpawnStage::ParentDeathSignal => "setting the parent death signal",
        })
    }
}

/// A failure to start a child: the step that failed and its errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError {
    /// The error.
    pub errno: Errno,
    /// The step.
    pub stage: SpawnStage,
}

impl SpawnError {
    pub(crate) fn new(stage: SpawnStage, errno: Errno) -> Self {
        SpawnError { errno, stage }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.stage, io::Error::from(self.errno))
    }
}

impl std::error::Error for SpawnError {}

impl From<SpawnError> for io::Error {
    fn from(e: SpawnError) -> io::Error {
        io::Error::from(e.errno)
    }
}

/// An `Errno` from a raw value, `EIO` for 0 (rustix's `Errno` is never 0).
pub(crate) fn nonzero_errno(raw: i32) -> Errno {
    if raw == 0 {
        Errno::IO
    } else {
        Errno::from_raw_os_error(raw)
    }
}

/// Above this many fds to close one by one between 3 and the highest
/// target, [`spawn`] forks (which closes ranges) rather than giving
/// `posix_spawn` one close action per fd.
const MAX_GAP_CLOSES: usize = 256;

/// Starts `opts.program` as the options say and returns its pid and the
/// way it was started.
///
/// What the child gets is in the [module docs](self). A vfork-style
/// `clone3` (x86-64 Linux; cheap even from a large parent) is used unless
/// [`ForkOptions::needs_fork`] (with a cgroup: unless a `pre_exec` hook is
/// set); where the kernel refuses it, `posix_spawn` (glibc's is a
/// `vfork`-like clone too); with a cgroup and no `clone3`, or for what
/// needs fork, fork+exec, with the same semantics plus those options, the
/// child's failure coming back through a close-on-exec pipe as its real
/// errno and step. [`Spawned::path`] says which ran.
///
/// # Errors
/// The step that failed and its errno. `stage` is [`SpawnStage::Cwd`] when
/// the working directory is unusable, [`SpawnStage::Exec`] for the program
/// (`ENOENT`, `EACCES`, `ENOEXEC`, `E2BIG`…), [`SpawnStage::FdAction`] for
/// an fd action (`EBADF` for a negative `dst` or one at or above
/// `RLIMIT_NOFILE`, `EMFILE` when the parent has no fd left to prepare it),
/// [`SpawnStage::Cgroup`] for a cgroup that cannot take the child.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/posix_spawn.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/posix_spawn.3.html)
/// - [Linux `fork`](https://man7.org/linux/man-pages/man2/fork.2.html)
/// - [Linux `clone3`](https://man7.org/linux/man-pages/man2/clone3.2.html)
#[doc(alias = "fork")]
#[doc(alias = "execve")]
#[doc(alias = "clone3")]
pub fn spawn(opts: &SpawnOptions<'_>) -> Result<Spawned, SpawnError> {
    if opts.process_group.is_some_and(|pg| pg < 0) {
        // What `setpgid` says, before anything starts and the same on both
        // paths (glibc's `posix_spawn` would report it as the exec's).
        return Err(SpawnError::new(SpawnStage::ProcessGroup, Errno::INVAL));
    }
    if let Some(sig) = opts.fork.parent_death_signal {
        if !HAS_PARENT_DEATH_SIGNAL {
            return Err(SpawnError::new(
                SpawnStage::ParentDeathSignal,
                Errno::NOTSUP,
            ));
        }
        if !(1..=os::max_signal()).contains(&sig) {
            return Err(SpawnError::new(SpawnStage::ParentDeathSignal, Errno::INVAL));
        }
    }
    let plan = Plan::new(&opts.fd_actions)?;
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if opts.fork.pre_exec.is_none()
        && (opts.cgroup.is_some() || !opts.fork.needs_fork())
        && let Some(spawned) = clone3::spawn(opts, &plan)?
    {
        return Ok(spawned);
    }
    if opts.cgroup.is_some() {
        return fork::spawn(opts, &plan);
    }
    if !opts.fork.needs_fork()
        && let Some(done) = posix::spawn(opts, &plan)
    {
        return done;
    }
    fork::spawn(opts, &plan)
}

/// One step of the child's fd setup, in raw numbers, made safe against
/// overlap by [`Plan::new`].
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Dup2 {
        src: c_int,
        dst: c_int,
    },
    Close {
        dst: c_int,
    },
    Open {
        dst: c_int,
        path: &'a CStr,
        flags: c_int,
        mode: libc::mode_t,
    },
}

/// The fd actions made safe to run in order in the child: every `Dup2`
/// source that some action targets (itself included) is first duplicated,
/// in the parent and close-on-exec, above every target. Then no step
/// clobbers a later step's source, and `dup2` never sees `src == dst` (which
/// would leave close-on-exec set).
#[derive(Debug)]
struct Plan<'a> {
    steps: Vec<Step<'a>>,
    /// Inclusive ranges of fds in `3..close_from` that no action names:
    /// closed after the steps.
    gaps: Vec<(c_int, c_int)>,
    /// Every fd from this one up is closed after the steps.
    close_from: c_int,
    /// Sources moved out of the way; closed when the plan is dropped, after
    /// the spawn.
    _moved: Vec<OwnedFd>,
}

impl<'a> Plan<'a> {
    fn new(actions: &'a [FdAction<'a>]) -> Result<Self, SpawnError> {
        let bad = |errno| SpawnError::new(SpawnStage::FdAction, errno);
        let mut targets: Vec<c_int> = actions.iter().map(FdAction::dst).collect();
        targets.sort_unstable();
        targets.dedup();
        let max_dst = targets.last().copied().unwrap_or(2).max(2);
        if targets.first().is_some_and(|&t| t < 0) {
            return Err(bad(Errno::BADF));
        }
        if max_dst > 2 {
            // What dup2 would say; checked here so that a huge `dst` costs
            // nothing and `max_dst + 1` cannot overflow.
            let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            let limit = soft.unwrap_or(u64::MAX).min(c_int::MAX as u64);
            if u64::try_from(max_dst).unwrap_or(u64::MAX) >= limit {
                return Err(bad(Errno::BADF));
            }
        }
        let close_from = max_dst + 1;
        let mut steps = Vec::with_capacity(actions.len());
        let mut moved = Vec::new();
        for a in actions {
            steps.push(match a {
                FdAction::Dup2 { src, dst } => {
                    let mut raw = src.as_raw_fd();
                    if targets.binary_search(&raw).is_ok() {
                        let m = rustix::io::fcntl_dupfd_cloexec(src, close_from).map_err(bad)?;
                        raw = m.as_raw_fd();
                        moved.push(m);
                    }
                    Step::Dup2 {
                        src: raw,
                        dst: *dst,
                    }
                }
                FdAction::Close { dst } => Step::Close { dst: *dst },
                FdAction::Open {
                    dst,
                    path,
                    flags,
                    mode,
                } => Step::Open {
                    dst: *dst,
                    path: path.as_c_str(),
                    flags: (*flags - OFlags::CLOEXEC).bits() as c_int,
                    mode: mode.bits(),
                },
            });
        }
        let mut gaps = Vec::new();
        let mut next = 3;
        for &t in targets.iter().filter(|&&t| t >= 3) {
            if t > next {
                gaps.push((next, t - 1));
            }
            next = t + 1;
        }
        Ok(Plan {
            steps,
            gaps,
            close_from,
            _moved: moved,
        })
    }

    /// Whether an action targets the child's fd `fd`.
    fn targets(&self, fd: c_int) -> bool {
        self.steps.iter().any(|s| match *s {
            Step::Dup2 { dst, .. } | Step::Close { dst } | Step::Open { dst, .. } => dst == fd,
        })
    }

    /// How many fds the gaps hold.
    fn gap_fds(&self) -> usize {
        self.gaps
            .iter()
            .map(|&(a, b)| usize::try_from(b - a + 1).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_plan_moves_sources_that_are_targets_and_lists_the_gaps() {
        let (r, w) = crate::pipe::pipe().unwrap();
        let (r_raw, w_raw) = (r.as_raw_fd(), w.as_raw_fd());
        let actions = [
            FdAction::Dup2 {
                src: r.as_fd(),
                dst: w_raw,
            },
            FdAction::Dup2 {
                src: w.as_fd(),
                dst: 9,
            },
            FdAction::Close { dst: 5 },
        ];
        let plan = Plan::new(&actions).unwrap();
        // `w` is a target: moved above the highest target; `r` is not.
        let max = w_raw.max(9);
        assert_eq!(plan.close_from, max + 1);
        match plan.steps[..] {
            [
                Step::Dup2 { src: a, dst: d1 },
                Step::Dup2 { src: b, dst: 9 },
                Step::Close { dst: 5 },
            ] => {
                assert_eq!((a, d1), (r_raw, w_raw));
                assert!(b > max, "{b} moved above {max}");
            }
            ref other => panic!("{other:?}"),
        }
        let mut named = vec![w_raw, 9, 5];
        for &(a, b) in &plan.gaps {
            assert!(3 <= a && a <= b && b <= max);
            named.extend(a..=b);
        }
        named.sort_unstable();
        named.dedup();
        assert_eq!(named, (3..=max).collect::<Vec<_>>());
    }

    #[test]
    fn bad_targets_are_ebadf_not_panics() {
        let null = crate::fd::dev_null(false).unwrap();
        for dst in [-1, c_int::MAX, c_int::MAX - 1, 1 << 30] {
            let actions = [FdAction::Dup2 {
                src: null.as_fd(),
                dst,
            }];
            let e = Plan::new(&actions).unwrap_err();
            assert_eq!((e.stage, e.errno), (SpawnStage::FdAction, Errno::BADF));
        }
        let plan = Plan::new(&[]).unwrap();
        assert_eq!((plan.close_from, plan.gap_fds()), (3, 0));
    }
}
