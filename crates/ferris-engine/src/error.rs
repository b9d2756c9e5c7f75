//! The engine's error type, on the vocabulary every component shares.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

pub use ferris_core::{Corruption, IoError, UnsupportedVersion};

/// Everything that can go wrong in a [`Db`](crate::Db).
///
/// Damage on disk ([`Error::Corruption`]) is always told apart from a failing disk
/// ([`Error::Io`]), whichever component found it: the WAL, a table, the manifest or the
/// engine itself report them with the same types.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed.
    #[error(transparent)]
    Io(#[from] IoError),

    /// Bytes on disk are not what was written: the file, the offset and what was found.
    #[error(transparent)]
    Corruption(#[from] Corruption),

    /// A file was written by a newer format version than this build reads.
    #[error(transparent)]
    UnsupportedVersion(#[from] UnsupportedVersion),

    /// A key, value or batch breaks a limit: an empty key, or longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN) / [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN), or a
    /// batch over [`MAX_BATCH_LEN`](crate::MAX_BATCH_LEN).
    #[error(transparent)]
    Limit(#[from] ferris_core::LimitError),

    /// A transaction may not commit: it conflicts with one that committed after its read
    /// version, its read version is older than the resolver remembers, or it is too large.
    /// It wrote nothing. [`Error::is_retryable`] tells whether retrying can succeed;
    /// [`Db::run`](crate::Db::run) retries those.
    #[error(transparent)]
    Transaction(#[from] ferris_txn::TxnError),

    /// A component was used against its contract (a bug in a component plugged in through
    /// [`Options`](crate::Options), reported instead of a panic).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// Another `Db` (in this process or another) has the database open.
    #[error("{} is locked: another process (or another Db in this one) has the database open", path.display())]
    Locked {
        /// The LOCK file.
        path: PathBuf,
    },

    /// The database directory cannot be written: the file system is mounted read-only,
    /// or this process lacks write permission there. [`Db::open`](crate::Db::open) always
    /// writes (its lock file, a new WAL segment and a new manifest), so it cannot open one
    /// it may only read; [`Db::open_read_only`](crate::Db::open_read_only) can.
    #[error("{} is not writable (FerrisDB writes its LOCK, log and manifest there on open; open it read-only to read it)", path.display())]
    ReadOnly {
        /// The file or directory that could not be written.
        path: PathBuf,
        /// The underlying error (`ReadOnlyFilesystem` or `PermissionDenied`).
        #[source]
        source: Arc<io::Error>,
    },

    /// A write (a put, delete, batch, flush, compaction, WAL sync, or creating or dropping
    /// a keyspace) on a database opened with
    /// [`Db::open_read_only`](crate::Db::open_read_only): it writes nothing, and reads
    /// the database as it was when it opened. Nothing was changed.
    #[error("the database was opened read-only: it takes no writes")]
    OpenedReadOnly,

    /// [`Db::open_read_only`](crate::Db::open_read_only) found the database changing under
    /// it on every attempt: a writer beside it flushed, compacted or switched manifests
    /// between the reads of one attempt, so the files read did not fit together (a table
    /// or WAL segment the manifest named was gone). Nothing inconsistent was served;
    /// opening again usually succeeds. The last attempt's failure is the
    /// [`source`](std::error::Error::source).
    #[error("{} kept changing while it was opened read-only ({attempts} attempts); try again", path.display())]
    ConcurrentChange {
        /// The database directory.
        path: PathBuf,
        /// The attempts made.
        attempts: usize,
        /// Why the last attempt failed.
        #[source]
        source: Arc<Error>,
    },

    /// The directory holds something that is not a FerrisDB database.
    #[error("{} is not a FerrisDB database: {reason}", path.display())]
    NotADatabase {
        /// The directory.
        path: PathBuf,
        /// What was found.
        reason: String,
    },

    /// An earlier write, flush, compaction or manifest update failed, so the database
    /// refuses writes until it is reopened: whether that write reached the disk is
    /// unknown, and only recovery can tell. The failure is the [`source`](std::error::Error::source).
    #[error("the database is poisoned by an earlier failure; reopen it")]
    Poisoned {
        /// The failure that poisoned the database.
        #[source]
        source: Arc<Error>,
    },

    /// A checkpoint cannot be written into this directory.
    #[error("cannot write a checkpoint into {}: {reason}", path.display())]
    CheckpointTarget {
        /// The target directory.
        path: PathBuf,
        /// Why not: it is not empty, or it lies inside the database.
        reason: String,
    },
    /// The database was closed.
    #[error("the database is closed")]
    Closed,

    /// A keyspace name is empty, longer than 255 bytes, or holds a control character.
    #[error("invalid keyspace name {name:?}: {reason}")]
    InvalidKeyspaceName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A keyspace was opened with options that contradict the ones it has: another
    /// compaction strategy or table format than it was created with (recorded in the
    /// manifest), or, for a keyspace already open in this process, any other options.
    #[error("keyspace {name:?} cannot be opened with these options: {reason}")]
    KeyspaceOptions {
        /// The keyspace.
        name: String,
        /// What differs.
        reason: String,
    },

    /// The keyspace was dropped: its handle (and every clone) no longer reads or writes.
    #[error("keyspace {name:?} was dropped")]
    KeyspaceDropped {
        /// The keyspace.
        name: String,
    },

    /// A write batch names a keyspace id this database has no live keyspace for: one
    /// dropped, or an id from another database's handle.
    #[error("no live keyspace has id {id} in this database")]
    NoSuchKeyspace {
        /// The id the batch named.
        id: ferris_core::KeyspaceId,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io(IoError::new(path, source))
    }

    /// Whether the operation may succeed if tried again from the start, with nothing else
    /// changed: a transaction's [`Conflict`](ferris_txn::TxnError::Conflict) or
    /// [`TooOld`](ferris_txn::TxnError::TooOld), which a new read version clears.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Transaction(e) if e.is_retryable())
    }

    /// [`Error::ReadOnly`] when the file system refused a write for want of permission
    /// or a writable mount, otherwise [`Error::Io`]. Only the first writes of an open go
    /// through it: once the lock is held, a refusal is an I/O failure like any other.
    pub(crate) fn io_on_open(path: impl Into<PathBuf>, source: io::Error) -> Error {
        match source.kind() {
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
                Error::ReadOnly {
                    path: path.into(),
                    source: Arc::new(source),
                }
            }
            _ => Error::io(path, source),
        }
    }

    /// True when bytes on disk are damaged, whichever component found it.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption(_))
    }

    /// The damage this error reports (for [`Error::Poisoned`], the damage that poisoned
    /// the database), if it is damage: what `Db::open` failing on a damaged file and
    /// [`Db::verify`](crate::Db::verify) report alike.
    ///
    /// ```
    /// use ferris_engine::{Corruption, Error};
    ///
    /// let e = Error::Corruption(Corruption::new("/db/000007.sst", 4096, "block checksum mismatch"));
    /// let damage = e.corruption().expect("damage");
    /// assert_eq!((damage.offset, damage.reason.as_str()), (4096, "block checksum mismatch"));
    /// assert!(Error::Closed.corruption().is_none());
    /// ```
    pub fn corruption(&self) -> Option<&Corruption> {
        match self.root() {
            Error::Corruption(c) => Some(c),
            _ => None,
        }
    }

    /// The failure behind the error: itself, or for [`Error::Poisoned`] the failure that
    /// poisoned the database.
    pub fn root(&self) -> &Error {
        match self {
            Error::Poisoned { source } => source.root(),
            other => other,
        }
    }
}

impl From<ferris_core::Error> for Error {
    fn from(e: ferris_core::Error) -> Error {
        match e {
            ferris_core::Error::Io(e) => Error::Io(e),
            ferris_core::Error::Corruption(c) => Error::Corruption(c),
            ferris_core::Error::UnsupportedVersion(v) => Error::UnsupportedVersion(v),
            ferris_core::Error::InvalidInput(reason) => Error::InvalidInput(reason),
            other => Error::InvalidInput(other.to_string()),
        }
    }
}

impl From<ferris_wal::Error> for Error {
    fn from(e: ferris_wal::Error) -> Error {
        use ferris_wal::Error as W;
        match e {
            W::Io(e) => Error::Io(e),
            W::Corruption(c) => Error::Corruption(c),
            W::UnsupportedVersion(v) => Error::UnsupportedVersion(v),
            W::Other(e) => e.into(),
            W::Closed => Error::Closed,
            // The engine refuses writes before its WAL could refuse them, so a WAL that is
            // poisoned speaks of the failure the engine has already met.
            W::Poisoned { cause } => Error::Poisoned {
                source: Arc::new(Error::from((*cause).clone())),
            },
            other => Error::InvalidInput(other.to_string()),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
