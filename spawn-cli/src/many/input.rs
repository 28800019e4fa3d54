//! Where `spawn many`'s jobs come from: the command arguments, lines (or
//! NUL-separated records, `-0`) of stdin, or `:::` argument lists; and how
//! they become one template and a stream of inputs, `-n` at a time.
//!
//! Stdin is read as a stream (by the reader of [`super::feeder`], a bounded
//! number of records ahead of the running jobs), so a million lines start
//! running before the last is read and memory does not grow with the input.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;

use super::template::Template;

/// The inputs of one job.
pub(crate) type Inputs = Vec<Vec<u8>>;

/// A stream of jobs' inputs; an `Err` is a failure to read stdin (the end).
pub(crate) type Records = Box<dyn Iterator<Item = io::Result<Inputs>> + Send>;

/// What the arguments of `spawn many` say to run.
pub(crate) struct Plan {
    /// The command line of each job, from its inputs.
    pub template: Template,
    /// Whether inputs are shell-quoted into the template (no for whole
    /// commands, which are run as they are).
    pub quote: bool,
    /// Where the inputs come from.
    pub source: Source,
    /// The words of the command (before `:::`), as given.
    pub command: Vec<Vec<u8>>,
}

/// Where the inputs come from.
pub(crate) enum Source {
    /// One job per record of stdin.
    Stdin {
        /// Records end with this byte (`\n`, or NUL with `-0`).
        delim: u8,
        /// Whether records of blanks are skipped (for whole commands).
        skip_blank: bool,
    },
    /// One job per combination of one tuple of each group of linked
    /// sources (`:::`, `::::`, `-a`; see [`super::sources`]).
    Lists(Vec<Vec<Inputs>>),
}

fn bytes(s: &OsString) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// How inputs are read and the template is made, from the options.
pub(crate) struct How<'a> {
    /// Records end with this byte (`\n`; `-0`: NUL; `-d`).
    pub delim: u8,
    /// `-a FILE`: input sources before those of the command line.
    pub arg_files: &'a [OsString],
    /// `--link`: the sources' Nth inputs together.
    pub link: bool,
    /// `-I STR`: the replacement string in place of `{}`.
    pub replace: Option<&'a [u8]>,
}

/// Reads the command-line words after `--`, GNU parallel's way:
///
/// - The words before the first `:::` are the command, joined with spaces
///   into one command line; with no replacement string in it (`{}`,
///   `{1}`, `{#}`…) ` {}` is added at the end: each input is appended.
/// - Each `:::` starts a list of inputs (one job per combination); with
///   none, the inputs are the records of stdin.
/// - No command: each input is a whole command line, run as it is.
///
/// So `printf 'A\nB\n' | spawn many -- echo X` runs `echo X A` and `echo X
/// B`, and `spawn many < cmds.txt` runs each line. (Several commands given
/// as arguments are one command line, as in GNU parallel: whole commands as
/// arguments are `spawn many ::: 'cmd 1' 'cmd 2'`.)
///
/// # Errors
/// A replacement string spawn does not have (see [`Template::parse`]).
pub(crate) fn plan(words: &[OsString], how: &How<'_>) -> Result<Plan, String> {
    let delim = how.delim;
    let (head, groups) = super::sources::split(words, how.arg_files, delim, how.link)?;
    let source = match groups {
        None => Source::Stdin {
            delim,
            // Blank lines are no command (GNU parallel runs nothing for
            // them either).
            skip_blank: head.is_empty(),
        },
        Some(groups) => Source::Lists(groups),
    };
    let command: Vec<Vec<u8>> = head.iter().map(bytes).collect();
    if head.is_empty() {
        return Ok(Plan {
            template: Template::input_only(),
            quote: false,
            source,
            command,
        });
    }
    let joined = command.join(&b' ');
    // -I STR: STR is `{}` (and `{}` itself is text).
    let input = how.replace.filter(|r| !r.is_empty()).unwrap_or(b"{}");
    let mut template = Template::parse_with(&joined, input)?;
    if !template.has_input() {
        template.append_input();
    }
    Ok(Plan {
        template,
        quote: true,
        source,
        command,
    })
}

impl Source {
    /// How many records there are, when known before reading any.
    pub(crate) fn len(&self) -> Option<u64> {
        match self {
            Source::Stdin { .. } => None,
            Source::Lists(l) => Some(l.iter().map(|l| l.len() as u64).product()),
        }
    }

    /// The records, each the inputs of one job (before `-n`).
    pub(crate) fn records(self) -> Records {
        match self {
            Source::Stdin { delim, skip_blank } => Box::new(StdinRecords {
                reader: BufReader::with_capacity(1 << 16, io::stdin()),
                delim,
                skip_blank,
                done: false,
            }),
            Source::Lists(lists) => Box::new(Product::new(lists).map(Ok)),
        }
    }
}

/// Splits every input of `records` into columns at the matches of `sep`
/// (`--colsep`): each column is an input (`{1}`, `{2}`…).
pub(crate) fn columns(records: Records, sep: regex::bytes::Regex) -> Records {
    Box::new(records.map(move |r| {
        r.map(|inputs| {
            inputs
                .iter()
                .flat_map(|i| sep.split(i).map(<[u8]>::to_vec))
                .collect()
        })
    }))
}

/// Reads all of `records` (up to a read error, which comes last) and
/// returns them again with their number.
pub(crate) fn read_all(records: Records) -> (Records, Option<u64>) {
    let mut all = Vec::new();
    for r in records {
        let end = r.is_err();
        all.push(r);
        if end {
            break;
        }
    }
    let n = all.iter().filter(|r| r.is_ok()).count() as u64;
    (Box::new(all.into_iter()), Some(n))
}

