//! `cargo xtask check-targets [TARGET...]`: type-checks (`cargo check`, no
//! linking) every crate of the workspace, all features, for the systems
//! spawn is ported to but CI does not run on: macOS (aarch64), FreeBSD,
//! musl and aarch64 Linux. `cargo xtask ci` runs it when asked for
//! ([`ci_targets`]); one error fails it, and the errors are printed.
//!
//! No rustup target is downloaded: Debian 12's own toolchain (`rustc-web`,
//! `cargo-web`, and its library source `rust-web-src`, from
//! bookworm-security) rebuilds std from source for every target with
//! `-Zbuild-std` (`RUSTC_BOOTSTRAP=1`; a compiler and a library source of
//! the same version, which rustup's compiler with this source is not).
//! The packages are installed with `apt-get` when missing (as root;
//! bookworm-security is added to apt's sources if apt does not know the
//! source package). Where the toolchain is missing and cannot be installed
//! (no `apt-get`, not root, not Debian 12) the step fails, saying so: CI
//! runs on Debian 12 as root, and a port that is not checked is not proved.
//!
//! `cargo xtask ci` checks the targets `$SPAWN_CI_CHECK_TARGETS` names
//! (none by default: see [`ci_targets`]); `cargo xtask check-targets` all
//! four. All targets go to one cargo invocation (one build graph: std's crates
//! for four targets keep both cores busy), into their own target dir,
//! `$CHECK_TARGETS_DIR` or `<target dir>/check-targets`, which keeps one
//! std build per target between runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The targets CI type-checks.
pub(crate) const TARGETS: [&str; 4] = [
    "aarch64-apple-darwin",
    "x86_64-unknown-freebsd",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
];

/// The targets `cargo xtask ci` checks: what fits CI's 20 minutes on 2
/// cores. Each target costs about 2 CPU-minutes, nearly all of it std's
/// own crates (core alone 45-85 s, one rustc). Measured here cold (fresh
/// target dir, 2 shared cores): one target 173 s (load 5), two 188 s
/// (load 3), four 8m52 (load 4-5); apt adds ~50 s on a fresh machine
/// (~140 MB, unpacked ~870 MB). One target fits beside the rest of CI;
/// macOS is the one whose backends differ most from Linux (kqueue,
/// posix_spawn, no real-time signals). `cargo xtask check-targets` with no
/// argument checks all four.
pub(crate) const CI_TARGETS: [&str; 1] = ["aarch64-apple-darwin"];

/// The targets `cargo xtask ci` checks: `$SPAWN_CI_CHECK_TARGETS`, a
/// comma- or space-separated list, `ci` for [`CI_TARGETS`], or `all` for
/// [`TARGETS`]; `None` (no check) when it is unset or empty. Not by
/// default: with the rest of CI (about 9 minutes here, 1.75 times that on
/// CI's machine) even one cold target passes CI's 20 minutes.
pub(crate) fn ci_targets() -> Option<Vec<String>> {
    let v = std::env::var("SPAWN_CI_CHECK_TARGETS").ok()?;
    let list: Vec<String> = match v.trim() {
        "" => return None,
        "all" => TARGETS.map(str::to_owned).to_vec(),
        "ci" => CI_TARGETS.map(str::to_owned).to_vec(),
        s => s
            .split([',', ' '])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    Some(list)
}

/// The Debian packages of the toolchain.
const PACKAGES: [&str; 3] = ["rustc-web", "cargo-web", "rust-web-src"];

/// Where Debian's compiler finds the library source `-Zbuild-std` builds.
const LIBRARY_LOCK: &str = "/usr/lib/rustlib/src/rust/library/Cargo.lock";

/// The apt source added when apt knows no `rust-web-src`.
const SECURITY_SOURCES: &str = "/etc/apt/sources.list.d/spawn-bookworm-security.sources";
const SECURITY_STANZA: &str = "Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

/// `cargo xtask check-targets [TARGET...]` (default: the four of CI).
pub fn check_targets(root: &Path, args: &[String]) -> Result<(), String> {
    let targets: Vec<&str> = if args.is_empty() {
        TARGETS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let start = Instant::now();
    println!("==> check-targets: {}", targets.join(" "));
    install()?;
    let dir = check_dir(root);
    let out = Command::new("/usr/bin/cargo")
        .args(cargo_args(&targets))
        .current_dir(root)
        // Debian's toolchain, never a rustup proxy earlier in PATH.
        .env("PATH", debian_path())
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        // Only target crates get RUSTFLAGS (host build scripts and proc
        // macros do not, with --target): std's crates are then analysed
        // but not code-generated, as a check needs only their metadata.
        .env("RUSTFLAGS", "-Zno-codegen")
        .env("CARGO_TARGET_DIR", &dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .output()
        .map_err(|e| format!("step `check-targets`: cannot run /usr/bin/cargo: {e}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let errors = error_lines(&log);
    let secs = start.elapsed().as_secs_f64();
    if errors.is_empty() && out.status.success() {
        println!(
            "==> check-targets: ok, 0 errors ({secs:.1}s; target dir {})",
            dir.display()
        );
        return Ok(());
    }
    // The whole log: the diagnostics say where; cargo's summary lines say
    // which crate failed (their target triple is not in short messages).
    print!("{log}");
    Err(format!(
        "step `check-targets` failed ({}) after {secs:.1}s: {} errors for {} \
         (rerun one target: cargo xtask check-targets TARGET)\n  {}",
        out.status,
        errors.len(),
        targets.join(", "),
        errors.join("\n  ")
    ))
}

/// The arguments of the one `cargo check` over every target.
fn cargo_args<'a>(targets: &[&'a str]) -> Vec<&'a str> {
    // std without its `backtrace` feature: no object, gimli, addr2line,
    // miniz_oxide (a third of std's build), the same API to check against.
    let mut a = vec![
        "check",
        "-Zbuild-std=std,panic_abort",
        "-Zbuild-std-features=panic-unwind",
    ];
    for t in targets {
        a.extend(["--target", t]);
    }
    a.extend([
        "--workspace",
        "--all-features",
        "--keep-going",
        "--message-format=short",
    ]);
    a
}

/// The compiler's errors and cargo's own in `log`, without the summaries
/// that repeat them ("could not compile", "aborting due to").
fn error_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| is_error(l))
        .filter(|l| {
            !(l.contains("could not compile")
                || l.contains("aborting due to")
                || l.contains("build failed"))
        })
        .collect()
}

