//! The fork+exec fallback's own options: umask, resource limits, user and
//! groups, the pre-exec hook, the parent death signal; each failing step
//! reported with its errno; which option forces the fork, and the path
//! that `spawn` reports.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags};
use spawn_sys::{Errno, FdAction, ForkOptions, SpawnPath, SpawnStage, spawn, wait_pid};

use crate::common::{self, HANG, cstring, opts, run, sh};

/// A change to options that makes one step fail.
type Edit = Box<dyn FnMut(&mut spawn_sys::SpawnOptions<'_>)>;

#[test]
fn umask_and_rlimits_apply() {
    let mut o = sh("umask; ulimit -n; ulimit -c");
    o.fork.umask = Some(0o027);
    o.fork.rlimits = vec![
        (libc::RLIMIT_NOFILE as i32, 77, 77),
        (libc::RLIMIT_CORE as i32, 0, 0),
    ];
    let r = run(o, false);
    assert_eq!((r.out(), r.code()), ("0027\n77\n0\n".into(), Some(0)));
}

#[test]
fn each_failing_step_comes_back_with_its_errno() {
    let fail = |mut edit: Edit| {
        let mut o = sh("true");
        o.fork.umask = Some(0o022);
        edit(&mut o);
        let e = spawn(&o).unwrap_err();
        (e.stage, e.errno)
    };
    let cases: Vec<(Edit, SpawnStage, Errno)> = vec![
        (
            Box::new(|o| o.program = cstring("/nonexistent/prog")),
            SpawnStage::Exec,
            Errno::NOENT,
        ),
        (
            Box::new(|o| o.program = cstring("/etc/passwd")),
            SpawnStage::Exec,
            Errno::ACCESS,
        ),
        (
            Box::new(|o| o.cwd = Some(cstring("/nonexistent"))),
            SpawnStage::Cwd,
            Errno::NOENT,
        ),
        (
            Box::new(|o| o.fork.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 10, 5)]),
            SpawnStage::Rlimit,
            Errno::INVAL,
        ),
        (
            Box::new(|o| {
                o.fork.pre_exec = Some(Box::new(|| {
                    Err(std::io::Error::from_raw_os_error(libc::ENOTSUP))
                }));
            }),
            SpawnStage::PreExec,
            Errno::NOTSUP,
        ),
        (
            Box::new(|o| {
                o.fork.pre_exec = Some(Box::new(|| Err(std::io::ErrorKind::Other.into())));
            }),
            SpawnStage::PreExec,
            Errno::INVAL,
        ),
    ];
    for (edit, stage, errno) in cases {
        assert_eq!(fail(edit), (stage, errno));
    }
}

#[test]
fn the_pre_exec_hook_runs_in_the_child_after_the_cwd_change() {
    let mut o = opts("pwd", &[]);
    o.cwd = Some(cstring("/usr"));
    o.fork.pre_exec = Some(Box::new(|| Ok(rustix::process::chdir(c"/")?)));
    let r = run(o, false);
    assert_eq!(r.out(), "/\n");
    // The parent's directory did not move.
    assert_ne!(
        std::env::current_dir().unwrap(),
        std::path::Path::new("/usr")
    );
}

#[test]
fn credentials_apply_as_root_or_fail_as_a_user() {
    let script = "id -u; id -g; id -G";
    if rustix::process::getuid().is_root() {
        let mut o = sh(script);
        (o.fork.uid, o.fork.gid, o.fork.groups) = (Some(65534), Some(65534), Some(vec![65534, 4]));
        let r = run(o, false);
        assert_eq!(r.out(), "65534\n65534\n65534 4\n", "{r:?}");
        // A new uid without groups keeps none of root's.
        let mut o = sh(script);
        (o.fork.uid, o.fork.gid) = (Some(65534), Some(65534));
        assert_eq!(run(o, false).out(), "65534\n65534\n65534\n");
    } else {
        let mut o = sh(script);
        o.fork.uid = Some(0);
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::Credentials, Errno::PERM));
    }
}

