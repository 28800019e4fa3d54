//! Groups this process does not own: the helper runs in a session of its
//! own (the test starts it so), leads its own process group, and asks
//! spawn to signal that group through a child that joined it. Nothing may
//! reach this process: a broken promise kills the helper, not the test.

use std::time::Duration;

use spawn::{Command, Error};

/// `process_group(own pgid)`: `kill_group` is refused with `InvalidInput`,
/// a timeout stops the child and its descendants alone, and nothing
/// signals this process.
pub fn own_group() -> String {
    let own = rustix::process::getpgrp();
    let own_raw = own.as_raw_nonzero().get().unsigned_abs();
    assert_eq!(
        own,
        rustix::process::getpid(),
        "the helper must lead its own group (start it in a new session)"
    );
    let child = Command::new("sleep")
        .arg("30")
        .process_group(own_raw)
        .spawn()
        .expect("sleep starts in our group");
    let err = child.kill_group().unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let err = child.signal_group(spawn::Signal::TERM).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    child.kill().expect("kill the child itself");
    child.wait().expect("reaped");

    // A timeout in a group the run does not own stops the child and its
    // descendants (walked in /proc), never the group: we are alive after.
    let err = Command::new("sh")
        .args(["-c", "sleep 30; true"])
        .process_group(own_raw)
        .timeout(Duration::from_millis(50))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");

    // Group 1 is not in this session: joining it fails with the step named,
    // and nothing was signalled.
    let err = Command::new("true").process_group(1).run().unwrap_err();
    assert!(err.to_string().contains("process group"), "{err}");
    format!(
        "pgid {own_raw}: kill_group and signal_group refused, a timeout stopped the child alone; still alive"
    )
}

/// A program that does not handle Ctrl-C, run from a terminal: a timed run
/// and a cancellable run (its token never cancelled), on two threads, each
/// of `sh` running a foreground grandchild `sleep` that writes its pid into
/// `DIR/timed` and `DIR/cancellable`. The test sends Ctrl-C to the terminal
/// once both files are there: the program dies of it, and so must the
/// grandchildren (as with std, Python or tokio), not become orphans.
pub fn ctrl_c_target(rest: &[String]) -> String {
    let dir = std::path::PathBuf::from(rest.first().expect("a directory"));
    let script = |name: &str| with_grandchild(&dir.join(name));
    let timed = script("timed").timeout(Duration::from_secs(60));
    let token = spawn::CancelToken::new();
    let cancellable = script("cancellable").cancel_on(&token);
    let other = std::thread::spawn(move || cancellable.run().is_ok());
    let res = timed.run();
    let _ = other.join();
    format!("not stopped by Ctrl-C: {res:?}")
}

/// Stops of runs in a program that has a controlling terminal (the test
/// starts this on a pty of its own): the children stay in the caller's
/// group, and every stop reaches their descendants by a walk of `/proc`.
/// A cancelled run, a cancelled pipeline (the stages share one walk), a
/// dropped `GroupResults` and a timeout, each with a grandchild `sleep`
/// that writes its pid into `DIR/<case>`: each grandchild must be gone
/// after the stop.
pub fn tty_stops(rest: &[String]) -> String {
    let dir = std::path::PathBuf::from(rest.first().expect("a directory"));
    assert!(
        spawn_sys::has_controlling_terminal(),
        "start this on a terminal"
    );
    let grandchild = |name: &str| with_grandchild(&dir.join(name));
    let pid_in = |name: &str| pid_written(&dir.join(name));
    let cancel_when = |name: &str, token: &spawn::CancelToken| {
        let (t, f) = (token.clone(), dir.join(name));
        std::thread::spawn(move || {
            let pid = pid_written(&f);
            t.cancel();
            pid
        })
    };
    let mut pids = Vec::new();
    // A cancelled run.
    let token = spawn::CancelToken::new();
    let stopper = cancel_when("run", &token);
    let res = grandchild("run").cancel_on(&token).run();
    assert!(matches!(res, Err(Error::Cancelled { .. })), "{res:?}");
    pids.push(("run", stopper.join().expect("stopper")));
    // A cancelled pipeline: the grandchild is below its first stage.
    let token = spawn::CancelToken::new();
    let stopper = cancel_when("pipeline", &token);
    let res = (grandchild("pipeline") | Command::new("cat"))
        .cancel_on(&token)
        .run();
    assert!(res.is_err(), "{res:?}");
    pids.push(("pipeline", stopper.join().expect("stopper")));
    // A dropped GroupResults.
    let mut results = spawn::Group::new()
        .add(grandchild("group"))
        .add(Command::new("true"))
        .results();
    let _ = results.next();
    pids.push(("group", pid_in("group")));
    drop(results);
    // A timeout.
    let res = grandchild("timeout")
        .timeout(Duration::from_millis(300))
        .run();
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    pids.push(("timeout", pid_in("timeout")));
    for (name, pid) in &pids {
        assert!(
            spawn_tests::gone_soon(*pid),
            "{name}: grandchild {pid} outlived its stop"
        );
    }
    format!("{} stops on a terminal, every grandchild gone", pids.len())
}

/// The pid a child wrote into `file`, once it is there (it appears whole).
fn pid_written(file: &std::path::Path) -> u32 {
    let start = std::time::Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(file)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}: no pid",
            file.display()
        );
        std::thread::yield_now();
    }
}

/// `sh` running a foreground grandchild `sleep 787` that first writes its
/// pid into `file` (the inner `sh` writes its own pid, then becomes the
/// sleep; the file appears whole).
fn with_grandchild(file: &std::path::Path) -> Command {
    Command::new("sh").args([
        "-c",
        r#"sh -c 'echo $$ > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 787' "$0"; true"#,
        &file.display().to_string(),
    ])
}
