//! Which of the system's mechanisms spawn uses, decided once per process.
//!
//! - [`Backend::Linux`]: `clone3`, pidfds, epoll, eventfd, `splice` (the
//!   default on Linux);
//! - [`Backend::Kqueue`]: kqueue for readiness, exits and wake-ups (the
//!   default on macOS and the BSDs);
//! - [`Backend::Portable`]: what any POSIX system has: `posix_spawn` or
//!   fork, `poll(2)`, pipes, `read`/`write`, a waiter thread per child. The
//!   default elsewhere, and chosen anywhere with `SPAWN_BACKEND=portable`
//!   in the environment (read once, at the first question): on Linux it runs
//!   what macOS and the BSDs run, minus kqueue, so their code paths are
//!   tested here.

use std::sync::OnceLock;

/// The mechanisms spawn uses; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// `clone3`, pidfds, epoll, eventfd, `splice`.
    Linux,
    /// kqueue (`EVFILT_READ`/`WRITE`, `EVFILT_PROC`, `EVFILT_USER`).
    Kqueue,
    /// `posix_spawn`/fork, `poll(2)`, pipes, waiter threads.
    Portable,
}

impl Backend {
    /// A short lowercase name: `"linux"`, `"kqueue"`, `"portable"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Backend::Linux => "linux",
            Backend::Kqueue => "kqueue",
            Backend::Portable => "portable",
        }
    }

    /// This system's own backend, whatever the environment says.
    #[must_use]
    pub fn native() -> Backend {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            Backend::Linux
        } else if cfg!(any(
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd"
        )) {
            Backend::Kqueue
        } else {
            Backend::Portable
        }
    }

    /// The backend a value of `SPAWN_BACKEND` asks for: `portable` makes it
    /// [`Backend::Portable`]; anything else (or nothing) keeps
    /// [`Backend::native`].
    #[must_use]
    pub fn from_env_value(value: Option<&std::ffi::OsStr>) -> Backend {
        if value.is_some_and(|v| v == "portable") {
            Backend::Portable
        } else {
            Backend::native()
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The backend of this process: [`Backend::native`], or
/// [`Backend::Portable`] with `SPAWN_BACKEND=portable` (read once).
#[must_use]
pub fn backend() -> Backend {
    static ONCE: OnceLock<Backend> = OnceLock::new();
    *ONCE.get_or_init(|| Backend::from_env_value(std::env::var_os("SPAWN_BACKEND").as_deref()))
}

/// Whether this process uses Linux's own mechanisms (pidfds, `clone3`,
/// epoll, eventfd, `splice`): [`backend`] is [`Backend::Linux`].
#[must_use]
pub fn linux_native() -> bool {
    backend() == Backend::Linux
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn only_portable_switches() {
        let native = Backend::native();
        assert_eq!(Backend::from_env_value(None), native);
        assert_eq!(Backend::from_env_value(Some("".as_ref())), native);
        assert_eq!(Backend::from_env_value(Some("epoll".as_ref())), native);
        assert_eq!(
            Backend::from_env_value(Some("portable".as_ref())),
            Backend::Portable
        );
        assert_eq!(Backend::Portable.to_string(), "portable");
    }
}
