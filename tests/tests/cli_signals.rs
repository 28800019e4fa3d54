//! The `spawn` CLI stopped by signals, as a terminal's Ctrl-C or `kill`
//! would: every subcommand passes INT, TERM and HUP on to its children
//! and exits after them with 128+N, leaving none alive; `spawn many`
//! starts no queued job after the first.

use std::time::Duration;

use spawn_tests::{cli_command, gone_soon};

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
    signals_when_ready(&[signal], args)
}

/// As [`signal_when_ready`], with the signals sent one after the other.
fn signals_when_ready(signals: &[&str], args: &[&str]) -> (std::process::ExitStatus, String) {
    let signal = signals.join(",");
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
    for signal in signals {
        let kill = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success());
    }
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
        ":::",
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
            ":::",
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
                ":::",
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

/// A Python program that says `got-<SIGNAL>` for each INT, TERM or HUP it
/// gets (and goes on), says `ready`, then reads the FIFO `argv[1]` (when
/// given) and says `survived`; without one it waits for signals forever.
const SIGNAL_REPORTER: &str = r#"
import os, signal, sys
def said(n, _):
    print("got-" + signal.Signals(n).name, flush=True)
    if len(sys.argv) < 2:
        os._exit(0)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, said)
print("ready", flush=True)
if len(sys.argv) < 2:
    while True:
        signal.pause()
with open(sys.argv[1]) as f:
    f.read()
print("survived", flush=True)
"#;

/// A directory with the reporter script and a FIFO, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("spawn-sig-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("reporter.py"), SIGNAL_REPORTER).expect("script");
        let ok = std::process::Command::new("mkfifo")
            .arg(dir.join("go"))
            .status()
            .expect("mkfifo");
        assert!(ok.success());
        Scratch(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The CLI with its stdout read line by line on a thread.
struct Watched {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Watched {
    fn start(args: &[&str]) -> Watched {
        use std::io::BufRead;
        let mut child = cli_command(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start spawn");
        let mut err = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        let out = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Reads lines until one is `want` (fails after 10 s, or at the end).
    fn until(&mut self, want: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == want;
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("no {want:?} line ({e}); saw {:?}", self.seen);
                }
            }
        }
    }

    /// [`until`](Self::until), unless `want` was seen already.
    fn seen_or_until(&mut self, want: &str) {
        if !self.seen.iter().any(|l| l == want) {
            self.until(want);
        }
    }

    fn signal(&self, sig: &str) {
        let kill = std::process::Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success());
    }

    /// Waits (at most 10 s) for the CLI to end; its status and the lines
    /// it printed since the last [`until`](Self::until).
    fn end(self) -> (std::process::ExitStatus, Vec<String>) {
        let (status, rest, _) = self.end_with_stderr();
        (status, rest)
    }

    /// [`end`](Self::end), and all the CLI wrote on stderr.
    fn end_with_stderr(mut self) -> (std::process::ExitStatus, Vec<String>, String) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("spawn did not end within 10 s; saw {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let rest = self.lines.iter().collect();
        (status, rest, self.stderr.join().expect("stderr"))
    }
}

/// Writes a line into `fifo` (blocks until a reader opens it).
fn release(fifo: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(fifo)
        .expect("open fifo");
    f.write_all(b"go\n").expect("write fifo");
}

/// A first Ctrl-C on `spawn many` is passed on to the running job and
/// stops launching, but lets the running job finish as the signal makes it
/// (here it goes on and says `survived`; before, it was stopped with TERM
/// at once); no queued job starts when it ends; the exit code is 130.
#[test]
fn many_first_ctrl_c_lets_running_jobs_finish() {
    let dir = Scratch::new("first-int");
    let job = format!("python3 {} {}", dir.path("reporter.py"), dir.path("go"));
    let mut cli = Watched::start(&[
        "many",
        "--line-buffer",
        "-j",
        "1",
        "--",
        ":::",
        &job,
        "echo queued-1",
        "echo queued-2",
    ]);
    cli.until("ready");
    cli.signal("INT");
    // The job got the INT: the run stopped launching before passing it on.
    cli.until("got-SIGINT");
    release(&dir.path("go"));
    let (status, rest) = cli.end();
    assert_eq!(status.code(), Some(130), "{status:?} {rest:?}");
    assert_eq!(rest, ["survived"], "{status:?}");
}