/// Reads all of `records` (as [`read_all`]) and returns them in a random
/// order (`--shuf`).
pub(crate) fn shuffled(records: Records) -> (Records, Option<u64>) {
    let mut all: Vec<io::Result<Inputs>> = Vec::new();
    let mut error = None;
    for r in records {
        match r {
            Ok(r) => all.push(Ok(r)),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // Fisher-Yates with a xorshift seeded from the clock and our pid: no
    // need for more randomness than that.
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32)
        | 1;
    for i in (1..all.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    let n = all.len() as u64;
    all.extend(error.map(Err));
    (Box::new(all.into_iter()), Some(n))
}

/// Groups `records` `n` at a time (the last group may be shorter).
pub(crate) fn chunked(records: Records, n: usize) -> Records {
    if n <= 1 {
        return records;
    }
    let mut records = records.fuse();
    // A read error after some records of a group: that group first, then it.
    let mut pending: Option<io::Error> = None;
    Box::new(std::iter::from_fn(move || {
        if let Some(e) = pending.take() {
            return Some(Err(e));
        }
        let mut job = Vec::new();
        for _ in 0..n {
            match records.next() {
                Some(Ok(r)) => job.extend(r),
                Some(Err(e)) if job.is_empty() => return Some(Err(e)),
                Some(Err(e)) => {
                    pending = Some(e);
                    break;
                }
                None => break,
            }
        }
        (!job.is_empty()).then_some(Ok(job))
    }))
}

struct StdinRecords<R> {
    reader: BufReader<R>,
    delim: u8,
    skip_blank: bool,
    done: bool,
}

impl<R: Read> Iterator for StdinRecords<R> {
    type Item = io::Result<Inputs>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let mut rec = Vec::new();
            match self.reader.read_until(self.delim, &mut rec) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    if rec.last() == Some(&self.delim) {
                        rec.pop();
                    }
                    if self.skip_blank && rec.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some(Ok(vec![rec]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Every combination of one element of each list, the last list varying
/// fastest (GNU parallel's order).
struct Product {
    lists: Vec<Vec<Inputs>>,
    at: Vec<usize>,
    done: bool,
}

impl Product {
    fn new(lists: Vec<Vec<Inputs>>) -> Product {
        let done = lists.iter().any(Vec::is_empty);
        let at = vec![0; lists.len()];
        Product { lists, at, done }
    }
}

impl Iterator for Product {
    type Item = Inputs;

    fn next(&mut self) -> Option<Inputs> {
        if self.done {
            return None;
        }
        let item = self
            .at
            .iter()
            .zip(&self.lists)
            .flat_map(|(&i, l)| l[i].iter().cloned())
            .collect();
        self.done = true;
        for k in (0..self.at.len()).rev() {
            self.at[k] += 1;
            if self.at[k] < self.lists[k].len() {
                self.done = false;
                break;
            }
            self.at[k] = 0;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::Numbers;
    use super::*;

    const N: Numbers = Numbers { seq: 1, slot: 1 };
    const HOW: How<'static> = How {
        delim: b'\n',
        arg_files: &[],
        link: false,
        replace: None,
    };

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn all(r: Records) -> Vec<Vec<String>> {
        r.map(|r| {
            r.expect("no error")
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        })
        .collect()
    }

    #[test]
    fn lists_combine_last_fastest() {
        let p = plan(&os(&["echo", ":::", "a", "b", ":::", "1", "2"]), &HOW).expect("plan");
        assert!(p.quote);
        assert_eq!(p.source.len(), Some(4));
        assert_eq!(
            all(p.source.records()),
            [["a", "1"], ["a", "2"], ["b", "1"], ["b", "2"]]
        );
    }

    #[test]
    fn words_with_a_replacement_string_are_one_template() {
        let p = plan(&os(&["wc", "-l", "{}"]), &HOW).expect("plan");
        assert!(matches!(
            p.source,
            Source::Stdin {
                delim: b'\n',
                skip_blank: false
            }
        ));
        assert_eq!(
            p.template.expand(&[b"x y".to_vec()], N, p.quote),
            b"wc -l 'x y'"
        );
        // No replacement string: the input is appended (GNU parallel's rule).
        let p = plan(&os(&["echo", "X"]), &HOW).expect("plan");
        assert_eq!(p.template.expand(&[b"A".to_vec()], N, p.quote), b"echo X A");
        assert!(p.source.len().is_none());
        let p = plan(&os(&["gzip --best"]), &HOW).expect("plan");
        assert_eq!(
            p.template.expand(&[b"a b".to_vec()], N, p.quote),
            b"gzip --best 'a b'"
        );
    }

    #[test]
    fn columns_split_at_a_regex() {
        let r: Records = Box::new(std::iter::once(Ok(vec![b"a\tb c\t\td".to_vec()])));
        let sep = regex::bytes::Regex::new("\t+").expect("regex");
        assert_eq!(all(columns(r, sep)), [["a", "b c", "d"]]);
    }

    #[test]
    fn chunks_of_n() {
        let r: Records = Box::new((0..5).map(|i| Ok(vec![vec![b'0' + i]])));
        assert_eq!(
            all(chunked(r, 2)),
            vec![vec!["0", "1"], vec!["2", "3"], vec!["4"]]
        );
    }

    #[test]
    fn stdin_records_keep_bytes_and_split_on_the_delimiter() {
        let r = StdinRecords {
            reader: BufReader::new(&b"a\xff\0\0b"[..]),
            delim: 0,
            skip_blank: false,
            done: false,
        };
        let got: Vec<Inputs> = r.map(|r| r.expect("read")).collect();
        assert_eq!(
            got,
            [
                vec![b"a\xff".to_vec()],
                vec![Vec::new()],
                vec![b"b".to_vec()]
            ]
        );
    }
}
