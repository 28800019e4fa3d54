//! The hardening cases that run in the test process itself: faults of the
//! child (killed mid-output, closing its stdout, never reading its stdin,
//! ignoring TERM, a pipeline stage exiting first), bad input (arguments past
//! the kernel's limit, non-UTF-8 bytes everywhere, an empty `argv[0]`, a
//! directory as the program, arbitrary bytes and values in every builder
//! call) and the thread safety of the public types.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn::{Child, Command, Error, Group, Output, Pipeline, Signal, Sink, Stdio};

/// A generous bound: only a hang takes this long.
const HANG: Duration = Duration::from_secs(30);

fn sh(script: &str) -> Command {
    Command::new("sh").arg("-c").arg(script).arg("sh")
}

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spawn-hardening-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn timeout_partial(what: &str, r: Result<Output, Error>) -> Output {
    match r {
        Err(Error::Timeout { partial, .. }) => *partial,
        other => panic!("{what}: expected a timeout, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Faults of the child

#[test]
fn a_child_killed_by_sigkill_mid_output_keeps_the_partial_output() {
    // It kills itself after exactly 1,000,001 bytes on stdout and a line
    // on stderr: every byte is kept, the status is signal 9.
    let script =
        "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo err >&2; kill -9 $$; echo never";
    let out = sh(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("run");
    assert_eq!(out.status.signal(), Some(9), "{}", out.status);
    assert_eq!(out.stdout.len(), 1_000_001);
    assert_eq!(out.report.stdout_bytes, 1_000_001);
    assert_eq!(out.stderr, b"err\n");
    // The same in a group of 8, through head_tail and lines sinks.
    let results = Group::new()
        .add_all((0..8).map(|i| {
            let cmd = sh(script).stderr(Stdio::piped());
            if i % 2 == 0 {
                cmd.stdout(Sink::head_tail(10, 10))
            } else {
                cmd.stdout(Stdio::piped())
            }
        }))
        .run()
        .expect("group");
    for (i, r) in results.into_iter().enumerate() {
        let out = r.expect("child");
        assert_eq!(out.status.signal(), Some(9), "child {i}");
        assert_eq!(out.report.stdout_bytes, 1_000_001, "child {i}");
        assert_eq!(out.stderr, b"err\n", "child {i}");
    }
    // Killed by us while it writes as fast as it can: what communicate
    // read before (returned with its timeout) and after comes back once.
    let mut child = Command::new("yes")
        .arg("spawn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("yes starts");
    // Each call carries on where the last stopped; wait for some output.
    let start = Instant::now();
    let first = loop {
        let partial = timeout_partial(
            "communicate_timeout",
            child.communicate_timeout(b"", Duration::from_millis(50)),
        );
        if partial.stdout.len() >= 12 || start.elapsed() > HANG {
            break partial;
        }
    };
    assert!(
        first.stdout.starts_with(b"spawn\nspawn\n"),
        "{:?}",
        first.stdout_lossy()
    );
    child.kill().expect("kill");
    let all = child.communicate(b"").expect("communicate after the kill");
    assert_eq!(all.status.signal(), Some(9));
    assert!(
        all.stdout.starts_with(&first.stdout),
        "the partial output is not kept"
    );
    assert!(all.stdout.len() >= first.stdout.len());
    assert_eq!(all.report.stdout_bytes, all.stdout.len() as u64);
    assert!(
        all.stdout.chunks(6).all(|c| b"spawn\n".starts_with(c)),
        "bytes lost or repeated"
    );
}

#[test]
fn a_child_that_closes_stdout_and_keeps_running_is_waited_for() {
    // stdout's EOF is not the end: stderr and the status still come.
    let out = sh("echo out; exec 1>&-; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo err >&2; exit 3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("run");
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    // Both outputs closed; it still reads its input and exits with a code.
    let out = sh("exec 1>&- 2>&-; read x; test \"$x\" = go && exit 4")
        .input("go\n")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .expect("run");
    assert_eq!(out.status.code(), Some(4));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    // Both closed and it never exits: the timeout still stops it.
    let start = Instant::now();
    let partial = timeout_partial(
        "closed outputs",
        sh("echo bye; exec 1>&- 2>&-; exec sleep 30")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .timeout(Duration::from_secs(1))
            .run(),
    );
    assert_eq!(partial.stdout, b"bye\n");
    assert_eq!(partial.status.signal(), Some(15));
    assert!(start.elapsed() < HANG);
    // The same through Child::communicate.
    let mut child = sh("echo out; exec 1>&-; read x; echo \"got $x\" >&2; exit 5")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.communicate(b"it\n").expect("communicate");
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"got it\n");
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn a_child_that_never_reads_stdin_while_we_feed_64_mib_times_out() {
    let input = vec![b'x'; 64 << 20];
    let start = Instant::now();
    let r = sh("echo ready; exec sleep 30")
        .input(input.clone())
        .stdout(Stdio::piped())
        .timeout(Duration::from_secs(1))
        .kill_grace(Duration::from_millis(500))
        .run();
    let elapsed = start.elapsed();
    let partial = timeout_partial("never reads", r);
    assert_eq!(partial.stdout, b"ready\n");
    assert_eq!(partial.status.signal(), Some(15));
    assert!(partial.report.timed_out);
    assert!(
        partial.report.stdin_bytes < input.len() as u64,
        "all input taken by a child that never reads?"
    );
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "{elapsed:?}: the timeout was not enforced"
    );
    // The same with communicate_timeout: Timeout, and the child keeps running.
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let r = child.communicate_timeout(&input, Duration::from_millis(300));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        child.try_wait().expect("try_wait"),
        None,
        "communicate_timeout stopped the child"
    );
    child.kill().expect("kill");
    assert_eq!(child.wait().expect("wait").signal(), Some(9));
}

#[test]
fn a_child_ignoring_term_is_killed_after_the_grace() {
    // An ignored TERM survives exec: `sleep` ignores it too.
    let ignoring = || sh("trap '' TERM; echo ready; exec sleep 30").stdout(Stdio::piped());
    // The timeout leaves the shell ample time to set its trap first.
    let (timeout, grace) = (Duration::from_secs(1), Duration::from_millis(400));
    let start = Instant::now();
    let partial = timeout_partial(
        "ignores TERM",
        ignoring().timeout(timeout).kill_grace(grace).run(),
    );
    let elapsed = start.elapsed();
    assert_eq!(partial.stdout, b"ready\n");
    assert_eq!(partial.status.signal(), Some(9));
    assert!(
        elapsed >= timeout + grace,
        "KILL before the grace: {elapsed:?}"
    );
    assert!(
        elapsed < timeout + grace + Duration::from_secs(3),
        "{elapsed:?}"
    );
    // A Child that said "ready" (its trap is set), then terminate(): still
    // running after TERM; kill() ends it.
    let mut child = ignoring().spawn().expect("spawn");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.take_stdout().expect("piped")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line, "ready\n");
    child.terminate().expect("terminate");
    assert_eq!(
        child
            .wait_timeout(Duration::from_millis(300))
            .expect("wait_timeout"),
        None
    );
    child.kill().expect("kill");
    assert_eq!(child.wait().expect("wait").signal(), Some(9));
}

/// A child that stopped itself (SIGSTOP) when its timeout (1 s) comes.
fn stopped_child(grace: Duration) -> (Result<Output, Error>, Duration) {
    let start = Instant::now();
    let r = sh("trap 'echo got TERM; exit 3' TERM; echo ready; kill -STOP $$; echo continued")
        .stdout(Stdio::piped())
        .timeout(Duration::from_secs(1))
        .kill_grace(grace)
        .run();
    (r, start.elapsed())
}

#[test]
fn a_stopped_child_is_stopped_within_the_grace() {
    let grace = Duration::from_millis(500);
    let (r, elapsed) = stopped_child(grace);
    let partial = timeout_partial("stopped", r);
    assert!(
        partial.stdout.starts_with(b"ready\n"),
        "{:?}",
        partial.stdout_lossy()
    );
    assert!(
        partial.status.signal() == Some(9) || partial.status.code() == Some(3),
        "{}",
        partial.status
    );
    assert!(
        elapsed < Duration::from_secs(1) + grace + Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[test]
fn a_stopped_child_gets_the_term_of_its_timeout() {
    let (r, elapsed) = stopped_child(Duration::from_secs(10));
    let partial = timeout_partial("stopped", r);
    assert_eq!(partial.stdout, b"ready\ngot TERM\n");
    assert_eq!(partial.status.code(), Some(3), "{}", partial.status);
    assert!(
        elapsed < Duration::from_secs(6),
        "waited for the KILL: {elapsed:?}"
    );
}

#[test]
fn timeouts_are_enforced_within_their_grace_in_a_group_of_50() {
    let (timeout, grace) = (Duration::from_millis(300), Duration::from_millis(300));
    let cmds = (0..50).map(|i| {
        let script = if i % 2 == 0 {
            "trap '' TERM; echo ready; exec sleep 30"
        } else {
            "echo ready; exec sleep 30"
        };
        sh(script)
            .stdout(Stdio::piped())
            .timeout(timeout)
            .kill_grace(grace)
    });
    let start = Instant::now();
    let results = Group::new().add_all(cmds).run().expect("group");
    let elapsed = start.elapsed();
    assert!(
        elapsed < timeout + grace + Duration::from_secs(5),
        "{elapsed:?}"
    );
    let mut killed = 0;
    for (i, r) in results.into_iter().enumerate() {
        let partial = timeout_partial("group", r);
        // An even child ignores TERM once it said "ready" (50 shells start
        // at once on a busy machine: a TERM may still come first).
        let armed = partial.stdout == b"ready\n";
        let want = if i % 2 == 0 && armed { 9 } else { 15 };
        assert_eq!(
            partial.status.signal(),
            Some(want),
            "child {i}: {partial:?}"
        );
        killed += usize::from(want == 9);
        assert!(
            partial.report.wall >= timeout,
            "child {i}: {:?}",
            partial.report.wall
        );
        assert!(
            partial.report.wall < timeout + grace + Duration::from_secs(3),
            "child {i}: {:?}",
            partial.report.wall
        );
    }
    assert!(
        killed > 0,
        "no child ignored TERM: the KILL path was not taken"
    );
}

#[test]
fn a_pipeline_stage_that_exits_first() {
    // The reader exits first: the writer dies of SIGPIPE, which counts as
    // success upstream.
    let out = (Command::new("yes") | Command::new("head").args(["-n", "3"]))
        .stdout(Stdio::piped())
        .timeout(HANG)
        .run()
        .expect("yes | head");
    assert_eq!(out.stdout, b"y\ny\ny\n");
    assert_eq!(out.statuses[0].signal(), Some(Signal::PIPE.as_raw()));
    assert_eq!(out.statuses[1].code(), Some(0));
    assert!(out.success());
    // A middle stage exits at once, failing: upstream gets SIGPIPE (or
    // finished first), downstream gets EOF.
    let out = (Command::new("seq").args(["1", "1000000"]) | sh("exit 3") | Command::new("cat"))
        .stdout(Stdio::piped())
        .timeout(HANG)
        .run()
        .expect("seq | exit 3 | cat");
    assert!(out.stdout.is_empty());
    assert_eq!(out.statuses[0].signal(), Some(Signal::PIPE.as_raw()));
    assert_eq!(out.statuses[1].code(), Some(3));
    assert_eq!(out.statuses[2].code(), Some(0));
    assert!(!out.success());
    // The first stage exits first; the rest still get all of it.
    let out = (Command::new("echo").arg("first") | sh("cat; echo later") | Command::new("cat"))
        .stdout(Stdio::piped())
        .timeout(HANG)
        .run()
        .expect("echo | sh | cat");
    assert_eq!(out.stdout, b"first\nlater\n");
    assert!(out.statuses.iter().all(spawn::ExitStatus::success));
    // The last stage exits first while the first one ignores SIGPIPE's
    // EPIPE and keeps running: the pipeline still ends (by its timeout).
    let start = Instant::now();
    let r = (sh("trap '' PIPE; while :; do echo x || exec sleep 30; done") | Command::new("true"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .timeout(Duration::from_millis(500))
        .kill_grace(Duration::from_millis(200))
        .run();
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// Bad input

fn assert_too_long(what: &str, r: Result<impl std::fmt::Debug, Error>, program: &str) {
    match r {
        Err(e @ Error::ArgumentListTooLong { .. }) => {
            assert_eq!(e.program(), program, "{what}");
            assert!(
                e.to_string().contains("argument list too long"),
                "{what}: {e}"
            );
            let Error::ArgumentListTooLong { bytes, .. } = &e else {
                unreachable!()
            };
            assert!(*bytes > 128 << 10, "{what}: {bytes} bytes");
            assert_eq!(
                std::io::Error::from(e).kind(),
                std::io::ErrorKind::InvalidInput,
                "{what}"
            );
        }
        other => panic!("{what}: expected ArgumentListTooLong, got {other:?}"),
    }
}

#[test]
fn arguments_and_environment_past_the_kernels_limit_are_argument_list_too_long() {
    let many: Vec<String> = (0..4096).map(|i| format!("{i:01024}")).collect(); // 4 MiB
    let one_long = "x".repeat(200 << 10); // past MAX_ARG_STRLEN (128 KiB)
    let env_long = "v".repeat(3 << 20);
    let cases: Vec<(&str, Command)> = vec![
        ("4 MiB of arguments", Command::new("true").args(&many)),
        ("one 200 KiB argument", Command::new("true").arg(&one_long)),
        (
            "a 3 MiB variable",
            Command::new("true").env("BIG", &env_long),
        ),
        (
            "a 3 MiB variable, environment cleared",
            Command::new("true").env_clear().env("BIG", &env_long),
        ),
    ];
    for (what, cmd) in &cases {
        assert_too_long(what, cmd.run(), "true");
        assert_too_long(what, cmd.spawn(), "true");
    }
    let results = Group::new()
        .add(Command::new("true").args(&many))
        .add(Command::new("echo").arg("fine").stdout(Stdio::piped()))
        .run()
        .expect("group");
    assert_too_long(
        "in a group",
        results[0].as_ref().map(|_| ()).map_err(clone_err),
        "true",
    );
    assert_eq!(results[1].as_ref().expect("echo").stdout, b"fine\n");
    let r = (Command::new("echo").arg("a") | Command::new("true").args(&many)).run();
    assert_too_long("in a pipeline", r, "true");
    // Just under the limit works: the limit is the kernel's, not ours.
    let half: Vec<&String> = many.iter().take(512).collect(); // 512 KiB
    let out = Command::new("sh")
        .args(["-c", "echo $#", "sh"])
        .args(&half)
        .check_output_string()
        .expect("512 KiB of arguments");
    assert_eq!(out, "512\n");
}

/// The variant and program of an error, rebuilt (an `Error` is not `Clone`).
fn clone_err(e: &Error) -> Error {
    match e {
        Error::ArgumentListTooLong { program, bytes } => Error::ArgumentListTooLong {
            program: program.clone(),
            bytes: *bytes,
        },
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn non_utf8_bytes_everywhere() {
    let root = tmpdir("non-utf8");
    let dir = root.join(OsStr::from_bytes(b"dir-\xff\xfe"));
    let bin = dir.join(OsStr::from_bytes(b"bin-\xfd"));
    std::fs::create_dir_all(&bin).expect("dirs");
    let prog = OsStr::from_bytes(b"sh-\xfc");
    std::os::unix::fs::symlink("/bin/sh", bin.join(prog)).expect("symlink");
    let mut path = bin.as_os_str().to_owned();
    path.push(":/bin:/usr/bin");
    let cmd = Command::new(prog) // searched in the child's PATH, a non-UTF-8 one
        .arg0(OsStr::from_bytes(b"zero-\xfb"))
        .arg("-c")
        .arg("cat /proc/$$/cmdline; printf '|'; pwd; cat; printf '%s|%s' \"$V\" \"$1\"")
        .arg(OsStr::from_bytes(b"name-\xfa"))
        .arg(OsStr::from_bytes(b"arg-\xf9"))
        .env_clear()
        .env("PATH", &path)
        .env("V", OsStr::from_bytes(b"val-\xf8"))
        .env(OsStr::from_bytes(b"KEY_\xf7"), "x")
        .cwd(&dir)
        .input(b"in-\xf6\n".to_vec());
    let out = cmd.clone().stdout(Stdio::piped()).run().expect("run");
    let mut want = Vec::new();
    want.extend_from_slice(b"zero-\xfb\0-c\0");
    want.extend_from_slice(
        b"cat /proc/$$/cmdline; printf '|'; pwd; cat; printf '%s|%s' \"$V\" \"$1\"\0",
    );
    want.extend_from_slice(b"name-\xfa\0arg-\xf9\0|");
    want.extend_from_slice(dir.as_os_str().as_bytes());
    want.extend_from_slice(b"\nin-\xf6\nval-\xf8|arg-\xf9");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(out.stdout, want);
    // Text asked for: NotUtf8 with the bytes kept.
    match cmd.check_output_string() {
        Err(Error::NotUtf8 {
            valid_up_to,
            output,
            ..
        }) => {
            assert_eq!(valid_up_to, 5);
            assert_eq!(output.stdout, want);
        }
        other => panic!("{other:?}"),
    }
    // A non-UTF-8 variable name reaches the child as it is.
    let env = Command::new("/usr/bin/env")
        .env_clear()
        .env(OsStr::from_bytes(b"KEY_\xf7"), OsStr::from_bytes(b"\xf5"))
        .check_output()
        .expect("env");
    assert_eq!(env, b"KEY_\xf7=\xf5\n");
    // Lines, a log and serde with non-UTF-8 output: no panic, bytes kept.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = Arc::clone(&seen);
    let out = Command::new("printf")
        .arg("a\\377\nb\\376\n")
        .stdout(Sink::lines(move |l| {
            seen2.lock().expect("lines").push(l.to_vec());
        }))
        .run()
        .expect("printf");
    assert_eq!(
        *seen.lock().expect("lines"),
        [b"a\xff".to_vec(), b"b\xfe".to_vec()]
    );
    let json = serde_json::to_string(&out).expect("serialize");
    assert!(json.contains("\"stdout\":\"\""), "{json}");
    let out = Command::new("printf")
        .arg("\\377")
        .stdout(Stdio::piped())
        .run()
        .expect("printf");
    let json = serde_json::to_string(&out).expect("serialize");
    assert!(json.contains("\u{fffd}"), "{json}");
    // Errors about non-UTF-8 names: readable, no panic.
    let missing = Command::new(OsStr::from_bytes(b"no-such-\xff"))
        .run()
        .expect_err("not found");
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    assert_eq!(missing.program(), "no-such-\u{fffd}");
    let json = serde_json::to_string(&missing).expect("serialize");
    assert!(json.contains("not_found"), "{json}");
    let bad_cwd = Command::new("true")
        .cwd(root.join(OsStr::from_bytes(b"missing-\xff")))
        .run()
        .expect_err("bad cwd");
    assert!(matches!(bad_cwd, Error::BadCwd { .. }), "{bad_cwd:?}");
    assert!(
        bad_cwd.to_string().contains("missing-\u{fffd}"),
        "{bad_cwd}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn an_empty_argv0_reaches_the_child() {
    let out = Command::new("cat")
        .arg0("")
        .arg("/proc/self/cmdline")
        .check_output()
        .expect("cat with an empty argv[0]");
    assert_eq!(out, b"\0/proc/self/cmdline\0");
    // Through a Group and a Child too.
    let results = Group::new()
        .add(
            Command::new("cat")
                .arg0("")
                .arg("/proc/self/cmdline")
                .stdout(Stdio::piped()),
        )
        .run()
        .expect("group");
    assert_eq!(
        results[0].as_ref().expect("cat").stdout,
        b"\0/proc/self/cmdline\0"
    );
    let mut child = Command::new("cat")
        .arg0("")
        .arg("/proc/self/cmdline")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    assert_eq!(
        child.communicate(b"").expect("communicate").stdout,
        b"\0/proc/self/cmdline\0"
    );
    // An empty program is an error, not an exec of "".
    let e = Command::new("").run().expect_err("empty program");
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn a_program_path_that_is_a_directory_is_permission_denied() {
    let root = tmpdir("dir-program");
    let sub = root.join("prog");
    std::fs::create_dir_all(&sub).expect("dir");
    for program in [
        root.as_os_str(),
        sub.as_os_str(),
        OsStr::new("/"),
        OsStr::new("/tmp/"),
    ] {
        let shown = program.to_string_lossy().into_owned();
        let e = Command::new(program).run().expect_err("a directory");
        assert!(
            matches!(e, Error::PermissionDenied { .. }),
            "{shown}: {e:?}"
        );
        assert_eq!(e.program(), shown);
        assert!(e.to_string().contains(&shown), "{e}");
        let e = Command::new(program).spawn().expect_err("a directory");
        assert!(
            matches!(e, Error::PermissionDenied { .. }),
            "{shown}: {e:?}"
        );
    }
    // Searched in PATH, a directory of that name is skipped.
    let e = Command::new("prog")
        .env("PATH", &root)
        .run()
        .expect_err("only a directory in PATH");
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    // A relative path with a slash, against the child's cwd.
    let e = Command::new("./prog").cwd(&root).run().expect_err("./prog");
    assert!(e.is_spawn_error(), "{e:?}");
    // In a group, the others still run.
    let results = Group::new()
        .add(Command::new(&sub))
        .add(Command::new("echo").arg("ok").stdout(Stdio::piped()))
        .run()
        .expect("group");
    assert!(
        matches!(results[0], Err(Error::PermissionDenied { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().expect("echo").stdout, b"ok\n");
    let _ = std::fs::remove_dir_all(&root);
}

// ---------------------------------------------------------------------------
// No panic on any input

mod no_panic {
    use super::{Command, Error, Group, Sink, Stdio};
    use proptest::prelude::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    use std::time::Duration;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(b'='), Just(b'/'), Just(0xff), any::<u8>()],
            0..max,
        )
    }

    fn route() -> impl Strategy<Value = u8> {
        0u8..8
    }

    /// Milliseconds, or `u64::MAX` (a duration of about 585 million years).
    fn millis() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..40, Just(u64::MAX)]
    }

    fn sink(kind: u8, n: usize) -> spawn::Route {
        match kind {
            0 => Stdio::null().into(),
            1 => Stdio::piped().into(),
            2 => Stdio::merge().into(),
            3 => Sink::head_tail(n, n / 2).into(),
            4 => Sink::collect_limit(n).into(),
            5 => Sink::collect_limit(n).error_on_overflow().into(),
            6 => Sink::lines(|_: &[u8]| {}).into(),
            _ => Sink::discard().into(),
        }
    }

    #[derive(Debug, Clone)]
    struct Case {
        program: u8,
        name: Vec<u8>,
        arg0: Option<Vec<u8>>,
        args: Vec<Vec<u8>>,
        env: Vec<(Vec<u8>, Vec<u8>)>,
        clear: bool,
        cwd: Option<Vec<u8>>,
        input: Option<Vec<u8>>,
        stdin: u8,
        stdout: u8,
        stderr: u8,
        n: usize,
        timeout_ms: Option<u64>,
        grace_ms: u64,
        eof_ms: u64,
        how: u8,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            (
                0u8..4,
                bytes(12),
                prop::option::of(bytes(8)),
                prop::collection::vec(bytes(16), 0..4),
            ),
            (
                prop::collection::vec((bytes(6), bytes(6)), 0..3),
                any::<bool>(),
                prop::option::of(bytes(10)),
            ),
            (
                prop::option::of(bytes(64)),
                0u8..3,
                route(),
                0u8..9,
                prop_oneof![0usize..64, Just(usize::MAX)],
            ),
            (prop::option::of(millis()), millis(), millis(), 0u8..3),
        )
            .prop_map(
                |(
                    (program, name, arg0, args),
                    (env, clear, cwd),
                    (input, stdin, stdout, stderr, n),
                    (timeout_ms, grace_ms, eof_ms, how),
                )| Case {
                    program,
                    name,
                    arg0,
                    args,
                    env,
                    clear,
                    cwd,
                    input,
                    stdin,
                    stdout,
                    stderr,
                    n,
                    timeout_ms,
                    grace_ms,
                    eof_ms,
                    how,
                },
            )
    }

    fn build(c: &Case) -> (Command, String) {
        // Random names never run anything: PATH points nowhere and a random
        // name has its slashes removed.
        let name: Vec<u8> = c.name.iter().copied().filter(|&b| b != b'/').collect();
        let program: &OsStr = match c.program {
            0 => OsStr::new("/bin/cat"),
            1 => OsStr::new("/bin/echo"),
            2 => OsStr::new("/bin/sh"),
            _ => OsStr::from_bytes(&name),
        };
        let mut cmd = Command::new(program);
        if let Some(a0) = &c.arg0 {
            cmd = cmd.arg0(OsStr::from_bytes(a0));
        }
        if c.program == 2 {
            cmd = cmd.args(["-c", "cat; echo done; echo err >&2"]);
        }
        cmd = cmd.args(c.args.iter().map(|a| OsStr::from_bytes(a)));
        if c.clear {
            cmd = cmd.env_clear();
        }
        for (k, v) in &c.env {
            cmd = cmd.env(OsStr::from_bytes(k), OsStr::from_bytes(v));
        }
        cmd = cmd.env("PATH", "/nonexistent-spawn-hardening");
        if let Some(d) = &c.cwd {
            cmd = cmd.cwd(OsStr::from_bytes(d));
        }
        if let Some(i) = &c.input {
            cmd = cmd.input(i.clone());
        }
        // Never the test's own stdin: `cat` would wait on it.
        cmd = match c.stdin {
            0 => cmd.stdin(Stdio::null()),
            1 => cmd.stdin(Stdio::piped()),
            _ => cmd.stdin(Stdio::merge()),
        };
        cmd = cmd.stdout(sink(c.stdout, c.n));
        cmd = if c.stderr == 8 {
            cmd.stderr(Stdio::merge())
        } else {
            cmd.stderr(sink(c.stderr, c.n))
        };
        if let Some(t) = c.timeout_ms {
            cmd = cmd.timeout(Duration::from_millis(t));
        }
        cmd = cmd
            .kill_grace(Duration::from_millis(c.grace_ms))
            .eof_grace(Duration::from_millis(c.eof_ms));
        (cmd, program.to_string_lossy().into_owned())
    }

    fn check_err(e: &Error, program: &str) {
        assert_eq!(e.program(), program, "{e:?}");
        assert!(!e.to_string().is_empty());
        serde_json::to_string(e).expect("an error serializes");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any bytes and any values in every builder call, run every way:
        /// an `Output` or an `Error` naming the program, never a panic or
        /// a hang.
        #[test]
        fn no_panic_on_any_input(c in case()) {
            let (cmd, program) = build(&c);
            match c.how {
                0 => match cmd.run() {
                    Ok(out) => { serde_json::to_string(&out).expect("serializes"); }
                    Err(e) => check_err(&e, &program),
                },
                1 => match cmd.clone().kill_on_drop(true).spawn() {
                    Ok(mut child) => {
                        match child.communicate_timeout(b"", Duration::from_millis(200)) {
                            Ok(_) => {}
                            Err(e) => check_err(&e, &program),
                        }
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    Err(e) => check_err(&e, &program),
                },
                _ => {
                    let results = Group::new().add(cmd.clone()).add(cmd).run().expect("group");
                    for r in results {
                        if let Err(e) = r { check_err(&e, &program) }
                    }
                }
            }
        }
    }
}

#[test]
fn huge_durations_on_commands_mean_no_limit() {
    let max = Duration::MAX;
    let out = Command::new("echo")
        .arg("x")
        .stdout(Stdio::piped())
        .timeout(max)
        .kill_grace(max)
        .eof_grace(max)
        .run()
        .expect("run");
    assert_eq!(out.stdout, b"x\n");
    let results = Group::new()
        .add(Command::new("true").timeout(max))
        .run()
        .expect("group");
    assert!(results[0].as_ref().is_ok_and(|o| o.status.success()));
    let out = (Command::new("echo").arg("y") | Command::new("cat"))
        .stdout(Stdio::piped())
        .timeout(max)
        .kill_grace(max)
        .run()
        .expect("pipeline");
    assert_eq!(out.stdout, b"y\n");
    // A timeout that fires, with a grace too long to wait: TERM still stops it.
    let partial = timeout_partial(
        "huge grace",
        Command::new("sleep")
            .arg("30")
            .timeout(Duration::from_millis(50))
            .kill_grace(max)
            .run(),
    );
    assert_eq!(partial.status.signal(), Some(15));
}

#[test]
fn huge_durations_on_a_child_never_panic() {
    let child = Command::new("true").spawn().expect("spawn");
    let status = child.wait_timeout(Duration::MAX).expect("wait_timeout");
    assert!(status.is_some_and(|s| s.success()));
    let mut child = Command::new("echo")
        .arg("z")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child
        .communicate_timeout(b"", Duration::MAX)
        .expect("communicate_timeout");
    assert_eq!(out.stdout, b"z\n");
}

// ---------------------------------------------------------------------------
// Thread safety

#[test]
fn the_public_types_are_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Command>();
    send_sync::<Group>();
    send_sync::<Pipeline>();
    send_sync::<Error>();
    send_sync::<Output>();
    send_sync::<Sink>();
    send_sync::<Stdio>();
    send_sync::<spawn::Route>();
    send_sync::<spawn::Log>();
    send_sync::<spawn::ExitStatus>();
    send_sync::<Child>();
    send_sync::<spawn::PipelineChild>();
    send_sync::<spawn::CancelToken>();
    send_sync::<spawn::ChildHandle>();
    send::<spawn::GroupResults<'static>>();
    send::<spawn::ChildStdin>();
    send::<spawn::ChildStdout>();
    send::<spawn::ChildStderr>();
    // One Command (with a callback sink) run from 8 threads at once; a Child
    // started on one thread, waited for on another.
    let lines = Arc::new(std::sync::Mutex::new(0usize));
    let l2 = Arc::clone(&lines);
    let cmd = Arc::new(
        sh("echo a; echo b").stdout(Sink::lines(move |_| *l2.lock().expect("count") += 1)),
    );
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let cmd = Arc::clone(&cmd);
            std::thread::spawn(move || cmd.run().expect("run").status.success())
        })
        .collect();
    assert!(threads.into_iter().all(|t| t.join().expect("thread")));
    assert_eq!(*lines.lock().expect("count"), 16);
    let child = Command::new("true").spawn().expect("spawn");
    let status = std::thread::spawn(move || {
        let child = child;
        child.wait().expect("wait")
    })
    .join()
    .expect("thread");
    assert!(status.success());
}
