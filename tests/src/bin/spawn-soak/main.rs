//! `spawn-soak`: many children through every path of spawn, then proof that
//! nothing piled up. Run by `cargo xtask soak` (the full run, release build)
//! and, short, by `cargo xtask ci`.
//!
//! Phases, after a warm-up that creates what spawn makes once per process
//! (the pidfd probe, the background reaper) and takes the baseline:
//!
//! 1. **spawns**: children started one at a time from 4 threads, rotating
//!    through `run` (inherited, piped, with input), `check_output`,
//!    `spawn` + `wait`, `spawn` + `communicate`, a `Child` dropped while
//!    running (the background reaper's path), and a two-stage pipeline;
//! 2. **groups**: children through `Group`s of 100, 16 at a time;
//! 3. **timeouts**: children stopped by their timeout in `Group`s of 50 (half
//!    of them ignore TERM and take the KILL after the grace).
//!
//! Every child's result is checked. At the end it asserts that the fd table
//! is exactly the baseline, that there is no zombie child and no child left
//! for the reaper, and that the resident set grew by less than
//! [`RSS_SLACK_KIB`]; it prints spawns/s per phase, and RSS and the fd and
//! zombie counts before and after. Exit status 0 when all holds, 1 (with the
//! reason) otherwise.
//!
//! Usage: `spawn-soak [--short] [--spawns N] [--group-children N] [--timeouts N]`
//! (full: 100,000 / 10,000 / 1,000; `--short`: 5,000 / 1,000 / 100).

#[path = "../../procfs.rs"]
mod procfs;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use spawn::{Command, Error, Group, Stdio};

/// How much the resident set may grow from the baseline (allocator caches,
/// per-thread arenas of the finished spawning threads).
const RSS_SLACK_KIB: u64 = 16 << 10;

/// Threads starting children in the spawns phase.
const THREADS: usize = 4;

struct Sizes {
    spawns: usize,
    group_children: usize,
    timeouts: usize,
}

fn parse_args() -> Sizes {
    let mut sizes = Sizes {
        spawns: 100_000,
        group_children: 10_000,
        timeouts: 1_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = || -> usize {
            args.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| fail(&format!("{a} needs a number")))
        };
        match a.as_str() {
            "--short" => {
                sizes = Sizes {
                    spawns: 5_000,
                    group_children: 1_000,
                    timeouts: 100,
                };
            }
            "--spawns" => sizes.spawns = num(),
            "--group-children" => sizes.group_children = num(),
            "--timeouts" => sizes.timeouts = num(),
            other => fail(&format!(
                "unknown argument {other:?}\nusage: spawn-soak [--short] [--spawns N] [--group-children N] [--timeouts N]"
            )),
        }
    }
    sizes
}

fn fail(msg: &str) -> ! {
    eprintln!("spawn-soak: FAILED: {msg}");
    std::process::exit(1);
}

