//! spawn-sys against real processes: posix_spawn and the fork fallback, fd
//! actions, cwd, groups and sessions, signal state, PATH search, pipes,
//! wait4, pidfds, epoll, and no leaks over many spawns.

#![allow(unsafe_code)]
//! # Safety
//! One test blocks a signal in its own thread with `pthread_sigmask`.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use spawn_sys::spawn::{
    self, CStringArray, EnvError, FdAction, ForkOptions, LookupError, SpawnOptions, SpawnStage,
};
use spawn_sys::{Errno, Pid, fd, pidfd, pipe, poll, signal, wait};

fn argv(args: &[&[u8]]) -> CStringArray {
    let mut a = CStringArray::new();
    for x in args {
        a.push(x).unwrap();
    }
    a
}

fn env() -> CStringArray {
    spawn::env_array([(&b"PATH"[..], &b"/usr/bin:/bin"[..])]).unwrap()
}

fn opts<'fd>(program: &str, args: &[&[u8]]) -> SpawnOptions<'fd> {
    let program = spawn::find_program(program.as_bytes(), Some(b"/usr/bin:/bin")).unwrap();
    let mut all: Vec<&[u8]> = vec![program.as_bytes()];
    all.extend_from_slice(args);
    SpawnOptions {
        argv: argv(&all),
        program,
        envp: env(),
        cwd: None,
        fd_actions: Vec::new(),
        process_group: None,
        new_session: false,
        fork: ForkOptions::default(),
    }
}

fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut f = std::fs::File::from(fd);
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

/// Runs `o` with stdout captured; returns (stdout, wait status).
fn capture(o: SpawnOptions<'_>) -> (Vec<u8>, i32) {
    let (r, w) = pipe::pipe().unwrap();
    let pid = {
        let SpawnOptions {
            program,
            argv,
            envp,
            cwd,
            fd_actions,
            process_group,
            new_session,
            fork,
        } = o;
        let mut fd_actions: Vec<FdAction<'_>> = fd_actions;
        fd_actions.push(FdAction::Dup2 {
            src: w.as_fd(),
            dst: 1,
        });
        let o = SpawnOptions {
            program,
            argv,
            envp,
            cwd,
            fd_actions,
            process_group,
            new_session,
            fork,
        };
        spawn::spawn(&o).unwrap()
    };
    drop(w);
    let out = read_all(r);
    let st = wait::wait_pid(pid, false).unwrap().unwrap();
    (out, st.status)
}

fn sh(script: &str) -> SpawnOptions<'static> {
    opts("sh", &[b"-c", script.as_bytes()])
}

#[test]
fn exec_errors_come_back_from_the_spawn_call() {
    let mut o = sh("true");
    o.program = CString::new("/nonexistent/program").unwrap();
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::NOENT, SpawnStage::Exec));

    let dir = std::env::temp_dir().join(format!("spawn-sys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("not-exec");
    std::fs::write(&f, "#!/bin/sh\n").unwrap();
    o.program = CString::new(f.to_str().unwrap()).unwrap();
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::ACCESS, SpawnStage::Exec));
}

#[test]
fn cwd_applies_and_a_bad_one_is_a_cwd_error() {
    let mut o = opts("pwd", &[]);
    o.cwd = Some(CString::new("/usr").unwrap());
    let (out, st) = capture(o);
    assert_eq!(out, b"/usr\n");
    assert_eq!(wait::exit_code(st), Some(0));

    let mut o = opts("pwd", &[]);
    o.cwd = Some(CString::new("/nonexistent-dir").unwrap());
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::NOENT, SpawnStage::Cwd));
    let mut o = opts("pwd", &[]);
    o.cwd = Some(CString::new("/etc/passwd").unwrap());
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::NOTDIR, SpawnStage::Cwd));
}

#[test]
fn argv_and_env_bytes_round_trip_including_non_utf8() {
    let mut o = sh("printf '%s|%s' \"$1\" \"$X\"");
    o.argv = argv(&[
        b"sh",
        b"-c",
        b"printf '%s|%s' \"$1\" \"$X\"",
        b"sh",
        b"\xff\xfe arg",
    ]);
    o.envp = spawn::env_array([(&b"X"[..], &b"\x80v=1"[..])]).unwrap();
    let (out, _) = capture(o);
    assert_eq!(out, b"\xff\xfe arg|\x80v=1");
}

