//! A child's descendants, as `/proc` shows them: for the teardown of a
//! child that stays in the caller's process group (so that the terminal's
//! Ctrl-C still reaches it), where no group can be signalled.
//!
//! A pid alone does not name a process for long: once it is reaped, the
//! number may be given to another. So a descendant is its pid *and* its
//! start time (field 22 of `stat`), and [`open_checked`] opens a pidfd for
//! it only after checking, with the pidfd already pinning the pid, that
//! the process behind the number is still the one found.
//!
//! # Limits
//! A process is a descendant while its parent chain leads to the root: one
//! whose parent exited before the walk was reparented (to init or a
//! subreaper) and is not found (a double-forked daemon). `/proc` mounted
//! with `hidepid` hides other users' processes.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use crate::Pid;
use crate::procfs::{self, Stat};

/// One process found below a root: its pid and its start time, which
/// together name it (a reused pid starts later).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Descendant {
    /// Its pid when it was found.
    pub pid: Pid,
    /// `stat` field 22, in clock ticks after boot.
    pub start_time: u64,
}

/// The process table as one scan of `/proc` showed it, by parent: one scan
/// answers the walks of many trees (a teardown of many children).
#[derive(Debug, Default)]
pub struct ProcTable {
    by_parent: HashMap<i32, Vec<Stat>>,
}

impl ProcTable {
    /// Scans `/proc` once.
    ///
    /// # Errors
    /// `/proc` cannot be read.
    pub fn scan() -> rustix::io::Result<ProcTable> {
        let mut by_parent: HashMap<i32, Vec<Stat>> = HashMap::new();
        procfs::scan(|p| {
            if p.ppid > 0 {
                by_parent.entry(p.ppid).or_default().push(*p);
            }
            false
        })?;
        Ok(ProcTable { by_parent })
    }

    /// The live (not zombie) descendants of `roots` (their children, the
    /// children of those, ...) in this table, parents before their
    /// children. The roots themselves are not in it.
    #[must_use]
    pub fn descendants(&self, roots: &[Pid]) -> Vec<Descendant> {
        let mut found = Vec::new();
        let mut frontier: Vec<i32> = roots.iter().map(|r| r.as_raw_nonzero().get()).collect();
        // A pid is visited once, so a cycle (impossible, but the table is
        // read while it changes) cannot loop.
        let mut seen: std::collections::HashSet<i32> = frontier.iter().copied().collect();
        while let Some(parent) = frontier.pop() {
            for child in self.by_parent.get(&parent).map_or(&[][..], Vec::as_slice) {
                if !seen.insert(child.pid) {
                    continue;
                }
                frontier.push(child.pid);
                if !child.is_dead()
                    && let Some(pid) = Pid::from_raw(child.pid)
                {
                    found.push(Descendant {
                        pid,
                        start_time: child.start_time,
                    });
                }
            }
        }
        found
    }
}

/// `pidfd_open`—A pidfd for `d`, if the process behind its pid is still
/// `d` (same start time) and alive once the pidfd pins it; `None` if it is
/// gone, was replaced, or pidfds are not supported.
#[must_use]
pub fn open_checked(d: Descendant) -> Option<OwnedFd> {
    let fd = crate::pidfd::pidfd_open(d.pid).ok()?;
    let now = procfs::stat_of(d.pid.as_raw_nonzero().get())?;
    (now.start_time == d.start_time && !now.is_dead()).then_some(fd)
}

/// Whether `d` is still that process and alive, by its pid: for systems
/// without pidfds (a check, then a signal by pid, has a window in which
/// the pid may be reused; with pidfds, [`open_checked`] has none).
#[must_use]
pub fn still_alive(d: Descendant) -> bool {
    procfs::stat_of(d.pid.as_raw_nonzero().get())
        .is_some_and(|now| now.start_time == d.start_time && !now.is_dead())
}
