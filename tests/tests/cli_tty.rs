//! `spawn many` on a terminal (a pty driven by python3's `pty` module): the
//! progress line is drawn on stderr, and no line of output ever shares a
//! terminal line with it (it was glued to the output before:
//! `[2/6 done, 2 running, 2 queued]hi`), with stdout on the terminal too or
//! piped, in both output modes.

use std::collections::BTreeSet;
use std::process::Command;

use spawn_tests::spawn_cli;

/// Runs `args` with stderr (and, if `stdout_on_tty`, stdout) on a pty;
/// prints what reached the pty and the piped stdout, hex-encoded, as JSON.
const DRIVER: &str = r#"
import json, os, pty, select, subprocess, sys
both = os.environ["STDOUT_ON_TTY"] == "1"
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL,
                     stdout=slave if both else subprocess.PIPE, stderr=slave)
os.close(slave)
got = {master: b"", **({} if both else {p.stdout.fileno(): b""})}
open_fds = list(got)
while open_fds:
    ready, _, _ = select.select(open_fds, [], [], 60)
    if not ready:
        p.kill()
        break
    for fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            open_fds.remove(fd)
        else:
            got[fd] += data
code = p.wait()
piped = b"" if both else got[p.stdout.fileno()]
print(json.dumps({"code": code, "tty": got[master].hex(), "piped": piped.hex()}))
"#;

struct TtyRun {
    code: i64,
    tty: Vec<u8>,
    piped: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn on_tty(stdout_on_tty: bool, args: &[&str]) -> TtyRun {
    let out = Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(spawn_cli())
        .args(args)
        .env("STDOUT_ON_TTY", if stdout_on_tty { "1" } else { "0" })
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("driver json");
    TtyRun {
        code: v["code"].as_i64().expect("code"),
        tty: unhex(v["tty"].as_str().expect("tty")),
        piped: unhex(v["piped"].as_str().expect("piped")),
    }
}

/// What a terminal shows for `bytes`: the finished lines and the one the
/// cursor is on. Handles what the tool writes: text, `\r` (to column 0,
/// text after it overwrites), `\n` (next line) and `ESC [2K` (erase the
/// line).
fn screen(bytes: &[u8]) -> (Vec<String>, String) {
    let (mut lines, mut cur, mut col) = (Vec::new(), Vec::<u8>::new(), 0usize);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\x1b[2K") {
            cur.clear();
            i += 4;
            continue;
        }
        match bytes[i] {
            b'\r' => col = 0,
            b'\n' => {
                lines.push(String::from_utf8_lossy(&cur).into_owned());
                cur.clear();
                col = 0;
            }
            b => {
                if col < cur.len() {
                    cur[col] = b;
                } else {
                    cur.resize(col, b' ');
                    cur.push(b);
                }
                col += 1;
            }
        }
        i += 1;
    }
    (lines, String::from_utf8_lossy(&cur).into_owned())
}

/// Jobs that print `N` lines each (`tag-1`…), a little apart, so that the
/// progress line is drawn between them.
fn jobs(tags: &[&str], n: usize, to_stderr: bool) -> Vec<String> {
    let redirect = if to_stderr { " >&2" } else { "" };
    tags.iter()
        .map(|t| {
            format!("sh -c 'for i in $(seq 1 {n}); do echo {t}-$i{redirect}; sleep 0.03; done'")
        })
        .collect()
}

fn expected(tags: &[&str], n: usize) -> BTreeSet<String> {
    tags.iter()
        .flat_map(|t| (1..=n).map(move |i| format!("{t}-{i}")))
        .collect()
}

