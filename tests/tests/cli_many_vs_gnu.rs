//! `spawn many` against GNU parallel itself (issue 30): the same command
//! lines, each a difference the issue names, run under both and compared
//! byte for byte (stdout and exit code). Skipped, with a message, where
//! `parallel` is not installed (`apt-get install parallel`).

use std::path::PathBuf;
use std::process::Command;

use spawn_tests::{cli_command, run};

/// GNU parallel on `PATH`, or `None` (then the comparison is skipped).
fn gnu_parallel() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("parallel"))
        .find(|p| p.is_file())
}

/// One command line to run under both: arguments after `parallel` (and
/// after `spawn many`), and stdin.
struct Case {
    args: &'static [&'static str],
    input: &'static str,
}

/// The command lines compared with GNU parallel: each difference of issue
/// 30 that output and exit code can show.
const CASES: &[Case] = &[
    Case {
        args: &["-k", "echo", "X"],
        input: "A\nB\n",
    },
    Case {
        args: &["-k", "echo", "X", ":::", "A", "B"],
        input: "",
    },
    Case {
        args: &["-k"],
        input: "echo 1\n\necho 2 | tr 2 3\n",
    },
    Case {
        args: &["-k", ":::", "echo a", "echo b"],
        input: "",
    },
    Case {
        args: &["-k", "echo 1", "echo 2"],
        input: "A\n",
    },
    Case {
        args: &[
            "-k", "echo", "{.}", "{/.}", "{//}", "{/}", ":::", ".hidden", "/.x", "a/b/", "c//",
            "x.", "a/..", "//x", "a.b/.x.y",
        ],
        input: "",
    },
    Case {
        args: &[
            "-k", "echo", "{2}/{1.}", "{-1}", "{3}x", ":::", "a.txt", "b.md", ":::", "d/c",
        ],
        input: "",
    },
    Case {
        args: &[
            "-k", "-n", "2", "echo", "{2}-{1}", "{}", ":::", "a", "b", "c",
        ],
        input: "",
    },
    Case {
        args: &["-k", "--colsep", "\t", "echo", "{3}", "{1/}", "{}"],
        input: "x/a\tb c\td\n",
    },
    Case {
        args: &[
            "-k",
            "-j",
            "1",
            "echo {%} {#} $PARALLEL_SEQ $PARALLEL_JOBSLOT",
        ],
        input: "a\nb\n",
    },
    Case {
        args: &["-k", "echo x{}y {nope} '{print $1}'", ":::", "a b"],
        input: "",
    },
    Case {
        args: &[
            "-j1",
            "--halt",
            "soon,fail=2",
            "exit {}",
            ":::",
            "5",
            "6",
            "7",
        ],
        input: "",
    },
    Case {
        args: &["-j1", "--halt", "soon,fail=20%", "exit"],
        input: "3\n4\n0\n0\n0\n0\n0\n0\n0\n0\n",
    },
    Case {
        args: &[
            "-j1",
            "--halt",
            "now,success=1",
            "exit {}",
            ":::",
            "3",
            "0",
            "4",
        ],
        input: "",
    },
    Case {
        args: &[
            "-j1",
            "--halt",
            "soon,done=2",
            "exit {}",
            ":::",
            "3",
            "0",
            "4",
        ],
        input: "",
    },
    // -X, -m, -q and --pipe (issue 30, item 3).
    Case {
        args: &[
            "-k",
            "-j2",
            "-X",
            "echo",
            "pre{}post",
            "{#}",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        input: "",
    },
    Case {
        args: &["-k", "-j3", "-X", "echo"],
        input: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
    },
    Case {
        args: &["-k", "-j1", "-m", "echo", "pre{}post", ":::", "a", "b c"],
        input: "",
    },
    Case {
        args: &["-k", "-q", "echo", "a;b", "$HOME", "x{}y", ":::", "1 2"],
        input: "",
    },
    Case {
        args: &["-k", "--pipe", "--block", "6", "echo {#}; cat"],
        input: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
    },
    Case {
        args: &["-k", "--pipe", "--block", "3", "wc", "-c"],
        input: "abcdefghij\nk\nlast",
    },
];

/// The same command lines under GNU parallel and `spawn many`: the same
/// stdout and exit code. Skipped (with a message) where `parallel` is not
/// installed.
#[test]
fn same_as_gnu() {
    let Some(parallel) = gnu_parallel() else {
        eprintln!("same_as_gnu: skipped: GNU parallel is not installed (apt-get install parallel)");
        return;
    };
    // parallel's own files (its citation notice…) go here, not to $HOME.
    let home = std::env::temp_dir().join(format!("spawn-gnu-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("temp dir");
    let mut differ = Vec::new();
    for case in CASES {
        let mut gnu = Command::new(&parallel);
        gnu.args(case.args)
            .env("PARALLEL_HOME", &home)
            .env("PARALLEL_SHELL", "/bin/sh")
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C");
        let theirs = run(&mut gnu, Some(case.input.as_bytes()));
        let mut args = vec!["many"];
        args.extend(case.args);
        let ours = run(&mut cli_command(args), Some(case.input.as_bytes()));
        if (theirs.status.code(), &theirs.stdout) != (ours.status.code(), &ours.stdout) {
            differ.push(format!(
                "{:?} < {:?}: parallel {:?} {:?}, spawn many {:?} {:?} ({})",
                case.args,
                case.input,
                theirs.status.code(),
                theirs.stdout,
                ours.status.code(),
                ours.stdout,
                ours.stderr
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
