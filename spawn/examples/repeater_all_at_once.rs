//! `repeater_all_at_once`: write all the input, then read all the output.
//!
//! The spawn version of the second half of `interaction.py` from PyMOTW-3's
//! subprocess chapter, with the child `repeater.py` (beside this file):
//!
//! ```python
//! import subprocess
//!
//! print('All output at once:')
//! proc = subprocess.Popen(
//!     'python3 repeater.py',
//!     shell=True,
//!     stdin=subprocess.PIPE,
//!     stdout=subprocess.PIPE,
//! )
//! for i in range(5):
//!     line = ('{}\n'.format(i)).encode('utf-8')
//!     proc.stdin.write(line)
//!
//! output = proc.communicate()[0].decode('utf-8')
//! print(output)
//! ```
//!
//! This time `repeater.py: exiting` (on our stderr) comes before any of the
//! output is printed, since `communicate` waits for the child to end.
//! Writing to `stdin_mut()` leaves the pipe in the child, so `communicate`
//! closes it, as Python's does.

use std::io::Write;

use spawn::{Command, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("All output at once:");
    let mut proc = Command::new("python3")
        .arg("repeater.py")
        .cwd(EXAMPLES)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdin = proc.stdin_mut().ok_or("stdin is not piped")?;
    for i in 0..5 {
        writeln!(stdin, "{i}")?;
    }
    // The same could be had with `proc.communicate(b"0\n1\n2\n3\n4\n")`,
    // which also writes while it reads: no deadlock however big the input.
    let output = proc.communicate(b"")?;
    println!("{}", String::from_utf8(output.stdout)?);
    if !output.status.success() {
        return Err(format!("repeater.py failed: {}", output.status).into());
    }
    Ok(())
}
