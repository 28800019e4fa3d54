//! Pseudo-terminals: a master the parent holds, and the path of its slave,
//! which a child opens as its controlling terminal.
//!
//! [`open`] makes one pair (`posix_openpt`, `grantpt`, `unlockpt`,
//! `ptsname`) and sets its line discipline and window size through the
//! master; the parent never opens the slave. A child started in a new
//! session opens the slave by path ([`Pty::slave_path`], an
//! `FdAction::Open` without `O_NOCTTY`): on Linux a session leader with no
//! controlling terminal that opens a terminal acquires it, so the child's
//! steps need no `TIOCSCTTY`, and the start stays fork-free (`clone3` or
//! `posix_spawn` with `POSIX_SPAWN_SETSID`). The BSDs and macOS acquire a
//! controlling terminal only through `TIOCSCTTY` ([`ACQUIRED_BY_OPEN`] is
//! `false` there).
//!
//! Reading the master after every slave fd is closed returns `EIO` on
//! Linux (0 on the BSDs), once every byte written before is read: the
//! caller treats `EIO` there as the end of the stream.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::pty::OpenptFlags;
use rustix::termios::{
    LocalModes, OptionalActions, OutputModes, SpecialCodeIndex, Winsize, tcgetattr, tcsetattr,
    tcsetwinsize,
};

/// Whether opening a terminal makes it the controlling terminal of a
/// session leader that has none (Linux and Android), which is how a child
/// acquires the slave of a [`Pty`] on every start path.
pub const ACQUIRED_BY_OPEN: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// The end-of-file character [`open`] sets (`VEOF`, Ctrl-D): written by
/// the parent at the start of a line, it makes the child's `read` of the
/// slave return 0 (in canonical mode, which [`open`] leaves on).
pub const EOF_CHAR: u8 = 0x04;

/// How [`open`] sets up the line discipline and window of a new pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtySetup {
    /// Window rows.
    pub rows: u16,
    /// Window columns.
    pub cols: u16,
    /// What the child reads is echoed back to the master (`ECHO`).
    pub echo: bool,
    /// `\n` written by the child comes out of the master as `\r\n`
    /// (`ONLCR`, a terminal's default).
    pub translate_newlines: bool,
}

/// A new pseudo-terminal pair: the master (close-on-exec, blocking until
/// the caller says otherwise) and the slave's path.
#[derive(Debug)]
pub struct Pty {
    /// The master side: what the child writes to the slave is read here,
    /// what is written here is the child's input.
    pub master: OwnedFd,
    /// The slave's path (`/dev/pts/N`), for the child to open.
    pub slave_path: CString,
}

/// Opens a new pseudo-terminal pair set up as `setup` says (the master
/// `O_RDWR | O_NOCTTY | O_CLOEXEC`).
///
/// # Errors
/// The failing call's error: `ENOENT` or `ENODEV` on a system without
/// ptys (no `/dev/ptmx`, no devpts), `EMFILE`/`ENFILE`, `ENOSPC` when the
/// system's pty limit (`/proc/sys/kernel/pty/max`) is reached.
///
/// # References
/// - [POSIX `posix_openpt`](https://pubs.opengroup.org/onlinepubs/9799919799/functions/posix_openpt.html)
/// - [Linux `pty(7)`](https://man7.org/linux/man-pages/man7/pty.7.html)
pub fn open(setup: PtySetup) -> io::Result<Pty> {
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let slave_path = rustix::pty::ptsname(&master, Vec::new())?;
    // Through the master: on Linux its termios and window are the slave's.
    let mut termios = tcgetattr(&master)?;
    termios.local_modes.set(LocalModes::ECHO, setup.echo);
    termios
        .output_modes
        .set(OutputModes::ONLCR, setup.translate_newlines);
    termios.special_codes[SpecialCodeIndex::VEOF] = EOF_CHAR;
    tcsetattr(&master, OptionalActions::Now, &termios)?;
    resize(&master, setup.rows, setup.cols)?;
    Ok(Pty { master, slave_path })
}

/// `ioctl(TIOCSWINSZ)` on the master: the terminal's window is now `rows` ×
/// `cols`, and the kernel sends `SIGWINCH` to the terminal's foreground
/// process group when the size changed.
///
/// # Errors
/// `EBADF`/`ENOTTY` for an fd that is no terminal.
///
/// # References
/// - [Linux `TIOCSWINSZ`](https://man7.org/linux/man-pages/man2/TIOCSWINSZ.2const.html)
pub fn resize(master: impl AsFd, rows: u16, cols: u16) -> rustix::io::Result<()> {
    tcsetwinsize(
        master,
        Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
}

/// The window size (rows, columns) of this process's terminal: the first of
/// stdin, stdout and stderr that is one; `None` when none is (or the
/// terminal has no size, 0 × 0).
///
/// # References
/// - [Linux `TIOCGWINSZ`](https://man7.org/linux/man-pages/man2/TIOCGWINSZ.2const.html)
pub fn terminal_size() -> Option<(u16, u16)> {
    [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ]
    .into_iter()
    .filter_map(|fd| rustix::termios::tcgetwinsize(fd).ok())
    .find(|w| w.ws_row > 0 && w.ws_col > 0)
    .map(|w| (w.ws_row, w.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pair comes set up as asked, through the master: window, echo,
    /// newline translation, the end-of-file character; a resize is read
    /// back.
    #[test]
    fn a_new_pair_is_set_up_through_its_master() {
        let setup = PtySetup {
            rows: 33,
            cols: 111,
            echo: false,
            translate_newlines: false,
        };
        let pty = open(setup).unwrap();
        assert!(pty.slave_path.to_bytes().starts_with(b"/dev/pts/"));
        let size = rustix::termios::tcgetwinsize(&pty.master).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (33, 111));
        let t = tcgetattr(&pty.master).unwrap();
        assert!(!t.local_modes.contains(LocalModes::ECHO));
        assert!(!t.output_modes.contains(OutputModes::ONLCR));
        assert_eq!(t.special_codes[SpecialCodeIndex::VEOF], EOF_CHAR);
        resize(&pty.master, 10, 20).unwrap();
        let size = rustix::termios::tcgetwinsize(&pty.master).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (10, 20));
        assert!(crate::fd::is_cloexec(&pty.master).unwrap());
    }
}
