//! The command template of `spawn many`: GNU parallel's replacement strings,
//! expanded into a command line of bytes.
//!
//! - `{}` the inputs of the job (several with `-n`, `:::` lists or
//!   `--colsep`, joined by spaces), `{.}` without the extension (GNU's
//!   `s:\.[^/.]*$::`, so `.hidden` becomes empty), `{/}` the basename
//!   (`s:.*/::`), `{//}` the directory (Perl's `dirname`), `{/.}` the
//!   basename without the extension;
//! - `{N}`, `{N.}`, `{N/}`, `{N//}`, `{N/.}` the same of input `N` alone
//!   (from 1; `-N` counts from the last; one that is not there is empty);
//! - `{#}` the job number (from 1), `{%}` the job slot (from 1, never two
//!   running jobs with the same).
//!
//! Text GNU parallel keeps as it is (`{print $1}`, `{nope}`, `{ }`) is
//! kept so too; what it would replace and spawn cannot (`{=perl=}`, `{0}`)
//! is an error, never literal text.
//!
//! In a command the inputs are shell-quoted, so any file name is one word;
//! in a `--tagstring` they are inserted as they are.

/// What a replacement string takes from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// `{}`
    Whole,
    /// `{.}`
    NoExt,
    /// `{/}`
    Base,
    /// `{//}`
    Dir,
    /// `{/.}`
    BaseNoExt,
}

/// Which inputs a replacement string takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    /// All of them, joined by spaces.
    All,
    /// The Nth (from 1), or the Nth from the end when negative.
    At(i64),
}

/// One replacement string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repl {
    Input(Which, Part),
    /// `{#}`
    Seq,
    /// `{%}`
    Slot,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Repl(Repl),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// The numbers of one job that replacement strings can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Numbers {
    /// `{#}`: its number, from 1, in input order.
    pub seq: u64,
    /// `{%}`: its job slot, from 1.
    pub slot: u64,
}

const PARTS: [(&[u8], Part); 5] = [
    (b"", Part::Whole),
    (b".", Part::NoExt),
    (b"/", Part::Base),
    (b"//", Part::Dir),
    (b"/.", Part::BaseNoExt),
];

/// The replacement string the `{…}` body `body` is: `Ok(None)` for text
/// GNU parallel keeps as it is.
fn repl(body: &[u8]) -> Result<Option<Repl>, String> {
    match body {
        b"#" => return Ok(Some(Repl::Seq)),
        b"%" => return Ok(Some(Repl::Slot)),
        _ => {}
    }
    let digits = body
        .iter()
        .skip(usize::from(body.first() == Some(&b'-')))
        .take_while(|b| b.is_ascii_digit())
        .count();
    let num_len = if digits == 0 {
        0
    } else {
        digits + usize::from(body[0] == b'-')
    };
    let (num, rest) = body.split_at(num_len);
    let Some(&(_, part)) = PARTS.iter().find(|(s, _)| *s == rest) else {
        return Ok(None);
    };
    if num.is_empty() {
        return Ok(Some(Repl::Input(Which::All, part)));
    }
    let text = String::from_utf8_lossy(body);
    match std::str::from_utf8(num)
        .ok()
        .and_then(|n| n.parse::<i64>().ok())
    {
        Some(0) | None => Err(format!(
            "replacement string {{{text}}}: inputs are numbered from 1 ({{1}}, {{-1}} the last)"
        )),
        Some(n) => Ok(Some(Repl::Input(Which::At(n), part))),
    }
}

impl Template {
    /// Parses `s`; text that is not a replacement string is kept as it is.
    ///
    /// # Errors
    /// A replacement string GNU parallel has and spawn does not (a Perl
    /// expression `{=…=}`, input `{0}`), naming it.
    pub(crate) fn parse(s: &[u8]) -> Result<Template, String> {
        Template::parse_with(s, b"{}")
    }

