//! Sending signals: to a process, a process group, or through a pidfd.
//! Signals are raw numbers here; the facade has its own typed `Signal`.

#![allow(unsafe_code)]
//! # Safety
//! `kill(2)` takes plain integers and touches no memory of ours.

use std::os::fd::AsFd;

use crate::{Errno, Pid};

fn last_errno() -> Errno {
    Errno::from_raw_os_error(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// `kill(pid, sig)`—Sends `signal` to the process `pid`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/kill.2.html)
#[doc(alias = "kill")]
pub fn signal_process(pid: Pid, signal: i32) -> rustix::io::Result<()> {
    // SAFETY: plain integers; a `Pid` is positive, so this never means
    // "every process" (-1) or "our group" (0).
    let r = unsafe { libc::kill(pid.as_raw_nonzero().get(), signal) };
    if r == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `kill(-pgid, sig)`—Sends `signal` to every process of group `pgid`.
///
/// # Errors
/// `EINVAL` for `pgid <= 1`, before any signal is sent: `kill(-1, sig)`
/// reaches every process the caller may signal, and group 1 is init's
/// (or, in a container, that of its first process), never a group that a
/// caller of this function started. (A `Pid` cannot be 0, which would mean
/// the caller's own group.) Otherwise what `kill(2)` says: `ESRCH` when
/// the group has no process left, `EPERM` when none may be signalled.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/killpg.3.html)
#[doc(alias = "killpg")]
pub fn signal_group(pgid: Pid, signal: i32) -> rustix::io::Result<()> {
    let pgid = pgid.as_raw_nonzero().get();
    if pgid <= 1 {
        return Err(Errno::INVAL);
    }
    // SAFETY: plain integers; `-pgid` is below -1, so it names exactly one
    // process group (never "every process" or "our group").
    let r = unsafe { libc::kill(-pgid, signal) };
    if r == 0 { Ok(()) } else { Err(last_errno()) }
}

/// `pidfd_send_signal`—Sends `signal` through a pidfd: it reaches the
/// process the pidfd refers to, never another that reused its pid.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
pub fn signal_pidfd(pidfd: impl AsFd, signal: i32) -> rustix::io::Result<()> {
    crate::pidfd::pidfd_send_signal(pidfd, signal)
}

fn sigset(sigs: &[i32]) -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes and initialised by sigemptyset.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    for &s in sigs {
        // SAFETY: the set was initialised above; an invalid number is
        // refused with EINVAL, not undefined behaviour.
        unsafe { libc::sigaddset(set.as_mut_ptr(), s) };
    }
    // SAFETY: initialised by sigemptyset above.
    unsafe { set.assume_init() }
}

/// `pthread_sigmask(SIG_BLOCK)`—Blocks `signals` in the calling thread.
/// Threads started afterwards inherit the mask, so call it at the top of
/// `main` to take the signals out of normal delivery and receive them with
/// [`wait_signal`] instead. (Children spawned by this crate start with an
/// empty mask whatever the parent's.)
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html)
pub fn block_signals(signals: &[i32]) -> rustix::io::Result<()> {
    let set = sigset(signals);
    // SAFETY: `set` is an initialised sigset; the old mask is not asked for.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(r))
    }
}

/// Stops this process the way `signal`'s default action does (`SIGTSTP`
/// for Ctrl-Z: the shell then reports it stopped, and `fg` continues it),
/// though the process blocks `signal` to take it with [`wait_signal`]: it
/// is unblocked in the calling thread alone, sent to that thread, and
/// blocked again once the process was continued. What the signal's
/// disposition is, it acts with (the default for `SIGTSTP`: stop).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man3/raise.3.html)
pub fn stop_self(signal: i32) -> rustix::io::Result<()> {
    let set = sigset(&[signal]);
    // SAFETY: `set` is an initialised sigset; the old mask is not asked for.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(Errno::from_raw_os_error(r));
    }
    // SAFETY: raise has no memory preconditions; the signal was unblocked
    // in this thread above, so it is delivered before raise returns.
    let raised = match unsafe { libc::raise(signal) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    };
    // SAFETY: as above.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    raised.map_err(Errno::from_raw_os_error)?;
    if r != 0 {
        return Err(Errno::from_raw_os_error(r));
    }
    Ok(())
}

