//! `popen4`: stderr merged into the piped stdout (`popen4`).
//!
//! The spawn version of `subprocess_popen4.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! print('popen4:')
//! proc = subprocess.Popen(
//!     'cat -; echo "to stderr" 1>&2',
//!     shell=True,
//!     stdin=subprocess.PIPE,
//!     stdout=subprocess.PIPE,
//!     stderr=subprocess.STDOUT,
//! )
//! msg = b'through stdin to stdout\n'
//! stdout_value, stderr_value = proc.communicate(msg)
//! print('\tcombined output:', repr(stdout_value))
//! print('\tstderr value   :', repr(stderr_value))
//! ```
//!
//! Python's `stderr_value` is `None` since stderr was not captured on its
//! own; spawn's is an empty `Vec`.

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
    println!("popen4:");
    let mut proc = Command::shell("cat -; echo \"to stderr\" 1>&2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::merge())
        .spawn()?;
    let msg = b"through stdin to stdout\n";
    let out = proc.communicate(msg)?;
    println!("\tcombined output: {}", py_bytes_repr(&out.stdout));
    println!("\tstderr value   : {}", py_bytes_repr(&out.stderr));
    Ok(())
}
