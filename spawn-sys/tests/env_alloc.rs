//! A start with a changed environment ([`Envp::Changed`]) costs no
//! allocation per inherited variable: this binary re-runs itself with 300
//! more variables in its environment, and the re-run counts the
//! allocations of its thread from the changes' making to the spawn's
//! return, with a counting global allocator. Before `Envp::Changed`, spawn
//! copied the whole environment (two allocations per variable) for a
//! command that set one.

#![allow(unsafe_code)]
//! # Safety
//! The global allocator only counts, then calls the system's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;

use spawn_sys::{CStringArray, EnvChanges, Envp, SpawnOptions, find_program, spawn, wait_pid};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; the count is a
// thread-local `Cell` with no destructor, safe to touch while allocating.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CHILD: &str = "SPAWN_SYS_ENV_ALLOC_CHILD";
const EXTRA: usize = 300;

fn count() -> usize {
    COUNT.with(Cell::get)
}

#[test]
fn a_changed_environment_costs_no_allocation_per_inherited_variable() {
    if std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().unwrap();
        let mut rerun = std::process::Command::new(exe);
        rerun.args([
            "--exact",
            "a_changed_environment_costs_no_allocation_per_inherited_variable",
            "--test-threads=1",
            "--nocapture",
        ]);
        rerun.env(CHILD, "1");
        for i in 0..EXTRA {
            rerun.env(format!("SPAWN_SYS_FILLER_{i}"), "x".repeat(20));
        }
        let out = rerun.output().unwrap();
        assert!(
            out.status.success(),
            "the re-run failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(std::env::vars_os().count() > EXTRA);
    let program = find_program(b"sh", Some(b"/usr/bin:/bin")).unwrap();
    let mut argv = CStringArray::new();
    for a in [&b"sh"[..], b"-c", b"test \"$SPAWN_SYS_X\" = 1 && test -z \"$SPAWN_SYS_FILLER_7\" && test -n \"$SPAWN_SYS_FILLER_8\""] {
        argv.push(a).unwrap();
    }
    let before = count();
    let changes = EnvChanges::new(
        [(&b"SPAWN_SYS_X"[..], &b"1"[..])],
        [&b"SPAWN_SYS_FILLER_7"[..]],
    )
    .unwrap();
    let opts = SpawnOptions::new(CString::clone(&program), argv, Envp::Changed(changes));
    let child = spawn(&opts).unwrap();
    let used = count() - before;
    let status = wait_pid(child.pid, false).unwrap().unwrap();
    assert_eq!(
        spawn_sys::exit_code(status.status),
        Some(0),
        "the child's environment"
    );
    // A copy of the environment would be at least one allocation per
    // variable; a start of its own is a handful.
    assert!(
        used < 30,
        "{used} allocations for one start with {EXTRA}+ variables"
    );
}
