//! The input sources given on `spawn many`'s command line, GNU parallel's
//! way: `::: ARGS` (arguments), `:::: FILES` and `-a FILE` (the records of
//! files; `-` is stdin), `:::+`/`::::+` (linked to the source before: the
//! Nth input of each together, as long as the shorter), and `--link` (all
//! of them linked, the shorter ones wrapping around). Jobs take every
//! combination of one input of each unlinked group, the last varying
//! fastest.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;

use super::input::Inputs;

/// Groups of linked sources, each a list of tuples (one input of each).
pub(crate) type Groups = Vec<Vec<Inputs>>;

/// How a source joins the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Join {
    /// Combined with every input of the others.
    Product,
    /// Linked to the source before (`:::+`, `::::+`).
    Linked,
}

/// The records of `reader`, each ended by `delim`.
fn records(reader: impl Read, delim: u8) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut r = BufReader::new(reader);
    loop {
        let mut rec = Vec::new();
        if r.read_until(delim, &mut rec)? == 0 {
            return Ok(out);
        }
        if rec.last() == Some(&delim) {
            rec.pop();
        }
        out.push(rec);
    }
}

/// The records of the file `name` (`-`: stdin).
fn file_records(name: &[u8], delim: u8) -> Result<Vec<Vec<u8>>, String> {
    let shown = String::from_utf8_lossy(name);
    let read = if name == b"-" {
        records(io::stdin(), delim)
    } else {
        std::fs::File::open(std::ffi::OsStr::from_bytes(name)).and_then(|f| records(f, delim))
    };
    read.map_err(|e| format!("cannot read input file {shown}: {e}"))
}

/// Splits `words` at the source separators: the words before the first
/// (the command), and the groups of inputs, each a list of tuples (one
/// input of each linked source), `arg_files` (`-a`) first. `None` when no
/// source is given (the inputs are then stdin's).
///
/// # Errors
/// An input file cannot be read.
pub(crate) fn split(
    words: &[OsString],
    arg_files: &[OsString],
    delim: u8,
    link_all: bool,
) -> Result<(Vec<OsString>, Option<Groups>), String> {
    let mut lists: Vec<(Join, Vec<Vec<u8>>)> = Vec::new();
    for f in arg_files {
        lists.push((Join::Product, file_records(f.as_bytes(), delim)?));
    }
    let mut head = Vec::new();
    // The current separator: none yet (the command), or (files?, join).
    let mut sep: Option<(bool, Join)> = None;
    for w in words {
        let next = match w.as_bytes() {
            b":::" => Some((false, Join::Product)),
            b":::+" => Some((false, Join::Linked)),
            b"::::" => Some((true, Join::Product)),
            b"::::+" => Some((true, Join::Linked)),
            _ => None,
        };
        match (next, sep) {
            (Some((files, join)), _) => {
                sep = Some((files, join));
                if !files {
                    lists.push((join, Vec::new()));
                }
            }
            (None, None) => head.push(w.clone()),
            (None, Some((false, _))) => {
                if let Some((_, l)) = lists.last_mut() {
                    l.push(w.as_bytes().to_vec());
                }
            }
            (None, Some((true, join))) => {
                // Each file after `::::` is a source of its own; `::::+`
                // links the first to the source before.
                lists.push((join, file_records(w.as_bytes(), delim)?));
                sep = Some((true, Join::Product));
            }
        }
    }
    if sep.is_none() && arg_files.is_empty() {
        return Ok((head, None));
    }
    Ok((head, Some(groups(lists, link_all))))
}

/// The lists made groups of tuples (see the module docs).
fn groups(lists: Vec<(Join, Vec<Vec<u8>>)>, link_all: bool) -> Vec<Vec<Inputs>> {
    let mut groups: Vec<Vec<Inputs>> = Vec::new();
    for (join, list) in lists {
        let singles = list.into_iter().map(|i| vec![i]);
        match (join, groups.last_mut()) {
            (Join::Linked, Some(g)) => {
                // As long as the shorter (no wrapping).
                let zipped = std::mem::take(g)
                    .into_iter()
                    .zip(singles)
                    .map(|(mut t, s)| {
                        t.extend(s);
                        t
                    })
                    .collect();
                *g = zipped;
            }
            _ => groups.push(singles.collect()),
        }
    }
    if !link_all || groups.len() < 2 {
        return groups;
    }
    // --link: the Nth of each, the shorter ones wrapping around.
    let n = groups.iter().map(Vec::len).max().unwrap_or(0);
    if groups.iter().any(Vec::is_empty) {
        return vec![Vec::new()];
    }
    let linked = (0..n)
        .map(|i| {
            groups
                .iter()
                .flat_map(|g| g[i % g.len()].iter().cloned())
                .collect()
        })
        .collect();
    vec![linked]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn text(g: &[Vec<Inputs>]) -> Vec<Vec<String>> {
        g.iter()
            .map(|g| {
                g.iter()
                    .map(|t| {
                        t.iter()
                            .map(|i| String::from_utf8_lossy(i).into_owned())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn linked_sources() {
        let (head, g) = split(
            &os(&["echo", ":::", "a", "b", "c", ":::+", "1", "2"]),
            &[],
            b'\n',
            false,
        )
        .expect("split");
        assert_eq!(head, os(&["echo"]));
        assert_eq!(text(&g.expect("sources")), [["a,1", "b,2"]]);
        let (_, g) = split(
            &os(&["e", ":::", "a", "b", "c", ":::", "1", "2"]),
            &[],
            b'\n',
            true,
        )
        .expect("split");
        assert_eq!(text(&g.expect("sources")), [["a,1", "b,2", "c,1"]]);
        let (_, g) = split(&os(&["e"]), &[], b'\n', false).expect("split");
        assert!(g.is_none());
    }
}
