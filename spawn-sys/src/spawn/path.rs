//! The `PATH` search, done in the parent against the `PATH` the child will
//! get, so that "not found" and "permission denied" are errors of the spawn
//! call that name what was searched.

use std::ffi::CString;
use std::fmt;

use rustix::fs::{Access, FileType};

/// Why [`find_program`] found nothing to run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// The program name is empty.
    Empty,
    /// The program name contains a NUL byte.
    InteriorNul,
    /// No directory of `searched` (the `PATH` used) has it.
    NotFound {
        /// The `PATH` that was searched.
        searched: Vec<u8>,
    },
    /// A candidate exists but is not executable, and no other candidate is.
    PermissionDenied {
        /// The first such candidate.
        path: Vec<u8>,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Empty => f.write_str("the program name is empty"),
            LookupError::InteriorNul => f.write_str("the program name contains a NUL byte"),
            LookupError::NotFound { searched } => {
                write!(f, "not found in PATH={}", String::from_utf8_lossy(searched))
            }
            LookupError::PermissionDenied { path } => {
                write!(f, "{} is not executable", String::from_utf8_lossy(path))
            }
        }
    }
}

impl std::error::Error for LookupError {}

/// The `PATH` used when the child's environment has none (what glibc's
/// `execvp` uses, minus the current directory).
pub const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// `execvp`'s search—Finds `program` in `path_var`, the `PATH` the child
/// will get (`None`: [`DEFAULT_PATH`]), not the parent's.
///
/// As Python and std do it: a program containing `/` is returned as is
/// (not searched); otherwise each directory of `path_var` is tried in
/// order, an empty entry meaning the current directory; directories and
/// non-executable files are skipped. Relative entries are checked against
/// the parent's working directory; see [`find_program_in`] for a child that
/// gets another one.
///
/// # Errors
/// [`LookupError`]: an empty name or one with a NUL byte; no candidate
/// (`NotFound` with the `PATH` searched); only candidates without execute
/// permission (`PermissionDenied` with the first).
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/exec.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/execvp.3.html)
pub fn find_program(program: &[u8], path_var: Option<&[u8]>) -> Result<CString, LookupError> {
    find_program_in(program, path_var, None)
}

/// `execvp`'s search for a child that runs in `cwd`—[`find_program`], with
/// relative `PATH` entries (and the empty one) checked under `cwd`, as the
/// child will see them after changing to it. The result stays relative
/// (the child resolves it after its `chdir`).
///
/// # Errors
/// As [`find_program`].
pub fn find_program_in(
    program: &[u8],
    path_var: Option<&[u8]>,
    cwd: Option<&[u8]>,
) -> Result<CString, LookupError> {
    if program.is_empty() {
        return Err(LookupError::Empty);
    }
    let Ok(program_c) = CString::new(program) else {
        return Err(LookupError::InteriorNul);
    };
    if program.contains(&b'/') {
        return Ok(program_c);
    }
    let path = path_var.unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    let mut check = Vec::with_capacity(256);
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut candidate = Vec::with_capacity(dir.len() + 1 + program.len());
        candidate.extend_from_slice(dir);
        candidate.push(b'/');
        candidate.extend_from_slice(program);
        check.clear();
        if let Some(cwd) = cwd.filter(|_| !dir.starts_with(b"/")) {
            check.extend_from_slice(cwd);
            check.push(b'/');
        }
        check.extend_from_slice(&candidate);
        let Ok(check_c) = CString::new(check.as_slice()) else {
            continue; // a NUL in PATH (or cwd): that entry names nothing
        };
        let Ok(st) = rustix::fs::stat(check_c.as_c_str()) else {
            continue;
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            continue;
        }
        if rustix::fs::access(check_c.as_c_str(), Access::EXEC_OK).is_ok() {
            return CString::new(candidate).map_err(|_| LookupError::InteriorNul);
        }
        denied.get_or_insert(candidate);
    }
    match denied {
        Some(path) => Err(LookupError::PermissionDenied { path }),
        None => Err(LookupError::NotFound {
            searched: path.to_vec(),
        }),
    }
}
