//! Helpers shared by the integration tests that watch processes in `/proc`.

#![allow(dead_code)] // each test binary uses some of them

pub mod gate;

use std::fs;
use std::time::{Duration, Instant};

/// Generous bound for anything that should end at once.
pub const HANG: Duration = Duration::from_secs(20);

/// Whether `pid` is alive (running, sleeping or stopped; not a zombie).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("X");
    !matches!(state, "Z" | "X")
}

/// Waits (boundedly) until `pid` is gone, for kills that land after the
/// call that sent them returned.
pub fn gone_soon(pid: u32) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > HANG {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// The number on the first line of a child's output (a pid it printed).
pub fn first_pid(bytes: &[u8]) -> u32 {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {:?}", String::from_utf8_lossy(bytes)))
}

/// Waits (boundedly) until `pid` is gone from `/proc` altogether: dead and
/// reaped, no zombie.
pub fn reaped_soon(pid: u32) -> bool {
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        if start.elapsed() > HANG {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// Runs this test binary again with `args` and the environment variable
/// `env` set (a case that needs a process of its own, or a setting read
/// once per process), and asserts that it passed `passed` tests.
pub fn rerun_this_binary(args: &[&str], env: (&str, &str), passed: usize) {
    let exe = std::env::current_exe().unwrap();
    let out = spawn::Command::new(exe)
        .args(args)
        .env(env.0, env.1)
        .capture_output()
        .timeout(Duration::from_secs(300))
        .run()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(&format!("{passed} passed")),
        "with {}={}: {text}\n{}",
        env.0,
        env.1,
        out.stderr_lossy()
    );
}
