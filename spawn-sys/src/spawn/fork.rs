//! The fork+exec fallback, for what `posix_spawn` cannot express (user and
//! groups, umask, resource limits, a pre-exec hook, a parent death signal,
//! a cgroup when `clone3` cannot place the child) and for libcs without
//! `posix_spawn_file_actions_addclosefrom_np`; and the child's steps, which
//! the `clone3` path runs too.
//!
//! The child reports a failure through a close-on-exec pipe as (step,
//! errno) and `_exit(127)`s; the parent reads the pipe: end of file means
//! the exec succeeded, 8 bytes mean it did not, and the child is reaped.
//! (A `CLONE_VM` child writes the same into a word of shared memory
//! instead, see [`Report`].)

#![allow(unsafe_code)]
//! # Safety
//! Between `fork` and `execve` the child of a possibly multi-threaded
//! parent may only make async-signal-safe calls: no allocation, no lock.
//! Everything the child reads (the plan, the options, the limits) is
//! prepared before the fork; the child calls only `write` (to
//! `cgroup.procs`), `sigaction` (and the raw `rt_sigaction` for the libc's
//! reserved signals), `pthread_sigmask`, `setsid`, `setpgid`, `dup2`,
//! `open`, `close`, `close_range` (or `getrlimit` and `close` where the
//! kernel has none), `setrlimit`, `umask`, `setgroups`,
//! `setgid`, `setuid`, `prctl`, `getppid`, `getpid`, `kill`, `chdir`,
//! `write`, `execve` and `_exit`, plus the caller's hook (whose contract
//! says the same). All signals are blocked around `fork` so no handler of
//! the parent runs in the child before dispositions are reset.
//!
//! The same steps are sound in a `CLONE_VM | CLONE_VFORK` child (the
//! `clone3` path): it writes no memory of the parent but its own stack,
//! the report word and the suspended parent thread's `errno`, and it makes
//! the credential calls as raw syscalls (glibc's `setuid` & co. would
//! signal the parent's threads, whose list it shares, and take a lock).

use std::ffi::{c_char, c_int};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use super::env::EnvBlock;
use super::os::{
    RlimitResource, SetId, close_range, default_raw, rlim, set_groups, set_id,
    set_parent_death_signal,
};
use super::{Plan, SpawnError, SpawnOptions, SpawnPath, SpawnStage, Spawned, Step, nonzero_errno};
use crate::{Errno, Pid};

/// The steps as numbers on the error pipe.
const STAGES: [SpawnStage; 13] = [
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
    SpawnStage::Cgroup,
    SpawnStage::ParentDeathSignal,
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

/// The bit that marks a [`Report::Shared`] word as written.
const FAILED: u64 = 1 << 63;

/// A failed step as one word: [`FAILED`], the step's index, the errno.
fn encode(stage: SpawnStage, errno: c_int) -> u64 {
    FAILED | (u64::from(stage_index(stage)) << 32) | u64::from(errno as u32)
}

/// The error a [`Report::Shared`] word holds, `None` if none was written.
#[cfg_attr(
    not(all(target_os = "linux", target_arch = "x86_64")),
    allow(dead_code)
)]
pub(super) fn decode(word: u64) -> Option<SpawnError> {
    (word & FAILED != 0).then(|| {
        SpawnError::new(
            stage_of(((word & !FAILED) >> 32) as u32),
            nonzero_errno(word as u32 as i32),
        )
    })
}

/// Where the child reports the step that failed.
#[derive(Clone, Copy)]
pub(super) enum Report<'a> {
    /// 8 bytes (step, errno) on this close-on-exec pipe, above every
    /// target; the parent reads end of file when the exec succeeds.
    Pipe(c_int),
    /// [`encode`]d into this word of memory shared with the parent (a
    /// `CLONE_VM` child), which reads it once the child has exec'd or
    /// exited.
    #[cfg_attr(
        not(all(target_os = "linux", target_arch = "x86_64")),
        allow(dead_code)
    )]
    Shared(&'a AtomicU64),
}

/// What the child needs beyond the options and the plan, computed before
/// the fork.
pub(super) struct Prepared<'a> {
    /// Where a failure goes.
    report: Report<'a>,
    /// The `envp` array `execve` gets (the caller's `EnvBlock`, alive
    /// until the spawn returns).
    envp: *const *const c_char,
    /// An fd to write `"0"` into first thing (`cgroup.procs`), or -1.
    procs_fd: c_int,
    /// The highest signal number.
    sigrtmax: c_int,
    /// The lowest real-time signal the libc lets programs use: those from
    /// 32 up to here are the libc's own (glibc: 32, 33; musl: 32-34).
    sigrtmin: c_int,
    /// Whether we run as root (then a new uid without groups drops ours);
    /// asked only when a uid is set without groups.
    root: bool,
    /// The parent death signal, 0 for none.
    pdeath_signal: c_int,
    /// Our pid, which the child's `getppid()` must still return after its
    /// `prctl(PR_SET_PDEATHSIG)`; asked only with a parent death signal.
    parent_pid: libc::pid_t,
}

