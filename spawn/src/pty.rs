//! [`Pty`]: a pseudo-terminal as a way to wire the child
//! ([`Command::pty`](crate::Command::pty)), and [`PtyControl`], the handle
//! that resizes a running child's terminal.
//!
//! The master is one more kind of fd for the engine: the launch opens the
//! pair (`spawn_sys::pty::open`), the child opens the slave by path as its
//! fds 0, 1 (and 2), and the parent's stdin and stdout ends are two
//! duplicates of the master, written and read as a pipe's ends are (a
//! read's `EIO`, the end of a pty, is its end of file).

use std::os::fd::OwnedFd;
use std::sync::Arc;

/// How the child's pseudo-terminal is set up, for
/// [`Command::pty`](crate::Command::pty).
///
/// The defaults are a terminal's: 24 rows × 80 columns, `TERM=xterm-256color`,
/// echo on, `\n` written by the child read as `\r\n`.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Pty};
/// let pty = Pty::new().size(50, 132).term("xterm").echo(false).raw(true);
/// let out = Command::new("stty").arg("size").pty(pty).run()?;
/// assert_eq!(out.stdout_lossy(), "50 132\n");
/// assert!(out.report.pty);
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pty {
    pub(crate) rows: u16,
    pub(crate) cols: u16,
    pub(crate) term: String,
    pub(crate) echo: bool,
    pub(crate) raw: bool,
}

impl Default for Pty {
    fn default() -> Self {
        Pty::new()
    }
}

impl Pty {
    /// A terminal of 24 × 80, `TERM=xterm-256color`, echo on, output
    /// translated (`\n` → `\r\n`).
    #[must_use]
    pub fn new() -> Self {
        Pty {
            rows: 24,
            cols: 80,
            term: "xterm-256color".to_owned(),
            echo: true,
            raw: false,
        }
    }

    /// The window size the child sees (`stty size`, `TIOCGWINSZ`);
    /// [`PtyControl::resize`] changes it while the child runs.
    #[must_use]
    pub fn size(mut self, rows: u16, cols: u16) -> Self {
        self.rows = rows;
        self.cols = cols;
        self
    }

    /// The child's `TERM` (default `xterm-256color`). A `TERM` set with
    /// [`Command::env`](crate::Command::env) wins over it.
    #[must_use]
    pub fn term(mut self, term: &str) -> Self {
        term.clone_into(&mut self.term);
        self
    }

    /// Whether what is written to the child (its input) is echoed back into
    /// its output, as a terminal does (default `true`).
    #[must_use]
    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// `true`: what the child writes comes out as written (no `\n` →
    /// `\r\n` translation, `ONLCR` off). Default `false`, a terminal's
    /// translation. Input is still read a line at a time (canonical mode).
    #[must_use]
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }

    /// What spawn-sys sets the pair up with.
    pub(crate) fn setup(&self) -> spawn_sys::pty::PtySetup {
        spawn_sys::pty::PtySetup {
            rows: self.rows,
            cols: self.cols,
            echo: self.echo,
            translate_newlines: !self.raw,
        }
    }
}

/// The input a pty child is given: `input`, then the end-of-file
/// character (Ctrl-D) at the start of a line, so that a child reading its
/// stdin to the end sees the end, as through a pipe. A last line without
/// `\n` takes a second one (the first hands that line over).
pub(crate) fn input_with_eof(input: &[u8]) -> Vec<u8> {
    let eof = spawn_sys::pty::EOF_CHAR;
    let mut v = Vec::with_capacity(input.len() + 2);
    v.extend_from_slice(input);
    if !input.is_empty() && !input.ends_with(b"\n") {
        v.push(eof);
    }
    v.push(eof);
    v
}

/// A handle on a running child's pseudo-terminal, from
/// [`Child::pty`](crate::Child::pty) or
/// [`AsyncChild::pty`](crate::AsyncChild::pty): it holds its own
/// duplicate of the master, so it works while the child runs, whoever
/// reads its output.
///
/// # Examples
///
/// ```
/// use spawn::{Command, Pty};
/// let mut child = Command::new("sh")
///     .args(["-c", "read _; stty size"])
///     .pty(Pty::new().echo(false).raw(true))
///     .spawn()?;
/// child.pty().expect("a pty").resize(40, 100)?;
/// let out = child.communicate(b"go\n")?;
/// assert_eq!(out.stdout_lossy(), "40 100\n");
/// # Ok::<(), spawn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PtyControl {
    pub(crate) master: Arc<OwnedFd>,
    /// What errors name the program.
    pub(crate) program: Arc<str>,
}

impl PtyControl {
    /// Sets the window to `rows` × `cols` (`TIOCSWINSZ` on the master); the
    /// kernel sends `SIGWINCH` to the terminal's foreground process group
    /// (the child's, unless it made another) when the size changed.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the kernel refuses the size.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<(), crate::Error> {
        spawn_sys::pty::resize(&*self.master, rows, cols)
            .map_err(|e| crate::Error::io(&self.program, "resizing its pty", e.into()))
    }
}
