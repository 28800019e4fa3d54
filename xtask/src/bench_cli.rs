//! The rows of `spawn many` against `xargs -P`, GNU parallel and
//! rust-parallel (issues 16 and 30): issue 30's four rows, 5,000 jobs of
//! `true` at `-j 4` and `-j 32`, 500 jobs each printing 1 MiB at `-j 4`,
//! 2,000 jobs of `echo {}` at `-j 4`; each contender as a user runs it from
//! a shell (output to `/dev/null`), timed by wall clock with its peak RSS
//! from `/usr/bin/time`. GNU parallel and rust-parallel are measured when
//! they can be had: a full run (not `--smoke`) installs them first where
//! they are missing (`apt-get` as root, `cargo install`; see
//! `install.rs`), and says so; else their rows say "skipped". The targets
//! of the issues follow the table, MET or MISSED. `xargs`'s children write
//! straight to `/dev/null`; `spawn many` (in its default `--group` mode, as
//! GNU parallel) and rust-parallel read every byte through a pipe and write
//! it out themselves.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One contender's command line for a row: `{spawn}`, `{rp}`, `{file}`,
/// `{n}` and `{j}` are filled in.
struct Contender {
    name: &'static str,
    /// The program that must be on `PATH` (or built, or installed) for it
    /// to run.
    needs: &'static str,
    cmd: &'static str,
}

/// A row: its title, how many jobs, `-j`, and the contenders.
struct Row {
    title: &'static str,
    n: usize,
    j: usize,
    /// Whether its jobs are tiny (issue 30's target against xargs).
    tiny: bool,
    contenders: Vec<Contender>,
}

const SPAWN: &str = "spawn many";
const SPAWN_LB: &str = "spawn many --line-buffer";
const XARGS: &str = "xargs -P";
const GNU: &str = "GNU parallel";
const RP: &str = "rust-parallel";

fn true_row(n: usize, j: usize) -> Row {
    Row {
        title: "`true`",
        n,
        j,
        tiny: true,
        contenders: vec![
            Contender {
                name: SPAWN,
                needs: "spawn",
                cmd: "seq {n} | {spawn} many -j {j} -- true {}",
            },
            Contender {
                name: SPAWN_LB,
                needs: "spawn",
                cmd: "seq {n} | {spawn} many --line-buffer -j {j} -- true {}",
            },
            Contender {
                name: XARGS,
                needs: "xargs",
                cmd: "seq {n} | xargs -P {j} -n 1 true",
            },
            Contender {
                name: GNU,
                needs: "parallel",
                cmd: "seq {n} | parallel -j {j} true {}",
            },
            Contender {
                name: RP,
                needs: "rust-parallel",
                cmd: "seq {n} | {rp} -j {j} true",
            },
        ],
    }
}

