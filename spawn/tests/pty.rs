//! `Command::pty` (issue 32): a child wired to a pseudo-terminal the run
//! opens. It sees a terminal on stdin and stdout; its output goes through
//! the same sinks as a pipe's, none of it lost at the exit (the master's
//! `EIO` is its end); a resize reaches it; a stop reaches its session;
//! stderr can be kept apart; bad combinations are refused before anything
//! starts. Every test opens its own ptys (none needs the caller to have a
//! terminal).

mod common;

use std::time::{Duration, Instant};

use common::{HANG, first_pid, gone_soon, rerun_this_binary};
use spawn::{Command, Error, Group, Pty, Sink, SpawnPath, Stdio};

fn python(code: &str) -> Command {
    Command::new("python3").args(["-c", code])
}

#[test]
fn a_pty_child_sees_a_terminal_on_stdin_and_stdout() {
    let code = "import sys; print(sys.stdout.isatty(), sys.stdin.isatty())";
    let out = python(code).pty(Pty::new()).run().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout_lossy(), "True True\r\n");
    assert!(out.report.pty);
    assert!(out.report.stdout_bytes > 0);
    // Started without a fork: clone3, or posix_spawn (SPAWN_NO_CLONE3=1).
    assert_ne!(out.report.spawn_path, SpawnPath::Fork);
    let piped = python(code).stdout(Stdio::piped()).run().unwrap();
    assert_eq!(piped.stdout_lossy().split(' ').next(), Some("False"));
    assert!(!piped.report.pty);
}

/// The child leads a new session whose controlling terminal is the pty:
/// `/dev/tty` opens, and its session id is its pid.
#[test]
fn a_pty_child_leads_a_session_with_the_pty_as_its_terminal() {
    let out = python(
        "import os; os.open('/dev/tty', os.O_RDWR); \
         print(os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp())",
    )
    .pty(Pty::new().raw(true))
    .run()
    .unwrap();
    assert_eq!(out.stdout_lossy(), "True True\n");
}

#[test]
fn ls_colours_on_a_pty_and_not_through_a_pipe() {
    let ls = Command::new("ls")
        .args(["--color=auto", "/"])
        .env_remove("LS_COLORS");
    let on_pty = ls.clone().pty(Pty::new()).run().unwrap();
    assert!(on_pty.status.success());
    assert!(
        on_pty.stdout.windows(2).any(|w| w == b"\x1b["),
        "no colour on a pty: {:?}",
        on_pty.stdout_lossy()
    );
    let piped = ls.stdout(Stdio::piped()).run().unwrap();
    assert!(!piped.stdout.contains(&0x1b), "{:?}", piped.stdout_lossy());
}

/// The lost tail of other pty libraries: a child prints its last line and
/// exits at once, 1,000 times; every run reports the line.
#[test]
fn no_last_line_is_lost_in_a_thousand_pty_runs() {
    let cmd = Command::new("printf")
        .arg("last line %s\\n")
        .arg("of the run")
        .pty(Pty::new());
    for i in 0..1000 {
        let out = cmd.run().unwrap();
        assert_eq!(
            out.stdout_lossy(),
            "last line of the run\r\n",
            "run {i} lost output"
        );
        assert!(out.status.success());
    }
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

/// Runs the ignored test `name` alone, in a process of its own (this test
/// binary again): for what is measured of the whole process (its peak
/// RSS, its fd table), which other tests' threads would disturb.
fn alone(name: &str) {
    rerun_this_binary(
        &["--exact", name, "--include-ignored", "--test-threads=1"],
        ("SPAWN_PTY_ALONE", "1"),
        1,
    );
}

/// Whether this is the process `alone` made.
fn is_alone() -> bool {
    std::env::var_os("SPAWN_PTY_ALONE").is_some()
}

/// 100 MB through the pty into a `head_tail` sink: every byte counted,
/// the sink keeps its bound, and the peak RSS hardly grows.
#[test]
fn a_100_mb_burst_through_a_pty_into_head_tail_keeps_memory_flat() {
    alone("pty_burst_alone");
}

#[test]
#[ignore = "run alone by a_100_mb_burst_through_a_pty_into_head_tail_keeps_memory_flat"]
fn pty_burst_alone() {
    if !is_alone() {
        return;
    }
    let before = peak_rss_kib();
    let out = Command::shell("head -c 100000000 /dev/zero | tr '\\0' x")
        .pty(Pty::new().raw(true))
        .stdout(Sink::head_tail(1 << 16, 1 << 16))
        .timeout(Duration::from_secs(120))
        .run()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.report.stdout_bytes, 100_000_000);
    assert_eq!(out.stdout.len(), 2 << 16);
    assert!(out.stdout.iter().all(|&b| b == b'x'));
    let grown = peak_rss_kib().saturating_sub(before);
    assert!(grown < 16 << 10, "peak RSS grew by {grown} KiB");
}

