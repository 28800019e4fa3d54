//! Shell words, as bytes: quoting an input for `/bin/sh` (what `{}` inserts)
//! and telling whether a command line is plain words that can be executed
//! without a shell (the same thing `sh -c` would run, one `exec` fewer).
//!
//! Bytes that are not UTF-8 pass through both untouched.

/// Bytes that never need quoting.
fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)
}

/// `arg` quoted for `/bin/sh` as one word: as it is when every byte is safe,
/// else in single quotes (a `'` inside as `'\''`).
pub(crate) fn quote(arg: &[u8]) -> Vec<u8> {
    if !arg.is_empty() && arg.iter().copied().all(is_safe) {
        return arg.to_vec();
    }
    let mut out = Vec::with_capacity(arg.len() + 2);
    out.push(b'\'');
    for &b in arg {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Words that mean something to the shell as the first word of a command,
/// and builtins with no program of that name: these always go through `sh`.
const SHELL_FIRST_WORDS: &[&[u8]] = &[
    b"if",
    b"then",
    b"else",
    b"elif",
    b"fi",
    b"for",
    b"while",
    b"until",
    b"do",
    b"done",
    b"case",
    b"esac",
    b"in",
    b"!",
    b"{",
    b"}",
    b".",
    b":",
    b"break",
    b"continue",
    b"eval",
    b"exec",
    b"exit",
    b"export",
    b"readonly",
    b"return",
    b"set",
    b"shift",
    b"times",
    b"trap",
    b"unset",
    b"cd",
    b"alias",
    b"unalias",
    b"read",
    b"wait",
    b"umask",
    b"ulimit",
    b"getopts",
    b"command",
    b"type",
    b"hash",
    b"fg",
    b"bg",
    b"jobs",
    b"local",
    b"source",
    // Builtins whose program of the same name may differ from the shell's
    // (dash's echo reads backslashes; printf's formats).
    b"printf",
    b"test",
    b"pwd",
    b"kill",
];

/// The words of `line` when it is only words (plain, `'single'`- or
/// `"double"`-quoted without `$`, `` ` `` or `\` inside, or `\`-escaped
/// bytes) that `sh` would pass to one program unchanged; `None` when the
/// shell is needed (an operator, an expansion, a redirection, a comment, an
/// assignment, a keyword or builtin first, or no words at all).
pub(crate) fn plain_words(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut word: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        match b {
            b' ' | b'\t' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            b'\'' => {
                let end = line[i + 1..].iter().position(|&c| c == b'\'')? + i + 1;
                word.get_or_insert_with(Vec::new)
                    .extend_from_slice(&line[i + 1..end]);
                i = end;
            }
            b'"' => {
                let end = line[i + 1..].iter().position(|&c| c == b'"')? + i + 1;
                let inner = &line[i + 1..end];
                if inner.iter().any(|c| b"$`\\".contains(c)) {
                    return None;
                }
                word.get_or_insert_with(Vec::new).extend_from_slice(inner);
                i = end;
            }
            b'\\' => {
                let next = *line.get(i + 1)?;
                if next == b'\n' {
                    return None;
                }
                word.get_or_insert_with(Vec::new).push(next);
                i += 1;
            }
            b'#' | b'~' if word.is_none() => return None,
            b'=' if words.is_empty() => return None,
            b'|' | b'&' | b';' | b'<' | b'>' | b'(' | b')' | b'$' | b'`' | b'*' | b'?' | b'['
            | b']' | b'{' | b'}' | b'\n' | b'\r' | b'!' => return None,
            _ => word.get_or_insert_with(Vec::new).push(b),
        }
        i += 1;
    }
    if let Some(w) = word {
        words.push(w);
    }
    let first = words.first()?;
    if first.is_empty() || SHELL_FIRST_WORDS.contains(&first.as_slice()) {
        return None;
    }
    // `echo` is the same program and builtin in every shell, but for
    // options and backslashes (which dash's builtin reads).
    if first == b"echo"
        && words[1..]
            .iter()
            .any(|w| w.starts_with(b"-") || w.contains(&b'\\'))
    {
        return None;
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[u8]) -> Option<Vec<String>> {
        plain_words(s).map(|w| {
            w.iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect()
        })
    }

    #[test]
    fn quote_leaves_safe_words_and_quotes_the_rest() {
        assert_eq!(quote(b"a.py"), b"a.py");
        assert_eq!(quote(b""), b"''");
        assert_eq!(quote(b"it's a file"), b"'it'\\''s a file'");
        assert_eq!(quote(b"\xff$x"), b"'\xff$x'");
    }

    #[test]
    fn plain_words_splits_like_sh() {
        assert_eq!(
            words(b"wc -l a.py"),
            Some(vec!["wc".into(), "-l".into(), "a.py".into()])
        );
        assert_eq!(
            words(b"echo 'a b' \"c d\" e\\ f"),
            Some(vec![
                "echo".into(),
                "a b".into(),
                "c d".into(),
                "e f".into()
            ])
        );
        assert_eq!(words(b"echo ''"), Some(vec!["echo".into(), String::new()]));
    }

    #[test]
    fn plain_words_leaves_the_shell_its_work() {
        for line in [
            &b"echo a | tr a b"[..],
            b"echo $HOME",
            b"ls *.rs",
            b"X=1 env",
            b"exit 3",
            b"cd /tmp",
            b"echo \"$x\"",
            b"# comment",
            b"echo 'unterminated",
            b"",
            b"   ",
            b"echo a > f",
        ] {
            assert_eq!(plain_words(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    /// A quoted input of any bytes splits back into those bytes.
    #[test]
    fn quoting_round_trips_through_plain_words() {
        for arg in [
            &b"plain"[..],
            b"it's",
            b"a b\tc",
            b"$(rm -rf /)",
            b"\xff\xfe",
            b"''",
        ] {
            let mut line = b"echo ".to_vec();
            line.extend(quote(arg));
            assert_eq!(
                plain_words(&line),
                Some(vec![b"echo".to_vec(), arg.to_vec()])
            );
        }
    }
}
