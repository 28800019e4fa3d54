//! `spawn many`'s options of GNU parallel added for the drop-in (issue 30,
//! item 3), against the real binary and real processes: `-X`/`-m`
//! (inputs filling command lines), `-q`, `--results` (its tree, named
//! files and tables), `--bar`/`--eta` (on stderr), `--pipe`/`--block`.
//! What GNU parallel prints the same is also compared with it in
//! `cli_many_vs_gnu.rs`.

use spawn_tests::{Ran, TempDir, cli_with_input};

fn many(args: &[&str], input: &[u8]) -> Ran {
    let mut all = vec!["many"];
    all.extend(args);
    cli_with_input(all, input)
}

fn ok(ran: &Ran) -> &str {
    assert_eq!(ran.code(), 0, "{ran:?}");
    &ran.stdout
}

/// `-X` repeats each word with `{}` once per input, `-m` puts all the
/// inputs in each `{}`; a short input is spread over the job slots (GNU
/// parallel 20221122's lines).
#[test]
fn context_and_multiple_inputs_per_command_line() {
    let ran = many(
        &["-k", "-j2", "-X", "echo", "pre{}post", ":::", "a", "b", "c"],
        b"",
    );
    assert_eq!(ok(&ran), "preapost prebpost\nprecpost\n");
    let ran = many(
        &["-k", "-j1", "-m", "echo", "pre{}post", ":::", "a", "b", "c"],
        b"",
    );
    assert_eq!(ok(&ran), "prea b cpost\n");
    let ten: String = (1..=10).map(|i| format!("{i}\n")).collect();
    let ran = many(&["-k", "-j3", "-X", "echo"], ten.as_bytes());
    assert_eq!(ok(&ran), "1 2 3 4\n5 6 7 8\n9 10\n");
    // A long input: full lines of at most 63 KiB, every input once, in
    // order, the last ones spread over the slots.
    let many_inputs: String = (1..=40_000).map(|i| format!("{i}\n")).collect();
    let ran = many(&["-k", "-j2", "-X", "echo"], many_inputs.as_bytes());
    let out = ok(&ran);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "{} lines", lines.len());
    assert!(
        lines.iter().all(|l| l.len() <= 63 * 1024),
        "a line too long"
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    let want: Vec<String> = (1..=40_000).map(|i| i.to_string()).collect();
    assert_eq!(words, want);
}

/// `-q`: each word is quoted after its replacement, so `;` and `$HOME`
/// are text, and an input with a space stays one word of its word.
#[test]
fn quote_makes_shell_syntax_text() {
    let ran = many(
        &[
            "-k", "-q", "printf", "%s|", "a;b", "$HOME", "x{}y", ":::", "1 2",
        ],
        b"",
    );
    assert_eq!(ok(&ran), "a;b|$HOME|x1 2y|");
}

/// `--results`: nothing printed; GNU parallel's tree (`/` as `\_`),
/// named files, and the CSV, TSV and JSON tables with the output.
#[test]
fn results_are_saved_in_gnu_parallels_layouts() {
    let tmp = TempDir::new("dropin-results");
    let tree = tmp.path("tree");
    let ran = many(
        &[
            "--results",
            &tree,
            "echo {1}-{2}; echo err >&2",
            ":::",
            "I",
            "a/b",
            ":::",
            "X",
        ],
        b"",
    );
    assert_eq!(ok(&ran), "");
    assert_eq!(tmp.read("tree/1/I/2/X/stdout"), "I-X\n");
    assert_eq!(tmp.read("tree/1/I/2/X/stderr"), "err\n");
    assert_eq!(tmp.read("tree/1/a\\_b/2/X/stdout"), "a/b-X\n");
    let seqs = [
        tmp.read("tree/1/I/2/X/seq"),
        tmp.read("tree/1/a\\_b/2/X/seq"),
    ];
    assert!(seqs == ["1", "2"] || seqs == ["2", "1"], "{seqs:?}");

    let named = tmp.path("my_{}");
    ok(&many(&["-j1", "--results", &named, "echo"], b"foo\n"));
    assert_eq!(tmp.read("my_foo"), "foo\n");
    assert_eq!(tmp.read("my_foo.err"), "");
    assert_eq!(tmp.read("my_foo.seq"), "1");
    let dir = tmp.path("d_{}/");
    ok(&many(&["--results", &dir, "echo", ":::", "x"], b""));
    assert_eq!(tmp.read("d_x/stdout"), "x\n");

    let csv = tmp.path("t.csv");
    let failed = |ran: Ran| assert_eq!((ran.code(), ran.stdout.as_str()), (2, ""), "{ran:?}");
    failed(many(
        &[
            "-j1",
            "--results",
            &csv,
            "echo {}; exit 3",
            ":::",
            "a",
            "b,\"c",
        ],
        b"",
    ));
    let table = tmp.read("t.csv");
    assert_eq!(
        table.lines().next(),
        Some("Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,V1,Stdout,Stderr")
    );
    assert!(
        table.contains(",0,2,3,0,\"echo a; exit 3\",a,\"a\n\",\n"),
        "{table}"
    );
    assert!(
        table.contains(",0,5,3,0,\"echo 'b,\"\"c'; exit 3\",\"b,\"\"c\",\"b,\"\"c\n\",\n"),
        "{table}"
    );
    let tsv = tmp.path("t.tsv");
    ok(&many(&["--results", &tsv, "echo", ":::", "a b"], b""));
    assert!(
        tmp.read("t.tsv")
            .contains("\t\"echo 'a b'\"\t\"a b\"\t\"a b\n\"\t\n")
    );
    let json = tmp.path("t.json");
    ok(&many(&["--results", &json, "echo", ":::", "q\""], b""));
    let text = tmp.read("t.json");
    assert!(
        text.starts_with("{ \"Seq\": 1, \"Host\": \":\", \"Starttime\": "),
        "{text}"
    );
    assert!(
        text.ends_with(
            "\"Command\": \"echo 'q\\\"'\", \"V\": [ \"q\\\"\" ], \"Stdout\": \"q\\\"\\u000a\", \"Stderr\": \"\" }\n"
        ),
        "{text}"
    );
    // -.csv: the table on stdout.
    let ran = many(&["--results", "-.csv", "echo", ":::", "z"], b"");
    assert!(ok(&ran).starts_with("Seq,Host,"), "{ran:?}");
    assert!(ran.stdout.contains(",\"echo z\",z,\"z\n\",\n"), "{ran:?}");
}

