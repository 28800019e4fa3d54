//! Heavy work: the work an EINTR storm interrupts (a big round trip, a
//! `Group` of many children), the storm that comes from inside (a signal
//! handler installed without `SA_RESTART`, hit every millisecond), and many
//! children streaming through bounded sinks at once.
//!
//! The storm from outside (SIGSTOP/SIGCONT every millisecond, which makes
//! `epoll_wait` fail with `EINTR` without any handler, see signal(7)) is
//! sent by the test itself while this process runs `roundtrip` or `group`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::sync::atomic::AtomicU64;

use spawn::{Command, Group, Sink, Stdio};

use crate::{pattern, sh};

/// Echoes stdin to stdout a chunk (up to 1 MiB) at a time, pausing 2 ms
/// after each: while it pauses, both pipes are idle and the driver is
/// blocked in `epoll_wait`, where a storm interrupts it, however busy the
/// machine is.
const PACED_CAT: &str = "import sys, time
i, o = sys.stdin.buffer, sys.stdout.buffer
while True:
    b = i.read1(1 << 20)
    if not b:
        break
    o.write(b)
    o.flush()
    time.sleep(0.002)
";

/// Round trip of `mib` MiB of pseudo-random bytes through `cat` (or, with
/// `paced`, through [`PACED_CAT`] over 1 MiB pipes): every byte back, in
/// order.
pub fn roundtrip(mib: usize, paced: bool) -> String {
    let input = pattern(mib << 20, 0x5eed);
    let start = Instant::now();
    let cmd = if paced {
        Command::new("python3")
            .args(["-c", PACED_CAT])
            .pipe_capacity(1 << 20)
    } else {
        Command::new("cat")
    };
    let out = cmd
        .input(input.clone())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .timeout(Duration::from_secs(300))
        .run()
        .expect("the round trip runs");
    assert!(out.status.success(), "{}", out.status);
    assert_eq!(out.report.stdin_bytes, input.len() as u64);
    assert_eq!(out.report.stdout_bytes, input.len() as u64);
    if out.stdout != input {
        let at = out.stdout.iter().zip(&input).position(|(a, b)| a != b);
        panic!(
            "round trip differs: {} bytes back of {}, first difference at {at:?}",
            out.stdout.len(),
            input.len()
        );
    }
    format!(
        "{mib} MiB through {} intact in {:.2}s",
        if paced { "a paced cat" } else { "cat" },
        start.elapsed().as_secs_f64()
    )
}

/// A `Group` of `n` children, 16 at a time, each fed 1 MiB of its own bytes,
/// echoing them, pausing a little (so that the driver also spends time
/// blocked in `epoll_wait`, where a storm interrupts it), writing a line to
/// stderr and exiting with its own code.
pub fn group(n: usize) -> String {
    let start = Instant::now();
    let cmds = (0..n).map(|i| {
        sh(
            "cat; sleep 0.1; echo \"err $1\" >&2; exit $(($1 % 5))",
            &[&i.to_string()],
        )
        .input(pattern(1 << 20, i as u64 + 1))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .timeout(Duration::from_secs(300))
    });
    let results = Group::new()
        .max_running(16)
        .add_all(cmds)
        .run()
        .expect("the group runs");
    assert_eq!(results.len(), n);
    for (i, r) in results.into_iter().enumerate() {
        let out = r.unwrap_or_else(|e| panic!("child {i}: {e}"));
        assert_eq!(out.status.code(), Some((i % 5) as i32), "child {i}");
        assert!(
            out.stdout == pattern(1 << 20, i as u64 + 1),
            "child {i}: stdout differs ({} bytes)",
            out.stdout.len()
        );
        assert_eq!(out.stderr, format!("err {i}\n").as_bytes(), "child {i}");
    }
    format!(
        "{n} children, 1 MiB each way, intact in {:.2}s",
        start.elapsed().as_secs_f64()
    )
}

