//! Fd actions: overlapping `dup2`s, `dup2` onto itself, order, `Open` and
//! `Close`, and that nothing else reaches a child, even with other threads
//! opening fds without close-on-exec at the same time.

use std::os::fd::{AsFd, AsRawFd};

use rustix::fs::{Mode, OFlags};
use spawn_sys::{Errno, FdAction, SpawnStage, spawn, wait_pid};

use crate::common::{self, both_paths, cstring, fd_numbers, opts, read_all, run, sh};

/// Re-run by [`stdout_and_stderr_swap_through_overlapping_dup2`] as a parent
/// whose fds 1 and 2 are pipes: swaps them for its own child.
#[test]
fn helper_swap_parent() {
    let Some(mode) = std::env::var_os("SPAWN_SYS_SWAP_PARENT") else {
        return;
    };
    let (out, err) = (std::io::stdout(), std::io::stderr());
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
    if mode == "fork" {
        common::force_fork(&mut o);
    }
    let pid = spawn(&o).unwrap().pid;
    let st = wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::exit_code(st.status), Some(0));
}

#[test]
fn stdout_and_stderr_swap_through_overlapping_dup2() {
    both_paths(|fork| {
        let mode = if fork { "fork" } else { "posix" };
        let o = common::rerun_self(
            "fds::helper_swap_parent",
            &[("SPAWN_SYS_SWAP_PARENT", mode)],
        );
        let r = run(o, false);
        assert_eq!(r.code(), Some(0), "{r:?}");
        // The grandchild's stdout went to our stderr pipe and vice versa.
        assert!(r.err().contains("to-stdout\n"), "{r:?}");
        assert!(r.out().contains("to-stderr\n"), "{r:?}");
        assert!(!r.out().contains("to-stdout"), "{r:?}");
    });
}

#[test]
fn only_0_1_2_and_chosen_fds_reach_the_child() {
    // A non-CLOEXEC fd at 200 or above, as careless code elsewhere leaves.
    let null = spawn_sys::dev_null(false).unwrap();
    let leaky = spawn_sys::dup_cloexec_from(&null, 200).unwrap();
    spawn_sys::set_cloexec(&leaky, false).unwrap();
    assert!(leaky.as_raw_fd() >= 200);
    both_paths(|fork| {
        // `ls` itself holds one fd (3) to read the directory.
        let fds = fd_numbers(&run(opts("ls", &[b"/proc/self/fd"]), fork).stdout);
        assert_eq!(fds, [0, 1, 2, 3], "fork={fork}");

        // A Dup2 target above 2 does reach it (and ls's own fd moves up).
        let mut o = opts("ls", &[b"/proc/self/fd"]);
        o.fd_actions.push(FdAction::Dup2 {
            src: null.as_fd(),
            dst: 5,
        });
        let fds = fd_numbers(&run(o, fork).stdout);
        assert_eq!(fds, [0, 1, 2, 3, 5], "fork={fork}");
    });
}

#[test]
fn dup2_onto_itself_passes_a_close_on_exec_fd() {
    both_paths(|fork| {
        let (r, w) = spawn_sys::pipe().unwrap();
        assert!(spawn_sys::is_cloexec(&w).unwrap());
        let n = w.as_raw_fd();
        let script = format!("import os; os.write({n}, b'through {n}')");
        let mut o = opts("python3", &[b"-c", script.as_bytes()]);
        o.fd_actions.push(FdAction::Dup2 {
            src: w.as_fd(),
            dst: n,
        });
        let out = run(o, fork);
        assert_eq!(out.code(), Some(0), "{out:?}");
        drop(w);
        assert_eq!(
            read_all(r),
            format!("through {n}").as_bytes(),
            "fork={fork}"
        );
    });
}

#[test]
fn fd_actions_run_in_order() {
    both_paths(|fork| {
        let (r, w) = spawn_sys::pipe().unwrap();
        // Dup2 then Close: the child's fd 3 ends up closed.
        let mut o = sh("echo a >&3 || echo fd3-closed >&2");
        o.fd_actions = vec![
            FdAction::Dup2 {
                src: w.as_fd(),
                dst: 3,
            },
            FdAction::Close { dst: 3 },
        ];
        let got = run(o, fork);
        assert!(got.err().contains("fd3-closed"), "fork={fork}: {got:?}");
        // Close then Dup2: fd 3 is the pipe.
        let mut o = sh("echo b >&3");
        o.fd_actions = vec![
            FdAction::Close { dst: 3 },
            FdAction::Dup2 {
                src: w.as_fd(),
                dst: 3,
            },
        ];
        assert_eq!(run(o, fork).code(), Some(0));
        drop(w);
        assert_eq!(read_all(r), b"b\n", "fork={fork}");
    });
}

