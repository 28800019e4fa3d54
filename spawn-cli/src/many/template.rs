//! The command template of `spawn many`: GNU parallel's replacement strings
//! `{}` (the input), `{.}` (without its extension), `{/}` (its basename),
//! `{//}` (its directory), `{/.}` (basename without extension) and `{#}` (the
//! job number, from 1), expanded into a command line of bytes.
//!
//! In a command the inputs are shell-quoted, so any file name is one word;
//! in a `--tagstring` they are inserted as they are.

/// One replacement string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repl {
    /// `{}`
    Input,
    /// `{.}`
    NoExt,
    /// `{/}`
    Base,
    /// `{//}`
    Dir,
    /// `{/.}`
    BaseNoExt,
    /// `{#}`
    Seq,
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

const TOKENS: [(&[u8], Repl); 6] = [
    (b"{}", Repl::Input),
    (b"{.}", Repl::NoExt),
    (b"{/}", Repl::Base),
    (b"{//}", Repl::Dir),
    (b"{/.}", Repl::BaseNoExt),
    (b"{#}", Repl::Seq),
];

impl Template {
    /// Parses `s`; text that is not a replacement string is kept as it is.
    pub(crate) fn parse(s: &[u8]) -> Template {
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        'outer: while i < s.len() {
            if s[i] == b'{' {
                for (tok, r) in TOKENS {
                    if s[i..].starts_with(tok) {
                        if !lit.is_empty() {
                            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                        }
                        pieces.push(Piece::Repl(r));
                        i += tok.len();
                        continue 'outer;
                    }
                }
            }
            lit.push(s[i]);
            i += 1;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Template { pieces }
    }

    /// The template `{}`: the input itself is the command.
    pub(crate) fn input_only() -> Template {
        Template {
            pieces: vec![Piece::Repl(Repl::Input)],
        }
    }

    /// Whether the template uses a replacement string (`{#}` included).
    pub(crate) fn has_input(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Repl(_)))
    }

    /// Adds ` {}` at the end (GNU parallel's rule for a command with no
    /// replacement string given `:::` inputs).
    pub(crate) fn append_input(&mut self) {
        self.pieces.push(Piece::Lit(b" ".to_vec()));
        self.pieces.push(Piece::Repl(Repl::Input));
    }

    /// The command line for a job: `inputs` (several with `-n` or more than
    /// one `:::` list, joined by spaces) in place of each replacement
    /// string, each shell-quoted when `quote`, and `seq` for `{#}`.
    pub(crate) fn expand(&self, inputs: &[Vec<u8>], seq: u64, quote: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Repl(Repl::Seq) => out.extend_from_slice(seq.to_string().as_bytes()),
                Piece::Repl(r) => {
                    for (k, input) in inputs.iter().enumerate() {
                        if k > 0 {
                            out.push(b' ');
                        }
                        let v = derive(*r, input);
                        if quote {
                            out.extend(super::shell::quote(v));
                        } else {
                            out.extend_from_slice(v);
                        }
                    }
                }
            }
        }
        out
    }
}

fn base(s: &[u8]) -> &[u8] {
    s.iter()
        .rposition(|&b| b == b'/')
        .map_or(s, |i| &s[i + 1..])
}

fn no_ext(s: &[u8]) -> &[u8] {
    let start = s.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    match s[start..].iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &s[..start + dot],
        _ => s,
    }
}

fn derive(r: Repl, s: &[u8]) -> &[u8] {
    match r {
        Repl::Input | Repl::Seq => s,
        Repl::NoExt => no_ext(s),
        Repl::Base => base(s),
        Repl::Dir => match s.iter().rposition(|&b| b == b'/') {
            Some(0) => b"/",
            Some(i) => &s[..i],
            None => b".",
        },
        Repl::BaseNoExt => no_ext(base(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(t: &str, input: &str) -> String {
        let t = Template::parse(t.as_bytes());
        String::from_utf8(t.expand(&[input.as_bytes().to_vec()], 7, false)).expect("utf-8")
    }

    #[test]
    fn replacement_strings_like_gnu_parallel() {
        let p = "dir.d/sub/file.tar.gz";
        assert_eq!(expand("{}", p), p);
        assert_eq!(expand("{.}", p), "dir.d/sub/file.tar");
        assert_eq!(expand("{/}", p), "file.tar.gz");
        assert_eq!(expand("{//}", p), "dir.d/sub");
        assert_eq!(expand("{/.}", p), "file.tar");
        assert_eq!(expand("{#}", p), "7");
        assert_eq!(expand("{//}", "a"), ".");
        assert_eq!(expand("{//}", "/a"), "/");
        assert_eq!(expand("{.}", "dir.d/noext"), "dir.d/noext");
        assert_eq!(expand("{.}", ".hidden"), ".hidden");
        assert_eq!(expand("x{}y {nope} {", "a"), "xay {nope} {");
    }

    #[test]
    fn inputs_are_quoted_in_commands_and_joined() {
        let t = Template::parse(b"wc -l {}");
        let out = t.expand(&[b"a b".to_vec(), b"c".to_vec()], 1, true);
        assert_eq!(out, b"wc -l 'a b' c");
        assert!(!Template::parse(b"echo hi").has_input());
        assert!(Template::parse(b"echo {#}").has_input());
    }
}