#[test]
fn fork_reason_names_the_first_option_that_needs_fork() {
    let none = ForkOptions::default();
    assert_eq!((none.fork_reason(), none.needs_fork()), (None, false));
    type Set = fn(&mut ForkOptions);
    let cases: [(Set, &str); 7] = [
        (|f| f.uid = Some(0), "uid"),
        (|f| f.gid = Some(0), "gid"),
        (|f| f.groups = Some(vec![]), "groups"),
        (|f| f.umask = Some(0o22), "umask"),
        (
            |f| f.rlimits = vec![(libc::RLIMIT_CORE as i32, 0, 0)],
            "rlimit",
        ),
        (|f| f.pre_exec = Some(Box::new(|| Ok(()))), "pre_exec"),
        (
            |f| f.parent_death_signal = Some(libc::SIGKILL),
            "parent_death_signal",
        ),
    ];
    for (set, name) in &cases {
        let mut f = ForkOptions::default();
        set(&mut f);
        assert_eq!((f.fork_reason(), f.needs_fork()), (Some(*name), true));
    }
    // Several: the first in the documented order.
    let mut f = ForkOptions::default();
    for (set, _) in cases.iter().rev() {
        set(&mut f);
    }
    assert_eq!(f.fork_reason(), Some("uid"));
}

/// The path a plain start takes here: `clone3` on x86-64 Linux, unless
/// `SPAWN_NO_CLONE3` turns it off (see
/// [`the_posix_spawn_fallback_passes_the_spawn_and_fd_tests`]).
fn plain_path() -> SpawnPath {
    let off = spawn_sys::pidfd::disabled_by(std::env::var_os("SPAWN_NO_CLONE3").as_deref())
        || !spawn_sys::backend::linux_native();
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) && !off {
        SpawnPath::Clone3
    } else {
        SpawnPath::PosixSpawn
    }
}

#[test]
fn spawn_tells_which_path_it_took() {
    let pidfds = !spawn_sys::pidfd::disabled_by(std::env::var_os("SPAWN_NO_PIDFD").as_deref())
        && spawn_sys::backend::linux_native();
    let plain = spawn(&opts("true", &[])).unwrap();
    // `clone3` hands over the pidfd it made; `posix_spawn` makes none.
    let kernel_pidfd = plain_path() == SpawnPath::Clone3 && pidfds;
    assert_eq!(
        (plain.path, plain.pidfd.is_some()),
        (plain_path(), kernel_pidfd)
    );
    // None asked for: none made.
    let mut o = opts("true", &[]);
    o.pidfd = false;
    let bare = spawn(&o).unwrap();
    assert_eq!((bare.path, bare.pidfd.is_none()), (plain_path(), true));
    let mut o = opts("true", &[]);
    o.fork.umask = Some(0o22);
    let forked = spawn(&o).unwrap();
    assert_eq!(
        (forked.path, forked.pidfd.is_none()),
        (SpawnPath::Fork, true)
    );
    for pid in [plain.pid, bare.pid, forked.pid] {
        let st = wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::exit_code(st.status), Some(0));
    }
    assert_eq!(SpawnPath::PosixSpawn.to_string(), "posix_spawn");
    assert!(SpawnPath::Fork.copies_parent() && !SpawnPath::Clone3.copies_parent());
}

#[test]
fn a_bad_parent_death_signal_is_refused_before_anything_starts() {
    for sig in [0, -1, 65, i32::MAX] {
        let mut o = opts("true", &[]);
        o.fork.parent_death_signal = Some(sig);
        let e = spawn(&o).unwrap_err();
        assert_eq!(
            (e.stage, e.errno),
            (SpawnStage::ParentDeathSignal, Errno::INVAL),
            "{sig}"
        );
    }
}

/// Re-run by [`a_child_gets_its_parent_death_signal_when_the_parent_dies`]:
/// the middle process. Starts two `sleep 60`, the first with
/// `parent_death_signal(KILL)`, prints their pids, then blocks on its
/// stdin (never written) until it is killed.
#[test]
fn helper_pdeath_middle() {
    if std::env::var_os("SPAWN_SYS_PDEATH_MIDDLE").is_none() {
        return;
    }
    let mut dies = opts("sleep", &[b"60"]);
    dies.fork.parent_death_signal = Some(libc::SIGKILL);
    let dies = spawn(&dies).unwrap();
    assert_eq!(dies.path, SpawnPath::Fork);
    let stays = spawn(&opts("sleep", &[b"60"])).unwrap();
    println!(
        "pids {} {}",
        dies.pid.as_raw_nonzero(),
        stays.pid.as_raw_nonzero()
    );
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    panic!("stdin was written or closed: the parent should have killed us");
}

