//! cgroup v2 for containment: the caller's own cgroup, a fresh child cgroup
//! to start children in ([`crate::SpawnOptions::cgroup`]), and ending
//! everything in it, including processes that left the process group
//! (`setsid`, double forks).
//!
//! Everything here is files of the cgroup2 filesystem, opened relative to
//! the cgroup's directory fd: `cgroup.procs` (its processes),
//! `cgroup.kill` (Linux 5.14+: `SIGKILL` to every process in it, atomically
//! against forks), `cgroup.events` (`populated 0|1`, pollable for
//! `POLLPRI`). Errors are [`io::Error`]s whose message names the file or
//! directory and says why.
//!
//! # What works where
//! - The cgroup2 hierarchy is found from `/proc/self/mountinfo` (fstype
//!   `cgroup2`), not assumed at `/sys/fs/cgroup`: a hybrid layout (systemd's,
//!   and this project's CI machine) mounts it at `/sys/fs/cgroup/unified`
//!   beside the v1 controllers. A v1-only system has none:
//!   [`own_cgroup`] is then `NotFound`.
//! - Creating a child cgroup is a `mkdir` in the parent cgroup's directory:
//!   it needs write access there (root, or a user to whom systemd delegated
//!   the subtree); otherwise `PermissionDenied`.
//! - cgroup v2's "no internal processes" rule forbids enabling controllers
//!   in a cgroup that has processes of its own, and the caller's cgroup
//!   usually has some (the caller). It does not forbid plain child cgroups
//!   without controllers, which is all containment needs: `cgroup.procs`,
//!   `cgroup.kill` and `cgroup.events` exist in every non-root cgroup.
//!   Checked on the CI machine (Linux 6.18, root, cgroup2 root at
//!   `/sys/fs/cgroup/unified`, the caller in `/`): a child cgroup is
//!   created, takes processes (by `clone3(CLONE_INTO_CGROUP)` and by a
//!   `cgroup.procs` write), and has `cgroup.kill` and `cgroup.events`.
//! - The root cgroup has neither `cgroup.kill` nor `cgroup.events`: never
//!   use [`Cgroup`] on it.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};

use crate::{Errno, Pid};

/// `CGROUP2_SUPER_MAGIC`: `statfs`'s `f_type` on a cgroup2 filesystem.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The caller's cgroup v2 directory: the `0::/path` line of
/// `/proc/self/cgroup` joined onto the cgroup2 mount point found in
/// `/proc/self/mountinfo`.
///
/// When the mount's root is not the hierarchy's root (a bind mount of a
/// subtree), the path is taken relative to it.
///
/// # Errors
/// `NotFound` with a message when `/proc/self/cgroup` has no `0::` line
/// (no cgroup v2 hierarchy, a v1-only system), when no cgroup2 filesystem
/// is mounted where this process can see it, or when the directory does
/// not exist; the error of reading either `/proc` file otherwise.
///
/// # References
/// - [Linux `cgroups(7)`](https://man7.org/linux/man-pages/man7/cgroups.7.html)
/// - [Linux `/proc/pid/mountinfo`](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn own_cgroup() -> io::Result<PathBuf> {
    let cgroup = read_text(Path::new("/proc/self/cgroup"))?;
    let Some(path) = unified_path(&cgroup) else {
        return Err(not_found(
            "no cgroup v2 hierarchy: /proc/self/cgroup has no `0::` line".into(),
        ));
    };
    let mountinfo = read_text(Path::new("/proc/self/mountinfo"))?;
    let mounts = cgroup2_mounts(&mountinfo);
    if mounts.is_empty() {
        return Err(not_found(
            "cgroup2 is not mounted: /proc/self/mountinfo has no cgroup2 filesystem".into(),
        ));
    }
    let found = mounts.iter().find_map(|(root, point)| {
        let rel = strip_root(path, root)?;
        Some(if rel.is_empty() {
            point.clone()
        } else {
            point.join(rel)
        })
    });
    let Some(dir) = found else {
        return Err(not_found(format!(
            "our cgroup {path} is under none of the cgroup2 mounts {:?}",
            mounts.iter().map(|(_, p)| p).collect::<Vec<_>>()
        )));
    };
    if !dir.is_dir() {
        return Err(not_found(format!(
            "our cgroup directory {} does not exist",
            dir.display()
        )));
    }
    Ok(dir)
}

fn not_found(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, msg)
}

