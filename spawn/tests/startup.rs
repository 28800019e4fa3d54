//! Start-up options (issue 15): extra fds, the stop signal, stdout merged
//! into stderr, the spawn path told and required, and cgroup containment,
//! against real processes.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{HANG, alive, first_pid, gone_soon};
use spawn::{Command, Containment, Error, Group, Signal, SpawnPath, Stdio};

/// The read end of a pipe that holds `data` (its write end closed).
fn pipe_with(data: &[u8]) -> std::os::fd::OwnedFd {
    let (r, w) = spawn_sys::pipe::pipe().unwrap();
    fs::File::from(w).write_all(data).unwrap();
    r
}

#[test]
fn passed_fds_reach_the_child_and_nothing_else_does() {
    let out = Command::shell("cat <&3; cat <&5; ls /proc/$$/fd")
        .pass_fd(3, pipe_with(b"three\n"))
        .pass_fd(5, pipe_with(b"five\n"))
        .check_output_string()
        .unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("three"));
    assert_eq!(lines.next(), Some("five"));
    let fds: BTreeSet<u32> = lines.map(|l| l.parse().unwrap()).collect();
    assert_eq!(fds, BTreeSet::from([0, 1, 2, 3, 5]), "{out}");
}

#[test]
fn pass_fd_below_three_or_twice_is_invalid_input() {
    let err = Command::new("true")
        .pass_fd(2, pipe_with(b""))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("pass_fd(2"), "{err}");
    let err = Command::new("true")
        .pass_fd(4, pipe_with(b""))
        .pass_fd(4, pipe_with(b""))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

/// A child fd at or above the fd limit cannot be made in the child (its
/// `dup2` fails): a clear error naming `pass_fd(n)` and the limit, before
/// anything starts.
#[test]
fn pass_fd_at_or_above_the_fd_limit_is_invalid_input() {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .expect("a finite RLIMIT_NOFILE");
    let n = i32::try_from(soft).unwrap_or(i32::MAX);
    let err = Command::new("true")
        .pass_fd(n, pipe_with(b""))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("pass_fd({n}")), "{msg}");
    assert!(msg.contains(&soft.to_string()), "{msg}");
    // One below the limit is fine.
    Command::shell("true")
        .pass_fd(n - 1, pipe_with(b""))
        .check()
        .unwrap();
}

#[test]
fn the_stop_signal_comes_first_under_a_timeout() {
    let err = Command::shell(
        "trap 'echo got INT; exit 3' INT; trap 'echo got TERM' TERM; sleep 30 & wait",
    )
    .stdout(Stdio::piped())
    .stop_signal(Signal::INT)
    // Long enough for the shell to have set its traps under load.
    .timeout(Duration::from_secs(2))
    .run()
    .unwrap_err();
    let Error::Timeout { partial, .. } = err else {
        panic!("expected a timeout, got {err}")
    };
    assert_eq!(partial.stdout, b"got INT\n");
    assert_eq!(partial.status.code(), Some(3));
}

#[test]
fn stdout_merged_goes_where_stderr_goes() {
    let out = Command::shell("echo out; echo err >&2")
        .stdout(Stdio::merge())
        .stderr(Stdio::piped())
        .run()
        .unwrap();
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr, b"out\nerr\n");
    let err = Command::new("true")
        .stdout(Stdio::merge())
        .stderr(Stdio::merge())
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[test]
fn the_spawn_path_is_told() {
    let out = Command::new("true").run().unwrap();
    let plain = if cfg!(all(target_os = "linux", target_arch = "x86_64"))
        && spawn_sys::backend::linux_native()
    {
        SpawnPath::Clone3
    } else {
        SpawnPath::PosixSpawn
    };
    assert_eq!(out.report.spawn_path, plain);
    assert_eq!(out.report.fork_reason, None);
    let me = rustix::process::getuid().as_raw();
    let out = Command::new("true").uid(me).run().unwrap();
    assert_eq!(out.report.spawn_path, SpawnPath::Fork);
    assert_eq!(out.report.fork_reason, Some("uid"));
}

