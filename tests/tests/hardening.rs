//! Hardening: spawn against faults, hostile environments and bad input, with
//! real processes. Each test is one case of issue 7; `GUARANTEES.md` names
//! the test behind each promise.
//!
//! Cases that change the whole process (a lowered fd limit, a thread that
//! reaps every child, `SIGCHLD` ignored, fds 0/1/2 taken over, a signal
//! storm, pidfds off, a pid reused) run in a process of their own: the
//! `spawn-hostile` helper (`tests/src/bin/spawn-hostile`), started here with
//! its hostile set-up, which checks the results itself and says `ok`. The
//! other cases run here.
//!
//! Each case first failed (as an `#[ignore = "bug: …"]` test) and passes
//! since the fix it needed: see GUARANTEES.md.

#[path = "../src/procfs.rs"]
mod procfs;

/// The cases that need no process of their own.
#[path = "hardening/inproc.rs"]
mod inproc;

use std::io::Read as _;
use std::process::{Command as StdCommand, Stdio as StdStdio};
use std::time::{Duration, Instant};

/// The hostile helper binary.
const HOSTILE: &str = env!("CARGO_BIN_EXE_spawn-hostile");

/// Exit status of a helper scenario that could not set up its hostile state.
const SKIP: i32 = 77;

/// What one run of the helper did.
struct Hostile {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Hostile {
    /// Asserts the scenario passed and returns its lines (the first is
    /// `ok <scenario>: …`).
    fn ok(&self, scenario: &str) -> Vec<String> {
        assert_eq!(
            self.code,
            Some(0),
            "spawn-hostile {scenario} failed:\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<String> = self.stdout.lines().map(str::to_owned).collect();
        assert!(
            lines
                .first()
                .is_some_and(|l| l.starts_with(&format!("ok {scenario}:"))),
            "spawn-hostile {scenario} said: {}",
            self.stdout
        );
        eprintln!("{}", lines[0]);
        lines
    }
}

/// Runs `cmd` (the helper, or a wrapper that execs it) to its end, calling
/// `during(pid)` until it exits (the storm); kills it and fails after
/// `limit`.
fn run_hostile(mut cmd: StdCommand, limit: Duration, mut during: impl FnMut(u32)) -> Hostile {
    cmd.stdin(StdStdio::null())
        .stdout(StdStdio::piped())
        .stderr(StdStdio::piped());
    let mut child = cmd.spawn().expect("the helper starts");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the helper") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {limit:?}: a hang");
        }
        during(child.id());
        std::thread::sleep(Duration::from_millis(1));
    };
    Hostile {
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn helper(args: &[&str]) -> StdCommand {
    let mut cmd = StdCommand::new(HOSTILE);
    cmd.args(args);
    cmd
}

/// Runs a helper scenario (no storm) and asserts it passed.
fn scenario(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = helper(args);
    cmd.envs(env.iter().copied());
    run_hostile(cmd, Duration::from_secs(240), |_| {}).ok(args[0])
}

/// The same, under a parent that ignores `SIGCHLD` and execs the helper (an
/// ignored disposition survives `exec`).
fn with_sigchld_ignored(args: &[&str]) -> Hostile {
    let mut cmd = StdCommand::new("python3");
    cmd.args([
        "-c",
        "import os, signal, sys\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)\nos.execv(sys.argv[1], sys.argv[1:])",
        HOSTILE,
    ])
    .args(args);
    run_hostile(cmd, Duration::from_secs(240), |_| {})
}

/// The same, in a session of its own (python3 calls `setsid` and execs the
/// helper), so that signalling "the caller's group" by mistake reaches the
/// helper alone.
fn in_own_session(args: &[&str]) -> Hostile {
    let mut cmd = StdCommand::new("python3");
    cmd.args([
        "-c",
        "import os, sys\nos.setsid()\nos.execv(sys.argv[1], sys.argv[1:])",
        HOSTILE,
    ])
    .args(args);
    run_hostile(cmd, Duration::from_secs(240), |_| {})
}

/// A group spawn did not create is never torn down: `process_group(own
/// pgid)` with `kill_group` is `InvalidInput`, and a timeout stops the
/// child and its descendants, never the caller (issues 12, 27).
#[test]
fn the_callers_own_group_is_never_signalled() {
    in_own_session(&["own-group"]).ok("own-group");
}

/// `parent_death_signal(KILL)`: the helper starts `sleep 60` with it and is
/// killed; the sleep must die with it (issue 15).
#[test]
fn a_child_gets_its_death_signal_when_its_parent_dies() {
    let mut helper = StdCommand::new(HOSTILE)
        .arg("death-signal")
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .stderr(StdStdio::inherit())
        .spawn()
        .expect("the helper starts");
    let mut out = std::io::BufReader::new(helper.stdout.take().expect("piped"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).expect("the helper says the pid");
    let pid: u32 = line
        .trim()
        .strip_prefix("ok death-signal: ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("helper said {line:?}"));
    assert!(procfs_alive(pid), "sleep {pid} runs");
    helper.kill().expect("kill the helper");
    helper.wait().expect("reap the helper");
    let start = Instant::now();
    while procfs_alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "sleep {pid} outlived its parent"
        );
        std::thread::yield_now();
    }
}

/// Whether `pid` runs (not a zombie).
fn procfs_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| !matches!(state, "Z" | "X"))
    })
}

