//! Starting a program: `posix_spawn` with fd actions, working directory,
//! process group or session, a clean signal state and no stray fds; a
//! fork+exec fallback for what `posix_spawn` cannot express; and the `PATH`
//! search done against the child's environment.

#![allow(unsafe_code)]
//! # Safety
//! This module calls `posix_spawn` and its attribute/file-action helpers,
//! and `fork`/`execve`. The pointers passed live in [`CStringArray`]s and
//! `CString`s owned by the caller's [`SpawnOptions`] for the whole call. In
//! the fork fallback, the child runs only async-signal-safe calls (no
//! allocation, no locks) on memory prepared before the fork.

use std::ffi::{CStr, CString, c_char, c_int};
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{Mode, OFlags};

use crate::{Errno, Pid};

/// A list of C strings (argv or envp) with the NULL-terminated pointer
/// array `execve` wants.
pub struct CStringArray {
    items: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the raw pointers point into the `CString`s owned by the same
// value and are only read; moving or sharing it between threads is as safe
// as moving or sharing a `Vec<CString>`.
unsafe impl Send for CStringArray {}
// SAFETY: as above; no interior mutability.
unsafe impl Sync for CStringArray {}

impl fmt::Debug for CStringArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl Default for CStringArray {
    fn default() -> Self {
        Self::new()
    }
}

/// A NUL byte inside a string that must become a C string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InteriorNul {
    /// Where the NUL is.
    pub position: usize,
}

impl fmt::Display for InteriorNul {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "contains a NUL byte at position {}", self.position)
    }
}

impl std::error::Error for InteriorNul {}

impl CStringArray {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        CStringArray {
            items: Vec::new(),
            ptrs: vec![std::ptr::null()],
        }
    }

    /// Appends `item`.
    ///
    /// # Errors
    /// When `item` contains a NUL byte.
    pub fn push(&mut self, item: &[u8]) -> Result<(), InteriorNul> {
        let c = CString::new(item).map_err(|e| InteriorNul {
            position: e.nul_position(),
        })?;
        // The CString's heap buffer does not move when `items` grows.
        let last = self.ptrs.len() - 1;
        self.ptrs.insert(last, c.as_ptr());
        self.items.push(c);
        Ok(())
    }

    /// How many strings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The strings.
    pub fn iter(&self) -> impl Iterator<Item = &CStr> {
        self.items.iter().map(CString::as_c_str)
    }

    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// Why an environment could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// A key or value contains a NUL byte.
    InteriorNul,
    /// A key is empty.
    KeyEmpty,
    /// A key contains `=`.
    KeyHasEquals,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvError::InteriorNul => "contains a NUL byte",
            EnvError::KeyEmpty => "the name is empty",
            EnvError::KeyHasEquals => "the name contains '='",
        })
    }
}

impl std::error::Error for EnvError {}

/// Builds an envp (`KEY=VALUE` strings) from pairs.
///
/// # Errors
/// A key that is empty or contains `=`, or a NUL byte anywhere.
pub fn env_array<'a>(
    vars: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<CStringArray, EnvError> {
    let mut out = CStringArray::new();
    let mut buf = Vec::new();
    for (k, v) in vars {
        if k.is_empty() {
            return Err(EnvError::KeyEmpty);
        }
        if k.contains(&b'=') {
            return Err(EnvError::KeyHasEquals);
        }
        buf.clear();
        buf.extend_from_slice(k);
        buf.push(b'=');
        buf.extend_from_slice(v);
        out.push(&buf).map_err(|_| EnvError::InteriorNul)?;
    }
    Ok(out)
}

