//! spawn against the peers users would pick instead (std::process, the
//! `subprocess` crate, duct, Python's subprocess) and against a hand-written
//! raw loop (the physical limit on this machine), benchmarks 1–5 of issue 6.
//!
//! `cargo bench -p spawn --bench peers [-- --smoke]` prints Markdown tables;
//! `cargo xtask bench` puts them in BENCHMARKS.md. Each measurement runs in a
//! fresh child process of this binary (`--one BENCH CONTENDER SIZE`) so that
//! its peak RSS (VmHWM) is its own; contenders alternate A B A B … over the
//! counted rounds, after one warm-up round.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio as StdStdio;
use std::time::{Duration, Instant};

use spawn::{Command, Group, Sink, Stdio};

const MIB: usize = 1 << 20;

/// One measured run: seconds of the measured part, and resources.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    secs: f64,
    hwm_kib: u64,
    /// VmRSS before the measured part: what the process holds anyway.
    base_kib: u64,
    self_cpu: f64,
    child_cpu: f64,
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// (own CPU, children's CPU) in seconds, from /proc/self/stat.
fn cpu() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<f64> = s[s.rfind(')').map_or(0, |i| i + 2)..]
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tck = 100.0;
    ((f[11] + f[12]) / tck, (f[13] + f[14]) / tck)
}

fn raise_fd_limit() {
    if let Ok((_, hard)) = spawn_sys::fd::nofile_limit() {
        let _ = spawn_sys::fd::set_nofile_limit(hard.min(1 << 20));
    }
}

fn touch_heap(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    v
}

