//! The rows of `spawn many` against `xargs -P` and GNU parallel (issue 16):
//! 10,000 jobs of `true`, and 1,000 jobs each printing 1 MiB, at `-j 4` and
//! `-j 64`, each contender as a user runs it from a shell (output to
//! `/dev/null`), timed by wall clock with its peak RSS from `/usr/bin/time`.
//! GNU parallel is measured only when `parallel` is on `PATH`; else its rows
//! say "skipped: not installed".

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
    let spawn = root.join("target/release/spawn");
    let dir = std::env::temp_dir().join(format!("spawn-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("mib.txt");
    // 16,384 lines of 64 bytes: 1 MiB.
    let line = format!("{}\n", "x".repeat(63));
    std::fs::write(&file, line.repeat(16_384)).map_err(|e| format!("{}: {e}", file.display()))?;
    let rounds = if smoke { 1 } else { 3 };
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "\n# spawn many against xargs -P and GNU parallel\n\n\
         Command: `cargo xtask bench` (xtask/src/bench_cli.rs). Each row runs the shell \
         command shown (output to /dev/null), median wall time of {rounds} round(s), \
         peak RSS of the largest process (`/usr/bin/time -f %M`). `spawn many` runs \
         `true {{}}` and `cat FILE` (one command per line of stdin) itself: plain \
         words, no shell; its default `--group` mode holds each job's output until \
         it ends, `--line-buffer` streams it.\n"
    );
    let _ = writeln!(
        doc,
        "| jobs | -j | contender | wall (s) | jobs/s | peak RSS (KiB) |"
    );
    let _ = writeln!(
        doc,
        "|------|----|-----------|----------|--------|----------------|"
    );
    for (title, n, contenders) in workloads() {
        let n = if smoke { n / 10 } else { n };
        for j in [4, 64] {
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
                let mut times = Vec::new();
                let mut rss = 0;
                for _ in 0..rounds {
                    let (t, r) = measure(&script)?;
                    times.push(t);
                    rss = rss.max(r);
                }
                let t = median(&mut times);
                #[allow(clippy::cast_precision_loss)] // job counts
                let rate = n as f64 / t;
                println!("    {label} {t:.2} s, {rate:.0} jobs/s, {rss} KiB");
                let _ = writeln!(doc, "{label} {t:.2} | {rate:.0} | {rss} |");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(doc)
}
