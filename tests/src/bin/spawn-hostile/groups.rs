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
    let script = |name: &str| {
        let f = dir.join(name).display().to_string();
        // The inner sh writes its own pid, then becomes the sleep.
        Command::new("sh").args([
            "-c",
            r#"sh -c 'echo $$ > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 787' "$0"; true"#,
            &f,
        ])
    };
    let timed = script("timed").timeout(Duration::from_secs(60));
    let token = spawn::CancelToken::new();
    let cancellable = script("cancellable").cancel_on(&token);
    let other = std::thread::spawn(move || cancellable.run().is_ok());
    let res = timed.run();
    let _ = other.join();
    format!("not stopped by Ctrl-C: {res:?}")
}
