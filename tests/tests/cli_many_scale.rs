//! `spawn many` at scale (issue 31): shards that together run every job
//! once, `-j`'s default under a cgroup's CPU quota, `--memfree` holding
//! starts and stopping the youngest job below half of it (simulated
//! figures), the drain on SIGTERM within `--grace`, the
//! exit-code contract and the `--json` summary line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use spawn_tests::{cli, cli_command, gone_soon, run};

/// The `--json` summary line (the last line of stdout).
fn summary(stdout: &str) -> serde_json::Value {
    let last = stdout.lines().last().expect("a summary line");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON");
    v["summary"].clone()
}

/// `inputs` as lines.
fn lines<T: std::fmt::Display>(inputs: impl IntoIterator<Item = T>) -> Vec<u8> {
    inputs
        .into_iter()
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes()
}

/// N shards of one job list (in its order, or reversed for every other
/// shard with `--shard-by hash`, which does not need the same order) run
/// every job exactly once, for N from 1 to 7, and their summaries add up.
#[test]
fn shards_together_run_every_job_exactly_once() {
    const JOBS: u64 = 30;
    for by in ["ordinal", "hash"] {
        for n in 1..=7u64 {
            let mut count: BTreeMap<u64, u32> = BTreeMap::new();
            let mut summed = 0;
            for k in 0..n {
                let mut order: Vec<u64> = (1..=JOBS).collect();
                if by == "hash" && k % 2 == 1 {
                    order.reverse();
                }
                let shard = format!("{k}/{n}");
                let mut cmd = cli_command([
                    "many",
                    "--json",
                    "--shard",
                    &shard,
                    "--shard-by",
                    by,
                    "--",
                    "true",
                ]);
                let ran = run(&mut cmd, Some(&lines(order)));
                assert_eq!(ran.code(), 0, "{by} {shard}: {ran:?}");
                let lines: Vec<&str> = ran.stdout.lines().collect();
                for l in &lines[..lines.len() - 1] {
                    let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
                    let input = v["command"].as_str().and_then(|c| c.strip_prefix("true "));
                    let input: u64 = input.and_then(|i| i.parse().ok()).expect("true N");
                    *count.entry(input).or_default() += 1;
                }
                let s = summary(&ran.stdout);
                assert_eq!(s["shard"]["index"], k, "{ran:?}");
                assert_eq!(s["shard"]["count"], n, "{ran:?}");
                summed += s["jobs"].as_u64().expect("jobs");
            }
            let want: BTreeMap<u64, u32> = (1..=JOBS).map(|i| (i, 1)).collect();
            assert_eq!(count, want, "--shard-by {by}, {n} shards");
            assert_eq!(summed, JOBS, "--shard-by {by}, {n} shards");
        }
    }
}

/// `--dry-run` shows the jobs the shard takes, with their numbers in the
/// whole input.
#[test]
fn dry_run_shows_the_shards_jobs() {
    let ran = cli([
        "many",
        "--dry-run",
        "--shard",
        "1/3",
        "--",
        "echo {#} {}",
        ":::",
        "a",
        "b",
        "c",
        "d",
        "e",
    ]);
    assert_eq!(
        (ran.code(), ran.stdout.as_str()),
        (0, "echo 2 b\necho 5 e\n"),
        "{ran:?}"
    );
}

/// `--shard auto` takes the shard from Slurm's array variables, `--shard
/// auto/N` from Kubernetes' index; with neither, a usage error says so.
#[test]
fn auto_shards_come_from_the_scheduler() {
    let shard_of = |vars: &[(&str, &str)], spec: &str| {
        let mut cmd = cli_command(["many", "--json", "--shard", spec, "--", "true", ":::", "x"]);
        for v in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_COUNT",
        ] {
            cmd.env_remove(v);
        }
        cmd.env_remove("JOB_COMPLETION_INDEX");
        cmd.envs(vars.iter().copied());
        run(&mut cmd, None)
    };
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "11"),
        ("SLURM_ARRAY_TASK_MIN", "10"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ];
    let ran = shard_of(&slurm, "auto");
    let s = summary(&ran.stdout);
    assert_eq!(
        (s["shard"]["index"].as_u64(), s["shard"]["count"].as_u64()),
        (Some(1), Some(3))
    );
    let ran = shard_of(&[("JOB_COMPLETION_INDEX", "4")], "auto/5");
    let s = summary(&ran.stdout);
    assert_eq!(
        (s["shard"]["index"].as_u64(), s["shard"]["count"].as_u64()),
        (Some(4), Some(5))
    );
    let ran = shard_of(&[], "auto");
    assert_eq!(ran.code(), 126, "{ran:?}");
    assert!(ran.stderr.contains("--shard auto: neither"), "{ran:?}");
    let ran = shard_of(&[("JOB_COMPLETION_INDEX", "4")], "auto");
    assert_eq!(ran.code(), 126, "{ran:?}");
    assert!(ran.stderr.contains("auto/N"), "{ran:?}");
}

