//! `shell_variables`: a shell, asked for explicitly, expands `$HOME`.
//!
//! The spawn version of `subprocess_shell_variables.py` from PyMOTW-3's
//! subprocess chapter:
//!
//! ```python
//! import subprocess
//!
//! completed = subprocess.run('echo $HOME', shell=True)
//! print('returncode:', completed.returncode)
//! ```
//!
//! Python's `shell=True` is a flag on any call; spawn never runs a shell
//! unless the command is built with [`Command::shell`], which is
//! `/bin/sh -c SCRIPT`. Data for the script should be passed as arguments
//! (`$1`, …), never pasted into it.

use spawn::{Command, ExitStatus};

/// Python's `returncode`: the exit code, or minus the signal that killed it.
fn returncode(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => -signal,
        (None, None) => i32::MIN,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let completed = Command::shell("echo $HOME").run()?;
    println!("returncode: {}", returncode(completed.status));

    // The same, with the value passed to the script as an argument.
    let home = std::env::var_os("HOME").unwrap_or_default();
    let completed = Command::shell("echo \"$1\"").arg(home).run()?;
    println!("returncode: {}", returncode(completed.status));
    Ok(())
}
