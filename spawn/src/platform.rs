//! What this operating system can do of the options a [`Command`] takes:
//! an option it lacks is [`Error::Unsupported`] before anything starts
//! (never a silent no-op). The table of every option on every system is
//! PLATFORMS.md.

use crate::{Command, Containment, Error};

/// The options that depend on the system, and whether it has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Has {
    /// cgroup v2 (`Containment::Cgroup`): Linux.
    cgroups: bool,
    /// A parent death signal: Linux (`PR_SET_PDEATHSIG`), FreeBSD
    /// (`PROC_PDEATHSIG_CTL`); not macOS.
    parent_death_signal: bool,
    /// A pseudo-terminal a new session's leader acquires by opening it
    /// (`Command::pty`): Linux.
    pty: bool,
}

impl Has {
    /// This system's.
    fn here() -> Has {
        Has {
            cgroups: cfg!(any(target_os = "linux", target_os = "android")),
            parent_death_signal: spawn_sys::spawn::HAS_PARENT_DEATH_SIGNAL,
            pty: spawn_sys::pty::ACQUIRED_BY_OPEN,
        }
    }
}

/// The first option of `cmd` a system with `has` lacks.
fn missing(cmd: &Command, has: Has) -> Option<&'static str> {
    if cmd.settings.containment == Some(Containment::Cgroup) && !has.cgroups {
        return Some("containment(Cgroup)");
    }
    if cmd.parent_death_signal.is_some() && !has.parent_death_signal {
        return Some("parent_death_signal");
    }
    if cmd.pty.is_some() && !has.pty {
        return Some("pty");
    }
    None
}

/// [`Error::Unsupported`] for the first option of `cmd` this system lacks.
pub(crate) fn check(cmd: &Command, name: &str) -> Result<(), Error> {
    match missing(cmd, Has::here()) {
        None => Ok(()),
        Some(option) => Err(Error::Unsupported {
            program: name.to_owned(),
            option,
            platform: std::env::consts::OS,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{Has, missing};
    use crate::{Command, Containment, Signal};

    /// macOS has neither cgroups nor a parent death signal, FreeBSD only
    /// the signal, Linux both; a command asking for none passes anywhere.
    #[test]
    fn each_system_refuses_what_it_lacks() {
        let macos = Has {
            cgroups: false,
            parent_death_signal: false,
            pty: false,
        };
        let freebsd = Has {
            parent_death_signal: true,
            ..macos
        };
        let linux = Has {
            cgroups: true,
            pty: true,
            ..freebsd
        };
        let cgroup = Command::new("true").containment(Containment::Cgroup);
        let pdeath = Command::new("true").parent_death_signal(Signal::TERM);
        let plain = Command::new("true");
        assert_eq!(missing(&cgroup, macos), Some("containment(Cgroup)"));
        assert_eq!(missing(&cgroup, freebsd), Some("containment(Cgroup)"));
        assert_eq!(missing(&cgroup, linux), None);
        assert_eq!(missing(&pdeath, macos), Some("parent_death_signal"));
        assert_eq!(missing(&pdeath, freebsd), None);
        assert_eq!(missing(&plain, macos), None);
        let pty = Command::new("true").pty(crate::Pty::new());
        assert_eq!(missing(&pty, freebsd), Some("pty"));
        assert_eq!(missing(&pty, linux), None);
        if cfg!(target_os = "linux") {
            assert_eq!(Has::here(), linux);
        }
    }
}
