//! `check_output_merged`: stderr merged into the captured stdout (`2>&1`).
//!
//! The spawn version of `subprocess_check_output_error_trap_output.py` from
//! PyMOTW-3's subprocess chapter:
//!
//! ```python
//! import subprocess
//!
//! try:
//!     output = subprocess.check_output(
//!         'echo to stdout; echo to stderr 1>&2; exit 1',
//!         shell=True,
//!         stderr=subprocess.STDOUT,
//!     )
//! except subprocess.CalledProcessError as err:
//!     print('ERROR:', err)
//! else:
//!     print('Have {} bytes in output'.format(len(output)))
//!     print(output)
//! ```
//!
//! `Stdio::merge()` on stderr is `stderr=subprocess.STDOUT`: the child writes
//! both streams into one pipe, so their order is kept exactly. Nothing reaches
//! the console; the error still holds everything that was printed. (To keep
//! the order *and* know which stream said what, see `tagged_log`.)

use spawn::{Command, Error, Stdio};

/// Python's `repr()` of `bytes`: `b'to stdout\n'`.
fn py_bytes_repr(bytes: &[u8]) -> String {
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
    format!("b'{inner}'")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let result = Command::shell("echo to stdout; echo to stderr 1>&2; exit 1")
        .stderr(Stdio::merge())
        .check_output();
    match result {
        Ok(output) => {
            println!("Have {} bytes in output", output.len());
            println!("{}", py_bytes_repr(&output));
        }
        Err(Error::Failed {
            command,
            status,
            output,
            ..
        }) => {
            println!("ERROR: {command}: {status}");
            println!(
                "Have {} bytes in output: {}",
                output.stdout.len(),
                py_bytes_repr(&output.stdout)
            );
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}