/// Runs one measurement in this process. `size` means bytes, or a count.
fn one(bench: &str, who: &str, size: usize) -> Sample {
    raise_fd_limit();
    let base_kib = status_kib("VmRSS:");
    let (c0, k0) = cpu();
    let (secs, extra): (f64, Option<u64>) = match bench {
        "spawn_true" | "spawn_true_2g" | "spawn_true_8g" => {
            let heap = match bench {
                "spawn_true_2g" => touch_heap(2 << 30),
                "spawn_true_8g" => touch_heap(8 << 30),
                _ => Vec::new(),
            };
            let n = size;
            let t = Instant::now();
            for _ in 0..n {
                match who {
                    "spawn" => assert!(Command::new("/bin/true").run().unwrap().status.success()),
                    "std" => assert!(
                        std::process::Command::new("/bin/true")
                            .status()
                            .unwrap()
                            .success()
                    ),
                    "subprocess" => {
                        assert!(subprocess::Exec::cmd("/bin/true").join().unwrap().success());
                    }
                    "duct" => {
                        duct::cmd!("/bin/true").run().unwrap();
                    }
                    _ => unreachable!(),
                }
            }
            std::hint::black_box(&heap);
            (t.elapsed().as_secs_f64() / n as f64, None)
        }
        "roundtrip" | "roundtrip_bounded" => {
            let data = vec![b'x'; size];
            let t = Instant::now();
            let got = match who {
                "spawn" => Command::new("cat")
                    .input(data)
                    .stdout(Stdio::piped())
                    .run()
                    .unwrap()
                    .stdout
                    .len(),
                "spawn-discard" => {
                    Command::new("cat")
                        .input(data)
                        .stdout(Sink::discard())
                        .run()
                        .unwrap()
                        .report
                        .stdout_bytes as usize
                }
                "std" => {
                    let mut child = std::process::Command::new("cat")
                        .stdin(StdStdio::piped())
                        .stdout(StdStdio::piped())
                        .spawn()
                        .unwrap();
                    let mut stdin = child.stdin.take().unwrap();
                    let writer = std::thread::spawn(move || stdin.write_all(&data));
                    let mut out = Vec::new();
                    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
                    writer.join().unwrap().unwrap();
                    child.wait().unwrap();
                    out.len()
                }
                "subprocess" => subprocess::Exec::cmd("cat")
                    .stdin(data)
                    .capture()
                    .unwrap()
                    .stdout
                    .len(),
                "duct" => duct::cmd!("cat")
                    .stdin_bytes(data)
                    .stdout_capture()
                    .run()
                    .unwrap()
                    .stdout
                    .len(),
                "raw" => raw_roundtrip(&data),
                _ => unreachable!(),
            };
            assert_eq!(got, size);
            (t.elapsed().as_secs_f64(), None)
        }
        "oneway" => {
            let n = size.to_string();
            let t = Instant::now();
            let got = match who {
                "spawn-discard" => {
                    Command::new("head")
                        .args(["-c", &n, "/dev/zero"])
                        .stdout(Sink::discard())
                        .run()
                        .unwrap()
                        .report
                        .stdout_bytes as usize
                }
                "spawn-collect" => Command::new("head")
                    .args(["-c", &n, "/dev/zero"])
                    .stdout(Stdio::piped())
                    .run()
                    .unwrap()
                    .stdout
                    .len(),
                "std" => std::process::Command::new("head")
                    .args(["-c", &n, "/dev/zero"])
                    .output()
                    .unwrap()
                    .stdout
                    .len(),
                "subprocess" => subprocess::Exec::cmd("head")
                    .args(["-c", &n, "/dev/zero"])
                    .capture()
                    .unwrap()
                    .stdout
                    .len(),
                "duct" => duct::cmd!("head", "-c", &n, "/dev/zero")
                    .stdout_capture()
                    .run()
                    .unwrap()
                    .stdout
                    .len(),
                "raw" => raw_oneway(&n),
                _ => unreachable!(),
            };
            assert_eq!(got, size);
            (t.elapsed().as_secs_f64(), None)
        }
        "many" | "many16" => {
            // Every contender keeps every output, as Group returns them all
            // (spawn-bounded keeps 8 KiB of each).
            let n = size;
            let each = if bench == "many16" { 16 * MIB } else { MIB };
            let each_s = each.to_string();
            let cmd = || Command::new("head").args(["-c", &each_s, "/dev/zero"]);
            let t = Instant::now();
            let total: usize = match who {
                "spawn" => Group::new()
                    .add_all((0..n).map(|_| cmd().stdout(Stdio::piped())))
                    .run()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_ref().unwrap().stdout.len())
                    .sum(),
                "spawn-bounded" => Group::new()
                    .add_all((0..n).map(|_| cmd().stdout(Sink::head_tail(4096, 4096))))
                    .run()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_ref().unwrap().report.stdout_bytes as usize)
                    .sum(),
                "std-seq" => {
                    let outs: Vec<Vec<u8>> = (0..n)
                        .map(|_| {
                            std::process::Command::new("head")
                                .args(["-c", &each_s, "/dev/zero"])
                                .output()
                                .unwrap()
                                .stdout
                        })
                        .collect();
                    outs.iter().map(Vec::len).sum()
                }
                "std-threads" => {
                    let hs: Vec<_> = (0..n)
                        .map(|_| {
                            let each_s = each_s.clone();
                            std::thread::spawn(move || {
                                std::process::Command::new("head")
                                    .args(["-c", &each_s, "/dev/zero"])
                                    .output()
                                    .unwrap()
                                    .stdout
                            })
                        })
                        .collect();
                    let outs: Vec<Vec<u8>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
                    outs.iter().map(Vec::len).sum()
                }
                "raw-poll" => raw_many(n),
                _ => unreachable!(),
            };
            assert_eq!(total, n * each);
            (t.elapsed().as_secs_f64(), None)
        }
        "width" => {
            // 300 children × 1 MiB through one Group, by max_running.
            let n = size;
            let cmd = || Command::new("head").args(["-c", "1048576", "/dev/zero"]);
            let t = Instant::now();
            let total: usize = match who {
                "std-seq" => (0..n)
                    .map(|_| {
                        std::process::Command::new("head")
                            .args(["-c", "1048576", "/dev/zero"])
                            .output()
                            .unwrap()
                            .stdout
                    })
                    .collect::<Vec<_>>()
                    .iter()
                    .map(Vec::len)
                    .sum(),
                "raw-poll" => raw_many(n),
                w => {
                    let width: usize = w.trim_start_matches("spawn-w").parse().unwrap();
                    Group::new()
                        .max_running(width)
                        .add_all((0..n).map(|_| cmd().stdout(Stdio::piped())))
                        .run()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_ref().unwrap().stdout.len())
                        .sum()
                }
            };
            assert_eq!(total, n * MIB);
            (t.elapsed().as_secs_f64(), None)
        }
        "echo_group" => {
            // `size` children `sh -c 'echo $1' sh i` with the default
            // settings; every one must come back with its own line.
            let t = Instant::now();
            let results = Group::new()
                .add_all((0..size).map(|i| {
                    Command::new("sh")
                        .args(["-c", "echo $1", "sh", &i.to_string()])
                        .stdout(Stdio::piped())
                }))
                .run()
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            let ok = results.iter().enumerate().all(|(i, r)| {
                r.as_ref()
                    .is_ok_and(|o| o.status.success() && o.stdout == format!("{i}\n").as_bytes())
            });
            assert!(ok, "a child of the group failed");
            (secs, None)
        }
        "true_many" => {
            let t = Instant::now();
            match who {
                "spawn" => {
                    let results = Group::new()
                        .add_all((0..size).map(|_| Command::new("/bin/true")))
                        .run()
                        .unwrap();
                    assert!(
                        results
                            .iter()
                            .all(|r| r.as_ref().is_ok_and(|o| o.status.success()))
                    );
                }
                "xargs" => {
                    let mut c = std::process::Command::new("xargs")
                        .args(["-P", "8", "-n", "1", "/bin/true"])
                        .stdin(StdStdio::piped())
                        .spawn()
                        .unwrap();
                    let input: String = (0..size).map(|i| format!("{i}\n")).collect();
                    let mut stdin = c.stdin.take().unwrap();
                    stdin.write_all(input.as_bytes()).unwrap();
                    drop(stdin);
                    assert!(c.wait().unwrap().success());
                }
                _ => unreachable!(),
            }
            (t.elapsed().as_secs_f64(), None)
        }
        "pipeline" => {
            let n = size.to_string();
            let t = Instant::now();
            let out = match who {
                "spawn" => {
                    (Command::new("yes")
                        | Command::new("head").args(["-c", &n])
                        | Command::new("wc").arg("-c"))
                    .stdout(Stdio::piped())
                    .run()
                    .unwrap()
                    .stdout
                }
                "std" => {
                    let mut yes = std::process::Command::new("yes")
                        .stdout(StdStdio::piped())
                        .spawn()
                        .unwrap();
                    let mut head = std::process::Command::new("head")
                        .args(["-c", &n])
                        .stdin(yes.stdout.take().unwrap())
                        .stdout(StdStdio::piped())
                        .spawn()
                        .unwrap();
                    let wc = std::process::Command::new("wc")
                        .arg("-c")
                        .stdin(head.stdout.take().unwrap())
                        .output()
                        .unwrap();
                    head.wait().unwrap();
                    yes.wait().unwrap();
                    wc.stdout
                }
                "duct" => {
                    duct::cmd!("yes")
                        .pipe(duct::cmd!("head", "-c", &n))
                        .pipe(duct::cmd!("wc", "-c"))
                        .unchecked()
                        .stdout_capture()
                        .run()
                        .unwrap()
                        .stdout
                }
                _ => unreachable!(),
            };
            assert_eq!(String::from_utf8_lossy(&out).trim(), n);
            (t.elapsed().as_secs_f64(), None)
        }
        _ => panic!("unknown bench {bench}"),
    };
    let (c1, k1) = cpu();
    Sample {
        secs,
        hwm_kib: extra.unwrap_or_else(|| status_kib("VmHWM:")),
        base_kib,
        self_cpu: c1 - c0,
        child_cpu: k1 - k0,
    }
}

