//! The fork+exec fallback's own options: umask, resource limits, user and
//! groups, the pre-exec hook; each failing step reported with its errno.

use spawn_sys::{Errno, SpawnStage, spawn};

use crate::common::{cstring, opts, run, sh};

/// A change to options that makes one step fail.
type Edit = Box<dyn FnMut(&mut spawn_sys::SpawnOptions<'_>)>;

#[test]
fn umask_and_rlimits_apply() {
    let mut o = sh("umask; ulimit -n; ulimit -c");
    o.fork.umask = Some(0o027);
    o.fork.rlimits = vec![
        (libc::RLIMIT_NOFILE as i32, 77, 77),
        (libc::RLIMIT_CORE as i32, 0, 0),
    ];
    let r = run(o, false);
    assert_eq!((r.out(), r.code()), ("0027\n77\n0\n".into(), Some(0)));
}

#[test]
fn each_failing_step_comes_back_with_its_errno() {
    let fail = |mut edit: Edit| {
        let mut o = sh("true");
        o.fork.umask = Some(0o022);
        edit(&mut o);
        let e = spawn(&o).unwrap_err();
        (e.stage, e.errno)
    };
    let cases: Vec<(Edit, SpawnStage, Errno)> = vec![
        (
            Box::new(|o| o.program = cstring("/nonexistent/prog")),
            SpawnStage::Exec,
            Errno::NOENT,
        ),
        (
            Box::new(|o| o.program = cstring("/etc/passwd")),
            SpawnStage::Exec,
            Errno::ACCESS,
        ),
        (
            Box::new(|o| o.cwd = Some(cstring("/nonexistent"))),
            SpawnStage::Cwd,
            Errno::NOENT,
        ),
        (
            Box::new(|o| o.fork.rlimits = vec![(libc::RLIMIT_NOFILE as i32, 10, 5)]),
            SpawnStage::Rlimit,
            Errno::INVAL,
        ),
        (
            Box::new(|o| {
                o.fork.pre_exec = Some(Box::new(|| {
                    Err(std::io::Error::from_raw_os_error(libc::ENOTSUP))
                }));
            }),
            SpawnStage::PreExec,
            Errno::NOTSUP,
        ),
        (
            Box::new(|o| {
                o.fork.pre_exec = Some(Box::new(|| Err(std::io::ErrorKind::Other.into())));
            }),
            SpawnStage::PreExec,
            Errno::INVAL,
        ),
    ];
    for (edit, stage, errno) in cases {
        assert_eq!(fail(edit), (stage, errno));
    }
}

#[test]
fn the_pre_exec_hook_runs_in_the_child_after_the_cwd_change() {
    let mut o = opts("pwd", &[]);
    o.cwd = Some(cstring("/usr"));
    o.fork.pre_exec = Some(Box::new(|| Ok(rustix::process::chdir(c"/")?)));
    let r = run(o, false);
    assert_eq!(r.out(), "/\n");
    // The parent's directory did not move.
    assert_ne!(
        std::env::current_dir().unwrap(),
        std::path::Path::new("/usr")
    );
}

#[test]
fn credentials_apply_as_root_or_fail_as_a_user() {
    let script = "id -u; id -g; id -G";
    if rustix::process::getuid().is_root() {
        let mut o = sh(script);
        (o.fork.uid, o.fork.gid, o.fork.groups) = (Some(65534), Some(65534), Some(vec![65534, 4]));
        let r = run(o, false);
        assert_eq!(r.out(), "65534\n65534\n65534 4\n", "{r:?}");
        // A new uid without groups keeps none of root's.
        let mut o = sh(script);
        (o.fork.uid, o.fork.gid) = (Some(65534), Some(65534));
        assert_eq!(run(o, false).out(), "65534\n65534\n65534\n");
    } else {
        let mut o = sh(script);
        o.fork.uid = Some(0);
        let e = spawn(&o).unwrap_err();
        assert_eq!((e.stage, e.errno), (SpawnStage::Credentials, Errno::PERM));
    }
}
