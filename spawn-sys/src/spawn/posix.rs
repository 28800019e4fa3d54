//! The `posix_spawn` path (glibc): attributes for the signal state and the
//! process group or session, file actions for the fds and the working
//! directory, and telling a bad working directory from a bad program
//! afterwards.

#![allow(unsafe_code)]
//! # Safety
//! The `posix_spawnattr_*` and `posix_spawn_file_actions_*` objects are
//! initialised before use and destroyed once (by their `Drop`). Every
//! pointer given to `posix_spawn` (program, argv, envp, paths) points into
//! the caller's [`SpawnOptions`], alive and unchanged for the whole call;
//! glibc copies what it keeps.

use std::ffi::{CStr, c_char, c_int};
use std::mem::MaybeUninit;

use rustix::fs::{Access, FileType};

use super::{Plan, SpawnError, SpawnOptions, SpawnPath, SpawnStage, Spawned, Step, nonzero_errno};
use crate::{Errno, Pid};

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
        flags |= c_int::from(libc::POSIX_SPAWN_SETSID);
    }
    let flags = libc::c_short::try_from(flags)
        .map_err(|_| SpawnError::new(SpawnStage::Setup, Errno::INVAL))?;
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
fn file_actions(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Actions, SpawnError> {
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
    // glibc ignores EBADF from a close action, so closing a gap that was
    // not open is fine.
    for &(first, last) in &plan.gaps {
        for fd in first..=last {
            // SAFETY: `fa` is initialised.
            fd_action(unsafe { libc::posix_spawn_file_actions_addclose(&mut fa.0, fd) })?;
        }
    }
    // SAFETY: `fa` is initialised.
    fd_action(unsafe {
        libc::posix_spawn_file_actions_addclosefrom_np(&mut fa.0, plan.close_from)
    })?;
    if let Some(cwd) = &opts.cwd {
        // SAFETY: `fa` is initialised; `cwd` is NUL-terminated and glibc
        // copies it.
        setup(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut fa.0, cwd.as_ptr()) })?;
    }
    Ok(fa)
}

/// `posix_spawn` with the options and plan; see [`super::spawn`].
pub(super) fn spawn(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Spawned, SpawnError> {
    let attr = attr(opts)?;
    let fa = file_actions(opts, plan)?;
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
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
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
