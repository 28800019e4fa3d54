//! cgroup v2: finding our own cgroup, children placed in a fresh one on the
//! `clone3` path and on the fork path (the same child setup on both),
//! `cgroup.kill` ending a child that left the process group with `setsid`,
//! `populated` awaited through `cgroup.events`, and removal.
//!
//! Where no writable cgroup v2 exists, each test prints why it is skipped.

use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags};
use spawn_sys::{
    Cgroup, Errno, FdAction, SpawnOptions, SpawnPath, SpawnStage, own_cgroup, read_populated,
    spawn, wait_pid,
};

use crate::common::{self, HANG, cstring, fd_numbers, opts, run, sh};

/// Ends everything in a test's cgroup and removes it, if the test did not
/// (it failed): a failing test leaves nothing behind.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(cg) = Cgroup::open(&self.0) {
            let _ = cg.kill();
            let _ = cg.wait_unpopulated(HANG);
            let _ = cg.remove();
        }
    }
}

/// A fresh cgroup under ours, or `None` (with the reason printed) where
/// there is no writable cgroup v2.
fn fresh(test: &str) -> Option<(Cgroup, Cleanup)> {
    static N: AtomicU32 = AtomicU32::new(0);
    let parent = match own_cgroup() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("SKIPPED {test}: no cgroup v2: {e}");
            return None;
        }
    };
    let name = format!(
        "spawn-sys-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    match Cgroup::create_under(&parent, &name) {
        Ok(cg) => {
            let cleanup = Cleanup(cg.path().to_owned());
            Some((cg, cleanup))
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("SKIPPED {test}: no writable cgroup v2: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// The `0::` line of a `/proc/<pid>/cgroup`.
fn unified_line(contents: &str) -> String {
    contents
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap()
        .to_owned()
}

/// What a process in `cg` has as its `0::` line.
fn line_for(cg: &Cgroup) -> String {
    let ours = unified_line(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    let name = cg.path().file_name().unwrap().to_str().unwrap();
    format!("{}/{name}", ours.trim_end_matches('/'))
}

/// The two ways into a cgroup: `clone3` (no hook) and the fork path (a
/// hook that does nothing makes `spawn` fork).
fn both_ways(mut check: impl FnMut(bool, SpawnPath)) {
    check(false, SpawnPath::Clone3);
    check(true, SpawnPath::Fork);
}

fn in_cgroup<'fd>(mut o: SpawnOptions<'fd>, cg: &'fd Cgroup, fork: bool) -> SpawnOptions<'fd> {
    o.cgroup = Some(cg.fd());
    if fork {
        common::force_fork(&mut o);
    }
    o
}

/// Waits (bounded) through `cgroup.events` until `cg` is empty.
fn await_empty(cg: &Cgroup) {
    let events = cg.events_fd().unwrap();
    let deadline = Instant::now() + HANG;
    while read_populated(&events).unwrap() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{} still populated", cg.path().display());
        let mut fds = [PollFd::new(&events, PollFlags::PRI)];
        spawn_sys::poll::poll(&mut fds, Some(left)).unwrap();
    }
}

#[test]
fn own_cgroup_is_a_cgroup2_directory_that_lists_us() {
    let dir = match own_cgroup() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED: no cgroup v2: {e}");
            return;
        }
    };
    assert!(dir.is_dir(), "{}", dir.display());
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    let me = std::process::id().to_string();
    assert!(
        procs.lines().any(|l| l == me),
        "{me} not in {}",
        dir.display()
    );
}

#[test]
fn a_child_starts_in_its_cgroup_on_both_ways() {
    let Some((cg, _cleanup)) = fresh("a_child_starts_in_its_cgroup_on_both_ways") else {
        return;
    };
    let want = line_for(&cg);
    both_ways(|fork, path| {
        // The program's own first read already sees the cgroup.
        let o = in_cgroup(opts("cat", &[b"/proc/self/cgroup"]), &cg, fork);
        let r = run(o, false);
        assert_eq!(r.code(), Some(0), "{r:?}");
        assert_eq!(unified_line(&r.out()), want, "fork={fork}");

        // A running child is in cgroup.procs and its /proc/<pid>/cgroup.
        let o = in_cgroup(opts("sleep", &[b"60"]), &cg, fork);
        let s = spawn(&o).unwrap();
        assert_eq!(s.path, path);
        assert_eq!(s.pidfd.is_some(), !fork && spawn_sys::pidfd_supported());
        assert_eq!(cg.procs().unwrap(), [s.pid]);
        let theirs = std::fs::read_to_string(format!("/proc/{}/cgroup", s.pid.as_raw_nonzero()));
        assert_eq!(unified_line(&theirs.unwrap()), want);
        assert!(cg.populated().unwrap());
        if let Some(pidfd) = &s.pidfd {
            spawn_sys::pidfd_send_signal(pidfd, libc::SIGKILL).unwrap();
        } else {
            spawn_sys::signal_process(s.pid, libc::SIGKILL).unwrap();
        }
        let st = wait_pid(s.pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::term_signal(st.status), Some(libc::SIGKILL));
        await_empty(&cg);
    });
    cg.remove().unwrap();
}

#[test]
fn the_clone3_child_gets_the_same_setup_as_the_others() {
    let Some((cg, _cleanup)) = fresh("the_clone3_child_gets_the_same_setup_as_the_others") else {
        return;
    };
    let null = spawn_sys::dev_null(false).unwrap();
    let leaky = spawn_sys::dup_cloexec_from(&null, 200).unwrap();
    spawn_sys::set_cloexec(&leaky, false).unwrap();
    // (A Rust parent ignores SIGPIPE: the children must not.)
    both_ways(|fork, _| {
        // Only 0, 1, 2, a target (5) and ls's own fd reach it.
        let mut o = opts("ls", &[b"/proc/self/fd"]);
        o.fd_actions.push(FdAction::Dup2 {
            src: null.as_fd(),
            dst: 5,
        });
        let fds = fd_numbers(&run(in_cgroup(o, &cg, fork), false).stdout);
        assert_eq!(fds, [0, 1, 2, 3, 5], "fork={fork}");

        // Default signals, an empty mask and a umask, seen by the program.
        let mut o = opts("cat", &[b"/proc/self/status"]);
        o.fork.umask = Some(0o027);
        let status = run(in_cgroup(o, &cg, fork), false).out();
        for want in [
            "SigIgn:\t0000000000000000",
            "SigBlk:\t0000000000000000",
            "Umask:\t0027",
        ] {
            assert!(status.lines().any(|l| l == want), "fork={fork}: {status}");
        }

        // A session, a cwd, an environment and a resource limit.
        let mut o = sh("read -r a < /proc/$$/stat; set -- $a; echo $1 $6; pwd; echo $X; ulimit -n");
        o.envp = spawn_sys::env_array([(&b"X"[..], &b"x y"[..]), (b"PATH", common::PATH)])
            .unwrap()
            .into();
        o.cwd = Some(cstring("/usr"));
        o.new_session = true;
        o.fork.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 64, 64)];
        let out = run(in_cgroup(o, &cg, fork), false).out();
        let lines: Vec<&str> = out.lines().collect();
        let [ids, cwd, x, nofile] = lines[..] else {
            panic!("{out}")
        };
        let (pid, sid) = ids.split_once(' ').unwrap();
        assert_eq!(pid, sid, "a session leader");
        assert_eq!([cwd, x, nofile], ["/usr", "x y", "64"], "fork={fork}");
    });
    await_empty(&cg);
    cg.remove().unwrap();
}

