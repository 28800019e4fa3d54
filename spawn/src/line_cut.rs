//! [`Cut`]: lines cut out of a stream's collecting buffer as it grows, the
//! one way both [`Child::lines`](crate::Child::lines) and
//! [`Command::run_lines`](crate::Command::run_lines) find their lines. The
//! lines stay in the buffer until [`Cut::compact`] drops those handed out,
//! so nothing is copied per line, and what was not handed out stays for
//! whoever takes the buffer next.

use crate::MAX_LINE;

/// Where the cutting of one buffer stands: bytes at its front already
/// handed out, and bytes after them searched for `\n` in vain.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cut {
    used: usize,
    searched: usize,
}

impl Cut {
    /// The next line of `buf` not handed out yet, without its `\n`; a line
    /// longer than [`MAX_LINE`] comes in pieces. `open`: more may still be
    /// read into `buf`, so a last line without `\n` waits for it (else it
    /// is handed out as it is).
    pub(crate) fn next<'b>(&mut self, buf: &'b [u8], open: bool) -> Option<&'b [u8]> {
        let rest = buf.get(self.used..)?;
        // A line of exactly MAX_LINE bytes and its `\n` is one line.
        let window = rest.len().min(MAX_LINE + 1);
        let from = self.searched.min(window);
        let found = rest[from..window]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| p + from);
        let (line, step) = match found {
            Some(nl) => (&rest[..nl], nl + 1),
            None if rest.len() > MAX_LINE => (&rest[..MAX_LINE], MAX_LINE),
            None if !open && !rest.is_empty() => (rest, rest.len()),
            None => {
                self.searched = window;
                return None;
            }
        };
        self.used += step;
        self.searched = 0;
        Some(line)
    }

    /// Drops the lines handed out from the front of `buf` (when there is
    /// one), giving a bounded sink its room back.
    pub(crate) fn compact(&mut self, buf: Option<&mut Vec<u8>>) {
        if self.used > 0
            && let Some(buf) = buf
        {
            buf.drain(..self.used.min(buf.len()));
        }
        self.used = 0;
    }
}
