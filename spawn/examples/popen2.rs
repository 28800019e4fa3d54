//! `popen2`: write to a child and read its answer (`popen2`).
//!
//! The spawn version of `subprocess_popen2.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! print('popen2:')
//!
//! proc = subprocess.Popen(
//!     ['cat', '-'],
//!     stdin=subprocess.PIPE,
//!     stdout=subprocess.PIPE,
//! )
//! msg = b'through stdin to stdout'
//! stdout_value = proc.communicate(msg)[0]
//! print('\tpass through:', repr(stdout_value))
//! ```
//!
//! `communicate` writes the input while it reads the output, so however much
//! goes through, neither side blocks on a full pipe.

use spawn::{Command, Stdio};

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
    println!("popen2:");
    let mut proc = Command::new("cat")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let msg = b"through stdin to stdout";
    let stdout_value = proc.communicate(msg)?.stdout;
    println!("\tpass through: {}", py_bytes_repr(&stdout_value));
    Ok(())
}
