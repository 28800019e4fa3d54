//! `--pipe`: stdin cut into blocks, each the stdin of one job, GNU
//! parallel's way. A block is the first `--block` bytes (1 MiB by default)
//! cut after the last record end (`--recend`, `\n` by default) in them; a
//! record longer than the block is kept whole, and the block size grows
//! by halves until it holds it, for the rest of the run. The last block is
//! what is left, record end or not.
//!
//! Blocks are read as the jobs take them (the feeder's bound), so a large
//! stdin is never held whole.

use std::io::{self, BufRead, BufReader, Read};

use super::input::Records;

/// `--block`'s default: 1 MiB.
pub(crate) const DEFAULT_BLOCK: usize = 1 << 20;

/// A `--block` size: bytes, or with a suffix `k`, `m`, `g` (powers of
/// 1000) or `K`, `M`, `G` (of 1024), as GNU parallel takes it.
///
/// # Errors
/// A size that is not a number of bytes above 0, naming it.
pub(crate) fn parse_block(s: &str) -> Result<usize, String> {
    let bad = || format!("invalid --block size {s:?}: bytes, or a number with k, m, g, K, M or G");
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, ' '),
    };
    let mult: f64 = match unit {
        ' ' => 1.0,
        'k' => 1e3,
        'm' => 1e6,
        'g' => 1e9,
        'K' => 1024.0,
        'M' => 1024.0 * 1024.0,
        'G' => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = n * mult;
    if !(1.0..1e15).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as usize)
}

/// The blocks of `reader`, each the one input of a job.
pub(crate) fn blocks<R: Read + Send + 'static>(reader: R, size: usize, recend: Vec<u8>) -> Records {
    let mut b = Blocks {
        reader: BufReader::with_capacity(1 << 16, reader),
        size: size.max(1),
        recend,
        carry: Vec::new(),
        ended: false,
    };
    Box::new(std::iter::from_fn(move || b.next_block()))
}

struct Blocks<R> {
    reader: BufReader<R>,
    size: usize,
    recend: Vec<u8>,
    /// Bytes read past the last block's end.
    carry: Vec<u8>,
    ended: bool,
}

impl<R: Read> Blocks<R> {
    /// Reads until `carry` holds more than `want` bytes or the input ends.
    fn fill(&mut self, want: usize) -> io::Result<()> {
        while !self.ended && self.carry.len() <= want {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                self.ended = true;
                break;
            }
            let n = buf.len();
            self.carry.extend_from_slice(buf);
            self.reader.consume(n);
        }
        Ok(())
    }

    /// Where the block ends in `carry`: after the last record end within
    /// the first `size` bytes, else after the first one past them, else
    /// (the input ended) all of it; the rest of an ended input shorter
    /// than a block is one block (GNU parallel cuts a rest of exactly a
    /// block at its last record end, as any full block); `None`: more
    /// must be read.
    fn cut(&self) -> Option<usize> {
        let end = self.recend.as_slice();
        if self.ended && self.carry.len() < self.size {
            return Some(self.carry.len());
        }
        let within = self.carry.len().min(self.size);
        if !end.is_empty()
            && let Some(at) = self.carry[..within]
                .windows(end.len())
                .rposition(|w| w == end)
        {
            return Some(at + end.len());
        }
        if !end.is_empty()
            && let Some(at) = self.carry.windows(end.len()).position(|w| w == end)
        {
            return Some(at + end.len());
        }
        if end.is_empty() && self.carry.len() >= self.size {
            return Some(self.size);
        }
        self.ended.then_some(self.carry.len())
    }

    fn next_block(&mut self) -> Option<io::Result<Vec<Vec<u8>>>> {
        let mut want = self.size;
        loop {
            if let Err(e) = self.fill(want) {
                return Some(Err(e));
            }
            // A block is cut only from a full window (or the input's end).
            if self.carry.len() > self.size || self.ended {
                match self.cut() {
                    Some(0) | None if self.ended => return None,
                    Some(at) => {
                        // A record longer than the block: the block grows
                        // by halves until it holds it, for the rest of the
                        // run (GNU parallel's).
                        while self.size < at {
                            self.size += self.size.div_ceil(2);
                        }
                        let rest = self.carry.split_off(at);
                        let block = std::mem::replace(&mut self.carry, rest);
                        return Some(Ok(vec![block]));
                    }
                    None => {}
                }
            }
            // A record longer than the block: read on to its end.
            want = self.carry.len() + self.size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(input: &str, size: usize) -> Vec<String> {
        blocks(
            io::Cursor::new(input.as_bytes().to_vec()),
            size,
            b"\n".to_vec(),
        )
        .map(|b| String::from_utf8(b.expect("read").remove(0)).expect("utf-8"))
        .collect()
    }

    /// GNU parallel 20221122's blocks (`parallel --pipe --block N`).
    #[test]
    fn blocks_are_gnu_parallels() {
        let seq: String = (1..=10).map(|i| format!("{i}\n")).collect();
        assert_eq!(
            cut(&seq, 5),
            ["1\n2\n", "3\n4\n", "5\n6\n", "7\n8\n", "9\n10\n"]
        );
        assert_eq!(
            cut(&seq, 6),
            ["1\n2\n3\n", "4\n5\n6\n", "7\n8\n9\n", "10\n"]
        );
        assert_eq!(cut("abcdefghij\nk\n", 3), ["abcdefghij\n", "k\n"]);
        // The block grew to 12 (3, 5, 8, 12) for the long record.
        assert_eq!(cut("abcdefghij\nk\nlast", 3), ["abcdefghij\n", "k\nlast"]);
        assert_eq!(cut("a\nb", 1 << 20), ["a\nb"]);
        assert_eq!(cut("a\nb\ncc\nd", 4), ["a\nb\n", "cc\n", "d"]);
        assert_eq!(cut("", 10), Vec::<String>::new());
    }

    #[test]
    fn block_sizes_take_gnu_parallels_units() {
        assert_eq!(parse_block("10"), Ok(10));
        assert_eq!(parse_block("1k"), Ok(1000));
        assert_eq!(parse_block("1K"), Ok(1024));
        assert_eq!(parse_block("2M"), Ok(2 << 20));
        assert_eq!(parse_block("1.5k"), Ok(1500));
        assert!(parse_block("0").is_err());
        assert!(parse_block("x").is_err());
        assert!(parse_block("1q").is_err());
    }
}
