//! The `posix_spawn` path (glibc, musl, macOS, FreeBSD): attributes for
//! the signal state and the process group or session, file actions for the
//! fds and the working directory, and telling a bad working directory from
//! a bad program afterwards.
//!
//! What closes the fds the child must not get differs: glibc and FreeBSD
//! (13.1+) have `posix_spawn_file_actions_addclosefrom_np`; macOS has
//! `POSIX_SPAWN_CLOEXEC_DEFAULT` (every fd not named by an action is
//! closed, so 0, 1 and 2 are named with `addinherit_np`); musl has
//! neither, so the fds above the targets that are open without
//! close-on-exec when the spawn is prepared (`/proc/self/fd`) get one close
//! action each (one opened without close-on-exec by another thread during
//! the spawn may then reach the child: open fds close-on-exec, as spawn
//! does). The working directory is `addchdir_np` everywhere (macOS 10.15+,
//! FreeBSD 13.1+). FreeBSD has no `POSIX_SPAWN_SETSID`: a new session
//! forks there.

#![allow(unsafe_code)]
//! # Safety
//! The `posix_spawnattr_*` and `posix_spawn_file_actions_*` objects are
//! initialised before use and destroyed once (by their `Drop`). Every
//! pointer given to `posix_spawn` (program, argv, envp, paths) points into
//! the caller's [`SpawnOptions`], alive and unchanged for the whole call;
//! glibc copies what it keeps.

use std::ffi::{CStr, c_char, c_int, c_short};
use std::mem::MaybeUninit;

use rustix::fs::{Access, FileType};

use super::{
    MAX_GAP_CLOSES, Plan, SpawnError, SpawnOptions, SpawnPath, SpawnStage, Spawned, Step,
    nonzero_errno,
};
use crate::{Errno, Pid};

/// `O_PATH` where there is one: a directory opened only to look up in.
#[cfg(not(target_vendor = "apple"))]
const DIR_LOOKUP: rustix::fs::OFlags = rustix::fs::OFlags::PATH;
/// macOS has no `O_PATH`: a directory opened for reading.
#[cfg(target_vendor = "apple")]
const DIR_LOOKUP: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY;

/// `POSIX_SPAWN_SETSID` (glibc 2.26+, musl 1.1.24+).
#[cfg(target_os = "linux")]
const SETSID: c_short = libc::POSIX_SPAWN_SETSID;
/// `POSIX_SPAWN_SETSID` (macOS 10.15+; the libc crate lacks it).
#[cfg(target_vendor = "apple")]
const SETSID: c_short = 0x0400;
/// FreeBSD has no `POSIX_SPAWN_SETSID` (see [`HAS_SETSID`]).
#[cfg(target_os = "freebsd")]
const SETSID: c_short = 0;
/// Whether the libc's `posix_spawn` can make a session.
const HAS_SETSID: bool = SETSID != 0;

/// macOS's `POSIX_SPAWN_CLOEXEC_DEFAULT`: no fd reaches the child unless an
/// action names it.
#[cfg(target_vendor = "apple")]
const CLOEXEC_DEFAULT: c_int = libc::POSIX_SPAWN_CLOEXEC_DEFAULT;
/// Elsewhere the fds are closed by actions.
#[cfg(not(target_vendor = "apple"))]
const CLOEXEC_DEFAULT: c_int = 0;

#[cfg(target_env = "gnu")]
use libc::posix_spawn_file_actions_addclosefrom_np as addclosefrom_np;

#[cfg(any(target_env = "gnu", target_env = "musl", target_vendor = "apple"))]
use libc::posix_spawn_file_actions_addchdir_np as addchdir_np;

// FreeBSD 13.1+ has both; the libc crate does not declare them.
#[cfg(target_os = "freebsd")]
unsafe extern "C" {
    #[link_name = "posix_spawn_file_actions_addclosefrom_np"]
    fn addclosefrom_np(fa: *mut libc::posix_spawn_file_actions_t, from: c_int) -> c_int;
    #[link_name = "posix_spawn_file_actions_addchdir_np"]
    fn addchdir_np(fa: *mut libc::posix_spawn_file_actions_t, path: *const c_char) -> c_int;
}

// macOS: the libc crate does not declare it.
#[cfg(target_vendor = "apple")]
unsafe extern "C" {
    fn posix_spawn_file_actions_addinherit_np(
        fa: *mut libc::posix_spawn_file_actions_t,
        fd: c_int,
    ) -> c_int;
}

struct Attr(libc::posix_spawnattr_t);

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by `posix_spawnattr_init` (see `attr`), and
        // destroyed only here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

