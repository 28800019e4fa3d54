//! `spawn pipe`: a pipeline, `a ARGS :: b ARGS :: c ARGS`, exiting like a
//! shell with `set -o pipefail`.

use std::ffi::OsString;

use clap::Args;
use spawn::{Command, Pipeline, Stdio};

use crate::screen::{failure_code, or_failure, screen};

const AFTER_HELP: &str = "\
Exit status: as a shell's with `set -o pipefail`: that of the last stage that
failed (128+N for a stage killed by signal N), 0 when every stage succeeded. A
stage killed by SIGPIPE because a later one stopped reading counts as success
(`yes :: head -n 1` succeeds). Ctrl-C, TERM or HUP are passed on to every stage
as they are, and spawn pipe exits after the stages with 128+N.

Example:
  spawn pipe -- cat /etc/passwd :: grep root :: cut -d: -f1";

#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct PipeArgs {
    /// Feed this text to the first stage's stdin.
    #[arg(long, value_name = "STR")]
    input: Option<String>,
    /// Stop every stage after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Print one JSON object (statuses, stdout, stderr, reports, error).
    #[arg(long)]
    json: bool,
    /// Print each stage's status on stderr, also when all succeeded.
    #[arg(short, long)]
    verbose: bool,
    /// The stages: `prog args :: prog args :: …`.
    #[arg(required = true, trailing_var_arg = true, value_name = "STAGES")]
    argv: Vec<OsString>,
}

/// Runs `spawn pipe`; returns the exit code.
pub(crate) fn pipe(a: &PipeArgs) -> i32 {
    let stages: Vec<&[OsString]> = a.argv.split(|s| s == "::").collect();
    if stages.iter().any(|s| s.is_empty()) {
        return crate::usage_error(
            "empty pipeline stage (two `::` in a row, or one at either end)",
        );
    }
    let mut cmds = stages.iter().map(|s| Command::new(&s[0]).args(&s[1..]));
    let Some(first) = cmds.next() else {
        return crate::usage_error("no stages");
    };
    let mut p = cmds.fold(Pipeline::new(first), Pipeline::pipe);
    if let Some(i) = &a.input {
        p = p.input(i.as_bytes());
    }
    if let Some(t) = a.timeout {
        match crate::secs(t) {
            Ok(d) => p = p.timeout(d),
            Err(m) => return crate::usage_error(&format!("--timeout: {m}")),
        }
    }
    if a.json {
        p = p.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // INT, TERM or HUP reach every stage as they are (as with `run`); the
    // tool exits after the stages with 128+N.
    let forwarder = crate::signals::forwarder();
    if let Some(f) = forwarder {
        p = p.forward_signals(f);
    }
    let result = p.run();
    if let Some(sig) = forwarder.and_then(spawn::Forwarder::received) {
        if let Err(e) = &result {
            screen().note(&format!("spawn: {e}"));
        }
        return 128 + sig.as_raw();
    }
    if a.json {
        if let Err(f) = crate::json::print_line(&crate::json::pipe_json(&stages, &result)) {
            return failure_code(&f);
        }
    } else {
        match &result {
            Ok(out) if a.verbose || !out.success() => {
                for (i, (s, st)) in stages.iter().zip(&out.statuses).enumerate() {
                    screen().note(&format!(
                        "spawn pipe: stage {i} ({}): {st}",
                        s[0].to_string_lossy()
                    ));
                }
            }
            Ok(_) => {}
            Err(e) => screen().note(&format!("spawn: {e}")),
        }
    }
    or_failure(match &result {
        Ok(out) if out.success() => 0,
        Ok(out) => out
            .statuses
            .iter()
            .rev()
            .find(|s| !s.success())
            .map_or(1, spawn::ExitStatus::shell_code),
        Err(e) => crate::error_code(e),
    })
}
