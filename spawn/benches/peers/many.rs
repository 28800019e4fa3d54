//! Benchmarks 4, 6 and 7's workloads: many children through one `Group`
//! (1 or 16 MiB each, every output kept; by `max_running` width; many small
//! `echo`s; many `/bin/true` against `xargs -P 8`), and the hand-written
//! single-threaded poll loop over all their pipes (`raw-poll`); and
//! benchmark 8's: a `Group` with one slow writer sink.

use std::io::Write;
use std::process::Stdio as StdStdio;
use std::time::Instant;

use spawn::{Command, Group, Sink, Stdio};

use crate::MIB;

/// What `std::process::Command::output()` collects of `head -c EACH
/// /dev/zero`: the std contenders' one child.
fn std_head(each: &str) -> Vec<u8> {
    std::process::Command::new("head")
        .args(["-c", each, "/dev/zero"])
        .output()
        .unwrap()
        .stdout
}

/// `bench` is `many` (1 MiB per child) or `many16` (16 MiB); `n` children
/// of `head -c EACH /dev/zero` by `who`; returns the seconds.
pub fn many(bench: &str, who: &str, n: usize) -> f64 {
    // Every contender keeps every output, as Group returns them all
    // (spawn-bounded keeps 8 KiB of each).
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
            let outs: Vec<Vec<u8>> = (0..n).map(|_| std_head(&each_s)).collect();
            outs.iter().map(Vec::len).sum()
        }
        "std-threads" => {
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let each_s = each_s.clone();
                    std::thread::spawn(move || std_head(&each_s))
                })
                .collect();
            let outs: Vec<Vec<u8>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            outs.iter().map(Vec::len).sum()
        }
        "raw-poll" => raw_many(n),
        _ => unreachable!(),
    };
    assert_eq!(total, n * each);
    t.elapsed().as_secs_f64()
}

/// `n` children × 1 MiB through one Group with `max_running(W)` (`who` is
/// `spawn-wW`), or `std-seq` / `raw-poll`; returns the seconds.
pub fn width(who: &str, n: usize) -> f64 {
    let cmd = || Command::new("head").args(["-c", "1048576", "/dev/zero"]);
    let t = Instant::now();
    let total: usize = match who {
        "std-seq" => (0..n)
            .map(|_| std_head("1048576"))
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
    t.elapsed().as_secs_f64()
}

/// `size` children `sh -c 'echo $1' sh i` with the default settings; every
/// one must come back with its own line. Returns the seconds.
pub fn echo_group(size: usize) -> f64 {
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
    secs
}

/// `size` × /bin/true: one Group (`spawn`) or `xargs -P 8 -n 1`; returns
/// the seconds.
pub fn true_many(who: &str, size: usize) -> f64 {
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
    t.elapsed().as_secs_f64()
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

/// A writer that takes 10 ms per write (a slow consumer: a remote log, a
/// throttled socket).
struct SlowWriter;

impl Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(std::time::Duration::from_millis(10));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A `Group` of `n` children × 1 MiB collected, the first of which writes
/// 4 MiB into a writer sink: `slow` (10 ms per write) or `fast` (no
/// delay). Returns the seconds until the other `n - 1` results are all in.
pub fn slow_sink(who: &str, n: usize) -> f64 {
    let first = Command::new("head").args(["-c", "4194304", "/dev/zero"]);
    let first = match who {
        "slow" => first.stdout(Sink::writer(SlowWriter)),
        _ => first.stdout(Sink::writer(std::io::sink())),
    };
    let t = Instant::now();
    let mut others = 0;
    let mut secs = 0.0;
    let group = Group::new().add(first).add_all((1..n).map(|_| {
        Command::new("head")
            .args(["-c", "1048576", "/dev/zero"])
            .stdout(Stdio::piped())
    }));
    for (ix, r) in group.results() {
        let out = r.unwrap();
        if ix == 0 {
            continue;
        }
        assert_eq!(out.stdout.len(), MIB);
        others += 1;
        if others == n - 1 {
            secs = t.elapsed().as_secs_f64();
        }
    }
    secs
}
