//! `spawn many` as a drop-in for GNU parallel's command lines (issue 30):
//! each difference the issue names, asserting GNU parallel's behaviour
//! (seen with GNU parallel 20221122), against the real binary and real
//! processes. Where `parallel` is installed, [`same_as_gnu`] also runs the
//! command lines under both and compares them byte for byte; the other
//! tests do not need it.

use std::path::Path;
use std::process::Command;

use spawn_tests::{Ran, TempDir, cli, cli_command, cli_with_input, run};

/// `spawn many ARGS` with `input` on stdin.
fn many(args: &[&str], input: &[u8]) -> Ran {
    let mut all = vec!["many"];
    all.extend(args);
    cli_with_input(all, input)
}

// ---------------------------------------------------------------- inputs

/// With no replacement string, each input is appended to the command:
/// `printf 'A\nB\n' | parallel echo X` runs `echo X A` and `echo X B` (spawn
/// ran `echo` and `X` as two commands before).
#[test]
fn input_is_appended_when_the_command_has_no_replacement_string() {
    let ran = many(&["-k", "--", "echo", "X"], b"A\nB\n");
    assert_eq!(
        (ran.code(), ran.stdout.as_str()),
        (0, "X A\nX B\n"),
        "{ran:?}"
    );
    // Without `--`, as GNU parallel's users write it.
    let ran = many(&["-k", "echo", "-n", "X"], b"A\n");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, "X A"), "{ran:?}");
    let ran = many(&["-k", "--", "echo", "X", ":::", "A", "B"], b"");
    assert_eq!(
        (ran.code(), ran.stdout.as_str()),
        (0, "X A\nX B\n"),
        "{ran:?}"
    );
}

/// `find … | parallel gzip --best`: every file named on stdin is compressed
/// (spawn ran `gzip` and `--best` as two commands before).
#[test]
fn find_into_gzip_best_compresses_each_file() {
    let dir = TempDir::new("gzip");
    let names: Vec<String> = ["a.txt", "b c.txt"].iter().map(|n| dir.path(n)).collect();
    for n in &names {
        std::fs::write(n, "hello\n").expect("write");
    }
    let input = format!("{}\n{}\n", names[0], names[1]);
    let ran = many(&["--", "gzip", "--best"], input.as_bytes());
    assert_eq!(ran.code(), 0, "{ran:?}");
    for n in &names {
        assert!(Path::new(&format!("{n}.gz")).exists(), "{n}.gz: {ran:?}");
        assert!(!Path::new(n).exists(), "{n} left: {ran:?}");
    }
}

/// Lines of stdin with no command at all are the commands themselves
/// (`parallel < cmds.txt`; blank lines run nothing); arguments after `:::`
/// with no command are commands too.
#[test]
fn lines_of_stdin_without_a_command_are_commands() {
    let ran = many(&["-k"], b"echo 1\n\necho 2 | tr 2 3\n");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, "1\n3\n"), "{ran:?}");
    let ran = many(&["-k", ":::", "echo a", "echo b"], b"");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, "a\nb\n"), "{ran:?}");
}

/// Several words are ONE command line, joined with spaces (spawn's own form,
/// one command per argument, changed the meaning of this GNU command line
/// and is gone): `printf 'A\n' | parallel 'echo 1' 'echo 2'` prints
/// `1 echo 2 A`.
#[test]
fn several_words_are_one_command_line() {
    let ran = many(&["-k", "--", "echo 1", "echo 2"], b"A\n");
    assert_eq!(
        (ran.code(), ran.stdout.as_str()),
        (0, "1 echo 2 A\n"),
        "{ran:?}"
    );
}

// ---------------------------------------------------------------- replacement strings

