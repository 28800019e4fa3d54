//! Benchmark 1's workload: spawn+wait of /bin/true, `n` times in a row,
//! from a small parent or one with 2 or 8 GiB of touched heap.

use spawn::Command;
use std::time::Instant;

fn touch_heap(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    v
}

/// `bench` is `spawn_true`, `spawn_true_2g` or `spawn_true_8g`; returns
/// the seconds per spawn.
pub fn spawn_true(bench: &str, who: &str, n: usize) -> f64 {
    let heap = match bench {
        "spawn_true_2g" => touch_heap(2 << 30),
        "spawn_true_8g" => touch_heap(8 << 30),
        _ => Vec::new(),
    };
    let t = Instant::now();
    for _ in 0..n {
        match who {
            "spawn" => assert!(Command::new("/bin/true").run().unwrap().status.success()),
            "std" => assert!(
                std::process::Command::new("/bin/true")
                    .status()
                    .unwrap()
                    .success()
            ),
            "subprocess" => {
                assert!(subprocess::Exec::cmd("/bin/true").join().unwrap().success());
            }
            "duct" => {
                duct::cmd!("/bin/true").run().unwrap();
            }
            _ => unreachable!(),
        }
    }
    std::hint::black_box(&heap);
    t.elapsed().as_secs_f64() / n as f64
}
