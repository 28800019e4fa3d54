//! `spawn`: the debug tool of the spawn library. Runs one command (`run`),
//! many at once (`many`), a pipeline (`pipe`), or one command with every
//! event and action of the core printed (`trace`), each with `--json`.
//!
//! Exit codes: the child's (128+N when killed by signal N); 124 on timeout;
//! 126 when the program cannot be executed; 127 when it is not found; 125
//! for other failures to start or to talk to it.

mod json;
mod many;

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use spawn::{Command, Error, Output, Pipeline, Sink, Stdio};

/// Run child processes through the spawn library and see what happens.
#[derive(Parser)]
#[command(name = "spawn", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one command; the exit code mirrors the child's (128+N for signal N).
    #[command(
        after_help = "Example:\n  spawn run --capture --json -- sh -c 'echo out; echo err >&2; exit 3'"
    )]
    Run(RunArgs),
    /// Run many commands at once, at most N at a time, output line by line.
    #[command(
        after_help = "Example:\n  spawn many -j 4 --tag -- 'echo one' 'sleep 1' 'ls /'\n  printf 'echo a\\necho b\\n' | spawn many -j 2"
    )]
    Many(many::ManyArgs),
    /// Run a pipeline: stages separated by `::`, connected stdout to stdin.
    #[command(after_help = "Example:\n  spawn pipe -- cat /etc/passwd :: grep root :: cut -d: -f1")]
    Pipe(PipeArgs),
    /// Run one command and print every event and action of the core.
    #[command(after_help = "Example:\n  spawn trace -- sh -c 'echo hello; echo oops >&2'")]
    Trace(TraceArgs),
}

/// Options shared by the commands that run one child.
#[derive(Args, Clone)]
struct ChildOpts {
    /// Feed this text to the child's stdin.
    #[arg(long, value_name = "STR", conflicts_with = "stdin")]
    input: Option<String>,
    /// Feed this file to the child's stdin.
    #[arg(long, value_name = "FILE")]
    stdin: Option<PathBuf>,
    /// Stop the child after this many seconds (TERM to its group, KILL after the grace).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Run the child in this directory.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Set an environment variable for the child (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    opts: ChildOpts,
    /// Capture stdout and stderr (printed after the child ends) instead of passing them through.
    #[arg(long)]
    capture: bool,
    /// Send stderr where stdout goes (2>&1).
    #[arg(long)]
    merge: bool,
    /// Print one JSON object (status, stdout, stderr, report, error); implies --capture.
    #[arg(long)]
    json: bool,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROG ARGS"
    )]
    argv: Vec<OsString>,
}

#[derive(Args)]
struct PipeArgs {
    /// Feed this text to the first stage's stdin.
    #[arg(long, value_name = "STR")]
    input: Option<String>,
    /// Stop every stage after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Print one JSON object (statuses, stdout, stderr, reports, error).
    #[arg(long)]
    json: bool,
    /// The stages: `prog args :: prog args :: …`.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "STAGES"
    )]
    argv: Vec<OsString>,
}

#[derive(Args)]
struct TraceArgs {
    #[command(flatten)]
    opts: ChildOpts,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// The program and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROG ARGS"
    )]
    argv: Vec<OsString>,
}

/// Ctrl-C, `kill` and a hung-up terminal are passed on to the children, and
/// the tool exits after them (with their status).
pub(crate) fn forwarder() -> Option<&'static spawn::Forwarder> {
    static FWD: std::sync::OnceLock<Option<spawn::Forwarder>> = std::sync::OnceLock::new();
    FWD.get_or_init(|| {
        spawn::Forwarder::install(&[spawn::Signal::INT, spawn::Signal::TERM, spawn::Signal::HUP])
            .ok()
    })
    .as_ref()
}

fn main() -> ExitCode {
    // Before any thread exists, so that every thread has the signals blocked.
    let _ = forwarder();
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Run(a) => run(&a),
        Cmd::Many(a) => many::many(&a),
        Cmd::Pipe(a) => pipe(&a),
        Cmd::Trace(a) => trace(&a),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// The exit code for an error, following the shell's conventions.
pub(crate) fn error_code(e: &Error) -> i32 {
    match e {
        Error::NotFound { .. } => 127,
        Error::PermissionDenied { .. } => 126,
        Error::Timeout { .. } => 124,
        Error::Failed { status, .. } => status.shell_code(),
        _ => 125,
    }
}

pub(crate) fn secs(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("invalid number of seconds: {s}"))
}

