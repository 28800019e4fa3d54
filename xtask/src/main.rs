//! `cargo xtask`: the workspace's own automation, with no dependencies.
//!
//! - `cargo xtask ci` runs every check CI runs, in order, failing fast and
//!   naming the step that failed.
//! - `cargo xtask snapshots` runs the snapshot tests and lists pending changes.
//! - `cargo xtask bench [--smoke]` runs the benchmarks against the peers.
//! - `cargo xtask bench-cli [--smoke]` prints only the rows of `spawn many`
//!   against `xargs -P`, GNU parallel and rust-parallel.
//! - `cargo xtask soak [args]` runs the soak (`spawn-soak`, release build).
//! - `cargo xtask check-targets [TARGET...]` type-checks the workspace for
//!   macOS, FreeBSD, musl and aarch64 Linux (Debian's toolchain, build-std).

mod bench;
mod bench_async;
mod bench_cli;
mod check_targets;
mod install;
mod soak;
mod tidy;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("snapshots") => snapshots(&root),
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("bench-cli") => bench_cli::cli_rows(&root, args.iter().any(|a| a == "--smoke"))
            .map(|doc| print!("{doc}")),
        Some("soak") => soak::soak(&root, &args[1..]),
        Some("check-targets") => check_targets::check_targets(&root, &args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci          every check CI runs: fmt, clippy, tests, doc tests, docs, tidy,
              snapshots (never accepted), examples, benchmark smoke run, short soak,
              check-targets for aarch64-apple-darwin
  snapshots   run the snapshot tests and list pending snapshot changes
  bench       run the benchmarks against the peers, rewrite BENCHMARKS.md
  check-targets [TARGET...]
              type-check every crate, all features, for aarch64-apple-darwin,
              x86_64-unknown-freebsd, x86_64-unknown-linux-musl and
              aarch64-unknown-linux-gnu (installs Debian's rustc-web, cargo-web,
              rust-web-src with apt where missing; std built with -Zbuild-std)
  soak        100,000 spawns, 10,000 children in groups, 1,000 timeouts (release
              build); then fds, zombies and RSS must be back where they started
";

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest =
        env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from("xtask"), PathBuf::from);
    manifest
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// One named step of a task.
struct Step<'a> {
    name: &'a str,
    program: &'a str,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
}

