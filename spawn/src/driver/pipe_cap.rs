//! [`PipeCap`]: the capacity of one pipe the driver holds, and the policy
//! that sets it (`crate::pipes`): the default, what a command chose, and
//! raised for input larger than the pipe or a child that fills it.

use std::os::fd::OwnedFd;

use spawn_core::Stream;

/// The capacity of one pipe the driver holds.
#[derive(Debug, Default)]
pub(crate) struct PipeCap {
    /// Bytes (0: no pipe, or unknown).
    pub cap: usize,
    /// Capacity raised by the driver, held until the pipe is closed.
    pub lease: Option<crate::pipes::Lease>,
    /// The last read emptied it, in the turn after this many waits, and
    /// no edge came since.
    pub drained: Option<u64>,
    /// An edge said its writers are gone (`EPOLLHUP`).
    pub hung_up: bool,
}

/// Sets up the capacity of a pipe the driver is about to watch.
pub(super) fn size_pipe(
    fd: &OwnedFd,
    stream: Stream,
    input_len: usize,
    fixed: bool,
    cap: &mut PipeCap,
) {
    // A command that chose its capacity may have got less than it asked
    // for: ask the pipe. Others have the default.
    cap.cap = if fixed {
        spawn_sys::pipe::pipe_size(fd).unwrap_or_else(|_| crate::pipes::default_capacity())
    } else {
        crate::pipes::default_capacity()
    };
    // Input larger than the pipe: raise it now.
    if stream == Stream::Stdin
        && !fixed
        && input_len > cap.cap
        && let Some((new, lease)) = crate::pipes::raise(fd, cap.cap)
    {
        cap.cap = new;
        cap.lease = Some(lease);
    }
}