/// The physical limit of a round trip: one thread, poll over both pipes,
/// 1 MiB pipes, output counted and dropped.
fn raw_roundtrip(data: &[u8]) -> usize {
    let mut child = std::process::Command::new("cat")
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    for fd in [stdin.as_fd(), stdout.as_fd()] {
        let _ = spawn_sys::pipe::set_pipe_size(fd, MIB);
        spawn_sys::pipe::set_nonblocking(fd, true).unwrap();
    }
    let mut stdin = Some(stdin);
    let mut buf = vec![0u8; MIB];
    let (mut off, mut got) = (0, 0);
    loop {
        if let Some(w) = &stdin {
            while off < data.len() {
                match rustix::io::write(w, &data[off..(off + MIB).min(data.len())]) {
                    Ok(n) => off += n,
                    Err(_) => break,
                }
            }
            if off == data.len() {
                stdin = None;
            }
        }
        match rustix::io::read(&stdout, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                continue;
            }
            Err(_) => {}
        }
        let mut fds = vec![rustix::event::PollFd::new(
            &stdout,
            rustix::event::PollFlags::IN,
        )];
        if let Some(w) = &stdin {
            fds.push(rustix::event::PollFd::new(w, rustix::event::PollFlags::OUT));
        }
        let _ = rustix::event::poll(&mut fds, None);
    }
    child.wait().unwrap();
    got
}

