//! `pipes`: `cat index.rst | grep ".. literalinclude::" | cut -f 3 -d:`.
//!
//! The spawn version of `subprocess_pipes.py` from PyMOTW-3's subprocess
//! chapter, which chains three `Popen`s by hand:
//!
//! ```python
//! import subprocess
//!
//! cat = subprocess.Popen(
//!     ['cat', 'index.rst'],
//!     stdout=subprocess.PIPE,
//! )
//!
//! grep = subprocess.Popen(
//!     ['grep', '.. literalinclude::'],
//!     stdin=cat.stdout,
//!     stdout=subprocess.PIPE,
//! )
//!
//! cut = subprocess.Popen(
//!     ['cut', '-f', '3', '-d:'],
//!     stdin=grep.stdout,
//!     stdout=subprocess.PIPE,
//! )
//!
//! end_of_pipe = cut.stdout
//!
//! print('Included files:')
//! for line in end_of_pipe:
//!     print('\t', line.decode('utf-8').strip())
//! ```
//!
//! In spawn, `Command | Command` builds a [`spawn::Pipeline`]: the stages are
//! connected child to child (the data never passes through us), and the
//! result has every stage's status. The last stage's stdout goes to a
//! `Sink::lines` here, so each line is printed as it arrives, as Python's
//! loop over `end_of_pipe` does.

use spawn::{Command, Sink};

/// The directory of these examples (and of the files they use).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cat = Command::new("cat").arg("index.rst").cwd(EXAMPLES);
    let grep = Command::new("grep").arg(".. literalinclude::");
    let cut = Command::new("cut").args(["-f", "3", "-d:"]);

    println!("Included files:");
    let out = (cat | grep | cut)
        .stdout(Sink::lines(|line| {
            println!("\t {}", String::from_utf8_lossy(line).trim());
        }))
        .run()?;
    if !out.success() {
        return Err(format!("the pipeline failed: {:?}", out.statuses).into());
    }
    Ok(())
}