/// Runs `roundtrip` or `group` (named in `rest`) while a thread sends
/// SIGUSR1 to this process every millisecond, caught by a handler installed
/// without `SA_RESTART`; the sending thread blocks the signal, so it lands on
/// the main thread, the one driving the children.
pub fn handler_storm(rest: &[String]) -> String {
    let count = spawn_sys::signal::count_signal_without_restart(libc::SIGUSR1)
        .expect("the handler is installed");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = Arc::clone(&stop);
    let sender = std::thread::spawn(move || {
        spawn_sys::signal::block_signals(&[libc::SIGUSR1]).expect("block SIGUSR1 here");
        let me = spawn_sys::Pid::from_raw(std::process::id() as i32).expect("our pid");
        let mut sent = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            spawn_sys::signal::signal_process(me, libc::SIGUSR1).expect("kill(getpid())");
            sent += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        sent
    });
    let what = match rest.first().map(String::as_str) {
        Some("group") => group(50),
        _ => roundtrip(256, false),
    };
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().expect("the sender");
    let caught = count.load(Ordering::Relaxed);
    assert!(
        caught >= 50,
        "only {caught} signals caught ({sent} sent): the storm did not happen"
    );
    format!("{what}; {caught} signals caught of {sent} sent")
}

/// Eight children at once, 64 MiB each, through the bounded sinks: every
/// byte counted, each sink keeps at most its bound, and the peak resident
/// set of this process grows by far less than the 512 MiB that went
/// through.
pub fn bounded_memory() -> String {
    const EACH: u64 = 64 << 20;
    let hwm_kib = || {
        crate::procfs::status_field("VmHWM")
            .and_then(|v| v.trim_end_matches(" kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
    };
    let (in_lines, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (c1, c2) = (Arc::clone(&in_lines), Arc::clone(&written));
    // Lines come without their newline; the last one has none.
    let lines = Sink::lines(move |l: &[u8]| {
        c1.fetch_add(l.len() as u64, Ordering::Relaxed);
    });
    struct Count(Arc<AtomicU64>);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sinks: Vec<(Sink, usize)> = vec![
        (Sink::head_tail(64 << 10, 64 << 10), 128 << 10),
        (Sink::collect_limit(1 << 20), 1 << 20),
        (Sink::discard(), 0),
        (lines, 0),
        (Sink::writer(Count(c2)), 0),
        (Sink::file("/dev/null"), 0),
        (
            Sink::tee(Sink::head_tail(4096, 4096), Sink::discard()),
            8192,
        ),
        (Sink::head_tail(0, 0), 0),
    ];
    let before = crate::procfs::rss_kib();
    let start = Instant::now();
    let bounds: Vec<usize> = sinks.iter().map(|(_, b)| *b).collect();
    let results = Group::new()
        .add_all(sinks.into_iter().map(|(sink, _)| {
            Command::new("sh")
                .args(["-c", "yes 0123456789abcdef | head -c \"$1\"", "sh"])
                .arg(EACH.to_string())
                .stdout(sink)
        }))
        .run()
        .expect("the group runs");
    for (i, (r, bound)) in results.into_iter().zip(bounds).enumerate() {
        let out = r.unwrap_or_else(|e| panic!("child {i}: {e}"));
        assert!(out.status.success(), "child {i}: {}", out.status);
        assert_eq!(out.report.stdout_bytes, EACH, "child {i}");
        assert!(
            out.stdout.len() <= bound,
            "child {i} kept {} > {bound}",
            out.stdout.len()
        );
    }
    assert_eq!(in_lines.load(Ordering::Relaxed), EACH - EACH / 17, "lines");
    assert_eq!(written.load(Ordering::Relaxed), EACH, "writer");
    let grown = hwm_kib().saturating_sub(before);
    assert!(
        grown < 48 << 10,
        "peak RSS grew by {grown} KiB for 512 MiB of output"
    );
    format!(
        "512 MiB through 8 bounded sinks in {:.2}s; peak RSS grew {grown} KiB",
        start.elapsed().as_secs_f64()
    )
}
