//! Start-up options that need a process of their own: the parent death
//! signal (this helper is the parent that dies) and cgroup containment
//! without the right to make a cgroup (this helper becomes a user of its
//! own).

use std::io::Read as _;

use spawn::{Command, Containment, Error, Signal};

use crate::say;

/// Starts `sleep 60` with `parent_death_signal(KILL)`, says its pid, then
/// waits for stdin to close: the test kills this process and checks that the
/// sleep died with it.
pub fn death_signal() -> String {
    let child = Command::new("sleep")
        .arg("60")
        .parent_death_signal(Signal::KILL)
        .spawn()
        .expect("sleep starts");
    say(&format!("ok death-signal: {}", child.pid()));
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    // Not reached when the test kills us, as it should.
    std::process::exit(1)
}

/// As `nobody`, `Containment::Cgroup` fails before anything starts with
/// `Error::NoCgroup`, saying why.
pub fn cgroup_denied() -> String {
    const NOBODY: u32 = 65534;
    crate::become_user(NOBODY);
    let dir = std::env::temp_dir().join(format!("spawn-cgroup-denied-{}", std::process::id()));
    let err = Command::new("mkdir")
        .arg(&dir)
        .containment(Containment::Cgroup)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::NoCgroup { .. }), "{err}");
    assert!(!dir.exists(), "the child must not have started");
    format!("as uid {NOBODY}: {err}")
}
