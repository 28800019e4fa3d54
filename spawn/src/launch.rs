//! Turning a [`Command`] into a started process: environment, `PATH` search
//! (relative and empty entries from the child's working directory, as
//! `execvp` does), pipes, fd actions, process group, and the mapping of
//! spawn-sys errors to [`Error`]s that name the program and the cause (a
//! missing `#!` interpreter is told from a missing program).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use spawn_sys::spawn::{
    self as sys, CStringArray, FdAction, LookupError, SpawnOptions, SpawnStage,
};
use spawn_sys::{Errno, Pid};

use crate::{Command, Error};

/// How one of the child's fds 0, 1, 2 is set up for one launch.
pub(crate) enum Plan<'a> {
    /// Left as the parent's.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent keeps the other end.
    Pipe,
    /// This fd, duplicated into place.
    Fd(BorrowedFd<'a>),
    /// (stderr only) the same as the child's stdout.
    Merge,
    /// The parent's own stdout (fd 1), whatever the child's stdout is: a
    /// pipeline stage's stderr merged into the pipeline's inherited stdout.
    InheritStdout,
}

/// A started child, with the parent's ends of its pipes.
pub(crate) struct Launched {
    pub pid: Pid,
    pub pidfd: Option<OwnedFd>,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The process group that "signal the group" means, if the child has one
    /// of its own (or joined one on purpose).
    pub pgid: Option<Pid>,
    pub spawn_time: Duration,
    pub started: Instant,
    /// How it was started, and the option that needed fork, if it did.
    pub path: crate::SpawnPath,
    pub fork_reason: Option<&'static str>,
}

/// Options for one launch beyond the command itself.
pub(crate) struct LaunchOptions<'a> {
    /// What errors name the program (the wiring's name, made once).
    pub name: &'a str,
    pub stdin: Plan<'a>,
    pub stdout: Plan<'a>,
    pub stderr: Plan<'a>,
    /// Overrides the command's process group (pipelines put all stages in one).
    pub process_group: Option<u32>,
    /// Put the child in a group of its own when the command says nothing
    /// (timeouts, pipelines).
    pub own_group: bool,
    /// The cgroup the child starts in (`Containment::Cgroup`).
    pub cgroup: Option<BorrowedFd<'a>>,
    /// Whether the child's pidfd is opened at its start.
    pub pidfd: PidfdPlan,
}

/// When a child gets its pidfd: from the kernel in the same call (a
/// `clone3` start), else by `pidfd_open` after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PidfdPlan {
    /// At once: its exit is watched in an epoll set, or it is signalled
    /// (a timeout, a `Child`'s handles, a group, a pipeline).
    Now,
    /// When something first needs it (see `Process::open_late_pidfd`): the
    /// lone child of an engine that waits for nothing but its exit, in one
    /// blocking `wait4`, needs none (two syscalls less per `run()`).
    Later,
}

fn os_bytes(s: &OsStr) -> &[u8] {
    s.as_bytes()
}

/// The environment the child will get when the command changes it: the
/// caller's (unless cleared) with the command's changes, built in one pass.
/// A bad variable is named in the error.
fn changed_env(cmd: &Command) -> Result<CStringArray, (String, sys::EnvError)> {
    let inherited = (!cmd.env_clear)
        .then(std::env::vars_os)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !cmd.env.contains_key(k));
    let own = cmd
        .env
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
    let vars: Vec<(OsString, OsString)> = inherited.chain(own).collect();
    sys::env_array(vars.iter().map(|(k, v)| (os_bytes(k), os_bytes(v)))).map_err(|e| {
        let key = vars
            .iter()
            .find(|(k, v)| {
                k.is_empty()
                    || k.as_bytes().contains(&b'=')
                    || k.as_bytes().contains(&0)
                    || v.as_bytes().contains(&0)
            })
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .unwrap_or_default();
        (key, e)
    })
}

