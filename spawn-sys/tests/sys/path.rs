//! The `PATH` search: the child's `PATH`, not ours; programs with a `/`;
//! directories and non-executable files; relative entries under the cwd.

use std::os::unix::fs::PermissionsExt;

use spawn_sys::{LookupError, find_program, find_program_in};

use crate::common::{self, cstring, run};

#[test]
fn the_given_path_is_searched_not_ours() {
    // Our PATH has /bin; the child's does not.
    assert!(std::env::var("PATH").unwrap_or_default().contains("bin"));
    assert_eq!(
        find_program(b"sh", Some(b"/nonexistent")),
        Err(LookupError::NotFound {
            searched: b"/nonexistent".to_vec()
        })
    );
    let found = find_program(b"sh", Some(b"/nonexistent::/bin")).unwrap();
    assert_eq!(found.as_bytes(), b"/bin/sh");
    // No PATH in the child's environment: the default.
    assert_eq!(find_program(b"sh", None).unwrap().as_bytes(), b"/bin/sh");
    // The first match wins.
    let tmp = common::temp_dir("first");
    let dir = tmp.path();
    std::fs::write(dir.join("sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(dir.join("sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/bin", dir.display());
    let found = find_program(b"sh", Some(path.as_bytes())).unwrap();
    assert_eq!(
        found.as_bytes(),
        dir.join("sh").to_str().unwrap().as_bytes()
    );
}

#[test]
fn a_program_with_a_slash_is_not_searched() {
    for p in [&b"./x/sh"[..], b"/nonexistent/sh", b"x/"] {
        assert_eq!(find_program(p, Some(b"/bin")).unwrap().as_bytes(), p);
    }
}

#[test]
fn directories_are_skipped_and_non_executables_denied() {
    let tmp = common::temp_dir("path");
    let dir = tmp.path();
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(a.join("tool")).unwrap(); // a directory
    std::fs::write(b.join("tool"), "x").unwrap(); // not executable
    let path = format!("{}:{}", a.display(), b.display());
    match find_program(b"tool", Some(path.as_bytes())) {
        Err(LookupError::PermissionDenied { path }) => assert!(path.ends_with(b"b/tool")),
        other => panic!("{other:?}"),
    }
    // An executable one later on wins over the denied one.
    std::fs::write(c.join("tool"), "#!/bin/sh\necho from-c\n").unwrap();
    std::fs::set_permissions(c.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{path}:{}", c.display());
    let found = find_program(b"tool", Some(path.as_bytes())).unwrap();
    assert!(found.as_bytes().ends_with(b"c/tool"));
    let msg = LookupError::NotFound {
        searched: b"/x:/y".to_vec(),
    }
    .to_string();
    assert_eq!(msg, "not found in PATH=/x:/y");
}

#[test]
fn relative_entries_are_searched_under_the_childs_cwd() {
    let tmp = common::temp_dir("rel");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let tool = dir.join("bin/tool");
    std::fs::write(&tool, "#!/bin/sh\necho relative-tool\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cwd = dir.to_str().unwrap().as_bytes();
    // Not under our cwd...
    assert!(matches!(
        find_program(b"tool", Some(b"bin")),
        Err(LookupError::NotFound { .. })
    ));
    // ...but under the child's, and the result stays relative.
    let found = find_program_in(b"tool", Some(b"bin"), Some(cwd)).unwrap();
    assert_eq!(found.as_bytes(), b"bin/tool");
    common::both_paths(|fork| {
        let mut o = common::sh("");
        o.program = found.clone();
        o.argv = common::argv(&[b"tool"]);
        o.cwd = Some(cstring(cwd));
        assert_eq!(run(o, fork).out(), "relative-tool\n");
    });
}
