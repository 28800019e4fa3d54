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
    /// What kind of fd it is.
    pub kind: FdKind,
}

/// The kinds of fd the driver reads and writes as a child's stdin, stdout
/// or stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A pipe.
    #[default]
    Pipe,
    /// A pseudo-terminal's master (`Command::pty`): a read gets at most
    /// what the line discipline holds (4 KiB) while more waits behind it,
    /// so a short read does not say it is empty (only `EAGAIN` does); its
    /// capacity is not raised; it is never spliced (`splice` needs a pipe
    /// on one side); a read's `EIO` (every slave fd closed) is its end.
    PtyMaster,
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
    // for: ask the pipe. Others have the default (a pty too: it is read
    // until it says `EAGAIN`).
    cap.cap = if fixed && cap.kind == FdKind::Pipe {
        spawn_sys::pipe::pipe_size(fd).unwrap_or_else(|_| crate::pipes::default_capacity())
    } else {
        crate::pipes::default_capacity()
    };
    // Input larger than the pipe: raise it now.
    if stream == Stream::Stdin
        && !fixed
        && cap.kind == FdKind::Pipe
        && input_len > cap.cap
        && let Some((new, lease)) = crate::pipes::raise(fd, cap.cap)
    {
        cap.cap = new;
        cap.lease = Some(lease);
    }
}
