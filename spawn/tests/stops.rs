//! Every stop ends everything the run started (issue 27): a run stopped by
//! a cancel, a drop or `kill_on_drop`, with or without a timeout and with
//! any group setting, leaves no grandchild running. Each case starts
//! `sh`, which starts a `sleep` in the background, writes the sleep's pid
//! into a file and waits: the stop comes once that file names the pid, and
//! the sleep is checked gone by its pid.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{HANG, gone_soon};
use spawn::{CancelToken, Command, Error, Group, Stdio};

/// `sh` that starts a grandchild `sleep`, writes its pid to `file`, and
/// waits for it (then runs `true`, so that `sh` does not `exec` it).
fn with_grandchild(file: &Path) -> Command {
    Command::new("sh").args([
        "-c",
        r#"sleep 65 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"; wait; true"#,
        &file.display().to_string(),
    ])
}

/// The pid in `file`, once it is there (the file appears whole: `mv`).
fn pid_in(file: &Path) -> u32 {
    let start = std::time::Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(file)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(start.elapsed() < HANG, "{} never written", file.display());
        std::thread::yield_now();
    }
}

/// Cancels `token` once every file names a pid; returns the pids.
fn cancel_when_started(
    token: &CancelToken,
    files: Vec<PathBuf>,
) -> std::thread::JoinHandle<Vec<u32>> {
    let t = token.clone();
    std::thread::spawn(move || {
        let pids = files.iter().map(|f| pid_in(f)).collect();
        t.cancel();
        pids
    })
}

fn assert_all_gone(pids: &[u32]) {
    for &pid in pids {
        assert!(gone_soon(pid), "grandchild {pid} still runs");
    }
}

/// The group settings a caller can give: none, a group of its own, a
/// session, and joining the caller's own group (a group the run does not
/// own: the stop walks the child's descendants).
/// A group setting, applied to a command.
type Grouping = fn(Command) -> Command;

fn groupings() -> Vec<(&'static str, Grouping)> {
    vec![
        ("no group", |c| c),
        ("process_group(0)", |c| c.process_group(0)),
        ("new_session()", Command::new_session),
        ("the caller's group", |c| {
            c.process_group(
                spawn_sys::own_process_group()
                    .as_raw_nonzero()
                    .get()
                    .unsigned_abs(),
            )
        }),
    ]
}

#[test]
fn a_cancelled_run_leaves_no_grandchild_whatever_its_group() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, grouping)) in groupings().into_iter().enumerate() {
        for timeout in [None, Some(Duration::from_secs(3600))] {
            let file = dir.path().join(format!("{i}-{}", timeout.is_some()));
            let token = CancelToken::new();
            let stopper = cancel_when_started(&token, vec![file.clone()]);
            let mut cmd = grouping(with_grandchild(&file)).cancel_on(&token);
            if let Some(t) = timeout {
                cmd = cmd.timeout(t);
            }
            let res = cmd.run();
            assert!(
                matches!(res, Err(Error::Cancelled { .. })),
                "{what}: {res:?}"
            );
            let pids = stopper.join().unwrap();
            assert_all_gone(&pids);
        }
    }
}

#[test]
fn a_cancelled_group_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(i.to_string())).collect();
    let token = CancelToken::new();
    let stopper = cancel_when_started(&token, files.clone());
    let results = Group::new()
        .add_all(files.iter().map(|f| with_grandchild(f)))
        .cancel_on(&token)
        .run()
        .unwrap();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Cancelled { .. }))),
        "{results:?}"
    );
    assert_all_gone(&stopper.join().unwrap());
}

#[test]
fn a_spawned_childs_cancelled_wait_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let token = CancelToken::new();
    let child = with_grandchild(&file)
        .stdout(Stdio::piped())
        .cancel_on(&token)
        .spawn()
        .unwrap();
    let stopper = cancel_when_started(&token, vec![file]);
    let res = child.wait();
    assert!(matches!(res, Err(Error::Cancelled { .. })), "{res:?}");
    assert_all_gone(&stopper.join().unwrap());
}

#[test]
fn breaking_out_of_results_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..3).map(|i| dir.path().join(i.to_string())).collect();
    let mut group = Group::new().add_all(files.iter().map(|f| with_grandchild(f)));
    // Ends once every grandchild started: `--halt now`'s first failure.
    let all = files
        .iter()
        .map(|f| format!("test -s {}", f.display()))
        .collect::<Vec<_>>()
        .join(" && ");
    group = group.add(Command::new("sh").args(["-c", &format!("until {all}; do :; done; exit 3")]));
    let mut results = group.results();
    let (index, first) = results.next().expect("a result");
    assert_eq!((index, first.unwrap().status.code()), (3, Some(3)));
    drop(results);
    assert_all_gone(&files.iter().map(|f| pid_in(f)).collect::<Vec<_>>());
}

#[test]
fn kill_on_drop_leaves_no_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, grouping)) in groupings().into_iter().enumerate() {
        let file = dir.path().join(i.to_string());
        let child = grouping(with_grandchild(&file))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = pid_in(&file);
        drop(child);
        assert!(gone_soon(pid), "{what}: grandchild {pid} still runs");
    }
}
