//! The manifest's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing the manifest and CURRENT.
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

    /// Bytes on disk are not what was written: a bad checksum, an edit that does not
    /// decode, or edits that contradict each other.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage (of the record holding it, for a bad edit).
        offset: u64,
        /// What was found.
        reason: String,
    },

    /// CURRENT or the manifest was written by a newer format version.
    #[error("{} has manifest format version {found}; this build reads versions up to {supported}", file.display())]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// Reading the manifest's log framing failed.
    #[error(transparent)]
    Log(#[from] ferris_wal::Error),
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

    /// True when the bytes on disk are damaged (here or in the log framing below).
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption { .. } => true,
            Error::Log(e) => e.is_corruption(),
            _ => false,
        }
    }
}

/// The manifest's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
