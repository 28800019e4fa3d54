//! Sinks, errors and outputs against real processes (issue 12): a line of
//! exactly `MAX_LINE` bytes, one file for stdout and stderr, a FIFO nobody
//! reads, the command line in `Error::Failed`, `PipelineOutput`'s text.

use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use spawn::{Command, Error, MAX_LINE, Sink, Stdio, StreamName};

/// A fresh directory for one test, removed when the returned guard drops.
fn tmpdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("spawn-sinks-{name}-"))
        .tempdir()
        .unwrap()
}

/// A `lines` sink and what it received.
fn line_sink() -> (Sink, Arc<Mutex<Vec<Vec<u8>>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    (
        Sink::lines(move |l| g.lock().unwrap().push(l.to_vec())),
        got,
    )
}

#[test]
fn a_line_of_exactly_max_line_whose_newline_comes_in_a_later_read_is_one_line() {
    // The child writes MAX_LINE bytes, waits until the parent has read them
    // all (its stdout pipe is empty: FIONREAD), then writes the `\n`, which
    // so comes in a read of its own.
    let script = "import fcntl, struct, sys, termios, time\n\
                  n = int(sys.argv[1])\n\
                  out = sys.stdout.buffer\n\
                  out.write(b'a' * n); out.flush()\n\
                  def queued(): return struct.unpack('i', fcntl.ioctl(1, termios.FIONREAD, b'\\0' * 4))[0]\n\
                  while queued(): time.sleep(0.001)\n\
                  out.write(b'\\nnext\\n'); out.flush()\n";
    let (sink, got) = line_sink();
    let out = Command::new("python3")
        .args(["-c", script, &MAX_LINE.to_string()])
        .stdout(sink)
        .timeout(Duration::from_secs(60))
        .run()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.report.stdout_bytes, MAX_LINE as u64 + 6);
    let got = got.lock().unwrap();
    let lens: Vec<usize> = got.iter().map(Vec::len).collect();
    assert_eq!(lens, [MAX_LINE, 4], "the pieces delivered");
    assert!(got[0].iter().all(|&b| b == b'a'));
    assert_eq!(got[1], b"next");
}

/// The lines of `path`, and its length.
fn file_lines(path: &Path) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    (text.lines().map(str::to_owned).collect(), text.len())
}

/// Asserts `lines` hold each stream's lines, each stream in its order.
fn assert_both_streams(lines: &[String]) {
    let outs: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("out"))
        .map(String::as_str)
        .collect();
    let errs: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("err"))
        .map(String::as_str)
        .collect();
    assert_eq!(outs, ["out1", "out2", "out3"], "{lines:?}");
    assert_eq!(errs, ["err1", "err2", "err3"], "{lines:?}");
    assert_eq!(lines.len(), 6, "{lines:?}");
}

const BOTH: &str = "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3; echo err3 >&2";

#[test]
fn one_file_for_stdout_and_stderr_is_shared_like_2_and_1() {
    let dir = tmpdir("both");
    let p = dir.path().join("both.log");
    // Truncated once, at the start: none of this is left.
    std::fs::write(&p, "x".repeat(10_000)).unwrap();
    let out = Command::shell(BOTH)
        .stdout(Sink::file(&p))
        .stderr(Sink::file(&p))
        .run()
        .unwrap();
    let (lines, len) = file_lines(&p);
    assert_eq!(
        len as u64,
        out.report.stdout_bytes + out.report.stderr_bytes,
        "{lines:?}"
    );
    assert_both_streams(&lines);
}