/// Starts the child of `cmd` as `opts` says.
pub(crate) fn launch(cmd: &Command, opts: &LaunchOptions<'_>) -> Result<Launched, Error> {
    let program = opts.name;
    let bad = |reason: String| Error::invalid(program, reason);

    // argv: argv[0] then the arguments.
    let mut argv = CStringArray::with_capacity(1 + cmd.args.len());
    match &cmd.arg0 {
        Some(arg0) => argv.push(os_bytes(arg0)).map_err(|_| {
            bad(format!(
                "arg0 ({:?}) contains a NUL byte",
                arg0.to_string_lossy()
            ))
        })?,
        None => argv
            .push(os_bytes(&cmd.program))
            .map_err(|_| bad("the program name contains a NUL byte".into()))?,
    }
    for (i, a) in cmd.args.iter().enumerate() {
        argv.push(os_bytes(a)).map_err(|_| {
            bad(format!(
                "argument {} ({:?}) contains a NUL byte",
                i + 1,
                a.to_string_lossy()
            ))
        })?;
    }

    // envp, and the PATH the program is searched in (read only for a
    // program named without a `/`, the only kind searched). An environment
    // left alone is the caller's own, read at the spawn (no copy).
    let searched = !os_bytes(&cmd.program).contains(&b'/');
    let path_own;
    let (envp, path_var) = if !cmd.env_clear && cmd.env.is_empty() {
        path_own = searched.then(|| std::env::var_os("PATH")).flatten();
        (sys::Envp::Inherit, path_own.as_deref().map(os_bytes))
    } else {
        let envp = changed_env(cmd)
            .map_err(|(key, e)| bad(format!("environment variable {key:?}: {e}")))?;
        let path = cmd.env.get(OsStr::new("PATH")).map_or_else(
            || std::env::var_os("PATH").filter(|_| !cmd.env_clear),
            Clone::clone,
        );
        path_own = path.filter(|_| searched);
        (sys::Envp::Exactly(envp), path_own.as_deref().map(os_bytes))
    };

    let cwd = match &cmd.cwd {
        None => None,
        Some(dir) => Some(CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
            bad(format!(
                "the working directory {} contains a NUL byte",
                dir.display()
            ))
        })?),
    };

    // Relative and empty PATH entries are searched from the child's
    // working directory, where it will look them up itself (as execvp and
    // Python do); the result stays relative to it.
    let resolved = sys::find_program_in(
        os_bytes(&cmd.program),
        path_var,
        cwd.as_ref().map(CString::as_bytes),
    )
    .map_err(|e| match e {
        LookupError::Empty => bad("the program name is empty".into()),
        LookupError::InteriorNul => bad("the program name contains a NUL byte".into()),
        LookupError::NotFound { searched } => Error::NotFound {
            program: program.to_owned(),
            searched: format!("searched PATH={}", String::from_utf8_lossy(&searched)),
        },
        LookupError::PermissionDenied { path } => Error::PermissionDenied {
            program: program.to_owned(),
            path: String::from_utf8_lossy(&path).into_owned(),
        },
        other => bad(other.to_string()),
    })?;

    let process_group = match (opts.process_group, cmd.process_group) {
        (Some(g), _) | (None, Some(g)) => Some(i32::try_from(g).map_err(|_| {
            bad(format!(
                "process_group({g}): a process group id is at most {}",
                i32::MAX
            ))
        })?),
        (None, None) if opts.own_group && !cmd.new_session => Some(0),
        (None, None) => None,
    };

    // Pipes. The child's ends are closed in the parent when this returns.
    let pipe_err = |e: io::Error| Error::io(program, "cannot create a pipe", e);
    let mut parent = [None, None, None];
    let mut child_ends: [Option<OwnedFd>; 3] = [None, None, None];
    let mut null: Option<OwnedFd> = None;
    let plans = [&opts.stdin, &opts.stdout, &opts.stderr];
    for (i, plan) in plans.iter().enumerate() {
        match plan {
            Plan::Pipe => {
                let (r, w) = spawn_sys::pipe::pipe().map_err(|e| pipe_err(e.into()))?;
                let (mine, theirs) = if i == 0 { (w, r) } else { (r, w) };
                if let Some(cap) = cmd.pipe_capacity {
                    // Best effort: a smaller pipe only costs wake-ups.
                    let _ = spawn_sys::pipe::set_pipe_size(&mine, cap);
                }
                parent[i] = Some(mine);
                child_ends[i] = Some(theirs);
            }
            Plan::Null if null.is_none() => {
                null = Some(
                    spawn_sys::fd::dev_null(true)
                        .map_err(|e| Error::io(program, "cannot open /dev/null", e))?,
                );
            }
            _ => {}
        }
    }

    let stdout_fd = io::stdout();
    let stderr_fd = io::stderr();
    let mut actions: Vec<FdAction<'_>> = Vec::with_capacity(3 + cmd.passed_fds.len());
    for (i, plan) in plans.iter().enumerate() {
        let dst = i as i32;
        let src: Option<BorrowedFd<'_>> = match plan {
            Plan::Inherit => None,
            Plan::Null => null.as_ref().map(AsFd::as_fd),
            Plan::Pipe => child_ends[i].as_ref().map(AsFd::as_fd),
            Plan::Fd(fd) => Some(*fd),
            Plan::InheritStdout => parent_std(&stdout_fd, dst, &mut actions),
            Plan::Merge => {
                // Where the other of stdout and stderr goes (stdin cannot
                // be merged).
                let other = match i {
                    1 => 2,
                    2 => 1,
                    _ => return Err(bad("Stdio::merge() is for stdout or stderr".into())),
                };
                match plans[other] {
                    // The other stream is what our own fd passes on: only
                    // an fd that exec keeps. A private (close-on-exec) or
                    // closed one leaves this one closed too.
                    Plan::Inherit if other == 1 => parent_std(&stdout_fd, dst, &mut actions),
                    Plan::Inherit => parent_std(&stderr_fd, dst, &mut actions),
                    Plan::InheritStdout => parent_std(&stdout_fd, dst, &mut actions),
                    Plan::Null => null.as_ref().map(AsFd::as_fd),
                    Plan::Pipe => child_ends[other].as_ref().map(AsFd::as_fd),
                    Plan::Fd(fd) => Some(*fd),
                    Plan::Merge => {
                        return Err(bad("stdout and stderr cannot both be merged".into()));
                    }
                }
            }
        };
        if let Some(src) = src {
            actions.push(FdAction::Dup2 { src, dst });
        }
    }
    // Extra fds (`pass_fd`), after 0, 1, 2: each is kept open in the child.
    for (dst, fd) in &cmd.passed_fds {
        actions.push(FdAction::Dup2 {
            src: fd.as_fd(),
            dst: *dst,
        });
    }

    let fork = cmd.fork_options();
    let fork_reason = fork.fork_reason();
    let options = SpawnOptions {
        program: resolved,
        argv,
        envp,
        cwd,
        fd_actions: actions,
        process_group,
        new_session: cmd.new_session,
        fork,
        cgroup: opts.cgroup,
        pidfd: opts.pidfd == PidfdPlan::Now,
    };

    let started = Instant::now();
    let result = sys::spawn(&options);
    let spawn_time = started.elapsed();
    let result = result.map_err(|e| map_spawn_error(cmd, program, &options, &e));
    drop(options);
    drop(child_ends);
    drop(null);
    let spawned = result?;
    let pid = spawned.pid;
    // A path that got a pidfd from the kernel (clone3) hands it over;
    // otherwise it is opened now, unless the plan says later.
    let pidfd = spawned.pidfd.or_else(|| {
        (opts.pidfd == PidfdPlan::Now && spawn_sys::pidfd::pidfd_supported())
            .then(|| spawn_sys::pidfd::pidfd_open(pid).ok())
            .flatten()
    });
    let pgid = if cmd.new_session || process_group == Some(0) {
        Some(pid)
    } else {
        process_group.and_then(Pid::from_raw)
    };
    let [stdin, stdout, stderr] = parent;
    Ok(Launched {
        pid,
        pidfd,
        stdin,
        stdout,
        stderr,
        pgid,
        spawn_time,
        started,
        path: crate::SpawnPath::from_sys(spawned.path),
        // A cgroup child forks only where the kernel refuses clone3.
        fork_reason: (spawned.path == spawn_sys::spawn::SpawnPath::Fork)
            .then(|| fork_reason.or(opts.cgroup.map(|_| "containment")))
            .flatten(),
    })
}

/// The parent's fd 1 or 2 as the source of `dst`: only an fd that exec
/// keeps. A private (close-on-exec) or closed one leaves `dst` closed.
fn parent_std<'a>(
    std_fd: &'a impl AsFd,
    dst: i32,
    actions: &mut Vec<FdAction<'a>>,
) -> Option<BorrowedFd<'a>> {
    if spawn_sys::fd::is_cloexec(std_fd).unwrap_or(true) {
        actions.push(FdAction::Close { dst });
        None
    } else {
        Some(std_fd.as_fd())
    }
}

fn map_spawn_error(
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
    let env: usize = match envp {
        sys::Envp::Exactly(v) => v.iter().map(len).sum(),
        _ => std::env::vars_os()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum(),
    };
    argv.iter().map(len).sum::<usize>() + env
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
