//! `popen3`: stdin, stdout and stderr all piped (`popen3`).
//!
//! The spawn version of `subprocess_popen3.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! print('popen3:')
//! proc = subprocess.Popen(
//!     'cat -; echo "to stderr" 1>&2',
//!     shell=True,
//!     stdin=subprocess.PIPE,
//!     stdout=subprocess.PIPE,
//!     stderr=subprocess.PIPE,
//! )
//! msg = b'through stdin to stdout'
//! stdout_value, stderr_value = proc.communicate(msg)
//! print('\tpass through:', repr(stdout_value))
//! print('\tstderr      :', repr(stderr_value))
//! ```

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
    println!("popen3:");
    let mut proc = Command::shell("cat -; echo \"to stderr\" 1>&2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let msg = b"through stdin to stdout";
    let out = proc.communicate(msg)?;
    println!("\tpass through: {}", py_bytes_repr(&out.stdout));
    println!("\tstderr      : {}", py_bytes_repr(&out.stderr));
    Ok(())
}
