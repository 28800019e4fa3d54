//! What `/proc` says about a process: its fd table (fd → what it points to),
//! its children and their states (zombies), its resident set size, its
//! ignored signals. Shared by the hardening tests, the hostile helper and the
//! soak (each includes this file with `#[path]`), so that every leak check
//! reads the kernel's view the same way.

#![allow(dead_code)] // each includer uses a part

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The fds of `pid` (this process when `None`) and what each points to
/// (`pipe:[1234]`, `/dev/null`, `anon_inode:[eventpoll]`, …). The fd used to
/// read the directory itself is left out.
#[must_use]
pub fn fd_table(pid: Option<u32>) -> BTreeMap<i32, String> {
    let me = std::process::id();
    let pid = pid.unwrap_or(me);
    let dir = format!("/proc/{pid}/fd");
    let own_dir = format!("/proc/{me}/fd");
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue; // closed while we looked (our own directory fd)
        };
        let target = target.to_string_lossy().into_owned();
        if target == own_dir {
            continue;
        }
        out.insert(fd, target);
    }
    out
}

/// The fd table as one line per fd, for messages.
#[must_use]
pub fn show(table: &BTreeMap<i32, String>) -> String {
    table
        .iter()
        .map(|(fd, t)| format!("{fd} -> {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The children of `parent` as (pid, state letter), from `/proc/*/stat`.
#[must_use]
pub fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid …"; comm may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push((pid, state));
        }
    }
    out.sort_unstable();
    out
}

/// This process's children that are zombies.
#[must_use]
pub fn zombies() -> Vec<u32> {
    children_of(std::process::id())
        .into_iter()
        .filter(|&(_, s)| s == 'Z')
        .map(|(p, _)| p)
        .collect()
}

/// Waits (bounded: this only catches hangs) until this process has no
/// zombie children, e.g. while spawn's background reaper catches up, and
/// returns those left.
#[must_use]
pub fn zombies_after_settling(limit: Duration) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let z = zombies();
        if z.is_empty() || start.elapsed() > limit {
            return z;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A field of `/proc/self/status` (e.g. `VmRSS`), as its text.
#[must_use]
pub fn status_field(name: &str) -> Option<String> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// This process's resident set size, in KiB.
#[must_use]
pub fn rss_kib() -> u64 {
    status_field("VmRSS")
        .and_then(|v| v.trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether this process ignores `signal` (the `SigIgn` mask).
#[must_use]
pub fn ignores_signal(signal: i32) -> bool {
    status_field("SigIgn")
        .and_then(|m| u64::from_str_radix(&m, 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

/// The inode of a `pipe:[N]` link target.
#[must_use]
pub fn pipe_inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("pipe:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}