/// What happens to one fd of the child before it runs the program, in order.
/// `dst` is an fd number in the child.
#[derive(Debug)]
pub enum FdAction<'fd> {
    /// `dup2(src, dst)`: the child's `dst` is our `src`. Correct when sources
    /// and targets overlap (swapping 1 and 2 works) and when `src` is
    /// already numbered `dst`.
    Dup2 {
        /// Our fd.
        src: BorrowedFd<'fd>,
        /// The child's fd number.
        dst: i32,
    },
    /// The child's `dst` is closed.
    Close {
        /// The child's fd number.
        dst: i32,
    },
    /// The child's `dst` is `path`, opened with `flags` and `mode`.
    Open {
        /// The child's fd number.
        dst: i32,
        /// The file.
        path: CString,
        /// `open(2)` flags.
        flags: OFlags,
        /// `open(2)` mode, for created files.
        mode: Mode,
    },
}

/// A pre-exec hook: runs in the child after fork, before exec.
///
/// # Warning
/// It runs in a forked copy of a possibly multi-threaded process: it must
/// only make async-signal-safe calls (no allocation, no locks, no `println!`).
pub type PreExec = Box<dyn Fn() -> io::Result<()> + Send + Sync>;

/// What only fork+exec can do. When any is set, [`spawn`] forks.
#[derive(Default)]
pub struct ForkOptions {
    /// `setuid` in the child.
    pub uid: Option<u32>,
    /// `setgid` in the child.
    pub gid: Option<u32>,
    /// `setgroups` in the child.
    pub groups: Option<Vec<u32>>,
    /// `umask` in the child.
    pub umask: Option<u32>,
    /// `setrlimit(resource, soft, hard)` in the child (`libc::RLIMIT_*`).
    pub rlimits: Vec<(i32, u64, u64)>,
    /// A hook run just before exec.
    pub pre_exec: Option<PreExec>,
}

impl fmt::Debug for ForkOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkOptions")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("groups", &self.groups)
            .field("umask", &self.umask)
            .field("rlimits", &self.rlimits)
            .field("pre_exec", &self.pre_exec.is_some())
            .finish()
    }
}

impl ForkOptions {
    /// Whether anything here needs fork+exec.
    #[must_use]
    pub fn needs_fork(&self) -> bool {
        self.uid.is_some()
            || self.gid.is_some()
            || self.groups.is_some()
            || self.umask.is_some()
            || !self.rlimits.is_empty()
            || self.pre_exec.is_some()
    }
}

/// Everything about starting one program.
#[derive(Debug)]
pub struct SpawnOptions<'fd> {
    /// The file to execute (already resolved, see [`find_program`]).
    pub program: CString,
    /// The arguments, `argv[0]` first.
    pub argv: CStringArray,
    /// The environment.
    pub envp: CStringArray,
    /// The working directory, if not ours.
    pub cwd: Option<CString>,
    /// What happens to the child's fds, in order. Fds 0, 1, 2 not named here
    /// are inherited; every other fd is closed in the child unless named as a
    /// `Dup2` target.
    pub fd_actions: Vec<FdAction<'fd>>,
    /// `Some(0)`: a new process group led by the child; `Some(pgid)`: join it.
    pub process_group: Option<i32>,
    /// A new session (`setsid`).
    pub new_session: bool,
    /// What needs fork+exec.
    pub fork: ForkOptions,
}

/// The step that failed to start a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnStage {
    /// Executing the program.
    Exec,
    /// Changing to the working directory.
    Cwd,
    /// An fd action.
    FdAction,
    /// Joining or making the process group.
    ProcessGroup,
    /// Making the session.
    Session,
    /// setuid/setgid/setgroups.
    Credentials,
    /// umask.
    Umask,
    /// setrlimit.
    Rlimit,
    /// The pre-exec hook.
    PreExec,
    /// `fork` itself, or the pipe that reports errors.
    Fork,
    /// Setting up the spawn attributes in the parent.
    Setup,
}

/// A failure to start a child, with the step that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError {
    /// The error.
    pub errno: Errno,
    /// The step.
    pub stage: SpawnStage,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: {}",
            self.stage,
            io::Error::from_raw_os_error(self.errno.raw_os_error())
        )
    }
}

impl std::error::Error for SpawnError {}

fn errno_of(r: c_int) -> Errno {
    nonzero_errno(r)
}