impl<'a> Prepared<'a> {
    /// What the child of `opts` needs, reporting to `report`, writing
    /// itself into `procs_fd` (-1: not). Makes no syscall for what the
    /// options do not use (a plain start makes none).
    pub(super) fn new(
        opts: &SpawnOptions<'_>,
        envp: &EnvBlock<'_>,
        report: Report<'a>,
        procs_fd: c_int,
    ) -> Self {
        let pdeath_signal = opts.fork.parent_death_signal.unwrap_or(0);
        Prepared {
            report,
            envp: envp.as_ptr(),
            procs_fd,
            sigrtmax: super::os::max_signal(),
            sigrtmin: super::os::first_user_rt_signal(),
            root: opts.fork.uid.is_some()
                && opts.fork.groups.is_none()
                && rustix::process::getuid().is_root(),
            pdeath_signal,
            parent_pid: if pdeath_signal == 0 {
                0
            } else {
                rustix::process::getpid().as_raw_nonzero().get()
            },
        }
    }
}

/// Every signal of this thread blocked until it drops (then the old mask
/// is back): no handler of the parent runs in a child before it resets
/// the dispositions.
pub(super) struct AllBlocked(libc::sigset_t);

impl AllBlocked {
    pub(super) fn new() -> Self {
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: the set is valid for writes; sigfillset initialises it.
        unsafe { libc::sigfillset(all.as_mut_ptr()) };
        // SAFETY: `all` is initialised; `old` is valid for writes and
        // written (pthread_sigmask cannot fail with a valid `how`).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr()) };
        // SAFETY: written by the pthread_sigmask call above.
        AllBlocked(unsafe { old.assume_init() })
    }
}