#[test]
fn bad_strings_are_error_values() {
    assert_eq!(CStringArray::new().push(b"a\0b").unwrap_err().position, 1);
    let e = spawn::env_array([(&b"A=B"[..], &b"x"[..])]).unwrap_err();
    assert_eq!(e, EnvError::KeyHasEquals);
    let e = spawn::env_array([(&b""[..], &b"x"[..])]).unwrap_err();
    assert_eq!(e, EnvError::KeyEmpty);
    let e = spawn::env_array([(&b"A"[..], &b"x\0"[..])]).unwrap_err();
    assert_eq!(e, EnvError::InteriorNul);
    assert_eq!(spawn::find_program(b"", None), Err(LookupError::Empty));
    assert_eq!(
        spawn::find_program(b"a\0", None),
        Err(LookupError::InteriorNul)
    );
}

#[test]
fn path_search_uses_the_given_path_only() {
    let found = spawn::find_program(b"sh", Some(b"/nonexistent:/bin")).unwrap();
    assert_eq!(found.as_bytes(), b"/bin/sh");
    assert_eq!(
        spawn::find_program(b"sh", Some(b"/nonexistent")),
        Err(LookupError::NotFound {
            searched: b"/nonexistent".to_vec()
        })
    );
    // A program with a slash is not searched.
    assert_eq!(
        spawn::find_program(b"./x/sh", Some(b"/bin"))
            .unwrap()
            .as_bytes(),
        b"./x/sh"
    );
    // A directory in the way is skipped; a non-executable file is reported.
    let dir = std::env::temp_dir().join(format!("spawn-sys-path-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tool")).unwrap();
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("tool"), "x").unwrap();
    let path = format!("{}:{}", dir.display(), other.display());
    match spawn::find_program(b"tool", Some(path.as_bytes())) {
        Err(LookupError::PermissionDenied { path }) => assert!(path.ends_with(b"other/tool")),
        other => panic!("{other:?}"),
    }
}

/// When run with `SPAWN_SYS_SWAP_PARENT=1`, this test binary is the parent
/// whose fds 1 and 2 are pipes: it swaps them for its own child.
#[test]
fn swap_parent_helper() {
    if std::env::var_os("SPAWN_SYS_SWAP_PARENT").is_none() {
        return;
    }
    let out = std::io::stdout();
    let err = std::io::stderr();
    let mut o = sh("echo to-stdout; echo to-stderr >&2");
    // Overlapping: the source of each is the target of the other.
    o.fd_actions = vec![
        FdAction::Dup2 {
            src: err.as_fd(),
            dst: 1,
        },
        FdAction::Dup2 {
            src: out.as_fd(),
            dst: 2,
        },
    ];
    let pid = spawn::spawn(&o).unwrap();
    let st = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::exit_code(st.status), Some(0));
}

#[test]
fn stdout_and_stderr_swap_through_overlapping_dup2() {
    let exe = std::env::current_exe().unwrap();
    let (out_r, out_w) = pipe::pipe().unwrap();
    let (err_r, err_w) = pipe::pipe().unwrap();
    let mut o = opts("true", &[]);
    o.program = CString::new(exe.to_str().unwrap()).unwrap();
    o.argv = argv(&[
        exe.to_str().unwrap().as_bytes(),
        b"--exact",
        b"swap_parent_helper",
        b"--nocapture",
        b"--test-threads=1",
    ]);
    o.envp = spawn::env_array([
        (&b"SPAWN_SYS_SWAP_PARENT"[..], &b"1"[..]),
        (&b"PATH"[..], &b"/usr/bin:/bin"[..]),
    ])
    .unwrap();
    o.fd_actions = vec![
        FdAction::Dup2 {
            src: out_w.as_fd(),
            dst: 1,
        },
        FdAction::Dup2 {
            src: err_w.as_fd(),
            dst: 2,
        },
    ];
    let pid = spawn::spawn(&o).unwrap();
    drop(o);
    drop((out_w, err_w));
    let t = std::thread::spawn(move || read_all(err_r));
    let out = String::from_utf8(read_all(out_r)).unwrap();
    let err = String::from_utf8(t.join().unwrap()).unwrap();
    let st = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::exit_code(st.status), Some(0), "{out}\n{err}");
    // The grandchild's stdout went to the parent's stderr and vice versa.
    assert!(err.contains("to-stdout\n"), "stderr: {err:?}");
    assert!(out.contains("to-stderr\n"), "stdout: {out:?}");
    assert!(!out.contains("to-stdout"));
}

