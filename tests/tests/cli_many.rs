//! `spawn many` as GNU parallel users would try it: inputs (arguments, lines
//! of stdin, `:::` lists, `-0`, `-n`), templates and replacement strings,
//! the output modes (`--group`, `--line-buffer`, `--keep-order`, `--json`),
//! `--halt`, `--retries`, `--timeout`, `--joblog`, `--dry-run`, exit codes,
//! a closed or full stdout, and bytes that are not UTF-8. Each against the
//! real binary and real processes; jobs that must overlap synchronise on
//! FIFOs, never on sleeps.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use spawn_tests::{cli, cli_command, cli_with_input};

const LIMIT: Duration = Duration::from_secs(30);

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("spawn-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_owned()
    }

    /// A FIFO in the directory.
    fn fifo(&self, name: &str) -> String {
        let p = self.path(name);
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .expect("mkfifo");
        assert!(ok.success());
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for `child` at most [`LIMIT`] (then kills it and fails).
fn wait(child: &mut Child) -> ExitStatus {
    wait_at_most(child, LIMIT)
}

/// Waits for `child` at most `limit` (then kills it and fails).
fn wait_at_most(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spawn ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs the CLI with `input` on stdin; returns its exit code, stdout as
/// bytes and stderr as text.
fn raw<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = cli_command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start spawn");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let mut stdout = Vec::new();
    let _ = out.read_to_end(&mut stdout);
    let status = wait(&mut child);
    let _ = writer.join();
    let stderr = reader.join().expect("stderr");
    (status.code().expect("exit code"), stdout, stderr)
}

/// Lines of `spawn many --dry-run` for `args`.
fn dry<S: AsRef<str>>(args: &[S], input: &[u8]) -> String {
    let mut all = vec!["many".to_owned(), "--dry-run".to_owned()];
    all.extend(args.iter().map(|a| a.as_ref().to_owned()));
    let (code, out, err) = raw(&all, input);
    assert_eq!(code, 0, "{err}");
    String::from_utf8(out).expect("utf-8")
}

// ---------------------------------------------------------------- inputs

/// A template reads its inputs from stdin, one job per line, each input
/// shell-quoted (it ran once with a literal `{}` before).
#[test]
fn template_takes_lines_of_stdin_quoted() {
    let ran = cli_with_input(
        // Several words would be joined with spaces (as GNU parallel does),
        // losing the quotes of `'%s|\n'`: the template is one argument.
        ["many", "-k", "--", "printf '%s|\\n' {}"],
        b"a.py\nit's b.py\n$(echo no)\n",
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "a.py|\nit's b.py|\n$(echo no)|\n");
}

/// Input is streamed: the job of the first line of stdin runs (and its
/// line comes out) while stdin is still open, with no more lines written.
#[test]
fn stdin_is_streamed() {
    for args in [
        &["many", "--line-buffer"][..],
        &["many", "--", "echo", "{}"],
    ] {
        let mut child = cli_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start spawn");
        let mut stdin = child.stdin.take().expect("piped");
        let line = if args.len() == 2 {
            "echo first\n"
        } else {
            "first\n"
        };
        stdin.write_all(line.as_bytes()).expect("write");
        let out = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(out).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = rx.recv_timeout(LIMIT);
        drop(stdin);
        let status = wait(&mut child);
        assert_eq!(first.as_deref(), Ok("first\n"), "{args:?}: not streamed");
        assert!(status.success(), "{args:?}");
    }
}

/// GNU parallel's replacement strings, as `--dry-run` shows them.
#[test]
fn replacement_strings() {
    assert_snapshot!(dry(
        &["echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}"],
        b"dir.d/sub/file.tar.gz\nplain\n/top\nwith space.txt\n"
    ));
}

/// `:::` lists: every combination, the last list fastest; a command with
/// no replacement string gets ` {}` added.
#[test]
fn argument_lists() {
    assert_snapshot!(dry(&["echo", ":::", "a", "b", ":::", "1", "2"], b""));
    assert_snapshot!(
        "argument_lists_template",
        dry(&["cp", "{}", "{.}.bak", ":::", "x.txt", "y z.txt"], b"")
    );
}

/// `-0` splits stdin at NUL bytes (newlines are part of an input); `-n 2`
/// gives each job two inputs.
#[test]
fn null_separated_and_n_per_job() {
    assert_snapshot!(dry(&["-0", "echo", "{}"], b"a b\0line\nbreak\0last"));
    assert_snapshot!(
        "n_per_job",
        dry(
            &["-n", "2", "echo", "{}", ":::", "1", "2", "3", "4", "5"],
            b""
        )
    );
}

/// A command line of plain words runs directly; anything the shell must
/// read runs with `/bin/sh -c` (so `exit`, pipes and `$VAR` work).
#[test]
fn shell_when_needed() {
    let ran = cli([
        "many",
        "-k",
        "--",
        ":::",
        "echo a | tr a b",
        "sh -c 'exit 0'",
        "X=1; echo $X",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "b\n1\n");
    let ran = cli(["many", "--", ":::", "exit 3"]);
    assert_eq!(ran.code(), 1, "{ran:?}");
}

// ---------------------------------------------------------------- bytes

/// Bytes that are not UTF-8 pass through untouched: in lines of stdin (the
/// reading stopped there before), in arguments, and in the output.
#[test]
fn bytes_that_are_not_utf8_pass_through() {
    let (code, out, err) = raw(&["many", "-k"], b"printf '\xff\xfe|'\necho after\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"\xff\xfe|after\n");
    let arg = OsStr::from_bytes(b"\xff\xfe");
    let args = [
        OsStr::new("many"),
        OsStr::new("--"),
        OsStr::new("printf"),
        OsStr::new("%s"),
        OsStr::new("{}"),
        OsStr::new(":::"),
        arg,
    ];
    let (code, out, err) = raw(&args, b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"\xff\xfe");
    let args = [
        OsStr::new("run"),
        OsStr::new("--capture"),
        OsStr::new("--"),
        OsStr::new("printf"),
        OsStr::new("%s"),
        arg,
    ];
    let (code, out, err) = raw(&args, b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"\xff\xfe");
}

/// Random bytes on stdin are commands that fail, not "0 commands" and
/// success.
#[test]
fn random_bytes_on_stdin_are_not_success() {
    let (code, _, err) = raw(&["many"], b"\x8f\x01\xc3(\xfe\xff\x00garbage\n\xa0\xa1\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2 jobs, 2 failed"), "{err}");
}

// ---------------------------------------------------------------- output modes

/// `--group` (the default): two jobs that take turns printing (through
/// FIFOs) still come out one whole job after the other.
#[test]
fn group_keeps_each_jobs_output_together() {
    let dir = TempDir::new("group");
    let (f1, f2) = (dir.fifo("f1"), dir.fifo("f2"));
    let a = format!("echo a1; echo go > {f1}; read x < {f2}; echo a2");
    let b = format!("read x < {f1}; echo b1; echo go > {f2}; echo b2");
    let ran = cli(["many", "-j", "2", "--", ":::", &a, &b]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(
        ran.stdout == "a1\na2\nb1\nb2\n" || ran.stdout == "b1\nb2\na1\na2\n",
        "{ran:?}"
    );
}

/// Writes `go` into `fifo` once a job has it open for reading (within
/// [`LIMIT`]); whether one did.
fn release(fifo: &str) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        // Without blocking: with no reader the open fails (ENXIO).
        let open = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo);
        if let Ok(mut f) = open {
            return f.write_all(b"go\n").is_ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Starts the CLI with stdout piped, waits until a line of it contains
/// `want`, then writes `go` into `fifo` and returns the lines before and
/// the rest. If `want` has not come after [`LIMIT`], a watchdog kills the
/// CLI and releases the job, so that the test fails instead of hanging.
fn release_after(args: &[&str], want: &str, fifo: &str) -> (Vec<String>, String, ExitStatus) {
    let mut child = cli_command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start spawn");
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<()>();
    let (pid, fifo_path) = (child.id().to_string(), fifo.to_owned());
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = seen_rx.recv_timeout(LIMIT) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
            release(&fifo_path);
        }
    });
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut before = Vec::new();
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).expect("read");
        assert!(
            n > 0,
            "spawn {args:?} ended before printing {want:?}: {before:?}"
        );
        let seen = line.contains(want);
        before.push(line);
        if seen {
            break;
        }
    }
    let _ = seen_tx.send(());
    let _ = watchdog.join();
    assert!(release(fifo), "no job read {fifo}");
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
    (before, rest, wait(&mut child))
}

