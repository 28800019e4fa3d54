//! GNU parallel's options added for the drop-in (issue 30), gathered so
//! that `spawn many`'s own option list and run stay as they were:
//! `-X`/`-m` ([`super::multi`], [`super::words`]), `-q`
//! ([`super::words`]), `--results` ([`super::results`]), `--bar`/`--eta`
//! ([`super::bar`]), `--pipe`/`--block`/`--recend` ([`super::pipe`]).

use std::ffi::OsString;

use clap::Args;

use super::input::Records;
use super::template::{Numbers, Template};
use super::words::Words;

/// The options (flattened into `spawn many`'s).
#[derive(Args, Default)]
pub(crate) struct MoreArgs {
    /// Give each job as many inputs as fit on one command line, each word with {} repeated
    /// per input (pic{}.jpg: pica.jpg picb.jpg); spread over the job slots at the end.
    #[arg(short = 'X', conflicts_with_all = ["multi", "pipe"])]
    pub context: bool,
    /// Give each job as many inputs as fit on one command line ({}: all of them).
    #[arg(short = 'm', conflicts_with_all = ["pipe"])]
    pub multi: bool,
    /// Shell-quote each word of the command (after its replacement strings), so that
    /// ; | * $ in it are text.
    #[arg(short = 'q', long = "quote")]
    pub quote: bool,
    /// Save each job's output in files instead of printing it: a tree NAME/1/<input>/
    /// (stdout, stderr, seq); NAME with {}: files named by it; NAME.csv, .tsv, .json: a
    /// table (-.csv: on stdout).
    #[arg(long, alias = "res", value_name = "NAME", allow_hyphen_values = true, conflicts_with_all = ["json", "ungroup"])]
    pub results: Option<OsString>,
    /// Write the percent done and time left to stderr when it is no terminal (a terminal
    /// shows the progress line anyway).
    #[arg(long)]
    pub bar: bool,
    /// Write the estimated time left and jobs left to stderr when it is no terminal.
    #[arg(long)]
    pub eta: bool,
    /// Cut stdin into blocks (--block, ending at --recend) and give each job one on its stdin.
    #[arg(long, alias = "spreadstdin")]
    pub pipe: bool,
    /// The size of a --pipe block (1M by default; k, m, g: of 1000; K, M, G: of 1024).
    #[arg(long, alias = "block-size", value_name = "SIZE", value_parser = super::pipe::parse_block, requires = "pipe")]
    pub block: Option<usize>,
    /// What ends a record of --pipe (\n by default; C escapes).
    #[arg(long, value_name = "STR", requires = "pipe")]
    pub recend: Option<String>,
}

/// What these options change in how a job is made (part of
/// [`super::job::Launch`]).
#[derive(Clone, Default)]
pub(crate) struct Extra {
    /// `-q`/`-X`: the command line made word by word.
    pub words: Option<Words>,
    /// `--pipe`: the job's input is its stdin, not part of its command.
    pub pipe: bool,
    /// `--results`: the job keeps its inputs (for its file names).
    pub keep_inputs: bool,
}

impl MoreArgs {
    /// Whether jobs take as many inputs as fit (`-X`, `-m`).
    pub(crate) fn fills_lines(&self) -> bool {
        self.context || self.multi
    }

    /// The parts of a job these options change, for a run of `command`
    /// (its words before `:::`) with `template` and `{}` spelled `input`.
    /// With `--pipe`, the template is the command as it is (no `{}`
    /// appended).
    ///
    /// # Errors
    /// A replacement string spawn does not have; `--pipe` with `:::`
    /// inputs, no command, or `-N`.
    pub(crate) fn extra(
        &self,
        command: &[Vec<u8>],
        template: &mut Template,
        input: &[u8],
        lists: bool,
        max_args: usize,
    ) -> Result<Extra, String> {
        let mut extra = Extra {
            keep_inputs: self.results.is_some(),
            pipe: self.pipe,
            words: None,
        };
        if self.pipe {
            if lists || command.is_empty() {
                return Err("--pipe: give a command, and the input on stdin (no ::: lists)".into());
            }
            if max_args > 1 {
                return Err(
                    "--pipe with -N (records per block) is not supported: use --block".into(),
                );
            }
            *template = Template::parse_with(&command.join(&b' '), input)?;
            return Ok(extra);
        }
        if !command.is_empty() && (self.quote || self.context) {
            extra.words = Some(Words::new(command, input, self.quote, self.context)?);
        }
        Ok(extra)
    }

    /// `--pipe`: stdin's blocks, each the one input of a job.
    ///
    /// # Errors
    /// A `--recend` that is not one.
    pub(crate) fn blocks(&self) -> Result<Records, String> {
        let recend = match &self.recend {
            None => b"\n".to_vec(),
            Some(s) => unescape(s),
        };
        Ok(super::pipe::blocks(
            std::io::stdin(),
            self.block.unwrap_or(super::pipe::DEFAULT_BLOCK),
            recend,
        ))
    }
}

/// `\n`, `\t`, `\0`, `\\` in a `--recend` as the bytes they name.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'0') => out.push(0),
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

impl Extra {
    /// The command line of a job: word by word (`-q`, `-X`), else the
    /// template's; with `--pipe` no input is in it.
    pub(crate) fn line(
        &self,
        template: &Template,
        inputs: &[Vec<u8>],
        n: Numbers,
        quote: bool,
    ) -> Vec<u8> {
        let inputs = if self.pipe { &[][..] } else { inputs };
        match &self.words {
            Some(w) => w.expand(inputs, n, quote),
            None => template.expand(inputs, n, quote),
        }
    }
}
