//! The `spawn` CLI, run as a user would: its `--help` texts, `--json` shapes and
//! text outputs as insta snapshots (pids, times and memory redacted), and its
//! behaviour (exit codes, `many`'s summary and untorn lines, timeouts) as plain
//! assertions.
//!
//! The binary is found (and built if needed) by `spawn_tests::spawn_cli`; see
//! the crate docs of `spawn-tests`.

use std::ffi::OsStr;
use std::time::Duration;

use insta::{assert_json_snapshot, assert_snapshot};
use serde_json::Value;
use spawn_tests::{Ran, cli, cli_with_input, filters};

/// Runs `f` with the text filters of [`filters`] applied to snapshots.
fn with_filters(f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in filters() {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(f);
}

/// Replaces what changes from run to run in the CLI's JSON: pids, times
/// (`*_ms`, `*_us`) and memory (`max_rss_bytes`), at any depth.
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let placeholder = if k == "pid" {
                    Some("[pid]")
                } else if k.ends_with("_ms") {
                    Some("[ms]")
                } else if k.ends_with("_us") {
                    Some("[us]")
                } else if k == "max_rss_bytes" {
                    Some("[rss]")
                } else if k == "spawn_path" && v == "posix_spawn" && spawn_tests::portable_backend()
                {
                    // See `portable_backend`.
                    Some("clone3")
                } else {
                    None
                };
                match placeholder {
                    Some(p) if !v.is_null() => *v = Value::String(p.to_owned()),
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Parses one JSON value per line of `text`.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The single JSON object a `--json` run printed, redacted.
fn json_of(ran: &Ran) -> Value {
    let mut values = json_lines(&ran.stdout);
    assert_eq!(values.len(), 1, "one JSON object expected: {ran:?}");
    let mut v = values.remove(0);
    redact(&mut v);
    v
}

// ---------------------------------------------------------------- --help

#[test]
fn help_spawn() {
    let ran = cli(["--help"]);
    assert_eq!(ran.code(), 0);
    assert_snapshot!(ran.render());
}

#[test]
fn help_run() {
    let ran = cli(["run", "--help"]);
    assert_eq!(ran.code(), 0);
    assert_snapshot!(ran.render());
}

#[test]
fn help_many() {
    let ran = cli(["many", "--help"]);
    assert_eq!(ran.code(), 0);
    assert_snapshot!(ran.render());
}

#[test]
fn help_pipe() {
    let ran = cli(["pipe", "--help"]);
    assert_eq!(ran.code(), 0);
    assert_snapshot!(ran.render());
}

#[test]
fn help_trace() {
    let ran = cli(["trace", "--help"]);
    assert_eq!(ran.code(), 0);
    assert_snapshot!(ran.render());
}

// ---------------------------------------------------------------- run --json

#[test]
fn run_json_success() {
    let ran = cli(["run", "--json", "--", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stderr, "");
    with_filters(|| assert_json_snapshot!(json_of(&ran)));
}

#[test]
fn run_json_failure() {
    let ran = cli([
        "run",
        "--json",
        "--",
        "sh",
        "-c",
        "echo partial result; echo 'something broke' >&2; exit 3",
    ]);
    assert_eq!(ran.code(), 3, "{ran:?}");
    with_filters(|| assert_json_snapshot!(json_of(&ran)));
}

#[test]
fn run_json_timeout_keeps_partial_output() {
    let ran = cli([
        "run",
        "--json",
        "--timeout",
        "0.5",
        "--",
        "sh",
        "-c",
        "echo before the timeout; echo on stderr too >&2; sleep 30",
    ]);
    assert_eq!(ran.code(), 124, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    with_filters(|| assert_json_snapshot!(json_of(&ran)));
}

#[test]
fn run_json_not_found() {
    let ran = cli(["run", "--json", "--", "no-such-program-for-spawn", "arg"]);
    assert_eq!(ran.code(), 127, "{ran:?}");
    with_filters(|| assert_json_snapshot!(json_of(&ran)));
}

#[test]
fn run_capture_text() {
    let ran = cli([
        "run",
        "--capture",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ]);
    assert_eq!(ran.code(), 5);
    assert_snapshot!(ran.render());
}

// ---------------------------------------------------------------- many

#[test]
fn many_tag_one_at_a_time() {
    let ran = cli([
        "many",
        "-j",
        "1",
        "--tag",
        "--",
        ":::",
        "echo one",
        "printf 'two\\nthree\\n'",
        "sh -c 'echo oops >&2; exit 3'",
        "no-such-program-for-spawn",
        "echo 'last one'",
    ]);
    // Two failed: the exit code is the number of failed jobs.
    assert_eq!(ran.code(), 2, "{ran:?}");
    assert_snapshot!(ran.render());
}

/// With `-j 4` lines of different commands may come in any order: the
/// snapshot holds them sorted.
#[test]
fn many_tag_in_parallel_sorted() {
    let ran = cli([
        "many",
        "-j",
        "4",
        "--tag",
        "--",
        ":::",
        "seq 1 3",
        "seq 4 6",
        "sh -c 'echo a >&2; echo b'",
        "true",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    let sorted = |s: &str| {
        let mut lines: Vec<&str> = s.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    assert_snapshot!(format!(
        "----- stdout (sorted) -----\n{}\n----- stderr (sorted) -----\n{}",
        sorted(&ran.stdout),
        sorted(&ran.stderr)
    ));
}

#[test]
fn many_json() {
    let ran = cli([
        "many",
        "--json",
        "-j",
        "2",
        "--",
        ":::",
        "echo hello",
        "sh -c 'echo bad >&2; exit 2'",
        "no-such-program-for-spawn",
    ]);
    assert_eq!(ran.code(), 2, "{ran:?}");
    // One object per job as it ends: in completion order, sorted here.
    let mut values = json_lines(&ran.stdout);
    values.iter_mut().for_each(redact);
    values.sort_by_key(|v| v["index"].as_u64());
    with_filters(|| assert_json_snapshot!(values));
    assert_snapshot!("many_json_stderr", ran.stderr);
}

// ---------------------------------------------------------------- pipe

#[test]
fn pipe_statuses() {
    let ran = cli([
        "pipe",
        "--",
        "printf",
        "b\\na\\nc\\n",
        "::",
        "sort",
        "::",
        "sh",
        "-c",
        "cat; exit 4",
    ]);
    assert_eq!(ran.code(), 4, "{ran:?}");
    assert_snapshot!(ran.render());
}

/// `yes | head -n 2`: `yes` dies of SIGPIPE once `head` is gone, which
/// counts as success for the pipeline.
#[test]
fn pipe_sigpipe_upstream_is_success() {
    let ran = cli(["pipe", "--", "yes", "::", "head", "-n", "2"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_snapshot!(ran.render());
}

#[test]
fn pipe_json() {
    let ran = cli([
        "pipe",
        "--json",
        "--input",
        "x\ny\nz\n",
        "--",
        "sort",
        "-r",
        "::",
        "sh",
        "-c",
        "cat; echo done >&2",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    with_filters(|| assert_json_snapshot!(json_of(&ran)));
}

// ---------------------------------------------------------------- trace

/// The name of the variant a serialized core enum value stands for, with
/// the variant inside it when that is an enum too (`Action.Read`).
fn variant_path(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(map) if map.len() == 1 => {
            let (k, inner) = map.iter().next().expect("one entry");
            match inner {
                Value::String(s) if s.starts_with(char::is_uppercase) => format!("{k}.{s}"),
                Value::Object(m)
                    if m.len() == 1 && m.keys().all(|k| k.starts_with(char::is_uppercase)) =>
                {
                    format!("{k}.{}", variant_path(inner))
                }
                _ => k.clone(),
            }
        }
        Value::Object(map) => {
            // A struct-like value: name it by its `kind`/`type` field if any.
            map.get("kind")
                .or_else(|| map.get("type"))
                .and_then(Value::as_str)
                .map_or_else(|| "{..}".to_owned(), str::to_owned)
        }
        other => other.to_string(),
    }
}

/// `spawn trace` of a small run. The exact interleaving of events (the
/// child's exit against the EOF of its pipes, a spurious wake-up that finds
/// nothing to read) varies from run to run, so the snapshot holds a
/// normalised form: the set of kinds of events and outputs that occurred,
/// sorted, each once, without the `*WouldBlock` events (whether a read finds
/// the pipe empty is a matter of timing).
#[test]
fn trace_kinds() {
    let ran = cli([
        "trace",
        "--json",
        "--",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    let mut kinds: Vec<String> = json_lines(&ran.stdout)
        .iter()
        .map(|v| {
            let kind = v["kind"].as_str().unwrap_or("?").to_owned();
            let inner = &v[kind.as_str()];
            format!("{kind} {}", variant_path(inner))
        })
        .filter(|k| !k.ends_with("WouldBlock"))
        .collect();
    assert!(kinds.len() > 3, "{ran:?}");
    kinds.sort();
    kinds.dedup();
    assert_snapshot!(kinds.join("\n"));
    with_filters(|| assert_snapshot!("trace_kinds_stderr", ran.stderr));
}

/// `spawn trace --json`: the run starts with the core asking to start the
/// child and ends with it finished and the core waiting for nothing, and the
/// outcome counts the bytes of each stream.
#[test]
fn trace_json_starts_and_finishes() {
    let ran = cli([
        "trace",
        "--json",
        "--",
        "sh",
        "-c",
        "echo hello; echo oops >&2",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    let steps = json_lines(&ran.stdout);
    let first = steps.first().expect("steps");
    assert_eq!(variant_path(&first["output"]), "Action.Start", "{first}");
    let last = steps.last().expect("steps");
    assert_eq!(last["output"]["Wait"]["reason"], "Done", "{last}");
    let finished: Vec<&Value> = steps
        .iter()
        .filter_map(|s| s["output"].get("Finished"))
        .collect();
    assert_eq!(finished.len(), 1, "{}", ran.stdout);
    let outcome = &finished[0]["outcome"];
    assert_eq!(outcome["stdout_bytes"], 6, "{outcome}");
    assert_eq!(outcome["stderr_bytes"], 5, "{outcome}");
    assert_eq!(outcome["status"], 0, "{outcome}");
    for step in &steps {
        assert!(step["at_us"].is_u64(), "no time: {step}");
    }
}

/// The text form of a trace: one line per step, each starting with its time.
#[test]
fn trace_text_lines_have_times() {
    let ran = cli(["trace", "--", "echo", "hello"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(ran.stdout.lines().count() > 3, "{ran:?}");
    for line in ran.stdout.lines() {
        let time = line.split_whitespace().next().unwrap_or("");
        assert!(time.parse::<f64>().is_ok(), "no time first: {line:?}");
        assert!(line.contains(" ms "), "{line:?}");
    }
    assert!(ran.stderr.contains("exit status 0"), "{ran:?}");
    assert!(ran.stderr.contains("6 bytes of stdout"), "{ran:?}");
}

// ---------------------------------------------------------------- behaviour

/// `spawn run --pty` runs the child on a terminal: `ls --color=auto`
/// colours its output (and does not without `--pty`); stderr comes
/// through the terminal too.
#[test]
fn run_pty_shows_colours() {
    let ran = cli(["run", "--pty", "--", "ls", "--color=auto", "/"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(ran.stdout.contains("\x1b["), "{ran:?}");
    let ran = cli(["run", "--", "ls", "--color=auto", "/"]);
    assert!(!ran.stdout.contains('\x1b'), "{ran:?}");
    let ran = cli([
        "run",
        "--pty",
        "--capture",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(ran.stdout, "out\r\nerr\r\n", "{ran:?}");
}

#[test]
fn run_exit_code_mirrors_the_child() {
    for code in [0, 1, 7, 42, 255] {
        let ran = cli(["run", "--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(ran.code(), code, "{ran:?}");
    }
}

#[test]
fn run_killed_by_signal_exits_128_plus_n() {
    for (sig, n) in [("TERM", 15), ("KILL", 9), ("INT", 2)] {
        let ran = cli(["run", "--", "sh", "-c", &format!("kill -{sig} $$")]);
        assert_eq!(ran.code(), 128 + n, "{sig}: {ran:?}");
    }
}

#[test]
fn run_not_found_exits_127_and_names_the_program() {
    let ran = cli(["run", "--", "no-such-program-for-spawn"]);
    assert_eq!(ran.code(), 127, "{ran:?}");
    assert!(ran.stderr.contains("no-such-program-for-spawn"), "{ran:?}");
}

#[test]
fn run_timeout_exits_124_soon() {
    let ran = cli(["run", "--timeout", "0.3", "--", "sleep", "30"]);
    assert_eq!(ran.code(), 124, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
}

/// `--idle-timeout`: output passed through as it comes, then the quiet
/// child is stopped with the timeout's exit code.
#[test]
fn run_idle_timeout_passes_output_through_and_exits_124() {
    let ran = cli([
        "run",
        "--idle-timeout",
        "0.3",
        "--",
        "sh",
        "-c",
        "echo hi; echo err >&2; sleep 30",
    ]);
    assert_eq!(ran.code(), 124, "{ran:?}");
    assert_eq!(ran.stdout, "hi\n", "{ran:?}");
    assert!(ran.stderr.contains("err\n"), "{ran:?}");
    assert!(ran.stderr.contains("no output for 0.300s"), "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
}

#[test]
fn run_passes_input_env_and_cwd() {
    let ran = cli([
        "run",
        "--capture",
        "--input",
        "fed\n",
        "--env",
        "GREETING=hi there",
        "--cwd",
        "/",
        "--",
        "sh",
        "-c",
        "read line; echo \"$line|$GREETING|$(pwd)\"",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "fed|hi there|/\n");
}

#[test]
fn run_stdin_from_a_file() {
    let path = spawn_tests::workspace_root().join("spawn/examples/index.rst");
    let ran = cli([
        OsStr::new("run"),
        OsStr::new("--capture"),
        OsStr::new("--stdin"),
        path.as_os_str(),
        OsStr::new("--"),
        OsStr::new("wc"),
        OsStr::new("-c"),
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    let size = std::fs::metadata(&path).expect("index.rst").len();
    assert_eq!(ran.stdout.trim(), size.to_string());
}

#[test]
fn run_merge_sends_stderr_to_stdout() {
    let ran = cli([
        "run",
        "--capture",
        "--merge",
        "--",
        "sh",
        "-c",
        "echo 1; echo 2 >&2; echo 3",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "1\n2\n3\n");
    assert_eq!(ran.stderr, "");
}

#[test]
fn many_fails_when_one_fails_and_prints_a_summary() {
    let ran = cli(["many", "-j", "2", "--", ":::", "true", "false", "true"]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert!(
        ran.stderr.contains("3 jobs, 1 failed"),
        "no summary: {ran:?}"
    );
    // Not a terminal: no live progress line.
    assert!(!ran.stderr.contains('\r'), "{ran:?}");
    // Off a terminal, a run where every job succeeded says nothing.
    let ok = cli(["many", "-j", "2", "--", ":::", "true", "true"]);
    assert_eq!(ok.code(), 0, "{ok:?}");
    assert_eq!(ok.stderr, "", "{ok:?}");
    let one = cli(["many", "--", ":::", "false"]);
    assert!(one.stderr.contains("1 job, 1 failed"), "{one:?}");
}

#[test]
fn many_reads_commands_from_stdin() {
    let ran = cli_with_input(
        ["many", "-j", "2", "--tag"],
        b"echo first\n\necho 'second one'\nsh -c 'exit 0'\n",
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    let mut lines: Vec<&str> = ran.stdout.lines().collect();
    lines.sort_unstable();
    // `--tag`: the job's input (here its command line) and a TAB.
    assert_eq!(
        lines,
        ["echo 'second one'\tsecond one", "echo first\tfirst"]
    );
    assert_eq!(ran.stderr, "", "{ran:?}");
}

#[test]
fn many_shell_runs_each_command_with_sh() {
    let ran = cli([
        "many",
        "--shell",
        "-j",
        "1",
        "--",
        ":::",
        "echo a | tr a b",
        "exit 0",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "b\n");
}

#[test]
fn many_runs_commands_at_once() {
    let ran = cli([
        "many",
        "-j",
        "4",
        "--",
        ":::",
        "sleep 0.5",
        "sleep 0.5",
        "sleep 0.5",
        "sleep 0.5",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(
        ran.elapsed < Duration::from_millis(1500),
        "4 x 0.5 s with -j 4 took {:?}",
        ran.elapsed
    );
}

/// 4 children print 2,000 lines of 1,000 bytes each, at once, in chunks
/// that do not end at line ends (awk's buffered output): with
/// `--line-buffer` every line comes out whole, with the tag of its own job
/// (`--tagstring '[{#}]'`), and none is lost.
#[test]
fn many_lines_are_never_torn() {
    const LINES: usize = 2000;
    const WIDTH: usize = 1000;
    let cmds: Vec<String> = (0..4)
        .map(|id| {
            format!(
                "awk 'BEGIN {{ s = sprintf(\"%{WIDTH}s\", \"\"); gsub(/ /, \"{id}\", s); \
                 for (i = 0; i < {LINES}; i++) print i \":\" s }}'"
            )
        })
        .collect();
    let mut args = vec![
        "many".to_owned(),
        "-j".into(),
        "4".into(),
        "--line-buffer".into(),
        "--tagstring".into(),
        "[{#}]".into(),
        "--".into(),
        ":::".into(),
    ];
    args.extend(cmds);
    let ran = cli(&args);
    assert_eq!(ran.code(), 0, "{}", ran.stderr);
    let mut seen = [0usize; 4];
    for line in ran.stdout.lines() {
        let (tag, rest) = line
            .split_once("]\t")
            .unwrap_or_else(|| panic!("untagged line: {line:.80}"));
        let id: usize = tag
            .strip_prefix('[')
            .and_then(|t| t.parse::<usize>().ok())
            .map(|seq| seq - 1)
            .unwrap_or_else(|| panic!("bad tag: {line:.80}"));
        let (n, body) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("torn line: {line:.80}"));
        assert_eq!(
            n.parse::<usize>().ok(),
            Some(seen[id]),
            "line out of order or torn: {line:.80}"
        );
        let digit = char::from_digit(u32::try_from(id).expect("small"), 10).expect("digit");
        assert!(
            body.len() == WIDTH && body.chars().all(|c| c == digit),
            "torn or mixed line: {line:.80}"
        );
        seen[id] += 1;
    }
    assert_eq!(seen, [LINES; 4]);
}

#[test]
fn pipe_exit_code_is_the_last_failing_stage() {
    let ran = cli(["pipe", "--", "sh", "-c", "exit 3", "::", "cat"]);
    assert_eq!(ran.code(), 3, "{ran:?}");
    let ran = cli([
        "pipe",
        "--",
        "echo",
        "x",
        "::",
        "sh",
        "-c",
        "cat >/dev/null; exit 6",
    ]);
    assert_eq!(ran.code(), 6, "{ran:?}");
}

#[test]
fn pipe_rejects_an_empty_stage() {
    let ran = cli(["pipe", "--", "echo", "x", "::", "::", "cat"]);
    assert_eq!(ran.code(), 2, "{ran:?}");
}

/// `pipe` is quiet on success (it printed a status line per stage before);
/// `--verbose` prints them.
#[test]
fn pipe_quiet_on_success_unless_verbose() {
    let ran = cli(["pipe", "--", "echo", "x", "::", "cat"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!((ran.stdout.as_str(), ran.stderr.as_str()), ("x\n", ""));
    let ran = cli(["pipe", "-v", "--", "echo", "x", "::", "cat"]);
    assert_eq!(
        ran.stderr,
        "spawn pipe: stage 0 (echo): exit status 0\nspawn pipe: stage 1 (cat): exit status 0\n"
    );
}

/// `trace --data` shows the bytes of each read, escaped, and cuts long
/// ones; `--json` gives them as `data` steps.
#[test]
fn trace_data_shows_the_bytes_read() {
    let ran = cli([
        "trace",
        "--data",
        "--",
        "sh",
        "-c",
        "echo hello; printf 'tab\\there' >&2",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(
        ran.stdout.contains("stdout 6 bytes: \"hello\\n\""),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("stderr 8 bytes: \"tab\\there\""),
        "{}",
        ran.stdout
    );
    let ran = cli(["trace", "--data", "--", "sh", "-c", "printf '%0100d' 0"]);
    assert!(
        ran.stdout.contains(&format!(
            "stdout 100 bytes: \"{}\" (+36 bytes)",
            "0".repeat(64)
        )),
        "{}",
        ran.stdout
    );
    let ran = cli(["trace", "--json", "--data", "--", "echo", "hi"]);
    let data: Vec<Value> = json_lines(&ran.stdout)
        .into_iter()
        .filter(|v| v["kind"] == "data")
        .collect();
    assert_eq!(data.len(), 1, "{}", ran.stdout);
    assert_eq!(data[0]["stream"], "stdout");
    assert_eq!(data[0]["data"], "hi\n");
}

/// Under valgrind (where the machine has it: it is not in CI's list), a
/// run with a pipe starts, reads and exits like any other: the page size is
/// asked of the libc, not read from the auxiliary vector by rustix, which
/// faulted there and killed every spawn.
#[test]
fn a_run_under_valgrind_starts_and_reads_its_child() {
    let probe = std::process::Command::new("valgrind")
        .arg("--version")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("no valgrind here: nothing to check");
        return;
    }
    let ran = spawn_tests::run(
        std::process::Command::new("valgrind")
            .args(["--tool=none", "--quiet", "--error-exitcode=99"])
            .arg(spawn_tests::spawn_cli())
            .args(["run", "--", "sh", "-c", "echo under-valgrind"]),
        None,
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(ran.stdout.contains("under-valgrind"), "{ran:?}");
}
