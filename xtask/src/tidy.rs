//! Tidy: what review would otherwise nag about, checked as tests over the tree.
//!
//! - every Rust file opens with a `//!` module doc;
//! - `unsafe` code appears only in spawn-sys, and there each block has a
//!   `// SAFETY:` line right above it;
//! - no `#[ignore]` without a reason;
//! - no stray `.snap.new` files (pending snapshot changes);
//! - every Rust file ARCHITECTURE.md names (a backquoted `*.rs` path) exists;
//! - every test GUARANTEES.md cites as `file.rs::name` (or `file.rs::name_…`,
//!   a prefix) is a `fn name` or a case named `"name"` in a file of that name.

use std::fs;
use std::path::{Path, PathBuf};

/// All files below `dir` whose name ends with `suffix`, skipping build output
/// and hidden directories.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && !name.starts_with("target") {
                    stack.push(path);
                }
            } else if name.ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Pending snapshot files (`*.snap.new`, `*.pending-snap`), relative to `root`.
pub fn stray_snapshots(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = files_with_suffix(root, ".snap.new")
        .into_iter()
        .chain(files_with_suffix(root, ".pending-snap"))
        .map(|p| p.strip_prefix(root).unwrap_or(&p).display().to_string())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backquoted `*.rs` paths that `doc` names (`` `sink.rs` ``,
    /// `` `tests/cli.rs` ``): lowercase letters, `_`, `-` and `/` before `.rs`,
    /// the rule of the before-stop hook. Sorted, each once.
    pub fn named_rust_files(doc: &str) -> Vec<String> {
        // What `grep -oE '`[a-z_/-]+\.rs`'` finds: leftmost, not overlapping.
        let stem = |c: char| c.is_ascii_lowercase() || "_-/".contains(c);
        let mut v = Vec::new();
        let mut rest = doc;
        while let Some(open) = rest.find('`') {
            let after = &rest[open + 1..];
            let len = after.find(|c: char| !stem(c)).unwrap_or(after.len());
            if len > 0
                && let Some(tail) = after[len..].strip_prefix(".rs`")
            {
                v.push(format!("{}.rs", &after[..len]));
                rest = tail;
            } else {
                rest = after;
            }
        }
        v.sort();
        v.dedup();
        v
    }

    /// The files `doc` names (see [`named_rust_files`]) that are no file of
    /// the workspace: neither a path from `root` nor the end of one (`sink.rs`
    /// matches `spawn/src/sink.rs`, not `spawn/src/xsink.rs`).
    pub fn missing_named_files(root: &Path, doc: &str) -> Vec<String> {
        let files: Vec<String> = files_with_suffix(root, ".rs")
            .into_iter()
            .map(|p| p.strip_prefix(root).unwrap_or(&p).display().to_string())
            .collect();
        named_rust_files(doc)
            .into_iter()
            .filter(|name| {
                let tail = format!("/{name}");
                !files.iter().any(|f| f == name || f.ends_with(&tail))
            })
            .collect()
    }

    /// A test GUARANTEES.md cites: `file.rs::name` (`file.rs::module::name`
    /// names the same `name`), or `file.rs::name_…` for every test whose
    /// name starts with `name_`.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Citation {
        pub file: String,
        pub name: String,
        pub prefix: bool,
    }

    /// The tests `doc` cites, in order, each once.
    pub fn cited_tests(doc: &str) -> Vec<Citation> {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let path = |c: char| word(c) || "/-".contains(c);
        let mut v: Vec<Citation> = Vec::new();
        for (at, _) in doc.match_indices(".rs::") {
            let before = &doc[..at];
            let start = before.rfind(|c: char| !path(c)).map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
            let file = format!("{}.rs", &before[start..]);
            let mut rest = &doc[at + ".rs::".len()..];
            let name = loop {
                let len = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
                let (name, after) = rest.split_at(len);
                match after.strip_prefix("::") {
                    Some(more) if !more.is_empty() => rest = more,
                    _ => {
                        rest = after;
                        break name;
                    }
                }
            };
            if file == ".rs" || name.is_empty() {
                continue;
            }
            let c = Citation {
                file,
                name: name.to_string(),
                prefix: rest.starts_with('…'),
            };
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }

    /// Whether `text` defines a test `name` (or, with `prefix`, one whose
    /// name starts with it): a `fn name` or a case table's `"name"`.
    fn defines(text: &str, name: &str, prefix: bool) -> bool {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let fn_ok = text.match_indices(&format!("fn {name}")).any(|(i, m)| {
            let next = text[i + m.len()..].chars().next();
            let before_ok = i == 0 || !text[..i].ends_with(word);
            before_ok && (prefix || !next.is_some_and(word))
        });
        let quote = if prefix {
            format!("\"{name}")
        } else {
            format!("\"{name}\"")
        };
        fn_ok || text.contains(&quote)
    }

    /// The citations of `doc` (see [`cited_tests`]) that no file of the
    /// workspace named like the citation's (`teardown.rs` is
    /// `spawn/tests/teardown.rs` or the case table
    /// `spawn/tests/cases/teardown.rs`) defines, as `file::name`.
    pub fn dangling_citations(root: &Path, doc: &str) -> Vec<String> {
        let files: Vec<(String, String)> = files_with_suffix(root, ".rs")
            .into_iter()
            .map(|p| {
                let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                (rel, fs::read_to_string(&p).unwrap_or_default())
            })
            .collect();
        cited_tests(doc)
            .into_iter()
            .filter(|c| {
                let tail = format!("/{}", c.file);
                !files.iter().any(|(path, text)| {
                    (*path == c.file || path.ends_with(&tail)) && defines(text, &c.name, c.prefix)
                })
            })
            .map(|c| format!("{}::{}{}", c.file, c.name, if c.prefix { "…" } else { "" }))
            .collect()
    }

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    fn rust_files() -> Vec<(String, String)> {
        let root = root();
        files_with_suffix(&root, ".rs")
            .into_iter()
            .map(|p| {
                let text = fs::read_to_string(&p).unwrap();
                (p.strip_prefix(&root).unwrap().display().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn every_rust_file_opens_with_a_module_doc() {
        let bad: Vec<String> = rust_files()
            .into_iter()
            .filter(|(_, text)| !text.trim_start().starts_with("//!"))
            .map(|(path, _)| path)
            .collect();
        assert!(
            bad.is_empty(),
            "files without a `//!` module doc first:\n{}",
            bad.join("\n")
        );
    }

    /// The keyword, spelled so that this file's own patterns are not
    /// taken for code (the check covers xtask too).
    const UNSAFE: &str = concat!("un", "safe");

    fn is_unsafe_code(line: &str) -> bool {
        let code = line.split("//").next().unwrap_or("");
        [" {", " fn", " impl", " extern"]
            .iter()
            .any(|rest| code.contains(&format!("{UNSAFE}{rest}")))
    }

    #[test]
    fn unsafe_code_only_in_spawn_sys() {
        let bad: Vec<String> = rust_files()
            .into_iter()
            .filter(|(path, _)| !path.starts_with("spawn-sys/"))
            .filter(|(_, text)| text.lines().any(is_unsafe_code))
            .map(|(path, _)| path)
            .collect();
        assert!(
            bad.is_empty(),
            "unsafe code outside spawn-sys:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_unsafe_block_in_spawn_sys_has_a_safety_comment() {
        let mut bad = Vec::new();
        for (path, text) in rust_files()
            .into_iter()
            .filter(|(p, _)| p.starts_with("spawn-sys/"))
        {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if !code.contains(&format!("{UNSAFE} {{")) {
                    continue;
                }
                // A `// SAFETY:` comment within the 12 lines above (a comment may span lines),
                // or on the same line.
                let from = i.saturating_sub(12);
                let documented = lines[from..=i].iter().any(|l| l.contains("SAFETY:"));
                if !documented {
                    bad.push(format!("{path}:{}", i + 1));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "unsafe blocks without `// SAFETY:`:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn no_ignore_without_a_reason() {
        let bad: Vec<String> = rust_files()
            .into_iter()
            .flat_map(|(path, text)| {
                text.lines()
                    .enumerate()
                    .filter(|(_, l)| l.trim() == "#[ignore]")
                    .map(|(i, _)| format!("{path}:{}", i + 1))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(
            bad.is_empty(),
            "`#[ignore]` without a reason:\n{}",
            bad.join("\n")
        );
    }

    /// `what` in the workspace's `doc` (at least `least` of them, so that
    /// a broken parser does not pass on nothing): none may be `bad`.
    fn assert_none_bad<T: std::fmt::Debug>(
        doc: &str,
        what: &str,
        (all, least): (&[T], usize),
        bad: &[String],
    ) {
        assert!(all.len() > least, "{doc} {what} almost nothing: {all:?}");
        assert!(
            bad.is_empty(),
            "{doc} {what} that do not exist in the workspace:\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn architecture_names_only_files_that_exist() {
        let root = root();
        let doc = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        let files = named_rust_files(&doc);
        let missing = missing_named_files(&root, &doc);
        assert_none_bad("ARCHITECTURE.md", "names files", (&files, 10), &missing);
    }

    #[test]
    fn a_named_file_that_is_gone_is_reported_by_name() {
        let doc = "The loop is in `driver.rs`, sinks in `spawn/src/sink.rs` and \
                   `tests/cli.rs`; `engine.rs` is gone, `src/river.rs` never was. \
                   `Sink::file(p)`, `a.RS`, `x.rs.bak` are no file names.";
        assert_eq!(
            named_rust_files(doc),
            [
                "driver.rs",
                "engine.rs",
                "spawn/src/sink.rs",
                "src/river.rs",
                "tests/cli.rs"
            ]
        );
        // `src/river.rs` is not the end of `spawn/src/driver.rs` at a `/`.
        assert_eq!(
            missing_named_files(&root(), doc),
            ["engine.rs", "src/river.rs"]
        );
    }

    #[test]
    fn guarantees_cites_only_tests_that_exist() {
        let root = root();
        let doc = fs::read_to_string(root.join("GUARANTEES.md")).unwrap();
        let cited = cited_tests(&doc);
        let dangling = dangling_citations(&root, &doc);
        assert_none_bad("GUARANTEES.md", "cites tests", (&cited, 50), &dangling);
        let files = named_rust_files(&doc);
        let missing = missing_named_files(&root, &doc);
        assert_none_bad("GUARANTEES.md", "names files", (&files, 5), &missing);
    }

    #[test]
    fn a_cited_test_that_is_gone_is_reported_by_name() {
        let doc = "Proved by `tidy.rs::a_cited_test_that_is_gone_is_reported_by_name`, \
                   `inproc.rs::no_panic::no_panic_on_any_input`, the case \
                   `teardown.rs::timeout_returns_the_partial_output`, the cases \
                   `teardown.rs::timeout_…`; not by `tidy.rs::a_cited_test_that_is_gone` \
                   (a prefix without `…`), `tidy.rs::never_written`, \
                   `gone.rs::timeout_returns_the_partial_output` or `tidy.rs::zz_…`.";
        let cited: Vec<String> = cited_tests(doc)
            .iter()
            .map(|c| format!("{}::{}{}", c.file, c.name, if c.prefix { "…" } else { "" }))
            .collect();
        assert_eq!(
            cited,
            [
                "tidy.rs::a_cited_test_that_is_gone_is_reported_by_name",
                "inproc.rs::no_panic_on_any_input",
                "teardown.rs::timeout_returns_the_partial_output",
                "teardown.rs::timeout_…",
                "tidy.rs::a_cited_test_that_is_gone",
                "tidy.rs::never_written",
                "gone.rs::timeout_returns_the_partial_output",
                "tidy.rs::zz_…",
            ]
        );
        assert_eq!(
            dangling_citations(&root(), doc),
            [
                "tidy.rs::a_cited_test_that_is_gone",
                "tidy.rs::never_written",
                "gone.rs::timeout_returns_the_partial_output",
                "tidy.rs::zz_…",
            ]
        );
    }

    #[test]
    fn tidy_sees_the_workspace() {
        // Guards the checks above against walking an empty tree.
        let files = rust_files();
        assert!(
            files.iter().any(|(p, _)| p == "xtask/src/tidy.rs"),
            "{} files",
            files.len()
        );
        assert!(files.iter().any(|(p, _)| p.starts_with("spawn-sys/")));
    }
}