fn run_step(root: &Path, step: &Step<'_>) -> Result<(), String> {
    println!(
        "==> {}: {} {}",
        step.name,
        step.program,
        step.args.join(" ")
    );
    let start = Instant::now();
    let status = Command::new(step.program)
        .args(step.args)
        .envs(step.env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|e| format!("step `{}`: cannot run {}: {e}", step.name, step.program))?;
    let secs = start.elapsed().as_secs_f64();
    if status.success() {
        println!("==> {}: ok ({secs:.1}s)", step.name);
        Ok(())
    } else {
        Err(format!(
            "step `{}` failed ({status}) after {secs:.1}s",
            step.name
        ))
    }
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn ci(root: &Path) -> Result<(), String> {
    let start = Instant::now();
    // Property tests run from one fixed seed here, so that a run of CI is
    // reproducible; `cargo test` elsewhere draws fresh cases every time
    // (and records what fails in `*.proptest-regressions`, replayed here).
    let test_env: &[(&str, &str)] = &[
        ("INSTA_UPDATE", "no"),
        ("CI", "true"),
        ("PROPTEST_RNG_SEED", "20261201"),
    ];
    // The same tests again on the portable backend (`poll(2)`, pipes,
    // posix_spawn/fork, no pidfd: what macOS and the BSDs run, minus
    // kqueue), from the binaries the first run built.
    let portable_env: &[(&str, &str)] = &[
        ("INSTA_UPDATE", "no"),
        ("CI", "true"),
        ("PROPTEST_RNG_SEED", "20261201"),
        ("SPAWN_BACKEND", "portable"),
    ];
    let doc_env: &[(&str, &str)] = &[("RUSTDOCFLAGS", "-D warnings")];
    let mut steps = vec![
        Step {
            name: "fmt",
            program: "cargo",
            args: &["fmt", "--all", "--check"],
            env: &[],
        },
        Step {
            name: "clippy",
            program: "cargo",
            args: &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
            env: &[],
        },
    ];
    if has_nextest() {
        steps.push(Step {
            name: "test",
            program: "cargo",
            args: &[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
            ],
            env: test_env,
        });
        steps.push(Step {
            name: "test (SPAWN_BACKEND=portable)",
            program: "cargo",
            args: &[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--no-fail-fast",
                // The core does no I/O: nothing of it depends on the backend.
                "-E",
                "not package(spawn-core) and not package(xtask)",
            ],
            env: portable_env,
        });
    } else {
        steps.push(Step {
            name: "test",
            program: "cargo",
            args: &[
                "test",
                "--workspace",
                "--all-features",
                "--lib",
                "--bins",
                "--tests",
            ],
            env: test_env,
        });
        steps.push(Step {
            name: "test (SPAWN_BACKEND=portable)",
            program: "cargo",
            args: &[
                "test",
                "--workspace",
                "--exclude",
                "spawn-core",
                "--exclude",
                "xtask",
                "--all-features",
                "--lib",
                "--bins",
                "--tests",
            ],
            env: portable_env,
        });
    }
    steps.extend([
        Step {
            name: "doctest",
            program: "cargo",
            args: &["test", "--workspace", "--all-features", "--doc"],
            env: test_env,
        },
        Step {
            name: "doc",
            program: "cargo",
            args: &["doc", "--workspace", "--all-features", "--no-deps"],
            env: doc_env,
        },
        Step {
            // The core driven from its docs alone, with std children and poll(2).
            name: "core example",
            program: "cargo",
            args: &[
                "run",
                "--quiet",
                "--package",
                "spawn-core",
                "--example",
                "poll_loop",
            ],
            env: &[],
        },
    ]);
    // The comparison with GNU parallel (tests/tests/cli_many_vs_gnu.rs)
    // runs only where `parallel` is installed: install it where we can;
    // where we cannot, that test skips with a message.
    // Likewise tmux, the terminal the job-control test drives
    // (tests/tests/cli_job_control.rs).
    for note in [install::parallel(), install::tmux()].into_iter().flatten() {
        println!("    {note}");
    }
    for step in &steps {
        run_step(root, step)?;
    }
    examples(root)?;
    let stray = tidy::stray_snapshots(root);
    if !stray.is_empty() {
        return Err(format!(
            "step `snapshots`: pending snapshot changes (review with `cargo xtask snapshots`):\n  {}",
            stray.join("\n  ")
        ));
    }
    soak::short(root)?;
    bench::bench(root, &["--smoke".to_owned()])?;
    // The ports, type-checked, where asked for: `SPAWN_CI_CHECK_TARGETS`
    // (a list, or `all`); none by default, since even one target (std
    // rebuilt from source, ~3 min cold) takes CI past its 20 minutes.
    match check_targets::ci_targets() {
        Some(targets) => check_targets::check_targets(root, &targets)?,
        None => println!(
            "==> check-targets: not run (set SPAWN_CI_CHECK_TARGETS=aarch64-apple-darwin, \
             a list or `all`; or run `cargo xtask check-targets`)"
        ),
    }
    println!(
        "==> ci: all steps passed in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The examples of `spawn/examples`, each built and run; each must exit 0.
fn example_names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("spawn/examples"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Where cargo puts what xtask builds: `CARGO_TARGET_DIR` (a relative one
/// is taken from `root`, where xtask runs cargo), else `root/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    target_dir_from(root, env::var_os("CARGO_TARGET_DIR"))
}

fn target_dir_from(root: &Path, var: Option<std::ffi::OsString>) -> PathBuf {
    match var {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

fn examples(root: &Path) -> Result<(), String> {
    let names = example_names(root);
    if names.is_empty() {
        return Ok(());
    }
    run_step(
        root,
        &Step {
            name: "examples (build)",
            program: "cargo",
            args: &["build", "--quiet", "--package", "spawn", "--examples"],
            env: &[],
        },
    )?;
    let start = Instant::now();
    println!("==> examples: running {} examples", names.len());
    for name in &names {
        let bin = target_dir(root).join("debug/examples").join(name);
        let t = Instant::now();
        let out = Command::new(&bin)
            .current_dir(root.join("spawn"))
            .output()
            .map_err(|e| format!("step `examples`: cannot run {}: {e}", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "step `examples`: example `{name}` failed ({})\n--- stdout\n{}\n--- stderr\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        println!("    {name}: ok ({:.2}s)", t.elapsed().as_secs_f64());
    }
    println!("==> examples: ok ({:.1}s)", start.elapsed().as_secs_f64());
    Ok(())
}

fn snapshots(root: &Path) -> Result<(), String> {
    let result = run_step(
        root,
        &Step {
            name: "snapshots",
            program: "cargo",
            args: &["test", "--package", "spawn-tests"],
            env: &[("INSTA_UPDATE", "new"), ("INSTA_FORCE_PASS", "1")],
        },
    );
    let pending = tidy::stray_snapshots(root);
    if pending.is_empty() {
        println!("no pending snapshot changes");
    } else {
        println!(
            "pending snapshot changes (accept by renaming .snap.new to .snap, or `cargo insta review`):"
        );
        for p in &pending {
            println!("  {p}");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_dir_follows_cargo_target_dir() {
        let root = Path::new("/w/spawn");
        assert_eq!(target_dir_from(root, None), Path::new("/w/spawn/target"));
        assert_eq!(
            target_dir_from(root, Some("".into())),
            Path::new("/w/spawn/target")
        );
        assert_eq!(
            target_dir_from(root, Some("/tmp/t".into())),
            Path::new("/tmp/t")
        );
        assert_eq!(
            target_dir_from(root, Some("out/t".into())),
            Path::new("/w/spawn/out/t")
        );
    }
}
