//! The `clone3` path (x86-64 Linux): how a child starts unless it needs a
//! copy of the parent (a `pre_exec` hook, or what only fork can do) or the
//! kernel refuses `clone3`; and how a child is born inside its cgroup.
//!
//! `clone3(CLONE_VM | CLONE_VFORK)` on a small stack of its own, with
//! `CLONE_INTO_CGROUP` for a cgroup and `CLONE_PIDFD` when a pidfd is
//! wanted: the child shares our memory (nothing is copied, as with glibc's
//! `posix_spawn`), runs the fork path's steps ([`super::fork::child`]) and
//! `execve`s; we are suspended until it has exec'd or exited. Its failure
//! comes back in a word of the shared memory, so there is no error pipe.
//! The kernel places it in the cgroup as it creates it (no `cgroup.procs`
//! write, no migration), and hands us a pidfd for it in the same call.
//!
//! Against glibc's `posix_spawn` this saves, per start, the mapping and
//! unmapping of a fresh stack (one stack is kept between starts, its pages
//! already faulted in), the file-action list and its `getrlimit`, and a
//! `pidfd_open` when a pidfd is wanted.
//!
//! Where the kernel has no `clone3` (before 5.3), or a seccomp filter
//! refuses it, [`spawn`] says so with `Ok(None)` once and the caller takes
//! `posix_spawn`; without `CLONE_INTO_CGROUP` (before 5.7) a cgroup start
//! forks. `SPAWN_NO_CLONE3=1` turns the path off for plain starts (for
//! tests of the `posix_spawn` fallback).

#![allow(unsafe_code)]
//! # Safety
//! The child runs on our memory with our thread's TLS (so its `errno` is
//! the suspended parent thread's). It writes nothing of ours but its own
//! stack (mapped here, held by one start at a time: kept for the next one
//! or unmapped only after the child has exec'd or exited), the report
//! word and that `errno`; it takes no lock and allocates nothing
//! (see [`super::fork::child`]). No handler of ours runs in it: every
//! signal is blocked across the clone (the child resets the dispositions
//! before unblocking) and without `CLONE_SIGHAND` its dispositions are its
//! own. Without `CLONE_FILES`, `CLONE_FS` and `CLONE_THREAD`, its fd table,
//! working directory, umask and resource limits are copies, so its steps
//! change none of ours. It never returns into our frames: after the
//! syscall it calls [`child_entry`] on its own stack, which execs or
//! `_exit`s.

use std::ffi::{c_int, c_long, c_void};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

use super::fork::{self, AllBlocked, Prepared, Report};
use super::{Plan, SpawnError, SpawnOptions, SpawnPath, SpawnStage, Spawned};
use crate::{Errno, Pid};

/// The kernel's `struct clone_args` (`CLONE_ARGS_SIZE_VER2`, 88 bytes:
/// the size that has the `cgroup` field).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const SYS_CLONE3: c_long = 435;

/// The child's stack: plenty for its steps (a few hundred bytes of frames
/// and the libc's thin syscall wrappers), above one guard page.
const STACK_SIZE: usize = 64 << 10;

/// Set once the kernel has said it cannot put a child in a cgroup
/// (`ENOSYS`, `E2BIG`, `EINVAL`): later cgroup starts fork at once.
static NO_INTO_CGROUP: AtomicBool = AtomicBool::new(false);

/// Set once the kernel (or a seccomp filter) has refused a plain
/// `clone3`: later plain starts take `posix_spawn` at once.
static NO_CLONE3: AtomicBool = AtomicBool::new(false);

/// Whether `SPAWN_NO_CLONE3` (any value but empty or `0`) or
/// `SPAWN_BACKEND=portable` turns the path off for plain starts; read once.
fn turned_off() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| {
        crate::pidfd::disabled_by(std::env::var_os("SPAWN_NO_CLONE3").as_deref())
            || !crate::backend::linux_native()
    })
}

