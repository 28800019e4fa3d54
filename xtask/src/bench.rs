//! `cargo xtask bench [--smoke]`: runs every benchmark (spawn-sys's
//! spawn+wait, spawn-core's turn cost, spawn against its peers) and, unless
//! `--smoke`, rewrites BENCHMARKS.md with the machine and the tables.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The benchmarks: (package, bench target, title).
const BENCHES: [(&str, &str, &str); 5] = [
    ("spawn", "peers", "spawn against its peers"),
    (
        "spawn",
        "pty",
        "A run on a pty against a run on a pipe (`Command::pty`)",
    ),
    (
        "spawn-sys",
        "spawn_true",
        "spawn-sys: spawn (clone3 by default)+wait against std",
    ),
    (
        "spawn-sys",
        "cgroup_spawn",
        "spawn-sys: a child born in a cgroup (clone3) against fork + cgroup.procs",
    ),
    ("spawn-core", "core", "6. The core alone (spawn-core)"),
];

/// How to read the tables (the same for every run).
const NOTES: &str = "## How to read the tables

- Times are per run of the whole task (for /bin/true: per spawn), min /
  median / max over the counted rounds; every ratio is of medians from this
  run. `vs raw limit` is a speed ratio (above 1: faster than the raw loop).
- `raw` is a hand-written loop over the same syscalls with 1 MiB pipes and a
  1 MiB buffer (one thread, poll), the physical limit the targets name; a
  contender can beat it where it does less work than the loop (fewer wake-ups,
  no output copy).
- `raw-collect` (round trip, one way) is the same raw loop keeping the
  output in a `Vec<u8>` (`extend_from_slice` from the read buffer, nothing
  reserved), as a user would: what collecting costs by hand;
  `collect vs raw-collect` is informational, not a target.
- In the round trip every contender is handed the input by value and is
  done with it (freed) within the timed part: the raw loops and Python
  included (256 MiB take about 20 ms to unmap).
- In the many-children tables every contender keeps every output, as
  `Group` returns them all; `spawn-bounded` keeps 8 KiB of each
  (`head_tail(4 KiB, 4 KiB)`). `std-seq` is `output()` in a loop,
  `std-threads` one thread per child, `raw-poll` one poll loop over all
  pipes.
- Peak RSS is VmHWM of the measuring process (a fresh process per
  measurement). The RSS targets use its growth over the RSS the process had
  before the measured part (binary, libraries, allocator), not the absolute
  peak.
- Timings on this machine (a 2-vCPU VM) vary by ±20% between rounds: read
  the medians, and rerun before trusting a ratio near its target.

";

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The load averages from `/proc/loadavg`.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let glibc = sh("ldd", &["--version"]);
    let glibc = glibc.lines().next().unwrap_or("?");
    let pipe_max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = mem.lines().next().unwrap_or("?");
    format!(
        "- cores: {}\n- kernel: {}\n- glibc: {glibc}\n- memory: {}\n- pipe-max-size: {}\n- rustc: {}\n- python3: {}\n",
        sh("nproc", &[]),
        sh("uname", &["-r"]),
        mem.trim_start_matches("MemTotal:").trim(),
        pipe_max.trim(),
        sh("rustc", &["--version"]),
        sh("python3", &["--version"]),
    )
}

/// Runs the benchmarks; with `--smoke`, each once at small sizes.
pub fn bench(root: &Path, args: &[String]) -> Result<(), String> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let start = Instant::now();
    let mut doc = String::new();
    let _ = writeln!(doc, "# Benchmarks\n");
    let _ = writeln!(
        doc,
        "Written by `cargo xtask bench` from one run on this machine. Contenders alternate (A B A B …) over the counted rounds after a warm-up; each measurement of `spawn` vs the peers runs in a fresh process so that its peak RSS (VmHWM) is its own. Ratios compare medians of the same run.\n"
    );
    let _ = writeln!(doc, "## Machine\n\n{}", machine());
    let load_start = load();
    let load_at = doc.len() - 1;
    doc.push_str(NOTES);
    for (pkg, bench, title) in BENCHES {
        let text = cargo_bench(root, pkg, None, bench, smoke)?;
        let _ = writeln!(
            doc,
            "\n# {title}\n\nCommand: `cargo bench -p {pkg} --bench {bench}`\n"
        );
        if bench == "peers" || bench == "pty" {
            doc.push_str(&text);
        } else {
            let _ = writeln!(doc, "```\n{}\n```", text.trim());
        }
    }
    crate::bench_async::run(root, smoke, &mut doc)?;
    doc.push_str(&crate::bench_cli::cli_rows(root, smoke)?);
    println!("==> bench: ok ({:.1}s)", start.elapsed().as_secs_f64());
    // The machine is shared: say how loaded it was, before the tables.
    doc.insert_str(
        load_at,
        &format!(
            "- load average (1, 5, 15 min) at the start: {load_start}; at the end: {} (2 cores, shared with other builds: ratios near a target may move between runs)\n",
            load()
        ),
    );
    if !smoke {
        std::fs::write(root.join("BENCHMARKS.md"), doc)
            .map_err(|e| format!("cannot write BENCHMARKS.md: {e}"))?;
        println!("wrote BENCHMARKS.md");
    }
    Ok(())
}

/// Runs one benchmark, `bench` of `pkg` (with `features`), in `root`,
/// says how long it took under `pkg/bench`, and returns its stdout (the
/// tables); a failure is the step's error with both outputs.
///
/// A full run builds it optimised (`cargo bench`). A `--smoke` run (CI's)
/// only proves that it runs: it builds it in the dev profile with the
/// whole workspace's features, so that it reuses what CI's test step
/// compiled instead of an optimised build of every dependency per bench
/// (most of the smoke run's time before).
pub fn cargo_bench(
    root: &Path,
    pkg: &str,
    features: Option<&str>,
    bench: &str,
    smoke: bool,
) -> Result<String, String> {
    let label = format!("{pkg}/{bench}");
    let mut a = vec!["bench", "--quiet"];
    if smoke {
        a.extend(["--profile", "dev", "--workspace", "--all-features"]);
    } else {
        a.extend(["--package", pkg]);
        if let Some(f) = features {
            a.extend(["--features", f]);
        }
    }
    a.extend(["--bench", bench, "--"]);
    if smoke {
        a.push("--smoke");
    }
    println!("==> bench: cargo {}", a.join(" "));
    let t = Instant::now();
    let out = Command::new("cargo")
        .args(&a)
        .current_dir(root)
        .output()
        .map_err(|e| format!("step `bench`: cannot run cargo: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "step `bench`: {label} failed ({})\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    println!("    {label}: ok ({:.1}s)", t.elapsed().as_secs_f64());
    Ok(text)
}
