//! `spawn-hostile`: the hostile parent of spawn's hardening tests
//! (`tests/tests/hardening.rs`).
//!
//! Each scenario puts this whole process into one hostile state that must not
//! leak into other tests, because it is process-wide: a lowered
//! `RLIMIT_NOFILE`, a thread that reaps every child with `waitpid(-1)`,
//! `SIGCHLD` ignored (inherited from a parent that set it before `exec`), a
//! `RLIMIT_NPROC` that leaves no room for a thread, fds
//! 0/1/2 closed or replaced, a signal storm aimed at the thread that drives
//! the children, pidfds turned off (`SPAWN_NO_PIDFD=1`), a pid reused under
//! our feet. It then drives spawn through that state and checks the results
//! itself: every check is an `assert!`, so a broken promise is a panic and
//! exit status 101, with the failed check on stderr.
//!
//! Usage: `spawn-hostile <scenario> [args…]` (scenarios: see `main`); on success it prints one line,
//! `ok <scenario>: <summary>` (more lines for `pidfd-parity`, whose
//! transcript the test compares across runs). With `SPAWN_HOSTILE_REPORT=<file>`
//! the lines and any panic message go to that file instead (for runs whose
//! stdout and stderr are closed or taken over). Exit status 77 means the
//! scenario could not set up its hostile state here (e.g. `ns_last_pid` is
//! not writable) and checked nothing.
//!
//! `main` is ours (not libtest's), so the thread that drives children is the
//! main thread: a signal sent to the process reaches it first unless it
//! blocks the signal, which is what the storm scenarios rely on.

mod fds;
mod groups;
mod load;
mod reaping;
mod startup;

#[path = "../../procfs.rs"]
mod procfs;

use std::ffi::OsString;
use std::io::Write as _;
use std::time::Duration;

use spawn::{Command, Error};

/// Exit status of a scenario that could not set up its hostile state.
pub const SKIP: i32 = 77;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = std::env::var_os("SPAWN_HOSTILE_REPORT");
    if let Some(path) = report.clone() {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            append(&path, &format!("panic: {info}\n"));
            default(info);
        }));
    }
    let Some(scenario) = args.first() else {
        eprintln!("usage: spawn-hostile <scenario> [args…]");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let lines: Vec<String> = match scenario.as_str() {
        "roundtrip" => vec![load::roundtrip(
            arg(rest, 0, 256),
            rest.get(1).is_some_and(|m| m == "paced"),
        )],
        "group" => vec![load::group(arg(rest, 0, 50))],
        "storm-handler" => vec![load::handler_storm(rest)],
        "bounded-memory" => vec![load::bounded_memory()],
        "nofile-spawn" => vec![fds::nofile_spawn()],
        "nofile-group" => vec![fds::nofile_group()],
        "nofile-wide-group" => vec![fds::nofile_wide_group(
            arg(rest, 0, 2000),
            arg(rest, 1, 256) as u64,
        )],
        "nofile-reaper" => vec![fds::nofile_reaper()],
        "threads" => vec![fds::threads(arg(rest, 0, 16), arg(rest, 1, 25))],
        "stdio-closed" => vec![fds::stdio_closed()],
        "stdio-private" => vec![fds::stdio_private(false)],
        "stdio-private-merge" => vec![fds::stdio_private(true)],
        "thief" => vec![reaping::thief()],
        "sigchld-ignored" => vec![reaping::sigchld_ignored(false)],
        "sigchld-ignored-output" => vec![reaping::sigchld_ignored(true)],
        "pidfd-parity" => reaping::pidfd_parity(),
        "nproc-reaper" => vec![reaping::nproc_reaper()],
        "blocking-runs-make-no-thread" => vec![reaping::blocking_runs_make_no_thread()],
        "pid-reuse-signal" => vec![reaping::pid_reuse(false)],
        "pid-reuse-group" => vec![reaping::pid_reuse(true)],
        "own-group" => vec![groups::own_group()],
        "ctrl-c-target" => vec![groups::ctrl_c_target(rest)],
        "tty-stops" => vec![groups::tty_stops(rest)],
        "death-signal" => vec![startup::death_signal()],
        "cgroup-denied" => vec![startup::cgroup_denied()],
        "cgroup-name-taken" => vec![startup::cgroup_name_taken()],
        other => {
            eprintln!("spawn-hostile: unknown scenario {other:?}");
            std::process::exit(2);
        }
    };
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            say(&format!("ok {scenario}: {line}"));
        } else {
            say(line);
        }
    }
}

/// The `i`th argument as a number, `default` when absent.
fn arg(rest: &[String], i: usize, default: usize) -> usize {
    rest.get(i)
        .map_or(default, |s| s.parse().expect("a number argument"))
}

fn append(path: &OsString, text: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Prints one line of the result (to the report file when there is one).
fn say(line: &str) {
    match std::env::var_os("SPAWN_HOSTILE_REPORT") {
        Some(path) => append(&path, &format!("{line}\n")),
        None => println!("{line}"),
    }
}

/// Makes this process (still single-threaded: the calls are per thread) the
/// user `uid`, with the same gid and no supplementary groups; exits with
/// [`SKIP`] when it is not root or cannot.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn become_user(uid: u32) {
    use rustix::process::{Gid, Uid, getuid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    if !getuid().is_root() {
        say("skip: needs root, to run as a user of its own");
        std::process::exit(SKIP);
    }
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(uid));
    if let Err(e) = set_thread_groups(&[])
        .and_then(|()| set_thread_res_gid(g, g, g))
        .and_then(|()| set_thread_res_uid(u, u, u))
    {
        say(&format!("skip: cannot become uid {uid}: {e}"));
        std::process::exit(SKIP);
    }
}

/// Per-thread credentials are Linux's: elsewhere the cases that need them
/// are skipped.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn become_user(uid: u32) {
    say(&format!(
        "skip: running as uid {uid} is set up on Linux only"
    ));
    std::process::exit(SKIP);
}

/// Pseudo-random bytes (xorshift), the same for the same seed.
#[must_use]
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// `sh -c script` with positional parameters.
pub fn sh(script: &str, args: &[&str]) -> Command {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
}

/// Runs a child and drops a running one, so that everything spawn creates
/// once per process (the pidfd probe, the reaper's thread and epoll set)
/// exists before a "before" fd table is taken.
pub fn warm_up() {
    Command::new("true").run().expect("true runs");
    let child = Command::new("sleep")
        .arg("0.05")
        .spawn()
        .expect("sleep starts");
    drop(child);
    let start = std::time::Instant::now();
    while spawn::diag::reaper_pending() > 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "reaper stuck");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Asserts that `e` is "too many open files" naming one of `programs`.
pub fn assert_too_many_open_files(e: &Error, programs: &[&str]) {
    assert!(
        matches!(e, Error::TooManyOpenFiles { .. }),
        "expected TooManyOpenFiles for {programs:?}, got {e:?}"
    );
    assert!(
        programs.contains(&e.program()),
        "{e}: names none of {programs:?}"
    );
    assert!(e.to_string().contains("too many open files"), "{e}");
}