fn last_errno() -> Errno {
    nonzero_errno(io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// An `Errno` from a raw value, `EIO` for 0 (rustix requires nonzero).
fn nonzero_errno(raw: i32) -> Errno {
    if raw == 0 {
        Errno::IO
    } else {
        Errno::from_raw_os_error(raw)
    }
}

fn setup_err(r: c_int) -> Result<(), SpawnError> {
    if r == 0 {
        Ok(())
    } else {
        Err(SpawnError {
            errno: errno_of(r),
            stage: SpawnStage::Setup,
        })
    }
}

/// The fd actions made safe against overlap: every `Dup2` source that is
/// numbered below 3 or equal to some target is first duplicated (in the
/// parent, close-on-exec) above every target. Then no source is a target,
/// and the actions can run in any order, and `dup2` always clears
/// close-on-exec on the target.
struct Plan<'a> {
    dups: Vec<(i32, i32)>,
    others: Vec<&'a FdAction<'a>>,
    /// Sources moved out of the way; closed when the plan is dropped.
    _moved: Vec<OwnedFd>,
    /// The highest target, or 2.
    max_dst: i32,
    /// Targets of 3 and more, kept open in the child.
    high_targets: Vec<i32>,
}

fn plan<'a>(actions: &'a [FdAction<'a>]) -> Result<Plan<'a>, SpawnError> {
    let targets: Vec<i32> = actions
        .iter()
        .map(|a| match a {
            FdAction::Dup2 { dst, .. } | FdAction::Close { dst } | FdAction::Open { dst, .. } => {
                *dst
            }
        })
        .collect();
    let max_dst = targets.iter().copied().max().unwrap_or(2).max(2);
    let mut high_targets: Vec<i32> = targets.iter().copied().filter(|&t| t >= 3).collect();
    high_targets.sort_unstable();
    high_targets.dedup();
    let mut dups = Vec::new();
    let mut others = Vec::new();
    let mut moved = Vec::new();
    for a in actions {
        match a {
            FdAction::Dup2 { src, dst } => {
                let raw = src.as_raw_fd();
                if raw < 3 || targets.contains(&raw) {
                    let m = rustix::io::fcntl_dupfd_cloexec(src, max_dst + 1).map_err(|e| {
                        SpawnError {
                            errno: e,
                            stage: SpawnStage::FdAction,
                        }
                    })?;
                    dups.push((m.as_raw_fd(), *dst));
                    moved.push(m);
                } else {
                    dups.push((raw, *dst));
                }
            }
            other => others.push(other),
        }
    }
    Ok(Plan {
        dups,
        others,
        _moved: moved,
        max_dst,
        high_targets,
    })
}

/// `posix_spawn`—Starts `opts.program` as the options say and returns its
/// pid.
///
/// In the child: the signal mask is emptied and every signal reset to its
/// default (a Rust parent ignores `SIGPIPE`; the child must not inherit
/// that); the fd actions are applied; every fd but 0, 1, 2 and the `Dup2`
/// targets is closed (even fds another part of the program opened without
/// close-on-exec); then the working directory is changed and the program
/// executed. A failure of any step is this call's error (glibc reports the
/// child's errno).
///
/// When [`ForkOptions::needs_fork`], fork+exec is used instead, with the
/// same semantics plus those options; a failure in the child comes back
/// through a close-on-exec pipe as the real errno and step.
///
/// # Errors
/// The step that failed and its errno. `stage` is [`SpawnStage::Cwd`] when
/// the working directory is unusable, [`SpawnStage::Exec`] for the program.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/posix_spawn.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/posix_spawn.3.html)
pub fn spawn(opts: &SpawnOptions<'_>) -> Result<Pid, SpawnError> {
    let plan = plan(&opts.fd_actions)?;
    let result = if opts.fork.needs_fork() {
        fork_exec(opts, &plan)
    } else {
        posix_spawn(opts, &plan)
    };
    result.map_err(|e| classify(opts, e))
}

/// glibc reports exec and chdir failures the same way: tell them apart by
/// checking the directory from here.
fn classify(opts: &SpawnOptions<'_>, e: SpawnError) -> SpawnError {
    if e.stage != SpawnStage::Exec {
        return e;
    }
    let Some(cwd) = &opts.cwd else { return e };
    if ![
        Errno::NOENT,
        Errno::NOTDIR,
        Errno::ACCESS,
        Errno::LOOP,
        Errno::NAMETOOLONG,
    ]
    .contains(&e.errno)
    {
        return e;
    }
    let dir_ok = match rustix::fs::stat(cwd.as_c_str()) {
        Ok(st) => {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
                && rustix::fs::access(cwd.as_c_str(), rustix::fs::Access::EXEC_OK).is_ok()
        }
        Err(_) => false,
    };
    if dir_ok {
        return e;
    }
    let errno = match rustix::fs::stat(cwd.as_c_str()) {
        Err(err) => err,
        Ok(st)
            if rustix::fs::FileType::from_raw_mode(st.st_mode)
                != rustix::fs::FileType::Directory =>
        {
            Errno::NOTDIR
        }
        Ok(_) => Errno::ACCESS,
    };
    SpawnError {
        errno,
        stage: SpawnStage::Cwd,
    }
}

struct Attr(libc::posix_spawnattr_t);

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised by `posix_spawnattr_init` in `posix_spawn`.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

struct Actions(libc::posix_spawn_file_actions_t);

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised by `posix_spawn_file_actions_init`.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

fn posix_spawn(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Pid, SpawnError> {
    let mut attr = MaybeUninit::<libc::posix_spawnattr_t>::uninit();
    // SAFETY: `attr` is valid for writes; init fully initialises it.
    setup_err(unsafe { libc::posix_spawnattr_init(attr.as_mut_ptr()) })?;
    // SAFETY: initialised just above.
    let mut attr = Attr(unsafe { attr.assume_init() });
    let mut flags = (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
    let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
    let mut full = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes; sigemptyset initialises it.
    unsafe { libc::sigemptyset(empty.as_mut_ptr()) };
    // SAFETY: the set is valid for writes; sigfillset initialises it.
    unsafe { libc::sigfillset(full.as_mut_ptr()) };
    // SAFETY: `attr` is initialised; the sets were initialised above.
    setup_err(unsafe { libc::posix_spawnattr_setsigmask(&mut attr.0, empty.as_ptr()) })?;
    // SAFETY: as above.
    setup_err(unsafe { libc::posix_spawnattr_setsigdefault(&mut attr.0, full.as_ptr()) })?;
    if let Some(pg) = opts.process_group {
        flags |= libc::POSIX_SPAWN_SETPGROUP as libc::c_short;
        // SAFETY: `attr` is initialised.
        setup_err(unsafe { libc::posix_spawnattr_setpgroup(&mut attr.0, pg) })?;
    }
    if opts.new_session {
        flags |= libc::POSIX_SPAWN_SETSID;
    }
    // SAFETY: `attr` is initialised; the flags are valid POSIX_SPAWN_* bits.
    setup_err(unsafe { libc::posix_spawnattr_setflags(&mut attr.0, flags) })?;

    let mut fa = MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit();
    // SAFETY: `fa` is valid for writes; init fully initialises it.
    setup_err(unsafe { libc::posix_spawn_file_actions_init(fa.as_mut_ptr()) })?;
    // SAFETY: initialised just above.
    let mut fa = Actions(unsafe { fa.assume_init() });
    for &(src, dst) in &plan.dups {
        // SAFETY: `fa` is initialised; `src` is open until the spawn returns
        // (borrowed from the caller or held by the plan).
        setup_err(unsafe { libc::posix_spawn_file_actions_adddup2(&mut fa.0, src, dst) })?;
    }
    for a in &plan.others {
        match a {
            FdAction::Close { dst } => {
                // SAFETY: `fa` is initialised.
                setup_err(unsafe { libc::posix_spawn_file_actions_addclose(&mut fa.0, *dst) })?;
            }
            FdAction::Open {
                dst,
                path,
                flags,
                mode,
            } => {
                // SAFETY: `fa` is initialised; glibc copies `path`.
                setup_err(unsafe {
                    libc::posix_spawn_file_actions_addopen(
                        &mut fa.0,
                        *dst,
                        path.as_ptr(),
                        flags.bits() as c_int,
                        mode.bits(),
                    )
                })?;
            }
            FdAction::Dup2 { .. } => {}
        }
    }
    // Close every fd above the targets; the gaps below the highest target
    // are closed one by one (EBADF on a gap that was not open is ignored by
    // glibc).
    for fd in 3..plan.max_dst {
        if !plan.high_targets.contains(&fd) {
            // SAFETY: `fa` is initialised.
            setup_err(unsafe { libc::posix_spawn_file_actions_addclose(&mut fa.0, fd) })?;
        }
    }
    // SAFETY: `fa` is initialised.
    setup_err(unsafe {
        libc::posix_spawn_file_actions_addclosefrom_np(&mut fa.0, plan.max_dst + 1)
    })?;
    if let Some(cwd) = &opts.cwd {
        // SAFETY: `fa` is initialised; glibc copies `cwd`.
        setup_err(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut fa.0, cwd.as_ptr()) })?;
    }
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `pid` for writes, the
    // program, argv and envp NUL-terminated and NULL-terminated arrays owned
    // by `opts`, `fa` and `attr` initialised. posix_spawn does not keep them.
    let r = unsafe {
        libc::posix_spawn(
            &mut pid,
            opts.program.as_ptr(),
            &fa.0,
            &attr.0,
            opts.argv.as_ptr().cast::<*mut c_char>(),
            opts.envp.as_ptr().cast::<*mut c_char>(),
        )
    };
    if r != 0 {
        return Err(SpawnError {
            errno: errno_of(r),
            stage: SpawnStage::Exec,
        });
    }
    Pid::from_raw(pid).ok_or(SpawnError {
        errno: Errno::INVAL,
        stage: SpawnStage::Exec,
    })
}

/// The steps of the fork fallback, as reported through the error pipe.
const STAGES: [SpawnStage; 10] = [
    SpawnStage::Exec,
    SpawnStage::Cwd,
    SpawnStage::FdAction,
    SpawnStage::ProcessGroup,
    SpawnStage::Session,
    SpawnStage::Credentials,
    SpawnStage::Umask,
    SpawnStage::Rlimit,
    SpawnStage::PreExec,
    SpawnStage::Setup,
];

fn stage_index(s: SpawnStage) -> u32 {
    STAGES.iter().position(|&x| x == s).unwrap_or(9) as u32
}

fn fork_exec(opts: &SpawnOptions<'_>, plan: &Plan<'_>) -> Result<Pid, SpawnError> {
    let fork_err = |errno| SpawnError {
        errno,
        stage: SpawnStage::Fork,
    };
    // The error pipe's write end must survive the fd shuffle: put it above
    // every target.
    let (err_r, first_w) = crate::pipe::pipe().map_err(fork_err)?;
    let err_w = rustix::io::fcntl_dupfd_cloexec(&first_w, plan.max_dst + 1).map_err(fork_err)?;
    drop(first_w);
    let err_fd = err_w.as_raw_fd();
    // Everything the child needs, prepared before fork: no allocation after.
    let opens: Vec<(i32, &CStr, c_int, libc::mode_t)> = plan
        .others
        .iter()
        .filter_map(|a| match a {
            FdAction::Open {
                dst,
                path,
                flags,
                mode,
            } => Some((*dst, path.as_c_str(), flags.bits() as c_int, mode.bits())),
            _ => None,
        })
        .collect();
    let closes: Vec<i32> = plan
        .others
        .iter()
        .filter_map(|a| match a {
            FdAction::Close { dst } => Some(*dst),
            _ => None,
        })
        .collect();
    let groups: Option<Vec<libc::gid_t>> = opts.fork.groups.clone();

    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes; sigfillset initialises it.
    unsafe { libc::sigfillset(all.as_mut_ptr()) };
    // SAFETY: `all` is initialised; `old` is valid for writes and written.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr()) };
    // SAFETY: fork has no memory-safety preconditions; the child below only
    // makes async-signal-safe calls on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the child of fork; everything used was prepared
        // before the fork, and `child` only calls async-signal-safe functions.
        unsafe { child(opts, plan, &opens, &closes, groups.as_deref(), err_fd) }
    }
    let fork_errno = if pid < 0 { last_errno() } else { Errno::INVAL };
    // SAFETY: `old` was written by the pthread_sigmask call above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), std::ptr::null_mut());
    }
    drop(err_w);
    if pid < 0 {
        return Err(fork_err(fork_errno));
    }
    let Some(child_pid) = Pid::from_raw(pid) else {
        return Err(fork_err(Errno::INVAL));
    };
    // EOF: exec succeeded. Otherwise 8 bytes: stage index and errno.
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&err_r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
    }
    if got == 0 {
        return Ok(child_pid);
    }
    // The child failed and _exit(127)ed: reap it.
    let _ = crate::wait::wait_pid(child_pid, false);
    let stage = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    Err(SpawnError {
        errno: nonzero_errno(errno),
        stage: STAGES
            .get(stage as usize)
            .copied()
            .unwrap_or(SpawnStage::Setup),
    })
}