#[test]
fn require_posix_spawn_refuses_an_option_that_needs_fork_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let err = Command::shell("touch \"$1\"")
        .arg(&marker)
        .umask(0o077)
        .require_posix_spawn()
        .run()
        .unwrap_err();
    let Error::ForkRequired { option, .. } = &err else {
        panic!("expected ForkRequired, got {err}")
    };
    assert_eq!(*option, "umask");
    assert!(err.to_string().contains("umask"), "{err}");
    assert!(!marker.exists(), "nothing may start");
    // Options the posix_spawn path can do are fine.
    let out = Command::shell("cat <&3")
        .pass_fd(3, pipe_with(b"ok"))
        .stdout(Stdio::piped())
        .require_posix_spawn()
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"ok");
}

/// The cgroups spawn made for this test process that are still there.
fn leftover_cgroups() -> Vec<PathBuf> {
    let Ok(own) = spawn_sys::cgroup::own_cgroup() else {
        return Vec::new();
    };
    let prefix = format!("spawn-{}-", std::process::id());
    fs::read_dir(own)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether this machine lets us make cgroups; prints why not.
fn cgroups_here() -> bool {
    match Command::new("true").containment(Containment::Cgroup).run() {
        Ok(_) => true,
        Err(e @ Error::NoCgroup { .. }) => {
            eprintln!("skipped: {e}");
            false
        }
        Err(e) => panic!("{e}"),
    }
}

/// A child that starts `setsid sleep 60 &`, prints its pid and exits.
fn escaper() -> Command {
    Command::shell("setsid sleep 60 & echo $!")
        .stdout(Stdio::piped())
        .containment(Containment::Cgroup)
}

#[test]
fn a_cgroup_ends_a_descendant_that_escaped_the_group() {
    if !cgroups_here() {
        return;
    }
    let out = escaper().run().unwrap();
    assert!(out.status.success());
    assert_eq!(out.report.containment, Containment::Cgroup);
    // Born in its cgroup by a vfork-style clone3, or (where the kernel
    // refuses clone3) by fork+exec, which says why.
    match out.report.spawn_path {
        SpawnPath::Clone3 => assert_eq!(out.report.fork_reason, None),
        SpawnPath::Fork => assert_eq!(out.report.fork_reason, Some("containment")),
        other => panic!("a cgroup child started by {other:?}"),
    }
    let sleeper = first_pid(&out.stdout);
    assert!(
        !alive(sleeper),
        "the setsid sleep {sleeper} outlived its run"
    );
    // Under a timeout, and in a Group, the same.
    let err = Command::shell("setsid sleep 60 & echo $!; sleep 30")
        .stdout(Stdio::piped())
        .containment(Containment::Cgroup)
        .timeout(Duration::from_millis(200))
        .kill_grace(Duration::from_millis(200))
        .run()
        .unwrap_err();
    let Error::Timeout { partial, .. } = err else {
        panic!("expected a timeout, got {err}")
    };
    assert!(!alive(first_pid(&partial.stdout)));
    // A child that never starts leaves no cgroup either.
    let err = Command::new("no-such-program-here")
        .containment(Containment::Cgroup)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let results = Group::new().add(escaper()).add(escaper()).run().unwrap();
    for r in results {
        assert!(!alive(first_pid(&r.unwrap().stdout)));
    }
    let start = Instant::now();
    while !leftover_cgroups().is_empty() {
        assert!(start.elapsed() < HANG, "left: {:?}", leftover_cgroups());
        std::thread::yield_now();
    }
}

#[test]
fn a_dropped_child_in_a_cgroup_takes_its_cgroup_along() {
    if !cgroups_here() {
        return;
    }
    let mut child = escaper().kill_on_drop(true).spawn().unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.take_stdout().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let sleeper: u32 = line.trim().parse().unwrap();
    drop(child);
    assert!(
        gone_soon(sleeper),
        "the setsid sleep {sleeper} survived the drop"
    );
    // The background reaper removes the cgroup once it drained.
    let start = Instant::now();
    while !leftover_cgroups().is_empty() {
        assert!(start.elapsed() < HANG, "left: {:?}", leftover_cgroups());
        std::thread::yield_now();
    }
}

/// The cgroup directories below `dir`, every depth.
fn cgroups_below(dir: &std::path::Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                found.insert(e.path());
                todo.push(e.path());
            }
        }
    }
    found
}