#[test]
fn a_failing_step_in_a_cgroup_is_an_error_and_leaves_nothing() {
    let Some((cg, _cleanup)) = fresh("a_failing_step_in_a_cgroup_is_an_error_and_leaves_nothing")
    else {
        return;
    };
    both_ways(|fork, _| {
        let mut o = in_cgroup(sh("true"), &cg, fork);
        o.program = cstring("/nonexistent/program");
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::Exec, Errno::NOENT));
        let mut o = in_cgroup(sh("true"), &cg, fork);
        o.cwd = Some(cstring("/nonexistent"));
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::Cwd, Errno::NOENT));
        let mut o = in_cgroup(sh("true"), &cg, fork);
        o.fork.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 10, 5)];
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::Rlimit, Errno::INVAL));
    });
    // The failed children were reaped: nothing is left to hold the cgroup.
    assert!(cg.procs().unwrap().is_empty());
    cg.remove().unwrap();
}

#[test]
fn a_directory_that_is_not_a_cgroup_is_a_cgroup_error() {
    let tmp = common::temp_dir("not-a-cgroup");
    let dir = rustix::fs::open(
        tmp.path(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    for fork in [false, true] {
        let mut o = opts("true", &[]);
        o.cgroup = Some(dir.as_fd());
        if fork {
            common::force_fork(&mut o);
        }
        let e = spawn(&o).unwrap_err();
        assert_eq!(e.stage, SpawnStage::Cgroup, "fork={fork}: {e}");
    }
    // Nor can one be made there.
    let e = Cgroup::create_under(tmp.path(), "x").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("not a cgroup v2 directory"), "{e}");
}

#[test]
fn kill_ends_a_child_that_left_the_group_and_the_cgroup_goes() {
    let Some((cg, _cleanup)) = fresh("kill_ends_a_child_that_left_the_group_and_the_cgroup_goes")
    else {
        return;
    };
    both_ways(|fork, _| {
        // The shell starts a sleep in a session of its own and exits.
        let script = "setsid sleep 60 </dev/null >/dev/null 2>&1 & echo $!";
        let r = run(in_cgroup(sh(script), &cg, fork), false);
        assert_eq!(r.code(), Some(0), "{r:?}");
        let sleep: i32 = r.out().trim().parse().unwrap();
        let sleep = spawn_sys::Pid::from_raw(sleep).unwrap();
        assert_eq!(cg.procs().unwrap(), [sleep]);
        let events = cg.events_fd().unwrap();
        assert!(read_populated(&events).unwrap());
        cg.kill().unwrap();
        // cgroup.events reports the change with POLLPRI.
        let deadline = Instant::now() + HANG;
        while read_populated(&events).unwrap() {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "still populated after {HANG:?}");
            let mut fds = [PollFd::new(&events, PollFlags::PRI)];
            spawn_sys::poll::poll(&mut fds, Some(left)).unwrap();
        }
        assert!(!cg.populated().unwrap());
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", sleep.as_raw_nonzero()));
        let alive = match stat {
            Ok(s) => !s.contains(") Z"),
            Err(_) => false,
        };
        assert!(!alive, "the sleep is alive");
    });
    let path: PathBuf = cg.path().to_owned();
    cg.remove().unwrap();
    assert!(!path.exists(), "{} left behind", path.display());
}

