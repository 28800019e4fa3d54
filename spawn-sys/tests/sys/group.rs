//! Process groups for a teardown: the caller's own group, whether a group
//! has a live member while its leader is an unreaped zombie, and peeking at
//! a child's exit status without reaping it.

use rustix::process::{WaitId, WaitIdOptions, waitid};
use spawn_sys::{
    Errno, GroupState, Pid, exit_code, own_process_group, probe_group, signal_group,
    signal_process, spawn, term_signal, wait_pid, wait_pid_nowait,
};

use crate::common::{opts, sh};

/// Blocks until the child `pid` has exited (is a zombie), leaving it
/// unreaped: the synchronisation of these tests.
fn until_exited(pid: Pid) {
    loop {
        match waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Err(Errno::INTR) => {}
            Ok(Some(_)) => return,
            other => panic!("waitid({pid:?}): {other:?}"),
        }
    }
}

/// `sleep 60` in process group `pg` (0: a new one it leads).
fn sleeper(pg: i32) -> Pid {
    let mut o = opts("sleep", &[b"60"]);
    o.process_group = Some(pg);
    spawn(&o).unwrap().pid
}

#[test]
fn own_process_group_is_getpgrp() {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    let pgrp: i32 = after.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(own_process_group().as_raw_nonzero().get(), pgrp);
    // A child of no group of its own is in it.
    let pid = spawn(&opts("sleep", &[b"60"])).unwrap().pid;
    assert_eq!(
        rustix::process::getpgid(Some(pid)).unwrap(),
        own_process_group()
    );
    signal_process(pid, libc::SIGKILL).unwrap();
    wait_pid(pid, false).unwrap();
}

#[test]
fn a_group_is_live_until_only_the_unreaped_leader_is_left() {
    let leader = sleeper(0);
    let pg = leader.as_raw_nonzero().get();
    let member = sleeper(pg);
    let zombie_member = sleeper(pg);
    assert_eq!(probe_group(leader, leader), GroupState::Live);

    // The leader dies, unreaped: the member keeps the group live.
    signal_process(leader, libc::SIGKILL).unwrap();
    until_exited(leader);
    assert_eq!(probe_group(leader, leader), GroupState::Live);

    // A member that is a zombie does not count either.
    signal_process(zombie_member, libc::SIGKILL).unwrap();
    until_exited(zombie_member);
    assert_eq!(probe_group(leader, leader), GroupState::Live);

    // The last live member killed and reaped by its parent (us): the
    // group is empty, although `kill(-pgid, 0)` still succeeds because
    // the zombies pin it.
    signal_process(member, libc::SIGKILL).unwrap();
    wait_pid(member, false).unwrap();
    assert_eq!(signal_group(leader, 0), Ok(()));
    assert_eq!(probe_group(leader, leader), GroupState::Empty);
    // Asked without leaving the leader out, its zombie does not count.
    assert_eq!(probe_group(leader, member), GroupState::Empty);

    // All reaped: the kernel says so itself.
    wait_pid(zombie_member, false).unwrap();
    wait_pid(leader, false).unwrap();
    assert_eq!(signal_group(leader, 0), Err(Errno::SRCH));
    assert_eq!(probe_group(leader, leader), GroupState::Empty);
}

/// A shell leading a new group, with a background `sleep` (a member that
/// is not our child) whose pid it prints first; then it waits for it and
/// exits 3.
fn shell_with_grandchild() -> (Pid, Pid) {
    let (r, w) = spawn_sys::pipe().unwrap();
    let mut o = sh("sleep 60 & echo $!; wait; exit 3");
    o.process_group = Some(0);
    o.fd_actions.push(spawn_sys::FdAction::Dup2 {
        src: std::os::fd::AsFd::as_fd(&w),
        dst: 1,
    });
    let leader = spawn(&o).unwrap().pid;
    drop(o);
    drop(w);
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while rustix::io::read(&r, &mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let grandchild: i32 = String::from_utf8(line).unwrap().parse().unwrap();
    (leader, Pid::from_raw(grandchild).unwrap())
}

#[test]
fn a_live_leader_alone_is_left_out_but_a_grandchild_member_counts() {
    let leader = sleeper(0);
    // Only the leader: it is the one left out.
    assert_eq!(probe_group(leader, leader), GroupState::Empty);
    signal_process(leader, libc::SIGKILL).unwrap();
    wait_pid(leader, false).unwrap();

    // A member that is not our child, killed and reaped by its parent
    // (the shell, which exits only once its `wait` has reaped it).
    let (leader, grandchild) = shell_with_grandchild();
    assert_eq!(probe_group(leader, leader), GroupState::Live);
    signal_process(grandchild, libc::SIGKILL).unwrap();
    until_exited(leader);
    assert_eq!(
        wait_pid_nowait(leader).unwrap().and_then(exit_code),
        Some(3)
    );
    assert_eq!(signal_group(leader, 0), Ok(()));
    assert_eq!(probe_group(leader, leader), GroupState::Empty);
    wait_pid(leader, false).unwrap();

    // The leader dies first: its orphaned member keeps the group live.
    let (leader, grandchild) = shell_with_grandchild();
    signal_process(leader, libc::SIGKILL).unwrap();
    until_exited(leader);
    assert_eq!(probe_group(leader, leader), GroupState::Live);
    signal_group(leader, libc::SIGKILL).unwrap();
    wait_pid(leader, false).unwrap();
    let _ = signal_process(grandchild, libc::SIGKILL); // already, by the group signal
}

#[test]
fn wait_pid_nowait_peeks_without_reaping() {
    let pid = sleeper(0);
    assert_eq!(wait_pid_nowait(pid), Ok(None));
    signal_process(pid, libc::SIGTERM).unwrap();
    until_exited(pid);
    let peeked = wait_pid_nowait(pid).unwrap().unwrap();
    assert_eq!(term_signal(peeked), Some(libc::SIGTERM));
    // Not reaped: the same again, and the zombie still pins its group.
    assert_eq!(wait_pid_nowait(pid), Ok(Some(peeked)));
    assert_eq!(signal_group(pid, 0), Ok(()));
    assert_eq!(wait_pid(pid, false).unwrap().unwrap().status, peeked);
    assert_eq!(wait_pid_nowait(pid), Err(Errno::CHILD));

    // An exit code, and a signal that may dump core: the same encoding as
    // wait4's.
    for script in ["exit 7", "ulimit -c 0; kill -QUIT $$"] {
        let pid = spawn(&sh(script)).unwrap().pid;
        until_exited(pid);
        let peeked = wait_pid_nowait(pid).unwrap().unwrap();
        let reaped = wait_pid(pid, false).unwrap().unwrap().status;
        assert_eq!(peeked, reaped, "{script}");
    }
    let pid = spawn(&sh("exit 7")).unwrap().pid;
    until_exited(pid);
    assert_eq!(exit_code(wait_pid_nowait(pid).unwrap().unwrap()), Some(7));
    wait_pid(pid, false).unwrap();
}