#[test]
fn a_cgroup_the_child_makes_inside_its_own_gets_the_stop_signal_and_goes() {
    if !cgroups_here() {
        return;
    }
    let own = spawn_sys::cgroup::own_cgroup().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The child makes `sub` in its cgroup and starts a member there that
    // says so when TERM reaches it; the run ends once that member is ready.
    let script = r#"
        d="$OWN/$(sed -n 's|^0::.*/||p' /proc/self/cgroup)"
        mkdir "$d/sub" && mkfifo "$T/ready" || exit 1
        sh -c '
            echo $$ > "$1/sub/cgroup.procs" || exit 1
            trap "echo TERM > \"$2/got\"; exit 0" TERM
            sleep 60 &
            # Ready once the sleep runs: a TERM to a fork that has not
            # exec-ed yet goes to the handler of the shell and is lost.
            until grep -q "^sleep" "/proc/$!/cmdline" 2>/dev/null; do :; done
            echo ready > "$2/ready"
            wait
        ' nested "$d" "$T" </dev/null >/dev/null 2>&1 &
        read ready < "$T/ready"
        echo $!
    "#;
    let start = Instant::now();
    let out = Command::shell(script)
        .env("OWN", &own)
        .env("T", tmp.path())
        .stdout(Stdio::piped())
        .containment(Containment::Cgroup)
        .kill_grace(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let nested = first_pid(&out.stdout);
    assert!(
        !alive(nested),
        "the nested member {nested} outlived its run"
    );
    // TERM first, not only the cgroup.kill after the grace.
    let got = fs::read_to_string(tmp.path().join("got")).unwrap_or_default();
    assert_eq!(got, "TERM\n", "no stop signal reached the nested cgroup");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the grace ran out"
    );
    // Nothing is left: neither the child's cgroup nor the one it made.
    let start = Instant::now();
    while !leftover_cgroups().is_empty() {
        assert!(
            start.elapsed() < HANG,
            "left: {:?}",
            cgroups_below(&own)
                .into_iter()
                .filter(|p| leftover_cgroups().iter().any(|l| p.starts_with(l)))
                .collect::<Vec<_>>()
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_child_that_never_started_reports_no_spawn_path() {
    let token = spawn::CancelToken::new();
    token.cancel();
    let err = Command::new("true").cancel_on(&token).run().unwrap_err();
    let Error::Cancelled { partial, .. } = err else {
        panic!("expected a cancel, got {err}")
    };
    assert_eq!(partial.report.pid, 0);
    assert_eq!(partial.report.spawn_path, SpawnPath::NotStarted);
    let results = Group::new()
        .add(Command::new("true"))
        .cancel_on(&token)
        .run()
        .unwrap();
    let Err(Error::Cancelled { partial, .. }) = &results[0] else {
        panic!("expected a cancel, got {:?}", results[0])
    };
    assert_eq!(partial.report.spawn_path, SpawnPath::NotStarted);
}

#[test]
fn a_lost_status_still_tells_how_the_child_started() {
    let child = Command::new("true").spawn().unwrap();
    // Someone else reaps it (a `waitpid` outside spawn).
    let pid = rustix::process::Pid::from_raw(child.pid() as i32).unwrap();
    rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).unwrap();
    let plain = Command::new("true").run().unwrap().report.spawn_path;
    // Told by the `Child`'s wait (through the engine) and by a handle's.
    for err in [
        child.handle().wait().unwrap_err(),
        child.wait().unwrap_err(),
    ] {
        let Error::StatusLost { partial, .. } = err else {
            panic!("expected a lost status, got {err}")
        };
        assert_eq!(partial.report.pid, child.pid());
        assert_eq!(partial.report.spawn_path, plain);
    }
}

/// `SPAWN_BACKEND=portable` (read once per process) switches the whole
/// process to the portable mechanisms: a `poll(2)` set, no pidfd, no
/// `clone3`; without it, Linux's own. CI runs this file both ways.
#[test]
fn the_backend_variable_switches_the_mechanisms() {
    let portable = std::env::var_os("SPAWN_BACKEND").is_some_and(|v| v == "portable");
    let set = spawn_sys::ReadySet::new().unwrap();
    let out = Command::new("true").run().unwrap();
    if portable {
        assert_eq!(spawn_sys::backend(), spawn_sys::Backend::Portable);
        assert_eq!(set.kind(), "poll");
        assert!(!spawn_sys::pidfd::pidfd_supported());
        assert!(!spawn_sys::pipe::splice_supported());
        assert_eq!(out.report.spawn_path, SpawnPath::PosixSpawn);
    } else {
        assert_eq!(spawn_sys::backend(), spawn_sys::Backend::Linux);
        assert_eq!(set.kind(), "epoll");
        assert!(spawn_sys::pipe::splice_supported());
    }
}
