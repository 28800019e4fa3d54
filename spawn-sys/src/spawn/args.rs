//! argv and envp: byte strings checked for NUL once, kept with the
//! NULL-terminated pointer array that `execve` and `posix_spawn` read.

#![allow(unsafe_code)]
//! # Safety
//! [`CStringArray`] holds raw pointers into `CString`s it owns, so it is not
//! `Send`/`Sync` by default; the `unsafe impl`s say why it is.

use std::ffi::{CStr, CString, c_char};
use std::fmt;

use super::env::{EnvBlock, EnvChanges, changed_bytes, inherited_bytes};

/// A validated list of C strings (argv or envp): owns the bytes and the
/// NULL-terminated pointer array `execve` wants.
///
/// Each string is checked for NUL when pushed, so building one never panics
/// and spawning from it needs no further copy.
pub struct CStringArray {
    items: Vec<CString>,
    /// Pointers into `items`, then a NULL. A `CString`'s heap buffer does
    /// not move when `items` grows, so they stay valid.
    ptrs: Vec<*const c_char>,
}

// SAFETY: the raw pointers point into the `CString`s owned by the same
// value and are only read; moving it to another thread is as safe as moving
// a `Vec<CString>`.
unsafe impl Send for CStringArray {}
// SAFETY: as above; there is no interior mutability, `&self` only reads.
unsafe impl Sync for CStringArray {}

impl fmt::Debug for CStringArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl Default for CStringArray {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for CStringArray {
    fn clone(&self) -> Self {
        let mut out = CStringArray::with_capacity(self.len());
        for c in &self.items {
            out.push_cstring(c.clone());
        }
        out
    }
}

impl PartialEq for CStringArray {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Eq for CStringArray {}

/// A NUL byte inside a string that must become a C string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InteriorNul {
    /// Where the NUL is, in bytes from the start of the string.
    pub position: usize,
}

impl fmt::Display for InteriorNul {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "contains a NUL byte at position {}", self.position)
    }
}

impl std::error::Error for InteriorNul {}

impl CStringArray {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty list with room for `n` strings.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        let mut ptrs = Vec::with_capacity(n + 1);
        ptrs.push(std::ptr::null());
        CStringArray {
            items: Vec::with_capacity(n),
            ptrs,
        }
    }

    /// Appends a copy of `item`.
    ///
    /// # Errors
    /// [`InteriorNul`] when `item` contains a NUL byte; the list is unchanged.
    pub fn push(&mut self, item: &[u8]) -> Result<(), InteriorNul> {
        let c = CString::new(item).map_err(|e| InteriorNul {
            position: e.nul_position(),
        })?;
        self.push_cstring(c);
        Ok(())
    }

    /// Appends `item`, already a C string (no copy, cannot fail).
    pub fn push_cstring(&mut self, item: CString) {
        // Before the trailing NULL, which stays last.
        let last = self.ptrs.len() - 1;
        self.ptrs.insert(last, item.as_ptr());
        self.items.push(item);
    }

    /// How many strings.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The strings, in order.
    pub fn iter(&self) -> impl Iterator<Item = &CStr> {
        self.items.iter().map(CString::as_c_str)
    }

    /// The strings, as a slice.
    pub(crate) fn items(&self) -> &[CString] {
        &self.items
    }

    /// The NULL-terminated pointer array, valid while `self` is neither
    /// changed nor dropped.
    pub(crate) fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// The environment a child gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Envp {
    /// The caller's own, as it is when the child starts (`environ`, read
    /// at the spawn as `execvp` and `posix_spawnp` do: no copy is made).
    Inherit,
    /// Exactly these `KEY=VALUE` strings (see [`env_array`]).
    Exactly(CStringArray),
    /// The caller's own as it is when the child starts, with these
    /// changes: its strings are passed without a copy, so a start costs
    /// one pointer array, however large the environment.
    Changed(EnvChanges),
}

impl From<CStringArray> for Envp {
    fn from(v: CStringArray) -> Self {
        Envp::Exactly(v)
    }
}

impl Envp {
    /// The NULL-terminated pointer array `execve` reads: `environ` now, the
    /// owned one, or one built now from `environ` and the changes (valid
    /// while the block and `self` are neither changed nor dropped).
    pub(crate) fn block(&self) -> EnvBlock<'_> {
        EnvBlock::fixed(match self {
            // SAFETY: a read of the C library's `environ` pointer. std's
            // contract for `set_var` (unsafe; in a multi-threaded program
            // only sound if no other thread reads the environment by any
            // other means, which C libraries do everywhere) makes a
            // concurrent change the caller's undefined behaviour, not ours;
            // glibc's `execvp` and std's own spawn read it the same way.
            Envp::Inherit => unsafe { environ() },
            Envp::Exactly(v) => v.as_ptr(),
            Envp::Changed(c) => return EnvBlock::changed(c),
        })
    }

    /// The bytes of the environment a child started now gets, terminators
    /// included (what counts towards the kernel's `E2BIG` limit with argv).
    #[must_use]
    pub fn byte_len(&self) -> usize {
        match self {
            Envp::Inherit => inherited_bytes(),
            Envp::Exactly(v) => v.iter().map(|s| s.to_bytes().len() + 1).sum(),
            Envp::Changed(c) => changed_bytes(c),
        }
    }
}

