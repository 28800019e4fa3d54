//! The spawn call itself: errors from exec and cwd, argv and envp bytes,
//! process groups and sessions, and the child's signal state.

use std::ffi::CString;

use spawn_sys::{
    CStringArray, EnvError, Errno, LookupError, SpawnStage, env_array, find_program, spawn,
    wait_pid,
};

use crate::common::{self, both_paths, cstring, opts, run, sh};

#[test]
fn exec_errors_come_back_from_the_spawn_call() {
    let tmp = common::temp_dir("exec");
    let dir = tmp.path();
    let not_exec = dir.join("not-exec");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    let cases = [
        (cstring("/nonexistent/program"), Errno::NOENT),
        (cstring(not_exec.to_str().unwrap()), Errno::ACCESS),
        (cstring(dir.to_str().unwrap()), Errno::ACCESS),
        (cstring("/etc/passwd/x"), Errno::NOTDIR),
    ];
    both_paths(|fork| {
        for (program, errno) in &cases {
            let mut o = sh("true");
            o.program = program.clone();
            if fork {
                common::force_fork(&mut o);
            }
            let e = spawn(&o).unwrap_err();
            assert_eq!(
                (e.stage, e.errno),
                (SpawnStage::Exec, *errno),
                "{program:?} fork={fork}"
            );
        }
    });
}

#[test]
fn cwd_applies_and_a_bad_one_is_a_cwd_error() {
    both_paths(|fork| {
        let mut o = opts("pwd", &[]);
        o.cwd = Some(cstring("/usr"));
        let r = run(o, fork);
        assert_eq!((r.out(), r.code()), ("/usr\n".into(), Some(0)));

        for (dir, errno) in [
            ("/nonexistent-dir", Errno::NOENT),
            ("/etc/passwd", Errno::NOTDIR),
        ] {
            let mut o = opts("pwd", &[]);
            o.cwd = Some(cstring(dir));
            if fork {
                common::force_fork(&mut o);
            }
            let e = spawn(&o).unwrap_err();
            assert_eq!(
                (e.stage, e.errno),
                (SpawnStage::Cwd, errno),
                "{dir} fork={fork}"
            );
        }
    });
}

#[test]
fn a_relative_program_is_relative_to_the_cwd() {
    both_paths(|fork| {
        let mut o = sh("true");
        o.program = cstring("./sh");
        o.argv = common::argv(&[b"sh", b"-c", b"pwd"]);
        o.cwd = Some(cstring("/bin"));
        let r = run(o, fork);
        let bin = std::fs::canonicalize("/bin").unwrap();
        assert_eq!(r.out(), format!("{}\n", bin.display()), "fork={fork}");
    });
}

#[test]
fn argv_and_env_bytes_round_trip_including_non_utf8() {
    both_paths(|fork| {
        let script = b"printf '%s|%s|%s' \"$1\" \"$X\" \"$#\"";
        let mut o = sh("");
        o.argv = common::argv(&[b"sh", b"-c", script, b"sh", b"\xff\xfe arg", b""]);
        o.envp = env_array([(&b"X"[..], &b"\x80v=1 \n"[..])]).unwrap().into();
        let r = run(o, fork);
        assert_eq!(r.stdout, b"\xff\xfe arg|\x80v=1 \n|2", "fork={fork}");
    });
}

#[test]
fn an_inherited_environment_is_the_callers_own() {
    both_paths(|fork| {
        let mut o = sh("printf '%s|%s' \"$PATH\" \"$HOME\"");
        o.envp = spawn_sys::Envp::Inherit;
        let r = run(o, fork);
        let want = format!(
            "{}|{}",
            std::env::var("PATH").unwrap_or_default(),
            std::env::var("HOME").unwrap_or_default()
        );
        assert_eq!(r.out(), want, "fork={fork}");
    });
}

#[test]
fn an_empty_environment_reaches_the_child_empty() {
    both_paths(|fork| {
        let mut o = opts("env", &[]);
        o.envp = CStringArray::new().into();
        let r = run(o, fork);
        assert_eq!((r.out(), r.code()), (String::new(), Some(0)));
    });
}

#[test]
fn bad_strings_are_error_values() {
    assert_eq!(CStringArray::new().push(b"a\0b").unwrap_err().position, 1);
    let cases: [(&[u8], &[u8], EnvError); 4] = [
        (b"A=B", b"x", EnvError::KeyHasEquals),
        (b"", b"x", EnvError::KeyEmpty),
        (b"A", b"x\0", EnvError::InteriorNul),
        (b"A\0", b"x", EnvError::InteriorNul),
    ];
    for (k, v, want) in cases {
        assert_eq!(env_array([(k, v)]).unwrap_err(), want);
    }
    assert_eq!(find_program(b"", None), Err(LookupError::Empty));
    assert_eq!(find_program(b"a\0", None), Err(LookupError::InteriorNul));
    assert_eq!(
        find_program(b"/bin/a\0", None),
        Err(LookupError::InteriorNul)
    );
    assert!(CString::new(&b"prog\0ram"[..]).is_err()); // what a program must be
}

/// `/proc/self/stat` as `cat` printed it: [pid, ppid, pgrp, session].
fn stat_fields(out: &[u8]) -> [i64; 4] {
    let s = String::from_utf8_lossy(out);
    let pid = s.split_whitespace().next().unwrap().parse().unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let v: Vec<i64> = after
        .split_whitespace()
        .skip(1)
        .take(3)
        .map(|x| x.parse().unwrap())
        .collect();
    [pid, v[0], v[1], v[2]]
}