fn check(cond: bool, msg: impl FnOnce() -> String) {
    if !cond {
        fail(&msg());
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One child (two for the pipeline) started and checked the `k`th way.
/// Returns how many children it started.
fn one(k: usize) -> usize {
    let ok = |r: Result<spawn::Output, Error>, want: &[u8], what: &str| {
        let out = r.unwrap_or_else(|e| fail(&format!("{what}: {e}")));
        check(out.status.success(), || format!("{what}: {}", out.status));
        check(out.stdout == want, || {
            format!("{what}: stdout {:?}", out.stdout_lossy())
        });
    };
    match k % 8 {
        0 => ok(Command::new("true").run(), b"", "run true"),
        1 => ok(
            Command::new("echo")
                .arg("soak")
                .stdout(Stdio::piped())
                .run(),
            b"soak\n",
            "run echo",
        ),
        2 => ok(
            Command::new("cat")
                .input("fed\n")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .run(),
            b"fed\n",
            "run cat with input",
        ),
        3 => {
            let out = Command::new("echo")
                .arg("checked")
                .check_output()
                .unwrap_or_else(|e| fail(&format!("check_output: {e}")));
            check(out == b"checked\n", || "check_output".to_owned());
        }
        4 => {
            let child = Command::new("true")
                .spawn()
                .unwrap_or_else(|e| fail(&format!("spawn: {e}")));
            let status = child.wait().unwrap_or_else(|e| fail(&format!("wait: {e}")));
            check(status.success(), || format!("wait: {status}"));
        }
        5 => {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| fail(&format!("spawn: {e}")));
            ok(child.communicate(b"popen"), b"popen", "communicate");
        }
        6 => {
            // Dropped while it runs: the background reaper's job.
            let child = Command::new("sleep")
                .arg("0.01")
                .spawn()
                .unwrap_or_else(|e| fail(&format!("spawn: {e}")));
            drop(child);
        }
        _ => {
            let out = (Command::new("echo").arg("piped") | Command::new("cat"))
                .stdout(Stdio::piped())
                .run()
                .unwrap_or_else(|e| fail(&format!("pipeline: {e}")));
            check(out.success() && out.stdout == b"piped\n", || {
                format!("pipeline: {:?}", out.statuses)
            });
            return 2;
        }
    }
    1
}

fn spawns_phase(total: usize) -> usize {
    let started = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let started = Arc::clone(&started);
            std::thread::spawn(move || {
                let mut k = t;
                while started.load(Ordering::Relaxed) < total {
                    let n = one(k);
                    started.fetch_add(n, Ordering::Relaxed);
                    k += 1;
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut last_report = Instant::now();
    for t in threads {
        while !t.is_finished() {
            std::thread::sleep(Duration::from_millis(50));
            if last_report.elapsed() >= Duration::from_secs(10) {
                let n = started.load(Ordering::Relaxed);
                println!(
                    "  … {n} spawns, {:.0}/s, RSS {:.1} MiB, {} fds",
                    n as f64 / start.elapsed().as_secs_f64(),
                    mib(procfs::rss_kib()),
                    procfs::fd_table(None).len()
                );
                last_report = Instant::now();
            }
        }
        if t.join().is_err() {
            fail("a spawning thread panicked");
        }
    }
    started.load(Ordering::Relaxed)
}

fn groups_phase(total: usize) -> usize {
    let mut done = 0;
    while done < total {
        let n = (total - done).min(100);
        let results = Group::new()
            .max_running(16)
            .add_all((0..n).map(|i| {
                Command::new("echo")
                    .arg(i.to_string())
                    .stdout(Stdio::piped())
            }))
            .run()
            .unwrap_or_else(|e| fail(&format!("group: {e}")));
        for (i, r) in results.into_iter().enumerate() {
            let out = r.unwrap_or_else(|e| fail(&format!("group child {i}: {e}")));
            check(out.stdout == format!("{i}\n").as_bytes(), || {
                format!("group child {i}: {:?}", out.stdout_lossy())
            });
        }
        done += n;
    }
    done
}

/// Children stopped by their timeout, in groups of 50; the even ones ignore
/// TERM once they have said `armed` (a TERM that comes before that still
/// ends them: then they said nothing).
fn timeouts_phase(total: usize) -> usize {
    let (timeout, grace) = (Duration::from_millis(20), Duration::from_millis(50));
    let mut done = 0;
    while done < total {
        let n = (total - done).min(50);
        let start = Instant::now();
        let results = Group::new()
            .add_all((0..n).map(|i| {
                let script = if i % 2 == 0 {
                    "trap '' TERM; echo armed; exec sleep 10"
                } else {
                    "exec sleep 10"
                };
                Command::new("sh")
                    .args(["-c", script])
                    .stdout(Stdio::piped())
                    .timeout(timeout)
                    .kill_grace(grace)
            }))
            .run()
            .unwrap_or_else(|e| fail(&format!("timeouts: {e}")));
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Err(Error::Timeout { partial, .. }) => {
                    let want = if partial.stdout == b"armed\n" { 9 } else { 15 };
                    check(partial.status.signal() == Some(want), || {
                        format!("timeout child {i}: {}", partial.status)
                    });
                }
                other => fail(&format!("timeout child {i}: {other:?}")),
            }
        }
        check(start.elapsed() < Duration::from_secs(10), || {
            format!("a group of {n} timeouts took {:?}", start.elapsed())
        });
        done += n;
    }
    done
}

fn phase(name: &str, f: impl FnOnce() -> usize) -> (usize, f64) {
    let start = Instant::now();
    let n = f();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {n} children in {secs:.1}s = {:.0} spawns/s; RSS {:.1} MiB, {} fds, {} zombies",
        n as f64 / secs,
        mib(procfs::rss_kib()),
        procfs::fd_table(None).len(),
        procfs::zombies().len()
    );
    (n, secs)
}

fn main() {
    let sizes = parse_args();
    let start = Instant::now();
    // Warm-up: everything spawn creates once per process exists, and the
    // allocator has seen the work, before the baseline is taken.
    for k in 0..(8 * 40) {
        one(k);
    }
    groups_phase(200);
    timeouts_phase(50);
    let settle = Duration::from_secs(30);
    let reaper_settled = |what: &str| {
        let t = Instant::now();
        while spawn::diag::reaper_pending() > 0 {
            check(t.elapsed() < settle, || {
                format!(
                    "{what}: the reaper still waits for {} children",
                    spawn::diag::reaper_pending()
                )
            });
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    reaper_settled("warm-up");
    let fds_before = procfs::fd_table(None);
    let zombies_before = procfs::zombies_after_settling(settle).len();
    let rss_before = procfs::rss_kib();
    println!(
        "baseline: RSS {:.1} MiB, {} fds, {} zombies (pidfds: {})",
        mib(rss_before),
        fds_before.len(),
        zombies_before,
        spawn_sys::pidfd::pidfd_supported()
    );

    let (s, s_secs) = phase("spawns", || spawns_phase(sizes.spawns));
    let (g, g_secs) = phase("groups", || groups_phase(sizes.group_children));
    let (t, t_secs) = phase("timeouts", || timeouts_phase(sizes.timeouts));

    reaper_settled("end");
    let zombies_after = procfs::zombies_after_settling(settle);
    let fds_after = procfs::fd_table(None);
    let rss_after = procfs::rss_kib();
    let total = s + g + t;
    println!(
        "after: RSS {:.1} MiB ({:+.1} MiB), {} fds ({:+}), {} zombies; peak RSS {}",
        mib(rss_after),
        mib(rss_after) - mib(rss_before),
        fds_after.len(),
        fds_after.len() as i64 - fds_before.len() as i64,
        zombies_after.len(),
        procfs::status_field("VmHWM").unwrap_or_default()
    );
    check(zombies_after.len() <= zombies_before, || {
        format!("zombie children left: {zombies_after:?}")
    });
    check(fds_after == fds_before, || {
        format!(
            "the fd table changed:\n  before: {}\n  after:  {}",
            procfs::show(&fds_before),
            procfs::show(&fds_after)
        )
    });
    check(rss_after <= rss_before + RSS_SLACK_KIB, || {
        format!(
            "RSS grew from {:.1} to {:.1} MiB",
            mib(rss_before),
            mib(rss_after)
        )
    });
    println!(
        "spawn-soak: ok: {total} children ({s} spawns at {:.0}/s, {g} through groups at {:.0}/s, {t} timeouts at {:.0}/s) in {:.1}s",
        s as f64 / s_secs,
        g as f64 / g_secs,
        t as f64 / t_secs,
        start.elapsed().as_secs_f64()
    );
}
