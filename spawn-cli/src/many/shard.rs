//! `--shard K/N`: this run takes only its share of the jobs, so that N
//! runs (the tasks of a Slurm array, the pods of a Kubernetes Indexed Job)
//! together run every job exactly once. Shard K (from 0 to N−1) takes the
//! jobs whose ordinal in the input (from 0), or with `--shard-by hash`
//! whose [`Key`] (a stable hash of the job), is K modulo N. The ordinal
//! needs the same input in every shard, in the same order; the hash only
//! the same jobs, in any order.
//!
//! `--shard auto` takes K and N from the scheduler: Slurm's
//! `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of
//! `SLURM_ARRAY_TASK_COUNT`; Kubernetes gives the index only
//! (`JOB_COMPLETION_INDEX`), so there it is `--shard auto/N`.

use std::fmt;

use super::key::Key;

/// `--shard`'s value as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShardSpec {
    /// `K/N`.
    Fixed(Shard),
    /// `auto`: K and N from Slurm's variables.
    Auto,
    /// `auto/N`: K from the scheduler, N given.
    AutoOf(u64),
}

/// This run's shard: K of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u64,
    pub count: u64,
}

/// What a job's shard is chosen by (`--shard-by`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ShardBy {
    /// Its ordinal in the input (the same input in every shard).
    #[default]
    Ordinal,
    /// The stable hash of the job (any order of the input).
    Hash,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn shard(index: u64, count: u64) -> Result<Shard, String> {
    if count == 0 {
        return Err("N must be at least 1".into());
    }
    if index >= count {
        return Err(format!(
            "K ({index}) must be below N ({count}): shards are 0 to N-1"
        ));
    }
    Ok(Shard { index, count })
}

/// Parses `--shard`'s value: `K/N`, `auto` or `auto/N`.
///
/// # Errors
/// None of these forms, or K not below N.
pub(crate) fn parse(s: &str) -> Result<ShardSpec, String> {
    let bad = |why: &str| format!("{s:?}: {why} (want K/N with K from 0 to N-1, auto or auto/N)");
    if s == "auto" {
        return Ok(ShardSpec::Auto);
    }
    let (k, n) = s.split_once('/').ok_or_else(|| bad("no /"))?;
    let n: u64 = n.parse().map_err(|_| bad("N is not a number"))?;
    if k == "auto" {
        return shard(0, n)
            .map(|_| ShardSpec::AutoOf(n))
            .map_err(|e| bad(&e));
    }
    let k: u64 = k.parse().map_err(|_| bad("K is not a number"))?;
    shard(k, n).map(ShardSpec::Fixed).map_err(|e| bad(&e))
}

impl ShardSpec {
    /// The shard, `auto` read from the environment `var` gives.
    ///
    /// # Errors
    /// `auto` with neither scheduler's variables set (or bad ones).
    pub(crate) fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("--shard auto: ${name} is {v:?}, not a number"))
                })
                .transpose()
        };
        let slurm = || -> Result<Option<(u64, Option<u64>)>, String> {
            let Some(id) = num("SLURM_ARRAY_TASK_ID")? else {
                return Ok(None);
            };
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let k = id.checked_sub(min).ok_or_else(|| {
                format!("--shard auto: $SLURM_ARRAY_TASK_ID ({id}) is below $SLURM_ARRAY_TASK_MIN ({min})")
            })?;
            Ok(Some((k, num("SLURM_ARRAY_TASK_COUNT")?)))
        };
        match self {
            ShardSpec::Fixed(s) => Ok(s),
            ShardSpec::Auto => match slurm()? {
                Some((k, Some(n))) => shard(k, n).map_err(|e| format!("--shard auto: {e}")),
                Some((_, None)) => Err("--shard auto: $SLURM_ARRAY_TASK_COUNT is not set".into()),
                None if var("JOB_COMPLETION_INDEX").is_some() => Err(
                    "--shard auto: Kubernetes gives the index only ($JOB_COMPLETION_INDEX): \
                     say the number of shards, --shard auto/N (N = the Job's completions)"
                        .into(),
                ),
                None => Err(
                    "--shard auto: neither $SLURM_ARRAY_TASK_ID (a Slurm array) nor \
                             $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set"
                        .into(),
                ),
            },
            ShardSpec::AutoOf(n) => {
                let Some(k) = slurm()?.map(|(k, _)| k).or(num("JOB_COMPLETION_INDEX")?) else {
                    return Err(format!(
                        "--shard auto/{n}: neither $JOB_COMPLETION_INDEX (a Kubernetes \
                         Indexed Job) nor $SLURM_ARRAY_TASK_ID (a Slurm array) is set"
                    ));
                };
                shard(k, n).map_err(|e| format!("--shard auto/{n}: {e}"))
            }
        }
    }
}

impl Shard {
    /// Whether this shard takes the job of input ordinal `ordinal` (from 0)
    /// and key `key`.
    pub(crate) fn takes(self, by: ShardBy, ordinal: u64, key: Option<Key>) -> bool {
        let n = match (by, key) {
            (ShardBy::Hash, Some(k)) => (k.0 % u128::from(self.count)) as u64,
            _ => ordinal % self.count,
        };
        n == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn shard_values() {
        assert_eq!(
            parse("2/5"),
            Ok(ShardSpec::Fixed(Shard { index: 2, count: 5 }))
        );
        assert_eq!(parse("auto"), Ok(ShardSpec::Auto));
        assert_eq!(parse("auto/4"), Ok(ShardSpec::AutoOf(4)));
        for bad in ["5/5", "1/0", "x/2", "1", "auto/0", "-1/3", "1/3/4"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_from_slurm_or_kubernetes() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            ShardSpec::Auto.resolve(env(&slurm)),
            Ok(Shard { index: 2, count: 4 })
        );
        let k8s = [("JOB_COMPLETION_INDEX", "3")];
        assert_eq!(
            ShardSpec::AutoOf(5).resolve(env(&k8s)),
            Ok(Shard { index: 3, count: 5 })
        );
        let e = ShardSpec::Auto.resolve(env(&k8s)).expect_err("no count");
        assert!(e.contains("auto/N"), "{e}");
        let e = ShardSpec::Auto.resolve(env(&[])).expect_err("nothing set");
        assert!(e.contains("neither"), "{e}");
        assert!(ShardSpec::AutoOf(3).resolve(env(&k8s)).is_err(), "3 of 3");
        let bad = [("JOB_COMPLETION_INDEX", "x")];
        assert!(ShardSpec::AutoOf(5).resolve(env(&bad)).is_err());
    }
}