#[test]
fn process_group_and_session_take_effect() {
    both_paths(|fork| {
        let mut o = opts("cat", &[b"/proc/self/stat"]);
        o.process_group = Some(0);
        let [pid, _, pgrp, sid] = stat_fields(&run(o, fork).stdout);
        assert_eq!(pgrp, pid, "fork={fork}");
        assert_ne!(sid, pid);

        let mut o = opts("cat", &[b"/proc/self/stat"]);
        o.new_session = true;
        let [pid, _, pgrp, sid] = stat_fields(&run(o, fork).stdout);
        assert_eq!((sid, pgrp), (pid, pid), "fork={fork}");
    });
}

#[test]
fn a_child_joins_an_existing_group_and_a_missing_one_is_an_error() {
    let mut leader = opts("sleep", &[b"60"]);
    leader.process_group = Some(0);
    let leader = spawn(&leader).unwrap().pid;
    both_paths(|fork| {
        let mut o = opts("cat", &[b"/proc/self/stat"]);
        o.process_group = Some(leader.as_raw_nonzero().get());
        let [_, _, pgrp, _] = stat_fields(&run(o, fork).stdout);
        assert_eq!(
            pgrp,
            i64::from(leader.as_raw_nonzero().get()),
            "fork={fork}"
        );

        // A group that does not exist cannot be joined.
        let mut o = opts("true", &[]);
        o.process_group = Some(i32::MAX);
        if fork {
            common::force_fork(&mut o);
        }
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::ProcessGroup, Errno::PERM));

        // Nor a negative one (a u32 above i32::MAX cast): the same step on
        // both paths.
        o.process_group = Some(-1);
        let e = spawn(&o).unwrap_err();
        assert_eq!(
            (e.stage, e.errno),
            (SpawnStage::ProcessGroup, Errno::INVAL),
            "fork={fork}"
        );
    });
    spawn_sys::signal_group(leader, libc::SIGKILL).unwrap();
    wait_pid(leader, false).unwrap();
}

/// A status line's mask, e.g. `SigIgn:\t0000000000001000`.
fn mask(status: &str, name: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with(name)).unwrap();
    u64::from_str_radix(line[name.len()..].trim(), 16).unwrap()
}

/// The child's `SigIgn:` and `SigBlk:` on each path, `fork` first false.
fn child_masks() -> [(u64, u64); 2] {
    let mut out = [(0, 0); 2];
    both_paths(|fork| {
        let status = run(opts("cat", &[b"/proc/self/status"]), fork).out();
        out[usize::from(fork)] = (mask(&status, "SigIgn:"), mask(&status, "SigBlk:"));
    });
    out
}

/// Bits 31 and 32: signals 32 and 33, which glibc keeps for itself.
const RESERVED: u64 = 0b11 << 31;

#[test]
fn the_child_starts_with_default_signals_and_an_empty_mask() {
    // Rust ignores SIGPIPE in every program; ignore SIGHUP too (process-wide:
    // harmless, nothing sends it) and block SIGUSR2 in this test's thread.
    // SAFETY: SIG_IGN is a valid disposition for SIGHUP.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is valid for writes and initialised by sigemptyset.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: `set` was initialised above.
    unsafe { libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR2) };
    // SAFETY: `set` is initialised; this blocks a signal in this thread only.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut()) };
    let parent = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let ignored = mask(&parent, "SigIgn:");
    assert_ne!(ignored & (1 << (libc::SIGPIPE - 1)), 0);
    assert_ne!(ignored & (1 << (libc::SIGHUP - 1)), 0);
    assert_ne!(mask(&parent, "SigBlk:") & (1 << (libc::SIGUSR2 - 1)), 0);
    // Every signal, glibc's reserved 32 and 33 included (its posix_spawn
    // would set those to SIG_IGN, its sigaction cannot reset them).
    for (fork, (ign, blk)) in child_masks().into_iter().enumerate() {
        assert_eq!((ign, blk), (0, 0), "fork={fork} SigIgn={ign:#x}");
    }
}

/// Re-run by [`a_parent_that_ignores_glibcs_reserved_signals_passes_none_on`]:
/// this throwaway process sets 32 and 33 to `SIG_IGN` behind glibc's back
/// (its `sigaction` refuses them), then checks its children.
#[test]
fn helper_ignore_reserved() {
    if std::env::var_os("SPAWN_SYS_IGNORE_RESERVED").is_none() {
        return;
    }
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::c_ulong,
        flags: libc::c_ulong,
        restorer: libc::c_ulong,
        mask: u64,
    }
    for sig in [32, 33] {
        let act = KernelSigaction {
            handler: libc::SIG_IGN as libc::c_ulong,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: a raw syscall with a valid, initialised action (SIG_IGN
        // needs no restorer); 8 is the size of the kernel's signal set.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                libc::c_long::from(sig),
                std::ptr::from_ref(&act),
                std::ptr::null_mut::<KernelSigaction>(),
                8 as libc::c_long,
            )
        };
        assert_eq!(r, 0, "rt_sigaction({sig})");
    }
    let me = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(mask(&me, "SigIgn:") & RESERVED, RESERVED);
    for (fork, (ign, blk)) in child_masks().into_iter().enumerate() {
        assert_eq!((ign, blk), (0, 0), "fork={fork} SigIgn={ign:#x}");
    }
    println!("none ignored");
}

#[test]
fn a_parent_that_ignores_glibcs_reserved_signals_passes_none_on() {
    let o = common::rerun_self(
        "spawning::helper_ignore_reserved",
        &[("SPAWN_SYS_IGNORE_RESERVED", "1")],
    );
    let r = run(o, false);
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(r.out().contains("none ignored"), "{r:?}");
}
