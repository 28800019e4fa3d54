//! `--results NAME`: each job's output saved in files instead of printed,
//! in GNU parallel's layouts:
//!
//! - `NAME` (no replacement string): a tree, `NAME/1/<input 1>/2/<input
//!   2>…/` holding `stdout`, `stderr` and `seq` (the job number, no
//!   newline); a `/` in an input is `\_` there, a `\` is `\\`;
//! - `NAME` with a replacement string (`out_{}`): its stdout in the file it
//!   names, its stderr in `….err`, its number in `….seq`; when the name
//!   ends in `/`, that directory holds `stdout`, `stderr` and `seq`;
//! - `NAME.csv`, `NAME.tsv`, `NAME.json`: one table (`-.csv`… on stdout),
//!   a row per job: `Seq, Host, Starttime, JobRuntime, Send, Receive,
//!   Exitval, Signal, Command, V1…, Stdout, Stderr` (the joblog's fields,
//!   the inputs, the output); in CSV and TSV a field with a space, the
//!   separator or `"` is quoted, `"` doubled; JSON is one object a line.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use spawn::{Error, Output};

use super::input::Inputs;
use super::job::Job;
use super::joblog::Facts;
use super::template::{Numbers, Template};
use crate::screen::screen;

/// Where `--results` puts each job's output.
pub(crate) enum Results {
    /// A tree of directories by input.
    Tree(PathBuf),
    /// Files (or, ending in `/`, a directory) named by a template.
    Named(Template),
    /// One table.
    Table(Table),
}

/// A table's format.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Tsv,
    Json,
}

/// A `--results` table being written.
pub(crate) struct Table {
    format: Format,
    /// `None`: our stdout (`-.csv`).
    file: Option<File>,
    header: bool,
}

impl Results {
    /// `--results NAME`, with `input` as `{}` (`-I`); a table's file is
    /// created now.
    ///
    /// # Errors
    /// A replacement string spawn does not have, or a table that cannot be
    /// created, naming it.
    pub(crate) fn open(name: &OsStr, input: &[u8]) -> Result<Results, String> {
        let bytes = name.as_bytes();
        let format = [
            (&b".csv"[..], Format::Csv),
            (b".tsv", Format::Tsv),
            (b".json", Format::Json),
        ]
        .into_iter()
        .find(|(ext, _)| bytes.ends_with(ext) && bytes.len() > ext.len());
        if let Some((ext, format)) = format {
            let file = if &bytes[..bytes.len() - ext.len()] == b"-" {
                None
            } else {
                Some(File::create(name).map_err(|e| {
                    format!("--results {}: cannot create: {e}", name.to_string_lossy())
                })?)
            };
            return Ok(Results::Table(Table {
                format,
                file,
                header: false,
            }));
        }
        let template = Template::parse_with(bytes, input).map_err(|e| format!("--results {e}"))?;
        Ok(if template.has_input() {
            Results::Named(template)
        } else {
            Results::Tree(PathBuf::from(name))
        })
    }

    /// Saves the output of a finished `job` (its inputs kept in
    /// `job.inputs`) that started at `start`.
    ///
    /// # Errors
    /// A file that cannot be written.
    pub(crate) fn record(
        &mut self,
        job: &Job,
        start: SystemTime,
        result: &Result<Output, Error>,
    ) -> io::Result<()> {
        let empty = Inputs::new();
        let inputs = job.inputs.as_ref().unwrap_or(&empty);
        let out = match result {
            Ok(o) => Some(o),
            Err(e) => e.output(),
        };
        let (stdout, stderr) = out.map_or((&[][..], &[][..]), |o| (&o.stdout[..], &o.stderr[..]));
        let seq = job.seq.to_string();
        match self {
            Results::Tree(root) => {
                let mut dir = root.clone();
                for (i, input) in inputs.iter().enumerate() {
                    dir.push((i + 1).to_string());
                    dir.push(OsStr::from_bytes(&escape(input)));
                }
                save_in(&dir, stdout, stderr, &seq)
            }
            Results::Named(t) => {
                let n = Numbers {
                    seq: job.seq,
                    slot: job.slot,
                };
                let name = t.expand(inputs, n, false);
                if name.ends_with(b"/") {
                    return save_in(Path::new(OsStr::from_bytes(&name)), stdout, stderr, &seq);
                }
                let with =
                    |ext: &[u8]| PathBuf::from(OsStr::from_bytes(&[&name[..], ext].concat()));
                if let Some(parent) = with(b"").parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(with(b""), stdout)?;
                std::fs::write(with(b".err"), stderr)?;
                std::fs::write(with(b".seq"), &seq)
            }
            Results::Table(t) => t.row(job, inputs, start, result, stdout, stderr),
        }
    }
}

