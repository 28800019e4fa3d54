//! The pipe capacity policy: which of the driver's pipes get a larger
//! kernel buffer (`F_SETPIPE_SZ`), and how much of the user's pipe quota
//! spawn may hold at once.
//!
//! A pipe starts with 64 KiB. A child that writes a lot (or a large input)
//! then costs a wake-up and two syscalls per 64 KiB; with 1 MiB pipes, the
//! round trip through `cat` runs about twice as fast. But the kernel counts
//! pipe capacity per user (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by
//! default), and once a user is past that soft limit every *new* pipe of
//! theirs, in any process, gets a single page. So spawn raises a pipe only
//! when it proves busy (a read came back full, or the input is larger than
//! the pipe), and holds at most a quarter of the soft limit in raised
//! capacity across the whole process; each raise is returned when its pipe
//! is closed. A command's own [`Command::pipe_capacity`](crate::Command::pipe_capacity)
//! is left alone.

use std::os::fd::AsFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The capacity a busy pipe is raised to (clamped to `pipe-max-size`).
pub(crate) const TARGET: usize = 1 << 20;

/// The capacity a new pipe gets: 16 pages (64 KiB with 4 KiB pages).
/// Assumed rather than asked for each pipe (`F_GETPIPE_SZ` per pipe on
/// every spawn); a pipe that is smaller (its user is past the soft limit)
/// only reads less at a time and is never raised.
pub(crate) fn default_capacity() -> usize {
    static CAP: OnceLock<usize> = OnceLock::new();
    *CAP.get_or_init(|| 16 * spawn_sys::mem::page_size())
}

/// Bytes of capacity above the default that spawn's pipes hold now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// How many bytes of raised capacity the process may hold at once.
fn budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let soft_pages: usize = std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(16384);
        if soft_pages == 0 {
            // No soft limit: still keep the kernel memory bounded.
            256 << 20
        } else {
            soft_pages.saturating_mul(4096) / 4
        }
    })
}

/// Capacity taken from the budget; given back when dropped (when the pipe
/// it was raised for is closed).
#[derive(Debug)]
pub(crate) struct Lease(usize);

impl Drop for Lease {
    fn drop(&mut self) {
        HELD.fetch_sub(self.0, Ordering::Relaxed);
    }
}

/// Raises the capacity of `fd` (now `cap` bytes) to [`TARGET`] if the
/// budget allows. Returns the new capacity and the lease that holds it.
pub(crate) fn raise(fd: impl AsFd, cap: usize) -> Option<(usize, Lease)> {
    let want = TARGET.min(spawn_sys::pipe::max_pipe_size());
    if cap >= want {
        return None;
    }
    let extra = want - cap;
    let limit = budget();
    let mut held = HELD.load(Ordering::Relaxed);
    loop {
        if held.saturating_add(extra) > limit {
            return None;
        }
        match HELD.compare_exchange_weak(held, held + extra, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => held = now,
        }
    }
    let mut lease = Lease(extra);
    match spawn_sys::pipe::set_pipe_size(fd, want) {
        Ok(new) if new > cap => {
            // Hold what was really granted.
            let granted = new - cap;
            if granted < lease.0 {
                HELD.fetch_sub(lease.0 - granted, Ordering::Relaxed);
                lease.0 = granted;
            }
            Some((new, lease))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raise_is_held_until_its_lease_is_dropped() {
        let (r, _w) = spawn_sys::pipe::pipe().unwrap();
        let cap = spawn_sys::pipe::pipe_size(&r).unwrap();
        assert_eq!(cap, default_capacity());
        let (new, lease) = raise(&r, cap).expect("a 1 MiB pipe within the budget");
        assert_eq!(new, spawn_sys::pipe::pipe_size(&r).unwrap());
        assert!(new > cap);
        assert_eq!(lease.0, new - cap);
        drop(lease);
        // A pipe already at the target is not raised again.
        assert!(raise(&r, new).is_none());
    }
}