/// A job that Ctrl-C (passed on to it) ends is counted as stopped, not
/// failed, and not named as a failure: the run's stop ended it.
#[test]
fn many_jobs_ended_by_ctrl_c_are_stopped_not_failed() {
    let sleep = format!("sleep 30.{:07}9", std::process::id());
    let job = format!("sh -c 'echo ready; exec {sleep}'");
    // The second job has ended before the Ctrl-C: it is not stopped. Its
    // line is not enough (a loaded machine may not have run its exit yet,
    // and the INT passed on would end it): its joblog line is, written once
    // the run has its result.
    let dir = Scratch::new("stopped-not-failed");
    let joblog = dir.path("joblog");
    let mut cli = Watched::start(&[
        "many",
        "--line-buffer",
        "--joblog",
        &joblog,
        "-j",
        "2",
        "--",
        ":::",
        &job,
        "echo second-done",
    ]);
    cli.seen_or_until("ready");
    cli.seen_or_until("second-done");
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&joblog).is_ok_and(|l| l.contains("echo second-done")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no joblog line for the second job"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cli.signal("INT");
    let (status, rest, stderr) = cli.end_with_stderr();
    assert_eq!(status.code(), Some(130), "{status:?} {rest:?} {stderr}");
    assert!(
        processes_with(&sleep).is_empty(),
        "the job outlived spawn many"
    );
    assert!(
        stderr.contains("0 failed, 1 stopped; stopped by SIGINT"),
        "{stderr}"
    );
    assert!(!stderr.contains("killed by signal"), "{stderr}");
}

/// A second Ctrl-C stops the running jobs (the stop signal, the grace,
/// KILL) that the first let run; exit 130, no queued job started.
#[test]
fn many_second_ctrl_c_stops_running_jobs() {
    let dir = Scratch::new("second-int");
    let job = format!("python3 {} {}", dir.path("reporter.py"), dir.path("go"));
    let mut cli = Watched::start(&[
        "many",
        "--line-buffer",
        "-j",
        "1",
        "--",
        ":::",
        &job,
        "echo queued-1",
    ]);
    cli.until("ready");
    cli.signal("INT");
    cli.until("got-SIGINT");
    cli.signal("INT");
    // The stop signal (TERM) reaches it: it says so and goes on; KILL ends
    // it after the grace.
    cli.until("got-SIGTERM");
    let token = dir.path("go");
    let (status, rest) = cli.end();
    assert_eq!(status.code(), Some(130), "{status:?} {rest:?}");
    assert!(
        rest.iter()
            .all(|l| l != "survived" && !l.contains("queued")),
        "{rest:?}"
    );
    assert!(
        processes_with(&token).is_empty(),
        "the job outlived spawn many"
    );
}

/// `spawn pipe` passes INT, TERM and HUP on to the stages as they are (as
/// `run` does; before, every stage got TERM whatever came) and exits
/// 128+N.
#[test]
fn pipe_passes_the_exact_signal_to_its_stages() {
    for (sig, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let (status, rest) = signal_when_ready(
            sig,
            &["pipe", "--", "true", "::", "python3", "-c", SIGNAL_REPORTER],
        );
        assert_eq!(status.code(), Some(code), "{sig}: {status:?}");
        assert_eq!(rest.trim(), format!("got-SIG{sig}"), "{sig}");
    }
}