/// `Containment::Cgroup` without the right to make a cgroup is a clear
/// error before anything starts (issue 15).
#[test]
fn cgroup_containment_without_rights_is_a_clear_error() {
    let ran = run_hostile(helper(&["cgroup-denied"]), Duration::from_secs(60), |_| {});
    if ran.code == Some(SKIP) {
        eprintln!("skipped: {}", ran.stdout.trim());
        return;
    }
    let lines = ran.ok("cgroup-denied");
    assert!(
        lines[0].contains("cannot contain the child in a cgroup"),
        "{}",
        lines[0]
    );
}

/// `Containment::Cgroup` names its cgroup `spawn-<pid>-<n>`; a name taken
/// (by a process with our pid in another pid namespace, or one SIGKILLed
/// mid-run) makes it take the next, a bounded number of times (issue 27).
#[test]
fn cgroup_containment_passes_names_already_taken() {
    let ran = run_hostile(
        helper(&["cgroup-name-taken"]),
        Duration::from_secs(60),
        |_| {},
    );
    if ran.code == Some(SKIP) {
        eprintln!("skipped: {}", ran.stdout.trim());
        return;
    }
    ran.ok("cgroup-name-taken");
}

/// Runs `args` while SIGSTOP and SIGCONT hit the helper every millisecond
/// (each stop awaited in `/proc`): on resume, `epoll_wait` fails with `EINTR`
/// even without a signal handler (signal(7)). Returns the stop/continue
/// pairs sent, and how many found the helper blocked in `epoll_wait` (each
/// of those is an `EINTR` for the driver).
fn under_stop_cont_storm(args: &[&str]) -> (usize, usize) {
    let (mut pairs, mut in_epoll) = (0, 0);
    let ran = run_hostile(helper(args), Duration::from_secs(600), |pid| {
        let Some(p) = spawn_sys::Pid::from_raw(pid as i32) else {
            return;
        };
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if spawn_sys::signal::signal_process(p, libc::SIGSTOP).is_err() {
            return;
        }
        let start = Instant::now();
        while !stopped_or_gone(pid) && start.elapsed() < Duration::from_secs(1) {
            std::thread::yield_now();
        }
        let _ = spawn_sys::signal::signal_process(p, libc::SIGCONT);
        pairs += 1;
        // The portable backend waits in poll(2) where Linux's own uses epoll.
        let wait = if spawn_tests::portable_backend() {
            "poll"
        } else {
            "epoll"
        };
        in_epoll += usize::from(wchan.contains(wait));
    });
    ran.ok(args[0]);
    eprintln!("{pairs} stop/continue pairs, {in_epoll} of them in epoll_wait");
    (pairs, in_epoll)
}

fn stopped_or_gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        let state = s
            .rfind(')')
            .and_then(|i| s[i + 1..].trim_start().chars().next());
        matches!(state, Some('T' | 't' | 'Z') | None)
    })
}

// ---------------------------------------------------------------------------
// EINTR storms

#[test]
fn eintr_storm_stop_cont_during_a_256_mib_round_trip() {
    let (pairs, in_epoll) = under_stop_cont_storm(&["roundtrip", "256", "paced"]);
    assert!(pairs >= 100, "only {pairs} stop/continue pairs: no storm");
    assert!(
        in_epoll >= 10,
        "only {in_epoll} stops in epoll_wait: no EINTR to speak of"
    );
}

#[test]
fn eintr_storm_stop_cont_during_a_group_of_50() {
    let (pairs, in_epoll) = under_stop_cont_storm(&["group", "50"]);
    assert!(pairs >= 100, "only {pairs} stop/continue pairs: no storm");
    assert!(
        in_epoll >= 10,
        "only {in_epoll} stops in epoll_wait: no EINTR to speak of"
    );
}

