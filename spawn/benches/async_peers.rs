//! spawn's async driver against the async peers: `tokio::process` (the way
//! its docs recommend: `output().await` in a `JoinSet`, a writer task for
//! input) and `async-process`, on a tokio runtime (issue 13).
//!
//! `cargo bench -p spawn --features tokio --bench async_peers [-- --smoke]`
//! prints Markdown tables; `cargo xtask bench` puts them in BENCHMARKS.md.
//! Each measurement runs in a fresh child process of this binary
//! (`--one BENCH CONTENDER SIZE`) so that its peak RSS (VmHWM) is its own;
//! contenders alternate A B A B … over the counted rounds after a warm-up
//! (the harness in `harness/mod.rs`, shared with `peers.rs`; here `--one`
//! runs its sample inside a tokio runtime).

mod harness;

use std::time::Instant;

use harness::{Cols, Row, med_of, run, table, target};
use spawn::{Command, Group, Sink, Stdio};

const MIB: usize = 1 << 20;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `n` children of `head -c bytes /dev/zero`, every output collected.
async fn many(who: &str, n: usize, bytes: usize) -> usize {
    let arg = bytes.to_string();
    match who {
        "spawn-group" => Group::new()
            .add_all((0..n).map(|_| {
                Command::new("head")
                    .args(["-c", &arg, "/dev/zero"])
                    .stdout(Stdio::piped())
            }))
            .run_async()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap().stdout.len())
            .sum(),
        // The group's results as they finish, each output dropped once
        // read, as the JoinSet contenders do with theirs.
        "spawn-results" => {
            let group = Group::new().add_all((0..n).map(|_| {
                Command::new("head")
                    .args(["-c", &arg, "/dev/zero"])
                    .stdout(Stdio::piped())
            }));
            let mut results = std::pin::pin!(group.results_async());
            let mut total = 0;
            while let Some((_, r)) = futures_lite::StreamExt::next(&mut results).await {
                total += r.unwrap().stdout.len();
            }
            total
        }
        "spawn-joinset" => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..n {
                let cmd = Command::new("head")
                    .args(["-c", &arg, "/dev/zero"])
                    .stdout(Stdio::piped());
                set.spawn(cmd.run_async());
            }
            let mut total = 0;
            while let Some(r) = set.join_next().await {
                total += r.unwrap().unwrap().stdout.len();
            }
            total
        }
        "tokio" => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..n {
                let mut cmd = tokio::process::Command::new("head");
                cmd.args(["-c", &arg, "/dev/zero"]);
                set.spawn(async move { cmd.output().await });
            }
            let mut total = 0;
            while let Some(r) = set.join_next().await {
                total += r.unwrap().unwrap().stdout.len();
            }
            total
        }
        "async-process" => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..n {
                let mut cmd = async_process::Command::new("head");
                cmd.args(["-c", &arg, "/dev/zero"]);
                set.spawn(async move { cmd.output().await });
            }
            let mut total = 0;
            while let Some(r) = set.join_next().await {
                total += r.unwrap().unwrap().stdout.len();
            }
            total
        }
        _ => unreachable!("{who}"),
    }
}