fn rows() -> [Row; 4] {
    [
        true_row(5_000, 4),
        true_row(5_000, 32),
        Row {
            title: "1 MiB of lines each",
            n: 500,
            j: 4,
            tiny: false,
            contenders: vec![
                Contender {
                    name: SPAWN,
                    needs: "spawn",
                    cmd: "yes 'cat {file}' | head -n {n} | {spawn} many -j {j}",
                },
                Contender {
                    name: SPAWN_LB,
                    needs: "spawn",
                    cmd: "yes 'cat {file}' | head -n {n} | {spawn} many --line-buffer -j {j}",
                },
                Contender {
                    name: XARGS,
                    needs: "xargs",
                    cmd: "seq {n} | xargs -P {j} -I{} cat {file}",
                },
                Contender {
                    name: GNU,
                    needs: "parallel",
                    cmd: "seq {n} | parallel -N0 -j {j} cat {file}",
                },
                Contender {
                    name: RP,
                    needs: "rust-parallel",
                    cmd: "yes 'cat {file}' | head -n {n} | {rp} -j {j}",
                },
            ],
        },
        Row {
            title: "`echo {}`",
            n: 2_000,
            j: 4,
            tiny: true,
            contenders: vec![
                Contender {
                    name: SPAWN,
                    needs: "spawn",
                    cmd: "seq {n} | {spawn} many -j {j} -- echo {}",
                },
                Contender {
                    name: XARGS,
                    needs: "xargs",
                    cmd: "seq {n} | xargs -P {j} -n 1 echo",
                },
                Contender {
                    name: GNU,
                    needs: "parallel",
                    cmd: "seq {n} | parallel -j {j} echo {}",
                },
                Contender {
                    name: RP,
                    needs: "rust-parallel",
                    cmd: "seq {n} | {rp} -j {j} echo",
                },
            ],
        },
    ]
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

/// A measured row: (seconds, peak RSS KiB), by (row, contender).
type Measured = std::collections::HashMap<(usize, &'static str), (f64, u64)>;

/// The issues' targets from the measured rows: issue 30's (at least
/// rust-parallel's throughput and at most its peak RSS on every row, at
/// least 1.2× xargs -P's throughput on tiny jobs, at least 5× GNU
/// parallel's), and issue 16's (`--line-buffer`'s peak RSS independent of
/// the number of jobs).
fn targets(doc: &mut String, rows: &Measured, small_rss: Option<(usize, u64)>, big_n: usize) {
    let _ = writeln!(doc);
    let line = |doc: &mut String, ok: bool, what: &str, detail: String| {
        let mark = if ok { "**MET**" } else { "**MISSED**" };
        let _ = writeln!(doc, "- {mark} {what}: {detail}");
    };
    for (r, row) in self::rows().iter().enumerate() {
        let what = format!("{} × {}, -j {}", row.n, row.title, row.j);
        let Some(&(ours, our_rss)) = rows.get(&(r, SPAWN)) else {
            continue;
        };
        let mut against = |name: &str, factor: f64, target: &str| match rows.get(&(r, name)) {
            Some(&(theirs, _)) => {
                let speed = theirs / ours;
                line(
                    doc,
                    speed >= factor,
                    &format!("{what}: {target}"),
                    format!("{speed:.2}× its speed"),
                );
            }
            None => {
                let _ = writeln!(
                    doc,
                    "- {what}: {target}: not measured ({name} not installed)"
                );
            }
        };
        against(RP, 1.0, "at least rust-parallel's throughput");
        if row.tiny {
            against(XARGS, 1.2, "at least 1.2× xargs -P's throughput");
        }
        against(GNU, 5.0, "at least 5× GNU parallel's throughput");
        if let Some(&(_, rss)) = rows.get(&(r, RP)) {
            line(
                doc,
                our_rss <= rss,
                &format!("{what}: peak RSS at most rust-parallel's"),
                format!("{our_rss} KiB against {rss} KiB"),
            );
        }
    }
    if let (Some((small_n, small)), Some(&(_, big))) = (small_rss, rows.get(&(0, SPAWN_LB))) {
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

/// Builds the CLI (release; for `smoke`, the dev build CI's tests made,
/// as only that the rows run is checked) and measures every row; returns
/// the section of BENCHMARKS.md. With `smoke`, one round at a tenth of the
/// sizes; else 5 rounds, or `$SPAWN_BENCH_ROUNDS`.
pub fn cli_rows(root: &Path, smoke: bool) -> Result<String, String> {
    let (build, profile_dir): (&[&str], &str) = if smoke {
        (
            &["--workspace", "--all-features", "--bin", "spawn"],
            "debug",
        )
    } else {
        (&["--release", "-p", "spawn-cli"], "release")
    };
    let status = Command::new("cargo")
        .args(["build", "--quiet"])
        .args(build)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build {} failed", build.join(" ")));
    }
    let spawn = crate::target_dir(root).join(profile_dir).join("spawn");
    let dir = std::env::temp_dir().join(format!("spawn-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = dir.join("mib.txt");
    // 16,384 lines of 64 bytes: 1 MiB.
    let line = format!("{}\n", "x".repeat(63));
    std::fs::write(&file, line.repeat(16_384)).map_err(|e| format!("{}: {e}", file.display()))?;
    // `SPAWN_BENCH_ROUNDS=N`: fewer (or more) rounds, for a loaded
    // machine where GNU parallel's rows take minutes each.
    let rounds = if smoke {
        1
    } else {
        std::env::var("SPAWN_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .filter(|&r: &usize| r > 0)
            .unwrap_or(5)
    };
    let mut notes = Vec::new();
    let mut rp = None;
    if !smoke {
        notes.extend(crate::install::parallel());
    }
    // A smoke run installs nothing, but uses what is there.
    match crate::install::rust_parallel(!smoke) {
        Ok(p) => rp = Some(p),
        Err(e) => notes.push(e),
    }
    let mut doc = String::new();
    let _ = writeln!(
        doc,
        "\n# spawn many against xargs -P, GNU parallel and rust-parallel\n\n\
         Command: `cargo xtask bench` (xtask/src/bench_cli.rs). Each row runs the shell \
         command shown (output to /dev/null), median wall time of {rounds} round(s) \
         (the contenders alternate), \
         peak RSS of the largest process (`/usr/bin/time -f %M`). `spawn many` runs \
         `true {{}}`, `echo {{}}` and `cat FILE` (one command per line of stdin) itself: plain \
         words, no shell; its default `--group` mode holds each job's output until \
         it ends, `--line-buffer` streams it. rust-parallel gets the same input (lines \
         appended to its command, or lines that are commands).\n"
    );
    for note in &notes {
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
    let mut measured = Measured::new();
    let mut big_n = 0;
    for (r, row) in rows().into_iter().enumerate() {
        let n = if smoke { row.n / 10 } else { row.n };
        let j = row.j;
        if r == 0 {
            big_n = n;
        }
        // The contenders that can run, with their scripts.
        let mut runnable = Vec::new();
        for c in &row.contenders {
            let label = format!("| {n} × {} | {j} | {} |", row.title, c.name);
            let rp_path = rp.as_ref().map(|p| p.display().to_string());
            let found = match c.needs {
                "spawn" => true,
                "rust-parallel" => rp_path.is_some(),
                prog => crate::install::on_path(prog),
            };
            if !found {
                let _ = writeln!(doc, "{label} skipped: not installed | | |");
                continue;
            }
            let script = c
                .cmd
                .replace("{spawn}", &spawn.display().to_string())
                .replace("{rp}", rp_path.as_deref().unwrap_or("rust-parallel"))
                .replace("{file}", &file.display().to_string())
                .replace("{n}", &n.to_string())
                .replace("{j}", &j.to_string());
            runnable.push((c.name, label, script, Vec::new(), 0));
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
        for (name, label, _, mut times, rss) in runnable {
            let t = median(&mut times);
            #[allow(clippy::cast_precision_loss)] // job counts
            let rate = n as f64 / t;
            println!("    {label} {t:.2} s, {rate:.0} jobs/s, {rss} KiB");
            let _ = writeln!(doc, "{label} {t:.2} | {rate:.0} | {rss} |");
            measured.insert((r, name), (t, rss));
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
    targets(&mut doc, &measured, small_rss, big_n);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(doc)
}
