//! `spawn trace`: one command, with every event handed to the core and
//! every output it answers printed as it happens (text or JSON lines), and
//! with `--data` the bytes of each read.

use std::ffi::OsString;
use std::io;

use clap::Args;
use spawn::Sink;

use crate::run::ChildOpts;
use crate::screen::{or_failure, screen};

/// Bytes of a read shown by `--data`; the rest is counted.
const DATA_SHOWN: usize = 64;

#[derive(Args)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    opts: ChildOpts,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Also show the bytes of each read (escaped; the first 64 of a long one).
    #[arg(long)]
    data: bool,
    /// The program and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "PROG ARGS")]
    argv: Vec<OsString>,
}

/// `data` escaped as a Rust/C string literal would show it, cut after
/// `DATA_SHOWN` bytes with the count of the rest.
pub(crate) fn escape(data: &[u8]) -> String {
    let shown = &data[..data.len().min(DATA_SHOWN)];
    let mut s = String::from("\"");
    for &b in shown {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    if data.len() > shown.len() {
        s.push_str(&format!(" (+{} bytes)", data.len() - shown.len()));
    }
    s
}

/// A sink that prints each read of the child's `stream`, in the trace.
struct Data {
    stream: &'static str,
    json: bool,
}

impl io::Write for Data {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let line = if self.json {
            serde_json::json!({
                "kind": "data",
                "stream": self.stream,
                "bytes": data.len(),
                "data": String::from_utf8_lossy(data),
            })
            .to_string()
        } else {
            format!(
                "               {} {} bytes: {}",
                self.stream,
                data.len(),
                escape(data)
            )
        };
        // A failure is kept by the screen and reported at the end.
        let _ = screen().out(format!("{line}\n").as_bytes());
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `spawn trace`; returns the exit code.
pub(crate) fn trace(a: &TraceArgs) -> i32 {
    let mut cmd = match crate::run::build(&a.argv, &a.opts) {
        Ok(c) => c,
        Err(m) => return crate::usage_error(&m),
    };
    cmd = if a.data {
        let data = |stream| {
            Sink::writer(Data {
                stream,
                json: a.json,
            })
        };
        cmd.stdout(data("stdout")).stderr(data("stderr"))
    } else {
        cmd.stdout(Sink::discard()).stderr(Sink::discard())
    };
    if let Some(f) = crate::signals::forwarder() {
        cmd = cmd.forward_signals(f);
    }
    let json = a.json;
    let result = cmd.run_traced(|t| {
        let mut line = if json {
            crate::json::trace_json(t)
        } else {
            crate::json::trace_text(t)
        };
        line.push('\n');
        // After a failure the screen writes nothing; it is reported at the end.
        let _ = screen().out(line.as_bytes());
    });
    or_failure(match &result {
        Ok(o) => {
            let path = match o.report.fork_reason {
                Some(why) => format!("{:?} (for {why})", o.report.spawn_path),
                None => format!("{:?}", o.report.spawn_path),
            };
            screen().note(&format!(
                "spawn trace: {} ({} bytes of stdout, {} of stderr; started by {path})",
                o.status, o.report.stdout_bytes, o.report.stderr_bytes
            ));
            o.status.shell_code()
        }
        Err(e) => {
            screen().note(&format!("spawn: {e}"));
            crate::error_code(e)
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_shows_bytes_and_cuts_long_reads() {
        assert_eq!(super::escape(b"hi\n\t\"\\\xff"), r#""hi\n\t\"\\\xff""#);
        let long = vec![b'a'; 100];
        assert!(super::escape(&long).ends_with("\" (+36 bytes)"));
    }
}
