//! The fork+exec fallback, for what `posix_spawn` cannot express (user and
//! groups, umask, resource limits, a pre-exec hook) and for libcs without
//! `posix_spawn_file_actions_addclosefrom_np`.
//!
//! The child reports a failure through a close-on-exec pipe as (step,
//! errno) and `_exit(127)`s; the parent reads the pipe: end of file means
//! the exec succeeded, 8 bytes mean it did not, and the child is reaped.

#![allow(unsafe_code)]
//! # Safety
//! Between `fork` and `execve` the child of a possibly multi-threaded
//! parent may only make async-signal-safe calls: no allocation, no lock.
//! Everything the child reads (the plan, the options, the limits) is
//! prepared before the fork; the child calls only `sigaction` (and the
//! raw `rt_sigaction` for the libc's reserved signals),
//! `pthread_sigmask`, `setsid`, `setpgid`, `dup2`, `open`, `close`,
//! `close_range`, `setrlimit`, `umask`, `setgroups`, `setgid`, `setuid`,
//! `chdir`, `write`, `execve` and `_exit`, plus the caller's hook (whose
//! contract says the same). All signals are blocked around `fork` so no
//! handler of the parent runs in the child before dispositions are reset.

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

use super::{Plan, SpawnError, SpawnOptions, SpawnStage, Step, nonzero_errno};
use crate::{Errno, Pid};

/// The steps as numbers on the error pipe.
const STAGES: [SpawnStage; 11] = [
    SpawnStage::Exec,
    SpawnStage::Cwd,
    SpawnStage::FdAction,
    SpawnStage::ProcessGroup,
    SpawnStage::Session,
    SpawnStage::Credentials,
    SpawnStage::Umask,
    SpawnStage::Rlimit,
    SpawnStage::PreExec,
    SpawnStage::Fork,
    SpawnStage::Setup,
];

fn stage_index(s: SpawnStage) -> u32 {
    STAGES
        .iter()
        .position(|&x| x == s)
        .unwrap_or(STAGES.len() - 1) as u32
}

fn stage_of(i: u32) -> SpawnStage {
    STAGES.get(i as usize).copied().unwrap_or(SpawnStage::Setup)
}

#[cfg(target_env = "gnu")]
type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type RlimitResource = c_int;

/// What the child needs beyond the options and the plan, computed before
/// the fork.
struct Prepared {
    /// The error pipe's write end (close-on-exec, above every target).
    err_fd: c_int,
    /// `RLIMIT_NOFILE`'s soft limit: where closing fd by fd stops when the
    /// kernel has no `close_range`.
    nofile: c_int,
    /// The highest signal number.
    sigrtmax: c_int,
    /// The lowest real-time signal the libc lets programs use: those from
    /// 32 up to here are the libc's own (glibc: 32, 33; musl: 32-34).
    sigrtmin: c_int,
    /// Whether we run as root (then a new uid without groups drops ours).
    root: bool,
}

/// fork+exec with the options and plan; see [`super::spawn`].
pub(super) fn spawn(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Pid, SpawnError> {
    let fork_err = |errno| SpawnError::new(SpawnStage::Fork, errno);
    // The write end goes above every target so that no step clobbers it.
    let (err_r, first_w) = crate::pipe::pipe().map_err(fork_err)?;
    let err_w = rustix::io::fcntl_dupfd_cloexec(&first_w, plan.close_from).map_err(fork_err)?;
    drop(first_w);
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let prepared = Prepared {
        err_fd: err_w.as_raw_fd(),
        nofile: c_int::try_from(nofile.unwrap_or(u64::MAX)).unwrap_or(c_int::MAX),
        sigrtmax: libc::SIGRTMAX(),
        sigrtmin: libc::SIGRTMIN(),
        root: rustix::process::getuid().is_root(),
    };

    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes; sigfillset initialises it.
    unsafe { libc::sigfillset(all.as_mut_ptr()) };
    // SAFETY: `all` is initialised; `old` is valid for writes and written
    // (pthread_sigmask cannot fail with a valid `how`).
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr()) };
    // SAFETY: fork has no memory-safety preconditions; the child below only
    // makes async-signal-safe calls on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the child of fork; `child` only makes
        // async-signal-safe calls on memory prepared before the fork.
        unsafe { child(opts, plan, &prepared) }
    }
    let fork_errno = if pid < 0 { Some(last_errno()) } else { None };
    // SAFETY: `old` was written by the pthread_sigmask call above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut()) };
    drop(err_w);
    if let Some(errno) = fork_errno {
        return Err(fork_err(errno));
    }
    let Some(child_pid) = Pid::from_raw(pid) else {
        return Err(fork_err(Errno::INVAL));
    };
    // End of file: the exec succeeded. Else 8 bytes: step and errno.
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&err_r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            // Cannot happen on our own pipe; the child is running or will
            // fail on its own: not ours to reap now.
            Err(_) => break,
        }
    }
    if got == 0 {
        return Ok(child_pid);
    }
    // The child failed and `_exit`ed: reap it (it is ours, and exiting).
    let _ = crate::wait::wait_pid(child_pid, false);
    if got < buf.len() {
        return Err(SpawnError::new(SpawnStage::Setup, Errno::IO));
    }
    let [a, b, c, d, e, f, g, h] = buf;
    Err(SpawnError::new(
        stage_of(u32::from_ne_bytes([a, b, c, d])),
        nonzero_errno(i32::from_ne_bytes([e, f, g, h])),
    ))
}