/// `{.}`, `{/.}`, `{//}` and `{/}` on the inputs where spawn differed, as
/// GNU parallel 20221122's `--dry-run` shows them (`{.}` strips
/// `\.[^/.]*$`, so `.hidden` is empty; `{//}` is Perl's `dirname`).
#[test]
fn path_replacement_strings_on_edge_cases_are_gnus() {
    let ran = many(
        &[
            "--dry-run",
            "-k",
            "echo",
            "{.}",
            "{/.}",
            "{//}",
            "{/}",
            ":::",
            ".hidden",
            "/.x",
            "a/b/",
            "c//",
            "x.",
            "a/..",
            "//x",
        ],
        b"",
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(
        ran.stdout,
        "echo '' '' . .hidden\n\
         echo / '' / .x\n\
         echo a/b/ '' a ''\n\
         echo c// '' . ''\n\
         echo x x . x.\n\
         echo a/. . a ..\n\
         echo //x x / x\n"
    );
}

/// `{1} {2}`, `{-1}`, `{1.}`, `{2/}`… take one input (from `:::` lists,
/// `-n`, or `--colsep` columns; one not there is nothing) where spawn ran
/// them as literal text.
#[test]
fn positional_replacement_strings() {
    let ran = many(
        &[
            "-k", "echo", "{2}/{1.}", "{-1}", "{3}x", ":::", "a.txt", "b.md", ":::", "dir/c",
        ],
        b"",
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "dir/c/a dir/c x\ndir/c/b dir/c x\n");
    let ran = many(
        &["-k", "-n", "2", "echo", "{2}-{1}", ":::", "a", "b", "c"],
        b"",
    );
    assert_eq!(ran.stdout, "b-a\n-c\n", "{ran:?}");
    let ran = many(
        &["-k", "--colsep", "\t", "echo", "{3}", "{1/}"],
        b"x/a\tb c\td\n",
    );
    assert_eq!(ran.stdout, "d a\n", "{ran:?}");
    // No replacement string: every column is appended, each one word.
    let ran = many(&["-k", "--colsep", ",", "printf", "%s-"], b"a,b c\n");
    assert_eq!(ran.stdout, "a-b c-", "{ran:?}");
}

/// `{%}` is the job slot (from 1, the lowest free one, never two running
/// jobs with the same), `{#}` the job number, and `$PARALLEL_JOBSLOT` and
/// `$PARALLEL_SEQ` say the same. Job 1 waits (on a FIFO) until job 3 has
/// run, so job 3 gets the slot job 2 left: 2.
#[test]
fn job_slot_and_seq_as_replacement_strings_and_environment() {
    let dir = TempDir::new("slot");
    let fifo = dir.path("f");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let ran = many(
        &[
            "-j",
            "2",
            "-k",
            "echo {%} {#} $PARALLEL_JOBSLOT $PARALLEL_SEQ; sh -c {}",
            ":::",
            &format!("read x < {fifo}"),
            "true",
            &format!("echo > {fifo}"),
        ],
        b"",
    );
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(ran.stdout, "1 1 1 1\n2 2 2 2\n2 3 2 3\n");
    // Without the slot in the command line, $PARALLEL_SEQ is still set.
    let ran = many(
        &["-k", "sh", "-c", "'echo $PARALLEL_SEQ'", ":::", "a", "b"],
        b"",
    );
    assert_eq!(ran.stdout, "1\n2\n", "{ran:?}");
}

/// What GNU parallel replaces and spawn cannot is an error naming it,
/// never literal text; what GNU parallel keeps as it is (`{print $1}`,
/// `{nope}`) is kept, and `{}` inside a word is replaced.
#[test]
fn unknown_replacement_strings_are_errors_and_other_braces_are_text() {
    for t in ["echo {=1 $_=uc($_) =}", "echo {0}", "echo {-0.}"] {
        let ran = many(&[t, ":::", "a"], b"");
        assert_eq!(ran.code(), 126, "{t}: {ran:?}");
        assert!(
            ran.stderr.contains(t.split(' ').nth(1).unwrap_or(t)),
            "{t}: {ran:?}"
        );
        assert_eq!(ran.stdout, "", "{t}: {ran:?}");
    }
    let ran = many(&["--tagstring", "{=x=}", "echo", ":::", "a"], b"");
    assert_eq!(ran.code(), 126, "{ran:?}");
    let ran = many(&["-k", "echo x{}y {nope} '{print $1}'", ":::", "a b"], b"");
    assert_eq!(ran.stdout, "xa by {nope} {print $1}\n", "{ran:?}");
}

// ---------------------------------------------------------------- exit codes

/// `--halt`'s exit codes, as GNU parallel 20221122 gives them (each job
/// exits with its input, one at a time): `fail=2` leaves the number of
/// failed jobs (spawn gave the failing job's code), `fail=N%` the percent
/// of ALL jobs that failed (spawn took the jobs finished so far),
/// `success=1` leaves 0 (spawn gave the failure count); `fail=1`, and a
/// threshold of one job, the job's code.
#[test]
fn halt_exit_codes_are_gnus() {
    let ten = |first: &'static [&'static str]| {
        let mut v: Vec<&str> = first.to_vec();
        v.resize(10, "0");
        v
    };
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        ("soon,fail=2", vec!["5", "6", "7", "8"], 2),
        ("soon,fail=1", vec!["0", "5", "6"], 5),
        ("now,fail=1", vec!["0", "5", "6"], 5),
        ("soon,fail=20%", ten(&["3", "4"]), 20),
        ("soon,fail=15%", ten(&["3", "4"]), 20),
        // Not triggered: the percent failed all the same.
        ("soon,fail=20%", ten(&["3"]), 10),
        // 10% of 10 jobs is one job: its code.
        ("now,fail=10%", ten(&["0", "0", "7"]), 7),
        ("now,success=1", vec!["3", "0", "4"], 0),
        ("soon,success=50%", vec!["3", "0", "0", "4", "0", "5"], 0),
        ("soon,done=2", vec!["3", "0", "4", "0", "5"], 1),
        ("-1", vec!["3", "0", "4"], 0),
        ("5%", ten(&["3"]), 10),
    ];
    for (policy, inputs, want) in cases {
        let mut args = vec!["-j", "1", "--halt", policy, "exit {}", ":::"];
        args.extend(&inputs);
        let ran = many(&args, b"");
        assert_eq!(ran.code(), want, "--halt {policy} on {inputs:?}: {ran:?}");
    }
    // Percentages of all the jobs when they come from stdin too.
    let ran = many(
        &["-j", "1", "--halt", "soon,fail=20%", "exit"],
        b"3\n4\n0\n0\n0\n0\n0\n0\n0\n0\n",
    );
    assert_eq!(ran.code(), 20, "{ran:?}");
    // A job killed by signal N at a threshold of one: 128+N.
    let ran = many(&["--halt", "soon,fail=1", "kill -9 $$", ":::", "1"], b"");
    assert_eq!(ran.code(), 137, "{ran:?}");
}

