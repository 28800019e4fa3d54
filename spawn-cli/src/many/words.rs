//! A command line made word by word, for two of GNU parallel's options:
//!
//! - `-q`: each word of the command is shell-quoted once its replacement
//!   strings are filled in (the inputs inserted as they are), so that
//!   `spawn many -q echo 'a;b' {}` runs `echo 'a;b' INPUT`, `;` and all;
//! - `-X`: a word with a replacement string that takes inputs is repeated
//!   once per input of the job (`pic{}.jpg` with `a b` is `pica.jpg
//!   picb.jpg`); `-m` needs no words (each `{}` is all the inputs).
//!
//! The words are the command's arguments with `-q`; else the command line
//! split at spaces.

use super::shell::quote;
use super::template::{Numbers, Template};

/// One word of the command.
#[derive(Clone, Debug)]
struct Word {
    template: Template,
    /// `-X`: repeated once per input (it takes inputs).
    repeated: bool,
}

/// A command line made word by word (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct Words {
    words: Vec<Word>,
    /// `-q`: each word quoted whole, after its replacement.
    quoted: bool,
}

impl Words {
    /// The words of `command` (the command's arguments; split at spaces
    /// unless `quoted`), with `input` as the replacement string `{}`;
    /// `context` (`-X`) repeats the words that take inputs. A command with
    /// no replacement string gets a last word `{}` (GNU parallel's rule).
    ///
    /// # Errors
    /// A replacement string spawn does not have.
    pub(crate) fn new(
        command: &[Vec<u8>],
        input: &[u8],
        quoted: bool,
        context: bool,
    ) -> Result<Words, String> {
        let split: Vec<Vec<u8>> = if quoted {
            command.to_vec()
        } else {
            command
                .iter()
                .flat_map(|w| w.split(|&b| b == b' ').filter(|w| !w.is_empty()))
                .map(<[u8]>::to_vec)
                .collect()
        };
        let mut words = split
            .iter()
            .map(|w| {
                let template = Template::parse_with(w, input)?;
                Ok(Word {
                    repeated: context && template.takes_inputs(),
                    template,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if !words.iter().any(|w| w.template.has_input()) {
            words.push(Word {
                template: Template::input_only(),
                repeated: context,
            });
        }
        Ok(Words { words, quoted })
    }

    /// The command line of a job with `inputs` and numbers `n`; `quote`:
    /// inputs are shell-quoted (not with `-q`, where the whole word is).
    pub(crate) fn expand(&self, inputs: &[Vec<u8>], n: Numbers, quote_inputs: bool) -> Vec<u8> {
        let mut line = Vec::new();
        let put = |line: &mut Vec<u8>, word: Vec<u8>| {
            if !line.is_empty() {
                line.push(b' ');
            }
            if self.quoted {
                line.extend(quote(&word));
            } else {
                line.extend(word);
            }
        };
        let quote_inputs = quote_inputs && !self.quoted;
        for w in &self.words {
            if w.repeated {
                for input in inputs {
                    let one = std::slice::from_ref(input);
                    put(&mut line, w.template.expand(one, n, quote_inputs));
                }
            } else {
                put(&mut line, w.template.expand(inputs, n, quote_inputs));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Numbers = Numbers { seq: 4, slot: 1 };

    fn line(words: &[&str], quoted: bool, context: bool, inputs: &[&str]) -> String {
        let words: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let inputs: Vec<Vec<u8>> = inputs.iter().map(|w| w.as_bytes().to_vec()).collect();
        let w = Words::new(&words, b"{}", quoted, context).expect("parses");
        String::from_utf8(w.expand(&inputs, N, true)).expect("utf-8")
    }

    /// What GNU parallel 20221122's `--dry-run` prints for these.
    #[test]
    fn words_are_gnu_parallels() {
        assert_eq!(
            line(&["echo", "pre{}post"], false, true, &["a", "b c"]),
            "echo preapost pre'b c'post"
        );
        assert_eq!(
            line(&["echo {} x{}"], false, true, &["a", "b"]),
            "echo a b xa xb"
        );
        assert_eq!(line(&["echo"], false, true, &["a", "b"]), "echo a b");
        assert_eq!(
            line(&["echo", "{#}", "{}"], false, true, &["1", "2"]),
            "echo 4 1 2"
        );
        assert_eq!(
            line(&["echo", "a b{}"], true, false, &["x y"]),
            "echo 'a bx y'"
        );
        assert_eq!(
            line(&["echo", "a;b", "{}"], true, false, &["x y"]),
            "echo 'a;b' 'x y'"
        );
        assert_eq!(
            line(&["echo", "$HOME"], true, false, &["x"]),
            "echo '$HOME' x"
        );
    }
}