struct Actions(libc::posix_spawn_file_actions_t);

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised by `posix_spawn_file_actions_init` (see
        // `file_actions`), and destroyed only here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

fn check(stage: SpawnStage, r: c_int) -> Result<(), SpawnError> {
    if r == 0 {
        Ok(())
    } else {
        Err(SpawnError::new(stage, nonzero_errno(r)))
    }
}

fn setup(r: c_int) -> Result<(), SpawnError> {
    check(SpawnStage::Setup, r)
}

/// Signals reset to default and an empty mask; the process group or
/// session.
fn attr(opts: &SpawnOptions<'_>) -> Result<Attr, SpawnError> {
    let mut raw = MaybeUninit::<libc::posix_spawnattr_t>::uninit();
    // SAFETY: `raw` is valid for writes; init fully initialises it.
    setup(unsafe { libc::posix_spawnattr_init(raw.as_mut_ptr()) })?;
    // SAFETY: initialised just above.
    let mut attr = Attr(unsafe { raw.assume_init() });
    let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes; sigemptyset initialises it.
    unsafe { libc::sigemptyset(empty.as_mut_ptr()) };
    // SAFETY: `attr` is initialised; the set was initialised above.
    setup(unsafe { libc::posix_spawnattr_setsigmask(&mut attr.0, empty.as_ptr()) })?;
    let every = every_signal();
    // SAFETY: as above; glibc copies the set.
    setup(unsafe { libc::posix_spawnattr_setsigdefault(&mut attr.0, &every) })?;
    let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
    if let Some(pg) = opts.process_group {
        flags |= libc::POSIX_SPAWN_SETPGROUP;
        // SAFETY: `attr` is initialised.
        setup(unsafe { libc::posix_spawnattr_setpgroup(&mut attr.0, pg) })?;
    }
    if opts.new_session {
        flags |= c_int::from(SETSID);
    }
    flags |= CLOEXEC_DEFAULT;
    let flags =
        c_short::try_from(flags).map_err(|_| SpawnError::new(SpawnStage::Setup, Errno::INVAL))?;
    // SAFETY: `attr` is initialised; the flags are valid POSIX_SPAWN_* bits.
    setup(unsafe { libc::posix_spawnattr_setflags(&mut attr.0, flags) })?;
    Ok(attr)
}

/// A set with every signal, glibc's reserved ones (32 and 33) included,
/// for the sigdefault attribute.
///
/// The child of glibc's `posix_spawn` sets each signal that is not in the
/// sigdefault set and that it blocked around the clone (all of them) to
/// `SIG_IGN` if glibc reserves it, so 32 and 33 end up ignored, and
/// ignored survives `exec`. `sigfillset` leaves them out and `sigaddset`
/// refuses them; glibc's own test of the set (`__sigismember`) does not:
/// the bits are set by hand.
fn every_signal() -> libc::sigset_t {
    // SAFETY: `sigset_t` is plain data (an array of words); all-zero is the
    // empty set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // glibc's layout: bit `n - 1` of the array of `unsigned long` words is
    // signal `n`. Every bit: signals above `_NSIG` are never looked at.
    let bytes = size_of::<libc::sigset_t>();
    // SAFETY: `set` is `bytes` bytes of plain data that we own; writing
    // 0xff into every byte sets every bit of every word.
    unsafe { std::ptr::write_bytes(std::ptr::from_mut(&mut set).cast::<u8>(), 0xff, bytes) };
    set
}

/// The plan's steps, then the gaps and everything above the targets
/// closed, then the working directory.
fn file_actions(
    opts: &SpawnOptions<'_>,
    plan: &Plan<'_>,
    above: &[c_int],
) -> Result<Actions, SpawnError> {
    let fd_action = |r| check(SpawnStage::FdAction, r);
    let mut raw = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
    // SAFETY: `raw` is valid for writes; init fully initialises it.
    setup(unsafe { libc::posix_spawn_file_actions_init(raw.as_mut_ptr()) })?;
    // SAFETY: initialised just above.
    let mut fa = Actions(unsafe { raw.assume_init() });
    for step in &plan.steps {
        match *step {
            Step::Dup2 { src, dst } => {
                // SAFETY: `fa` is initialised; `src` stays open until the
                // spawn returns (borrowed from the caller or held by `plan`).
                fd_action(unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa.0, src, dst) })?;
            }
            Step::Close { dst } => {
                // SAFETY: `fa` is initialised.
                fd_action(unsafe { libc::posix_spawn_file_actions_addclose(&mut fa.0, dst) })?;
            }
            Step::Open {
                dst,
                path,
                flags,
                mode,
            } => {
                // SAFETY: `fa` is initialised; `path` is NUL-terminated and
                // glibc copies it.
                fd_action(unsafe {
                    libc::posix_spawn_file_actions_addopen(
                        &mut fa.0,
                        dst,
                        path.as_ptr(),
                        flags,
                        mode,
                    )
                })?;
            }
        }
    }
    close_the_rest(&mut fa, plan, above)?;
    if let Some(cwd) = &opts.cwd {
        // SAFETY: `fa` is initialised; `cwd` is NUL-terminated and the
        // libc copies it.
        setup(unsafe { addchdir_np(&mut fa.0, cwd.as_ptr()) })?;
    }
    Ok(fa)
}