/// Reads `fd` until what it read has `marker` and then `end`; kills `pid`
/// and fails after [`HANG`] or at end of file.
fn read_until(fd: &OwnedFd, end: &str, marker: &str, pid: spawn_sys::Pid) -> String {
    let deadline = Instant::now() + HANG;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(at) = text.find(marker)
            && text[at..].contains(end)
        {
            return text;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        if left.is_zero() || spawn_sys::poll::poll(&mut fds, Some(left)).unwrap() == 0 {
            let _ = spawn_sys::signal_process(pid, libc::SIGKILL);
            panic!("no {marker:?} after {HANG:?}: {text:?}");
        }
        let n = rustix::io::read(fd, &mut buf).unwrap();
        if n == 0 {
            panic!("end of file before {marker:?}: {text:?}");
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// Whether `pid` is gone or a zombie (a zombie runs no more).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            after.starts_with('Z') || after.starts_with('X')
        }
    }
}

#[test]
fn a_child_gets_its_parent_death_signal_when_the_parent_dies() {
    let (in_r, in_w) = spawn_sys::pipe().unwrap();
    let (out_r, out_w) = spawn_sys::pipe().unwrap();
    let mut o = common::rerun_self(
        "fork::helper_pdeath_middle",
        &[("SPAWN_SYS_PDEATH_MIDDLE", "1")],
    );
    o.fd_actions = vec![
        FdAction::Dup2 {
            src: in_r.as_fd(),
            dst: 0,
        },
        FdAction::Dup2 {
            src: out_w.as_fd(),
            dst: 1,
        },
    ];
    let middle = spawn(&o).unwrap().pid;
    drop((in_r, out_w));
    // libtest prints `test name ... ` first, on the same line.
    let said = read_until(&out_r, "\n", "pids ", middle);
    let pids: Vec<i32> = said
        .split("pids ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let [dies, stays] = pids[..] else {
        panic!("{pids:?}")
    };
    assert!(!gone(dies) && !gone(stays), "both sleeps start alive");
    spawn_sys::signal_process(middle, libc::SIGKILL).unwrap();
    let st = wait_pid(middle, false).unwrap().unwrap();
    assert_eq!(spawn_sys::term_signal(st.status), Some(libc::SIGKILL));
    // Bounded poll of /proc: the kernel sends the signal as the middle
    // process exits, so this ends at once unless the feature is broken.
    let start = Instant::now();
    while !gone(dies) {
        assert!(start.elapsed() < HANG, "{dies} still alive after {HANG:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The control: without the option, the other sleep outlived it.
    let alive = !gone(stays);
    let _ = spawn_sys::signal_process(spawn_sys::Pid::from_raw(stays).unwrap(), libc::SIGKILL);
    assert!(alive, "the sleep without a death signal died too");
    drop(in_w);
}

/// With `clone3` turned off, plain starts take glibc's `posix_spawn`: the
/// spawn and fd tests pass on it as they do on `clone3` (run again in a
/// process of their own with `SPAWN_NO_CLONE3=1`).
#[test]
fn the_posix_spawn_fallback_passes_the_spawn_and_fd_tests() {
    if std::env::var_os("SPAWN_NO_CLONE3").is_some() {
        return; // the rerun itself
    }
    let mut o = common::rerun_self("", &[("SPAWN_NO_CLONE3", "1")]);
    let exe = std::env::current_exe().unwrap();
    o.argv = common::argv(&[
        exe.to_str().unwrap().as_bytes(),
        b"spawning::",
        b"fds::",
        b"fork::spawn_tells_which_path_it_took",
        b"--test-threads=1",
    ]);
    let r = run(o, false);
    assert_eq!(r.code(), Some(0), "{r:?}");
    let out = r.out();
    let passed: usize = out
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(passed >= 20, "{out}");
}

/// An fd action whose target is the highest fd the limit allows leaves no
/// number above it for the report pipe: the fork path puts the pipe in a
/// number no action targets (and its child's closes skip it), where it
/// used to fail with `EINVAL` from the `F_DUPFD` at the limit.
#[test]
fn a_target_just_below_the_fd_limit_still_forks() {
    let (soft, _) = spawn_sys::nofile_limit().unwrap();
    let top = i32::try_from(soft).unwrap_or(i32::MAX) - 1;
    let (_r, w) = spawn_sys::pipe().unwrap();
    // The shell's own fd table: `top` is open in it.
    let mut o = sh(&format!("[ -e /proc/self/fd/{top} ] && echo hi"));
    o.fd_actions.push(FdAction::Dup2 {
        src: w.as_fd(),
        dst: top,
    });
    let out = run(o, true);
    assert_eq!(
        (out.out(), out.code()),
        ("hi\n".into(), Some(0)),
        "{}",
        out.err()
    );
}