#[test]
fn open_actions_open_in_the_child_and_their_errors_are_fd_action_errors() {
    let tmp = common::temp_dir("open");
    let dir = tmp.path();
    both_paths(|fork| {
        let file = dir.join(format!("out-{fork}"));
        let mut o = sh("echo hello >&4; cat <&6");
        o.fd_actions = vec![
            FdAction::Open {
                dst: 4,
                path: cstring(file.to_str().unwrap()),
                // CLOEXEC would defeat the action: it is dropped.
                flags: OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
                mode: Mode::from_raw_mode(0o600),
            },
            FdAction::Open {
                dst: 6,
                path: cstring("/proc/self/comm"),
                flags: OFlags::RDONLY,
                mode: Mode::empty(),
            },
        ];
        // Opened by the child before exec: the process named in the file is
        // the child (`sh` once it runs), not this test.
        let r = run(o, fork);
        assert_eq!((r.out(), r.code()), ("sh\n".into(), Some(0)), "fork={fork}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello\n");

        let mut o = sh("true");
        o.fd_actions = vec![FdAction::Open {
            dst: 0,
            path: cstring("/nonexistent/input"),
            flags: OFlags::RDONLY,
            mode: Mode::empty(),
        }];
        if fork {
            common::force_fork(&mut o);
        }
        let e = spawn(&o).unwrap_err();
        assert_eq!(
            (e.stage, e.errno),
            (SpawnStage::FdAction, Errno::NOENT),
            "fork={fork}"
        );
    });
}

#[test]
fn bad_targets_are_ebadf_errors() {
    let null = spawn_sys::dev_null(false).unwrap();
    let (soft, _) = spawn_sys::nofile_limit().unwrap();
    let at_limit = i32::try_from(soft).unwrap_or(i32::MAX);
    for dst in [-1, at_limit, i32::MAX] {
        let mut o = opts("true", &[]);
        o.fd_actions.push(FdAction::Dup2 {
            src: null.as_fd(),
            dst,
        });
        let e = spawn(&o).unwrap_err();
        assert_eq!(
            (e.stage, e.errno),
            (SpawnStage::FdAction, Errno::BADF),
            "{dst}"
        );
        o.fd_actions = vec![FdAction::Close { dst }];
        assert_eq!(spawn(&o).unwrap_err().errno, Errno::BADF, "{dst}");
    }
}

