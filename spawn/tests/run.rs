//! `Command::run` and friends against real processes: defaults, routes,
//! input, sinks, errors, serde. The behaviour cases that the async driver
//! must agree on (run, check, sinks, timeouts, grandchildren) are in the
//! shared table, `tests/cases`, run by `tests/async_cases.rs`.

use spawn::{Command, Error, Sink, Stdio};

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
fn shell_passes_arguments_as_positional_parameters() {
    let out = sh("printf '%s|' \"$0\" \"$@\"")
        .args(["a b", "c"])
        .check_output_string()
        .unwrap();
    assert_eq!(out, "sh|a b|c|");
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
