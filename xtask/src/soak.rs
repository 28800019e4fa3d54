//! `cargo xtask soak`: the soak run, `spawn-soak` (`tests/src/bin/spawn-soak`),
//! built with optimisations: 100,000 spawns, 10,000 children through
//! `Group`s, 1,000 timeouts, then the fd table, zombies and RSS checked
//! against the baseline. Arguments after `soak` go to `spawn-soak` (e.g.
//! `--spawns 1000000`). `cargo xtask ci` runs the short version (`--short`,
//! a few seconds) with the debug build its tests already made.

use std::path::Path;

use crate::{Step, run_step};

/// The full soak, in release mode, with `args` passed on.
pub fn soak(root: &Path, args: &[String]) -> Result<(), String> {
    let mut all: Vec<&str> = vec![
        "run",
        "--quiet",
        "--release",
        "--package",
        "spawn-tests",
        "--bin",
        "spawn-soak",
        "--",
    ];
    all.extend(args.iter().map(String::as_str));
    run_step(
        root,
        &Step {
            name: "soak",
            program: "cargo",
            args: &all,
            env: &[],
        },
    )
}

/// The short soak of `cargo xtask ci`.
pub fn short(root: &Path) -> Result<(), String> {
    run_step(
        root,
        &Step {
            name: "soak (short)",
            program: "cargo",
            args: &[
                "run",
                "--quiet",
                "--package",
                "spawn-tests",
                "--bin",
                "spawn-soak",
                "--",
                "--short",
            ],
            env: &[],
        },
    )
}