/// Every way a pty run ends leaves the fd table as it was: no master, no
/// duplicate of it, no slave (the parent never opens one).
#[test]
fn pty_runs_leave_no_fd_behind() {
    alone("pty_fds_alone");
}

#[test]
#[ignore = "run alone by pty_runs_leave_no_fd_behind"]
fn pty_fds_alone() {
    if !is_alone() {
        return;
    }
    // The fds of this process that are a terminal's master or slave.
    let ptys = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|t| t.starts_with("/dev/ptmx") || t.starts_with("/dev/pts"))
            .count()
    };
    let before = ptys();
    let pty = || Command::new("cat").pty(Pty::new());
    for _ in 0..20 {
        pty().input("x\n").run().unwrap();
        let err = pty().timeout(Duration::from_millis(10)).run().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        pty().stdout(Stdio::null()).run().unwrap_err();
        let child = pty().kill_on_drop(true).spawn().unwrap();
        let control = child.pty().unwrap();
        control.resize(10, 10).unwrap();
        drop(child);
        drop(control);
        let mut child = pty().spawn().unwrap();
        child.communicate(b"y\n").unwrap();
        assert!(child.wait().unwrap().success());
    }
    // The dropped children's processes (and their pty handles) are let go
    // once the reaper reaps them.
    let start = Instant::now();
    while ptys() != before && start.elapsed() < HANG {
        std::thread::yield_now();
    }
    assert_eq!(ptys(), before, "pty fds left behind");
}

/// The child prints its size, waits for a line, prints its size again:
/// the resize in between (made once the first size was read) is what it
/// sees the second time.
#[test]
fn a_resize_is_seen_by_the_pty_child() {
    let mut child = Command::shell("stty size; read _; stty size")
        .pty(Pty::new().size(24, 80).echo(false).raw(true))
        .timeout(HANG)
        .spawn()
        .unwrap();
    let first = child.lines().next().unwrap().unwrap();
    assert_eq!(first.data, b"24 80");
    child.pty().expect("a pty child").resize(40, 100).unwrap();
    let out = child.communicate(b"go\n").unwrap();
    assert_eq!(out.stdout_lossy(), "40 100\n");
    assert!(out.status.success());
    assert!(out.report.pty);
}

/// A timeout ends the pty child's session: its background grandchild is
/// gone by the time the run returns with the output read so far.
#[test]
fn a_timeout_ends_the_pty_childs_grandchild() {
    let start = Instant::now();
    let err = Command::shell("sleep 60 & echo $!; wait")
        .pty(Pty::new())
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    assert!(start.elapsed() < HANG, "took {:?}", start.elapsed());
    let Error::Timeout { ref partial, .. } = err else {
        panic!("expected a timeout, got {err}")
    };
    assert!(partial.report.pty && partial.report.timed_out);
    let sleep = first_pid(&partial.stdout);
    assert!(gone_soon(sleep), "the grandchild {sleep} still runs");
}

/// Dropping a `kill_on_drop` pty child ends its session's group: the
/// grandchild whose pid it printed is gone.
#[test]
fn dropping_a_kill_on_drop_pty_child_ends_its_grandchild() {
    let mut child = Command::shell("sleep 60 & echo $!; wait")
        .pty(Pty::new())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let line = child.lines().next().unwrap().unwrap();
    let sleep = first_pid(&line.data);
    drop(child);
    assert!(gone_soon(sleep), "the grandchild {sleep} outlived the drop");
}

/// A `Group` of pty children, four at a time: each has its own terminal
/// and its own output, in the order added.
#[test]
fn a_group_of_pty_children_each_on_its_own_terminal() {
    let cmds = (0..24).map(|i| {
        python(&format!(
            "import os; print({i}, os.ttyname(0) == os.ttyname(1))"
        ))
        .pty(Pty::new().raw(true))
    });
    let results = Group::new().max_running(4).add_all(cmds).run().unwrap();
    for (i, r) in results.into_iter().enumerate() {
        let out = r.unwrap();
        assert_eq!(out.stdout_lossy(), format!("{i} True\n"));
        assert!(out.report.pty);
    }
}

