//! The measuring harness both peer benchmarks share (`benches/peers.rs` and
//! `benches/async_peers.rs` include it with `mod harness;`; it is no bench
//! target of its own).
//!
//! Each measurement runs in a fresh child process of the bench binary
//! (`--one BENCH CONTENDER SIZE`, see [`serve_one`] and [`fresh`]) so that
//! its peak RSS (VmHWM) is its own; [`run`] alternates the contenders A B A
//! B … over the counted rounds after one warm-up round; [`table`] prints a
//! Markdown table of the rows and [`target`] a `**MET**` / `**MISSED**`
//! line (xtask copies both into BENCHMARKS.md).

// Each bench binary is a crate of its own and uses a part of this module.
#![allow(dead_code)]

/// One measured run: seconds of the measured part, and resources.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub secs: f64,
    /// VmHWM (peak RSS) at the end of the measured part.
    pub hwm_kib: u64,
    /// VmRSS before the measured part: what the process holds anyway.
    pub base_kib: u64,
    /// CPU seconds of this process over the measured part.
    pub self_cpu: f64,
    /// CPU seconds of its waited-for children over the measured part.
    pub child_cpu: f64,
}

/// A `kB` field of /proc/self/status (`"VmRSS:"`, `"VmHWM:"`), 0 if absent.
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// (own CPU, children's CPU) in seconds, from /proc/self/stat.
pub fn cpu() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<f64> = s[s.rfind(')').map_or(0, |i| i + 2)..]
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tck = 100.0;
    ((f[11] + f[12]) / tck, (f[13] + f[14]) / tck)
}

/// Raises the soft fd limit to the hard one (at most 2^20), for the
/// benches with thousands of children.
pub fn raise_fd_limit() {
    if let Ok((_, hard)) = spawn_sys::fd::nofile_limit() {
        let _ = spawn_sys::fd::set_nofile_limit(hard.min(1 << 20));
    }
}

/// Measures `f` (which returns the seconds of its measured part) in this
/// process: the RSS before it, the peak after it, and the CPU it took.
pub fn sample(f: impl FnOnce() -> f64) -> Sample {
    let base_kib = status_kib("VmRSS:");
    let (c0, k0) = cpu();
    let secs = f();
    let (c1, k1) = cpu();
    Sample {
        secs,
        hwm_kib: status_kib("VmHWM:"),
        base_kib,
        self_cpu: c1 - c0,
        child_cpu: k1 - k0,
    }
}

/// The child side of the `--one` protocol: if `args` hold
/// `--one BENCH CONTENDER SIZE`, runs `one(bench, contender, size)` and
/// prints its sample as the line [`fresh`] parses, and returns true.
pub fn serve_one(args: &[String], one: impl FnOnce(&str, &str, usize) -> Sample) -> bool {
    let Some(i) = args.iter().position(|a| a == "--one") else {
        return false;
    };
    let s = one(&args[i + 1], &args[i + 2], args[i + 3].parse().unwrap());
    println!(
        "{} {} {} {} {}",
        s.secs, s.hwm_kib, s.self_cpu, s.child_cpu, s.base_kib
    );
    true
}

/// The parent side of the `--one` protocol: one measurement in a fresh
/// process of the current executable.
pub fn fresh(bench: &str, who: &str, size: usize) -> Sample {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--one", bench, who, &size.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{bench} {who}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect();
    Sample {
        secs: v[0],
        hwm_kib: v[1] as u64,
        base_kib: v[4] as u64,
        self_cpu: v[2],
        child_cpu: v[3],
    }
}

/// Is `--smoke` given (or `SPAWN_BENCH_SMOKE` set, not to 0)?
pub fn smoke(args: &[String]) -> bool {
    args.iter().any(|a| a == "--smoke")
        || std::env::var_os("SPAWN_BENCH_SMOKE").is_some_and(|v| v != "0")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A contender's samples.
pub struct Row {
    pub who: String,
    pub samples: Vec<Sample>,
}

impl Row {
    /// The median of the samples' seconds.
    pub fn med(&self) -> f64 {
        median(self.samples.iter().map(|s| s.secs).collect())
    }
    /// The highest peak RSS of the samples.
    pub fn hwm(&self) -> u64 {
        self.samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0)
    }
    /// The largest growth of the peak over the process's RSS before the
    /// measured part (its binary, libraries and allocator: not output).
    pub fn growth(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| s.hwm_kib.saturating_sub(s.base_kib))
            .max()
            .unwrap_or(0)
    }
}

/// How a sample is taken: [`fresh`], or a bench's own function that sends
/// some contenders elsewhere (peers.rs: Python) and the rest to [`fresh`].
pub type Measure = fn(&str, &str, usize) -> Sample;

