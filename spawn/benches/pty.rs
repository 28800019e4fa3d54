//! A run on a pseudo-terminal (`Command::pty`) against the same run on a
//! pipe (issue 32): `/bin/true` (the start: the pair opened and set up,
//! the slave opened by the child), and 100 MB one way through `cat`
//! (a file of 100 MB read by `cat`; its output read from the master,
//! `raw` so no byte is added, or from the pipe, into `head_tail(64 KiB,
//! 64 KiB)` either way: the transport, not the sink).
//!
//! `cargo bench -p spawn --bench pty [-- ROUNDS]` prints a Markdown table:
//! pipe and pty alternate (A B A B …) over the rounds after one warm-up
//! round, in this one process; times are min / median / max per run.

use std::time::{Duration, Instant};

use spawn::{Command, Pty, Sink};

const TRUE_PER_SAMPLE: u32 = 200;
const BURST: usize = 100_000_000;

fn with_pty(cmd: Command, pty: bool) -> Command {
    if pty {
        cmd.pty(Pty::new().raw(true))
    } else {
        cmd
    }
}

/// One `/bin/true` spawn+wait, averaged over a sample.
fn spawn_true(pty: bool) -> Duration {
    let cmd = with_pty(Command::new("/bin/true"), pty);
    let start = Instant::now();
    for _ in 0..TRUE_PER_SAMPLE {
        let out = cmd.run().expect("/bin/true runs");
        assert!(out.status.success());
    }
    start.elapsed() / TRUE_PER_SAMPLE
}

/// `cat` of a 100 MB file on a pty, its master read by hand (the `Child`'s
/// blocking end, 1 MiB reads, nothing kept): the kernel's limit, without
/// the engine.
fn cat_by_hand(file: &std::path::Path) -> Duration {
    use std::io::Read;
    let start = Instant::now();
    let mut child = with_pty(Command::new("cat").arg(file), true)
        .spawn()
        .expect("cat starts");
    let mut out = child.take_stdout().expect("the master");
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        match out.read(&mut buf).expect("a read of the master") {
            0 => break,
            k => n += k,
        }
    }
    assert!(child.wait().expect("cat ends").success());
    let took = start.elapsed();
    assert_eq!(n, BURST);
    took
}

/// `cat` of a 100 MB file, its output read into a bounded sink.
fn cat_burst(pty: bool, file: &std::path::Path) -> Duration {
    let cmd =
        with_pty(Command::new("cat").arg(file), pty).stdout(Sink::head_tail(1 << 16, 1 << 16));
    let start = Instant::now();
    let out = cmd.run().expect("cat runs");
    let took = start.elapsed();
    assert_eq!(out.report.stdout_bytes, BURST as u64);
    took
}

fn stats(v: &mut [Duration]) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn fmt(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

fn row(what: &str, pipe: &mut [Duration], pty: &mut [Duration], by_hand: Option<&mut [Duration]>) {
    let (p0, pm, p1) = stats(pipe);
    let (t0, tm, t1) = stats(pty);
    let hand = by_hand.map_or("–".to_owned(), |h| {
        let (h0, hm, h1) = stats(h);
        format!("{} / **{}** / {}", fmt(h0), fmt(hm), fmt(h1))
    });
    println!(
        "| {what} | {} / **{}** / {} | {} / **{}** / {} | {:.2}× | {hand} |",
        fmt(p0),
        fmt(pm),
        fmt(p1),
        fmt(t0),
        fmt(tm),
        fmt(t1),
        tm.as_secs_f64() / pm.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let rounds: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(if smoke { 1 } else { 9 });
    let file = std::env::temp_dir().join(format!("spawn-pty-bench-{}", std::process::id()));
    std::fs::write(&file, vec![b'x'; BURST]).expect("the 100 MB file");
    let (mut tp, mut tt, mut cp, mut ct, mut ch) = (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..=rounds {
        let (a, b) = (spawn_true(false), spawn_true(true));
        let (c, d) = (cat_burst(false, &file), cat_burst(true, &file));
        let e = cat_by_hand(&file);
        if round > 0 {
            tp.push(a);
            tt.push(b);
            cp.push(c);
            ct.push(d);
            ch.push(e);
        }
    }
    let _ = std::fs::remove_file(&file);
    println!(
        "| run | pipe (min / **median** / max) | pty (min / **median** / max) | pty / pipe | pty read by hand |"
    );
    println!("|---|---|---|---|---|");
    row(
        &format!("`/bin/true` ({TRUE_PER_SAMPLE} spawns per sample, per spawn)"),
        &mut tp,
        &mut tt,
        None,
    );
    row(
        "`cat` of 100 MB into `head_tail`",
        &mut cp,
        &mut ct,
        Some(&mut ch),
    );
    println!(
        "\nRounds: {rounds} after a warm-up, in one process, pipe and pty alternating. \
         `pty read by hand`: the same `cat` on a pty, its master read by blocking 1 MiB \
         reads of `Child::take_stdout` (no engine, nothing kept): what the terminal \
         itself allows (the line discipline hands over at most 4 KiB per read)."
    );
}
