//! Launching: a [`Wiring`] becomes a started [`Process`] with the parent's
//! ends of its pipes, for every entry point (the engine's starts, in place
//! or on its spawner thread, `Child`, `AsyncChild`, `PipelineChild`):
//! `launch_wiring` (a pipeline's stages with the [`StagePlumbing`] between
//! them) and `launch_alone` (no pipeline), over `launch`, which turns the
//! [`Command`] into a spawn-sys start: environment, `PATH` search (relative
//! and empty entries from the child's working directory, as `execvp`
//! does), pipes, fd actions, process group. `error.rs` maps spawn-sys
//! errors to [`Error`]s that name the program and the cause (a missing
//! `#!` interpreter is told from a missing program).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use spawn_sys::Pid;
use spawn_sys::spawn::{self as sys, CStringArray, FdAction, LookupError, SpawnOptions};

use spawn_core::{PerStream, Stream};

use crate::process::{Process, ProcessGroup};
use crate::wiring::{Plan, Reach, Wiring};
use crate::{Command, Error};

mod error;
use error::map_spawn_error;

/// How one of the child's fds 0, 1, 2 is set up for one launch.
pub(crate) enum ChildFd<'a> {
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
    /// The slave of the launch's pseudo-terminal, opened by the child by
    /// path (see [`open_pty`]).
    Pty,
}