impl Drop for AllBlocked {
    fn drop(&mut self) {
        // SAFETY: the old mask, initialised in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// `openat(cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC)`, for a child
/// that writes itself there.
fn open_procs(opts: &SpawnOptions<'_>) -> Result<Option<OwnedFd>, SpawnError> {
    let Some(cgroup) = opts.cgroup else {
        return Ok(None);
    };
    rustix::fs::openat(
        cgroup,
        c"cgroup.procs",
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map(Some)
    .map_err(|e| SpawnError::new(SpawnStage::Cgroup, e))
}

/// fork+exec with the options and plan; see [`super::spawn`].
pub(super) fn spawn(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Spawned, SpawnError> {
    let fork_err = |errno| SpawnError::new(SpawnStage::Fork, errno);
    let procs = open_procs(opts)?;
    let (err_r, first_w) = crate::pipe::pipe().map_err(fork_err)?;
    let err_w = report_end(&first_w, plan).map_err(fork_err)?;
    drop(first_w);
    let envp = opts.envp.block();
    let prepared = Prepared::new(
        opts,
        &envp,
        Report::Pipe(err_w.as_raw_fd()),
        procs.as_ref().map_or(-1, AsRawFd::as_raw_fd),
    );

    let blocked = AllBlocked::new();
    // SAFETY: fork has no memory-safety preconditions; the child below only
    // makes async-signal-safe calls on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the child of fork; `child` only makes
        // async-signal-safe calls on memory prepared before the fork.
        unsafe { child(opts, plan, &prepared) }
    }
    let fork_errno = if pid < 0 { Some(last_errno()) } else { None };
    drop(blocked);
    drop(err_w);
    drop(procs);
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
        return Ok(Spawned {
            pid: child_pid,
            path: SpawnPath::Fork,
            pidfd: None,
        });
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

/// Where the child's report pipe end goes: above every target so that no
/// step clobbers it; when that is at the fd limit (a target just below
/// it), the lowest number from 3 up that no action targets (the child's
/// closes skip it).
fn report_end(w: &OwnedFd, plan: &Plan<'_>) -> Result<OwnedFd, Errno> {
    if let Ok(fd) = rustix::io::fcntl_dupfd_cloexec(w, plan.close_from) {
        return Ok(fd);
    }
    let mut taken = Vec::new();
    let mut from = 3;
    loop {
        let fd = rustix::io::fcntl_dupfd_cloexec(w, from)?;
        if !plan.targets(fd.as_raw_fd()) {
            return Ok(fd);
        }
        from = fd.as_raw_fd() + 1;
        taken.push(fd);
    }
}

pub(super) fn last_errno() -> Errno {
    nonzero_errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Closes `first..=last` but `keep`.
///
/// # Safety
/// As [`close_range`].
unsafe fn close_but(first: c_int, last: c_int, keep: c_int) {
    if (first..=last).contains(&keep) {
        // SAFETY: the caller's contract.
        unsafe { close_range(first, keep - 1) };
        // SAFETY: the caller's contract.
        unsafe { close_range(keep + 1, last) };
    } else {
        // SAFETY: the caller's contract.
        unsafe { close_range(first, last) };
    }
}

/// The child side. Never returns: execs or `_exit(127)`s.
///
/// In order: itself into the cgroup (`cgroup.procs`); signal dispositions
/// reset; session or process group; fd steps; every other fd above 2
/// closed; resource limits and umask (before dropping privileges, which
/// may forbid raising a hard limit); groups, gid, uid; the parent death
/// signal (after the credentials, whose change clears it); working
/// directory (as the new user); an empty signal mask; the hook; `execve`.
///
/// # Safety
/// Only in the child of `fork`, or of `clone3(CLONE_VM | CLONE_VFORK)`
/// with [`Report::Shared`] and no hook, with memory prepared before.
#[allow(clippy::multiple_unsafe_ops_per_block)] // one audited sequence of libc calls
pub(super) unsafe fn child(opts: &SpawnOptions<'_>, plan: &Plan<'_>, p: &Prepared<'_>) -> ! {
    let report = p.report;
    let fail = |stage: SpawnStage, errno: c_int| -> ! {
        match report {
            Report::Pipe(fd) => {
                let mut msg = [0u8; 8];
                msg[..4].copy_from_slice(&stage_index(stage).to_ne_bytes());
                msg[4..].copy_from_slice(&errno.to_ne_bytes());
                // SAFETY: write is async-signal-safe; `msg` is ours. A pipe
                // write of 8 bytes is atomic.
                unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
            }
            Report::Shared(word) => word.store(encode(stage, errno), Ordering::SeqCst),
        }
        // SAFETY: _exit is async-signal-safe and ends only this process.
        unsafe { libc::_exit(127) }
    };
    let errno = || {
        // SAFETY: reading this thread's errno is async-signal-safe.
        unsafe { super::os::errno() }
    };
    // SAFETY: every call below is async-signal-safe and reads only memory
    // prepared before the fork (`opts`, `plan`, `p`); see the module docs.
    unsafe {
        // Into the cgroup before anything else, so every later step (and
        // the program's first instruction) happens there.
        if p.procs_fd >= 0 && libc::write(p.procs_fd, b"0".as_ptr().cast(), 1) < 0 {
            fail(SpawnStage::Cgroup, errno());
        }

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
                    let fd = libc::open(path.as_ptr(), flags, libc::c_uint::from(mode));
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
        let keep = match report {
            Report::Pipe(err_fd) => err_fd,
            Report::Shared(_) => -1,
        };
        for &(first, last) in &plan.gaps {
            close_but(first, last, keep);
        }
        close_but(plan.close_from, c_int::MAX, keep);

        for &(resource, soft, hard) in &opts.fork.rlimits {
            let lim = libc::rlimit {
                rlim_cur: rlim(soft),
                rlim_max: rlim(hard),
            };
            if libc::setrlimit(resource as RlimitResource, &lim) < 0 {
                fail(SpawnStage::Rlimit, errno());
            }
        }
        if let Some(mask) = opts.fork.umask {
            libc::umask(mask as libc::mode_t);
        }

        let groups_failed = match &opts.fork.groups {
            Some(g) => set_groups(g.len(), g.as_ptr()) < 0,
            // As std: root becoming another user keeps none of root's groups.
            None if opts.fork.uid.is_some() && p.root => {
                set_groups(0, std::ptr::null());
                false
            }
            None => false,
        };
        if groups_failed {
            fail(SpawnStage::Credentials, errno());
        }
        if let Some(gid) = opts.fork.gid
            && set_id(SetId::Gid, gid) < 0
        {
            fail(SpawnStage::Credentials, errno());
        }
        if let Some(uid) = opts.fork.uid
            && set_id(SetId::Uid, uid) < 0
        {
            fail(SpawnStage::Credentials, errno());
        }

        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if p.pdeath_signal != 0 {
            let sig = p.pdeath_signal;
            if set_parent_death_signal(sig) < 0 {
                fail(SpawnStage::ParentDeathSignal, errno());
            }
            // The parent died before the prctl (we were reparented): the
            // kernel will never send it, so it is due now.
            if libc::getppid() != p.parent_pid {
                libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                libc::kill(libc::getpid(), sig);
                libc::_exit(128 + sig);
            }
        }

        if let Some(cwd) = &opts.cwd
            && libc::chdir(cwd.as_ptr()) < 0
        {
            fail(SpawnStage::Cwd, errno());
        }

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
            p.envp.cast(),
        );
        fail(SpawnStage::Exec, errno())
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

    #[test]
    fn shared_words_decode_to_the_step_and_errno() {
        assert!(decode(0).is_none());
        for &s in &STAGES {
            for errno in [libc::ENOENT, libc::EACCES, 0] {
                let e = decode(encode(s, errno)).unwrap();
                assert_eq!((e.stage, e.errno), (s, nonzero_errno(errno)));
            }
        }
    }
}
