//! Opening the sinks of one run: a fresh state per stream, and the files of
//! `file` sinks opened so that they behave as a shell's redirections do.
//!
//! - The same file named for stdout and stderr (the same path, or another
//!   path to the same inode) is opened once and shared, one open file
//!   description for both, like `>p 2>&1`: truncated once, one offset, so
//!   neither stream overwrites the other.
//! - A FIFO is opened without blocking: with no reader, `open(2)` would wait
//!   for one forever (past any timeout); here it fails at once (`ENXIO`) and
//!   the run fails with an error that says so.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Sink, SinkKind, SinkState};
use crate::Error;
use crate::error::StreamName;

/// The sink states of one run, one per output stream that has a sink.
pub(crate) struct PerRun {
    /// The stdout sink's state.
    pub(crate) stdout: Option<SinkState>,
    /// The stderr sink's state.
    pub(crate) stderr: Option<SinkState>,
}

/// A `file` sink that could not be opened.
#[derive(Debug)]
pub(crate) struct SinkOpenError {
    /// The stream whose sink it is.
    pub(crate) stream: StreamName,
    /// The path as given.
    pub(crate) path: PathBuf,
    /// Why.
    pub(crate) source: io::Error,
}

impl SinkOpenError {
    /// The run's error, naming `program`.
    pub(crate) fn into_error(self, program: &str) -> Error {
        if matches!(
            self.source.raw_os_error(),
            Some(libc::EMFILE | libc::ENFILE)
        ) {
            return Error::TooManyOpenFiles {
                program: program.to_owned(),
            };
        }
        Error::SinkFile {
            program: program.to_owned(),
            stream: self.stream,
            path: self.path,
            source: self.source,
        }
    }
}

/// Opens the sinks of one run together: a `file` sink of stderr that names
/// a file stdout's sink already opened (same path, or same device and
/// inode) writes through the same open file description, as `>p 2>&1`
/// does. The file is opened once, the way the first of them asks
/// (truncating for [`Sink::file`], appending for [`Sink::append_file`]).
pub(crate) fn open_pair(
    stdout: Option<&Sink>,
    stderr: Option<&Sink>,
) -> Result<PerRun, SinkOpenError> {
    let mut opened = Vec::new();
    let stdout = stdout
        .map(|s| SinkState::open_with(s, StreamName::Stdout, &mut opened))
        .transpose()?;
    let stderr = stderr
        .map(|s| SinkState::open_with(s, StreamName::Stderr, &mut opened))
        .transpose()?;
    Ok(PerRun { stdout, stderr })
}

/// A file a sink of this run opened: its path as given and its inode.
struct Opened {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// The open file description, shared by every sink of the run that
    /// names the file.
    file: Arc<File>,
    /// Not a regular file (see `open_shared`).
    can_fill: bool,
}

impl SinkState {
    /// Instantiates `sink` for one run of one stream, with nothing shared
    /// (see [`open_pair`] for the two streams of one run).
    #[cfg(test)]
    pub(crate) fn open(sink: &Sink, stream: StreamName) -> Result<SinkState, SinkOpenError> {
        SinkState::open_with(sink, stream, &mut Vec::new())
    }

    fn open_with(
        sink: &Sink,
        stream: StreamName,
        opened: &mut Vec<Opened>,
    ) -> Result<SinkState, SinkOpenError> {
        Ok(match &sink.0 {
            SinkKind::Collect { limit, error } => SinkState::Collect {
                buf: Vec::new(),
                limit: *limit,
                error: *error,
                dropped: 0,
            },
            SinkKind::HeadTail { head, tail } => SinkState::HeadTail {
                head: Vec::new(),
                head_max: *head,
                tail: std::collections::VecDeque::new(),
                tail_max: *tail,
                dropped: 0,
            },
            SinkKind::Lines(f) => SinkState::Lines {
                partial: Vec::new(),
                f: Arc::clone(f),
            },
            SinkKind::Writer(w) => SinkState::Writer {
                w: Arc::clone(w),
                failed: false,
            },
            SinkKind::File { path, append } => {
                let (file, can_fill) =
                    open_shared(path, *append, opened).map_err(|source| SinkOpenError {
                        stream,
                        path: path.clone(),
                        source,
                    })?;
                SinkState::File(super::FileSink::new(file, can_fill))
            }
            SinkKind::Discard => SinkState::Discard,
            SinkKind::Tee(a, b) => SinkState::Tee(
                Box::new(SinkState::open_with(a, stream, opened)?),
                Box::new(SinkState::open_with(b, stream, opened)?),
            ),
            SinkKind::Log(log) => SinkState::Log {
                log: log.clone(),
                stream,
            },
        })
    }
}

/// The file at `path`: the one already opened for this run if it is the
/// same (path or inode), else opened now; and whether it can be full (not
/// a regular file: a FIFO, a pipe, a socket, a device), then written
/// without blocking.
fn open_shared(
    path: &Path,
    append: bool,
    opened: &mut Vec<Opened>,
) -> io::Result<(Arc<File>, bool)> {
    if let Some(o) = opened.iter().find(|o| o.path == path) {
        return Ok((Arc::clone(&o.file), o.can_fill));
    }
    if !opened.is_empty()
        && let Ok(meta) = std::fs::metadata(path)
        && let Some(o) = opened
            .iter()
            .find(|o| (o.dev, o.ino) == (meta.dev(), meta.ino()))
    {
        return Ok((Arc::clone(&o.file), o.can_fill));
    }
    let file = open_file(path, append)?;
    let meta = file.metadata()?;
    let can_fill = !meta.is_file();
    if !can_fill {
        // A regular file is never full: the copying path writes it as a
        // blocking file, as before.
        spawn_sys::pipe::set_nonblocking(file.as_fd(), false).map_err(io::Error::from)?;
    }
    let file = Arc::new(file);
    opened.push(Opened {
        path: path.to_owned(),
        dev: meta.dev(),
        ino: meta.ino(),
        file: Arc::clone(&file),
        can_fill,
    });
    Ok((file, can_fill))
}

/// Opens `path` for writing (created; truncated unless `append`) without
/// waiting for a FIFO's reader; the file stays nonblocking (see
/// `open_shared`).
fn open_file(path: &Path, append: bool) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ENXIO) {
                io::Error::other(
                    "no reader on this FIFO (open it for reading before the run starts)",
                )
            } else {
                e
            }
        })
}
