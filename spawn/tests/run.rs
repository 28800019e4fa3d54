//! `Command::run` and friends against real processes: defaults, routes,
//! input, sinks, errors, timeouts, grandchildren, serde.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spawn::{Command, Error, Log, Sink, Stdio, StreamName};

fn sh(script: &str) -> Command {
    Command::shell(script)
}

/// A fresh directory for one test, removed when the returned guard drops.
fn tmpdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("spawn-test-{name}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn nonzero_exit_is_not_an_error_for_run() {
    let out = sh("exit 7").run().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "stdout inherited by default");
}

#[test]
fn check_fails_with_status_and_the_tail_of_stderr() {
    let err = sh("echo one >&2; echo two >&2; exit 3")
        .stderr(Stdio::piped())
        .check()
        .unwrap_err();
    let msg = err.to_string();
    match &err {
        Error::Failed { status, output, .. } => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(output.stderr, b"one\ntwo\n");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        msg.starts_with("sh -c 'echo one >&2; echo two >&2; exit 3': exit status 3"),
        "{msg}"
    );
    assert!(msg.ends_with("one\n  two"), "{msg}");
}

#[test]
fn check_output_pipes_stdout_and_checks() {
    assert_eq!(
        Command::new("printf").arg("a\\nb").check_output().unwrap(),
        b"a\nb"
    );
    assert_eq!(
        Command::new("echo")
            .arg("hi")
            .check_output_string()
            .unwrap(),
        "hi\n"
    );
    assert!(matches!(
        Command::new("false").check_output(),
        Err(Error::Failed { .. })
    ));
    match Command::new("printf").arg("\\377ok").check_output_string() {
        Err(Error::NotUtf8 {
            valid_up_to,
            output,
            ..
        }) => {
            assert_eq!(valid_up_to, 0);
            assert_eq!(output.stdout, b"\xffok");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn shell_passes_arguments_as_positional_parameters() {
    let out = sh("printf '%s|' \"$0\" \"$@\"")
        .args(["a b", "c"])
        .check_output_string()
        .unwrap();
    assert_eq!(out, "sh|a b|c|");
}

#[test]
fn not_found_names_the_program_and_the_path_searched() {
    let err = Command::new("spawn-no-such-program").run().unwrap_err();
    assert!(matches!(&err, Error::NotFound { program, .. } if program == "spawn-no-such-program"));
    let msg = err.to_string();
    assert!(msg.contains("spawn-no-such-program"), "{msg}");
    assert!(msg.contains("PATH="), "{msg}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn program_is_searched_in_the_childs_path() {
    // `ls` is in the parent's PATH, not in the child's.
    let err = Command::new("ls")
        .env("PATH", "/nonexistent-dir")
        .run()
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { searched, .. } if searched.contains("/nonexistent-dir")),
        "{err}"
    );
    // A directory of the child's PATH is searched even if the parent's lacks it.
    let tmp = tmpdir("path");
    let dir = tmp.path();
    let script = dir.join("only-here");
    std::fs::write(&script, "#!/bin/sh\necho found me\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new("only-here")
        .env("PATH", dir)
        .check_output_string()
        .unwrap();
    assert_eq!(out, "found me\n");
}

#[test]
fn permission_denied_and_directories() {
    let tmp = tmpdir("perm");
    let dir = tmp.path();
    let f = dir.join("not-executable");
    std::fs::write(&f, "#!/bin/sh\necho no\n").unwrap();
    let err = Command::new(&f).run().unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err}");
    let err = Command::new(dir).run().unwrap_err();
    assert!(err.is_spawn_error(), "{err}");
    assert!(err.to_string().contains(dir.to_str().unwrap()), "{err}");
}

#[test]
fn bad_cwd_names_the_directory() {
    let err = Command::new("true")
        .cwd("/nonexistent/dir")
        .run()
        .unwrap_err();
    match &err {
        Error::BadCwd { cwd, .. } => assert_eq!(cwd, std::path::Path::new("/nonexistent/dir")),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("/nonexistent/dir"));
    let out = Command::new("pwd")
        .cwd("/tmp")
        .check_output_string()
        .unwrap();
    assert_eq!(
        out.trim_end(),
        std::fs::canonicalize("/tmp").unwrap().to_str().unwrap()
    );
}

#[test]
fn nul_bytes_and_bad_env_keys_are_invalid_input() {
    for cmd in [
        Command::new("echo").arg("a\0b"),
        Command::new("echo").env("A\0", "x"),
        Command::new("echo").env("A=B", "x"),
        Command::new("echo").env("A", "x\0y"),
        Command::new(""),
        Command::new("ec\0ho"),
    ] {
        let err = cmd.run().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{cmd:?}: {err}");
    }
}

#[test]
fn environment_set_removed_and_cleared() {
    let out = Command::new("sh")
        .args(["-c", "echo \"$A|$HOME|$PATH\""])
        .env("A", "1")
        .env_remove("HOME")
        .check_output_string()
        .unwrap();
    assert!(out.starts_with("1||/"), "{out}");
    let out = Command::new("/usr/bin/env")
        .env_clear()
        .env("ONLY", "me")
        .check_output_string()
        .unwrap();
    assert_eq!(out, "ONLY=me\n");
}

#[test]
fn non_utf8_arguments_and_environment_reach_the_child() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let arg = OsStr::from_bytes(b"\xff\xfe-arg");
    let val = OsStr::from_bytes(b"\x80val");
    let out = Command::new("sh")
        .args(["-c", "printf '%s|%s' \"$1\" \"$V\"", "sh"])
        .arg(arg)
        .env("V", val)
        .check_output()
        .unwrap();
    assert_eq!(out, b"\xff\xfe-arg|\x80val");
}

#[test]
fn input_is_fed_while_output_is_drained() {
    let input: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let out = Command::new("cat")
        .input(input.clone())
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input);
    assert_eq!(out.report.stdin_bytes, input.len() as u64);
    assert_eq!(out.report.stdout_bytes, input.len() as u64);
}