#[test]
fn another_path_to_the_same_file_is_shared_too() {
    let dir = tmpdir("inode");
    let p = dir.path().join("both.log");
    let link = dir.path().join("link.log");
    std::fs::write(&p, "").unwrap();
    std::os::unix::fs::symlink(&p, &link).unwrap();
    let spellings = [
        dir.path().join(".").join("both.log"),
        link,
        Path::new(&format!("{}//both.log", dir.path().display())).to_owned(),
    ];
    for other in spellings {
        std::fs::write(&p, "y".repeat(5_000)).unwrap();
        let out = Command::shell(BOTH)
            .stdout(Sink::file(&p))
            .stderr(Sink::file(&other))
            .run()
            .unwrap();
        let (lines, len) = file_lines(&p);
        assert_eq!(
            len as u64,
            out.report.stdout_bytes + out.report.stderr_bytes,
            "{other:?}: {lines:?}"
        );
        assert_both_streams(&lines);
    }
    // Inside a tee as well, and the tee's collecting half still keeps stdout.
    let out = Command::shell(BOTH)
        .stdout(Sink::tee(Sink::collect(), Sink::file(&p)))
        .stderr(Sink::file(&p))
        .run()
        .unwrap();
    assert_eq!(out.stdout, b"out1\nout2\nout3\n");
    assert_both_streams(&file_lines(&p).0);
}

#[test]
fn two_different_files_stay_apart() {
    let dir = tmpdir("apart");
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    Command::shell(BOTH)
        .stdout(Sink::file(&o))
        .stderr(Sink::append_file(&e))
        .run()
        .unwrap();
    assert_eq!(std::fs::read(&o).unwrap(), b"out1\nout2\nout3\n");
    assert_eq!(std::fs::read(&e).unwrap(), b"err1\nerr2\nerr3\n");
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {path:?}");
}

#[test]
fn a_fifo_without_a_reader_fails_at_once_instead_of_hanging() {
    let dir = tmpdir("fifo");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    for stream in [StreamName::Stdout, StreamName::Stderr] {
        let (tx, rx) = mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || {
            let cmd = Command::new("echo").arg("hi");
            let cmd = match stream {
                StreamName::Stdout => cmd.stdout(Sink::file(&f)),
                StreamName::Stderr => cmd.stderr(Sink::file(&f)),
            };
            let _ = tx.send(cmd.timeout(Duration::from_secs(1)).run());
        });
        // Generous: the open either fails at once or blocks forever.
        let r = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the run hangs in open() on a FIFO without a reader");
        let e = r.expect_err("a FIFO nobody reads cannot take output");
        assert!(matches!(e, Error::SinkFile { .. }), "{e:?}");
        assert!(e.is_spawn_error(), "{e:?}");
        assert_eq!(e.program(), "echo");
        let msg = e.to_string();
        assert!(msg.starts_with("echo: "), "{msg}");
        assert!(msg.contains(&fifo.display().to_string()), "{msg}");
        assert!(msg.contains(&stream.to_string()), "{msg}");
        assert!(msg.contains("no reader on this FIFO"), "{msg}");
    }
}

#[test]
fn a_fifo_with_a_reader_gets_the_output() {
    let dir = tmpdir("fifo-read");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    // The reader end first (a nonblocking open needs no writer).
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let out = Command::shell("echo out; echo err >&2")
        .stdout(Sink::file(&fifo))
        .stderr(Sink::file(&fifo))
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(out.status.success());
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    let mut lines: Vec<&str> = got.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["err", "out"], "{got:?}");
}

#[test]
fn failed_names_the_command_line_not_bin_sh() {
    let e = Command::shell("exit 3").check().unwrap_err();
    assert_eq!(e.to_string(), "sh -c 'exit 3': exit status 3");
    match &e {
        Error::Failed {
            program, command, ..
        } => {
            assert_eq!(program, "/bin/sh");
            assert_eq!(command, "sh -c 'exit 3'");
        }
        other => panic!("{other:?}"),
    }
    // Arguments after the script are its $1…; a plain command as given.
    let e = Command::shell("exit $1").arg("4").check().unwrap_err();
    assert_eq!(e.to_string(), "sh -c 'exit $1' 4: exit status 4");
    let e = Command::new("sh")
        .args(["-c", "echo it\\'s >&2; exit 5", "a b"])
        .stderr(Stdio::piped())
        .check()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "sh -c 'echo it\\'\\''s >&2; exit 5' 'a b': exit status 5; stderr ends with:\n  it's"
    );
    let e = Command::new("false").check_output_string().unwrap_err();
    assert_eq!(e.to_string(), "false: exit status 1");
}