/// A cgroup of this test's own with a CPU quota (v2 `cpu.max`, else v1
/// `cpu.cfs_quota_us`), removed when dropped; `None` without the rights.
struct CpuCgroup {
    dir: std::path::PathBuf,
    procs: std::path::PathBuf,
}

impl CpuCgroup {
    fn new(quota_us: u64) -> Result<CpuCgroup, String> {
        let name = format!("spawn-test-{}", std::process::id());
        let v2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|root| {
                std::fs::read_to_string(format!("{root}/cgroup.controllers"))
                    .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
            });
        let (dir, file, value) = match v2 {
            Some(root) => (
                std::path::Path::new(root).join(&name),
                "cpu.max",
                format!("{quota_us} 100000"),
            ),
            None => (
                std::path::Path::new("/sys/fs/cgroup/cpu").join(&name),
                "cpu.cfs_quota_us",
                quota_us.to_string(),
            ),
        };
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let cg = CpuCgroup {
            procs: dir.join("cgroup.procs"),
            dir,
        };
        if v2.is_none() {
            let _ = std::fs::write(cg.dir.join("cpu.cfs_period_us"), "100000");
        }
        std::fs::write(cg.dir.join(file), value).map_err(|e| format!("{file}: {e}"))?;
        Ok(cg)
    }
}

impl Drop for CpuCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The CPUs of this process's affinity mask.
fn affinity_cpus() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_owned();
    list.split(',')
        .map(|p| match p.split_once('-') {
            Some((a, b)) => b.parse::<u64>().expect("cpu") - a.parse::<u64>().expect("cpu") + 1,
            None => 1,
        })
        .sum()
}

/// `-j`'s default is the CPUs the cgroup's quota allows, rounded up (1.5
/// CPUs: 2; 0.5: 1), never more than the affinity mask. Skipped, saying
/// so, where the test cannot make a cgroup.
#[test]
fn jobs_default_to_the_cgroups_cpu_quota() {
    for (quota_us, cpus) in [(150_000, 2), (50_000, 1)] {
        let cg = match CpuCgroup::new(quota_us) {
            Ok(cg) => cg,
            Err(e) => {
                eprintln!("skipped: cannot make a cgroup with a CPU quota here ({e})");
                return;
            }
        };
        let script = format!(
            "echo $$ > {} && exec \"$0\" many --json true ::: 1",
            cg.procs.display()
        );
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &script, &spawn_tests::spawn_cli().to_string_lossy()])
            .env("PARALLEL_SHELL", "/bin/sh");
        let ran = run(&mut cmd, None);
        assert_eq!(ran.code(), 0, "{ran:?}");
        let want = cpus.min(affinity_cpus());
        assert_eq!(
            summary(&ran.stdout)["max_running"],
            want,
            "quota {quota_us}: {ran:?}"
        );
    }
}