fn last_errno() -> Errno {
    nonzero_errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// The child side. Never returns: execs or `_exit(127)`s.
///
/// In order: signal dispositions reset; session or process group; fd
/// steps; every other fd above 2 closed; resource limits and umask (before
/// dropping privileges, which may forbid raising a hard limit); groups, gid,
/// uid; working directory (as the new user); an empty signal mask; the
/// hook; `execve`.
///
/// # Safety
/// Only in the child of `fork`, with memory prepared before the fork.
#[allow(clippy::multiple_unsafe_ops_per_block)] // one audited sequence of libc calls
unsafe fn child(opts: &SpawnOptions<'_>, plan: &Plan<'_>, p: &Prepared) -> ! {
    let err_fd = p.err_fd;
    let fail = |stage: SpawnStage, errno: c_int| -> ! {
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&stage_index(stage).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: write and _exit are async-signal-safe; `msg` is ours. A
        // pipe write of 8 bytes is atomic.
        unsafe {
            libc::write(err_fd, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    };
    let errno = || {
        // SAFETY: reading this thread's errno is async-signal-safe.
        unsafe { *libc::__errno_location() }
    };
    // SAFETY: every call below is async-signal-safe and reads only memory
    // prepared before the fork (`opts`, `plan`, `p`); see the module docs.
    unsafe {
        // Every signal at its default (all are still blocked, so none is
        // delivered to a handler of the parent in between). The libc's
        // `sigaction` refuses its reserved signals (32 up to SIGRTMIN):
        // those go to the kernel directly, else an ignored one would stay
        // ignored in the program.
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=p.sigrtmax {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            if (32..p.sigrtmin).contains(&sig) {
                default_raw(sig);
            } else {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }

        if opts.new_session && libc::setsid() < 0 {
            fail(SpawnStage::Session, errno());
        }
        if let Some(pg) = opts.process_group
            && libc::setpgid(0, pg) < 0
        {
            fail(SpawnStage::ProcessGroup, errno());
        }

        for step in &plan.steps {
            match *step {
                Step::Dup2 { src, dst } => {
                    if libc::dup2(src, dst) < 0 {
                        fail(SpawnStage::FdAction, errno());
                    }
                }
                Step::Close { dst } => {
                    libc::close(dst);
                }
                Step::Open {
                    dst,
                    path,
                    flags,
                    mode,
                } => {
                    let fd = libc::open(path.as_ptr(), flags, mode);
                    if fd < 0 {
                        fail(SpawnStage::FdAction, errno());
                    }
                    if fd != dst {
                        if libc::dup2(fd, dst) < 0 {
                            fail(SpawnStage::FdAction, errno());
                        }
                        libc::close(fd);
                    }
                }
            }
        }
        // Close the gaps and everything above the targets but the error
        // pipe (close-on-exec: it closes at exec, or reports failure).
        for &(first, last) in &plan.gaps {
            close_range(first, last, p.nofile);
        }
        close_range(plan.close_from, err_fd - 1, p.nofile);
        close_range(err_fd + 1, c_int::MAX, p.nofile);

        for &(resource, soft, hard) in &opts.fork.rlimits {
            let lim = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(resource as RlimitResource, &lim) < 0 {
                fail(SpawnStage::Rlimit, errno());
            }
        }
        if let Some(mask) = opts.fork.umask {
            libc::umask(mask as libc::mode_t);
        }

        let groups_failed = match &opts.fork.groups {
            Some(g) => libc::setgroups(g.len(), g.as_ptr()) < 0,
            // As std: root becoming another user keeps none of root's groups.
            None if opts.fork.uid.is_some() && p.root => {
                libc::setgroups(0, std::ptr::null());
                false
            }
            None => false,
        };
        if groups_failed {
            fail(SpawnStage::Credentials, errno());
        }
        if let Some(gid) = opts.fork.gid
            && libc::setgid(gid) < 0
        {
            fail(SpawnStage::Credentials, errno());
        }
        if let Some(uid) = opts.fork.uid
            && libc::setuid(uid) < 0
        {
            fail(SpawnStage::Credentials, errno());
        }

        if let Some(cwd) = &opts.cwd
            && libc::chdir(cwd.as_ptr()) < 0
        {
            fail(SpawnStage::Cwd, errno());
        }

        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        if let Some(hook) = &opts.fork.pre_exec
            && let Err(e) = hook()
        {
            fail(
                SpawnStage::PreExec,
                e.raw_os_error().unwrap_or(libc::EINVAL),
            );
        }

        libc::execve(
            opts.program.as_ptr(),
            opts.argv.as_ptr().cast(),
            opts.envp.as_ptr().cast(),
        );
        fail(SpawnStage::Exec, errno())
    }
}

/// The kernel's `struct sigaction` for `rt_sigaction(2)`, all zero: handler
/// `SIG_DFL` (0), no flags, no restorer, an empty mask. Whatever the
/// architecture's field order, zero is what every field must be, and this
/// is at least as large as the kernel reads.
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
unsafe fn default_raw(sig: c_int) {
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

/// Closes `first..=last` with `close_range(2)`, or one by one (up to
/// `nofile`) where the kernel has no `close_range` (before 5.9).
///
/// # Safety
/// Only where closing those fds cannot break an owner: the child of fork.
unsafe fn close_range(first: c_int, last: c_int, nofile: c_int) {
    if first < 0 || last < first {
        return;
    }
    // SAFETY: a raw syscall with integer arguments; async-signal-safe.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0u32) };
    if r == 0 {
        return;
    }
    for fd in first..=last.min(nofile.saturating_sub(1)) {
        // SAFETY: close is async-signal-safe; see the contract.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_survive_the_pipe() {
        for &s in &STAGES {
            assert_eq!(stage_of(stage_index(s)), s);
        }
        assert_eq!(stage_of(999), SpawnStage::Setup);
    }
}