// ---------------------------------------------------------------- options

/// `-j` as GNU parallel takes it: `N%` of the CPUs, `+N`, `-N` (spawn
/// rejected them), given more than once (the last counts), and `-P`.
#[test]
fn jobs_as_percent_plus_and_minus() {
    for j in ["200%", "+1", "-1", "50%"] {
        let ran = many(&["-k", "-j", j, "-j", j, "echo", ":::", "a", "b"], b"");
        assert_eq!(
            (ran.code(), ran.stdout.as_str()),
            (0, "a\nb\n"),
            "-j {j}: {ran:?}"
        );
    }
    // 1% of the CPUs is at least one job: one at a time, all in slot 1.
    let ran = many(
        &["-k", "-P", "1%", "echo", "{%}", ":::", "a", "b", "c"],
        b"",
    );
    assert_eq!(ran.stdout, "1\n1\n1\n", "{ran:?}");
}

/// `--timeout` with GNU parallel's time postfixes (`1s`, `1m30s`) and as a
/// percentage of the median run time of the jobs that succeeded: the last
/// job, 100 times longer than the others, is stopped (spawn rejected both).
#[test]
fn timeout_with_units_and_as_percent_of_the_median() {
    let ran = many(&["--timeout", "0.5s", "sleep", ":::", "60"], b"");
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert!(ran.elapsed < std::time::Duration::from_secs(30), "{ran:?}");
    let ran = many(&["--timeout", "1m30s", "echo", ":::", "a"], b"");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, "a\n"), "{ran:?}");
    let ran = many(
        &[
            "-j",
            "1",
            "--timeout",
            "1000%",
            "sleep",
            ":::",
            "0.1",
            "0.1",
            "0.1",
            "60",
        ],
        b"",
    );
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert!(ran.stderr.contains("sleep 60"), "{ran:?}");
    assert!(ran.elapsed < std::time::Duration::from_secs(30), "{ran:?}");
}

