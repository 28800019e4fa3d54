//! `tagged_log`: stdout and stderr merged in arrival order, each chunk still
//! tagged with its stream.
//!
//! Not in PyMOTW: Python's `stderr=subprocess.STDOUT` (see
//! `check_output_merged`) keeps the order but loses which stream said what;
//! capturing the two apart keeps the streams but loses the order:
//!
//! ```python
//! import subprocess
//!
//! out = subprocess.run('echo to stdout; echo to stderr 1>&2; echo more',
//!                      shell=True, stdout=subprocess.PIPE,
//!                      stderr=subprocess.STDOUT).stdout
//! print(out)   # b'to stdout\nto stderr\nmore\n': which line was stderr?
//! ```
//!
//! A [`spawn::Log`] given to both streams records every chunk with its
//! stream and arrival time. Sinks compose: each stream goes to the log *and*
//! to a `Sink::lines` callback that answers the child on its stdin, so the
//! child writes its next line only once the last one was read, which makes
//! the order certain (two pipes that are both ready can be read either way).

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use spawn::{ChildStdin, Command, Log, Sink, Stdio};

/// A sink that writes a newline to the child's stdin for each line it gets.
fn acknowledge(stdin: &Arc<Mutex<Option<ChildStdin>>>) -> Sink {
    let stdin = Arc::clone(stdin);
    Sink::lines(move |_line| {
        if let Some(w) = stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // The child may be gone after its last line: nothing to tell it.
            let _ = w.write_all(b"\n");
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = Log::new();
    let stdin = Arc::new(Mutex::new(None));
    let mut child =
        Command::shell("echo to stdout; read ack; echo to stderr 1>&2; read ack; echo more")
            .stdin(Stdio::piped())
            .stdout(Sink::tee(Sink::log(&log), acknowledge(&stdin)))
            .stderr(Sink::tee(Sink::log(&log), acknowledge(&stdin)))
            .spawn()?;
    *stdin.lock().unwrap_or_else(PoisonError::into_inner) = child.take_stdin();
    let out = child.communicate(b"")?;
    // Close the child's stdin (held by the sinks) now that it is done.
    drop(stdin.lock().unwrap_or_else(PoisonError::into_inner).take());

    println!("status: {}", out.status);
    for chunk in log.chunks() {
        println!(
            "[{}] {:?}",
            chunk.stream,
            String::from_utf8_lossy(&chunk.data)
        );
    }
    Ok(())
}