#[test]
fn child_writing_stderr_before_reading_stdin_does_not_deadlock() {
    // The classic: 1 MiB to stderr first (more than a pipe holds), then read
    // all of stdin; we feed 1 MiB at the same time.
    let script = "import sys\nsys.stderr.write('e' * (1 << 20))\nsys.stderr.flush()\ndata = sys.stdin.buffer.read()\nsys.stdout.write(str(len(data)))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .input(vec![b'x'; 1 << 20])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .timeout(Duration::from_secs(60))
        .check()
        .unwrap();
    assert_eq!(out.stdout, b"1048576");
    assert_eq!(out.stderr.len(), 1 << 20);
}

#[test]
fn a_child_that_closes_stdin_is_not_an_error() {
    let out = Command::new("head")
        .args(["-c", "10"])
        .input(vec![b'y'; 16 << 20])
        .stdout(Stdio::piped())
        .run()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"yyyyyyyyyy");
    assert!(out.report.input_broken);
    assert!(out.report.stdin_bytes < 16 << 20);
}

#[test]
fn input_with_a_non_piped_stdin_is_invalid() {
    let err = Command::new("cat")
        .stdin(Stdio::null())
        .input("x")
        .run()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
}

#[test]
fn merge_keeps_the_order_of_both_streams() {
    let out = sh("echo 1; echo 2 >&2; echo 3; echo 4 >&2")
        .stdout(Stdio::piped())
        .stderr(Stdio::merge())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"1\n2\n3\n4\n");
    assert!(out.stderr.is_empty());
    // Merged into a sink too.
    let out = sh("echo a; echo b >&2")
        .stdout(Sink::collect_limit(100))
        .stderr(Stdio::merge())
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"a\nb\n");
}

#[test]
fn null_and_files() {
    let out = sh("echo gone; echo also >&2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .run()
        .unwrap();
    assert!(out.stdout.is_empty() && out.status.success());
    let tmp = tmpdir("files");
    let dir = tmp.path();
    let path = dir.join("out.txt");
    let f = std::fs::File::create(&path).unwrap();
    sh("echo to-file").stdout(f).check().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"to-file\n");
    let input = std::fs::File::open(&path).unwrap();
    let out = Command::new("cat").stdin(input).check_output().unwrap();
    assert_eq!(out, b"to-file\n");
}

