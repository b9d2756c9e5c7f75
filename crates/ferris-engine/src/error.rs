//! The engine's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in a [`Db`](crate::Db).
///
/// Damage on disk is always told apart from a failing disk: [`Error::is_corruption`] looks
/// through the wrapped component errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed on `path`.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Bytes on disk are not what was written, found by the engine itself (a WAL record
    /// that is not a write batch, a table whose contents disagree with the manifest).
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What was found.
        reason: String,
    },

    /// The write-ahead log failed, or is damaged.
    #[error("write-ahead log: {0}")]
    Wal(#[from] ferris_wal::Error),

    /// A table file failed to read, or is damaged.
    #[error("table: {0}")]
    Table(#[from] ferris_sstable::Error),

    /// The manifest or CURRENT failed to read or write, or is damaged. (No `From`: the
    /// manifest's error is `ferris_core::Error`, as the table's is, so call sites say
    /// which of the two it came from.)
    #[error("manifest: {0}")]
    Manifest(#[source] ferris_manifest::Error),

    /// A key or value breaks a limit: empty, or longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) / [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN).
    #[error(transparent)]
    Limit(#[from] ferris_core::LimitError),

    /// Another `Db` (in this process or another) has the database open.
    #[error("{} is locked: another process (or another Db in this one) has the database open", path.display())]
    Locked {
        /// The LOCK file.
        path: PathBuf,
    },

    /// The database directory cannot be written: the file system is mounted read-only,
    /// or this process lacks write permission there. FerrisDB always writes when it
    /// opens a database (its lock file, a new WAL segment and a new manifest), so it
    /// cannot open one it may only read; copy the directory somewhere writable to look
    /// inside it.
    #[error("{} is not writable (FerrisDB writes its LOCK, log and manifest there on open)", path.display())]
    ReadOnly {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The underlying error (`ReadOnlyFilesystem` or `PermissionDenied`).
        #[source]
        source: io::Error,
    },

    /// The directory holds something that is not a FerrisDB database.
    #[error("{} is not a FerrisDB database: {reason}", path.display())]
    NotADatabase {
        /// The directory.
        path: PathBuf,
        /// What was found.
        reason: String,
    },

    /// An earlier write, flush or manifest update failed, so the database refuses writes
    /// until it is reopened: whether that write reached the disk is unknown, and only
    /// recovery can tell.
    #[error("the database is poisoned by an earlier failure ({reason}); reopen it")]
    Poisoned {
        /// The failure.
        reason: String,
    },

    /// The database was closed.
    #[error("the database is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// [`Error::ReadOnly`] when the file system refused a write for want of permission
    /// or a writable mount, otherwise [`Error::Io`]. Only the first writes of an open go
    /// through it: once the lock is held, a refusal is an I/O failure like any other.
    pub(crate) fn io_on_open(path: impl Into<PathBuf>, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
                Error::ReadOnly {
                    path: path.into(),
                    source,
                }
            }
            _ => Error::io(path, source),
        }
    }

    /// True when bytes on disk are damaged, whichever component found it.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. } => true,
            Error::Wal(e) => e.is_corruption(),
            Error::Table(e) => e.is_corruption(),
            Error::Manifest(e) => e.is_corruption(),
            _ => false,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