/// The python3 script that runs the CLI with stderr on a pty, reads it
/// until the progress line shows NEEDLE (the run says why it waits), then
/// writes VALUE into the simulated figure's FILE and prints the CLI's
/// stdout, exit code and what the pty showed, as JSON.
const HOLD_DRIVER: &str = r#"
import json, os, pty, select, subprocess, sys
figure, needle, value, argv = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4:]
master, slave = pty.openpty()
p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
seen, raised = b"", False
while True:
    r, _, _ = select.select([master], [], [], 60)
    if not r:
        break
    try:
        data = os.read(master, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    if not raised and needle in seen:
        with open(figure + ".new", "w") as f:
            f.write(value + "\n")
        os.rename(figure + ".new", figure)
        raised = True
out, _ = p.communicate(timeout=60)
print(json.dumps({"code": p.returncode, "stdout": out.decode(), "tty": seen.decode("utf-8", "replace"), "raised": raised}))
"#;

/// Runs `many OPTIONS -k -j 2 -- 'cat FIGURE' ::: 1 2 3` with the figure
/// simulated through `hook` (the test hook's variable) from `low`, until
/// the progress line shows `needle`, then from `high`: every job must
/// print `high`, the figure it started under.
fn held_until_the_figure_changes(
    hook: &str,
    options: &[&str],
    low: &str,
    needle: &str,
    high: &str,
) {
    let dir = std::env::temp_dir().join(format!("spawn-hold-{hook}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let figure = dir.join("figure");
    std::fs::write(&figure, format!("{low}\n")).expect("figure");
    let figure = figure.to_str().expect("utf-8").to_owned();
    let cli_path = spawn_tests::spawn_cli().to_string_lossy().into_owned();
    let job = format!("cat {figure}; : {{}}");
    let mut cmd = std::process::Command::new("python3");
    cmd.args(["-c", HOLD_DRIVER, &figure, needle, high, &cli_path, "many"])
        .args(options)
        .args(["-k", "-j", "2", "--", &job, ":::", "1", "2", "3"])
        .env(hook, &figure)
        .env("PARALLEL_SHELL", "/bin/sh");
    let ran = run(&mut cmd, None);
    let _ = std::fs::remove_dir_all(&dir);
    let v: serde_json::Value = serde_json::from_str(ran.stdout.trim()).expect("driver's JSON");
    assert_eq!(v["raised"], true, "never said it waits ({needle}): {v}");
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(v["stdout"], format!("{high}\n{high}\n{high}\n"), "{v}");
}

/// `--memfree` holds every start while the (simulated) memory available is
/// below it, says so on the progress line, and starts the jobs once it is
/// not: each job prints the figure it started under.
#[test]
fn memfree_holds_starts_while_memory_is_short() {
    held_until_the_figure_changes(
        "SPAWN_MANY_TEST_MEMAVAILABLE",
        &["--memfree", "1G"],
        "100",
        "waiting: 0.1 kB free < --memfree 1.1 GB",
        "5000000000",
    );
}

/// A run under `--memfree` with its jobs' fifos and event fifo; on drop
/// the jobs are let go (each fifo gets a line) and spawn is killed, so a
/// failed test leaves nothing running.
struct MemRun {
    dir: spawn_tests::TempDir,
    child: std::process::Child,
    events: std::sync::mpsc::Receiver<String>,
}

impl MemRun {
    /// The next line a job wrote to the event fifo (30 s at most).
    fn event(&self, waiting_for: &str) -> String {
        self.events
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no event in 30 s, waiting for {waiting_for}"))
    }

    /// Sets the simulated memory figure (a rename: read whole or not).
    fn figure(&self, bytes: u64) {
        let new = self.dir.path("figure.new");
        std::fs::write(&new, format!("{bytes}\n")).expect("figure");
        std::fs::rename(&new, self.dir.path("figure")).expect("figure");
    }

    /// Lets job `n` end (a line into its fifo, opened read-write so that
    /// the open never waits).
    fn release(&self, n: u32) {
        let fifo = self.dir.path(&format!("fifo.{n}"));
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(fifo)
        {
            use std::io::Write;
            let _ = f.write_all(b"go\n");
        }
    }
}

impl Drop for MemRun {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            for n in [1, 2] {
                self.release(n);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GNU parallel's rule for `--memfree SIZE`: when less than half of SIZE
/// is free while jobs run, the youngest is stopped (TERM to its process
/// group, as `--halt now` stops one) and put back on the queue; it runs
/// again once SIZE is free. Its try is not a result: its output is
/// discarded, it is neither failed nor in the joblog or journal, and the
/// run ends 0 with every job done once. The one job left running is not
/// stopped though the figure stays low.
#[test]
fn memfree_stops_the_youngest_job_below_half_and_runs_it_again() {
    let dir = spawn_tests::TempDir::new("memkill");
    for name in ["events", "fifo.1", "fifo.2"] {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path(name))
            .status()
            .expect("mkfifo");
        assert!(made.success());
    }
    std::fs::write(dir.path("figure"), "5000\n").expect("figure");
    // Held open read-write: a job's open for writing never waits.
    let events = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path("events"))
        .expect("events fifo");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(events).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let ev = dir.path("events");
    // The job opens its fifo (read-write: at once) before it says it
    // started, so that a line written to it after is there to read; it
    // waits for it in a program (which the trap does not reach) that the
    // shell waits for, so that TERM runs the shell's trap at once (once:
    // the stop sends TERM to the shell and to its group).
    let job = format!(
        "trap 'trap \"\" TERM; echo stopped {{}} > {ev}; exit 1' TERM; echo early {{}}; exec 3<> {}.{{}}; \
         echo start {{}} > {ev}; head -n 1 <&3 > /dev/null & wait; echo out {{}}",
        dir.path("fifo")
    );
    let (joblog, journal) = (dir.path("joblog"), dir.path("journal"));
    let child = cli_command([
        "many",
        "-j",
        "2",
        "--memfree",
        "1000",
        "--joblog",
        &joblog,
        "--journal",
        &journal,
        "--",
        &job,
        ":::",
        "1",
        "2",
    ])
    .env("SPAWN_MANY_TEST_MEMAVAILABLE", dir.path("figure"))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start spawn");
    let mut run = MemRun {
        dir,
        child,
        events: rx,
    };
    let mut started = [run.event("the first start"), run.event("the second start")];
    started.sort();
    assert_eq!(started, ["start 1", "start 2"]);
    // Below half of --memfree: the youngest (job 2, started last) goes.
    run.figure(100);
    assert_eq!(run.event("a job stopped"), "stopped 2");
    // Put back, it waits for SIZE free, then runs again.
    run.figure(5000);
    assert_eq!(run.event("job 2 again"), "start 2");
    run.release(1);
    run.release(2);
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    let _ = run
        .child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out);
    let _ = run
        .child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut err);
    let status = run.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{out}{err}");
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["early 1", "early 2", "out 1", "out 2"],
        "{out}{err}"
    );
    let joblog = run.dir.read("joblog");
    assert_eq!(joblog.lines().count(), 3, "{joblog}");
    assert!(
        joblog
            .lines()
            .skip(1)
            .all(|l| l.split('\t').nth(6) == Some("0")),
        "{joblog}"
    );
    let journal = run.dir.read("journal");
    assert_eq!(journal.lines().count(), 2, "{journal}");
    assert!(
        journal.lines().all(|l| l.contains("\"ok\":true")),
        "{journal}"
    );
}