#[test]
fn sinks_keep_what_they_promise() {
    // collect_limit truncates and counts.
    let out = Command::new("seq")
        .arg("1000")
        .stdout(Sink::collect_limit(10))
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"1\n2\n3\n4\n5\n");
    assert_eq!(out.report.stdout_bytes, 3893);
    assert_eq!(out.report.stdout_dropped, 3883);
    // head_tail keeps both ends.
    let out = Command::new("seq")
        .arg("100000")
        .stdout(Sink::head_tail(4, 7))
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"1\n2\n100000\n");
    // discard counts.
    let out = Command::new("head")
        .args(["-c", "1000000", "/dev/zero"])
        .stdout(Sink::discard())
        .run()
        .unwrap();
    assert!(out.stdout.is_empty());
    assert_eq!(out.report.stdout_bytes, 1_000_000);
    // file.
    let tmp = tmpdir("sinks");
    let dir = tmp.path();
    let path = dir.join("f");
    sh("echo filed").stdout(Sink::file(&path)).check().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"filed\n");
    // writer and tee.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let w = Shared::default();
    let out = sh("echo teed")
        .stdout(Sink::tee(Sink::collect(), Sink::writer(w.clone())))
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"teed\n");
    assert_eq!(*w.0.lock().unwrap(), b"teed\n");
    // lines.
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l2 = Arc::clone(&lines);
    sh("printf 'x\\ny\\nz'")
        .stdout(Sink::lines(move |l| {
            l2.lock()
                .unwrap()
                .push(String::from_utf8_lossy(l).into_owned());
        }))
        .check()
        .unwrap();
    assert_eq!(*lines.lock().unwrap(), ["x", "y", "z"]);
}

#[test]
fn collect_limit_can_stop_the_child_with_an_error() {
    let start = Instant::now();
    let err = Command::new("yes")
        .stdout(Sink::collect_limit(1000).error_on_overflow())
        .run()
        .unwrap_err();
    match err {
        Error::OutputLimit {
            stream,
            limit,
            partial,
            ..
        } => {
            assert_eq!(stream, StreamName::Stdout);
            assert_eq!(limit, 1000);
            assert_eq!(partial.stdout.len(), 1000);
            assert!(partial.stdout.starts_with(b"y\ny\n"));
            assert_eq!(partial.status.signal(), Some(15));
        }
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn the_log_tags_each_chunk_with_its_stream() {
    let log = Log::new();
    sh("echo out; echo err >&2")
        .stdout(Sink::log(&log))
        .stderr(Sink::log(&log))
        .check()
        .unwrap();
    let mut chunks = log.take();
    chunks.sort_by_key(|c| c.stream == StreamName::Stderr);
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        (chunks[0].stream, chunks[0].data.as_slice()),
        (StreamName::Stdout, &b"out\n"[..])
    );
    assert_eq!(
        (chunks[1].stream, chunks[1].data.as_slice()),
        (StreamName::Stderr, &b"err\n"[..])
    );
}

#[test]
fn timeout_returns_the_partial_output() {
    let start = Instant::now();
    let err = sh("echo partial; exec sleep 60")
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    let elapsed = start.elapsed();
    match &err {
        Error::Timeout { partial, .. } => {
            assert_eq!(partial.stdout, b"partial\n");
            assert_eq!(partial.status.signal(), Some(15));
            assert!(partial.report.timed_out);
        }
        other => panic!("{other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(300));
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::TimedOut
    );
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn timeout_stops_the_whole_process_group() {
    // The grandchild's pid comes out on stdout; after the timeout it is gone.
    let err = sh("sleep 60 & echo $!; wait")
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    let partial = err.into_output().unwrap();
    let pid = String::from_utf8(partial.stdout).unwrap();
    let pid = pid.trim();
    assert!(!pid.is_empty());
    let start = Instant::now();
    while alive(pid) && start.elapsed() < Duration::from_secs(30) {
        std::thread::yield_now();
    }
    assert!(!alive(pid), "grandchild {pid} survived the timeout");
}

#[test]
fn a_child_ignoring_term_is_killed_after_the_grace() {
    let err = Command::new("python3")
        .args(["-c", "import signal,sys,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\nwhile True: time.sleep(1)"])
        .stdout(Stdio::piped())
        .timeout(Duration::from_millis(500))
        .kill_grace(Duration::from_millis(200))
        .run()
        .unwrap_err();
    let partial = err.into_output().unwrap();
    assert_eq!(partial.status.signal(), Some(9));
}

#[test]
fn a_grandchild_holding_stdout_does_not_hang_the_caller() {
    let start = Instant::now();
    let out = sh("sleep 60 & echo $!")
        .stdout(Stdio::piped())
        .eof_grace(Duration::from_millis(100))
        .run()
        .unwrap();
    assert!(out.status.success());
    assert!(out.report.stdout_abandoned);
    assert!(start.elapsed() < Duration::from_secs(30));
    let pid = String::from_utf8(out.stdout).unwrap();
    // Clean up the orphan.
    let _ = Command::new("kill").arg(pid.trim()).run();
}

#[test]
fn streaming_through_a_bounded_sink_keeps_memory_flat() {
    fn rss_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    }
    let before = rss_kib();
    let out = Command::new("head")
        .args(["-c", "536870912", "/dev/zero"])
        .stdout(Sink::head_tail(1 << 16, 1 << 16))
        .run()
        .unwrap();
    assert_eq!(out.report.stdout_bytes, 512 << 20);
    assert_eq!(out.stdout.len(), 2 << 16);
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 16 << 10, "RSS grew by {grown} KiB");
}

#[test]
fn report_has_rusage_and_timings() {
    let out = Command::new("python3")
        .args(["-c", "x = bytearray(64 << 20)\nsum(range(2000000))"])
        .run()
        .unwrap();
    assert!(out.report.max_rss_bytes >= 64 << 20, "{:?}", out.report);
    assert!(out.report.user_time + out.report.system_time > Duration::ZERO);
    assert!(out.report.wall >= out.report.spawn_time);
    assert!(out.report.pid > 0);
}

#[test]
fn output_and_errors_serialize() {
    let out = sh("echo hi; exit 2").stdout(Stdio::piped()).run().unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["status"]["code"], 2);
    assert_eq!(v["status"]["success"], false);
    assert_eq!(v["stdout"], "hi\n");
    assert_eq!(v["report"]["stdout_bytes"], 3);
    assert!(v["report"]["wall_ms"].as_f64().unwrap() > 0.0);
    let err = Command::new("spawn-nope").run().unwrap_err();
    let v = serde_json::to_value(&err).unwrap();
    assert_eq!(v["kind"], "not_found");
    assert!(v["message"].as_str().unwrap().contains("spawn-nope"));
}

