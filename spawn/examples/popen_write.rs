//! `popen_write`: write to a started child's stdin (`Popen` + `communicate(input)`).
//!
//! The spawn version of `subprocess_popen_write.py` from PyMOTW-3's subprocess
//! chapter:
//!
//! ```python
//! import subprocess
//!
//! print('write:')
//! proc = subprocess.Popen(
//!     ['cat', '-'],
//!     stdin=subprocess.PIPE,
//! )
//! proc.communicate(b'\tstdin: to stdin\n')
//! ```
//!
//! The input is written, then stdin is closed so that `cat` sees EOF and
//! exits. `cat` prints to our stdout, which it inherited.

use spawn::{Command, Stdio};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("write:");
    let mut proc = Command::new("cat").arg("-").stdin(Stdio::piped()).spawn()?;
    let out = proc.communicate(b"\tstdin: to stdin\n")?;
    if !out.status.success() {
        return Err(format!("cat failed: {}", out.status).into());
    }
    Ok(())
}
