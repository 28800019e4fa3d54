//! Every example of `spawn/examples` run as `cargo xtask ci` runs it (from
//! the `spawn/` directory, stdin `/dev/null`, no terminal): it must exit 0,
//! and its stdout and stderr are snapshot-tested, with pids, timings and
//! memory sizes filtered out. `HOME` and `LC_ALL` are fixed so that
//! `shell_variables` and `ls` print the same everywhere.
//!
//! The examples are built (if needed) by `spawn_tests::example`; see the
//! crate docs of `spawn-tests`.

use std::process::Command;

use insta::assert_snapshot;
use spawn_tests::{Ran, example, example_names, run, workspace_root};

/// Filters that hide what changes from run to run in the examples' output.
const FILTERS: &[(&str, &str)] = &[
    // signal_child.py's `CHILD {:>6}:` and the parents' pids.
    (r"CHILD +\d+", "CHILD [pid]"),
    (
        r"\b(process|signaling|child|group|grandchild|shell|Started) \d+",
        "$1 [pid]",
    ),
    // many_at_once
    (r"\b\d+\.\d+s\b", "[secs]"),
    (r"\b\d+\.\dx faster", "[n]x faster"),
    // bounded_memory
    (r"\b\d+\.\d MiB\b", "[n] MiB"),
];

fn run_example(name: &str) -> Ran {
    let mut cmd = Command::new(example(name));
    cmd.current_dir(workspace_root().join("spawn"))
        .env("HOME", "/home/example")
        .env("LC_ALL", "C");
    let ran = run(&mut cmd, None);
    assert!(
        ran.status.success(),
        "example {name} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        ran.status,
        ran.stdout,
        ran.stderr
    );
    ran
}

fn check(name: &str) {
    let ran = run_example(name);
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, *replacement);
    }
    settings.bind(|| assert_snapshot!(name, ran.render()));
}

macro_rules! examples {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*

        /// Every example in `spawn/examples` has a test here.
        #[test]
        fn every_example_is_tested() {
            let tested = [$(stringify!($name)),*];
            let missing: Vec<String> = example_names()
                .into_iter()
                .filter(|n| !tested.contains(&n.as_str()))
                .collect();
            assert!(missing.is_empty(), "examples without a snapshot test: {missing:?}");
        }
    };
}

examples!(
    bounded_memory,
    check_output_merged,
    many_at_once,
    pipes,
    popen2,
    popen3,
    popen4,
    popen_read,
    popen_write,
    repeater_all_at_once,
    repeater_line_at_a_time,
    run_check,
    run_ls,
    run_output,
    run_output_error,
    run_output_error_trap,
    run_output_suppressed,
    shell_variables,
    signal_child,
    signal_parent_shell,
    signal_process_group,
    tagged_log,
);
