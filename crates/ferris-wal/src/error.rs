//! The WAL's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the WAL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed. `path` is the file or directory the operation was on.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Bytes on disk are not what the writer wrote: a checksum mismatch, an impossible
    /// length, damage followed by intact records, or a missing segment.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage within the file.
        offset: u64,
        /// What was found.
        reason: String,
    },

    /// A segment was written by a newer format version than this build reads.
    #[error("{} has WAL format version {found}; this build reads versions up to {supported}", file.display())]
    UnsupportedVersion {
        /// The segment file.
        file: PathBuf,
        /// The version in its header.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// A record is larger than [`MAX_RECORD_LEN`](crate::MAX_RECORD_LEN).
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// The record's length.
        len: u64,
        /// The maximum.
        max: u64,
    },

    /// An earlier write or sync failed, so the WAL refuses further writes until it is
    /// reopened. After a failed fsync the operating system may have dropped the dirty pages
    /// *and* cleared the error, so no later write could be trusted to be durable.
    #[error("the WAL is poisoned by an earlier failure ({reason}); reopen to recover")]
    Poisoned {
        /// The failure that poisoned the WAL.
        reason: String,
    },

    /// The WAL was closed.
    #[error("the WAL is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }

    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}

/// The WAL's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
