//! Start-up options of a [`Command`]: how the child is started and what
//! contains it. Extra fds ([`pass_fd`](Command::pass_fd)), the death
//! signal, credentials, umask and resource limits (which need a fork of the
//! parent), the spawn path that may be required
//! ([`require_posix_spawn`](Command::require_posix_spawn)) and reported
//! ([`SpawnPath`]), and the [`Containment`] that every teardown ends.
//!
//! | option                    | path it takes                 |
//! |---------------------------|-------------------------------|
//! | (none of the below)       | vfork-style `clone3` on x86-64 Linux (`posix_spawn` where the kernel refuses it, and elsewhere) |
//! | `pass_fd`                 | as above (dup2 steps)         |
//! | `containment(Cgroup)`     | vfork-style `clone3` (fork+exec where the kernel refuses it) |
//! | `parent_death_signal`     | fork+exec                     |
//! | `uid`, `gid`, `groups`    | fork+exec                     |
//! | `umask`, `rlimit`         | fork+exec                     |

use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::{Command, Signal};

/// What holds a child and everything it starts, for the teardown at the end
/// of its run (a timeout, a stop, a drop; see [`Command::timeout`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Containment {
    /// The child's process group (the default): a teardown signals the
    /// group the child leads. A descendant that calls `setsid` or moves to
    /// another group escapes it.
    #[default]
    ProcessGroup,
    /// A fresh cgroup v2 under the caller's own, created for the child and
    /// entered before the child runs a single instruction of its program.
    /// Nothing escapes it: when the run ends (exit and EOF, a timeout, a
    /// cancel, a dropped run), everything left in it gets the
    /// [stop signal](Command::stop_signal), the grace, then `cgroup.kill`,
    /// and the cgroup is removed once empty. A [`Child`](crate::Child)
    /// dropped with [`kill_on_drop`](Command::kill_on_drop) gets KILL at
    /// once, everything in its cgroup with it; one dropped without it runs
    /// on, and what is left in its cgroup when it has been reaped gets
    /// `cgroup.kill`.
    /// Cgroups a member makes inside it are part of it: their members get
    /// the stop signal too, and they are removed with it, deepest first.
    /// Where no writable cgroup v2 exists, the run fails before anything
    /// starts, saying why. The child is started by a vfork-style `clone3`
    /// (`CLONE_INTO_CGROUP`; no copy of the parent), or by fork+exec where
    /// the kernel refuses `clone3` (before 5.7, or a seccomp filter).
    ///
    /// Limit: a member with the right to write into another cgroup's
    /// `cgroup.procs` (root, or a delegated subtree) can move itself out,
    /// and then nothing of the teardown reaches it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use spawn::{Command, Containment};
    /// // Nothing the script starts survives the run, not even `setsid` jobs.
    /// Command::shell("setsid sleep 60 & echo started")
    ///     .containment(Containment::Cgroup)
    ///     .run()?;
    /// # Ok::<(), spawn::Error>(())
    /// ```
    Cgroup,
}

/// How a child was started, as [`Report::spawn_path`](crate::Report::spawn_path) says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpawnPath {
    /// `posix_spawn` (the libc's vfork-style spawn): no copy of the parent.
    /// Where the kernel refuses `clone3`, and off x86-64 Linux.
    PosixSpawn,
    /// fork+exec: the parent's address space is copied (cheaply, but the
    /// page tables cost time in a large parent); what
    /// [`Report::fork_reason`](crate::Report::fork_reason) names needed it.
    Fork,
    /// A vfork-style `clone3` (no copy of the parent): the default on
    /// x86-64 Linux, and how a child starts inside its cgroup.
    Clone3,
    /// The child never started: the [`Report`](crate::Report) of a run
    /// refused or cancelled before the spawn (its `pid` is 0). The
    /// default.
    #[default]
    NotStarted,
}

impl SpawnPath {
    pub(crate) fn from_sys(p: spawn_sys::spawn::SpawnPath) -> Self {
        match p {
            spawn_sys::spawn::SpawnPath::Fork => SpawnPath::Fork,
            spawn_sys::spawn::SpawnPath::Clone3 => SpawnPath::Clone3,
            _ => SpawnPath::PosixSpawn,
        }
    }
}