/// The physical limit of reading one way: a blocking read loop into one
/// 1 MiB buffer, 1 MiB pipe.
fn raw_oneway(n: &str) -> usize {
    let mut child = std::process::Command::new("head")
        .args(["-c", n, "/dev/zero"])
        .stdout(StdStdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _ = spawn_sys::pipe::set_pipe_size(&stdout, MIB);
    let mut buf = vec![0u8; MIB];
    let mut got = 0;
    loop {
        match rustix::io::read(&stdout, &mut buf) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("{e}"),
        }
    }
    child.wait().unwrap();
    got
}

/// A hand-written single-threaded poll loop over many children, collecting.
fn raw_many(n: usize) -> usize {
    let mut kids: Vec<_> = (0..n)
        .map(|_| {
            let mut c = std::process::Command::new("head")
                .args(["-c", "1048576", "/dev/zero"])
                .stdout(StdStdio::piped())
                .spawn()
                .unwrap();
            let out = c.stdout.take().unwrap();
            spawn_sys::pipe::set_nonblocking(&out, true).unwrap();
            (c, Some(out), Vec::with_capacity(MIB))
        })
        .collect();
    let mut open = n;
    let mut buf = vec![0u8; 256 << 10];
    while open > 0 {
        let mut fds: Vec<_> = kids
            .iter()
            .filter_map(|(_, o, _)| {
                o.as_ref()
                    .map(|o| rustix::event::PollFd::new(o, rustix::event::PollFlags::IN))
            })
            .collect();
        let _ = rustix::event::poll(&mut fds, None);
        drop(fds);
        for (_, o, v) in &mut kids {
            let Some(fd) = o else { continue };
            loop {
                match rustix::io::read(&*fd, &mut buf) {
                    Ok(0) => {
                        *o = None;
                        open -= 1;
                        break;
                    }
                    Ok(k) => v.extend_from_slice(&buf[..k]),
                    Err(_) => break,
                }
            }
        }
    }
    kids.iter_mut()
        .map(|(c, _, v)| {
            c.wait().unwrap();
            v.len()
        })
        .sum()
}

/// Runs `--one` in a fresh process of this binary (or Python's script).
fn measure(bench: &str, who: &str, size: usize) -> Sample {
    if who == "python" {
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
        return Sample {
            secs: get("secs="),
            hwm_kib: get("hwm_kib=") as u64,
            ..Sample::default()
        };
    }
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    who: String,
    samples: Vec<Sample>,
}

impl Row {
    fn med(&self) -> f64 {
        median(self.samples.iter().map(|s| s.secs).collect())
    }
    fn hwm(&self) -> u64 {
        self.samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0)
    }
    /// The largest growth of the peak over the process's RSS before the
    /// measured part (its binary, libraries and allocator: not output).
    fn growth(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| s.hwm_kib.saturating_sub(s.base_kib))
            .max()
            .unwrap_or(0)
    }
}

/// Alternates the contenders over `rounds` counted rounds after a warm-up.
fn run(bench: &str, who: &[&str], size: usize, rounds: usize) -> Vec<Row> {
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
fn run_once(bench: &str, who: &[&str], size: usize) -> Vec<Row> {
    who.iter()
        .map(|w| Row {
            who: (*w).to_owned(),
            samples: vec![measure(bench, w, size)],
        })
        .collect()
}

fn fmt_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.3} s")
    }
}