/// `--retries 0` tries until the job succeeds (GNU parallel: "0 means
/// infinite"; spawn ran it once): here it fails twice, then succeeds.
#[test]
fn retries_zero_tries_until_success() {
    let dir = TempDir::new("retries");
    let count = dir.path("count");
    let job = format!("echo {{}} >> {count}; [ $(wc -l < {count}) -ge 3 ]");
    let ran = many(&["--retries", "0", &job, ":::", "x"], b"");
    assert_eq!(ran.code(), 0, "{ran:?}");
    let tries = std::fs::read_to_string(&count).expect("count");
    assert_eq!(tries, "x\nx\nx\n");
}

/// `--joblog +FILE` appends a line per job and no header (GNU parallel's
/// way; spawn wrote to a file named `+FILE`).
#[test]
fn joblog_plus_appends() {
    let dir = TempDir::new("joblog");
    let log = dir.path("log");
    std::fs::write(&log, "before\n").expect("write");
    let plus = format!("+{log}");
    for word in ["a", "b"] {
        let ran = many(&["--joblog", &plus, "echo", ":::", word], b"");
        assert_eq!(ran.code(), 0, "{ran:?}");
    }
    let text = std::fs::read_to_string(&log).expect("joblog");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "before");
    assert!(
        lines[1].starts_with("1\t:\t") && lines[1].ends_with("\techo a"),
        "{text}"
    );
    assert!(lines[2].ends_with("\techo b"), "{text}");
    assert!(!Path::new(&dir.path("+log")).exists());
}

/// `-k --line-buffer` together (spawn rejected the pair): the first job's
/// lines come out as they come, while it runs (here it waits on a FIFO
/// until its first line has been read); the second job's, printed
/// meanwhile, come after it, whole.
#[test]
fn keep_order_with_line_buffer_streams_the_first_job() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = TempDir::new("klb");
    let fifo = dir.path("go");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let first = format!("echo a1; read x < {fifo}; echo a2");
    let mut child = cli_command([
        "many", "-j", "2", "-k", "--lb", "sh", "-c", "{}", ":::", &first, "echo b1",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("start spawn");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = tx.send(line);
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        rest
    });
    let first_line = rx.recv_timeout(std::time::Duration::from_secs(30));
    // Released either way, so that the test fails rather than hangs (read
    // and write: the open does not wait for a reader).
    let mut go = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    go.write_all(b"go\n").expect("write the FIFO");
    let rest = reader.join().expect("reader");
    let status = child.wait().expect("wait");
    // Open until the job has read it (closed, unread bytes are lost).
    drop(go);
    assert_eq!(first_line.as_deref(), Ok("a1\n"), "not streamed");
    assert_eq!(rest, "a2\nb1\n");
    assert!(status.success());
}

// ---------------------------------------------------------------- output

