//! Shared helpers for spawn's cross-crate integration tests (`tests/tests/*`):
//! finding (and building) the `spawn` CLI binary and the examples of
//! `spawn/examples`, running them with a time limit, and rendering what they
//! did in one stable text form for insta snapshots.
//!
//! # How the binaries are found
//!
//! `env!("CARGO_BIN_EXE_spawn")` exists only inside the `spawn-cli` package,
//! and a bin-only crate cannot be a dependency, so these tests locate the
//! binaries themselves. A test binary lives in `<target>/<profile>/deps/`; the
//! CLI is `<target>/<profile>/spawn` and the examples are
//! `<target>/<profile>/examples/<name>`. Before the first use in a test
//! process, [`spawn_cli`] runs `cargo build -p spawn-cli` (and [`example`]
//! runs `cargo build -p spawn --examples`) with that target directory and
//! profile, so the binaries are never stale, whichever `cargo test` or
//! `cargo nextest` command started the tests. The build is a no-op when
//! they are fresh. `$SPAWN_CLI` names a prebuilt CLI binary instead (the build
//! is then skipped).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long one run of a binary may take before the test fails (and the
/// binary is killed), so that a hang is a failure, not a stuck CI job.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The workspace root.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// `<target>/<profile>`: the directory that holds this test binary's `deps/`.
#[must_use]
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary is in a directory");
    deps.parent()
        .expect("the test binary is in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds `args` with cargo into this test binary's target directory and
/// profile; panics with cargo's output if the build fails.
fn cargo_build(args: &[&str]) {
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .arg("build")
        .args(args)
        .arg("--profile")
        .arg(profile)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "cargo build {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The path of the `spawn` CLI binary, built first if needed (see the
/// [crate docs](crate)).
pub fn spawn_cli() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SPAWN_CLI") {
            return PathBuf::from(bin);
        }
        cargo_build(&["--package", "spawn-cli", "--bin", "spawn"]);
        profile_dir().join("spawn")
    })
}

/// The path of the example `name` of `spawn/examples`, all of them built
/// first if needed (see the [crate docs](crate)).
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| cargo_build(&["--package", "spawn", "--examples"]));
    profile_dir().join("examples").join(name)
}

/// The names of the examples in `spawn/examples` (each `*.rs` file), sorted.
#[must_use]
pub fn example_names() -> Vec<String> {
    let dir = workspace_root().join("spawn/examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// What a finished run of a binary did.
#[derive(Debug)]
pub struct Ran {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout, as text (invalid UTF-8 replaced).
    pub stdout: String,
    /// Its stderr, as text (invalid UTF-8 replaced).
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    /// The exit code; panics when the process was killed by a signal.
    #[must_use]
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {self:?}"))
    }

    /// The run in insta-cmd's layout: success, exit code, stdout, stderr.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "success: {}", self.status.success());
        match self.status.code() {
            Some(code) => {
                let _ = writeln!(s, "exit_code: {code}");
            }
            None => {
                let _ = writeln!(s, "status: {}", self.status);
            }
        }
        let _ = writeln!(s, "----- stdout -----\n{}", self.stdout);
        let _ = write!(s, "----- stderr -----\n{}", self.stderr);
        s
    }
}

/// Runs `cmd` with `input` on its stdin (or `/dev/null` when `None`),
/// collecting stdout and stderr, and kills it (failing the test) if it runs
/// longer than [`RUN_LIMIT`].
pub fn run(cmd: &mut Command, input: Option<&[u8]>) -> Ran {
    let start = Instant::now();
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.unwrap_or_default().to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {RUN_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Ran {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
    }
}

/// A [`Command`] for the CLI with `args`, in a stable environment: `PATH` is
/// `/usr/bin:/bin` (so that "not found" messages do not depend on the
/// machine), `PARALLEL_SHELL` `/bin/sh`, `COLUMNS` unset, and the workspace root as the working directory.
#[must_use]
pub fn cli_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(spawn_cli());
    cmd.args(args)
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        // `spawn many`'s shell, whatever shell started the tests.
        .env("PARALLEL_SHELL", "/bin/sh")
        .env_remove("COLUMNS")
        .current_dir(workspace_root());
    cmd
}

/// Runs the CLI with `args` (see [`cli_command`]) and stdin `/dev/null`.
pub fn cli<I, S>(args: I) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&mut cli_command(args), None)
}

/// Runs the CLI with `args` and `input` on its stdin.
pub fn cli_with_input<I, S>(args: I, input: &[u8]) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&mut cli_command(args), Some(input))
}

/// Regex filters (pattern, replacement) for insta that hide what changes from
/// run to run in the CLI's text output: times, byte sizes of memory, pids.
#[must_use]
pub fn filters() -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        // "timed out after 0.503s", "1.02s"
        (r"\b\d+\.\d+s\b", "[secs]"),
        // trace times: "    12.345 ms"
        (r"\b\d+\.\d+ ms\b", "[ms] ms"),
    ];
    if portable_backend() {
        f.push(("started by PosixSpawn", "started by Clone3"));
    }
    f
}

/// Whether the suite runs on the portable backend (`SPAWN_BACKEND=portable`,
/// see `spawn_sys::backend`). Its plain starts are `posix_spawn` where
/// Linux's own backend uses `clone3`: the one thing the CLI's snapshots
/// show differently, mapped back (by [`filters`] and the JSON redaction) so
/// that one set of snapshots serves both runs. The path itself is tested by
/// `spawn/tests/startup.rs`'s `the_backend_variable_switches_the_mechanisms`.
#[must_use]
pub fn portable_backend() -> bool {
    spawn_sys::backend() == spawn_sys::Backend::Portable
}

/// Whether `pid` is alive: running, sleeping or stopped; not a zombie.
#[must_use]
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st == "Z" || st == "X")
    })
}

/// Waits (boundedly: 20 s) until `pid` is no longer alive; KILLs it and
/// says `false` if it still is then (so a failed test leaves nothing).
#[must_use]
pub fn gone_soon(pid: u32) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// A fresh directory under the system's temporary directory for one test
/// (`spawn-<name>-<pid>`), removed with everything in it when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes it (emptied first if a previous run left it).
    #[must_use]
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("spawn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// The path of `name` in it, as text.
    #[must_use]
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("utf-8 path").to_owned()
    }

    /// The text of the file `name` in it; panics naming it when unreadable.
    #[must_use]
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