#[test]
fn signal_all_reaches_every_member_and_remove_waits_for_them() {
    let Some((cg, _cleanup)) = fresh("signal_all_reaches_every_member_and_remove_waits_for_them")
    else {
        return;
    };
    let pids: Vec<_> = (0..3)
        .map(|_| {
            let o = in_cgroup(opts("sleep", &[b"60"]), &cg, false);
            spawn(&o).unwrap().pid
        })
        .collect();
    let mut procs = cg.procs().unwrap();
    procs.sort_unstable_by_key(|p| p.as_raw_nonzero());
    let mut sorted = pids.clone();
    sorted.sort_unstable_by_key(|p| p.as_raw_nonzero());
    assert_eq!(procs, sorted);
    // Busy while populated; the handle is gone, the directory is not.
    let path = cg.path().to_owned();
    let e = cg.remove().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy, "{e}");
    assert!(e.to_string().contains("still has processes"), "{e}");
    let cg = Cgroup::open(&path).unwrap();
    cg.signal_all(libc::SIGTERM).unwrap();
    for pid in pids {
        let st = wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::term_signal(st.status), Some(libc::SIGTERM));
    }
    assert!(cg.wait_unpopulated(HANG).unwrap());
    // Nobody left: signalling and killing are no-ops.
    cg.signal_all(libc::SIGTERM).unwrap();
    cg.kill().unwrap();
    cg.remove().unwrap();
    assert!(!path.exists());
}