/// Prints a table; `per` is the unit of a sample ("per spawn", "run").
fn table(title: &str, rows: &[Row], base: &str, limit: Option<&str>, bytes: Option<usize>) {
    println!("\n### {title}\n");
    let b = rows
        .iter()
        .find(|r| r.who == base)
        .map_or(f64::NAN, Row::med);
    let l = limit
        .and_then(|l| rows.iter().find(|r| r.who == l))
        .map(Row::med);
    print!("| contender | min | median | max | vs {base} |");
    if l.is_some() {
        print!(" vs raw limit |");
    }
    if bytes.is_some() {
        print!(" GB/s |");
    }
    println!(" peak RSS |");
    print!("|---|---|---|---|---|");
    if l.is_some() {
        print!("---|");
    }
    if bytes.is_some() {
        print!("---|");
    }
    println!("---|");
    for r in rows {
        let mut v: Vec<f64> = r.samples.iter().map(|s| s.secs).collect();
        v.sort_by(f64::total_cmp);
        let m = r.med();
        print!(
            "| {} | {} | {} | {} | {:.3}× |",
            r.who,
            fmt_secs(v[0]),
            fmt_secs(m),
            fmt_secs(v[v.len() - 1]),
            m / b
        );
        if let Some(l) = l {
            print!(" {:.2}× speed |", l / m);
        }
        if let Some(n) = bytes {
            print!(" {:.2} |", n as f64 / m / 1e9);
        }
        println!(" {:.1} MiB |", r.hwm() as f64 / 1024.0);
    }
}

fn med_of(rows: &[Row], who: &str) -> f64 {
    rows.iter()
        .find(|r| r.who == who)
        .map_or(f64::NAN, Row::med)
}

fn target(what: &str, ok: bool, detail: impl std::fmt::Display) {
    println!(
        "- {} {what}: {detail}",
        if ok { "**MET**" } else { "**MISSED**" }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one") {
        let s = one(&args[i + 1], &args[i + 2], args[i + 3].parse().unwrap());
        println!(
            "{} {} {} {} {}",
            s.secs, s.hwm_kib, s.self_cpu, s.child_cpu, s.base_kib
        );
        return;
    }
    let smoke = args.iter().any(|a| a == "--smoke")
        || std::env::var_os("SPAWN_BENCH_SMOKE").is_some_and(|v| v != "0");
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
        let small = run("spawn_true", &peers, n, rounds);
        table(
            &format!("small parent ({n} spawns per sample, time per spawn)"),
            &small,
            "std",
            None,
            None,
        );
        let r_small = med_of(&small, "spawn") / med_of(&small, "std");
        target(
            "spawn ≤ 1.00× std (small parent)",
            r_small <= 1.0,
            format!("{r_small:.3}×"),
        );
        if !smoke {
            for (b, label) in [("spawn_true_2g", "2 GiB"), ("spawn_true_8g", "8 GiB")] {
                let rows = run(b, &["spawn", "std", "subprocess", "duct"], n, rounds);
                table(
                    &format!("parent with {label} of touched heap"),
                    &rows,
                    "std",
                    None,
                    None,
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
                ],
                size,
                rounds,
            );
            table(
                &format!("{} MiB", size / MIB),
                &rows,
                "std",
                Some("raw"),
                Some(size),
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
            ],
            size,
            rounds,
        );
        table(
            &format!("{} MiB", size / MIB),
            &rows,
            "std",
            Some("raw"),
            Some(size),
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
                if smoke { 1 } else { 5 },
            );
            table(
                &format!("{n} children"),
                &rows,
                "std-seq",
                Some("raw-poll"),
                Some(n * MIB),
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
            target(
                &format!("{n}: ≤ 0.75× sequential std output()"),
                vs_seq <= 0.75,
                format!("{vs_seq:.2}×"),
            );
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
            "std",
            None,
            Some(size),
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
            "std-seq",
            Some("raw-poll"),
            Some(n * MIB),
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
                "spawn",
                None,
                None,
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
        let rows = run_once("true_many", &["spawn", "xargs"], n);
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

    let _ = Duration::ZERO;
}
