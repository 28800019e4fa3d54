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

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, RawDir};

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
/// The scan reuses two buffers (one for the directory, one for a `stat`
/// line) and allocates nothing per process; it costs one `openat` and one
/// `read` per process of the system.
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

/// Whether `/proc` shows a live process other than `leader` in `pgid`.
fn scan_proc(pgid: i32, leader: i32) -> rustix::io::Result<bool> {
    let proc_dir = rustix::fs::open(
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut dir_buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut stat_buf = [0u8; 1024];
    let mut dir = RawDir::new(proc_dir.as_fd(), &mut dir_buf);
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let Some(pid) = parse_pid(entry.file_name().to_bytes()) else {
            continue; // not a process: "self", "sys", "meminfo"...
        };
        if pid == leader {
            continue;
        }
        let Some(line) = read_stat(&proc_dir, pid, &mut stat_buf) else {
            continue; // exited and reaped since the directory was read
        };
        if let Some((state, pgrp, threads)) = parse_stat(line)
            && pgrp == pgid
            && (!matches!(state, b'Z' | b'X') || threads > 1)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A directory name of `/proc` that is a pid.
fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    name.iter().try_fold(0i32, |n, &d| {
        n.checked_mul(10)?.checked_add(i32::from(d - b'0'))
    })
}

/// Reads `/proc/<pid>/stat` into `buf`, `None` if the process is gone.
/// A line longer than `buf` is cut; the fields read come early in it
/// after the command name, which is at most 64 bytes.
fn read_stat<'b>(proc_dir: &OwnedFd, pid: i32, buf: &'b mut [u8; 1024]) -> Option<&'b [u8]> {
    // "<pid>/stat\0" in a stack buffer: no allocation per process.
    let mut name = [0u8; 24];
    let mut digits = [0u8; 10];
    let mut n = pid.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        name[i] = *d;
    }
    name[len..len + 5].copy_from_slice(b"/stat");
    let name = std::ffi::CStr::from_bytes_until_nul(&name).ok()?;
    let fd = rustix::fs::openat(
        proc_dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..got])
}

/// The state (field 3), process group (field 5) and thread count (field
/// 20) of a `stat` line, counted after the last `)`.
fn parse_stat(line: &[u8]) -> Option<(u8, i32, i64)> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let mut fields = line[close + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let _ppid = fields.next()?;
    let pgrp = number(fields.next()?)?;
    // Fields 6 to 19, then 20.
    let threads = fields.nth(14).and_then(number).map_or(1, i64::from);
    Some((state, i32::try_from(pgrp).ok()?, threads))
}

/// A decimal number, maybe negative, as `stat` prints them.
fn number(field: &[u8]) -> Option<i64> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_after_the_last_paren() {
        let line = b"1234 (a) b) (c) S 1 777 777 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 3 0 5 0";
        assert_eq!(parse_stat(line), Some((b'S', 777, 3)));
        let zombie = b"42 (sh) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0\n";
        assert_eq!(parse_stat(zombie), Some((b'Z', 42, 1)));
        // Cut before field 20: one thread assumed.
        assert_eq!(parse_stat(b"42 (sh) R 1 42"), Some((b'R', 42, 1)));
        assert_eq!(parse_stat(b"42 (sh) R 1"), None);
        assert_eq!(parse_stat(b"no paren"), None);
    }

    #[test]
    fn pids_are_all_digits() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4_194_304));
        for bad in [&b""[..], b"self", b"1a", b"-1", b"99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn our_own_stat_is_read() {
        let dir = rustix::fs::open(
            c"/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let mut buf = [0u8; 1024];
        let line = read_stat(&dir, me, &mut buf).unwrap();
        let (state, pgrp, threads) = parse_stat(line).unwrap();
        assert_eq!(pgrp, own_process_group().as_raw_nonzero().get());
        assert!(matches!(state, b'R' | b'S'), "{}", state as char);
        assert!(threads >= 1);
    }
}
