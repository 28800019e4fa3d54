//! Pipes: `pipe2(O_CLOEXEC)`, nonblocking mode, and capacity
//! (`F_GETPIPE_SZ`/`F_SETPIPE_SZ`, clamped to `/proc/sys/fs/pipe-max-size`).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::OFlags;
use rustix::pipe::PipeFlags;

/// `pipe2(O_CLOEXEC)`—Creates a pipe; returns `(read end, write end)`.
///
/// Both ends are close-on-exec: they reach a child only through an explicit
/// fd action.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pipe.2.html)
pub fn pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
}

/// `fcntl(F_SETFL, O_NONBLOCK)`—Turns nonblocking mode on or off.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_nonblocking(fd: impl AsFd, on: bool) -> rustix::io::Result<()> {
    let fd = fd.as_fd();
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let new = if on {
        flags | OFlags::NONBLOCK
    } else {
        flags - OFlags::NONBLOCK
    };
    if new == flags {
        return Ok(());
    }
    rustix::fs::fcntl_setfl(fd, new)
}

/// `fcntl(F_SETFL, O_NONBLOCK)`—Turns nonblocking mode on for an end of a
/// pipe made by [`pipe`], in one call: such an end has no other status flag
/// to keep (`F_SETFL` leaves the access mode alone), so its flags need not
/// be read first as [`set_nonblocking`] does.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_new_pipe_nonblocking(fd: impl AsFd) -> rustix::io::Result<()> {
    rustix::fs::fcntl_setfl(fd, OFlags::NONBLOCK)
}

/// `fcntl(F_GETPIPE_SZ)`—The capacity of the pipe, in bytes.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn pipe_size(fd: impl AsFd) -> rustix::io::Result<usize> {
    rustix::pipe::fcntl_getpipe_size(fd)
}

/// `ioctl(FIONREAD)`—The bytes written into the pipe and not read yet. On
/// Linux the write end answers too (the kernel's `pipe_ioctl` serves both
/// ends), also after every reader closed its end; other systems may say 0
/// for a write end.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/ioctl_pipe.2.html)
pub fn unread(fd: impl AsFd) -> rustix::io::Result<u64> {
    rustix::io::ioctl_fionread(fd)
}

/// The system's largest pipe capacity an unprivileged process may ask for
/// (`/proc/sys/fs/pipe-max-size`, read once; 1 MiB if unreadable).
pub fn max_pipe_size() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1 << 20)
    })
}

/// `fcntl(F_SETPIPE_SZ)`—Asks for a pipe capacity of `size` bytes, clamped to
/// [`max_pipe_size`]; returns the capacity the pipe has afterwards.
///
/// When the user's pipe buffer quota is exhausted (`EPERM`), the pipe keeps
/// its capacity and that is returned: a smaller pipe costs wake-ups, not
/// correctness.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn set_pipe_size(fd: impl AsFd, size: usize) -> rustix::io::Result<usize> {
    let fd = fd.as_fd();
    let size = size.min(max_pipe_size());
    match rustix::pipe::fcntl_setpipe_size(fd, size) {
        Ok(n) => Ok(n),
        Err(rustix::io::Errno::PERM) => pipe_size(fd),
        Err(e) => Err(e),
    }
}