/// The child side of the fork fallback. Never returns.
#[allow(clippy::multiple_unsafe_ops_per_block)] // one audited sequence of libc calls
///
/// # Safety
/// Must be called only in the child of `fork`, with memory prepared before
/// the fork. Makes only async-signal-safe calls.
unsafe fn child(
    opts: &SpawnOptions<'_>,
    plan: &Plan<'_>,
    opens: &[(i32, &CStr, c_int, libc::mode_t)],
    closes: &[i32],
    groups: Option<&[libc::gid_t]>,
    err_fd: c_int,
) -> ! {
    let fail = |stage: SpawnStage| -> ! {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&stage_index(stage).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: write is async-signal-safe; `msg` lives on our stack.
        unsafe { libc::write(err_fd, msg.as_ptr().cast(), msg.len()) };
        // SAFETY: _exit is async-signal-safe and ends the child.
        unsafe { libc::_exit(127) }
    };
    // SAFETY: one block for the whole child side: only async-signal-safe
    // calls, on memory prepared before the fork (see the function's contract).
    unsafe {
        // Default dispositions for every signal, then an empty mask.
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        if opts.new_session && libc::setsid() < 0 {
            fail(SpawnStage::Session);
        }
        if let Some(pg) = opts.process_group
            && libc::setpgid(0, pg) < 0
        {
            fail(SpawnStage::ProcessGroup);
        }
        for &(src, dst) in &plan.dups {
            if libc::dup2(src, dst) < 0 {
                fail(SpawnStage::FdAction);
            }
        }
        for &dst in closes {
            libc::close(dst);
        }
        for &(dst, path, flags, mode) in opens {
            let fd = libc::open(path.as_ptr(), flags, mode);
            if fd < 0 {
                fail(SpawnStage::FdAction);
            }
            if fd != dst {
                if libc::dup2(fd, dst) < 0 {
                    fail(SpawnStage::FdAction);
                }
                libc::close(fd);
            }
        }
        // Close everything else but the error pipe (close-on-exec).
        for fd in 3..plan.max_dst {
            if !plan.high_targets.contains(&fd) {
                libc::close(fd);
            }
        }
        let first = (plan.max_dst + 1) as libc::c_uint;
        if err_fd as libc::c_uint > first {
            libc::syscall(libc::SYS_close_range, first, err_fd as libc::c_uint - 1, 0);
        }
        libc::syscall(
            libc::SYS_close_range,
            err_fd as libc::c_uint + 1,
            libc::c_uint::MAX,
            0,
        );

        if let Some(g) = groups
            && libc::setgroups(g.len(), g.as_ptr()) < 0
        {
            fail(SpawnStage::Credentials);
        }
        if let Some(gid) = opts.fork.gid
            && libc::setgid(gid) < 0
        {
            fail(SpawnStage::Credentials);
        }
        if let Some(uid) = opts.fork.uid
            && libc::setuid(uid) < 0
        {
            fail(SpawnStage::Credentials);
        }
        if let Some(mask) = opts.fork.umask {
            libc::umask(mask as libc::mode_t);
        }
        for &(res, soft, hard) in &opts.fork.rlimits {
            let lim = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(res as libc::__rlimit_resource_t, &lim) < 0 {
                fail(SpawnStage::Rlimit);
            }
        }
        if let Some(hook) = &opts.fork.pre_exec
            && let Err(e) = hook()
        {
            let code = e.raw_os_error().unwrap_or(libc::EINVAL);
            *libc::__errno_location() = code;
            fail(SpawnStage::PreExec);
        }
        if let Some(cwd) = &opts.cwd
            && libc::chdir(cwd.as_ptr()) < 0
        {
            fail(SpawnStage::Cwd);
        }
        libc::execve(
            opts.program.as_ptr(),
            opts.argv.as_ptr().cast(),
            opts.envp.as_ptr().cast(),
        );
        fail(SpawnStage::Exec)
    }
}