/// Checks that the progress line was drawn, that every output line is a
/// terminal line of its own, and that the progress line is gone at the end.
fn check(tty: &[u8], output_on_tty: &BTreeSet<String>) {
    let raw = String::from_utf8_lossy(tty);
    assert!(raw.contains(" running"), "no progress line drawn: {raw:?}");
    let (lines, last) = screen(tty);
    let mut seen = BTreeSet::new();
    for line in &lines {
        if line.starts_with("spawn many: ") {
            assert!(
                !line.contains(" running"),
                "summary glued to progress: {line:?}"
            );
            continue;
        }
        assert!(
            output_on_tty.contains(line),
            "a terminal line that is not one output line (glued to the progress?): {line:?}\nall: {lines:#?}"
        );
        seen.insert(line.clone());
    }
    assert_eq!(&seen, output_on_tty, "output lines lost: {lines:#?}");
    assert_eq!(last, "", "the progress line was left on the screen");
}

#[test]
fn progress_never_shares_a_line_with_output_on_a_terminal() {
    let tags = ["alpha", "beta", "gamma", "delta"];
    // The default mode first (so that the check runs against any version).
    for mode in [None, Some("--line-buffer"), Some("--group")] {
        let cmds = jobs(&tags, 8, false);
        let mut args = vec!["many"];
        args.extend(mode);
        args.extend(["-j", "2", "--", ":::"]);
        args.extend(cmds.iter().map(String::as_str));
        let run = on_tty(true, &args);
        assert_eq!(
            run.code,
            0,
            "{mode:?}: {}",
            String::from_utf8_lossy(&run.tty)
        );
        check(&run.tty, &expected(&tags, 8));
    }
}

/// Stdout piped, stderr on the terminal: the jobs' stderr lines share the
/// terminal with the progress line, never a line of it; stdout has no
/// terminal codes.
#[test]
fn progress_stays_off_stderr_lines_with_stdout_piped() {
    let tags = ["one", "two", "three"];
    let mut cmds = jobs(&tags, 6, true);
    cmds.push("seq 1 3".to_owned());
    let mut args = vec!["many", "--line-buffer", "-j", "2", "--", ":::"];
    args.extend(cmds.iter().map(String::as_str));
    let run = on_tty(false, &args);
    assert_eq!(run.code, 0, "{}", String::from_utf8_lossy(&run.tty));
    check(&run.tty, &expected(&tags, 6));
    assert_eq!(run.piped, b"1\n2\n3\n");
}

/// Off a terminal there is no progress line at all.
#[test]
fn no_progress_line_off_a_terminal() {
    let ran = spawn_tests::cli(["many", "--", ":::", "echo hi"]);
    assert_eq!(ran.stdout, "hi\n");
    assert!(!ran.stderr.contains("running"), "{ran:?}");
    assert!(!ran.stderr.contains('\r'), "{ran:?}");
}

/// Job output that does not end a line (`printf tail-3`) stays on the
/// terminal: the line is ended before the progress line is drawn, so the
/// progress line's erasure never takes it along (it did: only the summary
/// was left on the screen), in both output modes.
#[test]
fn output_without_a_final_newline_is_never_erased_by_the_progress_line() {
    for mode in ["--line-buffer", "--group"] {
        let args = [
            "many",
            mode,
            "-j",
            "2",
            "--",
            "sleep 0.{}; printf 'tail-{}'",
            ":::",
            "3",
            "6",
            "9",
        ];
        let run = on_tty(true, &args);
        let raw = String::from_utf8_lossy(&run.tty).into_owned();
        assert_eq!(run.code, 0, "{mode}: {raw:?}");
        assert!(
            raw.contains(" running"),
            "{mode}: no progress line drawn: {raw:?}"
        );
        let (mut lines, last) = screen(&run.tty);
        lines.push(last);
        for n in [3, 6, 9] {
            let tail = format!("tail-{n}");
            assert!(
                lines.iter().any(|l| l.contains(&tail)),
                "{mode}: {tail} is not on the screen: {lines:#?}\nraw: {raw:?}"
            );
        }
        // Not glued to the progress line either.
        assert!(
            lines
                .iter()
                .all(|l| !(l.contains("tail-") && l.contains(" running"))),
            "{mode}: {lines:#?}"
        );
    }
}

