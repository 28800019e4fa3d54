//! `run_output_error_trap`: both stdout and stderr captured.
//!
//! The spawn version of `subprocess_run_output_error_trap.py` from PyMOTW-3's
//! subprocess chapter:
//!
//! ```python
//! import subprocess
//!
//! try:
//!     completed = subprocess.run(
//!         'echo to stdout; echo to stderr 1>&2; exit 1',
//!         shell=True,
//!         stdout=subprocess.PIPE,
//!         stderr=subprocess.PIPE,
//!     )
//! except subprocess.CalledProcessError as err:
//!     print('ERROR:', err)
//! else:
//!     print('returncode:', completed.returncode)
//!     print('Have {} bytes in stdout: {!r}'.format(
//!         len(completed.stdout),
//!         completed.stdout.decode('utf-8'))
//!     )
//!     print('Have {} bytes in stderr: {!r}'.format(
//!         len(completed.stderr),
//!         completed.stderr.decode('utf-8'))
//!     )
//! ```
//!
//! Without `check`, the exit code 1 is not an error. Both pipes are read at
//! the same time, so a child that fills one while we wait on the other
//! cannot deadlock.

use spawn::{Command, Stdio};

/// Python's `repr()` of an ASCII `str`: `'to stdout\n'`.
fn py_repr(bytes: &[u8]) -> String {
    let inner: String = bytes
        .iter()
        .map(|&b| {
            if b == b'"' {
                "\"".to_owned()
            } else {
                b.escape_ascii().to_string()
            }
        })
        .collect();
    format!("'{inner}'")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let completed = Command::shell("echo to stdout; echo to stderr 1>&2; exit 1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()?;
    println!("returncode: {}", completed.status.code().unwrap_or(-1));
    println!(
        "Have {} bytes in stdout: {}",
        completed.stdout.len(),
        py_repr(&completed.stdout)
    );
    println!(
        "Have {} bytes in stderr: {}",
        completed.stderr.len(),
        py_repr(&completed.stderr)
    );
    Ok(())
}