/// The stack kept between starts (null: none kept). A start takes it, or
/// maps its own when another start holds it; a start done with its stack
/// keeps it here if the place is free, else unmaps it.
static SPARE: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// An anonymous mapping for the child's stack, its lowest page a guard
/// (`PROT_NONE`), unmapped on drop (or kept for the next start,
/// [`Stack::give_back`]).
struct Stack {
    base: *mut c_void,
    len: usize,
    guard: usize,
}

impl Stack {
    /// The kept stack if it is free, else a new one.
    fn take() -> Result<Self, SpawnError> {
        let base = SPARE.swap(std::ptr::null_mut(), Ordering::Acquire);
        if base.is_null() {
            return Self::new();
        }
        let (len, guard) = Self::layout();
        Ok(Stack { base, len, guard })
    }

    /// The length of every stack's mapping and of its guard page.
    fn layout() -> (usize, usize) {
        let guard = crate::mem::page_size();
        (STACK_SIZE + guard, guard)
    }

    /// Keeps this stack for the next start if none is kept, else unmaps it.
    fn give_back(self) {
        let me = std::mem::ManuallyDrop::new(self);
        let kept = SPARE
            .compare_exchange(
                std::ptr::null_mut(),
                me.base,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok();
        if !kept {
            drop(std::mem::ManuallyDrop::into_inner(me));
        }
    }

    fn new() -> Result<Self, SpawnError> {
        let (len, guard) = Self::layout();
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(SpawnError::new(SpawnStage::Fork, fork::last_errno()));
        }
        let stack = Stack { base, len, guard };
        // SAFETY: the first page of our own mapping. Best effort: without
        // the guard the stack still works, an overflow is just not caught.
        unsafe { libc::mprotect(base, guard, libc::PROT_NONE) };
        Ok(stack)
    }

    /// The lowest usable address (the kernel starts the child at the top).
    fn low(&self) -> u64 {
        self.base as u64 + self.guard as u64
    }

