//! The JSON shapes of the CLI's `--json` output (fixed by the design: `status`,
//! `stdout`, `stderr`, `report` with `wall_ms`, `error` with `kind` and
//! `message`) and the text form of trace steps.

use std::ffi::OsString;

use serde_json::{Value, json};
use spawn::trace::{Trace, What};
use spawn::{Error, Output, PipelineOutput};

/// Prints one JSON value on its own line (through the [`screen`](crate::screen)).
///
/// # Errors
/// Writing stdout failed.
pub(crate) fn print_line(v: &Value) -> Result<(), crate::screen::Failure> {
    let mut line = v.to_string().into_bytes();
    line.push(b'\n');
    crate::screen::screen().out(&line)
}

fn argv_json(argv: &[OsString]) -> Value {
    argv.iter()
        .map(|a| Value::String(a.to_string_lossy().into_owned()))
        .collect()
}

fn output_fields(o: Option<&Output>) -> (Value, Value, Value, Value) {
    match o {
        Some(o) => (
            json!(o.status),
            json!(o.stdout_lossy()),
            json!(o.stderr_lossy()),
            json!(o.report),
        ),
        None => (Value::Null, json!(""), json!(""), Value::Null),
    }
}

/// `run --json`: one object, also for failures to start and timeouts.
pub(crate) fn run_json(argv: &[OsString], r: &Result<Output, Error>) -> Value {
    let (out, err) = match r {
        Ok(o) => (Some(o), None),
        Err(e) => (e.output(), Some(e)),
    };
    let (status, stdout, stderr, report) = output_fields(out);
    json!({
        "command": argv_json(argv),
        "status": status,
        "stdout": stdout,
        "stderr": stderr,
        "report": report,
        "error": err.map(|e| json!(e)),
    })
}

/// `pipe --json`.
pub(crate) fn pipe_json(stages: &[&[OsString]], r: &Result<PipelineOutput, Error>) -> Value {
    let commands: Vec<Value> = stages.iter().map(|s| argv_json(s)).collect();
    match r {
        Ok(p) => json!({
            "commands": commands,
            "statuses": p.statuses,
            "success": p.success(),
            "stdout": String::from_utf8_lossy(&p.stdout),
            "stderr": String::from_utf8_lossy(&p.stderr),
            "reports": p.reports,
            "error": Value::Null,
        }),
        Err(e) => {
            let (_, stdout, stderr, _) = output_fields(e.output());
            json!({
                "commands": commands,
                "statuses": Value::Null,
                "success": false,
                "stdout": stdout,
                "stderr": stderr,
                "reports": Value::Null,
                "error": json!(e),
            })
        }
    }
}

/// `many --json`: one object per job; `index` counts from 0 in input order
/// (the job number `{#}` less one).
pub(crate) fn many_json(seq: u64, command: &str, r: &Result<Output, Error>) -> Value {
    let index = seq.saturating_sub(1);
    let (out, err) = match r {
        Ok(o) => (Some(o), None),
        Err(e) => (e.output(), Some(e)),
    };
    let (status, stdout, stderr, report) = output_fields(out);
    json!({
        "index": index,
        "command": command,
        "status": status,
        "stdout": stdout,
        "stderr": stderr,
        "report": report,
        "error": err.map(|e| json!(e)),
    })
}

fn micros(t: &Trace<'_>) -> u128 {
    t.at.as_micros()
}

/// A trace step as one JSON object.
pub(crate) fn trace_json(t: &Trace<'_>) -> String {
    let v = match &t.what {
        What::Event(e) => json!({"at_us": micros(t), "kind": "event", "event": e, "fd": t.fd}),
        What::Output(o) => json!({"at_us": micros(t), "kind": "output", "output": o, "fd": t.fd}),
        _ => json!({"at_us": micros(t), "kind": "other"}),
    };
    v.to_string()
}

/// A trace step as text: time, direction, the step.
pub(crate) fn trace_text(t: &Trace<'_>) -> String {
    let ms = t.at.as_secs_f64() * 1e3;
    let fd = t.fd.map_or_else(String::new, |fd| format!("  [fd {fd}]"));
    match &t.what {
        What::Event(e) => format!("{ms:10.3} ms  -> {e:?}{fd}"),
        What::Output(o) => format!("{ms:10.3} ms  <- {o:?}{fd}"),
        _ => format!("{ms:10.3} ms  ??{fd}"),
    }
}