/// Whether a stop from the terminal (`SIGTSTP`) can stop this process and
/// a shell continue it: its process group is not orphaned (a member has
/// its parent in another group of the same session, as a job-control
/// shell is), so the kernel acts on the signal instead of discarding it.
/// The member looked for is this process or an ancestor in its group (a
/// script that started it, which the shell stopped with it): the first
/// ancestor outside the group decides. Without a `/proc` to read an
/// ancestor's parent, only this process's parent is looked at.
///
/// # References
/// - [POSIX, orphaned process group](https://pubs.opengroup.org/onlinepubs/9799919799/basedefs/V1_chap03.html)
pub fn job_control_applies() -> bool {
    let Some(mut parent) = rustix::process::getppid() else {
        return false;
    };
    let ours = rustix::process::getpgrp();
    let session = rustix::process::getsid(None).ok();
    // Bounded: a pid's chain of parents is short, and ends at init.
    for _ in 0..64 {
        let Ok(group) = rustix::process::getpgid(Some(parent)) else {
            return false;
        };
        if group != ours {
            return rustix::process::getsid(Some(parent)).ok() == session;
        }
        // In our group: its parent decides.
        match crate::procfs::stat_of(parent.as_raw_nonzero().get())
            .and_then(|st| Pid::from_raw(st.ppid))
        {
            Some(p) => parent = p,
            None => return false,
        }
    }
    false
}

/// A signal taken by [`wait_signal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalInfo {
    /// The signal number.
    pub signal: i32,
    /// Sent by the kernel (e.g. Ctrl-C at a terminal, which also reaches
    /// every process of the foreground group), not by `kill(2)`.
    pub from_kernel: bool,
}

/// `sigwaitinfo`—Waits for one of `signals` (which must be blocked, see
/// [`block_signals`]) and takes it. `EINTR` is retried.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/sigwaitinfo.2.html)
#[cfg(not(target_vendor = "apple"))]
pub fn wait_signal(signals: &[i32]) -> rustix::io::Result<SignalInfo> {
    let set = sigset(signals);
    loop {
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
        // SAFETY: `set` is initialised; `info` is valid for writes.
        let r = unsafe { libc::sigwaitinfo(&set, info.as_mut_ptr()) };
        if r < 0 {
            let e = last_errno();
            if e == Errno::INTR {
                continue;
            }
            return Err(e);
        }
        // SAFETY: sigwaitinfo filled `info` (and it was zeroed before).
        let info = unsafe { info.assume_init() };
        return Ok(SignalInfo {
            signal: r,
            from_kernel: info.si_code == SI_KERNEL,
        });
    }
}

/// `si_code` of a signal the kernel sent.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SI_KERNEL: libc::c_int = libc::SI_KERNEL;
/// `si_code` of a signal the kernel sent (FreeBSD's `<sys/signal.h>`; the
/// libc crate lacks it).
#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
const SI_KERNEL: libc::c_int = 0x10006;

/// `sigwait`—As above on macOS, which has no `sigwaitinfo`: the sender is
/// not known, and `from_kernel` is always `false`.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/sigwait.html)
#[cfg(target_vendor = "apple")]
pub fn wait_signal(signals: &[i32]) -> rustix::io::Result<SignalInfo> {
    let set = sigset(signals);
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` is initialised; `signal` is valid for writes.
        let r = unsafe { libc::sigwait(&set, &mut signal) };
        match r {
            0 => {
                return Ok(SignalInfo {
                    signal,
                    from_kernel: false,
                });
            }
            libc::EINTR => {}
            e => return Err(Errno::from_raw_os_error(e)),
        }
    }
}

/// Per-signal counters of [`count_signal_without_restart`].
static COUNTS: [std::sync::atomic::AtomicU64; 65] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 65];

extern "C" fn count_handler(signal: libc::c_int) {
    // Only an atomic add: async-signal-safe.
    if let Some(c) = usize::try_from(signal).ok().and_then(|s| COUNTS.get(s)) {
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `sigaction(signal, {handler, flags: 0})`—Installs, for the whole
/// process, a handler for `signal` that only counts it, **without**
/// `SA_RESTART`: every slow system call it interrupts fails with `EINTR`.
/// Returns the counter.
///
/// This is for testing that code survives an `EINTR` storm (spawn's driver
/// retries every call); a real program rarely wants it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/sigaction.2.html)
pub fn count_signal_without_restart(
    signal: i32,
) -> rustix::io::Result<&'static std::sync::atomic::AtomicU64> {
    let Some(counter) = usize::try_from(signal)
        .ok()
        .filter(|&s| s > 0)
        .and_then(|s| COUNTS.get(s))
    else {
        return Err(Errno::INVAL);
    };
    // SAFETY: all-zero is a valid `sigaction` (no handler, empty mask, no flags).
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = count_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    sa.sa_flags = 0;
    // SAFETY: `sa.sa_mask` is a valid sigset to initialise.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: `sa` is initialised; the handler is an `extern "C"` function
    // that only touches a static atomic; the old action is not asked for.
    let r = unsafe { libc::sigaction(signal, &sa, std::ptr::null_mut()) };
    if r == 0 {
        Ok(counter)
    } else {
        Err(last_errno())
    }
}
