//! [`Signal`]: spawn's own signal type, named after the C names without `SIG`.

use std::fmt;

/// A Unix signal, as sent by `Child::send_signal`.
///
/// The constants are named after the C names without `SIG`: [`Signal::TERM`] is
/// `SIGTERM`. Any other number can be made with [`Signal::from_raw`].
///
/// # Examples
///
/// ```
/// use spawn::Signal;
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!(Signal::USR1.name(), Some("SIGUSR1"));
/// assert_eq!(Signal::from_raw(9), Signal::KILL);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

macro_rules! signals {
    ($($name:ident = $c:ident, $doc:literal;)*) => {
        impl Signal {
            $(
                #[doc = $doc]
                pub const $name: Signal = Signal(libc_consts::$c);
            )*

            /// The C name of this signal (`"SIGTERM"`), if it is one of the named ones.
            #[must_use]
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc_consts::$c => Some(concat!("SIG", stringify!($name))),)*
                    _ => None,
                }
            }

            /// The named signal `name`: `"TERM"` or `"SIGTERM"` (any case).
            #[must_use]
            pub fn from_name(name: &str) -> Option<Signal> {
                let name = name.to_ascii_uppercase();
                let short = name.strip_prefix("SIG").unwrap_or(&name);
                match short {
                    $(stringify!($name) => Some(Signal::$name),)*
                    _ => None,
                }
            }
        }
    };
}

/// The signal numbers of this target, from the C headers via the `libc` crate.
mod libc_consts {
    pub use libc::{
        SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGIO, SIGKILL,
        SIGPIPE, SIGPROF, SIGQUIT, SIGSEGV, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN,
        SIGTTOU, SIGURG, SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ,
    };
}

signals! {
    HUP = SIGHUP, "`SIGHUP`: the terminal hung up; daemons often reload on it.";
    INT = SIGINT, "`SIGINT`: interrupt, as from Ctrl-C.";
    QUIT = SIGQUIT, "`SIGQUIT`: quit with a core dump, as from Ctrl-\\\\.";
    ILL = SIGILL, "`SIGILL`: illegal instruction.";
    TRAP = SIGTRAP, "`SIGTRAP`: trace or breakpoint trap.";
    ABRT = SIGABRT, "`SIGABRT`: abort, as from `abort(3)`.";
    BUS = SIGBUS, "`SIGBUS`: bus error (bad memory access).";
    FPE = SIGFPE, "`SIGFPE`: arithmetic exception.";
    KILL = SIGKILL, "`SIGKILL`: kill; cannot be caught, blocked or ignored.";
    USR1 = SIGUSR1, "`SIGUSR1`: user-defined signal 1.";
    SEGV = SIGSEGV, "`SIGSEGV`: invalid memory reference.";
    USR2 = SIGUSR2, "`SIGUSR2`: user-defined signal 2.";
    PIPE = SIGPIPE, "`SIGPIPE`: write to a pipe with no reader.";
    ALRM = SIGALRM, "`SIGALRM`: timer signal from `alarm(2)`.";
    TERM = SIGTERM, "`SIGTERM`: polite termination request (what `Child::terminate` sends).";
    CHLD = SIGCHLD, "`SIGCHLD`: a child stopped or terminated.";
    CONT = SIGCONT, "`SIGCONT`: continue if stopped.";
    STOP = SIGSTOP, "`SIGSTOP`: stop; cannot be caught, blocked or ignored.";
    TSTP = SIGTSTP, "`SIGTSTP`: stop typed at the terminal (Ctrl-Z).";
    TTIN = SIGTTIN, "`SIGTTIN`: terminal input for a background process.";
    TTOU = SIGTTOU, "`SIGTTOU`: terminal output for a background process.";
    URG = SIGURG, "`SIGURG`: urgent condition on a socket.";
    XCPU = SIGXCPU, "`SIGXCPU`: CPU time limit exceeded.";
    XFSZ = SIGXFSZ, "`SIGXFSZ`: file size limit exceeded.";
    VTALRM = SIGVTALRM, "`SIGVTALRM`: virtual alarm clock.";
    PROF = SIGPROF, "`SIGPROF`: profiling timer expired.";
    WINCH = SIGWINCH, "`SIGWINCH`: the window size changed.";
    IO = SIGIO, "`SIGIO`: I/O now possible.";
    SYS = SIGSYS, "`SIGSYS`: bad system call.";
}

impl Signal {
    /// A signal from its number. Numbers the kernel does not know are refused by
    /// the kernel when sent (as an `Error::Io` naming the program).
    #[must_use]
    pub const fn from_raw(signo: i32) -> Signal {
        Signal(signo)
    }

    /// The signal's number.
    #[must_use]
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// Whether its default action stops the process (STOP, TSTP, TTIN,
    /// TTOU): a CONT after it would undo it (and discard it if pending).
    pub(crate) fn stops(self) -> bool {
        [Signal::STOP, Signal::TSTP, Signal::TTIN, Signal::TTOU].contains(&self)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Signal({})", self.0),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A signal that is neither named nor a number (`Signal`'s [`FromStr`](std::str::FromStr)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a signal: give a name (TERM, SIGTERM) or a number")]
pub struct UnknownSignal(pub String);

impl std::str::FromStr for Signal {
    type Err = UnknownSignal;

    /// A name (`TERM`, `SIGTERM`, any case) or a number (`15`).
    fn from_str(s: &str) -> Result<Signal, UnknownSignal> {
        if let Ok(n) = s.parse::<i32>()
            && n > 0
        {
            return Ok(Signal(n));
        }
        Signal::from_name(s).ok_or_else(|| UnknownSignal(s.to_owned()))
    }
}

impl serde::Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        assert_eq!("TERM".parse(), Ok(Signal::TERM));
        assert_eq!("sigint".parse(), Ok(Signal::INT));
        assert_eq!("9".parse(), Ok(Signal::KILL));
        assert!("BOGUS".parse::<Signal>().is_err());
        assert!("0".parse::<Signal>().is_err());
    }

    #[test]
    fn names_and_numbers_agree_with_libc() {
        for (sig, raw) in [
            (Signal::HUP, 1),
            (Signal::INT, 2),
            (Signal::KILL, 9),
            (Signal::USR1, 10),
            (Signal::PIPE, 13),
            (Signal::TERM, 15),
            (Signal::CHLD, 17),
        ] {
            assert_eq!(sig.as_raw(), raw);
        }
        assert_eq!(Signal::from_raw(64).name(), None);
        assert_eq!(format!("{:?}", Signal::TERM), "SIGTERM");
        assert_eq!(Signal::KILL.to_string(), "9 (SIGKILL)");
    }
}
