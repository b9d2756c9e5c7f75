//! The table error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong writing or reading a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed.
    #[error("i/o error on {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The file's bytes are not what the writer wrote.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged region (the start of the block, or of the footer).
        offset: u64,
        /// What was found.
        reason: String,
    },

    /// The table was written by a newer format version.
    #[error("{} has table format version {found}; this build reads versions up to {supported}", file.display())]
    UnsupportedVersion {
        /// The table file.
        file: PathBuf,
        /// The version in its footer.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// Entries were added out of internal-key order, or a key was not a valid internal key.
    #[error("entry out of order: {0}")]
    OutOfOrder(String),
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

/// The table result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
