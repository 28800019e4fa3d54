//! Small fd utilities: `/dev/null`, close-on-exec duplicates and flags, the
//! count of open fds (for leak checks) and `RLIMIT_NOFILE` (for tests of fd
//! exhaustion).

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::io::FdFlags;
use rustix::process::{Resource, Rlimit};

/// `open("/dev/null", O_CLOEXEC | (O_RDWR or O_RDONLY))`—The null device,
/// writable too when `write`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man4/null.4.html)
pub fn dev_null(write: bool) -> io::Result<OwnedFd> {
    let mode = if write { OFlags::RDWR } else { OFlags::RDONLY };
    Ok(rustix::fs::open(
        "/dev/null",
        mode | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `fcntl(F_DUPFD_CLOEXEC, 3)`—A close-on-exec duplicate of `fd`, numbered
/// 3 or more (so it never takes the place of a closed stdin, stdout or
/// stderr).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn dup_cloexec(fd: impl AsFd) -> io::Result<OwnedFd> {
    dup_cloexec_from(fd, 3)
}

/// `fcntl(F_DUPFD_CLOEXEC, min)`—A close-on-exec duplicate of `fd`,
/// numbered `min` or more.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn dup_cloexec_from(fd: impl AsFd, min: i32) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, min)?)
}

/// `fcntl(F_GETFD)`—Whether `fd` is close-on-exec.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn is_cloexec(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::io::fcntl_getfd(fd)?.contains(FdFlags::CLOEXEC))
}

/// `fcntl(F_SETFD)`—Turns close-on-exec on or off (off: the fd would reach
/// every child of a careless spawner, the situation spawn's `closefrom` in
/// the child guards against).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_cloexec(fd: impl AsFd, on: bool) -> io::Result<()> {
    let fd = fd.as_fd();
    let mut flags = rustix::io::fcntl_getfd(fd)?;
    flags.set(FdFlags::CLOEXEC, on);
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
}

/// How many fds this process has open: the entries of `/proc/self/fd`,
/// minus the one used to read it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html)
pub fn open_fd_count() -> io::Result<usize> {
    let mut n: usize = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        entry?;
        n += 1;
    }
    Ok(n.saturating_sub(1))
}

/// `getrlimit(RLIMIT_NOFILE)`—(soft, hard); `u64::MAX` for unlimited.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let r = rustix::process::getrlimit(Resource::Nofile);
    Ok((r.current.unwrap_or(u64::MAX), r.maximum.unwrap_or(u64::MAX)))
}

/// `setrlimit(RLIMIT_NOFILE)`—Sets the soft limit, keeping the hard one;
/// returns the old soft limit.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
pub fn set_nofile_limit(soft: u64) -> io::Result<u64> {
    let old = rustix::process::getrlimit(Resource::Nofile);
    let new = Rlimit {
        current: (soft != u64::MAX).then_some(soft),
        maximum: old.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, new)?;
    Ok(old.current.unwrap_or(u64::MAX))
}