/// Builds the command from `argv` and the shared options.
fn build(argv: &[OsString], o: &ChildOpts) -> Result<Command, String> {
    let (program, args) = argv.split_first().ok_or("no program given")?;
    let mut cmd = Command::new(program).args(args);
    if let Some(i) = &o.input {
        cmd = cmd.input(i.as_bytes());
    }
    if let Some(f) = &o.stdin {
        let file =
            std::fs::File::open(f).map_err(|e| format!("cannot open {}: {e}", f.display()))?;
        cmd = cmd.stdin(file);
    }
    if let Some(t) = o.timeout {
        cmd = cmd.timeout(secs(t)?);
    }
    if let Some(d) = &o.cwd {
        cmd = cmd.cwd(d);
    }
    for kv in &o.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--env wants K=V, got {kv:?}"))?;
        cmd = cmd.env(k, v);
    }
    Ok(cmd)
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("spawn: {msg}");
    2
}

fn run(a: &RunArgs) -> i32 {
    let mut cmd = match build(&a.argv, &a.opts) {
        Ok(c) => c,
        Err(m) => return usage_error(&m),
    };
    if a.capture || a.json {
        cmd = cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    if a.merge {
        cmd = cmd.stderr(Stdio::merge());
    }
    if let Some(f) = forwarder() {
        cmd = cmd.forward_signals(f);
    }
    let result = cmd.run();
    if a.json {
        json::print_line(&json::run_json(&a.argv, &result));
    } else {
        let out = match &result {
            Ok(o) => Some(o),
            Err(e) => {
                eprintln!("spawn: {e}");
                e.output()
            }
        };
        if a.capture
            && let Some(o) = out
        {
            print_captured(o);
        }
    }
    match &result {
        Ok(o) => o.status.shell_code(),
        Err(e) => error_code(e),
    }
}

fn print_captured(o: &Output) {
    let _ = io::stdout().write_all(&o.stdout);
    let _ = io::stdout().flush();
    let _ = io::stderr().write_all(&o.stderr);
}

fn pipe(a: &PipeArgs) -> i32 {
    let stages: Vec<&[OsString]> = a.argv.split(|s| s == "::").collect();
    if stages.iter().any(|s| s.is_empty()) {
        return usage_error("empty pipeline stage (two `::` in a row, or one at either end)");
    }
    let mut cmds = stages.iter().map(|s| Command::new(&s[0]).args(&s[1..]));
    let Some(first) = cmds.next() else {
        return usage_error("no stages");
    };
    let mut p = cmds.fold(Pipeline::new(first), Pipeline::pipe);
    if let Some(i) = &a.input {
        p = p.input(i.as_bytes());
    }
    if let Some(t) = a.timeout {
        match secs(t) {
            Ok(d) => p = p.timeout(d),
            Err(m) => return usage_error(&m),
        }
    }
    if a.json {
        p = p.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let result = p.run();
    if a.json {
        json::print_line(&json::pipe_json(&stages, &result));
    } else {
        match &result {
            Ok(out) => {
                for (i, (s, st)) in stages.iter().zip(&out.statuses).enumerate() {
                    eprintln!("spawn pipe: stage {i} ({}): {st}", s[0].to_string_lossy());
                }
            }
            Err(e) => eprintln!("spawn: {e}"),
        }
    }
    match &result {
        Ok(out) if out.success() => 0,
        Ok(out) => out
            .statuses
            .iter()
            .rev()
            .find(|s| !s.success())
            .map_or(1, spawn::ExitStatus::shell_code),
        Err(e) => error_code(e),
    }
}

fn trace(a: &TraceArgs) -> i32 {
    let cmd = match build(&a.argv, &a.opts) {
        Ok(c) => c.stdout(Sink::discard()).stderr(Sink::discard()),
        Err(m) => return usage_error(&m),
    };
    let json = a.json;
    let stdout = io::stdout();
    let result = cmd.run_traced(|t| {
        let mut out = stdout.lock();
        let line = if json {
            json::trace_json(t)
        } else {
            json::trace_text(t)
        };
        let _ = writeln!(out, "{line}");
    });
    match &result {
        Ok(o) => {
            let path = match o.report.fork_reason {
                Some(why) => format!("{:?} (for {why})", o.report.spawn_path),
                None => format!("{:?}", o.report.spawn_path),
            };
            eprintln!(
                "spawn trace: {} ({} bytes of stdout, {} of stderr; started by {path})",
                o.status, o.report.stdout_bytes, o.report.stderr_bytes
            );
            o.status.shell_code()
        }
        Err(e) => {
            eprintln!("spawn: {e}");
            error_code(e)
        }
    }
}