#[test]
fn a_command_is_reusable() {
    let cmd = Command::new("echo").arg("again").stdout(Stdio::piped());
    for _ in 0..3 {
        assert_eq!(cmd.run().unwrap().stdout, b"again\n");
    }
}

#[test]
fn file_sinks_get_every_byte_spliced_or_appended() {
    let tmp = tmpdir("splice");
    let dir = tmp.path();
    let path = dir.join("big");
    // 32 MiB of a pattern, through a file sink (splice(2) path).
    let script = "import sys\nb = bytes(range(256)) * 4096\nfor _ in range(32): sys.stdout.buffer.write(b)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .stdout(Sink::file(&path))
        .check()
        .unwrap();
    assert_eq!(out.report.stdout_bytes, 32 << 20);
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len(), 32 << 20);
    assert!(
        data.chunks(256)
            .all(|c| c.iter().enumerate().all(|(i, &b)| b as usize == i))
    );
    // Appending (O_APPEND refuses splice: the copying path takes over).
    sh("echo one")
        .stdout(Sink::append_file(&path))
        .check()
        .unwrap();
    sh("echo two")
        .stdout(Sink::append_file(&path))
        .check()
        .unwrap();
    let data = std::fs::read(&path).unwrap();
    assert!(data.ends_with(b"one\ntwo\n"));
    assert_eq!(data.len(), (32 << 20) + 8);
}

#[test]
fn credentials_and_rlimits_apply_or_fail_clearly() {
    let out = Command::shell("ulimit -n")
        .rlimit(libc::RLIMIT_NOFILE as i32, 64, 64)
        .check_output_string()
        .unwrap();
    assert_eq!(out, "64\n");
    let root = Command::new("id").arg("-u").check_output_string().unwrap() == "0\n";
    let r = Command::new("id")
        .args(["-u"])
        .uid(65534)
        .gid(65534)
        .groups(vec![])
        .check_output_string();
    if root {
        assert_eq!(r.unwrap(), "65534\n");
    } else {
        let err = r.unwrap_err();
        assert!(err.to_string().contains("setting the user"), "{err}");
    }
}
