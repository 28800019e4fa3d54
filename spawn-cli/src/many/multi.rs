//! `-X` and `-m`: as many inputs per job as the command line length
//! permits, GNU parallel's way. While more input is left than `-j` full
//! command lines hold, each job gets a full line; the rest is spread
//! evenly over `-j` jobs (`-j 3` with 10 inputs: 4, 4 and 2), so that
//! a short input still keeps every job slot busy. The lookahead this
//! needs is at most `-j` command lines of input.
//!
//! The length of a line is what the job's line would be (see
//! [`Cost`]), bounded by [`MAX_LINE`].

use std::collections::VecDeque;
use std::io;

use super::input::{Inputs, Records};

/// The longest command line `-X`/`-m` make, in bytes: about what GNU
/// parallel 20221122's lines come to on Linux (63,658 bytes of `seq`
/// inputs), well inside the kernel's limit for one argument (128 KiB).
pub(crate) const MAX_LINE: usize = 63 * 1024;

/// The length of the command line of a job with these inputs.
pub(crate) type Cost = Box<dyn Fn(&[Vec<u8>]) -> usize + Send>;

/// The records of `records` (their inputs one by one) grouped into jobs
/// of as many as fit in [`MAX_LINE`] (`line` says a line's length), spread
/// over `jobs` job slots at the end (see the module docs).
pub(crate) fn chunked(records: Records, line: Cost, jobs: usize) -> Records {
    let base = line(&[]);
    let budget = MAX_LINE.saturating_sub(base).max(1);
    let mut state = Chunks {
        records: Box::new(records.fuse()),
        jobs: jobs.max(1),
        budget,
        buffered: VecDeque::new(),
        buffered_cost: 0,
        ended: false,
        error: None,
        even: None,
    };
    let cost = move |input: &Vec<u8>| line(std::slice::from_ref(input)).saturating_sub(base) + 1;
    Box::new(std::iter::from_fn(move || state.next(&cost)))
}

struct Chunks {
    records: Records,
    jobs: usize,
    budget: usize,
    /// Inputs read and not given to a job, with their cost.
    buffered: VecDeque<(Vec<u8>, usize)>,
    buffered_cost: usize,
    ended: bool,
    /// A read error, given after the inputs before it.
    error: Option<io::Error>,
    /// Once the rest fits in `jobs` lines: the inputs per job.
    even: Option<usize>,
}

impl Chunks {
    fn next(&mut self, cost: &dyn Fn(&Vec<u8>) -> usize) -> Option<io::Result<Inputs>> {
        let room = self.jobs.saturating_mul(self.budget);
        while !self.ended && self.buffered_cost <= room {
            match self.records.next() {
                Some(Ok(inputs)) => {
                    for input in inputs {
                        let c = cost(&input);
                        self.buffered_cost += c;
                        self.buffered.push_back((input, c));
                    }
                }
                Some(Err(e)) => {
                    self.error = Some(e);
                    self.ended = true;
                }
                None => self.ended = true,
            }
        }
        if self.buffered.is_empty() {
            return self.error.take().map(Err);
        }
        if self.ended && self.buffered_cost <= room && self.even.is_none() {
            self.even = Some(self.buffered.len().div_ceil(self.jobs));
        }
        let most = self.even.unwrap_or(usize::MAX);
        let mut job = Vec::new();
        let mut used = 0;
        while let Some((_, c)) = self.buffered.front() {
            if job.len() >= most || (!job.is_empty() && used + c > self.budget) {
                break;
            }
            let Some((input, c)) = self.buffered.pop_front() else {
                break;
            };
            used += c;
            self.buffered_cost -= c;
            job.push(input);
        }
        Some(Ok(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize, jobs: usize, each: usize) -> Vec<usize> {
        let records: Records = Box::new((0..n).map(|i| Ok(vec![i.to_string().into_bytes()])));
        // Every input costs `each` bytes (and its space).
        let line: Cost = Box::new(move |inputs: &[Vec<u8>]| 5 + inputs.len() * each);
        chunked(records, line, jobs)
            .map(|r| r.expect("no error").len())
            .collect()
    }

    #[test]
    fn a_short_input_is_spread_over_the_job_slots() {
        assert_eq!(sizes(10, 3, 1), [4, 4, 2]);
        assert_eq!(sizes(5, 2, 1), [3, 2]);
        assert_eq!(sizes(3, 1, 1), [3]);
        assert_eq!(sizes(0, 4, 1), Vec::<usize>::new());
    }

    #[test]
    fn a_long_input_fills_lines_then_spreads_the_rest() {
        // 1,000-byte inputs: 64 to a line (63 KiB less the command).
        let per_line = (MAX_LINE - 5) / 1001;
        let got = sizes(per_line * 3 + 10, 2, 1000);
        assert_eq!(got[0], per_line);
        assert_eq!(got.iter().sum::<usize>(), per_line * 3 + 10);
        assert!(got.iter().all(|&n| n <= per_line), "{got:?}");
        let last = &got[got.len() - 2..];
        assert!(last[0].abs_diff(last[1]) <= 1, "{got:?}");
    }
}
