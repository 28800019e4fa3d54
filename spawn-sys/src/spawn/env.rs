//! The caller's environment with a few changes ([`EnvChanges`]), made into
//! the child's `envp` at the spawn: the pointers of the caller's own
//! `environ` strings that no change names (no copy of any string), then the
//! changed ones. A command that sets one variable costs one pointer array
//! per start, not one allocation per inherited variable.

#![allow(unsafe_code)]
//! # Safety
//! `environ` is read as [`super::Envp::Inherit`] reads it: std's contract
//! for `set_var`/`remove_var` (unsafe; sound only when no other thread
//! reads the environment meanwhile) makes a concurrent change the caller's
//! undefined behaviour. The pointers taken are used before the spawn
//! returns (the child's `execve` copies the strings).

use std::ffi::{CStr, CString, c_char};
use std::marker::PhantomData;

use super::args::{CStringArray, EnvError};

/// Changes to the caller's environment: variables set (or replaced) and
/// variables removed. The child gets the caller's environment as it is
/// when the child starts, in its order, without the variables named here,
/// then the ones set here, sorted by name.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use spawn_sys::{EnvChanges, Envp};
/// let changes = EnvChanges::new([(&b"LC_ALL"[..], &b"C"[..])], [&b"TZ"[..]])?;
/// let envp = Envp::Changed(changes);
/// # let _ = envp;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvChanges {
    /// `KEY=VALUE` strings, sorted by key, one per key.
    set: CStringArray,
    /// Keys the child does not get, sorted, none of them a key of `set`.
    removed: Vec<Box<[u8]>>,
}

/// The key of an environment string: its bytes before the first `=` (the
/// whole string when it has none).
fn key_of(entry: &[u8]) -> &[u8] {
    entry
        .iter()
        .position(|&b| b == b'=')
        .map_or(entry, |at| &entry[..at])
}

fn check_key(k: &[u8]) -> Result<(), EnvError> {
    if k.is_empty() {
        Err(EnvError::KeyEmpty)
    } else if k.contains(&b'=') {
        Err(EnvError::KeyHasEquals)
    } else if k.contains(&0) {
        Err(EnvError::InteriorNul)
    } else {
        Ok(())
    }
}

impl EnvChanges {
    /// Sets the variables of `set` (a key given twice takes its last value)
    /// and removes those of `removed` (a key in both is set; a removed key
    /// that cannot be a name, empty or with `=` or NUL, names nothing).
    ///
    /// # Errors
    /// [`EnvError`] for a key of `set` that is empty or contains `=`, or a
    /// NUL byte in one of its keys or values.
    pub fn new<'a>(
        set: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        removed: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, EnvError> {
        let set = set.into_iter();
        let mut strings: Vec<CString> = Vec::with_capacity(set.size_hint().0);
        for (k, v) in set {
            check_key(k)?;
            let mut buf = Vec::with_capacity(k.len() + v.len() + 2);
            buf.extend_from_slice(k);
            buf.push(b'=');
            buf.extend_from_slice(v);
            strings.push(CString::new(buf).map_err(|_| EnvError::InteriorNul)?);
        }
        // Stable: of equal keys, the last given stays (moved into the
        // place of the first).
        strings.sort_by(|a, b| key_of(a.to_bytes()).cmp(key_of(b.to_bytes())));
        strings.dedup_by(|later, kept| {
            let same = key_of(later.to_bytes()) == key_of(kept.to_bytes());
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        let mut out = CStringArray::with_capacity(strings.len());
        for s in strings {
            out.push_cstring(s);
        }
        let mut gone: Vec<Box<[u8]>> = Vec::new();
        gone.extend(
            removed
                .into_iter()
                .filter(|k| check_key(k).is_ok())
                .map(Box::from),
        );
        gone.sort();
        gone.dedup();
        let mut changes = EnvChanges {
            set: out,
            removed: Vec::new(),
        };
        gone.retain(|k| !changes.is_set(k));
        changes.removed = gone;
        Ok(changes)
    }

    fn is_set(&self, key: &[u8]) -> bool {
        self.set_position(key).is_ok()
    }

    fn set_position(&self, key: &[u8]) -> Result<usize, usize> {
        self.set
            .items()
            .binary_search_by(|s| key_of(s.to_bytes()).cmp(key))
    }

    /// Whether the caller's variable `key` is replaced or removed.
    fn names(&self, key: &[u8]) -> bool {
        self.set_position(key).is_ok() || self.removed.binary_search_by(|k| (**k).cmp(key)).is_ok()
    }

    /// The variables set, as `KEY=VALUE` strings sorted by key.
    pub fn set(&self) -> impl Iterator<Item = &CStr> {
        self.set.iter()
    }

    /// Calls `f` with each string of the child's environment, as it would
    /// be if the child started now.
    fn each(&self, mut f: impl FnMut(&CStr)) {
        for entry in environ() {
            if !self.names(key_of(entry.to_bytes())) {
                f(entry);
            }
        }
        self.set.iter().for_each(f);
    }
}

/// The caller's environment strings, as `environ` holds them now.
fn environ() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: a read of the C library's `environ` pointer (see the module's
    // safety note): NULL, or a NULL-terminated array of pointers to
    // NUL-terminated strings.
    let mut at: *const *const c_char = unsafe { super::args::environ() };
    std::iter::from_fn(move || {
        if at.is_null() {
            return None;
        }
        // SAFETY: `at` points into the NULL-terminated array, at or before
        // its NULL (we stop there).
        let p = unsafe { *at };
        if p.is_null() {
            return None;
        }
        // SAFETY: as above; the next slot exists (this one was not NULL).
        at = unsafe { at.add(1) };
        // SAFETY: each entry is a NUL-terminated string that lives as long
        // as the environment is not changed (the module's safety note).
        Some(unsafe { CStr::from_ptr(p) })
    })
}

/// How many strings the caller's environment has now.
fn environ_len() -> usize {
    environ().count()
}

/// The NULL-terminated `envp` array one start passes to `execve`: a
/// pointer the caller owns, or one built for the start.
pub(crate) struct EnvBlock<'a> {
    ptr: *const *const c_char,
    /// The array built for [`super::Envp::Changed`] (empty otherwise).
    built: Vec<*const c_char>,
    _envp: PhantomData<&'a super::Envp>,
}