/// A started child, with the parent's ends of its pipes.
pub(crate) struct Launched {
    pub pid: Pid,
    pub pidfd: Option<OwnedFd>,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// A duplicate of its pseudo-terminal's master, for resizing.
    pub pty: Option<Arc<OwnedFd>>,
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
    pub stdin: ChildFd<'a>,
    pub stdout: ChildFd<'a>,
    pub stderr: ChildFd<'a>,
    /// The process group it starts in, as its wiring decided (a later
    /// stage's resolved to the first stage's group).
    pub group: ProcessGroup,
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

/// The environment the child will get when the command changes it: with
/// `env_clear`, exactly the command's variables; else the caller's as it
/// is at the spawn with the command's changes (`Envp::Changed`: the
/// caller's strings are not copied, so a start costs no allocation per
/// inherited variable). A bad variable is named in the error.
fn changed_env(cmd: &Command) -> Result<sys::Envp, (String, sys::EnvError)> {
    let own = || {
        cmd.env
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (os_bytes(k), os_bytes(v))))
    };
    let built = if cmd.env_clear {
        sys::env_array(own()).map(sys::Envp::Exactly)
    } else {
        let removed = cmd
            .env
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| os_bytes(k));
        sys::EnvChanges::new(own(), removed).map(sys::Envp::Changed)
    };
    built.map_err(|e| {
        let key = cmd
            .env
            .iter()
            .find(|(k, v)| {
                k.is_empty()
                    || k.as_bytes().contains(&b'=')
                    || k.as_bytes().contains(&0)
                    || v.as_ref().is_some_and(|v| v.as_bytes().contains(&0))
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
        (envp, path_own.as_deref().map(os_bytes))
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

    let (process_group, new_session) = match opts.group {
        ProcessGroup::Caller | ProcessGroup::JoinFirstStage => (None, false),
        ProcessGroup::Lead => (Some(0), false),
        ProcessGroup::Session => (None, true),
        ProcessGroup::Join(pgid) => (Some(pgid.as_raw_nonzero().get()), false),
    };

    // Pipes. The child's ends are closed in the parent when this returns.
    let pipe_err = |e: io::Error| Error::io(program, "cannot create a pipe", e);
    let mut parent = [None, None, None];
    let mut child_ends: [Option<OwnedFd>; 3] = [None, None, None];
    let mut null: Option<OwnedFd> = None;
    let plans = [&opts.stdin, &opts.stdout, &opts.stderr];
    for (i, plan) in plans.iter().enumerate() {
        match plan {
            ChildFd::Pipe => {
                let (r, w) = spawn_sys::pipe::pipe().map_err(|e| pipe_err(e.into()))?;
                let (mine, theirs) = if i == 0 { (w, r) } else { (r, w) };
                if let Some(cap) = cmd.pipe_capacity {
                    // Best effort: a smaller pipe only costs wake-ups.
                    let _ = spawn_sys::pipe::set_pipe_size(&mine, cap);
                }
                parent[i] = Some(mine);
                child_ends[i] = Some(theirs);
            }
            ChildFd::Null if null.is_none() => {
                null = Some(
                    spawn_sys::fd::dev_null(true)
                        .map_err(|e| Error::io(program, "cannot open /dev/null", e))?,
                );
            }
            _ => {}
        }
    }

    // The pseudo-terminal: the child opens its slave by path.
    let pty = match (&cmd.pty, plans.iter().any(|p| matches!(p, ChildFd::Pty))) {
        (Some(pty), true) => Some(open_pty(pty, program)?),
        _ => None,
    };

    let stdout_fd = io::stdout();
    let stderr_fd = io::stderr();
    let mut actions: Vec<FdAction<'_>> = Vec::with_capacity(3 + cmd.passed_fds.len());
    for (i, plan) in plans.iter().enumerate() {
        let dst = i as i32;
        let src: Option<BorrowedFd<'_>> = match plan {
            ChildFd::Pty => open_slave(pty.as_ref(), dst, &mut actions),
            ChildFd::Inherit => None,
            ChildFd::Null => null.as_ref().map(AsFd::as_fd),
            ChildFd::Pipe => child_ends[i].as_ref().map(AsFd::as_fd),
            ChildFd::Fd(fd) => Some(*fd),
            ChildFd::InheritStdout => parent_std(&stdout_fd, dst, &mut actions),
            ChildFd::Merge => {
                // Where the other of stdout and stderr goes. A merged
                // stdin, or both merged, never gets here: the wiring
                // refuses them before anything starts.
                let other = if i == 1 { 2 } else { 1 };
                match plans[other] {
                    // The other stream is what our own fd passes on: only
                    // an fd that exec keeps. A private (close-on-exec) or
                    // closed one leaves this one closed too.
                    ChildFd::Inherit if other == 1 => parent_std(&stdout_fd, dst, &mut actions),
                    ChildFd::Inherit => parent_std(&stderr_fd, dst, &mut actions),
                    ChildFd::InheritStdout => parent_std(&stdout_fd, dst, &mut actions),
                    ChildFd::Null => null.as_ref().map(AsFd::as_fd),
                    ChildFd::Pipe => child_ends[other].as_ref().map(AsFd::as_fd),
                    ChildFd::Fd(fd) => Some(*fd),
                    ChildFd::Pty => open_slave(pty.as_ref(), dst, &mut actions),
                    ChildFd::Merge => None,
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
        new_session,
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
        (opts.pidfd == PidfdPlan::Now)
            .then(|| crate::driver::exit_watch::source::open_pidfd(pid))
            .flatten()
    });
    let [mut stdin, mut stdout, stderr] = parent;
    let pty = pty.map(|p| {
        stdin = p.stdin;
        stdout = Some(p.stdout);
        p.control
    });
    Ok(Launched {
        pid,
        pidfd,
        stdin,
        stdout,
        stderr,
        pty,
        spawn_time,
        started,
        path: crate::SpawnPath::from_sys(spawned.path),
        // A cgroup child forks only where the kernel refuses clone3.
        fork_reason: (spawned.path == spawn_sys::spawn::SpawnPath::Fork)
            .then(|| fork_reason.or(opts.cgroup.map(|_| "containment")))
            .flatten(),
    })
}

/// A launch's pseudo-terminal: the slave's path the child opens, and the
/// parent's ends, three duplicates of the master (its stdin written, its
/// stdout read, each in the engine's set on its own, and the handle that
/// resizes it). The parent never opens the slave, so the master's reads
/// end (`EIO`) once the child and what it started closed theirs.
struct LaunchPty {
    slave: CString,
    stdin: Option<OwnedFd>,
    stdout: OwnedFd,
    control: Arc<OwnedFd>,
}

/// Opens the pseudo-terminal of a launch, set up as `pty` says.
fn open_pty(pty: &crate::Pty, program: &str) -> Result<LaunchPty, Error> {
    let err = |e: io::Error| Error::io(program, "cannot open a pseudo-terminal (pty())", e);
    let pair = spawn_sys::pty::open(pty.setup()).map_err(err)?;
    let stdin = spawn_sys::fd::dup_cloexec(&pair.master).map_err(err)?;
    let control = spawn_sys::fd::dup_cloexec(&pair.master).map_err(err)?;
    Ok(LaunchPty {
        slave: pair.slave_path,
        stdin: Some(stdin),
        stdout: pair.master,
        control: Arc::new(control),
    })
}

/// The child's `dst` is the slave of `pty`, opened by path without
/// `O_NOCTTY`: the first such open of a new session's leader makes it
/// the controlling terminal (Linux), on every start path.
fn open_slave<'a>(
    pty: Option<&LaunchPty>,
    dst: i32,
    actions: &mut Vec<FdAction<'a>>,
) -> Option<BorrowedFd<'a>> {
    if let Some(pty) = pty {
        actions.push(FdAction::Open {
            dst,
            path: pty.slave.clone(),
            flags: rustix::fs::OFlags::RDWR,
            mode: rustix::fs::Mode::empty(),
        });
    }
    None
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

/// Who drives an engine to its end: what decides when the background
/// reaper thread is made (see `reaper.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driving {
    /// The call that made it, before it returns (`run`, `check_output`,
    /// `Pipeline::run`, `Group::run`): its children are reaped in that
    /// call, so their starts make no reaper thread. Only an early return
    /// (the driver failed, a sink's callback panicked) hands children on;
    /// the hand-off makes the thread then.
    InCall,
    /// A value the caller holds and may drop at any time (a `Child`, a
    /// `GroupResults`, a future): the first start makes the reaper thread,
    /// so that a later drop needs none (it may come when no thread can be
    /// made any more).
    Held,
}

/// A pipeline stage's place in its pipeline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StageRole {
    pub index: usize,
    pub last: bool,
}

/// What the stages of one pipeline share while they start.
#[derive(Default)]
pub(crate) struct StagePlumbing {
    /// The read end of the pipe from the previous stage.
    pub prev: Option<OwnedFd>,
    /// The group the first stage leads.
    pub leader_pgid: Option<Pid>,
    /// The tree a stop of the pipeline reaches when its stages stay in the
    /// caller's group (`Reach::Descendants`): every stage is a root.
    pub tree: Option<Arc<crate::descendants::Descendants>>,
    /// The write end of the pipe the last stage's stdout (and merged
    /// stderr of every stage) goes into, until the last stage started.
    pub final_write: Option<OwnedFd>,
    /// Its read end, for the last stage's slot.
    pub final_read: Option<OwnedFd>,
    /// Where the pipeline's final stdout goes (the stages' merged stderr
    /// goes there too).
    pub final_stdout: Plan,
}

impl StagePlumbing {
    /// The plumbing a pipeline's stages start with: where its final stdout
    /// goes (`plan`), and the pipe its last stage's stdout and the stages'
    /// merged stderr share, when that is a pipe to us and `shared` says
    /// they share it.
    pub(crate) fn for_pipeline(plan: Plan, shared: bool, name: &str) -> Result<Self, Error> {
        let mut plumbing = StagePlumbing::default();
        if shared && matches!(plan, Plan::Pipe) {
            let (r, w) = spawn_sys::pipe::pipe()
                .map_err(|e| Error::io(name, "cannot create a pipe", io::Error::from(e)))?;
            plumbing.final_read = Some(r);
            plumbing.final_write = Some(w);
        }
        plumbing.final_stdout = plan;
        Ok(plumbing)
    }
}

/// A launched child: its process and the parent's ends of its pipes.
pub(crate) struct Started {
    pub process: Process,
    pub fds: PerStream<Option<OwnedFd>>,
    pub spawn_time: Duration,
    pub started: Instant,
}

fn launch_plan<'a>(
    plan: &'a Plan,
    stream: Stream,
    plumbing: &'a StagePlumbing,
    next: Option<&'a OwnedFd>,
) -> ChildFd<'a> {
    match plan {
        Plan::Inherit => ChildFd::Inherit,
        Plan::Null => ChildFd::Null,
        Plan::Pipe => ChildFd::Pipe,
        Plan::Fd(fd) => ChildFd::Fd(fd.as_fd()),
        Plan::Merge => ChildFd::Merge,
        Plan::Pty => ChildFd::Pty,
        Plan::Stage => match (stream, &plumbing.prev, next) {
            (Stream::Stdin, Some(fd), _) => ChildFd::Fd(fd.as_fd()),
            (Stream::Stdin, None, _) => ChildFd::Null,
            (_, _, Some(fd)) => ChildFd::Fd(fd.as_fd()),
            (_, _, None) => ChildFd::Null,
        },
        Plan::PipelineStdout => match (&plumbing.final_write, &plumbing.final_stdout) {
            (Some(fd), _) => ChildFd::Fd(fd.as_fd()),
            (None, Plan::Null) => ChildFd::Null,
            (None, Plan::Fd(fd)) => ChildFd::Fd(fd.as_fd()),
            // Inherited stdout: the stage's stderr goes to our fd 1.
            (None, _) => ChildFd::InheritStdout,
        },
    }
}

