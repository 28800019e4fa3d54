//! What differs between systems in a child's steps: its `errno`, the
//! signal range, credentials, closing fd ranges and the parent death
//! signal. Linux makes raw syscalls where the libc would take a lock (a
//! `CLONE_VM` child shares the parent's thread list); macOS and the BSDs
//! have only the fork path's child, which may call the libc.

#![allow(unsafe_code)]
//! # Safety
//! Every function here is async-signal-safe and meant for the child of
//! `fork` (or of `clone3(CLONE_VM | CLONE_VFORK)` on Linux), between the
//! start and `execve`: see `fork.rs`'s module docs.

use std::ffi::c_int;

/// The calling thread's `errno`.
///
/// # Safety
/// None beyond the libc's own: reading this thread's errno is
/// async-signal-safe.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) unsafe fn errno() -> c_int {
    // SAFETY: the libc's pointer to this thread's errno, always valid.
    let at = unsafe { libc::__errno_location() };
    // SAFETY: as above: valid for reads for the thread's life.
    unsafe { *at }
}

/// The calling thread's `errno`.
///
/// # Safety
/// As above.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly"
))]
pub(super) unsafe fn errno() -> c_int {
    // SAFETY: the libc's pointer to this thread's errno, always valid.
    let at = unsafe { libc::__error() };
    // SAFETY: as above: valid for reads for the thread's life.
    unsafe { *at }
}

/// The highest signal number (`SIGRTMAX`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn max_signal() -> c_int {
    libc::SIGRTMAX()
}

/// The highest signal number: macOS has no real-time signals (`NSIG` is
/// 32).
#[cfg(target_vendor = "apple")]
pub(crate) fn max_signal() -> c_int {
    31
}

/// The highest signal number: FreeBSD's `SIGRTMAX` (126).
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
pub(crate) fn max_signal() -> c_int {
    126
}

/// The lowest real-time signal the libc lets programs use: those from 32
/// up to it are the libc's own (glibc: 32, 33; musl: 32-34), which its
/// `sigaction` refuses.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn first_user_rt_signal() -> c_int {
    libc::SIGRTMIN()
}

/// Elsewhere the libc's `sigaction` is asked for every signal (32 up to
/// here is an empty range).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn first_user_rt_signal() -> c_int {
    32
}

/// What `setrlimit`'s resource argument is.
#[cfg(target_env = "gnu")]
pub(super) type RlimitResource = libc::__rlimit_resource_t;
/// What `setrlimit`'s resource argument is.
#[cfg(not(target_env = "gnu"))]
pub(super) type RlimitResource = c_int;

/// A limit as `rlim_t`: `u64::MAX` means unlimited (`RLIM_INFINITY`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn rlim(v: u64) -> libc::rlim_t {
    v
}

/// A limit as `rlim_t`: `u64::MAX` means unlimited (`RLIM_INFINITY`,
/// which is `i64::MAX` on macOS and the BSDs, where `rlim_t` may be
/// signed).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn rlim(v: u64) -> libc::rlim_t {
    if v == u64::MAX {
        libc::RLIM_INFINITY
    } else {
        libc::rlim_t::try_from(v).unwrap_or(libc::RLIM_INFINITY)
    }
}

/// Which id [`set_id`] sets.
#[derive(Clone, Copy)]
pub(super) enum SetId {
    Uid,
    Gid,
}

/// `setuid`/`setgid` as the raw syscall (glibc's wrapper, in a
/// multi-threaded process, signals every thread it knows and takes a lock:
/// wrong in a `CLONE_VM` child, which shares the parent's thread list);
/// returns -1 with `errno` set on failure.
///
/// # Safety
/// Only in the child of fork or clone.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(super) unsafe fn set_id(which: SetId, id: u32) -> c_int {
    let nr = match which {
        SetId::Uid => libc::SYS_setuid,
        SetId::Gid => libc::SYS_setgid,
    };
    // SAFETY: a raw syscall with an integer argument; it changes only the
    // calling thread's credentials, the whole of a fresh child.
    unsafe { libc::syscall(nr, libc::c_long::from(id)) as c_int }
}

/// `setuid`/`setgid` through the libc: where the raw syscalls may be the
/// 16-bit ones, and on macOS and the BSDs; only the fork path runs here
/// (its child has a thread list of its own).
///
/// # Safety
/// Only in the child of fork.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub(super) unsafe fn set_id(which: SetId, id: u32) -> c_int {
    // SAFETY: async-signal-safe in the child of fork.
    unsafe {
        match which {
            SetId::Uid => libc::setuid(id),
            SetId::Gid => libc::setgid(id),
        }
    }
}

/// `setgroups` as the raw syscall; see [`set_id`].
///
/// # Safety
/// Only in the child of fork or clone; `list` valid for `len` gids.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub(super) unsafe fn set_groups(len: usize, list: *const libc::gid_t) -> c_int {
    // SAFETY: a raw syscall; `list` is valid for `len` reads (contract).
    unsafe { libc::syscall(libc::SYS_setgroups, len, list) as c_int }
}

