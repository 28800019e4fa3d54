//! The engine as a whole: starts moved to the spawner, slots and sinks
//! reused, the lone child's pidfd opened late.

use super::{Engine, Ran, Until};
use crate::wiring::Wiring;
use crate::{Command, Stdio};

/// Runs `n` commands `cmd(i)`, at most `width` at once, through one
/// engine; returns whether it made its spawner thread.
fn made_a_spawner(n: usize, width: usize, cmd: impl Fn(usize) -> Command) -> bool {
    let mut engine = Engine::new(width);
    for i in 0..n {
        engine
            .add(Wiring::command(&cmd(i), crate::wiring::Stops::ByCommand).expect("wiring"))
            .expect("added");
    }
    match engine.run_until(None, Until::AllDone).expect("runs") {
        Ran::Done | Ran::Reached => {}
        Ran::Stopped => panic!("no deadline was set"),
    }
    for i in 0..n {
        assert!(
            crate::finish::result(&mut engine, i)
                .expect("result")
                .status
                .success()
        );
    }
    engine.starts.spawner.is_some()
}

/// Starts go to the spawner thread only while output streams in: with
/// children that print a line, every start is made in place; once a
/// child's 1 MiB has been read since the last start, the next start
/// (with children still running) is made on the thread.
#[test]
fn starts_move_to_the_spawner_only_while_output_streams_in() {
    let quiet = made_a_spawner(40, 4, |i| {
        Command::new("echo")
            .arg(i.to_string())
            .stdout(Stdio::piped())
    });
    assert!(!quiet, "quiet pipes: every start is made in place");
    let streaming = made_a_spawner(12, 4, |_| {
        Command::new("head")
            .args(["-c", "1048576", "/dev/zero"])
            .stdout(Stdio::piped())
    });
    assert!(streaming, "1 MiB per child: the starts go to the spawner");
}

/// A group takes results out and removes their children: what the
/// engine holds follows the children it runs, not the count that went
/// through it (its slots and its sink table alike).
#[test]
fn removed_children_leave_their_slots_and_sinks_for_the_next() {
    let mut engine = Engine::new(2);
    engine.slots.track_finished();
    let cmd = |i: usize| {
        Command::new("sh")
            .args(["-c", "echo $1; echo e$1 >&2", "sh", &i.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
    };
    let (mut added, mut done) = (0, 0);
    while done < 40 {
        while added < 40 && added - done < 2 {
            engine
                .add(Wiring::command(&cmd(added), crate::wiring::Stops::ByOwner).expect("wiring"))
                .expect("added");
            added += 1;
        }
        match engine.run_until(None, Until::AnyFinished).expect("runs") {
            Ran::Done | Ran::Reached => {}
            Ran::Stopped => panic!("no deadline was set"),
        }
        while let Some(slot) = engine.slots.next_finished() {
            let out = crate::finish::result(&mut engine, slot).expect("result");
            assert!(out.status.success());
            engine.remove(slot);
            done += 1;
        }
    }
    assert!(engine.slots.len() <= 3, "slots: {}", engine.slots.len());
    assert!(engine.sinks.len() <= 6, "sinks: {}", engine.sinks.len());
}

fn has_pidfd(engine: &Engine<'_>, ix: usize) -> bool {
    engine.slots[ix]
        .process
        .as_ref()
        .is_some_and(|p| p.pidfd().is_some())
}

/// A `run()` of a command without pipes or deadline waits in one
/// blocking `wait4`: no pidfd is opened for it (the child looks at
/// its parent's fds, from the moment it runs until it exits).
#[test]
fn a_lone_child_with_nothing_but_its_exit_to_wait_for_gets_no_pidfd() {
    let script = r#"for f in /proc/$PPID/fd/*; do
            [ "$(readlink "$f")" = "anon_inode:[pidfd]" ] && exit 1
        done; exit 0"#;
    let out = Command::new("sh").args(["-c", script]).run().expect("runs");
    assert_eq!(out.status.code(), Some(0), "the parent held a pidfd");
}

/// An engine with one queued `sh` that exits with `code` once the
/// returned pipe end is dropped (it reads its stdin from it).
fn held_child(code: i32) -> (Engine<'static>, usize, std::os::fd::OwnedFd) {
    let (held, release) = spawn_sys::pipe::pipe().expect("pipe");
    let cmd = Command::new("sh")
        .args(["-c", &format!("read x; exit {code}")])
        .stdin(Stdio::fd(held));
    let mut engine = Engine::new(0);
    let ix = engine
        .add(Wiring::command(&cmd, crate::wiring::Stops::ByCommand).expect("wiring"))
        .expect("added");
    (engine, ix, release)
}

/// A driver that waits on the engine's epoll set from outside (the
/// reaper, tokio) makes the set after the start: the child kept aside
/// without its pidfd gets it then, and its exit wakes the set.
#[test]
fn a_child_started_without_its_pidfd_gets_it_when_the_epoll_set_is_made() {
    if spawn_sys::ReadySet::new().is_ok_and(|s| s.fd().is_none()) {
        return; // a poll(2) set (SPAWN_BACKEND=portable) has no fd to watch
    }
    let (mut engine, ix, release) = held_child(3);
    // Started, and looked at once without waiting: no pidfd yet.
    let driven = engine.drive_now().expect("driven");
    assert!(
        driven.is_some(),
        "finished: {:?}",
        crate::finish::result(&mut engine, ix)
    );
    assert!(!has_pidfd(&engine, ix));
    let fd = engine
        .epoll_fd()
        .expect("set")
        .try_clone_to_owned()
        .expect("dup");
    assert_eq!(has_pidfd(&engine, ix), spawn_sys::pidfd::pidfd_supported());
    drop(release);
    let bound = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while engine.drive_now().expect("driven").is_some() {
        assert!(std::time::Instant::now() < bound, "hung");
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let _ = spawn_sys::poll::poll(&mut fds, Some(std::time::Duration::from_millis(50)));
    }
    assert_eq!(
        crate::finish::result(&mut engine, ix)
            .expect("result")
            .status
            .code(),
        Some(3)
    );
}

/// A slot's phases: queued when added, started once the core started it,
/// finished once the core is done with it.
#[test]
fn a_slot_goes_from_queued_to_started_to_finished() {
    use super::slot::{Phase, Start};
    let (mut engine, ix, release) = held_child(0);
    assert!(matches!(
        engine.slots[ix].phase,
        Phase::Queued(Start::Launch(_))
    ));
    assert!(engine.drive_now().expect("driven").is_some(), "it waits");
    assert!(matches!(engine.slots[ix].phase, Phase::Started));
    assert!(engine.slots[ix].finished_at().is_none());
    drop(release);
    assert!(engine.run(None).expect("runs"));
    assert!(engine.slots[ix].is_finished());
    assert!(engine.slots[ix].finished_at().is_some());
}
