//! Waiting (`wait4`: status, rusage, no hang), pidfds (exit readiness,
//! signals, the `SPAWN_NO_PIDFD` switch), signals to a process and a group,
//! and that many spawns leave no fd and no zombie behind.

use std::os::fd::AsFd;
use std::time::Duration;

use spawn_sys::{Epoll, Errno, FdAction, Interest, Pid, spawn, wait_pid};

use crate::common::{self, opts, run};

#[test]
fn wait4_reports_status_cpu_and_max_rss() {
    let script =
        b"x = bytearray(100 << 20)\nn = 0\nfor i in range(3000000): n += i\nraise SystemExit(5)";
    let pid = spawn(&opts("python3", &[b"-c", script])).unwrap().pid;
    let w = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::exit_code(w.status), Some(5));
    assert!(w.rusage.max_rss_bytes >= 100 << 20, "{:?}", w.rusage);
    assert!(w.rusage.user > Duration::ZERO, "{:?}", w.rusage);
}

#[test]
fn wait_pid_without_hanging_and_the_statuses() {
    let pid = spawn(&opts("sleep", &[b"60"])).unwrap().pid;
    assert_eq!(wait_pid(pid, true).unwrap(), None);
    spawn_sys::signal_process(pid, libc::SIGKILL).unwrap();
    let w = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::term_signal(w.status), Some(libc::SIGKILL));
    assert_eq!(spawn_sys::exit_code(w.status), None);
    assert!(!spawn_sys::core_dumped(w.status));
    // Reaped: it is no longer ours to wait for.
    assert_eq!(wait_pid(pid, true), Err(Errno::CHILD));
    // Nor is a process that never was our child.
    assert_eq!(wait_pid(Pid::from_raw(1).unwrap(), true), Err(Errno::CHILD));

    let r = run(common::sh("exit 3"), false);
    assert_eq!(
        (r.code(), spawn_sys::term_signal(r.status)),
        (Some(3), None)
    );
    // A core dump asked for and allowed (where the kernel's core pattern
    // lets it happen) shows in the status; the signal shows either way.
    let mut o = common::sh("ulimit -c 0; kill -QUIT $$");
    o.fork.umask = Some(0o022);
    let r = run(o, false);
    assert_eq!(spawn_sys::term_signal(r.status), Some(libc::SIGQUIT));
}

#[test]
fn pidfd_notifies_exit_and_signals() {
    if spawn_sys::pidfd::disabled_by(std::env::var_os("SPAWN_NO_PIDFD").as_deref())
        || !spawn_sys::backend::linux_native()
    {
        // The whole suite runs with pidfds off (or the portable backend):
        // that is the test then.
        assert!(!spawn_sys::pidfd_supported());
        return;
    }
    assert!(spawn_sys::pidfd_supported());
    let pid = spawn(&opts("sleep", &[b"60"])).unwrap().pid;
    let pfd = spawn_sys::pidfd_open(pid).unwrap();
    assert!(spawn_sys::is_cloexec(&pfd).unwrap());
    let ep = Epoll::new().unwrap();
    let readable = Interest {
        readable: true,
        ..Interest::default()
    };
    ep.add(&pfd, 42, readable).unwrap();
    let mut ready = Vec::new();
    ep.wait(&mut ready, 4, Some(Duration::ZERO)).unwrap();
    assert!(ready.is_empty(), "running: not readable");
    spawn_sys::signal_pidfd(&pfd, libc::SIGTERM).unwrap();
    ep.wait(&mut ready, 4, Some(common::HANG)).unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!((ready[0].token, ready[0].readable), (42, true));
    let w = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::term_signal(w.status), Some(libc::SIGTERM));
    // Reaped: the pidfd stays valid and never reaches another process.
    assert_eq!(
        spawn_sys::pidfd_send_signal(pfd.as_fd(), libc::SIGTERM),
        Err(Errno::SRCH)
    );
}

/// Re-run by [`spawn_no_pidfd_turns_pidfds_off`] with `SPAWN_NO_PIDFD` set.
#[test]
fn helper_no_pidfd() {
    if std::env::var_os("SPAWN_SYS_EXPECT_NO_PIDFD").is_none() {
        return;
    }
    assert!(!spawn_sys::pidfd_supported());
    let me = rustix::process::getpid();
    assert_eq!(spawn_sys::pidfd_open(me).unwrap_err(), Errno::NOSYS);
    println!("pidfds off");
}

#[test]
fn spawn_no_pidfd_turns_pidfds_off() {
    let o = common::rerun_self(
        "process::helper_no_pidfd",
        &[("SPAWN_NO_PIDFD", "1"), ("SPAWN_SYS_EXPECT_NO_PIDFD", "1")],
    );
    let r = run(o, false);
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(r.out().contains("pidfds off"), "{r:?}");
    // The values that turn them off.
    let off = |v: Option<&str>| spawn_sys::pidfd::disabled_by(v.map(std::ffi::OsStr::new));
    assert!(off(Some("1")) && off(Some("yes")));
    assert!(!off(Some("0")) && !off(Some("")) && !off(None));
}

