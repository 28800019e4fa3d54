//! The background reaper: children whose [`Child`](crate::Child) was dropped
//! while they still ran are waited for here, so none becomes a zombie and the
//! dropping thread never blocks.
//!
//! One thread, started on first use, waits on the children's pidfds in an
//! epoll set (or polls `wait4(WNOHANG)` every 50 ms for children without a
//! pidfd) and reaps each exactly once, by pid (never `waitpid(-1)`).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use spawn_sys::Pid;
use spawn_sys::poll::{Epoll, Interest};

/// Children waited for, by token (their pid), with their pidfd if any.
type Pending = HashMap<u64, (Pid, Option<Arc<OwnedFd>>)>;

struct Reaper {
    epoll: Epoll,
    pending: Mutex<Pending>,
}

static REAPER: OnceLock<Option<Reaper>> = OnceLock::new();

fn reaper() -> Option<&'static Reaper> {
    REAPER
        .get_or_init(|| {
            let epoll = Epoll::new().ok()?;
            let r = Reaper {
                epoll,
                pending: Mutex::new(HashMap::new()),
            };
            Some(r)
        })
        .as_ref()
}

fn ensure_thread() {
    static STARTED: OnceLock<bool> = OnceLock::new();
    STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("spawn-reaper".into())
            .spawn(run)
            .is_ok()
    });
}

/// Reaps `pid` once it exits, in the background.
pub(crate) fn reap_later(pid: Pid, pidfd: Option<Arc<OwnedFd>>) {
    // Already gone? Then no thread is needed.
    if let Ok(Some(_)) = spawn_sys::wait::wait_pid(pid, true) {
        return;
    }
    let Some(r) = reaper() else {
        return;
    };
    let token = pid.as_raw_nonzero().get() as u64;
    if let Some(fd) = &pidfd {
        let interest = Interest {
            readable: true,
            writable: false,
            edge: false,
        };
        let _ = r.epoll.add(fd.as_fd(), token, interest);
    }
    r.pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(token, (pid, pidfd));
    ensure_thread();
}

/// How many dropped children are still waited for (for tests and the soak).
#[must_use]
pub fn pending() -> usize {
    reaper().map_or(0, |r| {
        r.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    })
}

fn run() {
    let Some(r) = reaper() else { return };
    let mut ready = Vec::with_capacity(16);
    loop {
        let any_polled = r
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .any(|(_, fd)| fd.is_none());
        let timeout = if any_polled {
            Some(Duration::from_millis(50))
        } else {
            Some(Duration::from_secs(1))
        };
        let _ = r.epoll.wait(&mut ready, 64, timeout);
        let mut pending = r.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, (pid, fd)| {
            let done = !matches!(spawn_sys::wait::wait_pid(*pid, true), Ok(None));
            if done && let Some(fd) = fd {
                let _ = r.epoll.delete(fd.as_fd());
            }
            !done
        });
    }
}