/// `--bar` and `--eta` write the progress to stderr even off a terminal;
/// stdout is the jobs' output alone.
#[test]
fn bar_and_eta_go_to_stderr() {
    let ran = many(&["-k", "--bar", "echo", ":::", "a", "b", "c", "d"], b"");
    assert_eq!(ok(&ran), "a\nb\nc\nd\n");
    assert!(ran.stderr.contains("100% 4:0=0s"), "{ran:?}");
    let ran = many(&["-k", "--eta", "echo"], b"a\nb\n");
    assert_eq!(ok(&ran), "a\nb\n");
    assert!(ran.stderr.contains("ETA: 0s Left: 0 AVG: "), "{ran:?}");
}

/// `--pipe`: stdin in blocks of about `--block` bytes cut at record ends
/// (`--recend`), each the stdin of one job; a large input comes out whole
/// and in order with `-k`.
#[test]
fn pipe_gives_each_job_a_block_of_stdin() {
    let ten: String = (1..=10).map(|i| format!("{i}\n")).collect();
    let ran = many(
        &["-k", "--pipe", "--block", "5", "wc", "-c"],
        ten.as_bytes(),
    );
    assert_eq!(ok(&ran), "4\n4\n4\n4\n5\n");
    let ran = many(
        &["-k", "--pipe", "--block", "6", "echo {#}; cat"],
        ten.as_bytes(),
    );
    assert_eq!(ok(&ran), "1\n1\n2\n3\n2\n4\n5\n6\n3\n7\n8\n9\n4\n10\n");
    let ran = many(
        &["-k", "--pipe", "--block", "4", "--recend", ";", "cat; echo"],
        b"a;b;cc;d",
    );
    // A rest of exactly a block is cut at its last record end too.
    assert_eq!(ok(&ran), "a;b;\ncc;\nd\n");
    let big: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    let ran = many(&["-k", "--pipe", "cat"], big.as_bytes());
    assert!(
        ok(&ran) == big,
        "{} bytes back of {}",
        ran.stdout.len(),
        big.len()
    );
    let ran = many(
        &["-k", "--pipe", "--block", "1m", "wc", "-l"],
        big.as_bytes(),
    );
    let counts: Vec<usize> = ok(&ran)
        .lines()
        .map(|l| l.trim().parse().expect("a count"))
        .collect();
    assert!(counts.len() >= 2, "{counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), 200_000);
    // The joblog's Send is each block's bytes (GNU parallel's).
    let tmp = TempDir::new("dropin-pipe-joblog");
    let log = tmp.path("jobs.tsv");
    let ran = many(
        &["-j1", "--pipe", "--block", "5", "--joblog", &log, "cat"],
        ten.as_bytes(),
    );
    assert_eq!(ok(&ran), ten);
    let sends: Vec<String> = tmp
        .read("jobs.tsv")
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(4).expect("a Send column").to_owned())
        .collect();
    assert_eq!(sends, ["4", "4", "4", "4", "5"]);
    // --pipe with ::: lists, or -N, is an error naming the option.
    for args in [
        &["--pipe", "cat", ":::", "a"][..],
        &["--pipe", "-N", "2", "cat"],
    ] {
        let ran = many(args, b"");
        assert_eq!(ran.code(), 126, "{ran:?}");
        assert!(ran.stderr.contains("--pipe"), "{ran:?}");
    }
}

/// Options that meet a deliberate difference from GNU parallel
/// (`--timeout N%`, `--bar`/`--eta`) name it once on stderr, at the end;
/// plain runs, and runs of the options added here that behave as GNU
/// parallel's, name none.
#[test]
fn differences_from_gnu_parallel_are_named_once_and_only_when_met() {
    let ran = many(&["--timeout", "500%", "echo", ":::", "a", "b", "c"], b"");
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert_eq!(
        ran.stderr.matches("unlike GNU parallel").count(),
        1,
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("--timeout N% fixes each job's limit"),
        "{ran:?}"
    );
    let ran = many(&["--bar", "--eta", "echo", ":::", "a"], b"");
    assert_eq!(
        ran.stderr.matches("unlike GNU parallel").count(),
        1,
        "{ran:?}"
    );
    assert!(
        ran.stderr.contains("--bar and --eta write spawn's own"),
        "{ran:?}"
    );
    for args in [
        &["echo", ":::", "a"][..],
        &["-X", "echo", ":::", "a", "b"],
        &["-q", "echo", "a;b"],
        &["--pipe", "cat"],
        &["--timeout", "10", "echo", ":::", "a"],
    ] {
        let ran = many(args, b"x\n");
        assert_eq!(ran.code(), 0, "{args:?}: {ran:?}");
        assert!(!ran.stderr.contains("GNU parallel"), "{args:?}: {ran:?}");
    }
}
