//! Small fd utilities: `/dev/null`, close-on-exec duplicates, the count of
//! open fds (for leak checks) and `RLIMIT_NOFILE`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::io::FdFlags;
use rustix::process::{Resource, Rlimit};

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// `open("/dev/null", O_CLOEXEC | O_RDWR or O_RDONLY)`.
pub fn dev_null(write: bool) -> io::Result<OwnedFd> {
    let mode = if write { OFlags::RDWR } else { OFlags::RDONLY };
    rustix::fs::open("/dev/null", mode | OFlags::CLOEXEC, Mode::empty()).map_err(io_err)
}

/// `fcntl(F_DUPFD_CLOEXEC, min)`—A close-on-exec duplicate numbered at
/// least `min`.
pub fn dup_cloexec(fd: impl AsFd, min: i32) -> io::Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, min).map_err(io_err)
}

/// Whether `fd` is close-on-exec.
pub fn is_cloexec(fd: impl AsFd) -> io::Result<bool> {
    Ok(rustix::io::fcntl_getfd(fd)
        .map_err(io_err)?
        .contains(FdFlags::CLOEXEC))
}

/// Turns close-on-exec on or off (off: the fd will reach every child, the
/// situation `closefrom` in the child guards against).
pub fn set_cloexec(fd: impl AsFd, on: bool) -> io::Result<()> {
    let fd = fd.as_fd();
    let mut flags = rustix::io::fcntl_getfd(fd).map_err(io_err)?;
    flags.set(FdFlags::CLOEXEC, on);
    rustix::io::fcntl_setfd(fd, flags).map_err(io_err)
}

/// How many fds this process has open (entries of `/proc/self/fd`, minus
/// the one used to read it).
pub fn open_fd_count() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?
        .count()
        .saturating_sub(1))
}

/// `getrlimit(RLIMIT_NOFILE)`—(soft, hard); `u64::MAX` for unlimited.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let r = rustix::process::getrlimit(Resource::Nofile);
    Ok((r.current.unwrap_or(u64::MAX), r.maximum.unwrap_or(u64::MAX)))
}

/// `setrlimit(RLIMIT_NOFILE)`—Sets the soft limit (for tests of fd
/// exhaustion); returns the old soft limit.
pub fn set_nofile_limit(soft: u64) -> io::Result<u64> {
    let old = rustix::process::getrlimit(Resource::Nofile);
    let new = Rlimit {
        current: Some(soft),
        maximum: old.maximum,
    };
    rustix::process::setrlimit(Resource::Nofile, new).map_err(io_err)?;
    Ok(old.current.unwrap_or(u64::MAX))
}