#[test]
fn a_long_command_line_is_cut_at_200_characters() {
    let long = format!("exit 2 # {}", "é".repeat(400));
    let e = Command::shell(&long).check().unwrap_err();
    let msg = e.to_string();
    let (command, rest) = msg.split_once("…: ").expect("cut with …");
    assert_eq!(command.chars().count(), 200, "{msg}");
    assert!(command.starts_with("sh -c 'exit 2 # éé"), "{msg}");
    assert_eq!(rest, "exit status 2");
}

#[test]
fn pipeline_output_gives_text_like_output() {
    let out = (Command::new("printf").arg("a\\377b") | Command::new("cat"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .run()
        .unwrap();
    assert_eq!(out.stdout_lossy(), "a\u{fffd}b");
    assert_eq!(out.stderr_lossy(), "");
}

/// The fds of this process open on `/dev/null`.
fn null_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == Path::new("/dev/null")))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    fds
}

#[test]
fn discarding_splices_into_dev_null_and_leaves_no_fd_open_after_the_run() {
    let before = null_fds();
    // The child writes its stderr line only once its 5 MB of stdout went
    // (the pipe holds far less): the discarding sink has read by then.
    let seen = Arc::new(Mutex::new(None));
    let s = Arc::clone(&seen);
    let out = Command::new("sh")
        .args(["-c", "head -c 5000000 /dev/zero; echo done >&2"])
        .stdout(Sink::discard())
        .stderr(Sink::lines(move |_| *s.lock().unwrap() = Some(null_fds())))
        .run()
        .unwrap();
    assert_eq!(out.report.stdout_bytes, 5_000_000);
    let during = seen.lock().unwrap().take().expect("the stderr line came");
    let opened: Vec<&String> = during.iter().filter(|fd| !before.contains(fd)).collect();
    if !spawn_sys::pipe::splice_supported() {
        // No splice (SPAWN_BACKEND=portable): discarded bytes are read, no
        // /dev/null is opened.
        assert!(opened.is_empty(), "{before:?} → {during:?}");
        return;
    }
    assert_eq!(
        opened.len(),
        1,
        "the run holds one /dev/null to splice the discarded bytes into: {before:?} → {during:?}"
    );
    assert!(
        !null_fds().contains(opened[0]),
        "and closes it with the run"
    );
}

#[test]
fn run_lines_counts_into_locals_with_a_borrowing_closure() {
    // `Sink::lines` takes a `'static` closure: counting into these locals
    // does not compile there, and `move` would count into a copy.
    let mut out_lines = 0usize;
    let mut err_lines = Vec::new();
    let mut longest = 0usize;
    let script = "seq 100000; printf 'e1\\ne2\\nlast' >&2";
    let out = Command::shell(script)
        .stderr(Stdio::piped())
        .run_lines(|stream, line| match stream {
            StreamName::Stdout => {
                out_lines += 1;
                longest = longest.max(line.len());
            }
            StreamName::Stderr => err_lines.push(String::from_utf8(line.to_vec()).unwrap()),
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out_lines, 100_000);
    assert_eq!(longest, 6);
    assert_eq!(err_lines, ["e1", "e2", "last"]);
    // Every line was handed out; the report still counts the bytes.
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(out.report.stdout_bytes, 588_895);

    // The run's timeout and errors are run's.
    let err = Command::shell("echo one; exec sleep 30")
        .timeout(Duration::from_millis(200))
        .run_lines(|_, line| assert_eq!(line, b"one"))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}
