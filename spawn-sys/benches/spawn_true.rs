//! Spawn+wait of `/bin/true`: spawn-sys against `std::process`, alternated
//! in one run, from a small parent and from one holding 2 GiB of touched
//! heap (where a fork-based spawn pays for copying page tables: std with a
//! `pre_exec` hook and spawn-sys's own fork path are measured to show that
//! cost).
//!
//! `cargo bench -p spawn-sys --bench spawn_true` (add `-- --smoke`, or set
//! `SPAWN_BENCH_SMOKE=1`, for a tiny run that only proves it works).

#![allow(unsafe_code)]
//! # Safety
//! The `pre_exec` hooks do nothing (trivially async-signal-safe).

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use spawn_sys::{CStringArray, SpawnOptions};

/// `/bin/true` with an empty environment, as std's `env_clear()` gives it,
/// and no pidfd, as std makes none.
fn sys_opts() -> SpawnOptions<'static> {
    let mut argv = CStringArray::new();
    argv.push(b"/bin/true").unwrap();
    let mut o = SpawnOptions::new(
        CString::new("/bin/true").unwrap(),
        argv,
        CStringArray::new(),
    );
    o.pidfd = false;
    o
}

fn spawn_sys_once(o: &SpawnOptions<'_>) {
    let pid = spawn_sys::spawn(o).unwrap().pid;
    let st = spawn_sys::wait_pid(pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::exit_code(st.status), Some(0));
}

fn std_once() {
    let st = std::process::Command::new("/bin/true")
        .env_clear()
        .status()
        .unwrap();
    assert!(st.success());
}

fn std_fork_once() {
    let mut cmd = std::process::Command::new("/bin/true");
    cmd.env_clear();
    // SAFETY: the hook does nothing, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    assert!(cmd.status().unwrap().success());
}

/// A named way to spawn and wait once.
type Contender = (&'static str, Box<dyn Fn()>);

struct Stats {
    name: &'static str,
    per_spawn: Vec<Duration>,
}

impl Stats {
    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.per_spawn.clone();
        v.sort();
        v
    }
    fn median(&self) -> Duration {
        let v = self.sorted();
        v[v.len() / 2]
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The contenders: std and spawn-sys, then (`forks`) std with a
/// `pre_exec` hook and spawn-sys's fork path, the fork-based spawns.
fn contenders(forks: bool) -> Vec<Contender> {
    let o = sys_opts();
    let mut v: Vec<Contender> = vec![
        ("std::process", Box::new(std_once)),
        ("spawn-sys", Box::new(move || spawn_sys_once(&o))),
    ];
    if forks {
        let mut o = sys_opts();
        o.fork.pre_exec = Some(Box::new(|| Ok(())));
        v.push(("std + pre_exec (fork)", Box::new(std_fork_once)));
        v.push(("spawn-sys fork path", Box::new(move || spawn_sys_once(&o))));
    }
    v
}

/// Alternates the contenders, `rounds` counted rounds of `n` spawns each
/// after one warm-up round; returns the per-spawn time of each round.
fn measure(label: &str, rounds: usize, n: usize, contenders: &[Contender]) -> Vec<Stats> {
    let mut stats: Vec<Stats> = contenders
        .iter()
        .map(|(name, _)| Stats {
            name,
            per_spawn: Vec::new(),
        })
        .collect();
    for round in 0..=rounds {
        for (i, (_, f)) in contenders.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            if round > 0 {
                stats[i].per_spawn.push(t.elapsed() / n as u32);
            }
        }
    }
    println!("\n{label}: {rounds} rounds x {n} spawns, alternated");
    println!(
        "  {:<24} {:>10} {:>10} {:>10} {:>8}",
        "contender", "min µs", "median µs", "max µs", "vs std"
    );
    let base = stats[0].median();
    for s in &stats {
        let v = s.sorted();
        println!(
            "  {:<24} {:>10.1} {:>10.1} {:>10.1} {:>7.3}x",
            s.name,
            us(v[0]),
            us(s.median()),
            us(v[v.len() - 1]),
            s.median().as_secs_f64() / base.as_secs_f64()
        );
    }
    stats
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke")
        || std::env::var_os("SPAWN_BENCH_SMOKE").is_some_and(|v| v != "0");
    let (rounds, n) = if smoke { (2, 5) } else { (15, 200) };
    let small = measure("small parent", rounds, n, &contenders(!smoke));
    let vs_std = small[1].median().as_secs_f64() / small[0].median().as_secs_f64();
    println!(
        "\nspawn-sys vs std, small parent: {vs_std:.3}x {}",
        verdict(vs_std, 1.05)
    );
    if smoke {
        return;
    }
    let gib = 2usize << 30;
    let mut heap = vec![0u8; gib];
    for i in (0..gib).step_by(4096) {
        heap[i] = 1;
    }
    let big = measure(
        "parent with 2 GiB of touched heap",
        rounds,
        n,
        &contenders(true),
    );
    std::hint::black_box(&heap);
    let flat = big[1].median().as_secs_f64() / small[1].median().as_secs_f64();
    let vs_std = big[1].median().as_secs_f64() / big[0].median().as_secs_f64();
    println!("\nspawn-sys vs std, 2 GiB parent: {vs_std:.3}x");
    println!(
        "spawn-sys at 2 GiB vs small parent: {flat:.3}x {}",
        verdict(flat, 1.2)
    );
}

/// Whether a ratio is within its target.
fn verdict(ratio: f64, target: f64) -> String {
    let word = if ratio <= target { "MET" } else { "MISSED" };
    format!("(target <= {target}x: {word})")
}
