//! `run_output`: capture a child's stdout.
//!
//! The spawn version of `subprocess_run_output.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! completed = subprocess.run(
//!     ['ls', '-1'],
//!     stdout=subprocess.PIPE,
//! )
//! print('returncode:', completed.returncode)
//! print('Have {} bytes in stdout:\n{}'.format(
//!     len(completed.stdout),
//!     completed.stdout.decode('utf-8'))
//! )
//! ```
//!
//! `Stdio::piped()` is `subprocess.PIPE`: what the child writes is collected
//! into `Output::stdout`. (For output of unknown size, pick a bounded
//! [`spawn::Sink`] instead; see `bounded_memory`.)

use spawn::{Command, ExitStatus, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

/// Python's `returncode`: the exit code, or minus the signal that killed it.
fn returncode(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => -signal,
        (None, None) => i32::MIN,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let completed = Command::new("ls")
        .arg("-1")
        .cwd(EXAMPLES)
        .stdout(Stdio::piped())
        .run()?;
    println!("returncode: {}", returncode(completed.status));
    println!(
        "Have {} bytes in stdout:\n{}",
        completed.stdout.len(),
        String::from_utf8(completed.stdout)?
    );
    Ok(())
}