#[test]
fn signals_to_a_process_and_a_group() {
    // A group of two: sh and its sleep; the group signal reaches both.
    let (r, w) = spawn_sys::pipe().unwrap();
    let mut o = common::sh("sleep 60 & echo $!; wait");
    o.process_group = Some(0);
    o.fd_actions.push(FdAction::Dup2 {
        src: w.as_fd(),
        dst: 1,
    });
    let pid = spawn(&o).unwrap().pid;
    drop(o);
    drop(w);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while rustix::io::read(&r, &mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    assert!(String::from_utf8(line).unwrap().parse::<i32>().is_ok());
    spawn_sys::signal_group(pid, libc::SIGKILL).unwrap();
    let w = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::term_signal(w.status), Some(libc::SIGKILL));
    // The grandchild (not ours to reap) holds the pipe too: end of file
    // means it died with the group.
    let [rest] = common::read_to_end([r], None);
    assert_eq!(rest, b"");

    let pid = spawn(&opts("sleep", &[b"60"])).unwrap().pid;
    spawn_sys::signal_process(pid, libc::SIGINT).unwrap();
    let w = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::term_signal(w.status), Some(libc::SIGINT));
    assert_eq!(spawn_sys::signal_process(pid, 0), Err(Errno::SRCH));
    assert_eq!(
        spawn_sys::signal_process(Pid::from_raw(1).unwrap(), 1000),
        Err(Errno::INVAL)
    );
}

#[test]
fn signal_group_refuses_pgid_1_which_would_mean_every_process() {
    // Signal 0 sends nothing: were the refusal missing, `kill(-1, 0)` would
    // only check that some process may be signalled (it returns 0).
    let one = Pid::from_raw(1).unwrap();
    assert_eq!(spawn_sys::signal_group(one, 0), Err(Errno::INVAL));
    // The refusal comes before the signal number is looked at.
    assert_eq!(spawn_sys::signal_group(one, 1000), Err(Errno::INVAL));
    // A real group of ours is still reachable with signal 0.
    let mut o = opts("sleep", &[b"60"]);
    o.process_group = Some(0);
    let pid = spawn(&o).unwrap().pid;
    assert_eq!(spawn_sys::signal_group(pid, 0), Ok(()));
    spawn_sys::signal_process(pid, libc::SIGKILL).unwrap();
    wait_pid(pid, false).unwrap();
    assert_eq!(spawn_sys::signal_group(pid, 0), Err(Errno::SRCH));
}

fn zombies() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| {
            let after = &s[s.rfind(')').map_or(0, |i| i + 2)..];
            let mut it = after.split_whitespace();
            it.next() == Some("Z") && it.next() == Some(me.as_str())
        })
        .count()
}

/// Re-run alone by [`a_thousand_spawns_leak_no_fd_and_no_zombie`], so that
/// no other test's fds or unreaped children blur the counts.
#[test]
fn helper_leak_check() {
    if std::env::var_os("SPAWN_SYS_LEAK_CHECK").is_none() {
        return;
    }
    // One in six into a cgroup (clone3) where one can be made.
    let cg = spawn_sys::own_cgroup().ok().and_then(|p| {
        spawn_sys::Cgroup::create_under(&p, &format!("spawn-sys-leak-{}", std::process::id())).ok()
    });
    let fds = spawn_sys::open_fd_count().unwrap();
    let z = zombies();
    for i in 0..1200 {
        let cgroup = cg
            .as_ref()
            .filter(|_| i % 6 == 3)
            .map(spawn_sys::Cgroup::fd);
        let (r, w) = spawn_sys::pipe().unwrap();
        let mut o = opts("true", &[]);
        o.fd_actions.push(FdAction::Dup2 {
            src: w.as_fd(),
            dst: 1,
        });
        // One in six through the fork path (200 of them).
        let fork = i % 6 == 0;
        if fork {
            common::force_fork(&mut o);
        }
        o.cgroup = cgroup;
        let pid = spawn(&o).unwrap().pid;
        drop(o);
        drop((r, w));
        let st = wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::exit_code(st.status), Some(0));
        // Failures leave nothing behind either.
        let mut o = opts("true", &[]);
        o.program = common::cstring("/nonexistent");
        if fork {
            common::force_fork(&mut o);
        }
        o.cgroup = cgroup;
        assert!(spawn(&o).is_err());
    }
    assert_eq!(spawn_sys::open_fd_count().unwrap(), fds);
    assert_eq!(zombies(), z);
    if let Some(cg) = cg {
        assert!(cg.wait_unpopulated(common::HANG).unwrap());
        cg.remove().unwrap();
    }
    println!("no leak");
}

#[test]
fn a_thousand_spawns_leak_no_fd_and_no_zombie() {
    let o = common::rerun_self(
        "process::helper_leak_check",
        &[("SPAWN_SYS_LEAK_CHECK", "1")],
    );
    let r = run(o, false);
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(r.out().contains("no leak"), "{r:?}");
}

#[test]
fn nofile_limit_round_trips() {
    let (soft, hard) = spawn_sys::nofile_limit().unwrap();
    assert!(soft <= hard);
    assert_eq!(spawn_sys::set_nofile_limit(soft).unwrap(), soft);
    assert_eq!(spawn_sys::nofile_limit().unwrap(), (soft, hard));
}