#[test]
fn concurrent_spawns_see_none_of_each_others_fds() {
    // Each thread leaves a pipe end without close-on-exec while others
    // spawn: posix_spawn's closefrom (or the fork path's close_range) must
    // still keep every child's table to 0, 1, 2 (and ls's own 3).
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    let (_r, w) = spawn_sys::pipe().unwrap();
                    spawn_sys::set_cloexec(&w, false).unwrap();
                    let fork = (t + i) % 2 == 0;
                    let fds = fd_numbers(&run(opts("ls", &[b"/proc/self/fd"]), fork).stdout);
                    assert_eq!(fds, [0, 1, 2, 3], "thread {t} spawn {i} fork={fork}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Python that reads fds 3 and 5, checks that 4 is closed, then lists its
/// fds (`listdir` opens the lowest free one, 4, to read the directory).
const READ_3_5: &str = "import os
a = os.read(3, 100)
b = os.read(5, 100)
try:
    os.fstat(4)
    print('4 open')
except OSError:
    pass
print(a.decode(), b.decode())
print(' '.join(sorted(os.listdir('/proc/self/fd'), key=int)))
";

#[test]
fn pipes_passed_as_fd_3_and_5_are_read_and_nothing_else_is_open() {
    // A non-CLOEXEC fd as careless code leaves: it must not reach the child.
    let null = spawn_sys::dev_null(false).unwrap();
    let leaky = spawn_sys::dup_cloexec_from(&null, 4).unwrap();
    spawn_sys::set_cloexec(&leaky, false).unwrap();
    both_paths(|fork| {
        let (r3, w3) = spawn_sys::pipe().unwrap();
        let (r5, w5) = spawn_sys::pipe().unwrap();
        rustix::io::write(&w3, b"three").unwrap();
        rustix::io::write(&w5, b"five").unwrap();
        drop((w3, w5));
        let mut o = opts("python3", &[b"-c", READ_3_5.as_bytes()]);
        o.fd_actions = vec![
            FdAction::Dup2 {
                src: r5.as_fd(),
                dst: 5,
            },
            FdAction::Dup2 {
                src: r3.as_fd(),
                dst: 3,
            },
        ];
        let r = run(o, fork);
        assert_eq!(
            (r.out(), r.code()),
            ("three five\n0 1 2 3 4 5\n".into(), Some(0)),
            "fork={fork}: {r:?}"
        );
    });
}

#[test]
fn high_targets_around_an_fd_of_ours_leave_it_closed() {
    // Our non-CLOEXEC fd `n` sits between the child's `n - 1` and `n + 1`:
    // the gap between two targets is closed too.
    let null = spawn_sys::dev_null(false).unwrap();
    let leaky = spawn_sys::dup_cloexec_from(&null, 100).unwrap();
    spawn_sys::set_cloexec(&leaky, false).unwrap();
    let n = leaky.as_raw_fd();
    both_paths(|fork| {
        let mut o = opts("ls", &[b"/proc/self/fd"]);
        o.fd_actions = vec![
            FdAction::Dup2 {
                src: null.as_fd(),
                dst: n - 1,
            },
            FdAction::Dup2 {
                src: null.as_fd(),
                dst: n + 1,
            },
        ];
        let fds = fd_numbers(&run(o, fork).stdout);
        assert_eq!(fds, [0, 1, 2, 3, n - 1, n + 1], "fork={fork}");
    });
}

/// Re-run by [`fds_3_and_4_swap_and_3_4_5_rotate`] with pipes A, B, C as
/// its fds 3, 4, 5: gives its children 3 and 4 swapped, then 3, 4, 5
/// rotated, each child writing its fd's number to each fd.
#[test]
fn helper_swap_34() {
    let Some(mode) = std::env::var_os("SPAWN_SYS_SWAP34") else {
        return;
    };
    // SAFETY: the parent passed fds 3, 4 and 5 open (checked by fstat just
    // below, before any use); nothing in this process closes them.
    let fds = [3, 4, 5].map(|n| unsafe { std::os::fd::BorrowedFd::borrow_raw(n) });
    for fd in fds {
        let st = rustix::fs::fstat(fd).unwrap();
        assert_eq!(
            rustix::fs::FileType::from_raw_mode(st.st_mode),
            rustix::fs::FileType::Fifo
        );
    }
    let write_all = "import os
for n in (3, 4, 5):
    try:
        os.write(n, b'%d,' % n)
    except OSError:
        pass
";
    let [a, b, c] = fds;
    let cases = [
        // 3 <-> 4: the child's 3 is our 4 and its 4 our 3.
        vec![
            FdAction::Dup2 { src: a, dst: 4 },
            FdAction::Dup2 { src: b, dst: 3 },
        ],
        // 3 -> 4 -> 5 -> 3.
        vec![
            FdAction::Dup2 { src: a, dst: 4 },
            FdAction::Dup2 { src: b, dst: 5 },
            FdAction::Dup2 { src: c, dst: 3 },
        ],
    ];
    for actions in cases {
        let mut o = opts("python3", &[b"-c", write_all.as_bytes()]);
        o.fd_actions = actions;
        if mode == "fork" {
            common::force_fork(&mut o);
        }
        let pid = spawn(&o).unwrap().pid;
        let st = wait_pid(pid, false).unwrap().unwrap();
        assert_eq!(spawn_sys::exit_code(st.status), Some(0));
    }
}

#[test]
fn fds_3_and_4_swap_and_3_4_5_rotate() {
    both_paths(|fork| {
        let mode = if fork { "fork" } else { "posix" };
        let pipes = [(); 3].map(|()| spawn_sys::pipe().unwrap());
        let mut o = common::rerun_self("fds::helper_swap_34", &[("SPAWN_SYS_SWAP34", mode)]);
        for (i, (_, w)) in pipes.iter().enumerate() {
            o.fd_actions.push(FdAction::Dup2 {
                src: w.as_fd(),
                dst: 3 + i as i32,
            });
        }
        let r = run(o, false);
        assert_eq!(r.code(), Some(0), "{r:?}");
        let got: Vec<String> = pipes
            .into_iter()
            .map(|(r, w)| {
                drop(w);
                String::from_utf8(read_all(r)).unwrap()
            })
            .collect();
        // Swap: A (helper's 3) is the child's 4, B (4) its 3, C (5) not
        // passed. Rotation: A is the child's 4, B its 5, C its 3.
        assert_eq!(got, ["4,4,", "3,5,", "3,"], "mode={mode}");
    });
}