impl EnvBlock<'_> {
    /// An array owned elsewhere.
    pub(crate) fn fixed(ptr: *const *const c_char) -> Self {
        EnvBlock {
            ptr,
            built: Vec::new(),
            _envp: PhantomData,
        }
    }

    /// The caller's environment now, changed by `changes`.
    pub(crate) fn changed(changes: &EnvChanges) -> EnvBlock<'_> {
        let mut built = Vec::with_capacity(environ_len() + changes.set.len() + 1);
        changes.each(|s| built.push(s.as_ptr()));
        built.push(std::ptr::null());
        EnvBlock {
            ptr: built.as_ptr(),
            built,
            _envp: PhantomData,
        }
    }

    /// The array (valid while `self` lives).
    pub(crate) fn as_ptr(&self) -> *const *const c_char {
        debug_assert!(self.built.is_empty() || self.ptr == self.built.as_ptr());
        self.ptr
    }
}

/// The bytes of the environment the child of `changes` would get now,
/// terminators included.
pub(crate) fn changed_bytes(changes: &EnvChanges) -> usize {
    let mut n = 0;
    changes.each(|s| n += s.to_bytes().len() + 1);
    n
}

/// The bytes of the caller's environment now, terminators included.
pub(crate) fn inherited_bytes() -> usize {
    environ().map(|s| s.to_bytes().len() + 1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(c: &EnvChanges) -> Vec<&[u8]> {
        c.set().map(CStr::to_bytes).collect()
    }

    #[test]
    fn changes_are_sorted_the_last_value_wins_and_set_beats_removed() {
        let c = EnvChanges::new(
            [
                (&b"B"[..], &b"1"[..]),
                (b"A+", b"x"),
                (b"A", b"0"),
                (b"B", b"2"),
            ],
            [&b"A"[..], b"Z", b"Z"],
        )
        .unwrap();
        assert_eq!(strings(&c), [&b"A=0"[..], b"A+=x", b"B=2"]);
        assert!(c.names(b"A") && c.names(b"A+") && c.names(b"B") && c.names(b"Z"));
        assert!(!c.names(b"C") && !c.names(b"") && !c.names(b"AB"));
        assert_eq!(c.removed, [Box::from(&b"Z"[..])]);
    }

    #[test]
    fn bad_keys_and_values_are_errors() {
        let set = |k: &'static [u8], v: &'static [u8]| EnvChanges::new([(k, v)], []);
        assert_eq!(set(b"", b"x").unwrap_err(), EnvError::KeyEmpty);
        assert_eq!(set(b"A=B", b"x").unwrap_err(), EnvError::KeyHasEquals);
        assert_eq!(set(b"A", b"\0").unwrap_err(), EnvError::InteriorNul);
        let gone = EnvChanges::new([], [&b""[..], b"A\0", b"A=B"]).unwrap();
        assert!(gone.removed.is_empty());
    }

    #[test]
    fn the_block_is_the_environment_without_what_changes_name_then_the_changes() {
        let path = std::env::var_os("PATH").expect("tests run with a PATH");
        let c = EnvChanges::new([(&b"SPAWN_SYS_ENV_TEST"[..], &b"v"[..])], [&b"PATH"[..]]).unwrap();
        let block = EnvBlock::changed(&c);
        let mut got = Vec::new();
        let mut at = block.as_ptr();
        loop {
            // SAFETY: the block is NULL-terminated and lives for the loop;
            // `at` is at or before its NULL.
            let p = unsafe { *at };
            if p.is_null() {
                break;
            }
            // SAFETY: a NUL-terminated string of the block or environ.
            got.push(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec());
            // SAFETY: this slot was not the NULL, so the next exists.
            at = unsafe { at.add(1) };
        }
        assert_eq!(got.last().unwrap(), b"SPAWN_SYS_ENV_TEST=v");
        assert!(
            !got.iter().any(|s| key_of(s) == b"PATH"),
            "{path:?} removed"
        );
        assert_eq!(got.len(), environ_len());
        assert_eq!(
            changed_bytes(&c),
            got.iter().map(|s| s.len() + 1).sum::<usize>()
        );
    }
}