#[test]
fn eintr_storm_handler_without_sa_restart_during_a_256_mib_round_trip() {
    scenario(&["storm-handler", "roundtrip"], &[]);
}

#[test]
fn eintr_storm_handler_without_sa_restart_during_a_group_of_50() {
    scenario(&["storm-handler", "group"], &[]);
}

// ---------------------------------------------------------------------------
// Children reaped behind our back

#[test]
fn children_reaped_by_a_waitpid_any_thread_give_statuses_or_clear_errors() {
    scenario(&["thief"], &[]);
    scenario(&["thief"], &[("SPAWN_NO_PIDFD", "1")]);
}

#[test]
fn sigchld_ignored_gives_clear_errors_and_never_hangs() {
    with_sigchld_ignored(&["sigchld-ignored"]).ok("sigchld-ignored");
}

#[test]
fn sigchld_ignored_keeps_the_output_read_and_says_why() {
    with_sigchld_ignored(&["sigchld-ignored-output"]).ok("sigchld-ignored-output");
}

// ---------------------------------------------------------------------------
// Running out of fds

#[test]
fn fd_limit_at_spawn_is_too_many_open_files_naming_the_program_and_leaks_nothing() {
    scenario(&["nofile-spawn"], &[]);
}

#[test]
fn fd_limit_lowered_mid_group_fails_only_the_children_started_meanwhile() {
    scenario(&["nofile-group"], &[]);
}

#[test]
fn a_group_wider_than_the_fd_limit_waits_for_fds_and_completes_every_child() {
    scenario(&["nofile-wide-group", "2000", "256"], &[]);
}

#[test]
fn a_child_dropped_when_no_fd_is_left_is_still_reaped() {
    scenario(&["nofile-reaper"], &[]);
}

#[test]
fn blocking_runs_make_no_reaper_thread() {
    scenario(&["blocking-runs-make-no-thread"], &[]);
}

#[test]
fn children_dropped_under_a_low_rlimit_nproc_are_reaped() {
    let ran = run_hostile(helper(&["nproc-reaper"]), Duration::from_secs(120), |_| {});
    if ran.code == Some(SKIP) {
        eprintln!("skipped: {}", ran.stdout.trim());
        return;
    }
    ran.ok("nproc-reaper");
}

// ---------------------------------------------------------------------------
// No fd reaches a child unasked

#[test]
fn spawning_from_16_threads_while_fds_churn_leaks_no_fd_into_any_child() {
    scenario(&["threads", "16", "25"], &[]);
}

