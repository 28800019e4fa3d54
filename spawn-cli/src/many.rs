//! `spawn many`: many commands at once through one [`spawn::Group`], output
//! streamed line by line (never torn mid-line), a summary at the end.

use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

use clap::Args;
use spawn::{Command, Group, Progress, Sink, Stdio};

#[derive(Args)]
pub(crate) struct ManyArgs {
    /// Run at most N commands at once.
    #[arg(short = 'j', long = "jobs", default_value_t = 4, value_name = "N")]
    jobs: usize,
    /// Prefix each line of output with `[index]` of its command.
    #[arg(long)]
    tag: bool,
    /// Run each command with `/bin/sh -c` instead of splitting it into words.
    #[arg(long)]
    shell: bool,
    /// Stop each command after this many seconds.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Print one JSON object per command (in order, at the end) instead of streaming.
    #[arg(long)]
    json: bool,
    /// The commands, each one argument (`'ls -l'`); without any, one per line on stdin.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    commands: Vec<OsString>,
}

/// Writes whole lines, with an optional tag, under one lock: lines from
/// different children never interleave mid-line.
fn line_sink<W: Write + Send + 'static>(out: &Arc<Mutex<W>>, tag: Option<String>) -> Sink {
    let out = Arc::clone(out);
    Sink::lines(move |line| {
        let mut w = out.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buf = Vec::with_capacity(line.len() + 8);
        if let Some(t) = &tag {
            buf.extend_from_slice(t.as_bytes());
        }
        buf.extend_from_slice(line);
        buf.push(b'\n');
        let _ = w.write_all(&buf);
        let _ = w.flush();
    })
}

pub(crate) fn many(a: &ManyArgs) -> i32 {
    let lines: Vec<String> = if a.commands.is_empty() {
        io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .collect()
    } else {
        a.commands
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect()
    };
    let stdout = Arc::new(Mutex::new(io::stdout()));
    let stderr = Arc::new(Mutex::new(io::stderr()));
    let mut cmds = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let mut cmd = if a.shell {
            Command::shell(line)
        } else {
            match shell_words::split(line) {
                Ok(words) if !words.is_empty() => Command::new(&words[0]).args(&words[1..]),
                Ok(_) => return crate::usage_error(&format!("command {i} is empty")),
                Err(e) => return crate::usage_error(&format!("command {i} ({line:?}): {e}")),
            }
        };
        if let Some(t) = a.timeout {
            match crate::secs(t) {
                Ok(d) => cmd = cmd.timeout(d),
                Err(m) => return crate::usage_error(&m),
            }
        }
        let tag = a.tag.then(|| format!("[{i}] "));
        cmd = if a.json {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped())
        } else {
            cmd.stdout(line_sink(&stdout, tag.clone()))
                .stderr(line_sink(&stderr, tag))
        };
        cmds.push(cmd);
    }
    let total = cmds.len();
    let mut group = Group::new().max_running(a.jobs).add_all(cmds);
    if let Some(f) = crate::forwarder() {
        group = group.forward_signals(f);
    }
    let live = io::stderr().is_terminal() && !a.json;
    if live {
        let err = Arc::clone(&stderr);
        group = group.on_progress(move |p: Progress| {
            let mut w = err.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = write!(
                w,
                "\r\x1b[2K[{}/{} done, {} running, {} queued]",
                p.done, total, p.running, p.queued
            );
            let _ = w.flush();
        });
    }
    let results = match group.run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spawn: {e}");
            return 125;
        }
    };
    if live {
        eprint!("\r\x1b[2K");
    }
    let mut failed = 0;
    for (i, r) in results.iter().enumerate() {
        let ok = matches!(r, Ok(o) if o.status.success());
        if !ok {
            failed += 1;
        }
        if a.json {
            crate::json::print_line(&crate::json::many_json(i, &lines[i], r));
        } else {
            match r {
                Ok(o) if !o.status.success() => {
                    eprintln!("spawn many: [{i}] {}: {}", lines[i], o.status);
                }
                Err(e) => eprintln!("spawn many: [{i}] {e}"),
                _ => {}
            }
        }
    }
    eprintln!("spawn many: {total} commands, {failed} failed");
    i32::from(failed > 0)
}