/// `data` through `cat` and back, all of it collected.
async fn roundtrip(who: &str, data: Vec<u8>) -> usize {
    match who {
        "spawn" => Command::new("cat")
            .input(data)
            .stdout(Stdio::piped())
            .run_async()
            .await
            .unwrap()
            .stdout
            .len(),
        "tokio" => {
            use tokio::io::AsyncWriteExt;
            let mut child = tokio::process::Command::new("cat")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = tokio::spawn(async move {
                stdin.write_all(&data).await.unwrap();
            });
            let out = child.wait_with_output().await.unwrap();
            writer.await.unwrap();
            out.stdout.len()
        }
        "async-process" => {
            use futures_lite::io::AsyncWriteExt;
            let mut child = async_process::Command::new("cat")
                .stdin(async_process::Stdio::piped())
                .stdout(async_process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = tokio::spawn(async move {
                stdin.write_all(&data).await.unwrap();
                stdin.close().await.unwrap();
            });
            let out = child.output().await.unwrap();
            writer.await.unwrap();
            out.stdout.len()
        }
        _ => unreachable!("{who}"),
    }
}

/// Runs one measurement in this process, inside a tokio runtime. `size`
/// means bytes, or a count.
fn one(bench: &str, who: &str, size: usize) -> harness::Sample {
    harness::raise_fd_limit();
    let rt = runtime();
    harness::sample(|| rt.block_on(measured(bench, who, size)))
}

/// The measured part of [`one`]: returns its seconds.
async fn measured(bench: &str, who: &str, size: usize) -> f64 {
    match bench {
        "spawn_true" => {
            let t = Instant::now();
            for _ in 0..size {
                let ok = match who {
                    "spawn" => Command::new("/bin/true")
                        .run_async()
                        .await
                        .unwrap()
                        .status
                        .success(),
                    "tokio" => tokio::process::Command::new("/bin/true")
                        .status()
                        .await
                        .unwrap()
                        .success(),
                    "async-process" => async_process::Command::new("/bin/true")
                        .status()
                        .await
                        .unwrap()
                        .success(),
                    _ => unreachable!("{who}"),
                };
                assert!(ok);
            }
            t.elapsed().as_secs_f64() / size as f64
        }
        "many" => {
            let t = Instant::now();
            let total = many(who, size, MIB).await;
            assert_eq!(total, size * MIB);
            t.elapsed().as_secs_f64()
        }
        "roundtrip" => {
            let data = vec![b'x'; size];
            let t = Instant::now();
            assert_eq!(roundtrip(who, data).await, size);
            t.elapsed().as_secs_f64()
        }
        "bounded" => {
            let arg = size.to_string();
            let t = Instant::now();
            let n = match who {
                "spawn-bounded" => {
                    let out = Command::new("head")
                        .args(["-c", &arg, "/dev/zero"])
                        .stdout(Sink::head_tail(4 << 10, 4 << 10))
                        .run_async()
                        .await
                        .unwrap();
                    assert_eq!(out.stdout.len(), 8 << 10);
                    out.report.stdout_bytes as usize
                }
                "tokio" => tokio::process::Command::new("head")
                    .args(["-c", &arg, "/dev/zero"])
                    .output()
                    .await
                    .unwrap()
                    .stdout
                    .len(),
                _ => unreachable!("{who}"),
            };
            assert_eq!(n, size);
            t.elapsed().as_secs_f64()
        }
        _ => panic!("unknown bench {bench}"),
    }
}

/// Alternates the contenders `who` over `rounds` counted rounds after a
/// warm-up, all in this process and on one runtime (as a program that runs
/// children again and again does: its allocator warm, its pages reused),
/// where [`harness::run`] gives each measurement a fresh process. The peak
/// RSS of a row is the process's, over every contender so far.
fn in_process(bench: &str, who: &[&str], size: usize, rounds: usize) -> Vec<Row> {
    harness::raise_fd_limit();
    let rt = runtime();
    let mut rows: Vec<Row> = who
        .iter()
        .map(|w| Row {
            who: (*w).to_owned(),
            samples: Vec::new(),
        })
        .collect();
    for r in 0..=rounds {
        for row in &mut rows {
            let cpu = threads_cpu();
            let secs = rt.block_on(measured(bench, &row.who, size));
            if r > 0 {
                row.samples.push(harness::Sample {
                    secs,
                    hwm_kib: harness::status_kib("VmHWM:"),
                    self_cpu: threads_cpu() - cpu,
                    ..harness::Sample::default()
                });
            }
        }
    }
    rows
}

/// CPU seconds of this process's live threads (their schedstat, in ns:
/// finer than the 10 ms ticks of /proc/self/stat).
fn threads_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

/// `--in-process BENCH SIZE ROUNDS WHO…`: [`in_process`]'s table with time
/// ratios against the first contender, for quick A/B runs by hand.
fn serve_in_process(args: &[String]) -> bool {
    let Some(i) = args.iter().position(|a| a == "--in-process") else {
        return false;
    };
    let (bench, size, rounds) = (
        &args[i + 1],
        args[i + 2].parse().unwrap(),
        args[i + 3].parse().unwrap(),
    );
    let who: Vec<&str> = args[i + 4..].iter().map(String::as_str).collect();
    let rows = in_process(bench, &who, size, rounds);
    in_process_table(&format!("{bench} {size}, in one process"), &rows);
    true
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if harness::serve_one(&args, one) || serve_in_process(&args) {
        return;
    }
    let smoke = harness::smoke(&args);
    let rounds = if smoke { 1 } else { 5 };
    let peers = ["spawn", "tokio", "async-process"];
    println!("All contenders run on a multi-thread tokio runtime with 2 workers.");

    println!("\n## A1. Spawn+wait of /bin/true, awaited one after another\n");
    let n = if smoke { 5 } else { 200 };
    // A sample is a fraction of a second: three times the rounds, for
    // medians that noise moves less (as the blocking bench's section 1).
    let rows = run(harness::fresh, "spawn_true", &peers, n, 3 * rounds);
    table(
        &format!("{n} spawns per sample, time per spawn"),
        &rows,
        &Cols::speed_vs("tokio"),
    );
    let r = med_of(&rows, "spawn") / med_of(&rows, "tokio");
    target(
        "run_async no slower than tokio::process",
        r <= 1.0,
        format!("{r:.3}× its time"),
    );

    println!("\n## A2. Many children at once, every output collected\n");
    let n = if smoke { 10 } else { 500 };
    let rows = run(
        harness::fresh,
        "many",
        &[
            "spawn-results",
            "spawn-group",
            "spawn-joinset",
            "tokio",
            "async-process",
        ],
        n,
        rounds,
    );
    table(
        &format!("{n} children × 1 MiB"),
        &rows,
        &Cols::speed_vs("tokio"),
    );
    println!(
        "- `spawn-results`: one `Group`, its `results_async` stream taken as the \
         results come, each output dropped once read, as the JoinSet contenders do \
         with theirs; `spawn-group`: `Group::run_async`, every output kept until \
         all are done (so its peak RSS is all of them, and no page is reused); \
         `spawn-joinset`: `run_async` per child in a JoinSet."
    );
    let r = med_of(&rows, "tokio") / med_of(&rows, "spawn-results");
    target(
        "a Group (results_async) ≥ 1.3× tokio::process's speed",
        r >= 1.3,
        format!("{r:.2}×"),
    );
    let r = med_of(&rows, "tokio") / med_of(&rows, "spawn-group");
    println!("- (Group::run_async, every output kept to the end: {r:.2}× tokio::process's speed)");
    let r = med_of(&rows, "tokio") / med_of(&rows, "spawn-joinset");
    println!("- (run_async in a JoinSet, as tokio's own pattern: {r:.2}× tokio::process's speed)");

    println!("\n## A3. Round trip through cat (input fed while output is read)\n");
    let size = if smoke { 4 * MIB } else { 256 * MIB };
    let rows = run(harness::fresh, "roundtrip", &peers, size, rounds);
    table(
        &format!("{} MiB", size / MIB),
        &rows,
        &Cols::speed_vs("tokio"),
    );
    let r = med_of(&rows, "tokio") / med_of(&rows, "spawn");
    target(
        "run_async ≥ 1.2× tokio::process's speed",
        r >= 1.2,
        format!("{r:.2}×"),
    );

    println!("\n## A4. Peak RSS with a bounded sink (head_tail 4 KiB + 4 KiB)\n");
    let (small, large) = if smoke {
        (MIB, 8 * MIB)
    } else {
        (64 * MIB, 1024 * MIB)
    };
    let mut growth = Vec::new();
    for size in [small, large] {
        let who: &[&str] = if size == small {
            &["spawn-bounded", "tokio"]
        } else {
            &["spawn-bounded"]
        };
        let rows = run(harness::fresh, "bounded", who, size, rounds.min(3));
        table(
            &format!("{} MiB of output", size / MIB),
            &rows,
            &Cols::speed_vs(who[0]),
        );
        growth.push(rows[0].growth());
    }
    let (g_small, g_large) = (growth[0] as f64 / 1024.0, growth[1] as f64 / 1024.0);
    target(
        "bounded run_async's RSS independent of the bytes",
        g_large <= g_small + 4.0,
        format!(
            "growth {g_small:.1} MiB at {} MiB, {g_large:.1} MiB at {} MiB",
            small / MIB,
            large / MIB
        ),
    );

    in_process_section(smoke);
}

/// A5: A1 to A3's runs repeated in one process, and A2's at 300 children
/// both ways, with issue 28's targets (time ratios against tokio::process).
fn in_process_section(smoke: bool) {
    println!("\n## A5. In one process: the runs repeated on one runtime\n");
    println!(
        "A1 to A4 give each measurement a fresh process (its peak RSS its own). \
         Here the contenders alternate in one process and one runtime after a \
         warm-up, as in a program that runs children again and again (and as \
         the outside harness of issue 28 measured): its allocator is warm. \
         Time ratios (below 1: faster than tokio::process); `CPU` is this \
         process's CPU time per run (its threads, not the children), a median; \
         the peak RSS is the process's over every contender so far."
    );
    let rounds = if smoke { 1 } else { 9 };
    let n = if smoke { 5 } else { 200 };
    let rows = in_process("spawn_true", &["tokio", "spawn"], n, rounds);
    in_process_table(
        &format!("/bin/true, {n} spawns per sample, time per spawn"),
        &rows,
    );
    let r = med_of(&rows, "spawn") / med_of(&rows, "tokio");
    target(
        "run_async ≤ 0.95× tokio::process's time",
        r <= 0.95,
        format!("{r:.3}×"),
    );

    let n = if smoke { 10 } else { 300 };
    let who = ["tokio", "spawn-results"];
    let fresh = run(harness::fresh, "many", &who, n, rounds.min(5));
    table(
        &format!("{n} children × 1 MiB at once, each in a fresh process (as A2)"),
        &fresh,
        &Cols::time_vs("tokio"),
    );
    let rows = in_process("many", &who, n, rounds.min(5));
    in_process_table(
        &format!("{n} children × 1 MiB at once, in one process"),
        &rows,
    );
    let fresh_r = med_of(&fresh, "spawn-results") / med_of(&fresh, "tokio");
    let r = med_of(&rows, "spawn-results") / med_of(&rows, "tokio");
    println!(
        "- A2 (500 children) and issue 28's outside harness (300) differ in \
         the count more than in the process: a JoinSet of `output()`s holds \
         every output until it is joined (peak RSS grows with the children at \
         once), `results_async` one at a time, so tokio's time per child grows \
         with the count and spawn's does not. A warm process changes little \
         for tokio: it faults in about as many new pages a run as a fresh one \
         (perf stat: about 100k minor faults a run at 300 children, its \
         children included, either way). At {n} children, fresh: \
         {fresh_r:.3}× tokio's time ({:.2}× its speed); one process: {r:.3}× \
         ({:.2}× its speed).",
        1.0 / fresh_r,
        1.0 / r
    );
    target(
        "results_async ≤ 0.77× a JoinSet of tokio output()s (one process)",
        r <= 0.77,
        format!("{r:.3}×"),
    );

    let size = if smoke { 4 * MIB } else { 64 * MIB };
    let rows = in_process("roundtrip", &["tokio", "spawn"], size, rounds);
    in_process_table(
        &format!("Round trip of {} MiB through cat", size / MIB),
        &rows,
    );
    let r = med_of(&rows, "spawn") / med_of(&rows, "tokio");
    target(
        "run_async ≤ 0.61× tokio::process's time (round trip, one process)",
        r <= 0.61,
        format!("{r:.3}×"),
    );
}

/// [`table`] of [`in_process`] rows (time ratios against tokio), and each
/// contender's median CPU per run.
fn in_process_table(title: &str, rows: &[Row]) {
    table(title, rows, &Cols::time_vs("tokio"));
    let cpu = |r: &Row| {
        let mut v: Vec<f64> = r.samples.iter().map(|s| s.self_cpu).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let base = rows.iter().find(|r| r.who == "tokio").map_or(f64::NAN, cpu);
    for r in rows {
        println!(
            "- {}: CPU {} per run ({:.3}× tokio's)",
            r.who,
            harness::fmt_secs(cpu(r)),
            cpu(r) / base
        );
    }
}