/// Closes the gaps one by one, then every fd from `plan.close_from` up
/// (glibc, FreeBSD: `addclosefrom_np`). The libc ignores `EBADF` from a
/// close action, so closing a gap that was not open is fine.
#[cfg(not(any(
    target_vendor = "apple",
    all(target_os = "linux", not(target_env = "gnu"))
)))]
fn close_the_rest(fa: &mut Actions, plan: &Plan<'_>, _above: &[c_int]) -> Result<(), SpawnError> {
    close_gaps(fa, plan)?;
    // SAFETY: `fa` is initialised.
    check(SpawnStage::FdAction, unsafe {
        addclosefrom_np(&mut fa.0, plan.close_from)
    })
}

/// musl: the gaps, then `above` (the open fds without close-on-exec from
/// `plan.close_from` up, see [`open_inheritable_above`]), one by one.
#[cfg(all(target_os = "linux", not(target_env = "gnu")))]
fn close_the_rest(fa: &mut Actions, plan: &Plan<'_>, above: &[c_int]) -> Result<(), SpawnError> {
    close_gaps(fa, plan)?;
    for &fd in above {
        // SAFETY: `fa` is initialised.
        check(SpawnStage::FdAction, unsafe {
            libc::posix_spawn_file_actions_addclose(&mut fa.0, fd)
        })?;
    }
    Ok(())
}

/// macOS: `POSIX_SPAWN_CLOEXEC_DEFAULT` closes every fd no action names;
/// 0, 1 and 2, when open, inheritable and not a target, are named so that
/// the child keeps them as the other systems' children do.
#[cfg(target_vendor = "apple")]
fn close_the_rest(fa: &mut Actions, plan: &Plan<'_>, _above: &[c_int]) -> Result<(), SpawnError> {
    for fd in 0..3 {
        if plan.targets(fd) {
            continue;
        }
        // SAFETY: F_GETFD takes no pointer; a closed fd answers EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 || flags & libc::FD_CLOEXEC != 0 {
            continue;
        }
        // SAFETY: `fa` is initialised.
        check(SpawnStage::FdAction, unsafe {
            posix_spawn_file_actions_addinherit_np(&mut fa.0, fd)
        })?;
    }
    Ok(())
}

/// A close action for each fd of the gaps.
#[cfg(not(target_vendor = "apple"))]
fn close_gaps(fa: &mut Actions, plan: &Plan<'_>) -> Result<(), SpawnError> {
    for &(first, last) in &plan.gaps {
        for fd in first..=last {
            // SAFETY: `fa` is initialised.
            check(SpawnStage::FdAction, unsafe {
                libc::posix_spawn_file_actions_addclose(&mut fa.0, fd)
            })?;
        }
    }
    Ok(())
}

/// musl: the fds from `from` up that are open without close-on-exec now,
/// from `/proc/self/fd`; `None` when it cannot be read or they are more
/// than [`MAX_GAP_CLOSES`] (then the caller forks, which closes ranges).
#[cfg(all(target_os = "linux", not(target_env = "gnu")))]
fn open_inheritable_above(from: c_int) -> Option<Vec<c_int>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").ok()? {
        let entry = entry.ok()?;
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<c_int>().ok())
        else {
            continue;
        };
        if fd < from {
            continue;
        }
        // SAFETY: F_GETFD takes no pointer; a closed fd (the directory's
        // own, gone by now) answers EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            fds.push(fd);
        }
    }
    (fds.len() <= MAX_GAP_CLOSES).then_some(fds)
}

/// `posix_spawn` with the options and plan, or `None` when it cannot do
/// what they ask on this system (too many gaps to close one by one, a new
/// session on FreeBSD): the caller forks then. See [`super::spawn`].
pub(super) fn spawn(
    opts: &SpawnOptions<'_>,
    plan: &Plan<'_>,
) -> Option<Result<Spawned, SpawnError>> {
    if plan.gap_fds() > MAX_GAP_CLOSES || (opts.new_session && !HAS_SETSID) {
        return None;
    }
    #[cfg(all(target_os = "linux", not(target_env = "gnu")))]
    let above = open_inheritable_above(plan.close_from)?;
    #[cfg(not(all(target_os = "linux", not(target_env = "gnu"))))]
    let above: Vec<c_int> = Vec::new();
    Some(spawn_with(opts, plan, &above))
}