/// Starts the child of `wiring`: the one stage builder of `Pipeline::run`
/// (the engine's starts) and `Pipeline::spawn`. `plumbing` carries the
/// pipes between the stages of a pipeline and where its final stdout goes
/// (unused otherwise); `driving` says
/// whether the child may outlive the call (then the start makes sure the
/// background reaper thread runs).
pub(crate) fn launch_wiring(
    wiring: &Wiring,
    stage: Option<StageRole>,
    plumbing: &mut StagePlumbing,
    pidfd: PidfdPlan,
    driving: Driving,
) -> Result<Started, Error> {
    // The pipe to the next stage.
    let next = match stage {
        Some(StageRole { last: false, .. }) => {
            let (r, w) = spawn_sys::pipe::pipe()
                .map_err(|e| Error::io(&wiring.name, "cannot create a pipe", io::Error::from(e)))?;
            Some((r, w))
        }
        _ => None,
    };
    let group = wiring.group.resolved(plumbing.leader_pgid);
    let next_write = next.as_ref().map(|(_, w)| w);
    let cgroup = match wiring.containment {
        crate::Containment::Cgroup => Some(crate::process::new_cgroup(&wiring.name)?),
        _ => None,
    };
    crate::reaper::prepare();
    let result = {
        let p = &*plumbing;
        let plans = [Stream::Stdin, Stream::Stdout, Stream::Stderr]
            .map(|s| launch_plan(&wiring.plans[s], s, p, next_write));
        let [stdin, stdout, stderr] = plans;
        launch(
            &wiring.cmd,
            &LaunchOptions {
                name: &wiring.name,
                stdin,
                stdout,
                stderr,
                group,
                cgroup: cgroup.as_ref().map(spawn_sys::cgroup::Cgroup::fd),
                pidfd,
            },
        )
    };
    // The previous stage's read end is the child's now.
    plumbing.prev = next.map(|(r, _)| r);
    if stage.is_some_and(|s| s.last) {
        plumbing.final_write = None;
    }
    let l = match result {
        Ok(l) => l,
        Err(e) => {
            // Nothing started in it: the cgroup made for the child goes too.
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
            return Err(e);
        }
    };
    if driving == Driving::Held {
        crate::reaper::started();
    }
    if stage.is_some_and(|s| s.index == 0) && wiring.group.leads() {
        plumbing.leader_pgid = Some(l.pid);
    }
    let mut process = Process::new(l.pid, l.pidfd, group, cgroup)
        .with_path(l.path, l.fork_reason)
        .with_pty(l.pty);
    // One tree for the run: a lone child's own, or the one every stage of
    // a pipeline joins (made by its first stage).
    let tree = match stage {
        None => (wiring.reach == Reach::Descendants).then(Default::default),
        Some(s) if s.index == 0 => {
            plumbing.tree = (wiring.reach == Reach::Descendants).then(Default::default);
            plumbing.tree.clone()
        }
        Some(_) => plumbing.tree.clone(),
    };
    if let Some(tree) = tree {
        process = process.with_descendants(tree);
    }
    let mut stdout = l.stdout;
    if stage.is_some_and(|s| s.last) && stdout.is_none() {
        stdout = plumbing.final_read.take();
    }
    Ok(Started {
        process,
        fds: PerStream {
            stdin: l.stdin,
            stdout,
            stderr: l.stderr,
        },
        spawn_time: l.spawn_time,
        started: l.started,
    })
}

/// Launches a wiring that is no pipeline stage (a `Child`, an `AsyncChild`,
/// a start on the spawner thread): no plumbing, its own stdout plan.
pub(crate) fn launch_alone(
    wiring: &Wiring,
    pidfd: PidfdPlan,
    driving: Driving,
) -> Result<Started, Error> {
    launch_wiring(wiring, None, &mut StagePlumbing::default(), pidfd, driving)
}