/// Alternates the contenders over `rounds` counted rounds after a warm-up.
pub fn run(measure: Measure, bench: &str, who: &[&str], size: usize, rounds: usize) -> Vec<Row> {
    let mut rows: Vec<Row> = who
        .iter()
        .map(|w| Row {
            who: (*w).to_owned(),
            samples: Vec::new(),
        })
        .collect();
    for r in 0..=rounds {
        for row in &mut rows {
            let s = measure(bench, &row.who, size);
            if r > 0 {
                row.samples.push(s);
            }
        }
    }
    rows
}

/// As [`run`], one round and no warm-up (for rows that take minutes).
pub fn run_once(measure: Measure, bench: &str, who: &[&str], size: usize) -> Vec<Row> {
    who.iter()
        .map(|w| Row {
            who: (*w).to_owned(),
            samples: vec![measure(bench, w, size)],
        })
        .collect()
}

/// Seconds in µs, ms or s.
pub fn fmt_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

/// The median of `who`'s row (NaN if there is none).
pub fn med_of(rows: &[Row], who: &str) -> f64 {
    rows.iter()
        .find(|r| r.who == who)
        .map_or(f64::NAN, Row::med)
}

/// The columns of a [`table`] after min / median / max.
pub struct Cols<'a> {
    /// The contender the ratio column compares with.
    base: &'a str,
    /// `speed vs BASE` (its median / this one, 2 digits) rather than
    /// `vs BASE` (this median / its, 3 digits: a time ratio).
    speed: bool,
    /// A `vs raw limit` column: `limit`'s median / this one.
    limit: Option<&'a str>,
    /// A `GB/s` column: `bytes` per median.
    bytes: Option<usize>,
    /// An `RSS growth` column after `peak RSS` ([`Row::growth`]).
    growth: bool,
}

impl<'a> Cols<'a> {
    /// `vs BASE` as a time ratio, then `peak RSS`.
    pub fn time_vs(base: &'a str) -> Self {
        Cols {
            base,
            speed: false,
            limit: None,
            bytes: None,
            growth: false,
        }
    }
    /// `speed vs BASE`, then `peak RSS` and `RSS growth`.
    pub fn speed_vs(base: &'a str) -> Self {
        Cols {
            speed: true,
            growth: true,
            ..Cols::time_vs(base)
        }
    }
    /// Adds `vs raw limit` against `limit`'s median.
    pub fn limit(self, limit: &'a str) -> Self {
        Cols {
            limit: Some(limit),
            ..self
        }
    }
    /// Adds `GB/s` for `bytes` per run.
    pub fn bytes(self, bytes: usize) -> Self {
        Cols {
            bytes: Some(bytes),
            ..self
        }
    }
}

/// Prints a Markdown table of `rows` under `### title`.
pub fn table(title: &str, rows: &[Row], cols: &Cols<'_>) {
    println!("\n### {title}\n");
    let b = med_of(rows, cols.base);
    let l = cols
        .limit
        .and_then(|l| rows.iter().find(|r| r.who == l))
        .map(Row::med);
    let mut head = String::from("| contender | min | median | max |");
    let mut rule = String::from("|---|---|---|---|");
    let mut add = |h: &str| {
        head.push_str(&format!(" {h} |"));
        rule.push_str("---|");
    };
    if cols.speed {
        add(&format!("speed vs {}", cols.base));
    } else {
        add(&format!("vs {}", cols.base));
    }
    if l.is_some() {
        add("vs raw limit");
    }
    if cols.bytes.is_some() {
        add("GB/s");
    }
    add("peak RSS");
    if cols.growth {
        add("RSS growth");
    }
    println!("{head}\n{rule}");
    for r in rows {
        let mut v: Vec<f64> = r.samples.iter().map(|s| s.secs).collect();
        v.sort_by(f64::total_cmp);
        let m = r.med();
        let mut line = format!(
            "| {} | {} | {} | {} |",
            r.who,
            fmt_secs(v[0]),
            fmt_secs(m),
            fmt_secs(v[v.len() - 1])
        );
        if cols.speed {
            line.push_str(&format!(" {:.2}× |", b / m));
        } else {
            line.push_str(&format!(" {:.3}× |", m / b));
        }
        if let Some(l) = l {
            line.push_str(&format!(" {:.2}× speed |", l / m));
        }
        if let Some(n) = cols.bytes {
            line.push_str(&format!(" {:.2} |", n as f64 / m / 1e9));
        }
        line.push_str(&format!(" {:.1} MiB |", r.hwm() as f64 / 1024.0));
        if cols.growth {
            line.push_str(&format!(" {:.1} MiB |", r.growth() as f64 / 1024.0));
        }
        println!("{line}");
    }
}

/// Prints a target line: `- **MET** what: detail` or `- **MISSED** …`.
pub fn target(what: &str, ok: bool, detail: impl std::fmt::Display) {
    println!(
        "- {} {what}: {detail}",
        if ok { "**MET**" } else { "**MISSED**" }
    );
}