#[test]
fn bad_names_and_existing_cgroups_are_clear_errors() {
    let Some((cg, _cleanup)) = fresh("bad_names_and_existing_cgroups_are_clear_errors") else {
        return;
    };
    let parent = cg.path().parent().unwrap().to_owned();
    for bad in ["", ".", "..", "a/b", "a\0b"] {
        let e = Cgroup::create_under(&parent, bad).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
    let name = cg.path().file_name().unwrap().to_str().unwrap().to_owned();
    let e = Cgroup::create_under(&parent, &name).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert!(e.to_string().contains(&name), "{e}");
    // A cgroup inside a cgroup is fine.
    let inner = Cgroup::create_under(cg.path(), "inner").unwrap();
    assert_eq!(inner.path(), cg.path().join("inner"));
    assert!(cg.fd().as_raw_fd() != inner.fd().as_raw_fd());
    inner.remove().unwrap();
    cg.remove().unwrap();
}

/// Re-run by [`without_write_access_creating_a_cgroup_is_permission_denied`]
/// as user `nobody`.
#[test]
fn helper_create_as_nobody() {
    if std::env::var_os("SPAWN_SYS_CGROUP_NOBODY").is_none() {
        return;
    }
    let parent = own_cgroup().unwrap();
    let e = Cgroup::create_under(&parent, "spawn-sys-nobody").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    println!("refused: {e}");
}

#[test]
fn without_write_access_creating_a_cgroup_is_permission_denied() {
    if !rustix::process::getuid().is_root() {
        eprintln!("SKIPPED: needs root to run a helper as nobody");
        return;
    }
    if own_cgroup().is_err() {
        eprintln!("SKIPPED: no cgroup v2");
        return;
    }
    let helper = || {
        let mut o = common::rerun_self(
            "cgroup::helper_create_as_nobody",
            &[("SPAWN_SYS_CGROUP_NOBODY", "1")],
        );
        (o.fork.uid, o.fork.gid) = (Some(65534), Some(65534));
        o.cwd = Some(cstring("/"));
        o
    };
    // This binary may sit where nobody cannot reach it.
    let exe = std::env::current_exe().unwrap();
    let mut check = helper();
    check.program = cstring("/bin/sh");
    check.argv = common::argv(&[
        b"sh",
        b"-c",
        b"test -x \"$0\"",
        exe.as_os_str().as_encoded_bytes(),
    ]);
    if run(check, false).code() != Some(0) {
        eprintln!("SKIPPED: user nobody cannot run {}", exe.display());
        return;
    }
    let r = run(helper(), false);
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(r.out().contains("write access to"), "{r:?}");
}

/// The cgroup directories below `dir`, every depth, as paths relative to it.
fn cgroups_below(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let sub = rel.join(e.file_name());
                found.push(sub.clone());
                todo.push(sub);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn nested_cgroups_get_the_signal_and_go_depth_first() {
    let Some((cg, _cleanup)) = fresh("nested_cgroups_get_the_signal_and_go_depth_first") else {
        return;
    };
    // A member in the cgroup, one in a child cgroup, one in a grandchild.
    let sub = Cgroup::create_under(cg.path(), "sub").unwrap();
    let deeper = Cgroup::create_under(sub.path(), "deeper").unwrap();
    let pids: Vec<_> = [&cg, &sub, &deeper]
        .into_iter()
        .map(|c| {
            spawn(&in_cgroup(opts("sleep", &[b"60"]), c, false))
                .unwrap()
                .pid
        })
        .collect();
    assert_eq!(
        cgroups_below(cg.path()),
        [PathBuf::from("sub"), PathBuf::from("sub/deeper")]
    );
    // The stop signal reaches every member of the subtree, not only those
    // of `cgroup.procs` at the top.
    cg.signal_all(libc::SIGTERM).unwrap();
    assert!(
        cg.wait_unpopulated(HANG).unwrap(),
        "a nested member got no TERM"
    );
    for pid in pids {
        let st = wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::term_signal(st.status), Some(libc::SIGTERM));
    }
    // Removal takes the child cgroups along, deepest first.
    drop((sub, deeper));
    let path = cg.path().to_owned();
    cg.remove().unwrap();
    assert!(!path.exists(), "{} left behind", path.display());
}