    /// Parses `s` with `input` in place of `{}` (`-I STR`; `{}` is then
    /// text, as in GNU parallel).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub(crate) fn parse_with(s: &[u8], input: &[u8]) -> Result<Template, String> {
        let custom = input != b"{}";
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < s.len() {
            if custom && !input.is_empty() && s[i..].starts_with(input) {
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Repl(Repl::Input(Which::All, Part::Whole)));
                i += input.len();
                continue;
            }
            if s[i] == b'{' && !(custom && s[i..].starts_with(b"{}")) {
                let body = &s[i + 1..];
                let after_digits = body.iter().position(|b| !b.is_ascii_digit());
                if after_digits.is_some_and(|k| body[k] == b'=')
                    && body.windows(2).any(|w| w == b"=}")
                {
                    return Err(format!(
                        "{}: Perl expressions ({{=…=}}) are not supported",
                        String::from_utf8_lossy(s)
                    ));
                }
                if let Some(end) = body.iter().position(|&b| b == b'}')
                    && let Some(r) = repl(&body[..end])?
                {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Repl(r));
                    i += end + 2;
                    continue;
                }
            }
            lit.push(s[i]);
            i += 1;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template { pieces })
    }

    /// The template `{}`: the input itself is the command.
    pub(crate) fn input_only() -> Template {
        Template {
            pieces: vec![Piece::Repl(Repl::Input(Which::All, Part::Whole))],
        }
    }

    /// Whether the template uses a replacement string (`{#}` included).
    pub(crate) fn has_input(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Repl(_)))
    }

    /// Whether the template takes inputs (`{}`, `{1}`, `{.}`…; not `{#}`
    /// or `{%}`): a word `-X` repeats once per input.
    pub(crate) fn takes_inputs(&self) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Repl(Repl::Input(..))))
    }

    /// Whether the template shows the job slot (`{%}`).
    pub(crate) fn uses_slot(&self) -> bool {
        self.pieces.contains(&Piece::Repl(Repl::Slot))
    }

    /// Adds ` {}` at the end (GNU parallel's rule for a command with no
    /// replacement string).
    pub(crate) fn append_input(&mut self) {
        self.pieces.push(Piece::Lit(b" ".to_vec()));
        self.pieces
            .push(Piece::Repl(Repl::Input(Which::All, Part::Whole)));
    }

    /// The command line for a job: `inputs` in place of each replacement
    /// string, each shell-quoted when `quote`, and its numbers for `{#}`
    /// and `{%}`.
    pub(crate) fn expand(&self, inputs: &[Vec<u8>], n: Numbers, quote: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, v: &[u8]| {
            if quote {
                out.extend(super::shell::quote(v));
            } else {
                out.extend_from_slice(v);
            }
        };
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Repl(Repl::Seq) => out.extend_from_slice(n.seq.to_string().as_bytes()),
                Piece::Repl(Repl::Slot) => out.extend_from_slice(n.slot.to_string().as_bytes()),
                Piece::Repl(Repl::Input(Which::All, part)) => {
                    for (k, input) in inputs.iter().enumerate() {
                        if k > 0 {
                            out.push(b' ');
                        }
                        put(&mut out, &derive(*part, input));
                    }
                }
                Piece::Repl(Repl::Input(Which::At(at), part)) => {
                    let len = inputs.len() as i64;
                    let ix = if *at > 0 { at - 1 } else { len + at };
                    // One that is not there is nothing (GNU parallel's).
                    if let Some(input) = usize::try_from(ix).ok().and_then(|i| inputs.get(i)) {
                        put(&mut out, &derive(*part, input));
                    }
                }
            }
        }
        out
    }
}

/// `s:.*/::`
fn base(s: &[u8]) -> &[u8] {
    s.iter()
        .rposition(|&b| b == b'/')
        .map_or(s, |i| &s[i + 1..])
}

/// `s:\.[^/.]*$::`: from the last `.` on, when no `/` follows it.
fn no_ext(s: &[u8]) -> &[u8] {
    match s.iter().rposition(|&b| b == b'.') {
        Some(dot) if !s[dot..].contains(&b'/') => &s[..dot],
        _ => s,
    }
}

fn trim_slashes(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    &s[..end]
}

/// Perl's `File::Basename::dirname` (GNU parallel's `{//}`): `a/b/` is
/// `a`, `c//` is `.`, `//x` is `/`.
fn dirname(s: &[u8]) -> &[u8] {
    if !s.is_empty() && s.iter().all(|&b| b == b'/') {
        return b"/";
    }
    let s = trim_slashes(s);
    match s.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(i) => match trim_slashes(&s[..i]) {
            b"" => b"/",
            d => d,
        },
    }
}