/// An error with `what` in front of its message, same kind.
fn context(what: impl std::fmt::Display, e: impl Into<io::Error>) -> io::Error {
    let e = e.into();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn read_text(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path).map_err(|e| context(format_args!("{}", path.display()), e))
}

/// The path of the `0::` line (cgroup v2) of a `/proc/<pid>/cgroup`.
fn unified_path(contents: &str) -> Option<&str> {
    contents
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim_end)
        .filter(|p| p.starts_with('/'))
}

/// `path` relative to a mount's `root` (`/` for the whole hierarchy), or
/// `None` if it is not under it.
fn strip_root<'p>(path: &'p str, root: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(root.trim_end_matches('/'))?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None; // "/ab" is not under "/a"
    }
    Some(rest.trim_start_matches('/'))
}

/// (root, mount point) of every cgroup2 filesystem in a `mountinfo`.
fn cgroup2_mounts(mountinfo: &str) -> Vec<(String, PathBuf)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            if right.split(' ').next()? != "cgroup2" {
                return None;
            }
            let mut fields = left.split(' ');
            let root = fields.nth(3)?;
            let point = fields.next()?;
            Some((
                String::from_utf8_lossy(&unescape(root)).into_owned(),
                PathBuf::from(OsStr::from_bytes(&unescape(point))),
            ))
        })
        .collect()
}

/// A `mountinfo` field with its octal escapes (`\040` for a space) decoded.
fn unescape(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = b.get(i + 1..i + 4)
            && oct.iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let v = oct.iter().fold(0u32, |n, d| n * 8 + u32::from(d - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `InvalidInput` unless `dir` is on a cgroup2 filesystem (`statfs`).
fn check_cgroup2(dir: &Path) -> io::Result<()> {
    let fs = rustix::fs::statfs(dir).map_err(|e| context(format_args!("{}", dir.display()), e))?;
    #[allow(clippy::unnecessary_cast)] // `f_type`'s type differs by target
    let f_type = fs.f_type as i64;
    if f_type != CGROUP2_SUPER_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a cgroup v2 directory", dir.display()),
        ));
    }
    Ok(())
}

/// A cgroup v2 directory and an fd open on it (the fd that
/// [`crate::SpawnOptions::cgroup`] takes). Removed only by
/// [`Cgroup::remove`], never on drop.
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
    fd: OwnedFd,
}

