//! `spawn run`: one command, like `Command::run`; and the options shared
//! with `trace`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use spawn::{Command, Output, Pty, Sink, Stdio};

use crate::screen::{failure_code, or_failure, screen};

/// Options shared by the commands that run one child.
#[derive(Args, Clone)]
pub(crate) struct ChildOpts {
    /// Feed this text to the child's stdin.
    #[arg(long, value_name = "STR", conflicts_with = "stdin")]
    input: Option<String>,
    /// Feed this file to the child's stdin.
    #[arg(long, value_name = "FILE")]
    stdin: Option<PathBuf>,
    /// Stop the child after this many seconds (TERM to its group, KILL after the grace).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Stop the child when it writes nothing on stdout or stderr for this
    /// many seconds (as --timeout stops it; exit code 124).
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<f64>,
    /// Run the child in this directory.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Set an environment variable for the child (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<OsString>,
    /// Run the child on a new pseudo-terminal (24x80, TERM=xterm-256color)
    /// on its stdin and stdout (and stderr with `run`), so that it sees a
    /// terminal: colours, line buffering.
    #[arg(long, conflicts_with = "stdin")]
    pub(crate) pty: bool,
}

#[derive(Args)]
pub(crate) struct RunArgs {
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
    #[arg(required = true, trailing_var_arg = true, value_name = "PROG ARGS")]
    argv: Vec<OsString>,
}

/// Builds the command from `argv` and the shared options.
pub(crate) fn build(argv: &[OsString], o: &ChildOpts) -> Result<Command, String> {
    use std::os::unix::ffi::OsStrExt;
    let (program, args) = argv.split_first().ok_or("no program given")?;
    let mut cmd = Command::new(program).args(args);
    if o.pty {
        // The size of our terminal, if we are on one (the forwarder keeps
        // it so when the window changes: SIGWINCH).
        let pty = match spawn_sys::pty::terminal_size() {
            Some((rows, cols)) => Pty::new().size(rows, cols),
            None => Pty::new(),
        };
        cmd = cmd.pty(pty);
    }
    if let Some(i) = &o.input {
        cmd = cmd.input(i.as_bytes());
    }
    if let Some(f) = &o.stdin {
        let file = std::fs::File::open(f)
            .map_err(|e| format!("--stdin {}: cannot open: {e}", f.display()))?;
        cmd = cmd.stdin(file);
    }
    if let Some(t) = o.timeout {
        cmd = cmd.timeout(crate::secs(t).map_err(|m| format!("--timeout: {m}"))?);
    }
    if let Some(t) = o.idle_timeout {
        cmd = cmd.idle_timeout(crate::secs(t).map_err(|m| format!("--idle-timeout: {m}"))?);
    }
    if let Some(d) = &o.cwd {
        cmd = cmd.cwd(d);
    }
    for kv in &o.env {
        let b = kv.as_bytes();
        let eq = b
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| format!("--env wants K=V, got {kv:?}"))?;
        cmd = cmd.env(
            std::ffi::OsStr::from_bytes(&b[..eq]),
            std::ffi::OsStr::from_bytes(&b[eq + 1..]),
        );
    }
    Ok(cmd)
}

/// Runs `spawn run`; returns the exit code.
pub(crate) fn run(a: &RunArgs) -> i32 {
    let mut cmd = match build(&a.argv, &a.opts) {
        Ok(c) => c,
        Err(m) => return crate::usage_error(&m),
    };
    if a.opts.pty {
        // What the terminal shows, stderr included: captured, or passed
        // through as it comes.
        cmd = if a.capture || a.json {
            cmd.stdout(Stdio::piped())
        } else {
            cmd.stdout(Sink::writer(std::io::stdout()))
        };
    } else if a.capture || a.json {
        cmd = cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else if a.opts.idle_timeout.is_some() {
        // Passed through by spawn, so that it sees the output come.
        cmd = cmd
            .stdout(Sink::writer(std::io::stdout()))
            .stderr(Sink::writer(std::io::stderr()));
    }
    if a.merge {
        cmd = cmd.stderr(Stdio::merge());
    }
    if let Some(f) = crate::signals::forwarder() {
        cmd = cmd.forward_signals(f);
    }
    let result = cmd.run();
    if a.json {
        if let Err(f) = crate::json::print_line(&crate::json::run_json(&a.argv, &result)) {
            return failure_code(&f);
        }
    } else {
        let out = match &result {
            Ok(o) => Some(o),
            Err(e) => {
                screen().note(&format!("spawn: {e}"));
                e.output()
            }
        };
        if a.capture
            && let Some(o) = out
            && let Err(f) = print_captured(o)
        {
            return failure_code(&f);
        }
    }
    or_failure(match &result {
        Ok(o) => o.status.shell_code(),
        Err(e) => crate::error_code(e),
    })
}

fn print_captured(o: &Output) -> Result<(), crate::screen::Failure> {
    screen().out(&o.stdout)?;
    screen().err(&o.stderr);
    Ok(())
}