impl Command {
    /// Gives the child `fd` as its fd number `child_fd` (Python's
    /// `pass_fds`, Go's `ExtraFiles`; a systemd socket, a jobserver pipe).
    /// `child_fd` must be 3 or more, and below this process's fd limit
    /// (`RLIMIT_NOFILE`, which the child inherits; else
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything
    /// starts); any number of fds may be passed, and
    /// their numbers may overlap the parent's. Every other fd is still
    /// closed in the child. Needs no fork (the default path).
    ///
    /// # Examples
    ///
    /// ```
    /// // head -c 5 <&3 3</etc/passwd
    /// let passwd = std::fs::File::open("/etc/passwd")?;
    /// let out = spawn::Command::shell("head -c 5 <&3").pass_fd(3, passwd).check_output()?;
    /// assert_eq!(out, b"root:");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn pass_fd(mut self, child_fd: i32, fd: impl Into<OwnedFd>) -> Self {
        self.passed_fds.push((child_fd, Arc::new(fd.into())));
        self
    }

    /// Linux's `PR_SET_PDEATHSIG`: the kernel sends `signal` to the child
    /// when the **thread** that started it exits (not the process: a child
    /// started from a short-lived thread gets it when that thread ends;
    /// start such children from a long-lived thread). If the parent died
    /// before the child could ask, the child gets the signal at once. Takes
    /// the fork+exec path.
    #[must_use]
    pub fn parent_death_signal(mut self, signal: Signal) -> Self {
        self.parent_death_signal = Some(signal);
        self
    }

    /// Refuses every option that needs a fork of the parent (a copy of its
    /// address space: tens of milliseconds in a large parent, or `ENOMEM`):
    /// such a command fails with [`Error::ForkRequired`](crate::Error::ForkRequired),
    /// naming the option, before anything starts. Paths that do not copy
    /// the parent (`posix_spawn`, a vfork-style `clone3`) are allowed.
    #[must_use]
    pub fn require_posix_spawn(mut self) -> Self {
        self.require_posix_spawn = true;
        self
    }

    /// What holds the child and all it starts for the teardown; see
    /// [`Containment`]. Default [`Containment::ProcessGroup`].
    #[must_use]
    pub fn containment(mut self, containment: Containment) -> Self {
        self.settings.containment = Some(containment);
        self
    }

    /// Sets the child's umask (starting it with fork+exec).
    #[must_use]
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }

    /// Runs the child as user `uid` (`setuid`; needs privilege). Starts it
    /// with fork+exec.
    #[must_use]
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (`setgid`; needs privilege). Starts it
    /// with fork+exec.
    #[must_use]
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Sets the child's supplementary groups (`setgroups`; needs
    /// privilege). Starts it with fork+exec.
    #[must_use]
    pub fn groups(mut self, groups: impl Into<Vec<u32>>) -> Self {
        self.groups = Some(groups.into());
        self
    }

    /// Sets a resource limit of the child (`setrlimit(resource, soft,
    /// hard)`, `resource` one of `libc::RLIMIT_*`). Starts it with fork+exec.
    ///
    /// # Examples
    ///
    /// ```
    /// let out = spawn::Command::shell("ulimit -n").rlimit(libc::RLIMIT_NOFILE as i32, 64, 64)
    ///     .check_output_string()?;
    /// assert_eq!(out, "64\n");
    /// # Ok::<(), spawn::Error>(())
    /// ```
    #[must_use]
    pub fn rlimit(mut self, resource: i32, soft: u64, hard: u64) -> Self {
        self.rlimits.push((resource, soft, hard));
        self
    }

    /// The options that need the fork+exec path, as spawn-sys takes them;
    /// [`ForkOptions::fork_reason`](spawn_sys::spawn::ForkOptions::fork_reason)
    /// names the first one set.
    pub(crate) fn fork_options(&self) -> spawn_sys::spawn::ForkOptions {
        spawn_sys::spawn::ForkOptions {
            umask: self.umask,
            uid: self.uid,
            gid: self.gid,
            groups: self.groups.clone(),
            rlimits: self.rlimits.clone(),
            parent_death_signal: self.parent_death_signal.map(Signal::as_raw),
            ..Default::default()
        }
    }
}