impl Cgroup {
    /// `mkdir(parent/name, 0755)` + `open(O_DIRECTORY | O_CLOEXEC)`—A new
    /// child cgroup of `parent` (e.g. [`own_cgroup`]), without controllers.
    ///
    /// # Errors
    /// `InvalidInput` when `name` is not one plain path component or
    /// `parent` is not on a cgroup2 filesystem; `AlreadyExists` when the
    /// cgroup does; `PermissionDenied` without write access to `parent`
    /// (creating a cgroup needs it); each message names the directory.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html)
    pub fn create_under(parent: &Path, name: &str) -> io::Result<Cgroup> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad cgroup name {name:?}: must be one path component"),
            ));
        }
        check_cgroup2(parent)?;
        let dir = parent.join(name);
        rustix::fs::mkdir(&dir, Mode::from_raw_mode(0o755)).map_err(|e| {
            let why = if matches!(e, Errno::ACCESS | Errno::PERM | Errno::ROFS) {
                format!(
                    " (creating a cgroup needs write access to {})",
                    parent.display()
                )
            } else {
                String::new()
            };
            context(
                format_args!("cannot create the cgroup {}{why}", dir.display()),
                e,
            )
        })?;
        match rustix::fs::open(
            &dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Cgroup { dir, fd }),
            Err(e) => {
                let _ = rustix::fs::rmdir(&dir);
                Err(context(
                    format_args!("cannot open the cgroup {}", dir.display()),
                    e,
                ))
            }
        }
    }

    /// `open(dir, O_DIRECTORY | O_CLOEXEC)`—An existing cgroup, e.g. one
    /// whose [`Cgroup::remove`] failed with `EBUSY` (which consumed the
    /// handle) and that must be emptied and removed again.
    ///
    /// # Errors
    /// `InvalidInput` when `dir` is not on a cgroup2 filesystem; the error
    /// of opening it, its message naming it.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html)
    pub fn open(dir: &Path) -> io::Result<Cgroup> {
        check_cgroup2(dir)?;
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| context(format_args!("cannot open the cgroup {}", dir.display()), e))?;
        Ok(Cgroup {
            dir: dir.to_owned(),
            fd,
        })
    }

    /// The fd open on the cgroup's directory (for
    /// [`crate::SpawnOptions::cgroup`]).
    #[must_use]
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The cgroup's directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn open_file(&self, name: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let c = CString::new(name).map_err(io::Error::other)?;
        rustix::fs::openat(&self.fd, &c, flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| context(format_args!("{}", self.dir.join(name).display()), e))
    }

    fn read_file(&self, name: &str) -> io::Result<String> {
        let fd = self.open_file(name, OFlags::RDONLY)?;
        let mut s = String::new();
        io::Read::read_to_string(&mut std::fs::File::from(fd), &mut s)
            .map_err(|e| context(format_args!("{}", self.dir.join(name).display()), e))?;
        Ok(s)
    }

    /// `read(cgroup.procs)`—The processes in the cgroup now (not those of
    /// its child cgroups). A snapshot: members can fork or exit meanwhile.
    ///
    /// # Errors
    /// The error of opening or reading the file; `InvalidData` for a line
    /// that is not a pid.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
    pub fn procs(&self) -> io::Result<Vec<Pid>> {
        self.read_file("cgroup.procs")?
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.trim()
                    .parse::<i32>()
                    .ok()
                    .and_then(Pid::from_raw)
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{}/cgroup.procs: not a pid: {l:?}", self.dir.display()),
                        )
                    })
            })
            .collect()
    }

    /// The cgroup's descendants (child cgroups, theirs, and so on), each
    /// after all of its own descendants: the order to remove them in. A
    /// snapshot: a member may make or remove cgroups meanwhile; one removed
    /// while this walks is left out.
    ///
    /// # Errors
    /// The error of listing or opening a directory, other than its removal
    /// meanwhile (`ENOENT`).
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#basic-operations)
    pub fn descendants(&self) -> io::Result<Vec<Cgroup>> {
        // Each is listed when taken off the stack, before anything below
        // it is pushed: reversed, each comes after its descendants.
        let mut found = Vec::new();
        let mut stack = self.children()?;
        while let Some(cg) = stack.pop() {
            stack.extend(cg.children()?);
            found.push(cg);
        }
        found.reverse();
        Ok(found)
    }

    /// The cgroup's child cgroups (its subdirectories), opened.
    fn children(&self) -> io::Result<Vec<Cgroup>> {
        let listing_failed = |e| context(format_args!("{}", self.dir.display()), e);
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(listing_failed(e)),
        };
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry.map_err(listing_failed)?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name();
            let dir = self.dir.join(&name);
            match rustix::fs::openat(
                &self.fd,
                name.as_os_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => children.push(Cgroup { dir, fd }),
                Err(Errno::NOENT) => {} // removed meanwhile
                Err(e) => {
                    return Err(context(
                        format_args!("cannot open the cgroup {}", dir.display()),
                        e,
                    ));
                }
            }
        }
        Ok(children)
    }

    /// Sends `sig` to every process in the cgroup and in its descendants;
    /// one that exited meanwhile is skipped.
    ///
    /// Each member found in `cgroup.procs` is signalled through a pidfd
    /// opened on its pid and only if `cgroup.procs`, read again after the
    /// pidfds were opened, still lists it: a pid freed and reused by a
    /// process outside the cgroup between the first read and the signal is
    /// never signalled. (Without pidfds, before Linux 5.3 or with
    /// `SPAWN_NO_PIDFD=1`, members are signalled by pid, with that gap.)
    ///
    /// Not atomic: a member that forks while this runs can leave a child
    /// that got nothing ([`Cgroup::kill`] has no such gap on 5.14+).
    ///
    /// # Errors
    /// [`Cgroup::procs`]'s or [`Cgroup::descendants`]' (the first error;
    /// the other members are still signalled), or the signal's other than
    /// `ESRCH` (`EPERM`: a member we may not signal).
    ///
    /// # References
    /// - [Linux `pidfd_open`](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
    /// - [Linux `pidfd_send_signal`](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn signal_all(&self, sig: i32) -> io::Result<()> {
        let mut first_err = self.signal_members(sig).err();
        match self.descendants() {
            Ok(subtree) => {
                for cg in subtree {
                    if let Err(e) = cg.signal_members(sig) {
                        first_err.get_or_insert(e);
                    }
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `sig` to the members of this cgroup alone (not its descendants).
    fn signal_members(&self, sig: i32) -> io::Result<()> {
        let pids = self.procs()?;
        if pids.is_empty() {
            return Ok(());
        }
        let failed = |pid: Pid, e: Errno| {
            context(
                format_args!(
                    "signal {sig} to {} in {}",
                    pid.as_raw_nonzero(),
                    self.dir.display()
                ),
                e,
            )
        };
        let mut first_err = None;
        if !crate::pidfd::pidfd_supported() {
            for pid in pids {
                match crate::signal::signal_process(pid, sig) {
                    Ok(()) | Err(Errno::SRCH) => {}
                    Err(e) => {
                        first_err.get_or_insert(failed(pid, e));
                    }
                }
            }
            return first_err.map_or(Ok(()), Err);
        }
        let mut opened = Vec::with_capacity(pids.len());
        for pid in pids {
            match crate::pidfd::pidfd_open(pid) {
                Ok(fd) => opened.push((pid, fd)),
                Err(Errno::SRCH) => {}
                Err(e) => {
                    first_err.get_or_insert(failed(pid, e));
                }
            }
        }
        // Each pidfd names the process that had the pid when it was opened;
        // listed now, that process is a member (a pid is not reused while
        // its process lives).
        let mut members = self.procs()?;
        members.sort_unstable_by_key(|p| p.as_raw_nonzero());
        for (pid, fd) in opened {
            if members
                .binary_search_by_key(&pid.as_raw_nonzero(), |p| p.as_raw_nonzero())
                .is_err()
            {
                continue;
            }
            match crate::pidfd::pidfd_send_signal(&fd, sig) {
                Ok(()) | Err(Errno::SRCH) => {}
                Err(e) => {
                    first_err.get_or_insert(failed(pid, e));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `write(cgroup.kill, "1")`—`SIGKILL` to every process in the cgroup
    /// and its child cgroups, atomically against forks (Linux 5.14+).
    /// Where `cgroup.kill` does not exist (older kernels), falls back to
    /// [`Cgroup::signal_all`] with `SIGKILL`, which a fast forker can
    /// escape: call again until [`Cgroup::populated`] is false.
    ///
    /// It does not wait: the processes are gone when `cgroup.events` says
    /// `populated 0` ([`Cgroup::wait_unpopulated`]).
    ///
    /// # Errors
    /// The error of opening or writing the file, or of the fallback.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
    pub fn kill(&self) -> io::Result<()> {
        let fd = match self.open_file("cgroup.kill", OFlags::WRONLY) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return self.signal_all(libc::SIGKILL);
            }
            Err(e) => return Err(e),
        };
        rustix::io::write(&fd, b"1")
            .map(drop)
            .map_err(|e| context(format_args!("{}/cgroup.kill", self.dir.display()), e))
    }

    /// `read(cgroup.events)`—Whether the cgroup (or a child cgroup of it)
    /// has a live process. Zombies do not count: a member that exited but
    /// is not reaped has left.
    ///
    /// # Errors
    /// The error of opening or reading the file; `InvalidData` if it has
    /// no `populated` line.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
    pub fn populated(&self) -> io::Result<bool> {
        read_populated(&self.events_fd()?)
    }

    /// `open(cgroup.events, O_RDONLY | O_CLOEXEC)`—An fd that `poll`
    /// reports with `POLLPRI` (and `POLLERR`; `EPOLLPRI` in epoll) each
    /// time the file changes, e.g. when the cgroup becomes empty.
    ///
    /// A change since the fd was opened or last read is reported at once,
    /// so no change is missed between a read and a poll; read it with
    /// [`read_populated`] (which also re-arms it) after each report, or the
    /// next poll returns at once.
    ///
    /// # Errors
    /// The error of opening the file.
    ///
    /// # References
    /// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
    pub fn events_fd(&self) -> io::Result<OwnedFd> {
        self.open_file("cgroup.events", OFlags::RDONLY)
    }

    /// `poll(cgroup.events, POLLPRI)` until `populated 0`—Waits until no
    /// process is left in the cgroup, at most `timeout`; `Ok(true)` when it
    /// is empty, `Ok(false)` on timeout.
    ///
    /// # Errors
    /// [`Cgroup::events_fd`]'s, [`read_populated`]'s, or `poll`'s.
    ///
    /// # References
    /// - [Linux `poll`](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn wait_unpopulated(&self, timeout: Duration) -> io::Result<bool> {
        let events = self.events_fd()?;
        let deadline = Instant::now() + timeout;
        loop {
            if !read_populated(&events)? {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut fds = [PollFd::new(&events, PollFlags::PRI)];
            crate::poll::poll(&mut fds, Some(left)).map_err(|e| {
                context(format_args!("poll {}/cgroup.events", self.dir.display()), e)
            })?;
        }
    }

    /// `rmdir`—Removes the cgroup, and first its descendants, deepest
    /// first (cgroups a member made inside it).
    ///
    /// # Errors
    /// `EBUSY` (`ResourceBusy`) while a process is in it or in a
    /// descendant: end them first ([`Cgroup::kill`],
    /// [`Cgroup::wait_unpopulated`]); the message names the directory. A
    /// descendant that cannot be removed leaves it busy.
    ///
    /// # References
    /// - [Linux `rmdir`](https://man7.org/linux/man-pages/man2/rmdir.2.html)
    pub fn remove(self) -> io::Result<()> {
        // Each is tried: what can go, goes (one removed meanwhile is gone).
        for cg in self.descendants().unwrap_or_default() {
            let _ = cg.remove_one();
        }
        self.remove_one()
    }

    /// `rmdir` of this cgroup alone.
    fn remove_one(self) -> io::Result<()> {
        let Cgroup { dir, fd } = self;
        drop(fd);
        rustix::fs::rmdir(&dir).map_err(|e| {
            let why = if e == Errno::BUSY {
                " (it still has processes or child cgroups)"
            } else {
                ""
            };
            context(
                format_args!("cannot remove the cgroup {}{why}", dir.display()),
                e,
            )
        })
    }
}

/// `pread(events, 0)`—Whether a `cgroup.events` fd (from
/// [`Cgroup::events_fd`]) says `populated 1`; reading re-arms its
/// `POLLPRI`.
///
/// # Errors
/// The error of reading; `InvalidData` if there is no `populated` line.
///
/// # References
/// - [Linux cgroup v2](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
pub fn read_populated(events: impl AsFd) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    let n = loop {
        match rustix::io::pread(&events, &mut buf, 0) {
            Ok(n) => break n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(context("read cgroup.events", e)),
        }
    };
    parse_populated(&buf[..n]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "cgroup.events has no `populated 0|1` line",
        )
    })
}

/// The `populated` line of `cgroup.events`.
fn parse_populated(events: &[u8]) -> Option<bool> {
    events
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"populated "))
        .and_then(|v| match v.trim_ascii() {
            b"0" => Some(false),
            b"1" => Some(true),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unified_line_is_found_among_v1_lines() {
        let hybrid = "9:name=systemd:/\n4:memory:/x/y\n0::/a/b\n";
        assert_eq!(unified_path(hybrid), Some("/a/b"));
        assert_eq!(unified_path("0::/\n"), Some("/"));
        assert_eq!(unified_path("4:memory:/x\n"), None);
        assert_eq!(unified_path(""), None);
    }

    #[test]
    fn cgroup2_mounts_are_found_with_escapes_and_roots() {
        let mi = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:38 /sub /mnt/my\\040cg rw shared:5 - cgroup2 cgroup2 rw,nsdelegate
";
        let m = cgroup2_mounts(mi);
        assert_eq!(
            m,
            [
                ("/".to_owned(), PathBuf::from("/sys/fs/cgroup/unified")),
                ("/sub".to_owned(), PathBuf::from("/mnt/my cg")),
            ]
        );
        assert!(cgroup2_mounts("31 23 0:28 / /x rw - tmpfs tmpfs rw").is_empty());
    }

    #[test]
    fn paths_are_taken_relative_to_the_mount_root() {
        assert_eq!(strip_root("/", "/"), Some(""));
        assert_eq!(strip_root("/a/b", "/"), Some("a/b"));
        assert_eq!(strip_root("/sub/x", "/sub"), Some("x"));
        assert_eq!(strip_root("/sub", "/sub"), Some(""));
        assert_eq!(strip_root("/subway", "/sub"), None);
        assert_eq!(strip_root("/other", "/sub"), None);
    }

    #[test]
    fn populated_lines_parse() {
        assert_eq!(parse_populated(b"populated 1\nfrozen 0\n"), Some(true));
        assert_eq!(parse_populated(b"populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(parse_populated(b"frozen 0\n"), None);
        assert_eq!(parse_populated(b"populated x\n"), None);
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(unescape(r"a\040b\134c"), b"a b\\c");
        assert_eq!(unescape(r"trail\04"), b"trail\\04");
    }
}
