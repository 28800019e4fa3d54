//! spawn against the peers users would pick instead (std::process, the
//! `subprocess` crate, duct, Python's subprocess) and against a hand-written
//! raw loop (the physical limit on this machine), benchmarks 1–5 of issue 6.
//!
//! `cargo bench -p spawn --bench peers [-- --smoke]` prints Markdown tables;
//! `cargo xtask bench` puts them in BENCHMARKS.md. Each measurement runs in a
//! fresh child process of this binary (`--one BENCH CONTENDER SIZE`) so that
//! its peak RSS (VmHWM) is its own; contenders alternate A B A B … over the
//! counted rounds, after one warm-up round. The harness (samples, rounds,
//! tables, targets) is `harness/mod.rs`, shared with `async_peers.rs`; the
//! workloads are under `peers/`; this file holds the sections.

mod harness;
mod peers {
    pub mod many;
    pub mod pipeline;
    pub mod roundtrip;
    pub mod spawn_true;
}

use harness::{Cols, Row, Sample, fmt_secs, med_of, table, target};
use peers::{many, pipeline, roundtrip, spawn_true};

const MIB: usize = 1 << 20;

/// Runs one measurement in this process. `size` means bytes, or a count.
fn one(bench: &str, who: &str, size: usize) -> Sample {
    harness::raise_fd_limit();
    harness::sample(|| match bench {
        "spawn_true" | "spawn_true_2g" | "spawn_true_8g" => {
            spawn_true::spawn_true(bench, who, size)
        }
        "roundtrip" | "roundtrip_bounded" => roundtrip::roundtrip(who, size),
        "oneway" => roundtrip::oneway(who, size),
        "many" | "many16" => many::many(bench, who, size),
        "width" => many::width(who, size),
        "echo_group" => many::echo_group(size),
        "true_many" => many::true_many(who, size),
        "pipeline" => pipeline::pipeline(who, size),
        "slow_sink" => many::slow_sink(who, size),
        _ => panic!("unknown bench {bench}"),
    })
}