/// `--tag` puts the tag before each line and adds no newline to output
/// that has none (spawn added one): `a<TAB>xb<TAB>x`, as GNU parallel.
#[test]
fn tag_adds_no_newline() {
    let ran = many(&["-k", "--tag", "printf", "x", "{}", ":::", "a", "b"], b"");
    assert_eq!(ran.stdout, "a\txb\tx", "{ran:?}");
}

/// `--halt now` prints nothing of the jobs it kills (spawn printed their
/// partial output): the killed job has printed its line (and waits on a
/// FIFO nobody writes) before the failing job, which waits for that line,
/// fails.
#[test]
fn halt_now_prints_nothing_of_the_killed_jobs() {
    let dir = TempDir::new("haltnow");
    let (seen, never) = (dir.path("seen"), dir.path("never"));
    for f in [&seen, &never] {
        let made = Command::new("mkfifo").arg(f).status().expect("mkfifo");
        assert!(made.success());
    }
    let killed = format!("echo partial; echo > {seen}; read x < {never}");
    let failing = format!("read x < {seen}; echo failing; exit 1");
    let ran = many(
        &[
            "-j",
            "2",
            "--halt",
            "now,fail=1",
            "sh",
            "-c",
            "{}",
            ":::",
            &killed,
            &failing,
        ],
        b"",
    );
    assert_eq!(ran.code(), 1, "{ran:?}");
    assert_eq!(ran.stdout, "failing\n", "{ran:?}");
}

/// The joblog as GNU parallel writes it: `Exitval` -1 (and the signal) for
/// a job its `--timeout` killed (spawn wrote 0), `Receive` the bytes of
/// stdout only (spawn counted stderr too).
#[test]
fn joblog_exitval_of_a_timeout_and_receive_of_stdout() {
    let dir = TempDir::new("joblog-cols");
    let log = dir.path("log");
    let ran = many(
        &[
            "-k",
            "--joblog",
            &log,
            "--timeout",
            "0.5",
            "echo out; echo err >&2; sleep {}",
            ":::",
            "0",
            "60",
        ],
        b"",
    );
    assert_eq!(ran.code(), 1, "{ran:?}");
    let text = std::fs::read_to_string(&log).expect("joblog");
    let mut cols: Vec<Vec<String>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').skip(4).take(4).map(str::to_owned).collect())
        .collect();
    cols.sort();
    assert_eq!(
        cols,
        [["0", "4", "-1", "15"], ["0", "4", "0", "0"]],
        "{text}"
    );
}

/// `--group` never mixes two jobs, even past its memory bound (8 MiB of
/// one stream; spawn streamed both then, interleaved): job A prints 10 MB,
/// then waits (on a FIFO) for job B to print its 10 MB, then ends. A
/// streams (it may: it came first), B's output waits in a temporary file
/// and comes out after A's, whole.
#[test]
fn group_keeps_jobs_whole_past_the_memory_bound() {
    let dir = TempDir::new("spill");
    let (f1, f2) = (dir.path("f1"), dir.path("f2"));
    for f in [&f1, &f2] {
        let made = Command::new("mkfifo").arg(f).status().expect("mkfifo");
        assert!(made.success());
    }
    let a = format!("seq 1 1500000; echo > {f1}; read x < {f2}; echo A-end");
    let b = format!("read x < {f1}; seq 2000000 3500000; echo > {f2}; echo B-end");
    let ran = many(
        &["-j", "2", "--group", "sh", "-c", "{}", ":::", &a, &b],
        b"",
    );
    assert_eq!(ran.code(), 0, "{}", ran.stderr);
    let want_a: String = (1..=1_500_000)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        + "A-end\n";
    let want_b: String = (2_000_000..=3_500_000)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        + "B-end\n";
    assert!(
        ran.stdout == want_a.clone() + &want_b,
        "mixed: {} bytes, the first line after A's 1500000 lines: {:?}",
        ran.stdout.len(),
        ran.stdout.lines().nth(1_500_000)
    );
}

// ---------------------------------------------------------------- shell