/// `setgroups` through the libc; see [`set_id`]. (Its count is a `size_t`
/// in glibc and musl, an `int` on macOS and the BSDs.)
///
/// # Safety
/// Only in the child of fork; `list` valid for `len` gids.
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
pub(super) unsafe fn set_groups(len: usize, list: *const libc::gid_t) -> c_int {
    let Ok(len) = len.try_into() else {
        return -1;
    };
    // SAFETY: as above, through the libc (fork path only).
    unsafe { libc::setgroups(len, list) }
}

/// The kernel's `struct sigaction` for `rt_sigaction(2)`, all zero: handler
/// `SIG_DFL` (0), no flags, no restorer, an empty mask. Whatever the
/// architecture's field order, zero is what every field must be, and this
/// is at least as large as the kernel reads.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[repr(C)]
struct KernelSigaction {
    handler: libc::c_ulong,
    flags: libc::c_ulong,
    restorer: libc::c_ulong,
    mask: u64,
}

/// `rt_sigaction(sig, SIG_DFL)` without the libc, which refuses the
/// signals it reserves for itself.
///
/// # Safety
/// Only in the child of fork (the libc's handlers for these signals are
/// what it relies on for threads and `setxid`; a single-threaded child
/// about to exec needs neither).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) unsafe fn default_raw(sig: c_int) {
    let act = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: a raw syscall, async-signal-safe; `act` is valid for reads
    // for the call, the old action is not asked for, and 8 is the size of
    // the kernel's signal set.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::c_long::from(sig),
            std::ptr::from_ref(&act),
            std::ptr::null_mut::<KernelSigaction>(),
            8 as libc::c_long,
        );
    }
}

/// No libc reserves signals from 32 up here (see
/// [`first_user_rt_signal`]): never called.
///
/// # Safety
/// None.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) unsafe fn default_raw(_sig: c_int) {}

/// Closes `first..=last` in one call where the system has one; `false`
/// when the caller must close them one by one.
///
/// # Safety
/// Only where closing those fds cannot break an owner: the child of fork.
#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn close_range_call(first: c_int, last: c_int) -> bool {
    // SAFETY: a raw syscall with integer arguments; async-signal-safe.
    unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) == 0 }
}

/// FreeBSD's `close_range(2)` (12.2 and later).
///
/// # Safety
/// As above.
#[cfg(target_os = "freebsd")]
unsafe fn close_range_call(first: c_int, last: c_int) -> bool {
    // SAFETY: one syscall with integer arguments; async-signal-safe.
    unsafe { libc::close_range(first as u32, last as u32, 0) == 0 }
}

/// macOS has no range close: one by one.
///
/// # Safety
/// None.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
unsafe fn close_range_call(_first: c_int, _last: c_int) -> bool {
    false
}

/// Closes `first..=last` with one call (`close_range(2)`), or one by one
/// (up to `RLIMIT_NOFILE`'s soft limit, asked then) where the system has
/// none (Linux before 5.9, macOS).
///
/// # Safety
/// Only where closing those fds cannot break an owner: the child of fork.
pub(super) unsafe fn close_range(first: c_int, last: c_int) {
    if first < 0 || last < first {
        return;
    }
    // SAFETY: the caller's contract.
    if unsafe { close_range_call(first, last) } {
        return;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` is one syscall writing into `lim`, ours; no lock,
    // no allocation (async-signal-safe in effect).
    let nofile = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        c_int::try_from(lim.rlim_cur).unwrap_or(c_int::MAX)
    } else {
        c_int::MAX
    };
    for fd in first..=last.min(nofile.saturating_sub(1)) {
        // SAFETY: close is async-signal-safe; see the contract.
        unsafe { libc::close(fd) };
    }
}

/// Whether this system has a parent death signal
/// ([`ForkOptions::parent_death_signal`](super::ForkOptions::parent_death_signal)):
/// Linux's `prctl(PR_SET_PDEATHSIG)`, FreeBSD's
/// `procctl(PROC_PDEATHSIG_CTL)`; macOS has none.
pub const HAS_PARENT_DEATH_SIGNAL: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly"
));

/// `prctl(PR_SET_PDEATHSIG, sig)`; -1 with `errno` set on failure.
///
/// # Safety
/// Only in the child of fork or clone.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) unsafe fn set_parent_death_signal(sig: c_int) -> c_int {
    // SAFETY: one syscall with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) }
}

/// `procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig)`; -1 with `errno` set on
/// failure.
///
/// # Safety
/// Only in the child of fork.
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
pub(super) unsafe fn set_parent_death_signal(sig: c_int) -> c_int {
    let mut sig = sig;
    // SAFETY: one syscall; `sig` is valid for reads for the call.
    unsafe {
        libc::procctl(
            libc::P_PID,
            0,
            libc::PROC_PDEATHSIG_CTL,
            std::ptr::from_mut(&mut sig).cast(),
        )
    }
}

/// macOS has no parent death signal: [`super::spawn`] refuses the option
/// before the fork (`ENOTSUP`), so this is never reached.
///
/// # Safety
/// None.
#[cfg(target_vendor = "apple")]
pub(super) unsafe fn set_parent_death_signal(_sig: c_int) -> c_int {
    -1
}