/// `--line-buffer`: a job's lines come out while it runs (here it waits,
/// after its first line, until the test has read that line).
#[test]
fn line_buffer_prints_lines_as_they_come() {
    let dir = TempDir::new("linebuf");
    let fifo = dir.fifo("go");
    let job = format!("echo first; read x < {fifo}; echo second");
    let (before, rest, status) = release_after(
        &["many", "--line-buffer", "--", ":::", &job],
        "first",
        &fifo,
    );
    assert_eq!(status.code(), Some(0));
    assert_eq!(before, ["first\n"]);
    assert_eq!(rest, "second\n");
}

/// `--group` holds a job's output up to 8 MiB, then streams it as
/// `--line-buffer` does: every byte comes out once, in order, across the
/// change (`seq 1500000` prints about 10.4 MB).
#[test]
fn group_output_past_its_limit_comes_out_whole() {
    let ran = cli(["many", "--", ":::", "seq 1500000"]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    let want: String = (1..=1_500_000).map(|i| format!("{i}\n")).collect();
    assert!(
        ran.stdout == want,
        "{} bytes, want {}",
        ran.stdout.len(),
        want.len()
    );
}

/// `--line-buffer`: half a line waits for its end; another job's whole
/// line, printed meanwhile, comes out before it and never inside it, with
/// `--tag` too. The jobs take turns through FIFOs, and the half line's end
/// is written only once the other job's line has come out of the CLI.
#[test]
fn line_buffer_holds_half_a_line_until_its_end() {
    for tag in [false, true] {
        let dir = TempDir::new("halfline");
        let (f1, f2) = (dir.fifo("f1"), dir.fifo("f2"));
        let a = format!("printf a-start; echo go > {f1}; read x < {f2}; echo ' a-end'; echo a2");
        let b = format!("read x < {f1}; echo b-line");
        let mut args = vec!["many", "--line-buffer", "-j", "2"];
        if tag {
            args.push("--tag");
        }
        args.extend(["--", ":::", &a, &b]);
        let (before, rest, status) = release_after(&args, "b-line", &f2);
        assert_eq!(status.code(), Some(0), "tag={tag}");
        let (pa, pb) = if tag {
            (format!("{a}\t"), format!("{b}\t"))
        } else {
            (String::new(), String::new())
        };
        assert_eq!(before, [format!("{pb}b-line\n")], "tag={tag}");
        assert_eq!(rest, format!("{pa}a-start a-end\n{pa}a2\n"), "tag={tag}");
    }
}

/// `--json`: one object per job, written as each job ends (the first one's
/// while the second still runs).
#[test]
fn json_objects_come_as_jobs_end() {
    let dir = TempDir::new("json");
    let fifo = dir.fifo("go");
    let slow = format!("read x < {fifo}; echo slow");
    let (before, rest, status) = release_after(
        &[
            "many",
            "--json",
            "-j",
            "2",
            "--",
            ":::",
            "echo quick",
            &slow,
        ],
        "quick",
        &fifo,
    );
    assert_eq!(status.code(), Some(0));
    assert_eq!(before.len(), 1, "{before:?}");
    let first: serde_json::Value = serde_json::from_str(&before[0]).expect("json");
    assert_eq!(first["stdout"], "quick\n");
    assert_eq!(first["index"], 0);
    let mut rest = rest.lines();
    let second: serde_json::Value =
        serde_json::from_str(rest.next().unwrap_or_default()).expect("json");
    assert_eq!(second["stdout"], "slow\n");
    assert_eq!(second["index"], 1);
    // The run's summary comes last.
    let summary: serde_json::Value =
        serde_json::from_str(rest.next().unwrap_or_default()).expect("json");
    assert_eq!(summary["summary"]["jobs"], 2);
}

/// `--keep-order`: the second job ends first (the first waits for it
/// through a FIFO), yet the output is in input order.
#[test]
fn keep_order_prints_in_input_order() {
    let dir = TempDir::new("keep");
    let fifo = dir.fifo("f");
    let first = format!("read x < {fifo}; echo one");
    let second = format!("echo two; echo go > {fifo}");
    for flag in ["-k", "--keep-order"] {
        let ran = cli(["many", flag, "-j", "2", "--", ":::", &first, &second]);
        assert_eq!(ran.code(), 0, "{ran:?}");
        assert_eq!(ran.stdout, "one\ntwo\n");
    }
}

/// `--tagstring` with replacement strings; `--tag` with inputs.
#[test]
fn tags() {
    let ran = cli([
        "many",
        "-k",
        "--tagstring",
        "{#}:{/}",
        "--",
        "echo",
        "{}",
        ":::",
        "d/a",
        "d/b",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "1:a\td/a\n2:b\td/b\n");
    let ran = cli(["many", "-k", "--tag", "--", "echo", "x", ":::", "p", "q"]);
    assert_eq!(ran.stdout, "p\tx p\nq\tx q\n");
}

// ---------------------------------------------------------------- halt, retries, timeout

/// `--halt now,fail=1`: the first failure stops the running jobs at once
/// (a 30 s sleep here) and the exit code is the failing job's.
#[test]
fn halt_now_stops_running_jobs() {
    let ran = cli([
        "many",
        "-j",
        "2",
        "--halt",
        "now,fail=1",
        "--",
        ":::",
        "sleep 30",
        "sh -c 'exit 7'",
    ]);
    assert_eq!(ran.code(), 7, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    assert!(ran.stderr.contains("halted (--halt now,fail=1)"), "{ran:?}");
    // Stopped by the halt is not failed: once one succeeds, the run did.
    let ran = cli([
        "many",
        "-j",
        "2",
        "--halt",
        "now,success=1",
        "--",
        ":::",
        "sleep 30",
        "true",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    assert!(ran.stderr.contains("0 failed, 1 stopped"), "{ran:?}");
}

/// `--halt soon,fail=1`: no job starts after the failure, not even those
/// the group held queued (here `echo b` ran before: a `soon` halt let the
/// group's queue run).
#[test]
fn halt_soon_starts_no_more_jobs() {
    let ran = cli([
        "many",
        "-j",
        "1",
        "--halt",
        "soon,fail=1",
        "--",
        ":::",
        "echo a",
        "false",
        "echo b",
        "echo c",
        "echo d",
        "echo e",
    ]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert_eq!(ran.stdout, "a\n", "a job started after the halt: {ran:?}");
    assert!(
        ran.stderr.contains("halted (--halt soon,fail=1)"),
        "{ran:?}"
    );
    let ran = cli([
        "many",
        "-j",
        "1",
        "--halt",
        "soon,success=1",
        "--",
        ":::",
        "true",
        "echo x",
        "echo y",
        "echo z",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "", "a job started after the halt: {ran:?}");
}

/// `--halt soon`: the job running when the halt is seen finishes (its
/// output is printed), and none of the queued ones starts, also when the
/// running one ends after the halt and makes room. The failing job's output
/// is printed just before the halt is decided, on the thread that drives
/// the jobs: the test releases the running one only after reading it.
#[test]
fn halt_soon_lets_the_running_jobs_finish() {
    let dir = TempDir::new("halt-soon");
    let fifo = dir.fifo("go");
    let slow = format!("read x < {fifo}; echo slow-finished");
    let (before, rest, status) = release_after(
        &[
            "many",
            "-j",
            "2",
            "--halt",
            "soon,fail=1",
            "--",
            ":::",
            &slow,
            "echo failing; exit 3",
            "echo queued-1",
            "echo queued-2",
            "echo queued-3",
            "echo queued-4",
        ],
        "failing",
        &fifo,
    );
    assert_eq!(status.code(), Some(3), "{before:?} {rest:?}");
    assert_eq!(rest, "slow-finished\n", "{before:?}");
    assert!(
        !before.concat().contains("queued"),
        "a queued job ran: {before:?}"
    );
}

/// `--retries N`: a failing job runs up to N times in all; one that
/// succeeds on a later try counts as a success.
#[test]
fn retries() {
    let dir = TempDir::new("retries");
    let count = dir.path("count");
    let always = format!("echo x >> {count}; exit 1");
    let ran = cli(["many", "--retries", "3", "--", ":::", &always]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert_eq!(std::fs::read_to_string(&count).expect("count"), "x\nx\nx\n");
    let flag = dir.path("flag");
    let second = format!("test -e {flag} && echo ok || {{ touch {flag}; exit 1; }}");
    let ran = cli(["many", "--retries", "2", "--", ":::", &second]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "ok\n");
}

/// `--timeout`: each job is stopped after its time; it counts as failed.
#[test]
fn timeout_per_job() {
    let ran = cli(["many", "--timeout", "0.3", "--", ":::", "sleep 30", "true"]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    assert!(ran.stderr.contains("timed out"), "{ran:?}");
}

// ---------------------------------------------------------------- joblog, dry run

/// `--joblog`: GNU parallel's header and one tab-separated line per job.
#[test]
fn joblog_in_gnu_parallels_format() {
    let dir = TempDir::new("joblog");
    let log = dir.path("jobs.tsv");
    let ran = cli([
        "many",
        "-j",
        "1",
        "--joblog",
        &log,
        "--",
        ":::",
        "echo hello",
        "sh -c 'exit 3'",
        "sh -c 'kill -TERM $$'",
        "no-such-program-for-spawn",
    ]);
    assert_eq!(ran.code(), 3, "{ran:?}");
    let text = std::fs::read_to_string(&log).expect("joblog");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    for r in &rows {
        assert_eq!(r.len(), 9, "{r:?}");
        assert_eq!(r[1], ":");
        let start: f64 = r[2].parse().expect("Starttime");
        assert!((now - start).abs() < 120.0, "{r:?}");
        assert!(r[3].trim().parse::<f64>().is_ok(), "{r:?}");
        assert_eq!(r[4], "0");
    }
    let cols = |r: &Vec<&str>| {
        (
            r[0].to_owned(),
            r[5].to_owned(),
            r[6].to_owned(),
            r[7].to_owned(),
            r[8].to_owned(),
        )
    };
    assert_eq!(
        cols(&rows[0]),
        (
            "1".into(),
            "6".into(),
            "0".into(),
            "0".into(),
            "echo hello".into()
        )
    );
    assert_eq!(
        cols(&rows[1]),
        (
            "2".into(),
            "0".into(),
            "3".into(),
            "0".into(),
            "sh -c 'exit 3'".into()
        )
    );
    assert_eq!((rows[2][6], rows[2][7]), ("0", "15"));
    assert_eq!((rows[3][6], rows[3][7]), ("127", "0"));
}

/// `--dry-run` prints the command lines and runs nothing.
#[test]
fn dry_run_runs_nothing() {
    let dir = TempDir::new("dry");
    let file = dir.path("made");
    let ran = cli(["many", "--dry-run", "--", "touch", "{}", ":::", &file]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, format!("touch {file}\n"));
    assert!(!std::path::Path::new(&file).exists());
}

// ---------------------------------------------------------------- exit codes, stdout

/// The exit code is the number of failed jobs, at most 101.
#[test]
fn exit_code_counts_failures_up_to_101() {
    let args = |n: usize| {
        let mut a: Vec<String> = ["many", "-j", "8", "--", "false", ":::"]
            .map(String::from)
            .to_vec();
        a.extend((0..n).map(|i| i.to_string()));
        a
    };
    assert_eq!(cli(args(3)).code(), 3);
    assert_eq!(cli(args(102)).code(), 101);
}

/// Unknown options are clap's errors (exit 2; `spawn many`'s 126, out of
/// the range of its failed jobs' count), not programs to run.
#[test]
fn unknown_options_are_usage_errors() {
    for (args, code) in [
        (&["run", "--captur", "--", "echo", "hi"][..], 2),
        (&["many", "--bogus"], 126),
        (&["pipe", "--nope", "--", "true"], 2),
    ] {
        let ran = cli(args);
        assert_eq!(ran.code(), code, "{ran:?}");
        assert!(ran.stderr.contains("unexpected argument"), "{ran:?}");
        assert_eq!(ran.stdout, "");
    }
}

/// `spawn many -- yes | head -1`: when the reader of stdout goes away the
/// run ends quietly with 141, in both output modes (it never ended).
#[test]
fn closed_stdout_ends_the_run_with_141() {
    for mode in ["--group", "--line-buffer"] {
        let mut child = cli_command(["many", mode, "--", ":::", "yes", "sleep 30"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start spawn");
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        assert_eq!(line, "y\n");
        drop(out);
        let start = Instant::now();
        let status = wait(&mut child);
        assert_eq!(status.code(), Some(141), "{mode}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{mode}: {:?}",
            start.elapsed()
        );
        let mut err = String::new();
        let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
        assert_eq!(err, "", "{mode}: not quiet");
    }
}

/// Output to a full disk is an error (125, said on stderr), for every
/// subcommand that writes its own stdout.
#[test]
fn full_disk_is_an_error() {
    for args in [
        &["many", "--", ":::", "echo hi"][..],
        &["many", "--line-buffer", "--", ":::", "echo hi"],
        &["many", "--json", "--", ":::", "echo hi"],
        &["many", "--dry-run", "--", ":::", "echo hi"],
        &["run", "--capture", "--", "echo", "hi"],
        &["run", "--json", "--", "echo", "hi"],
        &["pipe", "--json", "--", "echo", "hi"],
        &["trace", "--", "echo", "hi"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut child = cli_command(args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start spawn");
        let mut err = String::new();
        let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
        let status = wait(&mut child);
        assert_eq!(status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.contains("cannot write to stdout: No space left on device"),
            "{args:?}: {err}"
        );
    }
}

/// Many more jobs than the fd limit allows open at once: every job runs,
/// in one group (with 2,048 fds, 5,000 jobs of one group ran out of them:
/// the library's group kept a pidfd per finished child until it ended).
#[test]
fn more_jobs_than_fds() {
    let script = format!(
        "ulimit -n 2048 && seq 5000 | {} many -j 8 -- true {{}}",
        spawn_tests::spawn_cli().display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("sh");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        &err[..err.len().min(400)]
    );
}

/// 20,000 jobs at `-j 200` under `ulimit -n 256`: the running jobs need
/// more fds than there are (a pidfd and two pipes each), and the group
/// waits for fds instead of failing jobs; every job runs once.
#[test]
fn twenty_thousand_jobs_in_256_fds() {
    let script = format!(
        "ulimit -n 256 && seq 20000 | {} many -j 200 -- echo {{}}",
        spawn_tests::spawn_cli().display()
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let mut out = String::new();
    let _ = child.stdout.take().expect("piped").read_to_string(&mut out);
    let status = wait_at_most(&mut child, Duration::from_secs(600));
    let err = reader.join().expect("stderr");
    assert!(status.success(), "{status}: {}", &err[..err.len().min(400)]);
    let mut seen: Vec<u32> = out.lines().map(|l| l.parse().expect("a number")).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=20_000).collect::<Vec<u32>>(), "{err}");
}

#[test]
fn each_job_prints_only_its_own_output_when_buffers_are_reused() {
    // One job at a time (-j 1), big then small then big outputs, on both
    // streams: a job's output is held in a buffer a printed job gave back,
    // and nothing of the earlier job may show through.
    let input = b"head -c 300000 /dev/zero | tr '\\0' a; echo; echo E1 >&2\n\
echo b; echo E2 >&2\n\
head -c 200000 /dev/zero | tr '\\0' c; echo\n\
echo d\n";
    let (code, out, err) = raw(&["many", "-j", "1"], input);
    assert_eq!(code, 0, "stderr: {err}");
    let mut want = Vec::new();
    want.extend(std::iter::repeat_n(b'a', 300_000));
    want.extend_from_slice(b"\nb\n");
    want.extend(std::iter::repeat_n(b'c', 200_000));
    want.extend_from_slice(b"\nd\n");
    assert_eq!(out.len(), want.len());
    let first_diff = out.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "outputs mixed");
    assert_eq!(err, "E1\nE2\n");
}

/// `--idle-timeout`: a job that goes quiet is stopped (exit 124 in its
/// place, the run's failure count), one that keeps writing is not; a
/// percentage is refused.
#[test]
fn idle_timeout_per_job() {
    let ran = cli([
        "many",
        "--idle-timeout",
        "0.3",
        ":::",
        "echo quick",
        "echo quiet; sleep 30",
    ]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert!(ran.stdout.contains("quick\n"), "{ran:?}");
    assert!(ran.stdout.contains("quiet\n"), "{ran:?}");
    assert!(ran.elapsed < Duration::from_secs(10), "{ran:?}");
    let ran = cli(["many", "--idle-timeout", "50%", ":::", "true"]);
    assert_eq!(ran.code(), 126, "{ran:?}");
    assert!(ran.stderr.contains("percentage"), "{ran:?}");
}

/// `--term-seq`: a job's stop takes each step in order (here on its
/// timeout: INT, then TERM, then KILL, each seen by the job's traps), and a
/// sequence that cannot be used is a usage error.
#[test]
fn term_seq_takes_each_step_in_order() {
    let ran = cli([
        "many",
        "--timeout",
        "2",
        "--term-seq",
        "INT,300,TERM,300,KILL,100",
        ":::",
        "trap 'echo got INT' INT; trap 'echo got TERM' TERM; echo start; \
         while :; do sleep 0.05; done",
    ]);
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert_eq!(ran.stdout, "start\ngot INT\ngot TERM\n", "{ran:?}");
    assert!(ran.stderr.contains("SIGKILL"), "{ran:?}");
    let ran = cli(["many", "--term-seq", "KILL,1,TERM,2", ":::", "true"]);
    assert_eq!(ran.code(), 126, "{ran:?}");
    assert!(ran.stderr.contains("nothing can follow KILL"), "{ran:?}");
}
