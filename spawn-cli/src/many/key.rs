//! The key of a job for `--journal` and `--shard-by hash`: a stable 128-bit
//! hash (FNV-1a) of the job itself, its command template as written and
//! its input record, not of its place in the input. The same job has the
//! same key in any run, of any spawn version that keeps this module's
//! format (`v1` is hashed in), however the input was reordered or extended.

use std::fmt;

/// A job's key (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key(pub u128);

const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a, 128 bits, over `bytes`, from `h`.
fn fnv(mut h: u128, bytes: &[u8]) -> u128 {
    for &b in bytes {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// What is hashed of the command: the words before the first input list
/// (`:::`, `::::`, `:::+`, `::::+`), each with its length, and `-I`'s
/// string (it changes what the words mean). Computed once per run.
pub(crate) fn template_identity(words: &[std::ffi::OsString], replace: Option<&str>) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut id = b"spawn-many-key-v1\0".to_vec();
    for w in words {
        let w = w.as_bytes();
        if matches!(w, b":::" | b"::::" | b":::+" | b"::::+") {
            break;
        }
        id.extend_from_slice(&(w.len() as u64).to_le_bytes());
        id.extend_from_slice(w);
    }
    id.push(0xff);
    id.extend_from_slice(replace.unwrap_or("{}").as_bytes());
    id
}

impl Key {
    /// The key of the job with `inputs` under the template `identity`
    /// (from [`template_identity`]).
    pub(crate) fn of(identity: &[u8], inputs: &[Vec<u8>]) -> Key {
        let mut h = fnv(OFFSET, identity);
        for i in inputs {
            h = fnv(h, &(i.len() as u64).to_le_bytes());
            h = fnv(h, i);
        }
        Key(h)
    }

    /// Parses the 32 hex digits [`Display`](fmt::Display) writes.
    pub(crate) fn parse(s: &str) -> Option<Key> {
        (s.len() == 32)
            .then(|| u128::from_str_radix(s, 16).ok())
            .flatten()
            .map(Key)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_tell_jobs_apart() {
        let id = template_identity(
            &["echo".into(), "{}".into(), ":::".into(), "a".into()],
            None,
        );
        let a = Key::of(&id, &[b"a".to_vec()]);
        // The same in every run and version of this format: a fixed value.
        assert_eq!(a.to_string(), "958b5bb34f17203effedddb4f5e31cb4");
        assert_eq!(Key::parse(&a.to_string()), Some(a));
        // Inputs split differently are other jobs.
        assert_ne!(
            Key::of(&id, &[b"ab".to_vec(), b"c".to_vec()]),
            Key::of(&id, &[b"a".to_vec(), b"bc".to_vec()])
        );
        // Another template, another job; the lists after ::: are not the template.
        let other = template_identity(&["echo".into(), "-n".into(), "{}".into()], None);
        assert_ne!(Key::of(&other, &[b"a".to_vec()]), a);
        let id2 = template_identity(
            &["echo".into(), "{}".into(), ":::".into(), "b".into()],
            None,
        );
        assert_eq!(Key::of(&id2, &[b"a".to_vec()]), a);
        assert_ne!(
            template_identity(&["echo".into()], Some("X")),
            template_identity(&["echo".into()], None)
        );
        assert_eq!(Key::parse("xyz"), None);
    }
}
