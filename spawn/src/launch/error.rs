//! The mapping of spawn-sys's start errors to [`Error`]s that name the
//! program and the cause (a missing `#!` interpreter told from a missing
//! program, the fd limit from a bad fd, the step of the child that failed).

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use spawn_sys::Errno;
use spawn_sys::spawn::{self as sys, CStringArray, FdAction, SpawnOptions, SpawnStage};

use crate::{Command, Error};

pub(super) fn map_spawn_error(
    cmd: &Command,
    program: &str,
    options: &SpawnOptions<'_>,
    e: &spawn_sys::spawn::SpawnError,
) -> Error {
    let source = io::Error::from(e.errno);
    let program = program.to_owned();
    if e.errno == Errno::MFILE || e.errno == Errno::NFILE || above_fd_limit(options, e) {
        return Error::TooManyOpenFiles { program };
    }
    match e.stage {
        SpawnStage::Cwd => Error::BadCwd {
            program,
            cwd: cmd.cwd.clone().unwrap_or_default(),
            source,
        },
        SpawnStage::Exec if e.errno == Errno::NOENT => {
            match missing_interpreter(&options.program, options.cwd.as_deref()) {
                Some(interpreter) => Error::InterpreterNotFound {
                    program,
                    interpreter,
                },
                None => Error::NotFound {
                    searched: format!("no such file: {}", cmd.program.to_string_lossy()),
                    program,
                },
            }
        }
        SpawnStage::Exec if e.errno == Errno::ACCESS || e.errno == Errno::ISDIR => {
            Error::PermissionDenied {
                path: cmd.program.to_string_lossy().into_owned(),
                program,
            }
        }
        _ if e.errno == Errno::TOOBIG => Error::ArgumentListTooLong {
            program,
            bytes: argv_env_bytes(&options.argv, &options.envp),
        },
        SpawnStage::Exec | SpawnStage::Setup | SpawnStage::Fork => Error::Spawn { program, source },
        stage => {
            let step = match stage {
                SpawnStage::Credentials => {
                    "setting the user, group or supplementary groups".to_owned()
                }
                SpawnStage::Umask => "setting the umask".to_owned(),
                SpawnStage::Rlimit => "setting a resource limit".to_owned(),
                SpawnStage::ProcessGroup => match options.process_group {
                    Some(0) | None => "making a new process group".to_owned(),
                    Some(pg) => format!("joining process group {pg}"),
                },
                SpawnStage::Session => "starting a new session".to_owned(),
                SpawnStage::FdAction => "setting up its stdin, stdout or stderr".to_owned(),
                _ => "preparing the child".to_owned(),
            };
            Error::Spawn {
                program,
                source: io::Error::new(source.kind(), format!("{step} failed: {source}")),
            }
        }
    }
}

/// Whether a file action failed with `EBADF` because one of our fds is at
/// or above `RLIMIT_NOFILE`: the limit was lowered (by another thread)
/// after the fds were made, which glibc checks each action against. That
/// is the fd limit, not a bad fd.
fn above_fd_limit(options: &SpawnOptions<'_>, e: &spawn_sys::spawn::SpawnError) -> bool {
    if e.errno != Errno::BADF || e.stage != SpawnStage::FdAction {
        return false;
    }
    let Ok((soft, _)) = spawn_sys::fd::nofile_limit() else {
        return false;
    };
    options.fd_actions.iter().any(|a| match a {
        FdAction::Dup2 { src, .. } => {
            u64::try_from(std::os::fd::AsRawFd::as_raw_fd(src)).is_ok_and(|fd| fd >= soft)
        }
        _ => false,
    })
}

/// The bytes of argv and envp, terminators included (for the error of an
/// exec that found them too long).
fn argv_env_bytes(argv: &CStringArray, envp: &sys::Envp) -> usize {
    let len = |a: &CStr| a.to_bytes().len() + 1;
    argv.iter().map(len).sum::<usize>() + envp.byte_len()
}

/// The interpreter named by the `#!` line of `program` when `program`
/// exists and that interpreter does not: why an exec says `ENOENT` for a
/// file that is there. Both paths are looked up as the child does, a
/// relative one under `cwd`.
fn missing_interpreter(program: &CStr, cwd: Option<&CStr>) -> Option<String> {
    let in_child = |p: &[u8]| -> PathBuf {
        let p = Path::new(OsStr::from_bytes(p));
        match cwd {
            Some(dir) if p.is_relative() => Path::new(OsStr::from_bytes(dir.to_bytes())).join(p),
            _ => p.to_owned(),
        }
    };
    // The kernel reads at most this much of a `#!` line.
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(in_child(program.to_bytes())).ok()?;
    let mut got = 0;
    while got < head.len() {
        match io::Read::read(&mut file, &mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let line = head[..got].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t');
    let start = line.iter().position(|b| !is_blank(b))?;
    let line = &line[start..];
    let interpreter = &line[..line
        .iter()
        .position(|b| is_blank(b) || *b == 0)
        .unwrap_or(line.len())];
    if interpreter.is_empty() || std::fs::metadata(in_child(interpreter)).is_ok() {
        return None;
    }
    Some(String::from_utf8_lossy(interpreter).into_owned())
}
