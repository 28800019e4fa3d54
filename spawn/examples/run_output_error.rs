//! `run_output_error`: stdout captured, stderr shown, the exit code checked.
//!
//! The spawn version of `subprocess_run_output_error.py` from PyMOTW-3's
//! subprocess chapter:
//!
//! ```python
//! import subprocess
//!
//! try:
//!     completed = subprocess.run(
//!         'echo to stdout; echo to stderr 1>&2; exit 1',
//!         check=True,
//!         shell=True,
//!         stdout=subprocess.PIPE,
//!     )
//! except subprocess.CalledProcessError as err:
//!     print('ERROR:', err)
//! else:
//!     print('returncode:', completed.returncode)
//!     print('Have {} bytes in stdout: {!r}'.format(
//!         len(completed.stdout),
//!         completed.stdout.decode('utf-8'))
//!     )
//! ```
//!
//! The message to stderr goes straight to our stderr (inherited); the one to
//! stdout is captured, and kept in the error, as `CalledProcessError.stdout`.

use spawn::{Command, Error, Stdio};

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
    let result = Command::shell("echo to stdout; echo to stderr 1>&2; exit 1")
        .stdout(Stdio::piped())
        .check();
    match result {
        Ok(completed) => {
            println!("returncode: {:?}", completed.status.code());
            println!(
                "Have {} bytes in stdout: {}",
                completed.stdout.len(),
                py_repr(&completed.stdout)
            );
        }
        Err(Error::Failed {
            command,
            status,
            output,
            ..
        }) => {
            println!("ERROR: {command}: {status}");
            println!("the error keeps stdout: {}", py_repr(&output.stdout));
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
