//! `popen_read`: read everything a started child writes (`Popen` + `communicate`).
//!
//! The spawn version of `subprocess_popen_read.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! print('read:')
//! proc = subprocess.Popen(
//!     ['echo', '"to stdout"'],
//!     stdout=subprocess.PIPE,
//! )
//! stdout_value = proc.communicate()[0]
//! print('\tstdout:', repr(stdout_value))
//! ```
//!
//! `Command::spawn` is `Popen`: it returns at once with a [`spawn::Child`].
//! `Child::communicate` drains the pipes and waits for the child.

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
    println!("read:");
    let mut proc = Command::new("echo")
        .arg("\"to stdout\"")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout_value = proc.communicate(b"")?.stdout;
    println!("\tstdout: {}", py_bytes_repr(&stdout_value));
    Ok(())
}
