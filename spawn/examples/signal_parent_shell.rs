//! `signal_parent_shell`: a signal sent to a shell does not reach its child.
//!
//! The spawn version of `subprocess_signal_parent_shell.py` from PyMOTW-3's
//! subprocess chapter, with the grandchild `signal_child.py` (beside this file):
//!
//! ```python
//! import os
//! import signal
//! import subprocess
//! import tempfile
//! import time
//! import sys
//!
//! script = '''#!/bin/sh
//! echo "Shell script in process $$"
//! set -x
//! python3 signal_child.py
//! '''
//! script_file = tempfile.NamedTemporaryFile('wt')
//! script_file.write(script)
//! script_file.flush()
//!
//! proc = subprocess.Popen(['sh', script_file.name])
//! print('PARENT      : Pausing before signaling {}...'.format(
//!     proc.pid))
//! sys.stdout.flush()
//! time.sleep(1)
//! print('PARENT      : Signaling child {}'.format(proc.pid))
//! sys.stdout.flush()
//! os.kill(proc.pid, signal.SIGUSR1)
//! time.sleep(3)
//! ```
//!
//! Three processes: this program, the shell, and `signal_child.py` run by the
//! shell. `SIGUSR1` sent to the shell's pid kills the shell (the default
//! action) and never reaches the grandchild, which keeps running with our
//! stdout pipe open. Python leaves it to time out on its own. Here the shell
//! was started in a process group of its own (`process_group(0)`), so the
//! survivor is cleaned up with `Child::kill_group`. The `echo` at the end of
//! the script keeps the shell from replacing itself with `python3` (some
//! shells exec the last command of a `-c` script); it never runs.

use std::io::{BufRead, BufReader};

use spawn::{Command, Signal, Stdio};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

const SCRIPT: &str = r#"echo "Shell script in process $$"
set -x
python3 signal_child.py
echo "Shell script: python3 exited with $?"
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut proc = Command::shell(SCRIPT)
        .cwd(EXAMPLES)
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::merge()) // the `set -x` trace, in order with the rest
        .spawn()?;
    let shell = proc.pid();
    println!("PARENT      : Pausing before signaling {shell}...");
    let mut lines = BufReader::new(proc.take_stdout().ok_or("stdout is not piped")?).lines();
    let mut grandchild = String::new();
    loop {
        let line = lines
            .next()
            .ok_or("the script ended before it was ready")??;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("CHILD") {
            grandchild = rest.split(':').next().unwrap_or_default().trim().to_owned();
        }
        if line.ends_with("Pausing to wait for signal") {
            break;
        }
    }
    println!("PARENT      : Signaling child {shell}");
    proc.send_signal(Signal::USR1)?;
    let status = proc.wait()?;
    println!("PARENT      : shell {shell} ended: {status}");

    // The grandchild did not get the signal: it still runs.
    let alive = Command::shell("kill -0 \"$1\" 2>/dev/null")
        .arg(&grandchild)
        .run()?
        .status
        .success();
    println!("PARENT      : grandchild {grandchild} still running: {alive}");

    println!("PARENT      : Killing process group {shell}");
    proc.kill_group()?;
    // Our pipe reaches EOF once the grandchild, its last writer, is gone.
    for line in lines {
        println!("{}", line?);
    }
    println!("PARENT      : done");
    if !alive || status.signal() != Some(Signal::USR1.as_raw()) {
        return Err("expected the shell to die of SIGUSR1 and its child to live on".into());
    }
    Ok(())
}
