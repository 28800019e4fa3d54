//! `run_ls`: run a command, let it print to our stdout, get its exit code.
//!
//! The spawn version of `subprocess_os_system.py` from PyMOTW-3's subprocess
//! chapter (replacing `os.system`):
//!
//! ```python
//! import subprocess
//!
//! completed = subprocess.run(['ls', '-1'])
//! print('returncode:', completed.returncode)
//! ```
//!
//! As in Python, `run` inherits stdin, stdout and stderr, and a non-zero exit
//! is not an error (see `run_check` for that). The arguments are passed as
//! they are: no shell is involved. The directory listed is the one holding
//! these examples (PyMOTW lists its own chapter's directory).
//!
//! Run it with `cargo run -p spawn --example run_ls`.

use spawn::{Command, ExitStatus};

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
    let completed = Command::new("ls").arg("-1").cwd(EXAMPLES).run()?;
    println!("returncode: {}", returncode(completed.status));
    Ok(())
}
