//! The rows of `spawn many` against `xargs -P` and GNU parallel (issue 16):
//! 10,000 jobs of `true`, and 1,000 jobs each printing 1 MiB, at `-j 4` and
//! `-j 64`, each contender as a user runs it from a shell (output to
//! `/dev/null`), timed by wall clock with its peak RSS from `/usr/bin/time`.
//! GNU parallel is measured when `parallel` is on `PATH`; a full run (not
//! `--smoke`) as root with `apt-get` installs Debian's `parallel` package
//! first if it is missing, and says so; else its rows say "skipped: not
//! installed". The targets of the issue follow the table, MET or MISSED.
//! `xargs`'s children write straight to `/dev/null`; `spawn many` (in its
//! default `--group` mode, as GNU parallel) reads every byte through a pipe
//! and writes it out itself.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One contender's command line for a workload: `{spawn}`, `{file}` and
/// `{j}` are filled in.
struct Contender {
    name: &'static str,
    /// The program that must be on `PATH` (or built) for it to run.
    needs: &'static str,
    cmd: &'static str,
}

/// A workload: `(title, jobs, contenders)`.
type Workload = (&'static str, usize, [Contender; 4]);

fn workloads() -> [Workload; 2] {
    [
        (
            "`true`",
            10_000,
            [
                Contender {
                    name: "spawn many",
                    needs: "spawn",
                    cmd: "seq {n} | {spawn} many -j {j} -- true {}",
                },
                Contender {
                    name: "spawn many --line-buffer",
                    needs: "spawn",
                    cmd: "seq {n} | {spawn} many --line-buffer -j {j} -- true {}",
                },
                Contender {
                    name: "xargs -P",
                    needs: "xargs",
                    cmd: "seq {n} | xargs -P {j} -n 1 true",
                },
                Contender {
                    name: "GNU parallel",
                    needs: "parallel",
                    cmd: "seq {n} | parallel -j {j} true {}",
                },
            ],
        ),
        (
            "1 MiB of lines each",
            1_000,
            [
                Contender {
                    name: "spawn many",
                    needs: "spawn",
                    cmd: "yes 'cat {file}' | head -n {n} | {spawn} many -j {j}",
                },
                Contender {
                    name: "spawn many --line-buffer",
                    needs: "spawn",
                    cmd: "yes 'cat {file}' | head -n {n} | {spawn} many --line-buffer -j {j}",
                },
                Contender {
                    name: "xargs -P",
                    needs: "xargs",
                    cmd: "seq {n} | xargs -P {j} -I{} cat {file}",
                },
                Contender {
                    name: "GNU parallel",
                    needs: "parallel",
                    cmd: "seq {n} | parallel -N0 -j {j} cat {file}",
                },
            ],
        ),
    ]
}

fn on_path(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` with `sh -c` under `/usr/bin/time`; (seconds, peak RSS KiB).
fn measure(script: &str) -> Result<(f64, u64), String> {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "sh", "-c", &format!("{script} >/dev/null")])
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("`{script}` failed ({}): {err}", out.status));
    }
    let rss = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Ok((secs, rss))
}

/// Installs GNU parallel with `apt-get` when it is missing and we are root;
/// what happened, for the document (`None`: nothing to say).
fn install_parallel() -> Option<String> {
    if on_path("parallel") {
        return None;
    }
    if !on_path("apt-get") || running_as_root().is_none() {
        return Some(
            "GNU parallel is not installed (and cannot be: no apt-get, or not root).".into(),
        );
    }
    println!("    installing GNU parallel: apt-get install -y parallel");
    let ok = Command::new("sh")
        .args([
            "-c",
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel >/dev/null 2>&1 \
             || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel >/dev/null 2>&1; }",
        ])
        .status()
        .is_ok_and(|s| s.success());
    Some(if ok && on_path("parallel") {
        "GNU parallel was installed by the benchmark (`apt-get install parallel`, Debian's package).".into()
    } else {
        "GNU parallel is not installed: `apt-get install parallel` failed.".into()
    })
}

/// `Some(())` when we run as root (`id -u` says 0).
fn running_as_root() -> Option<()> {
    let out = Command::new("id").arg("-u").output().ok()?;
    (String::from_utf8_lossy(&out.stdout).trim() == "0").then_some(())
}

/// A measured row: (seconds, peak RSS KiB).
type Measured = std::collections::HashMap<(usize, usize, &'static str), (f64, u64)>;

/// The targets from the measured rows.
fn targets(doc: &mut String, rows: &Measured, small_rss: Option<(usize, u64)>, big_n: usize) {
    let _ = writeln!(doc);
    let line = |doc: &mut String, ok: bool, what: &str, detail: String| {
        let mark = if ok { "**MET**" } else { "**MISSED**" };
        let _ = writeln!(doc, "- {mark} {what}: {detail}");
    };
    for (w, (title, _, _)) in workloads().iter().enumerate() {
        for j in [4, 64] {
            let Some(&(ours, _)) = rows.get(&(w, j, "spawn many")) else {
                continue;
            };
            if let Some(&(xargs, _)) = rows.get(&(w, j, "xargs -P")) {
                let speed = xargs / ours;
                line(
                    doc,
                    speed >= 1.0,
                    &format!("{title}, -j {j}: at least xargs's throughput"),
                    format!("{speed:.2}× its speed"),
                );
            }
            if w == 0 {
                match rows.get(&(w, j, "GNU parallel")) {
                    Some(&(par, _)) => {
                        let speed = par / ours;
                        // What a runner that adds nothing to the exec does:
                        // the bound for any runner on this machine.
                        let floor = rows
                            .get(&(w, j, "xargs -P"))
                            .map_or(String::new(), |&(x, _)| {
                                format!(" (xargs -P: {:.2}× its speed)", par / x)
                            });
                        line(
                            doc,
                            speed >= 10.0,
                            &format!("{title}, -j {j}: at least 10× GNU parallel's throughput"),
                            format!("{speed:.2}× its speed{floor}"),
                        );
                    }
                    None => {
                        let _ = writeln!(
                            doc,
                            "- {title}, -j {j}: 10× GNU parallel not measured (not installed)"
                        );
                    }
                }
            }
        }
    }
    if let (Some((small_n, small)), Some(&(_, big))) =
        (small_rss, rows.get(&(0, 4, "spawn many --line-buffer")))
    {
        #[allow(clippy::cast_precision_loss)] // KiB
        let ratio = big as f64 / small.max(1) as f64;
        line(
            doc,
            ratio <= 1.25,
            "peak RSS with --line-buffer independent of the number of jobs",
            format!("{small} KiB at {small_n} jobs, {big} KiB at {big_n} jobs ({ratio:.2}×)"),
        );
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Builds the CLI (release) and measures every row; returns the section of
/// BENCHMARKS.md. With `smoke`, one round at a tenth of the sizes.
pub fn cli_rows(root: &Path, smoke: bool) -> Result<String, String> {
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "-p", "spawn-cli"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --release -p spawn-cli failed".into());
    }
    let spawn = crate::target_dir(root).join("release/spawn");
    let dir = std::env::temp_dir().join(format!("spawn-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("mib.txt");
    // 16,384 lines of 64 bytes: 1 MiB.
    let line = format!("{}\n", "x".repeat(63));
    std::fs::write(&file, line.repeat(16_384)).map_err(|e| format!("{}: {e}", file.display()))?;
    let rounds = if smoke { 1 } else { 5 };
    let installed = if smoke { None } else { install_parallel() };
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "\n# spawn many against xargs -P and GNU parallel\n\n\
         Command: `cargo xtask bench` (xtask/src/bench_cli.rs). Each row runs the shell \
         command shown (output to /dev/null), median wall time of {rounds} round(s) \
         (the contenders alternate), \
         peak RSS of the largest process (`/usr/bin/time -f %M`). `spawn many` runs \
         `true {{}}` and `cat FILE` (one command per line of stdin) itself: plain \
         words, no shell; its default `--group` mode holds each job's output until \
         it ends, `--line-buffer` streams it.\n"
    );
    if let Some(note) = &installed {
        let _ = writeln!(doc, "{note}\n");
    }
    let _ = writeln!(
        doc,
        "| jobs | -j | contender | wall (s) | jobs/s | peak RSS (KiB) |"
    );
    let _ = writeln!(
        doc,
        "|------|----|-----------|----------|--------|----------------|"
    );
    let mut rows = Measured::new();
    let mut big_n = 0;
    for (w, (title, n, contenders)) in workloads().into_iter().enumerate() {
        let n = if smoke { n / 10 } else { n };
        if w == 0 {
            big_n = n;
        }
        for j in [4, 64] {
            // The contenders that can run, with their scripts.
            let mut runnable = Vec::new();
            for c in &contenders {
                let label = format!("| {n} × {title} | {j} | {} |", c.name);
                if c.needs != "spawn" && !on_path(c.needs) {
                    let _ = writeln!(doc, "{label} skipped: not installed | | |");
                    continue;
                }
                let script = c
                    .cmd
                    .replace("{spawn}", &spawn.display().to_string())
                    .replace("{file}", &file.display().to_string())
                    .replace("{n}", &n.to_string())
                    .replace("{j}", &j.to_string());
                runnable.push((c, label, script, Vec::new(), 0));
            }
            // Rounds alternate the contenders (A B C A B C …), so that a
            // slow spell of the machine falls on all of them alike.
            for _ in 0..rounds {
                for (_, _, script, times, rss) in &mut runnable {
                    let (t, r) = measure(script)?;
                    times.push(t);
                    *rss = (*rss).max(r);
                }
            }
            for (c, label, _, mut times, rss) in runnable {
                let t = median(&mut times);
                #[allow(clippy::cast_precision_loss)] // job counts
                let rate = n as f64 / t;
                println!("    {label} {t:.2} s, {rate:.0} jobs/s, {rss} KiB");
                let _ = writeln!(doc, "{label} {t:.2} | {rate:.0} | {rss} |");
                rows.insert((w, j, c.name), (t, rss));
            }
        }
    }
    // The same `--line-buffer` run with a tenth of the jobs: its peak RSS
    // must not follow the count.
    let small_n = big_n / 10;
    let script = format!(
        "seq {small_n} | {} many --line-buffer -j 4 -- true {{}}",
        spawn.display()
    );
    let small_rss = measure(&script).ok().map(|(_, rss)| (small_n, rss));
    targets(&mut doc, &rows, small_rss, big_n);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(doc)
}