/// `error: …`, `error[E0425]: …`, or a short diagnostic
/// `file.rs:1:2: error…`.
fn is_error(line: &str) -> bool {
    let rest = match line.find(": error") {
        Some(i) if is_location(&line[..i]) => &line[i + 2..],
        _ => line,
    };
    rest.strip_prefix("error").is_some_and(|r| {
        r.starts_with(": ")
            || r.strip_prefix("[E")
                .and_then(|r| r.split_once("]: "))
                .is_some_and(|(code, _)| {
                    code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())
                })
    })
}

/// `file:line:col`, as short diagnostics begin.
fn is_location(s: &str) -> bool {
    let mut parts = s.rsplitn(3, ':');
    let numbers = parts
        .by_ref()
        .take(2)
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    numbers && parts.next().is_some_and(|file| !file.is_empty())
}

/// `$CHECK_TARGETS_DIR`, else `check-targets` in cargo's target dir.
fn check_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CHECK_TARGETS_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => crate::target_dir(root).join("check-targets"),
    }
}

/// `/usr/bin:/bin` first, then the rest of `PATH` (build scripts may call
/// other tools).
fn debian_path() -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("/usr/bin:/bin:{rest}")
}

/// Whether the three packages are installed and the library source is there.
fn installed() -> bool {
    Path::new(LIBRARY_LOCK).is_file()
        && PACKAGES.iter().all(|p| {
            Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
}

/// Installs the toolchain with apt where it is missing; `Err` says why it
/// cannot be.
fn install() -> Result<(), String> {
    if installed() {
        return Ok(());
    }
    let why_not = if !crate::install::on_path("apt-get") {
        Some("no apt-get")
    } else if crate::install::running_as_root().is_none() {
        Some("not root")
    } else if !is_bookworm() {
        Some("not Debian 12 (bookworm)")
    } else {
        None
    };
    if let Some(why) = why_not {
        return Err(format!(
            "step `check-targets`: Debian's {} are not installed and cannot be ({why}); \
             install them on Debian 12 (bookworm-security), or run the other steps alone",
            PACKAGES.join(", ")
        ));
    }
    let t = Instant::now();
    println!("    installing {} (apt-get)", PACKAGES.join(" "));
    apt(&["update", "-qq"])?;
    if !apt_knows("rust-web-src") {
        println!("    apt knows no rust-web-src: adding bookworm-security ({SECURITY_SOURCES})");
        std::fs::write(SECURITY_SOURCES, SECURITY_STANZA)
            .map_err(|e| format!("step `check-targets`: {SECURITY_SOURCES}: {e}"))?;
        apt(&["update", "-qq"])?;
    }
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(PACKAGES);
    apt(&args)?;
    if !installed() {
        return Err(format!(
            "step `check-targets`: apt-get installed {} but {LIBRARY_LOCK} is missing",
            PACKAGES.join(", ")
        ));
    }
    println!("    installed in {:.1}s", t.elapsed().as_secs_f64());
    Ok(())
}

fn apt(args: &[&str]) -> Result<(), String> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("step `check-targets`: cannot run apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "step `check-targets`: apt-get {} failed ({status})",
            args.join(" ")
        ))
    }
}

fn apt_knows(package: &str) -> bool {
    Command::new("apt-cache")
        .args(["show", package])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `/etc/os-release` names bookworm.
fn is_bookworm() -> bool {
    std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|s| s.lines().any(|l| l == "VERSION_CODENAME=bookworm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_without_their_summaries() {
        let log = "\
   Compiling spawn-sys v0.1.0
spawn-sys/src/a.rs:3:5: error[E0425]: cannot find value `SYS_setuid` in crate `libc`
spawn-sys/src/b.rs:9:1: error: unused import
spawn-sys/src/b.rs:9:1: warning: unused variable: `error`
error: could not compile `spawn-sys` (lib) due to 2 previous errors
error: aborting due to 2 previous errors
error: failed to run custom build command for `x`
note: error: in a note
";
        assert_eq!(
            error_lines(log),
            [
                "spawn-sys/src/a.rs:3:5: error[E0425]: cannot find value `SYS_setuid` in crate `libc`",
                "spawn-sys/src/b.rs:9:1: error: unused import",
                "error: failed to run custom build command for `x`",
            ]
        );
    }

    #[test]
    fn every_target_goes_to_one_cargo_check() {
        let a = cargo_args(&TARGETS);
        assert_eq!(a.iter().filter(|&&x| x == "--target").count(), 4);
        assert!(a.contains(&"--all-features") && a.contains(&"--workspace"));
    }
}