/// `stdout`, `stderr` and `seq` in `dir` (made if missing).
fn save_in(dir: &Path, stdout: &[u8], stderr: &[u8], seq: &str) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("stdout"), stdout)?;
    std::fs::write(dir.join("stderr"), stderr)?;
    std::fs::write(dir.join("seq"), seq)
}

/// An input as a directory name: `\` is `\\`, `/` is `\_` (GNU
/// parallel's).
fn escape(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\_"),
            b => out.push(b),
        }
    }
    out
}

impl Table {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(data),
            None => screen()
                .out(data)
                .map_err(|f| io::Error::new(io::ErrorKind::BrokenPipe, f.to_string())),
        }
    }

    fn row(
        &mut self,
        job: &Job,
        inputs: &Inputs,
        start: SystemTime,
        result: &Result<Output, Error>,
        stdout: &[u8],
        stderr: &[u8],
    ) -> io::Result<()> {
        let f = Facts::of(job, start, result);
        let mut line = Vec::new();
        if self.format == Format::Json {
            line.extend_from_slice(
                format!(
                    "{{ \"Seq\": {}, \"Host\": \":\", \"Starttime\": {:.3}, \"JobRuntime\": {:.3}, \
                     \"Send\": {}, \"Receive\": {}, \"Exitval\": {}, \"Signal\": {}, \"Command\": ",
                    job.seq, f.started, f.runtime, f.send, f.receive, f.exitval, f.signal
                )
                .as_bytes(),
            );
            json_string(&job.line, &mut line);
            line.extend_from_slice(b", \"V\": [ ");
            for (i, v) in inputs.iter().enumerate() {
                if i > 0 {
                    line.extend_from_slice(b", ");
                }
                json_string(v, &mut line);
            }
            line.extend_from_slice(b" ], \"Stdout\": ");
            json_string(stdout, &mut line);
            line.extend_from_slice(b", \"Stderr\": ");
            json_string(stderr, &mut line);
            line.extend_from_slice(b" }\n");
            return self.write(&line);
        }
        let sep = if self.format == Format::Csv {
            b','
        } else {
            b'\t'
        };
        if !self.header {
            self.header = true;
            let mut names: Vec<String> = [
                "Seq",
                "Host",
                "Starttime",
                "JobRuntime",
                "Send",
                "Receive",
                "Exitval",
                "Signal",
                "Command",
            ]
            .map(String::from)
            .to_vec();
            names.extend((1..=inputs.len()).map(|i| format!("V{i}")));
            names.extend(["Stdout".into(), "Stderr".into()]);
            let mut header = names.join(&char::from(sep).to_string()).into_bytes();
            header.push(b'\n');
            self.write(&header)?;
        }
        let facts = [
            job.seq.to_string(),
            ":".into(),
            format!("{:.3}", f.started),
            format!("{:.3}", f.runtime),
            f.send.to_string(),
            f.receive.to_string(),
            f.exitval.to_string(),
            f.signal.to_string(),
        ];
        let fields = facts
            .iter()
            .map(String::as_bytes)
            .chain([&job.line[..]])
            .chain(inputs.iter().map(Vec::as_slice))
            .chain([stdout, stderr]);
        for (i, field) in fields.enumerate() {
            if i > 0 {
                line.push(sep);
            }
            table_field(field, sep, &mut line);
        }
        line.push(b'\n');
        self.write(&line)
    }
}

/// A CSV or TSV field: quoted when it holds a space, the separator or
/// `"` (each `"` doubled).
fn table_field(field: &[u8], sep: u8, out: &mut Vec<u8>) {
    if !field
        .iter()
        .any(|&b| b.is_ascii_whitespace() || b == sep || b == b'"')
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A JSON string: `"` and `\` escaped, control characters as `\u00XX`
/// (GNU parallel's), bytes that are not UTF-8 as U+FFFD.
fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for c in String::from_utf8_lossy(s).chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_gnu_parallel_quotes_them() {
        let mut out = Vec::new();
        for f in [&b"a"[..], b"echo a", b"b,\"c", b"x\n", b""] {
            table_field(f, b',', &mut out);
            out.push(b'|');
        }
        assert_eq!(out, b"a|\"echo a\"|\"b,\"\"c\"|\"x\n\"||");
        let mut j = Vec::new();
        json_string(b"a\n\"\\", &mut j);
        assert_eq!(j, b"\"a\\u000a\\\"\\\\\"");
        assert_eq!(escape(b"a b/c\\d"), b"a b\\_c\\\\d");
    }
}
