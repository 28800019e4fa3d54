//! What the kernel lets this process use, read from `/proc` and the
//! cgroup files (v2, else v1): the CPUs (`cpu.max` or
//! `cpu.cfs_quota_us`/`cpu.cfs_period_us` of the process's cgroup and
//! every ancestor, and the affinity mask, which the cpuset bounds), the
//! memory available (`memory.max` − `memory.current`, or v1's
//! `memory.limit_in_bytes` − `memory.usage_in_bytes`, and `MemAvailable`),
//! and the CPU pressure (the cgroup's `cpu.pressure`, else
//! `/proc/pressure/cpu`) and load average. Each is read when asked:
//! nothing is cached, the figures change.

use std::path::{Path, PathBuf};

/// The directories of this process's cgroup for `controller` (`cpu`,
/// `memory`; `None`: the v2 hierarchy), from the leaf up to the root of
/// its mount, each with whether it is v2.
fn cgroup_dirs(controller: &str) -> Vec<(PathBuf, bool)> {
    let (Ok(cgroups), Ok(mounts)) = (
        std::fs::read_to_string("/proc/self/cgroup"),
        std::fs::read_to_string("/proc/self/mountinfo"),
    ) else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for line in cgroups.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let v2 = ctrls.is_empty();
        if !v2 && !ctrls.split(',').any(|c| c == controller) {
            continue;
        }
        for m in mounts.lines() {
            // id parent major:minor root mountpoint options... - fstype source superoptions
            let Some((left, right)) = m.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let (Some(root), Some(point), Some(fstype), Some(opts)) =
                (l.get(3), l.get(4), r.first(), r.get(2))
            else {
                continue;
            };
            let fits = if v2 {
                *fstype == "cgroup2"
            } else {
                *fstype == "cgroup" && opts.split(',').any(|o| o == controller)
            };
            let Some(rel) = path.strip_prefix(root.trim_end_matches('/')) else {
                continue;
            };
            if !fits {
                continue;
            }
            let mut dir = Path::new(point).join(rel.trim_start_matches('/'));
            loop {
                dirs.push((dir.clone(), v2));
                if dir == Path::new(point) || !dir.pop() {
                    break;
                }
            }
        }
    }
    dirs
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

/// The CPU quota of the cgroup and its ancestors, in CPUs (the smallest),
/// if any is set.
fn cpu_quota() -> Option<f64> {
    let mut least: Option<f64> = None;
    for (dir, v2) in cgroup_dirs("cpu") {
        let quota = if v2 {
            read_trim(&dir.join("cpu.max")).and_then(|s| {
                let (q, p) = s.split_once(' ')?;
                Some((q.parse::<f64>().ok()?, p.parse::<f64>().ok()?))
            })
        } else {
            let q = read_trim(&dir.join("cpu.cfs_quota_us")).and_then(|s| s.parse::<f64>().ok());
            let p = read_trim(&dir.join("cpu.cfs_period_us")).and_then(|s| s.parse::<f64>().ok());
            q.zip(p)
        };
        if let Some((q, p)) = quota
            && q > 0.0
            && p > 0.0
        {
            least = Some(least.map_or(q / p, |l| l.min(q / p)));
        }
    }
    least
}

/// The CPUs of the affinity mask (`Cpus_allowed_list`; the cpuset bounds it).
fn affinity_cpus() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    let mut n = 0;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()? - a.parse::<usize>().ok()? + 1,
            None => 1,
        };
    }
    (n > 0).then_some(n)
}

/// The CPUs this process may use: its affinity mask (bounded by the
/// cpuset), less where the cgroup's quota is smaller, rounded up (a quota
/// of 1.5 CPUs runs 2 jobs, each getting the time it can); at least 1.
pub(crate) fn usable_cpus() -> usize {
    let mask = affinity_cpus()
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // a few CPUs, ceil, >= 1
    let quota = cpu_quota().map(|q| (q.ceil() as usize).max(1));
    quota.map_or(mask, |q| q.min(mask)).max(1)
}

/// The bytes of memory available to this process: `MemAvailable`, less
/// where the cgroup's limit leaves less.
pub(crate) fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let mut avail = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024);
    for (dir, v2) in cgroup_dirs("memory") {
        let (max, used) = if v2 {
            ("memory.max", "memory.current")
        } else {
            ("memory.limit_in_bytes", "memory.usage_in_bytes")
        };
        let max = read_trim(&dir.join(max)).and_then(|s| s.parse::<u64>().ok());
        let used = read_trim(&dir.join(used)).and_then(|s| s.parse::<u64>().ok());
        if let (Some(max), Some(used)) = (max, used) {
            let left = max.saturating_sub(used);
            avail = Some(avail.map_or(left, |a| a.min(left)));
        }
    }
    avail
}

/// The CPU pressure, `some avg10` (the percent of the last 10 s in which
/// a task waited for a CPU): the cgroup's where it has one, else the
/// system's; `None` without pressure-stall information.
pub(crate) fn cpu_pressure() -> Option<f64> {
    let some_avg10 = |text: String| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with("some "))?;
        let v = line.split(' ').find_map(|w| w.strip_prefix("avg10="))?;
        v.parse().ok()
    };
    cgroup_dirs("cpu")
        .into_iter()
        .filter(|(_, v2)| *v2)
        .find_map(|(d, _)| std::fs::read_to_string(d.join("cpu.pressure")).ok())
        .and_then(some_avg10)
        .or_else(|| {
            std::fs::read_to_string("/proc/pressure/cpu")
                .ok()
                .and_then(some_avg10)
        })
}

/// The 1-minute load average.
pub(crate) fn load_average() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    s.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_this_machine_are_read() {
        let cpus = usable_cpus();
        assert!(cpus >= 1);
        assert!(available_memory().is_some_and(|m| m > 0));
        assert!(load_average().is_some());
    }
}