/// `posix_spawn` with the options and plan, `above` closed too (musl).
fn spawn_with(
    opts: &SpawnOptions<'_>,
    plan: &Plan<'_>,
    above: &[c_int],
) -> Result<Spawned, SpawnError> {
    let attr = attr(opts)?;
    let fa = file_actions(opts, plan, above)?;
    let mut pid: libc::pid_t = 0;
    let envp = opts.envp.block();
    // SAFETY: every pointer is valid for the call: `pid` for writes, the
    // program NUL-terminated, argv and envp NULL-terminated arrays of
    // NUL-terminated strings owned by `opts` (or, for envp, `envp` and
    // the environment it points into), `fa` and `attr` initialised.
    // posix_spawn keeps none of them.
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            opts.program.as_ptr(),
            &fa.0,
            &attr.0,
            opts.argv.as_ptr().cast::<*mut c_char>(),
            envp.as_ptr().cast::<*mut c_char>(),
        )
    };
    if r != 0 {
        return Err(classify(opts, nonzero_errno(r)));
    }
    let pid = Pid::from_raw(pid).ok_or(SpawnError::new(SpawnStage::Exec, Errno::INVAL))?;
    Ok(Spawned {
        pid,
        path: SpawnPath::PosixSpawn,
        pidfd: None,
    })
}

/// Errnos that a path lookup gives, from `chdir`, `open` or `execve` alike.
const PATH_ERRNOS: [Errno; 5] = [
    Errno::NOENT,
    Errno::NOTDIR,
    Errno::ACCESS,
    Errno::LOOP,
    Errno::NAMETOOLONG,
];

/// glibc reports the failure of `setpgid`, of a file action, of `chdir` and
/// of `execve` the same way: tell them apart by the errno and by looking
/// from here. `EPERM`/`ESRCH` with a process group asked for is `setpgid`;
/// for path errors, a working directory that is not an accessible directory
/// is the culprit first; then, when there are `Open` actions, a program that
/// looks executable clears the exec step.
fn classify(opts: &SpawnOptions<'_>, errno: Errno) -> SpawnError {
    let exec = SpawnError::new(SpawnStage::Exec, errno);
    // setpgid's errors; setsid cannot fail in a fresh child (never a group
    // leader), and exec fails with these only in rare setups.
    if opts.process_group.is_some() && [Errno::PERM, Errno::SRCH].contains(&errno) {
        return SpawnError::new(SpawnStage::ProcessGroup, errno);
    }
    if !PATH_ERRNOS.contains(&errno) {
        return exec;
    }
    if let Some(cwd) = &opts.cwd {
        let why = match rustix::fs::stat(cwd.as_c_str()) {
            Err(e) => Some(e),
            Ok(st) if FileType::from_raw_mode(st.st_mode) != FileType::Directory => {
                Some(Errno::NOTDIR)
            }
            Ok(_) => rustix::fs::access(cwd.as_c_str(), Access::EXEC_OK).err(),
        };
        if let Some(why) = why {
            return SpawnError::new(SpawnStage::Cwd, why);
        }
    }
    let opens = plan_has_open(opts);
    if opens && program_looks_executable(opts) {
        return SpawnError::new(SpawnStage::FdAction, errno);
    }
    exec
}

fn plan_has_open(opts: &SpawnOptions<'_>) -> bool {
    opts.fd_actions
        .iter()
        .any(|a| matches!(a, super::FdAction::Open { .. }))
}

/// Whether the program is an executable file, as the child would find it
/// (a relative path under `cwd`).
fn program_looks_executable(opts: &SpawnOptions<'_>) -> bool {
    let program: &CStr = &opts.program;
    let st = match (&opts.cwd, program.to_bytes().first()) {
        (Some(cwd), Some(&c)) if c != b'/' => {
            let Ok(dir) = rustix::fs::open(
                cwd.as_c_str(),
                DIR_LOOKUP | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) else {
                return false;
            };
            let Ok(st) = rustix::fs::statat(&dir, program, rustix::fs::AtFlags::empty()) else {
                return false;
            };
            if rustix::fs::accessat(&dir, program, Access::EXEC_OK, rustix::fs::AtFlags::empty())
                .is_err()
            {
                return false;
            }
            st
        }
        _ => {
            let Ok(st) = rustix::fs::stat(program) else {
                return false;
            };
            if rustix::fs::access(program, Access::EXEC_OK).is_err() {
                return false;
            }
            st
        }
    };
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}