    fn size(&self) -> u64 {
        (self.len - self.guard) as u64
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: our mapping, no longer used: the child has exec'd (its
        // memory is a new one) or exited by the time `clone3` returns.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// What [`child_entry`] gets: the fork path's three inputs.
struct ChildArgs<'a, 'o> {
    opts: &'a SpawnOptions<'o>,
    plan: &'a Plan<'o>,
    prepared: &'a Prepared<'a>,
}

/// The child's first Rust frame, on its own stack. Only for
/// [`raw_clone3`]: `arg` must be a live [`ChildArgs`], and this runs only
/// in the `clone3` child.
extern "C" fn child_entry(arg: *mut c_void) -> ! {
    // SAFETY: `raw_clone3`'s caller passed a `ChildArgs` that outlives the
    // child's use of it (we are suspended until it execs or exits).
    let a = unsafe { &*arg.cast::<ChildArgs<'_, '_>>() };
    // SAFETY: the child of `clone3(CLONE_VM | CLONE_VFORK)` with a shared
    // report word and no hook, as `fork::child` requires.
    unsafe { fork::child(a.opts, a.plan, a.prepared) }
}

/// `clone3(args)`; in the child, `entry(arg)` on the new stack (never
/// returns). Returns the child's pid or `-errno`.
///
/// # Safety
/// `args` names a valid stack for the child; `entry` never returns; `arg`
/// is what it expects.
unsafe fn raw_clone3(
    args: &CloneArgs,
    entry: extern "C" fn(*mut c_void) -> !,
    arg: *mut c_void,
) -> c_long {
    let ret: c_long;
    // SAFETY: the syscall reads `args` (valid, `size_of` bytes). In the
    // parent it returns like any syscall (rcx, r11 clobbered). The child
    // resumes after the `syscall` with rax = 0 and rsp at the top of its
    // stack (16-byte aligned: a page boundary), clears rbp (end of the
    // frame chain) and calls `entry(arg)` there, which does not return;
    // `ud2` traps if it ever did. r12 and r13 are kept by the kernel.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") SYS_CLONE3 => ret,
            in("rdi") std::ptr::from_ref(args),
            in("rsi") size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Starts the child with `clone3`, in `opts.cgroup` if one is set;
/// `Ok(None)` when this kernel (or a seccomp filter) cannot, and the
/// caller should take another path (fork for a cgroup, `posix_spawn`
/// otherwise).
pub(super) fn spawn(
    opts: &SpawnOptions<'_>,
    plan: &Plan<'_>,
) -> Result<Option<Spawned>, SpawnError> {
    let cgroup: Option<BorrowedFd<'_>> = opts.cgroup;
    let refused = match cgroup {
        Some(_) => &NO_INTO_CGROUP,
        None => &NO_CLONE3,
    };
    if refused.load(Ordering::Relaxed) || (cgroup.is_none() && turned_off()) {
        return Ok(None);
    }
    let stack = Stack::take()?;
    let word = AtomicU64::new(0);
    let envp = opts.envp.block();
    let prepared = Prepared::new(opts, &envp, Report::Shared(&word), -1);
    let child_args = ChildArgs {
        opts,
        plan,
        prepared: &prepared,
    };
    let want_pidfd = opts.pidfd && !crate::pidfd::forced_off();
    let mut pidfd: c_int = -1;
    let mut flags = CLONE_VM | CLONE_VFORK;
    if cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    if want_pidfd {
        flags |= CLONE_PIDFD;
    }
    let args = CloneArgs {
        flags,
        pidfd: std::ptr::from_mut(&mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.low(),
        stack_size: stack.size(),
        cgroup: cgroup.map_or(0, |c| c.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    let blocked = AllBlocked::new();
    // SAFETY: `args` names our fresh stack; `child_entry` never returns
    // and gets the `ChildArgs` it expects, alive until we return here
    // (CLONE_VFORK: after the child's exec or exit).
    let ret = unsafe {
        raw_clone3(
            &args,
            child_entry,
            std::ptr::from_ref(&child_args).cast_mut().cast(),
        )
    };
    drop(blocked);
    // The child has exec'd or exited: its stack is free for the next.
    stack.give_back();
    if ret < 0 {
        let errno = Errno::from_raw_os_error((-ret) as i32);
        if [Errno::NOSYS, Errno::TOOBIG, Errno::INVAL].contains(&errno) {
            refused.store(true, Ordering::Relaxed);
            return Ok(None);
        }
        if errno == Errno::PERM {
            // A seccomp filter. For a cgroup, let the fork path try (and
            // report the cgroup's own error if that is what it was); a
            // plain start takes `posix_spawn` from now on.
            if cgroup.is_none() {
                NO_CLONE3.store(true, Ordering::Relaxed);
            }
            return Ok(None);
        }
        let stage = if cgroup.is_none() || [Errno::AGAIN, Errno::NOMEM].contains(&errno) {
            SpawnStage::Fork
        } else {
            SpawnStage::Cgroup
        };
        return Err(SpawnError::new(stage, errno));
    }
    let pidfd = (want_pidfd && pidfd >= 0).then(|| {
        // SAFETY: the kernel made this fd for us (CLONE_PIDFD); nothing
        // else owns it.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    let Some(pid) = i32::try_from(ret).ok().and_then(Pid::from_raw) else {
        return Err(SpawnError::new(SpawnStage::Fork, Errno::INVAL));
    };
    if let Some(e) = fork::decode(word.load(Ordering::SeqCst)) {
        // The child failed a step and `_exit`ed: reap it.
        drop(pidfd);
        let _ = crate::wait::wait_pid(pid, false);
        return Err(e);
    }
    Ok(Some(Spawned {
        pid,
        path: SpawnPath::Clone3,
        pidfd,
    }))
}