/// The master's output goes through every kind of sink, as a pipe's does
/// (a file and a discard are read, never spliced, from a pty).
#[test]
fn every_sink_takes_a_ptys_output() {
    let cmd = Command::shell("seq 1000").pty(Pty::new().raw(true));
    let expected: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    let dir = std::env::temp_dir().join(format!("spawn-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("out");
    let out = cmd.clone().stdout(Sink::file(&file)).run().unwrap();
    assert_eq!(out.report.stdout_bytes, expected.len() as u64);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    std::fs::remove_dir_all(&dir).unwrap();
    let out = cmd.clone().stdout(Sink::discard()).run().unwrap();
    assert_eq!(out.report.stdout_bytes, expected.len() as u64);
    assert!(out.stdout.is_empty());
    let lines = std::sync::Arc::new(std::sync::Mutex::new(0usize));
    let seen = std::sync::Arc::clone(&lines);
    cmd.clone()
        .stdout(Sink::lines(move |_| *seen.lock().unwrap() += 1))
        .run()
        .unwrap();
    assert_eq!(*lines.lock().unwrap(), 1000);
    let out = cmd.clone().stdout(Sink::collect_limit(10)).run().unwrap();
    assert_eq!(out.stdout, b"1\n2\n3\n4\n5\n");
    assert_eq!(out.report.stdout_dropped, expected.len() as u64 - 10);
    let mut lines = Vec::new();
    let out = cmd.run_lines(|_, line| lines.push(line.len())).unwrap();
    assert!(out.status.success());
    assert_eq!(lines.len(), 1000);
}

#[test]
fn stderr_goes_to_the_pty_unless_routed_apart() {
    let script = "echo out; echo err >&2";
    let together = Command::shell(script).pty(Pty::new()).run().unwrap();
    assert_eq!(together.stdout_lossy(), "out\r\nerr\r\n");
    assert!(together.stderr.is_empty());
    let apart = Command::shell(script)
        .pty(Pty::new())
        .stderr(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(apart.stdout_lossy(), "out\r\n");
    assert_eq!(apart.stderr_lossy(), "err\n");
    // fd 2 is a pipe, fds 0 and 1 the terminal.
    let out = python("import os; print([os.isatty(f) for f in (0, 1, 2)])")
        .pty(Pty::new().raw(true))
        .stderr(Sink::collect())
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy(), "[True, True, False]\n");
}

/// Input is typed into the terminal and ended with Ctrl-D: `cat` reads it
/// to its end and exits, a last line without `\n` included.
#[test]
fn pty_input_is_typed_and_ended() {
    let cat = Command::new("cat").pty(Pty::new().echo(false).raw(true));
    let out = cat.clone().input("one\ntwo\n").run().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout_lossy(), "one\ntwo\n");
    let out = cat.clone().input("no newline").run().unwrap();
    assert_eq!(out.stdout_lossy(), "no newline");
    let out = cat.input("").run().unwrap();
    assert!(out.status.success() && out.stdout.is_empty());
    // With echo on (the default), the terminal shows what was typed.
    let out = Command::new("cat")
        .pty(Pty::new().raw(true))
        .input("typed\n")
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy(), "typed\ntyped\n");
}

/// The ends `take_stdin` and `take_stdout` hand out are the master's: what
/// is written is typed, and the read ends at the end (the master's `EIO`
/// read as the end of file, not an error).
#[test]
fn the_taken_ends_of_a_pty_write_and_read_to_the_end() {
    use std::io::{Read, Write};
    let mut child = Command::new("cat")
        .pty(Pty::new().echo(false).raw(true))
        .spawn()
        .unwrap();
    let mut stdin = child.take_stdin().expect("the master's write side");
    let mut stdout = child.take_stdout().expect("the master's read side");
    stdin.write_all(b"hi\n\x04").unwrap();
    let mut out = Vec::new();
    stdout.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"hi\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn pty_term_is_set_unless_the_command_sets_it() {
    let out = Command::shell("echo $TERM")
        .pty(Pty::new().term("vt100").raw(true))
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy(), "vt100\n");
    let out = Command::shell("echo $TERM")
        .pty(Pty::new().raw(true))
        .env("TERM", "dumb")
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy(), "dumb\n");
}

#[test]
fn pty_bad_combinations_are_refused_before_anything_starts() {
    let pty = || Command::new("true").pty(Pty::new());
    let refused = |cmd: Command, what: &str| {
        let err = cmd.run().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("true") && msg.contains(what), "{msg}");
    };
    refused(pty().stdout(Stdio::null()), "pty() and a stdout()");
    refused(pty().stdout(Stdio::inherit()), "pty() and a stdout()");
    refused(pty().stdin(Stdio::null()), "pty() and stdin()");
    refused(pty().new_session(), "pty() and new_session()");
    refused(pty().process_group(0), "pty() and process_group(0)");
    let err = (pty() | Command::new("cat")).run().unwrap_err();
    assert!(
        err.to_string().contains("pty() on a pipeline stage"),
        "{err}"
    );
}

#[cfg(feature = "tokio")]
#[test]
fn an_async_run_and_child_on_a_pty() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let out = python("import sys; print(sys.stdout.isatty())")
            .pty(Pty::new())
            .run_async()
            .await
            .unwrap();
        assert_eq!(out.stdout_lossy(), "True\r\n");
        assert!(out.report.pty);
        let mut child = Command::new("cat")
            .pty(Pty::new().echo(false).raw(true))
            .spawn_async()
            .unwrap();
        child.pty().expect("a pty child").resize(30, 90).unwrap();
        let out = child.communicate(b"async\n").await.unwrap();
        assert_eq!(out.stdout_lossy(), "async\n");
    });
}
