//! The `spawn` CLI stopped by signals, as a terminal's Ctrl-C or `kill`
//! would: every subcommand passes INT, TERM and HUP on to its children
//! and exits after them with 128+N, leaving none alive; `spawn many`
//! starts no queued job after the first.

use std::time::Duration;

use spawn_tests::cli_command;

/// The pids of the processes whose command line contains `token`.
fn processes_with(token: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        cmdline.contains(token).then_some(pid)
    })
    .collect()
}

/// Starts the CLI with `args`, in which `{sleep}` stands for a `sleep` of 30
/// seconds that no other process runs, waits for a line of its stdout that
/// says `ready` (a child saying so), sends `signal` to the CLI alone (as a
/// terminal's Ctrl-C would reach it, since its children run in process
/// groups of their own), and returns how the CLI ended and the rest of its
/// stdout. Fails if the CLI or any of the `sleep`s is alive 10 s later (and
/// then kills them).
fn signal_when_ready(signal: &str, args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    const LIMIT: Duration = Duration::from_secs(10);
    // A duration no other test uses, to find our sleeps by their command line.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sleep = format!("sleep 30.{:07}{call}", std::process::id());
    let args: Vec<String> = args.iter().map(|a| a.replace("{sleep}", &sleep)).collect();
    let mut child = cli_command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start spawn");
    let start = std::time::Instant::now();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        let n = stdout.read_line(&mut line).expect("read ready");
        assert!(n > 0, "spawn {args:?} ended before a child said ready");
    }
    let kill = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spawn {args:?} did not end 10 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let survivors = loop {
        let left = processes_with(&sleep);
        if left.is_empty() || start.elapsed() > LIMIT {
            break left;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    for pid in &survivors {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
    assert!(
        survivors.is_empty(),
        "children of spawn {args:?} outlived it after SIG{signal} (spawn: {status:?})"
    );
    (status, rest)
}

fn interrupt_when_ready(args: &[&str]) -> std::process::ExitStatus {
    signal_when_ready("INT", args).0
}

/// Ctrl-C on `spawn run` reaches the child (here `sleep`, in a process
/// group of its own because of `--timeout`), and `spawn` exits after it,
/// with 128 + SIGINT.
#[test]
fn run_forwards_sigint_to_the_child() {
    let status = interrupt_when_ready(&[
        "run",
        "--timeout",
        "60",
        "--",
        "sh",
        "-c",
        "echo ready; exec {sleep}",
    ]);
    assert_eq!(status.code(), Some(130), "{status:?}");
}

/// Ctrl-C on `spawn many` reaches every child, and `spawn` exits after them,
/// with 130.
#[test]
fn many_forwards_sigint_to_the_children() {
    let status = interrupt_when_ready(&[
        "many",
        "--line-buffer",
        "-j",
        "3",
        "--timeout",
        "60",
        "--",
        "sh -c 'echo ready; exec {sleep}'",
        "{sleep}",
        "{sleep}",
    ]);
    assert_eq!(status.code(), Some(130), "{status:?}");
}

/// Ctrl-C on `spawn many` with jobs queued behind the running ones: exit
/// 130, and none of the queued jobs ever starts (they would print).
#[test]
fn many_ctrl_c_starts_no_queued_job() {
    let (status, rest) = signal_when_ready(
        "INT",
        &[
            "many",
            "--line-buffer",
            "-j",
            "2",
            "--",
            "sh -c 'echo ready; exec {sleep}'",
            "{sleep}",
            "echo queued-1-ran",
            "echo queued-2-ran",
            "echo queued-3-ran",
            "echo queued-4-ran",
        ],
    );
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        !rest.contains("queued"),
        "a queued job ran after Ctrl-C: {rest:?}"
    );
}

/// TERM and HUP stop `spawn many` too, with 128+N.
#[test]
fn many_term_and_hup_exit_128_plus_n() {
    for (sig, code) in [("TERM", 143), ("HUP", 129)] {
        let (status, _) = signal_when_ready(
            sig,
            &[
                "many",
                "--line-buffer",
                "--",
                "sh -c 'echo ready; exec {sleep}'",
            ],
        );
        assert_eq!(status.code(), Some(code), "{sig}: {status:?}");
    }
}

/// `spawn pipe` stops every stage on INT, TERM or HUP and exits 128+N (it
/// ignored them before: the stages ran on).
#[test]
fn pipe_stops_its_stages_on_signals() {
    for (sig, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let (status, _) = signal_when_ready(
            sig,
            &[
                "pipe",
                "--",
                "sh",
                "-c",
                "echo ready; exec {sleep}",
                "::",
                "cat",
            ],
        );
        assert_eq!(status.code(), Some(code), "{sig}: {status:?}");
    }
}

/// `spawn trace` forwards INT and TERM to the child like `run` (it ignored
/// them before); `--data` shows the child saying `ready`.
#[test]
fn trace_forwards_signals_to_the_child() {
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let (status, _) = signal_when_ready(
            sig,
            &[
                "trace",
                "--data",
                "--",
                "sh",
                "-c",
                "echo ready; exec {sleep}",
            ],
        );
        assert_eq!(status.code(), Some(code), "{sig}: {status:?}");
    }
}
