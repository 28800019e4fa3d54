//! Process groups for a teardown: the caller's own group (never one to
//! signal as a child's) and whether a child's group still has a live member.
//!
//! A teardown keeps the group's leader unreaped until the group is gone:
//! its zombie pins its pid and so the pgid, which no new group can take in
//! the meantime. The price is that `kill(-pgid, 0)` then succeeds even
//! when only that zombie is left (a zombie can be "signalled"), so it
//! cannot say when the teardown is over. [`probe_group`] can: after
//! `kill(-pgid, 0)` it looks in `/proc` for a member other than the leader
//! that is not a zombie.

use crate::{Errno, Pid};

/// `getpgrp`—The process group of the calling process.
///
/// A child put in this group (`process_group` set to it, or no group of
/// its own) shares it with the caller: signalling "the child's group" then
/// signals the caller too.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/getpgrp.2.html)
#[doc(alias = "getpgrp")]
#[must_use]
pub fn own_process_group() -> Pid {
    rustix::process::getpgrp()
}

/// The process group `pid` is in now (`ESRCH`: no such process).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/getpgid.2.html)
pub fn group_of(pid: Pid) -> rustix::io::Result<Pid> {
    rustix::process::getpgid(Some(pid))
}

/// What [`probe_group`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No process of the group is left, or only zombies (the leader's among
    /// them): nothing in it can run again.
    Empty,
    /// A process of the group other than the leader is alive (running,
    /// sleeping, stopped: not a zombie).
    Live,
    /// The group has processes and `/proc` could not be read to tell
    /// whether any but the leader is alive.
    Unknown,
}

/// Whether group `pgid` has a live process other than `leader`.
///
/// First `kill(-pgid, 0)`: `ESRCH` means [`GroupState::Empty`]. Otherwise
/// (the group exists, or `pgid` is 1, which is never signalled) every
/// `/proc/<pid>/stat` is read: a process other than `leader` whose process
/// group (field 5) is `pgid` and whose state (field 3) is not `Z` (zombie)
/// or `X` (dead) makes it [`GroupState::Live`]. A zombie whose thread count
/// (field 20) is above 1 counts as live: that is a main thread that exited
/// while other threads of the process still run. Fields are counted after
/// the last `)`, so a command name with spaces or parentheses cannot shift
/// them.
///
/// `leader` is left out because a teardown keeps it unreaped on purpose
/// (see the [module docs](self)); pass the leader's pid whether or not it
/// has exited yet.
///
/// The scan ([`procfs::scan`](crate::procfs::scan)) allocates nothing per
/// process; it costs one `openat` and one `read` per process of the system.
///
/// # Limits
/// `/proc` mounted with `hidepid` hides other users' processes: a member
/// that changed its user (a set-user-ID program) is then not seen, and a
/// group of only such members reads as `Empty`.
///
/// # References
/// - [Linux `kill`](https://man7.org/linux/man-pages/man2/kill.2.html)
/// - [Linux `/proc/pid/stat`](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html)
#[must_use]
pub fn probe_group(pgid: Pid, leader: Pid) -> GroupState {
    if pgid.as_raw_nonzero().get() > 1 && crate::signal::signal_group(pgid, 0) == Err(Errno::SRCH) {
        return GroupState::Empty;
    }
    match scan_proc(pgid.as_raw_nonzero().get(), leader.as_raw_nonzero().get()) {
        Ok(true) => GroupState::Live,
        Ok(false) => GroupState::Empty,
        Err(_) => GroupState::Unknown,
    }
}

/// The process groups that have a live member other than their leader (a
/// process whose pid is not the group id), as one scan of `/proc` shows
/// them: one scan answers the probes of many groups at once (a teardown of
/// many children probes each of their groups).
#[derive(Clone, Debug, Default)]
pub struct LiveGroups {
    pgids: std::collections::HashSet<i32>,
}

impl LiveGroups {
    /// Scans `/proc` once.
    ///
    /// # Errors
    /// `/proc` cannot be read.
    pub fn scan() -> rustix::io::Result<LiveGroups> {
        let mut pgids = std::collections::HashSet::new();
        crate::procfs::scan(|p| {
            if p.pid != p.pgrp && !p.is_dead() {
                pgids.insert(p.pgrp);
            }
            false
        })?;
        Ok(LiveGroups { pgids })
    }

    /// As [`probe_group`] for a group led by its own id (`leader == pgid`,
    /// a group made for a child), answered from this scan: `kill(-pgid, 0)`
    /// first, then the scan.
    #[must_use]
    pub fn probe_led(&self, pgid: Pid) -> GroupState {
        if pgid.as_raw_nonzero().get() > 1
            && crate::signal::signal_group(pgid, 0) == Err(Errno::SRCH)
        {
            return GroupState::Empty;
        }
        if self.pgids.contains(&pgid.as_raw_nonzero().get()) {
            GroupState::Live
        } else {
            GroupState::Empty
        }
    }
}

/// Whether `/proc` shows a live process other than `leader` in `pgid`.
fn scan_proc(pgid: i32, leader: i32) -> rustix::io::Result<bool> {
    crate::procfs::scan(|p| p.pid != leader && p.pgrp == pgid && !p.is_dead())
}
