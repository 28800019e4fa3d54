//! The launch step against real processes: the `PATH` search from the
//! child's working directory, and spawn errors that blame the right thing
//! (a missing `#!` interpreter, a NUL in `arg0`, a bad process group).
//! Each case runs on the `posix_spawn` path and, with an option that needs
//! it (`umask`), on the fork path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use spawn::{Command, Error};

/// A fresh directory for one test, removed when the returned guard drops.
fn tmpdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("spawn-launch-{name}-"))
        .tempdir()
        .unwrap()
}

/// An executable file at `path` holding `text`.
fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `cmd` as is (`clone3`, or `posix_spawn`) and with a umask (the fork
/// path).
fn both_paths(cmd: &Command) -> [(&'static str, Command); 2] {
    [("no fork", cmd.clone()), ("fork", cmd.clone().umask(0o022))]
}

#[test]
fn relative_and_empty_path_entries_are_searched_from_the_childs_cwd() {
    let tmp = tmpdir("path");
    let dir = tmp.path();
    script(&dir.join("bin/prog"), "#!/bin/sh\necho from-bin\n");
    script(&dir.join("prog"), "#!/bin/sh\necho from-dot\n");
    let cases = [
        ("bin", "from-bin\n"),
        ("./bin", "from-bin\n"),
        (".", "from-dot\n"),
        ("/nonexistent:", "from-dot\n"),
        ("/nonexistent::/also-not", "from-dot\n"),
        (":bin", "from-dot\n"),
        ("/nonexistent:bin", "from-bin\n"),
    ];
    for (path, expect) in cases {
        let cmd = Command::new("prog").env("PATH", path).cwd(dir);
        for (how, cmd) in both_paths(&cmd) {
            let out = cmd
                .check_output_string()
                .unwrap_or_else(|e| panic!("PATH={path} ({how}): {e}"));
            assert_eq!(out, expect, "PATH={path} ({how})");
        }
    }
    // Our own working directory has no bin/prog: without the child's cwd
    // the same PATH finds nothing, and the error says what was searched.
    assert!(!Path::new("bin/prog").exists());
    match Command::new("prog").env("PATH", "bin").run() {
        Err(Error::NotFound { program, searched }) => {
            assert_eq!(
                (program.as_str(), searched.as_str()),
                ("prog", "searched PATH=bin")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_interpreter_is_named_not_the_script() {
    let tmp = tmpdir("interp");
    let dir = tmp.path();
    script(&dir.join("script"), "#!/no/such/interp -x\necho never\n");
    script(&dir.join("spaced"), "#! \t/no/such/other\n");
    script(&dir.join("ok"), "#!/bin/sh\necho fine\n");
    let absolute = dir.join("script");
    let cases = [
        (
            Command::new("./script").cwd(dir),
            "./script",
            "/no/such/interp",
        ),
        (
            Command::new(&absolute),
            absolute.to_str().unwrap(),
            "/no/such/interp",
        ),
        // Found in PATH: the resolved file is the one read.
        (
            Command::new("spaced").env("PATH", dir),
            "spaced",
            "/no/such/other",
        ),
    ];
    for (cmd, program, interpreter) in cases {
        for (how, cmd) in both_paths(&cmd) {
            let e = cmd.run().unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{program}: its interpreter {interpreter} (from its #! line) was not found"
                ),
                "{how}"
            );
            match &e {
                Error::InterpreterNotFound {
                    program: p,
                    interpreter: i,
                } => assert_eq!((p.as_str(), i.as_str()), (program, interpreter), "{how}"),
                other => panic!("{how}: {other:?}"),
            }
            assert_eq!(e.kind(), "interpreter_not_found");
            assert!(e.is_spawn_error());
            assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::NotFound);
        }
    }
    // A missing program is still "not found", and a script whose
    // interpreter exists runs.
    for (how, cmd) in both_paths(&Command::new("./nope").cwd(dir)) {
        match cmd.run() {
            Err(Error::NotFound { program, .. }) => assert_eq!(program, "./nope", "{how}"),
            other => panic!("{how}: {other:?}"),
        }
    }
    let ok = Command::new("./ok").cwd(dir).check_output_string().unwrap();
    assert_eq!(ok, "fine\n");
}

#[test]
fn a_nul_in_arg0_blames_arg0() {
    let e = Command::new("true").arg0("tr\0ue").run().unwrap_err();
    match &e {
        Error::InvalidInput { program, reason } => {
            assert_eq!(program, "true");
            assert_eq!(reason, "arg0 (\"tr\\0ue\") contains a NUL byte");
        }
        other => panic!("{other:?}"),
    }
    // The program name itself is still blamed when it is the culprit.
    match Command::new("tr\0ue").run().unwrap_err() {
        Error::InvalidInput { reason, .. } => {
            assert_eq!(reason, "the program name contains a NUL byte");
        }
        other => panic!("{other:?}"),
    }
    // A good arg0 reaches the child.
    let out = Command::new("sh")
        .arg0("my-name")
        .args(["-c", "echo $0"])
        .check_output_string()
        .unwrap();
    assert_eq!(out, "my-name\n");
}

#[test]
fn a_process_group_out_of_range_is_refused_before_spawning() {
    for pgid in [u32::MAX, 1 << 31] {
        let cmd = Command::new("true").process_group(pgid);
        for (how, cmd) in both_paths(&cmd) {
            match cmd.run() {
                Err(Error::InvalidInput { program, reason }) => {
                    assert_eq!(program, "true");
                    assert_eq!(
                        reason,
                        format!("process_group({pgid}): a process group id is at most 2147483647"),
                        "{how}"
                    );
                }
                other => panic!("{how}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_group_that_cannot_be_joined_names_the_step_and_the_group() {
    // No process has pid i32::MAX (pid_max is at most 2^22), so no group
    // has that id: setpgid refuses it (EPERM) in the child.
    let pgid = i32::MAX as u32;
    let cmd = Command::new("true").process_group(pgid);
    for (how, cmd) in both_paths(&cmd) {
        let e = cmd.run().unwrap_err();
        assert!(matches!(e, Error::Spawn { .. }), "{how}: {e:?}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("true: cannot start: joining process group 2147483647 failed: "),
            "{how}: {msg}"
        );
    }
}

/// `Pipeline::run` and `Pipeline::spawn` of `pipeline` are refused with
/// `InvalidInput` naming `program` and saying `reason`, and no stage
/// started: `marker`, which a stage would create, is not there.
fn refused_before_any_stage(
    pipeline: &spawn::Pipeline,
    marker: &Path,
    program: &str,
    reason: &str,
) {
    for (how, result) in [
        ("run", pipeline.run().map(|_| ())),
        ("spawn", pipeline.spawn().and_then(|c| c.wait()).map(|_| ())),
    ] {
        match result {
            Err(Error::InvalidInput {
                program: p,
                reason: r,
            }) => {
                assert_eq!((p.as_str(), r.as_str()), (program, reason), "{how}");
            }
            other => panic!("{how}: {other:?}"),
        }
        assert!(!marker.exists(), "{how}: a stage was started");
    }
}

#[test]
fn a_merged_stdin_is_refused_before_any_stage_starts() {
    let tmp = tmpdir("merged-stdin");
    let marker = tmp.path().join("started");
    let pipeline =
        (Command::new("cat") | Command::new("touch").arg(&marker)).stdin(spawn::Stdio::merge());
    refused_before_any_stage(
        &pipeline,
        &marker,
        "cat",
        "Stdio::merge() is for stdout or stderr",
    );
}

#[test]
fn a_stage_process_group_out_of_range_is_refused_before_any_stage_starts() {
    let tmp = tmpdir("stage-pgid");
    let marker = tmp.path().join("started");
    let pipeline =
        Command::new("touch").arg(&marker) | Command::new("true").process_group(u32::MAX);
    refused_before_any_stage(
        &pipeline,
        &marker,
        "true",
        "process_group(4294967295): a process group id is at most 2147483647",
    );
}

#[test]
fn a_new_session_that_also_names_a_process_group_is_refused_before_spawning() {
    // A session's leader leads a group of its own: setpgid after setsid
    // fails (EPERM) in the child, so the two cannot both be asked for.
    for pgid in [0, 1] {
        let cmd = Command::new("true").new_session().process_group(pgid);
        for (how, cmd) in both_paths(&cmd) {
            match cmd.run() {
                Err(Error::InvalidInput { program, reason }) => {
                    assert_eq!(program, "true", "{how}");
                    assert!(
                        reason.starts_with(&format!(
                            "new_session() and process_group({pgid}) were both given"
                        )),
                        "{how}: {reason}"
                    );
                }
                other => panic!("{how}: {other:?}"),
            }
        }
    }
}
