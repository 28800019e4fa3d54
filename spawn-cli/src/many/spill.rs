//! `--group` past the memory bound: a held job's output spills to an
//! unlinked temporary file ([`SpillFile`]) and still comes out whole when
//! the job ends, as GNU parallel's does. So that a job with endless output
//! (`yes | head -1`) still meets a closed stdout, ONE job at a time may
//! stream instead ([`Stage`]): the others, and the printer, wait for it to
//! end, so no two jobs' output ever mix.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// An unlinked temporary file that a job's held output is appended to.
pub(crate) struct SpillFile {
    file: File,
    len: u64,
}

/// Bytes read back from a [`SpillFile`] at a time.
const CHUNK: usize = 1 << 20;

impl SpillFile {
    /// A new file in the temporary directory (`$TMPDIR`), unlinked at once:
    /// it goes away with its descriptor, whatever happens to us.
    ///
    /// # Errors
    /// It cannot be created.
    pub(crate) fn new() -> io::Result<SpillFile> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir();
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("spawn-many-{}-{n}", std::process::id()));
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path);
            match opened {
                Ok(file) => {
                    std::fs::remove_file(&path)?;
                    return Ok(SpillFile { file, len: 0 });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Appends `data`.
    ///
    /// # Errors
    /// The write failed (a full disk).
    pub(crate) fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Gives what was appended to `f`, a chunk at a time, from the start.
    ///
    /// # Errors
    /// A read failed.
    pub(crate) fn read_back(&self, mut f: impl FnMut(&[u8])) -> io::Result<()> {
        let mut buf = vec![0; CHUNK];
        let mut at = 0;
        while at < self.len {
            let want = usize::try_from(self.len - at).map_or(CHUNK, |n| n.min(CHUNK));
            let n = self.file.read_at(&mut buf[..want], at)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            f(&buf[..n]);
            at += n as u64;
        }
        Ok(())
    }
}

/// Who prints now, when it is not the printer of finished jobs alone: the
/// one job streaming its output past the bound, or the printer while it
/// prints a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Job number N streams.
    Job(u64),
    /// The printer prints a finished job.
    Printer,
}

/// Who owns our output (see the module docs).
#[derive(Default)]
pub(crate) struct Stage {
    owner: Mutex<Option<Owner>>,
}

impl Stage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Owner>> {
        self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the output for `who`, if no one else has it.
    pub(crate) fn claim(&self, who: Owner) -> bool {
        let mut o = self.lock();
        match *o {
            None => {
                *o = Some(who);
                true
            }
            Some(other) => other == who,
        }
    }

    /// Whom it is with.
    pub(crate) fn owner(&self) -> Option<Owner> {
        *self.lock()
    }

    /// `who` gives it back.
    pub(crate) fn release(&self, who: Owner) {
        let mut o = self.lock();
        if *o == Some(who) {
            *o = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_file_gives_back_what_it_got() {
        let mut f = SpillFile::new().expect("temp file");
        let big = vec![b'x'; CHUNK + 10];
        f.append(b"ab").expect("append");
        f.append(&big).expect("append");
        let mut back = Vec::new();
        f.read_back(|c| back.extend_from_slice(c)).expect("read");
        assert_eq!(back.len(), CHUNK + 12);
        assert_eq!(&back[..3], b"abx");
    }

    #[test]
    fn one_owner_at_a_time() {
        let s = Stage::default();
        assert!(s.claim(Owner::Job(3)));
        assert!(s.claim(Owner::Job(3)));
        assert!(!s.claim(Owner::Printer));
        s.release(Owner::Job(3));
        assert!(s.claim(Owner::Printer));
        assert_eq!(s.owner(), Some(Owner::Printer));
    }
}
