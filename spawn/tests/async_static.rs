//! The `*_async` futures own what they run: they borrow nothing from the
//! `Command`, `Pipeline` or `Group` they came from, so they can be returned
//! from a function where the command is a local, or made from temporaries
//! and kept. (Until the `+ use<>` bounds, edition 2024's capture rules made
//! them borrow `&self` although declared `'static`: this file did not
//! compile, E0597 and E0716.)

#![cfg(feature = "tokio")]

use std::future::Future;

use spawn::{Command, Error, Group, Output, Pipeline, PipelineOutput, Stdio};

fn echo(word: &str) -> Command {
    Command::new("echo").arg(word).stdout(Stdio::piped())
}

fn run_of_local() -> impl Future<Output = Result<Output, Error>> + Send + 'static {
    let c = echo("run");
    c.run_async()
}

fn check_of_local() -> impl Future<Output = Result<Output, Error>> + Send + 'static {
    let c = echo("check");
    c.check_async()
}

fn check_output_of_local() -> impl Future<Output = Result<Vec<u8>, Error>> + Send + 'static {
    let c = Command::new("echo").arg("bytes");
    c.check_output_async()
}

fn check_output_string_of_local() -> impl Future<Output = Result<String, Error>> + Send + 'static {
    let c = Command::new("echo").arg("string");
    c.check_output_string_async()
}

fn pipeline_of_local() -> impl Future<Output = Result<PipelineOutput, Error>> + Send + 'static {
    let p: Pipeline = Command::new("echo").arg("b a") | Command::new("tr").args([" ", "\n"]);
    p.stdout(Stdio::piped()).run_async()
}

fn group_of_local()
-> impl Future<Output = Result<Vec<Result<Output, Error>>, Error>> + Send + 'static {
    let g = Group::new().add_all([echo("one"), echo("two")]);
    g.run_async()
}

#[tokio::test]
async fn futures_of_local_commands_outlive_them() {
    assert_eq!(run_of_local().await.unwrap().stdout, b"run\n");
    assert_eq!(check_of_local().await.unwrap().stdout, b"check\n");
    assert_eq!(check_output_of_local().await.unwrap(), b"bytes\n");
    assert_eq!(check_output_string_of_local().await.unwrap(), "string\n");
    assert_eq!(pipeline_of_local().await.unwrap().stdout, b"b\na\n");
    let all = group_of_local().await.unwrap();
    assert_eq!(all[1].as_ref().unwrap().stdout, b"two\n");
    // Given to another task as they are.
    let task = tokio::spawn(run_of_local());
    assert_eq!(task.await.unwrap().unwrap().stdout, b"run\n");
}

#[tokio::test]
async fn futures_of_temporaries_are_collected_then_joined() {
    let futures: Vec<_> = (0..8).map(|i| echo(&i.to_string()).run_async()).collect();
    let strings: Vec<_> = (0..8)
        .map(|i| {
            Command::new("echo")
                .arg(i.to_string())
                .check_output_string_async()
        })
        .collect();
    let pipelines: Vec<_> = (0..2)
        .map(|i| {
            (echo(&i.to_string()) | Command::new("cat"))
                .stdout(Stdio::piped())
                .run_async()
        })
        .collect();
    let groups: Vec<_> = (0..2)
        .map(|i| Group::new().add(echo(&i.to_string())).run_async())
        .collect();
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap().stdout,
            format!("{i}\n").as_bytes()
        );
    }
    for (i, f) in strings.into_iter().enumerate() {
        assert_eq!(f.await.unwrap(), format!("{i}\n"));
    }
    for (i, f) in pipelines.into_iter().enumerate() {
        assert_eq!(f.await.unwrap().stdout, format!("{i}\n").as_bytes());
    }
    for (i, f) in groups.into_iter().enumerate() {
        let all = f.await.unwrap();
        assert_eq!(all[0].as_ref().unwrap().stdout, format!("{i}\n").as_bytes());
    }
}