#[test]
fn only_0_1_2_and_chosen_fds_reach_the_child() {
    // A non-CLOEXEC fd at 200 or above, as careless code elsewhere would leave.
    let null = fd::dev_null(false).unwrap();
    let leaky = rustix::io::fcntl_dupfd_cloexec(&null, 200).unwrap();
    fd::set_cloexec(&leaky, false).unwrap();
    assert!(leaky.as_raw_fd() >= 200);
    let (out, _) = capture(opts("ls", &[b"/proc/self/fd"]));
    let fds: Vec<i32> = String::from_utf8(out)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    // ls itself opens one fd to read the directory.
    assert!(fds.iter().all(|&f| f <= 3), "{fds:?}");
    assert!(fds.starts_with(&[0, 1, 2]), "{fds:?}");

    // A Dup2 target above 2 does reach it.
    let mut o = opts("ls", &[b"/proc/self/fd"]);
    o.fd_actions.push(FdAction::Dup2 {
        src: null.as_fd(),
        dst: 7,
    });
    let (out, _) = capture(o);
    let text = String::from_utf8(out).unwrap();
    assert!(text.split_whitespace().any(|f| f == "7"), "{text}");
    assert!(
        !text
            .split_whitespace()
            .any(|f| f.parse::<i32>().unwrap() >= 200),
        "{text}"
    );
}

fn stat_fields(out: &[u8]) -> Vec<i64> {
    // pid (comm) state ppid pgrp session ...
    let s = String::from_utf8_lossy(out);
    let after = &s[s.rfind(')').unwrap() + 2..];
    let mut v = vec![s.split_whitespace().next().unwrap().parse().unwrap()];
    v.extend(
        after
            .split_whitespace()
            .skip(1)
            .take(3)
            .map(|x| x.parse::<i64>().unwrap()),
    );
    v // [pid, ppid, pgrp, session]
}

#[test]
fn process_group_and_session_take_effect() {
    let mut o = opts("cat", &[b"/proc/self/stat"]);
    o.process_group = Some(0);
    let (out, _) = capture(o);
    let f = stat_fields(&out);
    assert_eq!(f[2], f[0], "pgrp == pid: {f:?}");
    assert_ne!(f[3], f[0]);

    let mut o = opts("cat", &[b"/proc/self/stat"]);
    o.new_session = true;
    let (out, _) = capture(o);
    let f = stat_fields(&out);
    assert_eq!(f[3], f[0], "session == pid: {f:?}");
    assert_eq!(f[2], f[0]);
}

#[test]
fn the_child_starts_with_default_signals_and_an_empty_mask() {
    // Rust ignores SIGPIPE in every program; block SIGUSR2 in this thread too.
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the set is initialised by sigemptyset before sigaddset and
    // pthread_sigmask read it; it lives on this stack frame.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
    }
    // SAFETY: `set` was initialised above.
    unsafe {
        libc::sigaddset(set.as_mut_ptr(), libc::SIGUSR2);
    }
    // SAFETY: `set` is initialised; blocking a signal in this test thread only.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
    }
    for fork in [false, true] {
        let mut o = opts("grep", &[b"-E", b"^Sig(Ign|Blk)", b"/proc/self/status"]);
        if fork {
            o.fork.umask = Some(0o022);
        }
        let (out, _) = capture(o);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (name, hex) = (it.next().unwrap(), it.next().unwrap());
            let mask = u64::from_str_radix(hex, 16).unwrap();
            if name == "SigBlk:" {
                assert_eq!(mask, 0, "fork={fork}: {line}");
            } else {
                // Signals 1-31 all at their default. (glibc reserves 32 and
                // 33 for itself: neither posix_spawn nor sigaction can reset
                // them, and an environment that ignores them passes that on.)
                assert_eq!(mask & 0x7fff_ffff, 0, "fork={fork}: {line}");
            }
        }
    }
}

#[test]
fn fork_fallback_applies_umask_and_rlimits_and_reports_exec_errno() {
    let mut o = sh("umask; ulimit -n");
    o.fork.umask = Some(0o027);
    o.fork.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 77, 77)];
    let (out, st) = capture(o);
    assert_eq!(String::from_utf8(out).unwrap(), "0027\n77\n");
    assert_eq!(wait::exit_code(st), Some(0));

    let mut o = sh("true");
    o.fork.umask = Some(0o022);
    o.program = CString::new("/nonexistent/prog").unwrap();
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::NOENT, SpawnStage::Exec));
    o.program = CString::new("/etc/passwd").unwrap();
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::ACCESS, SpawnStage::Exec));
    o.program = CString::new("/bin/sh").unwrap();
    o.cwd = Some(CString::new("/nonexistent").unwrap());
    let e = spawn::spawn(&o).unwrap_err();
    assert_eq!((e.errno, e.stage), (Errno::NOENT, SpawnStage::Cwd));
}