/// The C library's `environ` pointer (glibc: the variable).
///
/// # Safety
/// A read of a global another thread may change; see [`Envp::as_ptr`].
#[cfg(target_env = "gnu")]
pub(super) unsafe fn environ() -> *const *const c_char {
    // SAFETY: the caller's contract; a plain read of the pointer.
    unsafe { libc::environ.cast_const().cast() }
}

/// The C library's `environ` pointer (musl and FreeBSD export it but the
/// libc crate does not declare it there).
///
/// # Safety
/// As above.
#[cfg(any(
    all(target_os = "linux", not(target_env = "gnu")),
    target_os = "freebsd"
))]
pub(super) unsafe fn environ() -> *const *const c_char {
    unsafe extern "C" {
        static environ: *const *const c_char;
    }
    // SAFETY: the caller's contract; a plain read of the pointer.
    unsafe { environ }
}

/// The C library's `environ` pointer: on macOS a shared library reaches it
/// through `_NSGetEnviron()`.
///
/// # Safety
/// As above.
#[cfg(target_vendor = "apple")]
pub(super) unsafe fn environ() -> *const *const c_char {
    // SAFETY: `_NSGetEnviron` returns the address of the process's
    // `environ` variable, valid for the process's life.
    unsafe { (*libc::_NSGetEnviron()).cast_const().cast() }
}

/// Why an environment could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// A key or value contains a NUL byte.
    InteriorNul,
    /// A key is empty.
    KeyEmpty,
    /// A key contains `=`.
    KeyHasEquals,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvError::InteriorNul => "an environment variable contains a NUL byte",
            EnvError::KeyEmpty => "an environment variable name is empty",
            EnvError::KeyHasEquals => "an environment variable name contains '='",
        })
    }
}

impl std::error::Error for EnvError {}

/// Builds an envp (`KEY=VALUE` strings, in the order given) from pairs.
///
/// # Errors
/// [`EnvError`] for a key that is empty or contains `=`, or a NUL byte in a
/// key or value.
pub fn env_array<'a>(
    vars: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<CStringArray, EnvError> {
    let vars = vars.into_iter();
    let mut out = CStringArray::with_capacity(vars.size_hint().0);
    for (k, v) in vars {
        if k.is_empty() {
            return Err(EnvError::KeyEmpty);
        }
        if k.contains(&b'=') {
            return Err(EnvError::KeyHasEquals);
        }
        let mut buf = Vec::with_capacity(k.len() + v.len() + 2);
        buf.extend_from_slice(k);
        buf.push(b'=');
        buf.extend_from_slice(v);
        let c = CString::new(buf).map_err(|_| EnvError::InteriorNul)?;
        out.push_cstring(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_array_is_null_terminated_and_follows_pushes() {
        let mut a = CStringArray::new();
        assert!(a.is_empty());
        a.push(b"one").unwrap();
        a.push(b"\xfftwo").unwrap();
        assert_eq!(a.push(b"th\0ree"), Err(InteriorNul { position: 2 }));
        assert_eq!(a.len(), 2);
        let b = a.clone();
        assert_eq!(a, b);
        for arr in [&a, &b] {
            // SAFETY: the array holds 2 pointers and the NULL, owned by
            // `arr`, which outlives `ptrs`.
            let ptrs = unsafe { std::slice::from_raw_parts(arr.as_ptr(), 3) };
            assert!(ptrs[2].is_null());
            let got: Vec<&[u8]> = ptrs[..2]
                .iter()
                // SAFETY: each points at a NUL-terminated string of `arr`.
                .map(|&p| unsafe { CStr::from_ptr(p) }.to_bytes())
                .collect();
            assert_eq!(got, [&b"one"[..], b"\xfftwo"]);
        }
    }

    #[test]
    fn env_array_checks_keys_and_values() {
        let e = env_array([(&b"A"[..], &b"1=2"[..]), (b"B", b"")]).unwrap();
        let v: Vec<&[u8]> = e.iter().map(CStr::to_bytes).collect();
        assert_eq!(v, [&b"A=1=2"[..], b"B="]);
        assert_eq!(
            env_array([(&b""[..], &b"x"[..])]).unwrap_err(),
            EnvError::KeyEmpty
        );
        assert_eq!(
            env_array([(&b"A=B"[..], &b"x"[..])]).unwrap_err(),
            EnvError::KeyHasEquals
        );
        assert_eq!(
            env_array([(&b"A\0"[..], &b"x"[..])]).unwrap_err(),
            EnvError::InteriorNul
        );
        assert_eq!(
            env_array([(&b"A"[..], &b"\0"[..])]).unwrap_err(),
            EnvError::InteriorNul
        );
    }
}
