//! Start-up options that need a process of their own: the parent death
//! signal (this helper is the parent that dies), cgroup containment
//! without the right to make a cgroup (this helper becomes a user of its
//! own), and cgroup names already taken (the names spawn makes are this
//! process's pid and a count from 0).

use std::io::Read as _;

use spawn::{Command, Containment, Error, Signal, Stdio};
use spawn_sys::cgroup::{Cgroup, own_cgroup};

use crate::{SKIP, say};

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

/// The cgroups spawn would name `spawn-<our pid>-<n>` for `n` in `range`,
/// made here first, as a process with our pid in another pid namespace (or
/// one SIGKILLed mid-run) leaves them.
fn take_names(taken: &mut Taken, own: &std::path::Path, range: std::ops::Range<u32>) {
    let pid = std::process::id();
    for n in range {
        let cg = Cgroup::create_under(own, &format!("spawn-{pid}-{n}"));
        taken.0.push(cg.expect("a cgroup name taken ahead"));
    }
}

/// Cgroups made to take names: removed at the end, also when a check fails.
struct Taken(Vec<Cgroup>);

impl Drop for Taken {
    fn drop(&mut self) {
        for cg in self.0.drain(..) {
            let _ = cg.remove();
        }
    }
}

/// `Containment::Cgroup` whose first names are taken picks the next free
/// one (leaving the others alone); with more taken than it tries, a clear
/// `Error::NoCgroup`.
pub fn cgroup_name_taken() -> String {
    const TAKEN: u32 = 8;
    let own = match own_cgroup() {
        Ok(dir) => dir,
        Err(e) => {
            println!("no cgroup v2: {e}");
            std::process::exit(SKIP);
        }
    };
    if let Err(e) = Cgroup::create_under(&own, &format!("spawn-probe-{}", std::process::id()))
        .and_then(Cgroup::remove)
    {
        println!("no writable cgroup v2: {e}");
        std::process::exit(SKIP);
    }
    let mut taken = Taken(Vec::new());
    take_names(&mut taken, &own, 0..TAKEN);
    let out = Command::new("cat")
        .arg("/proc/self/cgroup")
        .stdout(Stdio::piped())
        .containment(Containment::Cgroup)
        .check_output_string()
        .expect("a run in a cgroup whose first names are taken");
    let line = out
        .lines()
        .find(|l| l.starts_with("0::"))
        .expect("a 0:: line");
    let name = line.rsplit('/').next().unwrap_or_default().to_owned();
    let pid = std::process::id();
    assert_eq!(name, format!("spawn-{pid}-{TAKEN}"), "{out}");
    assert!(!own.join(&name).exists(), "its cgroup {name} was left");
    // The names taken are someone else's: still there.
    for cg in &taken.0 {
        assert!(cg.path().exists(), "{} was removed", cg.path().display());
    }
    // Every name it tries taken: a clear error, nothing runs.
    take_names(&mut taken, &own, TAKEN + 1..TAKEN + 1 + 256);
    let err = Command::new("true")
        .containment(Containment::Cgroup)
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::NoCgroup { .. }), "{err}");
    assert!(err.to_string().contains("taken"), "{err}");
    format!("started in {name} past {TAKEN} taken names; all taken: {err}")
}