/// `spawn many ARGS` started by `shell -c '…; true'` (so that the shell
/// is its parent), without `$PARALLEL_SHELL`.
fn many_under(shell: &str, args: &str, env: &[(&str, &str)]) -> Ran {
    let script = format!("\"$0\" many {args}; true");
    let mut cmd = Command::new(shell);
    cmd.args(["-c", &script])
        .arg(spawn_tests::spawn_cli())
        .env_remove("PARALLEL_SHELL")
        .env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, None)
}

/// The jobs run with the shell GNU parallel would take (spawn always took
/// /bin/sh): started from bash, bash (`[[ … ]]` and `export -f` functions
/// work, the function even as plain words); from dash, dash; and
/// `$PARALLEL_SHELL` first of all.
#[test]
fn jobs_run_with_the_parent_shell() {
    let bash = Path::new("/bin/bash").exists();
    if bash {
        let ran = many_under("/bin/bash", "'[[ 1 == 1 ]] && echo yes' ::: a", &[]);
        assert_eq!(ran.stdout, "yes a\n", "{ran:?}");
        let ran = many_under(
            "/bin/bash",
            "f ::: a",
            &[("BASH_FUNC_f%%", "() {  echo func-$1\n}")],
        );
        assert_eq!(ran.stdout, "func-a\n", "{ran:?}");
    } else {
        eprintln!("jobs_run_with_the_parent_shell: no /bin/bash, its part skipped");
    }
    let ran = many_under(
        "/bin/sh",
        "'[ -n \"${BASH_VERSION-}\" ] && echo bash || echo posix' ::: a",
        &[],
    );
    assert_eq!(ran.stdout, "posix a\n", "{ran:?}");
    if bash {
        let ran = many_under(
            "/bin/sh",
            "'echo ${BASH_VERSION:+bash}' ::: a",
            &[("PARALLEL_SHELL", "/bin/bash")],
        );
        assert_eq!(ran.stdout, "bash a\n", "{ran:?}");
    }
    // A shell that is not there is an error naming it, not a failure of
    // every job.
    let ran = many_under(
        "/bin/sh",
        "echo ::: a",
        &[("PARALLEL_SHELL", "/no/such/shell")],
    );
    assert!(ran.stderr.contains("/no/such/shell"), "{ran:?}");
    assert_eq!(ran.stdout, "", "{ran:?}");
}

// ---------------------------------------------------------------- missing options

/// `:::: FILES` and `-a FILE`: the records of files are inputs (every
/// combination, as `:::`); `:::: -` reads stdin.
#[test]
fn inputs_from_files() {
    let dir = TempDir::new("argfile");
    let (fa, fb) = (dir.path("a"), dir.path("b"));
    std::fs::write(&fa, "f1\nf2\n").expect("write");
    std::fs::write(&fb, "x\ny\n").expect("write");
    let want = "f1 x\nf1 y\nf2 x\nf2 y\n";
    let ran = many(&["-k", "echo", "::::", &fa, &fb], b"");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, want), "{ran:?}");
    let ran = many(&["-k", "-a", &fa, "-a", &fb, "echo"], b"");
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, want), "{ran:?}");
    let ran = many(&["-k", "echo", "::::", "-", ":::", "1"], b"q\nr\n");
    assert_eq!(ran.stdout, "q 1\nr 1\n", "{ran:?}");
    let ran = many(&["echo", "::::", &dir.path("missing")], b"");
    assert_eq!(ran.code(), 126, "{ran:?}");
    assert!(ran.stderr.contains("missing"), "{ran:?}");
}

/// `:::+` links a source to the one before (the Nth inputs together, as
/// long as the shorter); `--link` links them all (the shorter wrapping).
#[test]
fn linked_sources() {
    let ran = many(&["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"], b"");
    assert_eq!(ran.stdout, "a 1\nb 2\n", "{ran:?}");
    let ran = many(
        &[
            "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2",
        ],
        b"",
    );
    assert_eq!(ran.stdout, "a 1\nb 2\nc 1\n", "{ran:?}");
}