#[test]
fn parent_with_fds_0_1_2_closed_gives_children_what_was_asked() {
    let report =
        std::env::temp_dir().join(format!("spawn-hardening-{}.report", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let mut cmd = StdCommand::new("sh");
    cmd.args([
        "-c",
        "exec 0<&- 1>&- 2>&-; exec \"$0\" stdio-closed",
        HOSTILE,
    ])
    .env("SPAWN_HOSTILE_REPORT", &report);
    let ran = run_hostile(cmd, Duration::from_secs(120), |_| {});
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    assert_eq!(ran.code, Some(0), "{text}");
    assert!(text.starts_with("ok stdio-closed:"), "{text}");
}

fn with_private_stdio(scenario: &str) {
    let report = std::env::temp_dir().join(format!(
        "spawn-hardening-{}-{scenario}.report",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&report);
    let mut cmd = helper(&[scenario]);
    cmd.env("SPAWN_HOSTILE_REPORT", &report);
    let ran = run_hostile(cmd, Duration::from_secs(120), |_| {});
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    assert_eq!(ran.code, Some(0), "{text}");
    assert!(text.starts_with(&format!("ok {scenario}:")), "{text}");
}

#[test]
fn parent_whose_fds_0_1_2_are_private_cloexec_fds_passes_none_of_them_on() {
    with_private_stdio("stdio-private");
}

#[test]
fn stderr_merged_into_an_inherited_stdout_gets_no_private_fd_of_the_parent() {
    with_private_stdio("stdio-private-merge");
}

// ---------------------------------------------------------------------------
// pidfds off; pids reused

#[test]
fn no_pidfd_gives_the_same_results() {
    let with = scenario(&["pidfd-parity"], &[]);
    let without = scenario(&["pidfd-parity"], &[("SPAWN_NO_PIDFD", "1")]);
    // The portable backend has no pidfds at all: both runs are without.
    let pidfds = !spawn_tests::portable_backend();
    assert!(with[0].ends_with(&format!("pidfd={pidfds}")), "{}", with[0]);
    assert!(without[0].ends_with("pidfd=false"), "{}", without[0]);
    assert_eq!(with[1..], without[1..]);
    assert!(with.len() > 15, "{with:?}");
}

fn pid_reuse(args: &[&str], env: &[(&str, &str)]) {
    let mut cmd = helper(args);
    cmd.envs(env.iter().copied());
    let ran = run_hostile(cmd, Duration::from_secs(120), |_| {});
    if ran.code == Some(SKIP) {
        eprintln!("skipped: {}", ran.stdout.trim());
        return;
    }
    ran.ok(args[0]);
}

#[test]
fn no_signal_reaches_a_process_that_reused_the_pid() {
    pid_reuse(&["pid-reuse-signal"], &[]);
    pid_reuse(&["pid-reuse-signal"], &[("SPAWN_NO_PIDFD", "1")]);
}

#[test]
fn no_group_signal_reaches_a_process_group_that_reused_the_id() {
    pid_reuse(&["pid-reuse-group"], &[]);
}

// ---------------------------------------------------------------------------
// Bounded memory

#[test]
fn many_children_through_bounded_sinks_keep_memory_flat() {
    scenario(&["bounded-memory"], &[]);
}

/// Ctrl-C on a terminal to a program that does not handle it, while it
/// waits for a timed run and for a cancellable one: the program dies of
/// SIGINT, and so do the runs' children and grandchildren, as with std,
/// Python or tokio (before issue 27 the timed run's child was moved out of
/// the terminal's foreground group, and its `sleep` outlived the program).
/// The helper runs on a pty of its own (python3's `pty.fork`: a session
/// whose controlling terminal it is).
#[test]
fn ctrl_c_on_a_terminal_stops_the_children_of_timed_and_cancellable_runs() {
    const DRIVER: &str = r#"
import os, pty, select, sys, time
helper, d = sys.argv[1], sys.argv[2]
pid, master = pty.fork()
if pid == 0:
    os.execv(helper, [helper, "ctrl-c-target", d])
deadline = time.time() + 60
while not all(os.path.exists(os.path.join(d, n)) for n in ("timed", "cancellable")):
    if time.time() > deadline:
        os.kill(pid, 9)
        sys.exit("the runs never started")
    r, _, _ = select.select([master], [], [], 0.05)
    if r:
        try:
            os.read(master, 4096)
        except OSError:
            pass
os.write(master, b"\x03")
_, status = os.waitpid(pid, 0)
print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status))
"#;
    let dir = std::env::temp_dir().join(format!("spawn-ctrl-c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let out = StdCommand::new("python3")
        .args(["-c", DRIVER, HOSTILE])
        .arg(&dir)
        .stdin(StdStdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = |n: &str| -> u32 {
        std::fs::read_to_string(dir.join(n))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    };
    let (timed, cancellable) = (pid("timed"), pid("cancellable"));
    let left: Vec<u32> = [timed, cancellable]
        .into_iter()
        .filter(|&p| !spawn_tests::gone_soon(p))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "2",
        "the program died of SIGINT"
    );
    assert!(
        left.is_empty(),
        "outlived Ctrl-C: {left:?} (timed {timed}, cancellable {cancellable})"
    );
}

/// Stops of runs in a program with a controlling terminal, where the
/// children stay in its group and every stop walks their descendants: a
/// cancelled run, a cancelled pipeline, a dropped `GroupResults` and a
/// timeout each end the `sleep` their `sh` started (issue 27). The helper
/// runs on a pty of its own and checks itself.
#[test]
fn stops_on_a_terminal_reach_the_descendants() {
    const DRIVER: &str = r#"
import os, pty, select, sys
pid, master = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
while True:
    r, _, _ = select.select([master], [], [], 120)
    if not r:
        os.kill(pid, 9)
        break
    try:
        data = os.read(master, 65536)
    except OSError:
        data = b""
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1)
"#;
    let dir = std::env::temp_dir().join(format!("spawn-tty-stops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let out = StdCommand::new("python3")
        .args(["-c", DRIVER, HOSTILE, "tty-stops"])
        .arg(&dir)
        .stdin(StdStdio::null())
        .output()
        .expect("python3");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("ok tty-stops"),
        "{text}"
    );
}