/// `--load` holds every start while the (simulated) load is above it.
#[test]
fn load_holds_starts_while_the_cpu_is_busy() {
    held_until_the_figure_changes(
        "SPAWN_MANY_TEST_LOAD",
        &["--load", "2"],
        "9",
        "waiting: load 9.0 > --load 2.0",
        "0.5",
    );
}

/// On SIGTERM the run starts nothing more, passes TERM on, and ends within
/// `--grace` (a job that ignores TERM is stopped: TERM to its group, then
/// KILL), with 143, the jobs that finished in the journal and the joblog
/// (flushed though their batch was not due), the stopped one in neither.
#[test]
fn sigterm_drains_and_flushes_within_the_grace() {
    let dir = std::env::temp_dir().join(format!("spawn-drain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (journal, joblog) = (dir.join("journal"), dir.join("joblog"));
    let sleep = format!("sleep 30.{:07}1", std::process::id());
    let stubborn = format!("trap '' TERM; echo ready; exec {sleep}");
    let mut child = cli_command([
        "many",
        "--line-buffer",
        "-j",
        "3",
        "--grace",
        "3",
        "--journal",
        journal.to_str().expect("utf-8"),
        "--joblog",
        joblog.to_str().expect("utf-8"),
        "--",
        ":::",
        "echo one",
        "echo two",
        &stubborn,
        "echo never",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start spawn");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut seen = Vec::new();
    while !(seen.contains(&"ready".to_owned())
        && seen.contains(&"one".to_owned())
        && seen.contains(&"two".to_owned()))
    {
        let mut line = String::new();
        let n = out.read_line(&mut line).expect("read");
        assert!(n > 0, "ended early: {seen:?}");
        seen.push(line.trim().to_owned());
    }
    let start = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("spawn many did not end 30 s after TERM with --grace 3");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    let journal = std::fs::read_to_string(&journal).unwrap_or_default();
    let joblog = std::fs::read_to_string(&joblog).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(143), "{status:?}");
    // The grace, and room for a loaded machine.
    assert!(
        took < Duration::from_secs(3) + Duration::from_secs(2),
        "{took:?}"
    );
    for done in ["echo one", "echo two"] {
        assert!(journal.contains(done), "{done} not journaled: {journal}");
        assert!(joblog.contains(done), "{done} not in the joblog: {joblog}");
    }
    assert!(
        !journal.contains("ready"),
        "a stopped job journaled as done: {journal}"
    );
    assert!(
        !seen.contains(&"never".to_owned()) || seen.len() == 4,
        "{seen:?}"
    );
    let left: Vec<u32> = std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(&sleep)
                .then_some(pid)
        })
        .collect();
    for pid in left {
        assert!(gone_soon(pid), "the stubborn job {pid} outlived the run");
    }
}

/// The contract: 0; the failed jobs' count, capped at 101; 125 for the
/// runner's own errors (a journal that cannot be written); 126 for usage
/// errors (bad options, a shard out of range, --resume with nothing to
/// resume from).
#[test]
fn exit_codes_follow_the_contract() {
    assert_eq!(cli(["many", "--", "true", ":::", "1", "2"]).code(), 0);
    assert_eq!(cli(["many", "--", "false", ":::", "1", "2"]).code(), 2);
    let many_failed: Vec<String> = (0..102).map(|i| i.to_string()).collect();
    let mut args = vec!["many", "--", "false", ":::"];
    args.extend(many_failed.iter().map(String::as_str));
    assert_eq!(cli(args).code(), 101);
    let ran = cli([
        "many",
        "--journal",
        "/nonexistent/dir/j",
        "--",
        "true",
        ":::",
        "1",
    ]);
    assert_eq!(ran.code(), 125, "{ran:?}");
    assert!(ran.stderr.contains("--journal"), "{ran:?}");
    for bad in [
        &["many", "--bogus"][..],
        &["many", "--shard", "3/3", "--", "true", ":::", "1"],
        &["many", "--resume", "--", "true", ":::", "1"],
        &["many", "--memfree", "lots", "--", "true", ":::", "1"],
    ] {
        let ran = cli(bad);
        assert_eq!(ran.code(), 126, "{bad:?}: {ran:?}");
        assert_eq!(ran.stdout, "", "{bad:?}");
    }
}

/// `--keep-order --line-buffer` on a shard streams the shard's first job
/// as it runs: the order is that of the jobs the run takes, not of their
/// numbers in the whole input (job 2 is this shard's first; before, it
/// waited for a job 1 that never came, until the end).
#[test]
fn keep_order_follows_the_jobs_a_shard_takes() {
    let dir = std::env::temp_dir().join(format!("spawn-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fifo = dir.join("go");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let job = format!("echo {{}}; read x < {}", fifo.display());
    let mut child = cli_command([
        "many",
        "-k",
        "--line-buffer",
        "--shard",
        "1/2",
        "--",
        &job,
        ":::",
        "a",
        "b",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("start spawn");
    let out = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    // Let the job end either way (a writer opens the fifo).
    let _ = std::fs::write(&fifo, "go\n");
    let status = child.wait().expect("wait");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        first.as_deref(),
        Ok("b"),
        "the shard's first job did not stream"
    );
    assert!(status.success(), "{status:?}");
}

/// `--delay` keeps that long between starts: three jobs that end at once
/// take at least two delays in all, though three may run at once (a lower
/// bound on time, never a wait for an event).
#[test]
fn delay_spaces_the_starts() {
    let ran = cli([
        "many", "-j", "3", "--delay", "0.3", "--", "true", ":::", "1", "2", "3",
    ]);
    assert_eq!(ran.code(), 0, "{ran:?}");
    assert!(ran.elapsed >= Duration::from_millis(600), "{ran:?}");
}
