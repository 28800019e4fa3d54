//! Groups this process does not own: the helper runs in a session of its
//! own (the test starts it so), leads its own process group, and asks
//! spawn to signal that group through a child that joined it. Nothing may
//! reach this process: a broken promise kills the helper, not the test.

use std::time::Duration;

use spawn::{Command, Error};

/// `process_group(own pgid)`: `kill_group` and a timeout are refused with
/// `InvalidInput`, and nothing signals this process.
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

    let err = Command::new("sleep")
        .arg("30")
        .process_group(own_raw)
        .timeout(Duration::from_millis(50))
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(err.to_string().contains("process_group"), "{err}");

    // Group 1 is not in this session: joining it fails with the step named,
    // and nothing was signalled.
    let err = Command::new("true").process_group(1).run().unwrap_err();
    assert!(err.to_string().contains("process group"), "{err}");
    format!("pgid {own_raw}: kill_group, signal_group and a timeout refused; still alive")
}