/// TERM to `spawn run` without a timeout ends what its child started too:
/// the `sleep` that `sh` runs (issue 27).
#[test]
fn run_term_stops_the_childs_children() {
    let (status, _) = signal_when_ready(
        "TERM",
        &["run", "--", "sh", "-c", "echo ready; {sleep}; true"],
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
}

/// A second signal to `spawn many` (the first one ignored by the jobs)
/// stops the jobs' process groups: the `sleep` each `sh` runs too, not only
/// the `sh` (issue 27).
#[test]
fn many_second_signal_stops_the_jobs_groups() {
    let (status, _) = signals_when_ready(
        &["INT", "TERM"],
        &[
            "many",
            "--line-buffer",
            "--",
            ":::",
            "sh -c 'trap \"\" INT; echo ready; {sleep}; true'",
        ],
    );
    assert!(status.code().is_some_and(|c| c > 128), "{status:?}");
}

/// `--halt now,fail=1` stops the running jobs and what they started.
#[test]
fn many_halt_now_stops_the_jobs_children() {
    let file = pid_file();
    let script = format!(
        "if [ {{}} = 1 ]; then sleep 65 & echo $! > {f}.tmp; mv {f}.tmp {f}; wait; true; \
         else until [ -s {f} ]; do :; done; exit 1; fi",
        f = file.display()
    );
    let out = spawn_tests::cli([
        "many",
        "-j",
        "2",
        "--halt",
        "now,fail=1",
        "--",
        &script,
        ":::",
        "1",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let pid: u32 = std::fs::read_to_string(&file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(gone_soon(pid), "sleep {pid} outlived spawn many --halt now");
}

/// `spawn many ... | head -c 10`: the closed stdout stops the jobs and
/// what they started.
#[test]
fn many_stopped_by_a_closed_stdout_stops_the_jobs_children() {
    let file = pid_file();
    let script = format!(
        "sleep 65 & echo $! > {f}.tmp; mv {f}.tmp {f}; yes | head -c 1000000; wait; true",
        f = file.display()
    );
    let cli = spawn_tests::spawn_cli().display().to_string();
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "\"$0\" many --line-buffer -- ::: \"$1\" | head -c 10 >/dev/null",
            &cli,
            &script,
        ])
        .status()
        .expect("sh");
    assert!(status.success(), "{status:?}");
    let pid: u32 = std::fs::read_to_string(&file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(gone_soon(pid), "sleep {pid} outlived spawn many | head");
}

/// A fresh path for a job to write a pid into.
fn pid_file() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let f = std::env::temp_dir().join(format!("spawn-cli-stops-{}-{n}", std::process::id()));
    let _ = std::fs::remove_file(&f);
    f
}

/// A run stopped by TERM exits 143 where GNU parallel exits 255: a
/// deliberate difference, which the run names once on stderr (issue 30);
/// a plain run (even a failing one) names none.
#[test]
fn many_stopped_by_term_names_its_difference_from_gnu_parallel_once() {
    let sleep = format!("sleep 30.{:07}8", std::process::id());
    let job = format!("sh -c 'echo ready; exec {sleep}'");
    let mut cli = Watched::start(&["many", "--line-buffer", "--", ":::", &job]);
    cli.seen_or_until("ready");
    cli.signal("TERM");
    let (status, rest, stderr) = cli.end_with_stderr();
    assert_eq!(status.code(), Some(143), "{status:?} {rest:?} {stderr}");
    assert_eq!(stderr.matches("unlike GNU parallel").count(), 1, "{stderr}");
    assert!(
        stderr.contains("stopped by SIGTERM, it exits 143 (GNU parallel: 255)"),
        "{stderr}"
    );
    let plain = spawn_tests::cli(["many", "--", "sh -c 'exit {}'", ":::", "0", "3"]);
    assert_eq!(plain.code(), 1, "{plain:?}");
    assert!(!plain.stderr.contains("GNU parallel"), "{plain:?}");
}