/// `-I STR` is the replacement string in place of `{}` (which is then
/// text); `-d` splits the input at another character.
#[test]
fn replace_string_and_delimiter() {
    let ran = many(&["-k", "-I", "XX", "echo", "XX-{}", ":::", "a"], b"");
    assert_eq!(ran.stdout, "a-{}\n", "{ran:?}");
    let ran = many(&["-k", "-d", ",", "echo"], b"a,b c,d");
    assert_eq!(ran.stdout, "a\nb c\nd\n", "{ran:?}");
    let ran = many(&["-k", "-d", "\\t", "echo"], b"a\tb");
    assert_eq!(ran.stdout, "a\nb\n", "{ran:?}");
}

/// `-N 2` is `-n 2` ({1} and {2} each); `--shuf` runs every job once, in
/// a random order (here not the input's, in one of three runs: a chance
/// of 20!^-3 to fail).
#[test]
fn max_replace_args_and_shuf() {
    let ran = many(
        &[
            "-k", "-N", "2", "echo", "{2}-{1}", ":::", "a", "b", "c", "d",
        ],
        b"",
    );
    assert_eq!(ran.stdout, "b-a\nd-c\n", "{ran:?}");
    let inputs: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
    let mut args = vec!["--shuf", "-j", "1", "echo", ":::"];
    args.extend(inputs.iter().map(String::as_str));
    let in_order: String = inputs.iter().map(|i| format!("{i}\n")).collect();
    let mut shuffled = false;
    for _ in 0..3 {
        let ran = many(&args, b"");
        assert_eq!(ran.code(), 0, "{ran:?}");
        let mut lines: Vec<u32> = ran.stdout.lines().map(|l| l.parse().expect("n")).collect();
        shuffled |= ran.stdout != in_order;
        lines.sort_unstable();
        assert_eq!(lines, (1..=20).collect::<Vec<u32>>(), "{ran:?}");
    }
    assert!(shuffled, "never shuffled");
}

/// `-u`: the jobs write to our stdout themselves, so half a line comes out
/// while the job runs (it then waits on a FIFO the test writes only once
/// it has read that half line).
#[test]
fn ungroup_lets_jobs_write_directly() {
    use std::io::{Read, Write};
    let dir = TempDir::new("ungroup");
    let fifo = dir.path("go");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let job = format!("printf part; read x < {fifo}; echo -end");
    let mut child = cli_command(["many", "-u", "sh", "-c", "{}", ":::", &job])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start spawn");
    let mut out = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = [0u8; 4];
        let _ = out.read_exact(&mut first);
        let _ = tx.send(first);
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        rest
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(30));
    let mut go = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the FIFO");
    go.write_all(b"go\n").expect("write the FIFO");
    let rest = reader.join().expect("reader");
    let status = child.wait().expect("wait");
    drop(go);
    assert_eq!(
        first.as_ref().map(|b| &b[..]),
        Ok(&b"part"[..]),
        "not written as it came"
    );
    assert_eq!(rest, "-end\n");
    assert!(status.success());
}

/// `-v` prints each job's command line before its output (tagged too with
/// `--tag`), as GNU parallel does.
#[test]
fn verbose_prints_the_command_line_first() {
    let ran = many(&["-v", "-k", "echo", ":::", "a", "b"], b"");
    assert_eq!(ran.stdout, "echo a\na\necho b\nb\n", "{ran:?}");
    let ran = many(&["-v", "--tag", "echo", ":::", "a"], b"");
    assert_eq!(ran.stdout, "a\techo a\na\ta\n", "{ran:?}");
}

/// No command and no input: nothing runs, and that is success.
#[test]
fn no_command_and_no_input_runs_nothing() {
    let ran = cli(["many"]);
    assert_eq!((ran.code(), ran.stdout.as_str()), (0, ""), "{ran:?}");
}
