//! `/proc/<pid>/stat`: the one reader of the process table, for the group
//! probe ([`probe_group`](crate::probe_group)), the walk of a child's
//! descendants ([`ProcTable`](crate::tree::ProcTable)) and whether the
//! caller has a controlling terminal.
//!
//! A scan reuses two buffers (one for the directory, one for a `stat`
//! line) and allocates nothing per process; it costs one `openat` and one
//! `read` per process of the system.

#[cfg(any(target_os = "linux", target_os = "android"))]
use std::mem::MaybeUninit;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsFd;
use std::os::fd::OwnedFd;

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::fs::RawDir;
use rustix::fs::{Mode, OFlags};

use crate::Errno;

/// The fields of a `stat` line that spawn reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Field 1.
    pub pid: i32,
    /// Field 3: `R`, `S`, `D`, `T`, `Z` (zombie), `X` (dead)...
    pub state: u8,
    /// Field 4.
    pub ppid: i32,
    /// Field 5.
    pub pgrp: i32,
    /// Field 7: the controlling terminal's device number, 0 for none.
    pub tty_nr: i64,
    /// Field 20 (1 when the line was cut before it).
    pub threads: i64,
    /// Field 22: when the process started, in clock ticks after boot (0
    /// when the line was cut before it). With the pid, it names one
    /// process: a reused pid has a later start.
    pub start_time: u64,
}

impl Stat {
    /// Whether nothing of the process can run again: a zombie (or dead)
    /// whose threads are all gone. A zombie main thread whose other
    /// threads still run is alive.
    #[must_use]
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X') && self.threads <= 1
    }
}

/// Calls `f` with the `stat` of every process of the system, until it
/// returns `true` (then `Ok(true)`); `Ok(false)` when every process was
/// seen. A process that exits during the scan is skipped.
///
/// # Errors
/// `/proc` cannot be opened or read.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn scan(mut f: impl FnMut(&Stat) -> bool) -> rustix::io::Result<bool> {
    let proc_dir = open_proc()?;
    let mut dir_buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut stat_buf = [0u8; 1024];
    let mut dir = RawDir::new(proc_dir.as_fd(), &mut dir_buf);
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let Some(pid) = parse_pid(entry.file_name().to_bytes()) else {
            continue; // not a process: "self", "sys", "meminfo"...
        };
        let Some(line) = read_stat(&proc_dir, pid, &mut stat_buf) else {
            continue; // exited and reaped since the directory was read
        };
        if let Some(stat) = parse_stat(pid, line)
            && f(&stat)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where there is no Linux `/proc`: `ENOSYS`, and every caller's
/// "cannot tell" (a group probe answers `Unknown`, a walk of descendants
/// finds none).
///
/// # Errors
/// Always `ENOSYS`.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn scan(_f: impl FnMut(&Stat) -> bool) -> rustix::io::Result<bool> {
    Err(Errno::NOSYS)
}

/// The `stat` of one process, `None` if it is gone (or `/proc` cannot be
/// read; always where there is no Linux `/proc`).
#[must_use]
pub fn stat_of(pid: i32) -> Option<Stat> {
    if cfg!(not(any(target_os = "linux", target_os = "android"))) {
        return None;
    }
    let proc_dir = open_proc().ok()?;
    let mut buf = [0u8; 1024];
    let line = read_stat(&proc_dir, pid, &mut buf)?;
    parse_stat(pid, line)
}

/// Whether the calling process has a controlling terminal (`tty_nr` of
/// `/proc/self/stat`). `false` when `/proc` cannot be read.
///
/// # References
/// - [Linux `/proc/pid/stat`](https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html)
#[cfg(any(target_os = "linux", target_os = "android"))]
#[must_use]
pub fn has_controlling_terminal() -> bool {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    stat_of(me).is_some_and(|s| s.tty_nr != 0)
}

/// Whether the calling process has a controlling terminal: `/dev/tty`
/// opens (macOS, the BSDs, where there is no Linux `/proc`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[must_use]
pub fn has_controlling_terminal() -> bool {
    rustix::fs::open(
        c"/dev/tty",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .is_ok()
}

fn open_proc() -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(
        c"/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// A directory name of `/proc` that is a pid.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
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

/// The fields of a `stat` line, counted after the last `)` (so a command
/// name with spaces or parentheses cannot shift them).
fn parse_stat(pid: i32, line: &[u8]) -> Option<Stat> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let mut fields = line[close + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = i32::try_from(number(fields.next()?)?).ok()?;
    let pgrp = i32::try_from(number(fields.next()?)?).ok()?;
    let _session = fields.next();
    let tty_nr = fields.next().and_then(number).unwrap_or(0);
    // Fields 8 to 19, then 20; 21, then 22.
    let threads = fields.nth(12).and_then(number).unwrap_or(1);
    let start_time = fields
        .nth(1)
        .and_then(number)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    Some(Stat {
        pid,
        state,
        ppid,
        pgrp,
        tty_nr,
        threads,
        start_time,
    })
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
        let line =
            b"1234 (a) b) (c) S 1 777 777 34817 -1 4194560 100 0 0 0 0 0 0 0 20 0 3 0 5123 0";
        let s = parse_stat(1234, line).unwrap();
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.tty_nr, s.threads, s.start_time),
            (b'S', 1, 777, 34817, 3, 5123)
        );
        let zombie = b"42 (sh) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0\n";
        let z = parse_stat(42, zombie).unwrap();
        assert!(z.is_dead());
        assert_eq!((z.pgrp, z.start_time), (42, 5));
        // Cut before field 20: one thread assumed.
        let cut = parse_stat(42, b"42 (sh) R 1 42").unwrap();
        assert_eq!((cut.threads, cut.start_time, cut.tty_nr), (1, 0, 0));
        assert_eq!(parse_stat(42, b"42 (sh) R 1"), None);
        assert_eq!(parse_stat(42, b"no paren"), None);
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
    fn our_own_stat_is_read_and_found_by_a_scan() {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let s = stat_of(me).unwrap();
        assert_eq!(s.pgrp, crate::own_process_group().as_raw_nonzero().get());
        assert_eq!(
            s.ppid,
            rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get())
        );
        assert!(matches!(s.state, b'R' | b'S'), "{}", s.state as char);
        assert!(s.threads >= 1 && s.start_time > 0);
        assert!(scan(|p| p.pid == me && p.start_time == s.start_time).unwrap());
    }
}