/// A sample of `who`: Python's script for `python`, else `--one` in a
/// fresh process of this binary.
fn measure(bench: &str, who: &str, size: usize) -> Sample {
    if who != "python" {
        return harness::fresh(bench, who, size);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer.py");
    let n = size.to_string();
    let (b, s, count) = match bench {
        "spawn_true" => ("spawn_true", "0", n.as_str()),
        "roundtrip" => ("roundtrip", n.as_str(), "1"),
        _ => ("oneway", n.as_str(), "1"),
    };
    let out = std::process::Command::new("python3")
        .args([script, b, s, count])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    Sample {
        secs: get("secs="),
        hwm_kib: get("hwm_kib=") as u64,
        ..Sample::default()
    }
}

/// [`harness::run`] with this bench's [`measure`].
fn run(bench: &str, who: &[&str], size: usize, rounds: usize) -> Vec<Row> {
    harness::run(measure, bench, who, size, rounds)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if harness::serve_one(&args, one) {
        return;
    }
    let smoke = harness::smoke(&args);
    let rounds = if smoke { 1 } else { 5 };
    // SPAWN_BENCH_ONLY=2,4 runs only those sections (while working on them;
    // BENCHMARKS.md is always written from a run of all).
    let only: Option<Vec<u32>> = std::env::var("SPAWN_BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let want = |k: u32| only.as_ref().is_none_or(|o| o.contains(&k));

    if want(1) {
        println!("## 1. Spawn+wait of /bin/true\n");
        let n = if smoke { 5 } else { 200 };
        let peers = ["spawn", "std", "subprocess", "duct", "python"];
        // A sample is a fraction of a second, and samples of one contender
        // differ by ±3% (small parent) to ±5% (8 GiB: fresh processes,
        // each with its own layout) on this machine: nine times the rounds,
        // so that a median moves by well under 1% and the ≤ 1.00× targets
        // can be told from noise.
        let rounds = if smoke { 1 } else { 9 * rounds };
        let small = run("spawn_true", &peers, n, rounds);
        table(
            &format!("small parent ({n} spawns per sample, time per spawn)"),
            &small,
            &Cols::time_vs("std"),
        );
        let r_small = med_of(&small, "spawn") / med_of(&small, "std");
        target(
            "spawn ≤ 1.00× std (small parent)",
            r_small <= 1.0,
            format!("{r_small:.3}×"),
        );
        if !smoke {
            for (b, label) in [("spawn_true_2g", "2 GiB"), ("spawn_true_8g", "8 GiB")] {
                let mut rows = run(b, &["spawn", "std", "duct"], n, rounds);
                // subprocess forks the whole heap (a quarter of a second per
                // spawn at 8 GiB): a tenth of the spawns per sample, and the
                // usual rounds (the time is per spawn, so the rows compare).
                rows.extend(run(b, &["subprocess"], n / 10, 5));
                table(
                    &format!(
                        "parent with {label} of touched heap (subprocess: {} spawns per sample)",
                        n / 10
                    ),
                    &rows,
                    &Cols::time_vs("std"),
                );
                let r = med_of(&rows, "spawn") / med_of(&rows, "std");
                let flat = med_of(&rows, "spawn") / med_of(&small, "spawn");
                // Issue 17: ≤ 1.00× std with an 8 GiB parent too.
                let limit = if b == "spawn_true_8g" { 1.0 } else { 1.1 };
                target(
                    &format!("spawn ≤ {limit:.2}× std at {label}"),
                    r <= limit,
                    format!("{r:.3}×"),
                );
                target(
                    &format!("spawn flat vs small parent at {label}"),
                    flat <= 1.2,
                    format!("{flat:.3}× the small-parent time"),
                );
            }
        }
    }

    if want(2) {
        println!("\n## 2. Round trip through cat (input fed while output is read)\n");
        for size in if smoke {
            vec![4 * MIB]
        } else {
            vec![256 * MIB, 1024 * MIB]
        } {
            let rows = run(
                "roundtrip",
                &[
                    "spawn",
                    "spawn-discard",
                    "std",
                    "subprocess",
                    "duct",
                    "python",
                    "raw",
                    "raw-collect",
                ],
                size,
                rounds,
            );
            table(
                &format!("{} MiB", size / MIB),
                &rows,
                &Cols::time_vs("std").limit("raw").bytes(size),
            );
            let vs_std = med_of(&rows, "std") / med_of(&rows, "spawn");
            let vs_py = med_of(&rows, "python") / med_of(&rows, "spawn");
            let vs_raw = med_of(&rows, "raw") / med_of(&rows, "spawn-discard");
            let collect_vs_raw = med_of(&rows, "raw") / med_of(&rows, "spawn");
            target(
                "collect round trip ≥ 0.85× the raw loop",
                collect_vs_raw >= 0.85,
                format!("{collect_vs_raw:.2}×"),
            );
            target(
                "collecting ≥ 1.2× std's speed (writer thread)",
                vs_std >= 1.2,
                format!("{vs_std:.2}×"),
            );
            target(
                "collecting ≥ 3× Python communicate's speed",
                vs_py >= 3.0,
                format!("{vs_py:.2}×"),
            );
            target(
                "bounded sink ≥ 0.8× the raw limit",
                vs_raw >= 0.8,
                format!("{vs_raw:.2}×"),
            );
            // Informational (no target): the raw loop keeping its output.
            let r = med_of(&rows, "raw-collect") / med_of(&rows, "spawn");
            println!("- collect vs raw-collect: {r:.2}× (speed ratio, informational)");
        }
    }

    if want(3) {
        println!("\n## 3. One way: head -c N /dev/zero\n");
        let size = if smoke { 16 * MIB } else { 2048 * MIB };
        let rows = run(
            "oneway",
            &[
                "spawn-discard",
                "spawn-collect",
                "std",
                "subprocess",
                "duct",
                "python",
                "raw",
                "raw-collect",
            ],
            size,
            rounds,
        );
        table(
            &format!("{} MiB", size / MIB),
            &rows,
            &Cols::time_vs("std").limit("raw").bytes(size),
        );
        let disc = med_of(&rows, "raw") / med_of(&rows, "spawn-discard");
        let coll = med_of(&rows, "std") / med_of(&rows, "spawn-collect");
        let disc_rss = rows
            .iter()
            .find(|r| r.who == "spawn-discard")
            .map_or(0, Row::hwm);
        let coll_rss = rows
            .iter()
            .find(|r| r.who == "spawn-collect")
            .map_or(0, Row::growth);
        target(
            "discard ≥ 0.9× the raw read loop",
            disc >= 0.9,
            format!("{disc:.2}×"),
        );
        target(
            "discard peak RSS < 8 MiB",
            disc_rss < 8 * 1024,
            format!("{:.1} MiB", disc_rss as f64 / 1024.0),
        );
        target(
            "collect ≥ 1.0× std output()",
            coll >= 1.0,
            format!("{coll:.2}×"),
        );
        let ratio = coll_rss as f64 * 1024.0 / size as f64;
        target(
            "collect peak RSS ≤ 1.25× the output",
            ratio <= 1.25,
            format!("{ratio:.2}× (growth of the peak over the RSS before the run)"),
        );
        // Informational (no target): the raw loop keeping its output.
        let r = med_of(&rows, "raw-collect") / med_of(&rows, "spawn-collect");
        println!("- collect vs raw-collect: {r:.2}× (speed ratio, informational)");
    }

    if want(4) {
        println!("\n## 4. Many children × 1 MiB each\n");
        let counts: &[usize] = if smoke {
            &[1, 10]
        } else {
            &[1, 10, 100, 500, 2000]
        };
        for &n in counts {
            let rows = run(
                "many",
                &[
                    "spawn",
                    "spawn-bounded",
                    "std-seq",
                    "std-threads",
                    "raw-poll",
                ],
                n,
                // Small runs take milliseconds and vary most: more rounds.
                match (smoke, n) {
                    (true, _) => 1,
                    (false, 1) => 25,
                    (false, 10) => 15,
                    (false, 100) => 9,
                    _ => 5,
                },
            );
            table(
                &format!("{n} children"),
                &rows,
                &Cols::time_vs("std-seq").limit("raw-poll").bytes(n * MIB),
            );
            let vs_seq = med_of(&rows, "spawn") / med_of(&rows, "std-seq");
            let vs_poll = med_of(&rows, "spawn") / med_of(&rows, "raw-poll");
            let rss = rows
                .iter()
                .find(|r| r.who == "spawn")
                .map_or(0, Row::growth) as f64
                * 1024.0
                / (n * MIB) as f64;
            let bounded = rows
                .iter()
                .find(|r| r.who == "spawn-bounded")
                .map_or(0, Row::hwm);
            if n == 1 {
                // One child is one spawn and one read loop, std's work: there
                // is nothing to overlap, so no speed-up over std to ask for.
                target(
                    "1: no slower than std output() (one child: nothing to overlap)",
                    vs_seq <= 1.0,
                    format!("{vs_seq:.2}×"),
                );
            } else {
                target(
                    &format!("{n}: ≤ 0.75× sequential std output()"),
                    vs_seq <= 0.75,
                    format!("{vs_seq:.2}×"),
                );
            }
            target(
                &format!("{n}: ≤ 1.05× the hand-written poll loop"),
                vs_poll <= 1.05,
                format!("{vs_poll:.2}×"),
            );
            target(
                &format!("{n}: peak RSS ≤ 1.1× the output kept"),
                rss <= 1.1,
                format!("{rss:.2}× (growth of the peak over the RSS before the run)"),
            );
            println!(
                "- {n}: bounded sink peak RSS {:.1} MiB",
                bounded as f64 / 1024.0
            );
        }
        // A bounded sink per child: memory follows the number of children, not
        // the bytes. The same children writing 16× more.
        let n = if smoke { 10 } else { 100 };
        let one = run("many", &["spawn-bounded"], n, rounds);
        let big = run("many16", &["spawn-bounded"], n, rounds);
        let (a, b) = (one[0].growth(), big[0].growth());
        println!(
            "\n### {n} children through head_tail(4 KiB, 4 KiB): 1 MiB vs 16 MiB each\n\n| bytes per child | median | peak RSS growth |\n|---|---|---|\n| 1 MiB | {} | {:.1} MiB |\n| 16 MiB | {} | {:.1} MiB |\n",
            fmt_secs(one[0].med()),
            a as f64 / 1024.0,
            fmt_secs(big[0].med()),
            b as f64 / 1024.0
        );
        target(
            "bounded sinks: peak RSS independent of the bytes (16× the bytes, ≤ 1.25× the growth + 1 MiB)",
            (b as f64) <= a as f64 * 1.25 + 1024.0,
            format!(
                "{:.1} MiB vs {:.1} MiB",
                a as f64 / 1024.0,
                b as f64 / 1024.0
            ),
        );
    }

    if want(5) {
        println!("\n## 5. Pipeline yes | head -c N | wc -c\n");
        let size = if smoke { 16 * MIB } else { 1024 * MIB };
        let rows = run("pipeline", &["spawn", "std", "duct"], size, rounds);
        table(
            &format!("{} MiB", size / MIB),
            &rows,
            &Cols::time_vs("std").bytes(size),
        );
        for r in &rows {
            let own: f64 = r.samples.iter().map(|s| s.self_cpu).sum();
            let kids: f64 = r.samples.iter().map(|s| s.child_cpu).sum();
            println!(
                "- {}: parent CPU {:.3} s, children CPU {:.3} s ({:.2}%)",
                r.who,
                own,
                kids,
                100.0 * own / kids.max(1e-9)
            );
        }
        let s = rows.iter().find(|r| r.who == "spawn").map(|r| {
            let own: f64 = r.samples.iter().map(|s| s.self_cpu).sum();
            let kids: f64 = r.samples.iter().map(|s| s.child_cpu).sum();
            own / kids.max(1e-9)
        });
        if let Some(s) = s {
            target(
                "parent CPU < 5% of the children's",
                s < 0.05,
                format!("{:.2}%", s * 100.0),
            );
        }
    }

    if want(6) {
        println!("\n## 6. Group width: 300 children × 1 MiB by max_running\n");
        let n = if smoke { 20 } else { 300 };
        let widths: Vec<usize> = if smoke {
            vec![1, 8, 20]
        } else {
            vec![1, 8, 64, 300]
        };
        let mut who: Vec<String> = widths.iter().map(|w| format!("spawn-w{w}")).collect();
        who.push("std-seq".into());
        who.push("raw-poll".into());
        let who_ref: Vec<&str> = who.iter().map(String::as_str).collect();
        let rows = run("width", &who_ref, n, rounds);
        table(
            &format!("{n} children × 1 MiB, collected"),
            &rows,
            &Cols::time_vs("std-seq").limit("raw-poll").bytes(n * MIB),
        );
        let seq = med_of(&rows, "std-seq");
        for w in &widths {
            let r = med_of(&rows, &format!("spawn-w{w}")) / seq;
            target(
                &format!("max_running({w}): never slower than sequential std"),
                r <= 1.0,
                format!("{r:.3}× the time"),
            );
        }
        let widest = widths.last().copied().unwrap_or(1);
        let speed = seq / med_of(&rows, &format!("spawn-w{widest}"));
        target(
            &format!("max_running({widest}): ≥ 1.3× faster than sequential std"),
            speed >= 1.3,
            format!("{speed:.2}× the speed"),
        );
    }

    if want(7) {
        println!("\n## 7. Many small children through one Group (default settings)\n");
        let counts: &[usize] = if smoke { &[100, 1000] } else { &[1000, 10_000] };
        let mut growth = Vec::new();
        for &n in counts {
            let rows = run("echo_group", &["spawn"], n, if smoke { 1 } else { 3 });
            table(
                &format!("{n} × sh -c 'echo $1' (every output checked)"),
                &rows,
                &Cols::time_vs("spawn"),
            );
            growth.push((n, rows[0].growth()));
        }
        target(
            &format!(
                "{} children with the default settings all complete",
                counts[1]
            ),
            true,
            "every result checked",
        );
        let (a, b) = (growth[0], growth[1]);
        let per = |(n, kib): (usize, u64)| kib as f64 * 1024.0 / n as f64;
        println!(
            "- peak RSS growth: {} children {:.1} MiB ({:.0} B each), {} children {:.1} MiB ({:.0} B each)",
            a.0,
            a.1 as f64 / 1024.0,
            per(a),
            b.0,
            b.1 as f64 / 1024.0,
            per(b)
        );
        target(
            "memory per child does not grow with the count (10× the children, ≤ 1.5× the bytes per child + 1 KiB)",
            per(b) <= per(a) * 1.5 + 1024.0,
            format!("{:.0} B vs {:.0} B per child", per(b), per(a)),
        );

        let n = if smoke { 2000 } else { 100_000 };
        let rows = harness::run_once(measure, "true_many", &["spawn", "xargs"], n);
        println!("\n### {n} × /bin/true: one Group (default settings) vs `xargs -P 8 -n 1`\n");
        println!("| contender | time | per child | vs xargs |\n|---|---|---|---|");
        let x = med_of(&rows, "xargs");
        for r in &rows {
            println!(
                "| {} | {} | {} | {:.3}× |",
                r.who,
                fmt_secs(r.med()),
                fmt_secs(r.med() / n as f64),
                r.med() / x
            );
        }
        let speed = x / med_of(&rows, "spawn");
        target(
            &format!("{n} /bin/true: at least xargs -P 8's throughput"),
            speed >= 1.0,
            format!("{speed:.2}× its speed"),
        );
    }

    if want(8) {
        println!("\n## 8. One slow writer sink in a Group\n");
        let n = if smoke { 10 } else { 100 };
        // A sample is well under a second and varies by ±20% on a busy
        // machine: three times the rounds.
        let rows = run("slow_sink", &["slow", "fast"], n, 3 * rounds);
        table(
            &format!(
                "Group of {n} (1 MiB each, collected), one of them with a writer sink that takes 10 ms per write (4 MiB): time until the other {} results are in",
                n - 1
            ),
            &rows,
            &Cols::time_vs("fast"),
        );
        let r = med_of(&rows, "slow") / med_of(&rows, "fast");
        target(
            &format!(
                "the other {} finish within 1.1× their time without the slow sink",
                n - 1
            ),
            r <= 1.1,
            format!("{r:.3}×"),
        );
    }
}
