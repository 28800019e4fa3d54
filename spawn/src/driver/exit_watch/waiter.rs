//! The exit of a child without a pidfd (macOS, the BSDs,
//! `SPAWN_BACKEND=portable`), as an fd the set can hold: a thread of its
//! own blocks in `waitid(WEXITED | WNOWAIT)` on the child's pid (the child
//! is left unreaped for [`Process`](crate::process::Process), which reaps
//! it as it always does) and then closes the write end of a pipe, whose
//! read end turns readable (hung up) in the set. No process-wide `SIGCHLD`
//! handler, as asyncio's and Go's child watchers do it.
//!
//! The thread ends when the child exits (or is found reaped elsewhere:
//! `ECHILD`); it never writes, so a read end dropped first costs nothing.
//! Once the exit is seen it is joined ([`ExitPipe::exited`]): a blocking
//! run leaves no thread behind.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use spawn_sys::Pid;

/// Stack of a waiter thread: it only waits.
const STACK: usize = 64 << 10;

/// The read end of one child's exit pipe: hung up once the child exited.
pub(crate) struct ExitPipe {
    /// The child's pid, to find its pipe by.
    pub(crate) pid: Pid,
    read: OwnedFd,
    thread: std::thread::JoinHandle<()>,
}

impl ExitPipe {
    /// The child has exited: its waiter returns at once (its `waitid`
    /// sees the exit, or `ECHILD` once reaped), and is joined.
    pub(crate) fn exited(self) {
        let _ = self.thread.join();
    }

    /// What the set watches.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

/// Whether exits without a pidfd are watched by waiter threads: off
/// Linux's own backend (there a child without a pidfd, on a kernel before
/// 5.3, is polled as before).
pub(crate) fn enabled() -> bool {
    !spawn_sys::backend::linux_native()
}

/// Starts the waiter of our child `pid`; `None` when no pipe or thread can
/// be made (the caller polls the child instead).
pub(crate) fn start(pid: Pid) -> Option<ExitPipe> {
    let (read, write) = spawn_sys::pipe::pipe().ok()?;
    spawn_sys::pipe::set_new_pipe_nonblocking(&read).ok()?;
    let thread = std::thread::Builder::new()
        .name("spawn-exit-waiter".into())
        .stack_size(STACK)
        .spawn(move || {
            // EINTR is retried inside; any answer (exited, ECHILD) ends
            // the wait, and the closed write end says so.
            let _ = super::source::wait_exited(pid);
            drop(write);
        })
        .ok()?;
    Some(ExitPipe { pid, read, thread })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustix::event::{PollFd, PollFlags};

    /// The pipe stays quiet while the child runs, and hangs up once it
    /// exited, leaving it unreaped for its owner.
    #[test]
    fn the_pipe_hangs_up_when_the_child_exits() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read _"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let pid = spawn_sys::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("pid");
        let pipe = super::start(pid).expect("waiter");
        let ready = |t: Duration| {
            let mut fds = [PollFd::from_borrowed_fd(pipe.fd(), PollFlags::IN)];
            spawn_sys::poll::poll(&mut fds, Some(t)).expect("poll") == 1
        };
        assert!(!ready(Duration::ZERO), "quiet while it runs");
        drop(child.stdin.take());
        assert!(ready(Duration::from_secs(20)), "hung up once it exited");
        assert!(
            child.try_wait().expect("wait").is_some(),
            "left for its owner"
        );
    }
}
