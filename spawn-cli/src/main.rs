//! `spawn`: the command-line face of the spawn library. Runs one command
//! (`run`), many at once GNU parallel's way (`many`), a pipeline (`pipe`),
//! or one command with every event and action of the core printed
//! (`trace`), each with `--json`.
//!
//! Exit codes: the child's (128+N when killed by signal N); 124 on timeout;
//! 126 when the program cannot be executed; 127 when it is not found; 125
//! for other failures to start or to talk to it, and when our own stdout
//! cannot be written; 141 when our stdout is a closed pipe (as a process
//! killed by SIGPIPE); 2 for bad options. `many` has its own contract (see
//! `spawn many --help` and `many/exit_code.rs`).
//!
//! The files, one concept each: [`run`], [`pipe`], [`trace`] and [`many`]
//! (the subcommands), [`screen`] (our stdout and stderr: write errors and
//! the progress line), [`signals`] (Ctrl-C and friends), [`json`] (the
//! `--json` shapes).

mod json;
mod many;
mod pipe;
mod run;
mod screen;
mod signals;
mod trace;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use spawn::Error;

/// Run child processes through the spawn library and see what happens.
#[derive(Parser)]
#[command(name = "spawn", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, at the start
enum Cmd {
    /// Run one command; the exit code mirrors the child's (128+N for signal N).
    #[command(
        after_help = "Example:\n  spawn run --capture --json -- sh -c 'echo out; echo err >&2; exit 3'"
    )]
    Run(run::RunArgs),
    /// Run many jobs at once, GNU parallel's way: inputs, templates, output modes, --halt, --joblog.
    Many(many::ManyArgs),
    /// Run a pipeline: stages separated by `::`, connected stdout to stdin.
    Pipe(pipe::PipeArgs),
    /// Run one command and print every event and action of the core.
    #[command(after_help = "Example:\n  spawn trace --data -- sh -c 'echo hello; echo oops >&2'")]
    Trace(trace::TraceArgs),
}

fn main() -> ExitCode {
    // Parsing starts no thread; the signals are blocked before any exists,
    // so that every thread has them blocked.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `spawn many`'s usage errors keep out of the range of its failed
        // jobs' count (see many::exit_code).
        Err(e) if e.use_stderr() && std::env::args_os().nth(1).is_some_and(|a| a == "many") => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(many::exit_code::USAGE).unwrap_or(255));
        }
        Err(e) => e.exit(),
    };
    let code = match cli.command {
        Cmd::Run(a) => {
            let _ = signals::forwarder();
            run::run(&a)
        }
        Cmd::Many(a) => {
            signals::block_all();
            let _ = signals::interrupts();
            let _ = signals::job_control();
            many::many(&a)
        }
        Cmd::Pipe(a) => {
            let _ = signals::forwarder();
            pipe::pipe(&a)
        }
        Cmd::Trace(a) => {
            let _ = signals::forwarder();
            trace::trace(&a)
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// The exit code for an error, following the shell's conventions.
pub(crate) fn error_code(e: &Error) -> i32 {
    match e {
        Error::NotFound { .. } => 127,
        Error::PermissionDenied { .. } => 126,
        Error::Timeout { .. } | Error::IdleTimeout { .. } => 124,
        Error::Failed { status, .. } => status.shell_code(),
        _ => 125,
    }
}

/// `s` seconds as a duration, or the error naming the bad value.
pub(crate) fn secs(s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("invalid number of seconds: {s}"))
}

/// Says `msg` and returns the exit code of a usage error.
pub(crate) fn usage_error(msg: &str) -> i32 {
    screen::screen().note(&format!("spawn: {msg}"));
    2
}