/// Why [`find_program`] found nothing to run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// The program name is empty.
    Empty,
    /// The program name contains a NUL byte.
    InteriorNul,
    /// No directory of `searched` (the `PATH` used) has it.
    NotFound {
        /// The `PATH` that was searched.
        searched: Vec<u8>,
    },
    /// A candidate exists but is not executable (and no other is).
    PermissionDenied {
        /// The candidate.
        path: Vec<u8>,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Empty => f.write_str("the program name is empty"),
            LookupError::InteriorNul => f.write_str("the program name contains a NUL byte"),
            LookupError::NotFound { searched } => {
                write!(f, "not found in PATH={}", String::from_utf8_lossy(searched))
            }
            LookupError::PermissionDenied { path } => {
                write!(f, "{} is not executable", String::from_utf8_lossy(path))
            }
        }
    }
}

impl std::error::Error for LookupError {}

/// The `PATH` used when the child's environment has none.
pub const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Finds `program` as `execvp` would, but in `path_var`: the `PATH` the child
/// will get (`None`: [`DEFAULT_PATH`]), not the parent's. A program
/// containing `/` is returned as is (not searched). An empty `PATH` entry
/// means the current directory. Directories and non-executable files are
/// skipped.
///
/// # Errors
/// See [`LookupError`].
pub fn find_program(program: &[u8], path_var: Option<&[u8]>) -> Result<CString, LookupError> {
    if program.is_empty() {
        return Err(LookupError::Empty);
    }
    if program.contains(&0) {
        return Err(LookupError::InteriorNul);
    }
    if program.contains(&b'/') {
        return CString::new(program).map_err(|_| LookupError::InteriorNul);
    }
    let path = path_var.unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    let mut buf = Vec::with_capacity(256);
    for dir in path.split(|&b| b == b':') {
        buf.clear();
        if dir.is_empty() {
            buf.extend_from_slice(b".");
        } else {
            buf.extend_from_slice(dir);
        }
        buf.push(b'/');
        buf.extend_from_slice(program);
        let Ok(c) = CString::new(buf.as_slice()) else {
            continue;
        };
        let Ok(st) = rustix::fs::stat(c.as_c_str()) else {
            continue;
        };
        if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
            continue;
        }
        if rustix::fs::access(c.as_c_str(), rustix::fs::Access::EXEC_OK).is_ok() {
            return Ok(c);
        }
        denied.get_or_insert_with(|| buf.clone());
    }
    match denied {
        Some(path) => Err(LookupError::PermissionDenied { path }),
        None => Err(LookupError::NotFound {
            searched: path.to_vec(),
        }),
    }
}

/// The bytes of a path, for building C strings.
#[must_use]
pub fn path_bytes(p: &std::path::Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// An fd number, for messages and tests.
#[must_use]
pub fn raw(fd: impl AsFd) -> i32 {
    fd.as_fd().as_raw_fd()
}
