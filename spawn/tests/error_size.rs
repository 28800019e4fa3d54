//! `spawn::Error` stays small enough that a user's function returning
//! `Result<_, spawn::Error>` passes clippy's `result_large_err` (128 bytes):
//! the large payloads (`Output`) are boxed.

use spawn::{Command, Error, Stdio};

#[test]
fn the_error_is_at_most_64_bytes() {
    let size = size_of::<Error>();
    assert!(size <= 64, "spawn::Error is {size} bytes");
}

/// A user's function: the workspace's `cargo clippy --all-targets -- -D
/// warnings` fails on it if `Error` grows past clippy's threshold (this
/// file has no `allow`).
fn first_line(cmd: &Command) -> Result<String, Error> {
    let text = cmd.check_output_string()?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn a_function_returning_the_error_passes_clippy_and_patterns_still_match() {
    assert_eq!(first_line(&Command::new("echo").arg("hi")).unwrap(), "hi");
    let err = Command::shell("echo partial; exec sleep 30")
        .stdout(Stdio::piped())
        .timeout(std::time::Duration::from_millis(200))
        .run()
        .unwrap_err();
    match err {
        Error::Timeout { partial, .. } => assert_eq!(partial.stdout, b"partial\n"),
        other => panic!("{other:?}"),
    }
    let err = first_line(&Command::shell("exit 3")).unwrap_err();
    let Error::Failed { status, output, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code(), output.status.code()), (Some(3), Some(3)));
}
