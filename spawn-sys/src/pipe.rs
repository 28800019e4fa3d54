//! Pipes: `pipe2(O_CLOEXEC)`, nonblocking mode, and capacity
//! (`F_GETPIPE_SZ`/`F_SETPIPE_SZ`, clamped to `/proc/sys/fs/pipe-max-size`).

use std::os::fd::{AsFd, OwnedFd};
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::sync::OnceLock;

use rustix::fs::OFlags;
#[cfg(not(target_vendor = "apple"))]
use rustix::pipe::PipeFlags;

/// `pipe2(O_CLOEXEC)`—Creates a pipe; returns `(read end, write end)`.
///
/// Both ends are close-on-exec: they reach a child only through an explicit
/// fd action.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pipe.2.html)
#[cfg(not(target_vendor = "apple"))]
pub fn pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
}

/// `pipe` then `FD_CLOEXEC` on both ends: macOS has no `pipe2`. A fork on
/// another thread between the two calls could copy the ends without the
/// flag (spawn's own children close every fd they are not given anyway).
///
/// # References
/// - [macOS](https://developer.apple.com/library/archive/documentation/System/Conceptual/ManPages_iPhoneOS/man2/pipe.2.html)
#[cfg(target_vendor = "apple")]
pub fn pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe()?;
    for end in [&r, &w] {
        rustix::io::fcntl_setfd(end, rustix::io::FdFlags::CLOEXEC)?;
    }
    Ok((r, w))
}

/// The capacity of a pipe where it cannot be asked or changed (macOS and
/// the BSDs: a pipe grows to 64 KiB as it fills).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const FIXED_PIPE_SIZE: usize = 64 << 10;

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
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return rustix::pipe::fcntl_getpipe_size(fd);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd.as_fd();
        Ok(FIXED_PIPE_SIZE)
    }
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
/// (`/proc/sys/fs/pipe-max-size`, read once; 1 MiB if unreadable; 64 KiB,
/// the fixed size, where pipes cannot be resized).
pub fn max_pipe_size() -> usize {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        static MAX: OnceLock<usize> = OnceLock::new();
        *MAX.get_or_init(|| {
            std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1 << 20)
        })
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    FIXED_PIPE_SIZE
}

/// `fcntl(F_SETPIPE_SZ)`—Asks for a pipe capacity of `size` bytes, clamped to
/// [`max_pipe_size`]; returns the capacity the pipe has afterwards.
///
/// When the user's pipe buffer quota is exhausted (`EPERM`), the pipe keeps
/// its capacity and that is returned: a smaller pipe costs wake-ups, not
/// correctness. Where pipes cannot be resized (macOS, the BSDs) nothing is
/// asked and their fixed size is returned.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/fcntl.2.html)
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn set_pipe_size(fd: impl AsFd, size: usize) -> rustix::io::Result<usize> {
    let fd = fd.as_fd();
    let size = size.min(max_pipe_size());
    match rustix::pipe::fcntl_setpipe_size(fd, size) {
        Ok(n) => Ok(n),
        Err(rustix::io::Errno::PERM) => pipe_size(fd),
        Err(e) => Err(e),
    }
}

/// As above, where pipes cannot be resized: their fixed size.
///
/// # Errors
/// None.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn set_pipe_size(fd: impl AsFd, size: usize) -> rustix::io::Result<usize> {
    let _ = size;
    pipe_size(fd)
}

/// Whether [`splice`] moves bytes here: Linux with its own backend (not
/// `SPAWN_BACKEND=portable`, see [`mod@crate::backend`]).
#[must_use]
pub fn splice_supported() -> bool {
    cfg!(any(target_os = "linux", target_os = "android")) && crate::backend::linux_native()
}

/// `splice(from, to, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE)`—Moves at most
/// `max` bytes from the pipe `from` into `to` without copying them through
/// user space; how many moved (0: end of file).
///
/// # Errors
/// What `splice(2)` says (`EAGAIN`: the pipe is empty or `to` is full;
/// `EINVAL`: `to` cannot take a splice). `ENOSYS` where [`splice_supported`]
/// is `false`: the caller reads and writes instead.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/splice.2.html)
pub fn splice(from: impl AsFd, to: impl AsFd, max: usize) -> rustix::io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if crate::backend::linux_native() {
        let flags = rustix::pipe::SpliceFlags::NONBLOCK | rustix::pipe::SpliceFlags::MOVE;
        return rustix::pipe::splice(from, None, to, None, max, flags);
    }
    let _ = (from.as_fd(), to.as_fd(), max);
    Err(rustix::io::Errno::NOSYS)
}