fn derive(part: Part, s: &[u8]) -> Vec<u8> {
    match part {
        Part::Whole => s.to_vec(),
        Part::NoExt => no_ext(s).to_vec(),
        Part::Base => base(s).to_vec(),
        Part::Dir => dirname(s).to_vec(),
        Part::BaseNoExt => no_ext(base(s)).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Numbers = Numbers { seq: 7, slot: 3 };

    fn expand_all(t: &str, inputs: &[&str]) -> String {
        let t = Template::parse(t.as_bytes()).expect("parses");
        let inputs: Vec<Vec<u8>> = inputs.iter().map(|i| i.as_bytes().to_vec()).collect();
        String::from_utf8(t.expand(&inputs, N, true)).expect("utf-8")
    }

    fn expand(t: &str, input: &str) -> String {
        let t = Template::parse(t.as_bytes()).expect("parses");
        String::from_utf8(t.expand(&[input.as_bytes().to_vec()], N, false)).expect("utf-8")
    }

    #[test]
    fn replacement_strings_like_gnu_parallel() {
        let p = "dir.d/sub/file.tar.gz";
        assert_eq!(expand("{}", p), p);
        assert_eq!(expand("{.}", p), "dir.d/sub/file.tar");
        assert_eq!(expand("{/}", p), "file.tar.gz");
        assert_eq!(expand("{//}", p), "dir.d/sub");
        assert_eq!(expand("{/.}", p), "file.tar");
        assert_eq!(expand("{#} {%}", p), "7 3");
        assert_eq!(expand("{//}", "a"), ".");
        assert_eq!(expand("{//}", "/a"), "/");
        assert_eq!(expand("{.}", "dir.d/noext"), "dir.d/noext");
        assert_eq!(
            expand("x{}y {nope} {print $1} { } {", "a"),
            "xay {nope} {print $1} { } {"
        );
    }

    /// What GNU parallel 20221122 prints for these inputs (its
    /// `--dry-run`), column by column: `{.}`, `{/.}`, `{//}`, `{/}`.
    #[test]
    fn edge_cases_are_gnu_parallels() {
        for (input, want) in [
            (".hidden", ["", "", ".", ".hidden"]),
            ("/.x", ["/", "", "/", ".x"]),
            ("a.b/.x.y", ["a.b/.x", ".x", "a.b", ".x.y"]),
            ("a/b/", ["a/b/", "", "a", ""]),
            ("c//", ["c//", "", ".", ""]),
            ("/", ["/", "", "/", ""]),
            ("x.", ["x", "x", ".", "x."]),
            ("..", [".", ".", ".", ".."]),
            ("a/..", ["a/.", ".", "a", ".."]),
            ("//x", ["//x", "x", "/", "x"]),
            ("a//b", ["a//b", "b", "a", "b"]),
        ] {
            let got = ["{.}", "{/.}", "{//}", "{/}"].map(|t| expand(t, input));
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn positional_replacement_strings() {
        let inputs = ["a.x/b.c", "d e", "f/g.h"];
        assert_eq!(
            expand_all("{1} {2} {3} {4} {-1} {1.} {3/} {1//} {1/.}", &inputs),
            "a.x/b.c 'd e' f/g.h  f/g.h a.x/b g.h a.x b"
        );
        assert_eq!(expand_all("{}", &inputs), "a.x/b.c 'd e' f/g.h");
        assert!(Template::parse(b"echo {0}").is_err());
        assert!(Template::parse(b"echo {=1 $_=uc($_) =}").is_err());
        assert!(Template::parse(b"echo {= 1 =}").is_err());
        // GNU parallel keeps these as they are.
        assert_eq!(expand_all("{1x} {+.} {..}", &inputs), "{1x} {+.} {..}");
    }

    #[test]
    fn inputs_are_quoted_in_commands_and_joined() {
        let t = Template::parse(b"wc -l {}").expect("parses");
        let out = t.expand(&[b"a b".to_vec(), b"c".to_vec()], N, true);
        assert_eq!(out, b"wc -l 'a b' c");
        assert!(!Template::parse(b"echo hi").expect("parses").has_input());
        assert!(Template::parse(b"echo {#}").expect("parses").has_input());
        assert!(Template::parse(b"echo {%}").expect("parses").uses_slot());
    }
}