/// Runs the CLI on a pty of its own (python3's `pty.fork`: a session whose
/// controlling terminal it is, the CLI in its foreground group), waits for
/// each text of `steps` on the terminal, then types its keys; returns how
/// the CLI ended (a negative number: killed by that signal) and the
/// terminal's bytes.
fn typed_on_tty(steps: &[(&str, &[u8])], args: &[&str]) -> (i64, String) {
    const KEYS: &str = r#"
import json, os, pty, select, sys, time
steps = json.loads(sys.argv[1])
pid, master = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
seen, deadline = b"", time.time() + 60
def read(t):
    global seen
    r, _, _ = select.select([master], [], [], t)
    if not r:
        return True
    try:
        data = os.read(master, 65536)
    except OSError:
        data = b""
    seen += data
    return bool(data)
for text, keys in steps:
    while text.encode() not in seen:
        if time.time() > deadline or not read(1):
            os.kill(pid, 9)
            sys.exit("never saw %r in %r" % (text, seen))
    os.write(master, bytes.fromhex(keys))
while read(60):
    pass
_, status = os.waitpid(pid, 0)
code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
print(json.dumps({"code": code, "tty": seen.hex()}))
"#;
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|(text, keys)| {
            let hex: String = keys.iter().map(|b| format!("{b:02x}")).collect();
            serde_json::json!([text, hex])
        })
        .collect();
    let out = Command::new("python3")
        .arg("-c")
        .arg(KEYS)
        .arg(serde_json::Value::Array(steps).to_string())
        .arg(spawn_cli())
        .args(args)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("driver json");
    (
        v["code"].as_i64().expect("code"),
        String::from_utf8_lossy(&unhex(v["tty"].as_str().expect("tty"))).into_owned(),
    )
}

/// A fresh path for a job to write a pid into.
fn pid_file(name: &str) -> std::path::PathBuf {
    let f = std::env::temp_dir().join(format!("spawn-tty-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&f);
    f
}

/// Ctrl-C typed twice on the terminal of `spawn many` (issue 27): the first
/// reaches the job (passed on to its group; its `sleep`, in the background
/// of `sh`, ignores it), the second stops the jobs' groups, and the `sleep`
/// a job's `sh` started ends with them.
#[test]
fn a_second_ctrl_c_on_the_terminal_stops_what_the_jobs_started() {
    let file = pid_file("second-ctrl-c");
    let job = format!(
        r#"sh -c 'trap "echo got-INT" INT; sh -c "echo \$\$ > {f}; exec sleep 787" & while [ ! -s {f} ]; do :; done; echo ready; wait; wait; true'"#,
        f = file.display()
    );
    let (code, tty) = typed_on_tty(
        &[("ready", b"\x03"), ("got-INT", b"\x03")],
        &["many", "--line-buffer", "--", ":::", &job],
    );
    let pid: u32 = std::fs::read_to_string(&file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let _ = std::fs::remove_file(&file);
    assert!(!(0..=128).contains(&code), "{code} {tty:?}");
    assert!(
        spawn_tests::gone_soon(pid),
        "sleep {pid} outlived two Ctrl-C: {tty:?}"
    );
}

/// `--halt now,fail=1` on a terminal: the running job's `sleep` ends too.
#[test]
fn halt_now_on_a_terminal_stops_what_the_jobs_started() {
    let file = pid_file("halt-now");
    let job = format!(
        "if [ {{}} = 1 ]; then sh -c 'echo $$ > {f}; exec sleep 787' & wait; true; \
         else until [ -s {f} ]; do :; done; echo failing; exit 1; fi",
        f = file.display()
    );
    let (code, tty) = typed_on_tty(
        &[],
        &[
            "many",
            "-j",
            "2",
            "--halt",
            "now,fail=1",
            "--",
            &job,
            ":::",
            "1",
            "2",
        ],
    );
    let pid: u32 = std::fs::read_to_string(&file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 1, "{tty:?}");
    assert!(
        spawn_tests::gone_soon(pid),
        "sleep {pid} outlived --halt now: {tty:?}"
    );
}
