//! `repeater_line_at_a_time`: talk to a child one line at a time.
//!
//! The spawn version of the first half of `interaction.py` from PyMOTW-3's
//! subprocess chapter, with the child `repeater.py` (beside this file), which
//! echoes its stdin to its stdout line by line and says on stderr when it
//! starts and exits:
//!
//! ```python
//! import subprocess
//!
//! print('One line at a time:')
//! proc = subprocess.Popen(
//!     'python3 repeater.py',
//!     shell=True,
//!     stdin=subprocess.PIPE,
//!     stdout=subprocess.PIPE,
//! )
//! for i in range(5):
//!     line = ('{}\n'.format(i)).encode('utf-8')
//!     proc.stdin.write(line)
//!     proc.stdin.flush()
//!     output = proc.stdout.readline().decode('utf-8')
//!     print(output.rstrip())
//! remainder = proc.communicate()[0].decode('utf-8')
//! print(remainder)
//! ```
//!
//! The child's stderr is inherited, so `repeater.py: starting` and
//! `repeater.py: exiting` appear on our stderr around the five lines. No
//! shell is needed to run `python3`. Reading each answer before writing the
//! next line is what synchronises the two processes (no sleeps).

use std::io::{BufRead, BufReader, Write};

use spawn::{Command, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("One line at a time:");
    let mut proc = Command::new("python3")
        .arg("repeater.py")
        .cwd(EXAMPLES)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = proc.take_stdin().ok_or("stdin is not piped")?;
    // Read through a buffer borrowed from the child, and keep what the buffer
    // holds beyond the lines read, so that `communicate` loses nothing.
    let leftover = {
        let mut stdout = BufReader::new(proc.stdout_mut().ok_or("stdout is not piped")?);
        for i in 0..5 {
            writeln!(stdin, "{i}")?;
            let mut output = String::new();
            if stdout.read_line(&mut output)? == 0 {
                return Err("repeater.py exited early".into());
            }
            println!("{}", output.trim_end());
        }
        stdout.buffer().to_vec()
    };
    // Closing stdin tells the child there is no more input (Python's
    // `communicate()` does that itself; ours took stdin, so we drop it).
    drop(stdin);
    let rest = proc.communicate(b"")?;
    let remainder = [leftover, rest.stdout].concat();
    println!("{}", String::from_utf8(remainder)?);
    if !rest.status.success() {
        return Err(format!("repeater.py failed: {}", rest.status).into());
    }
    Ok(())
}