#[test]
fn pipe_capacity_round_trips_and_is_clamped() {
    let (r, _w) = pipe::pipe().unwrap();
    assert_eq!(pipe::set_pipe_size(&r, 256 << 10).unwrap(), 256 << 10);
    assert_eq!(pipe::pipe_size(&r).unwrap(), 256 << 10);
    let max = pipe::max_pipe_size();
    assert_eq!(pipe::set_pipe_size(&r, usize::MAX / 2).unwrap(), max);
}

#[test]
fn a_nonblocking_empty_pipe_would_block() {
    let (r, w) = pipe::pipe().unwrap();
    pipe::set_nonblocking(&r, true).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(&r, &mut buf), Err(Errno::AGAIN));
    rustix::io::write(&w, b"x").unwrap();
    assert_eq!(rustix::io::read(&r, &mut buf), Ok(1));
    assert!(fd::is_cloexec(&r).unwrap() && fd::is_cloexec(&w).unwrap());
}

#[test]
fn wait4_reports_status_cpu_and_max_rss() {
    let pid = spawn::spawn(&opts(
        "python3",
        &[
            b"-c",
            b"x = bytearray(100 << 20)\nsum(range(3000000))\nraise SystemExit(5)",
        ],
    ))
    .unwrap();
    let w = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::exit_code(w.status), Some(5));
    assert!(w.rusage.max_rss_bytes >= 100 << 20, "{:?}", w.rusage);
    assert!(w.rusage.user > Duration::ZERO);
}

#[test]
fn pidfd_notifies_exit_and_signals() {
    assert!(pidfd::pidfd_supported());
    let pid = spawn::spawn(&opts("sleep", &[b"60"])).unwrap();
    let pfd = pidfd::pidfd_open(pid).unwrap();
    let ep = poll::Epoll::new().unwrap();
    let interest = poll::Interest {
        readable: true,
        ..Default::default()
    };
    ep.add(&pfd, 42, interest).unwrap();
    let mut ready = Vec::new();
    ep.wait(&mut ready, 4, Some(Duration::ZERO)).unwrap();
    assert!(ready.is_empty(), "running: not readable");
    assert_eq!(wait::wait_pid(pid, true).unwrap(), None);
    signal::signal_pidfd(&pfd, libc::SIGTERM).unwrap();
    ep.wait(&mut ready, 4, Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].token, 42);
    assert!(ready[0].readable);
    let w = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::term_signal(w.status), Some(libc::SIGTERM));
    assert!(pidfd::disabled_by(Some("1".as_ref())));
    assert!(!pidfd::disabled_by(Some("0".as_ref())));
    assert!(!pidfd::disabled_by(None));
}

#[test]
fn signals_to_a_process_and_a_group() {
    let mut o = opts("sleep", &[b"60"]);
    o.process_group = Some(0);
    let pid = spawn::spawn(&o).unwrap();
    signal::signal_group(pid, libc::SIGKILL).unwrap();
    let w = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::term_signal(w.status), Some(libc::SIGKILL));

    let pid = spawn::spawn(&opts("sleep", &[b"60"])).unwrap();
    signal::signal_process(pid, libc::SIGINT).unwrap();
    let w = wait::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(wait::term_signal(w.status), Some(libc::SIGINT));
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

#[test]
fn a_thousand_spawns_leak_no_fd_and_no_zombie() {
    let fds = fd::open_fd_count().unwrap();
    let z = zombies();
    for _ in 0..1000 {
        let (r, w) = pipe::pipe().unwrap();
        let mut o = opts("true", &[]);
        o.fd_actions.push(FdAction::Dup2 {
            src: w.as_fd(),
            dst: 1,
        });
        let pid: Pid = spawn::spawn(&o).unwrap();
        drop(o);
        drop((r, w));
        let st = wait::wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(wait::exit_code(st.status), Some(0));
    }
    assert_eq!(fd::open_fd_count().unwrap(), fds);
    assert_eq!(zombies(), z);
}

#[test]
fn nofile_limit_round_trips() {
    let (soft, hard) = fd::nofile_limit().unwrap();
    assert!(soft <= hard);
    let old = fd::set_nofile_limit(soft).unwrap();
    assert_eq!(old, soft);
}
