//! Spawn+wait of `/bin/true` placed in a fresh cgroup v2, the two ways
//! `spawn` can do it, beside a plain start (`clone3`, no cgroup):
//! `clone3(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP)` and the fork path
//! with the child writing itself into `cgroup.procs` (and the fork path
//! without a cgroup, to tell the two costs apart). Alternated in one
//! run, from a small parent and (not with `--smoke`) from one holding
//! 512 MiB of touched heap, where the fork path also pays for copying page
//! tables.
//!
//! `cargo bench -p spawn-sys --bench cgroup_spawn` (add `-- --smoke`, or set
//! `SPAWN_BENCH_SMOKE=1`, for a tiny run that only proves it works). Needs
//! a writable cgroup v2 (root); says so and exits 0 where there is none.

use std::ffi::CString;
use std::time::{Duration, Instant};

use spawn_sys::{CStringArray, Cgroup, SpawnOptions, SpawnPath};

fn true_opts() -> SpawnOptions<'static> {
    let mut argv = CStringArray::new();
    argv.push(b"/bin/true").unwrap();
    SpawnOptions::new(
        CString::new("/bin/true").unwrap(),
        argv,
        CStringArray::new(),
    )
}

fn once(o: &SpawnOptions<'_>, want: SpawnPath) {
    let s = spawn_sys::spawn(o).unwrap();
    assert_eq!(s.path, want);
    let st = spawn_sys::wait_pid(s.pid, false).unwrap().unwrap();
    assert_eq!(spawn_sys::exit_code(st.status), Some(0));
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(label: &str, cg: &Cgroup, rounds: usize, n: usize) {
    let plain = true_opts();
    let mut clone3 = true_opts();
    clone3.cgroup = Some(cg.fd());
    let mut fork = true_opts();
    fork.cgroup = Some(cg.fd());
    // A hook that does nothing: the fork path, which writes cgroup.procs.
    fork.fork.pre_exec = Some(Box::new(|| Ok(())));
    // The fork path alone, to tell its cost from the cgroup.procs write's.
    let mut fork_only = true_opts();
    fork_only.fork.pre_exec = Some(Box::new(|| Ok(())));
    let ways: [(&str, &SpawnOptions<'_>, SpawnPath); 4] = [
        ("clone3, no cgroup", &plain, SpawnPath::Clone3),
        ("clone3 CLONE_INTO_CGROUP", &clone3, SpawnPath::Clone3),
        ("fork + cgroup.procs", &fork, SpawnPath::Fork),
        ("fork, no cgroup", &fork_only, SpawnPath::Fork),
    ];
    let mut per: [Vec<Duration>; 4] = Default::default();
    for round in 0..=rounds {
        for (i, (_, o, want)) in ways.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..n {
                once(o, *want);
            }
            if round > 0 {
                per[i].push(t.elapsed() / n as u32);
            }
        }
    }
    println!("\n{label}: {rounds} rounds x {n} spawns, alternated");
    println!(
        "  {:<26} {:>10} {:>10} {:>10}",
        "way", "min µs", "median µs", "max µs"
    );
    for (i, (name, ..)) in ways.iter().enumerate() {
        let m = median(&mut per[i]);
        println!(
            "  {:<26} {:>10.1} {:>10.1} {:>10.1}",
            name,
            per[i][0].as_secs_f64() * 1e6,
            m.as_secs_f64() * 1e6,
            per[i][per[i].len() - 1].as_secs_f64() * 1e6
        );
    }
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke")
        || std::env::var_os("SPAWN_BENCH_SMOKE").is_some_and(|v| v != "0");
    let parent = match spawn_sys::own_cgroup() {
        Ok(p) => p,
        Err(e) => {
            println!("skipped: no cgroup v2: {e}");
            return;
        }
    };
    let name = format!("spawn-sys-bench-{}", std::process::id());
    let cg = match Cgroup::create_under(&parent, &name) {
        Ok(cg) => cg,
        Err(e) => {
            println!("skipped: no writable cgroup v2: {e}");
            return;
        }
    };
    let (rounds, n) = if smoke { (1, 3) } else { (15, 100) };
    measure("small parent", &cg, rounds, n);
    if !smoke {
        let size = 512usize << 20;
        let mut heap = vec![0u8; size];
        for i in (0..size).step_by(4096) {
            heap[i] = 1;
        }
        measure("parent with 512 MiB of touched heap", &cg, rounds, n);
        std::hint::black_box(&heap);
    }
    assert!(cg.wait_unpopulated(Duration::from_secs(60)).unwrap());
    cg.remove().unwrap();
}
