//! The WAL's error type.
//!
//! Damage, a failing disk and a segment from a newer format are the shared vocabulary of
//! `ferris-core` ([`Corruption`], [`IoError`], [`UnsupportedVersion`]), held here as they
//! are, so a corrupt segment is the same `Corruption` whether the WAL or the framing below
//! it found it. The WAL adds the states of its own: a record too large, a writer poisoned
//! by an earlier failure, a writer closed.

use std::path::PathBuf;
use std::sync::Arc;

use ferris_core::{Corruption, IoError, UnsupportedVersion};

/// Everything that can go wrong in the WAL.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed, on the file or directory the error names.
    #[error(transparent)]
    Io(#[from] IoError),

    /// Bytes on disk are not what the writer wrote: a checksum mismatch, an impossible
    /// length, damage followed by intact records, or a missing segment.
    #[error(transparent)]
    Corruption(#[from] Corruption),

    /// A segment was written by a newer format version than this build reads: its framing
    /// (format `"log"`), or its records (format `"WAL record"`,
    /// [`RECORD_FORMAT`](crate::format::RECORD_FORMAT)).
    #[error(transparent)]
    UnsupportedVersion(#[from] UnsupportedVersion),

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
    /// *and* cleared the error, so no later write could be trusted to be durable. The
    /// failure that poisoned the WAL is this error's `source()`.
    #[error("the WAL is poisoned by an earlier failure; reopen to recover")]
    Poisoned {
        /// The failure that poisoned the WAL, shared by every refusal that follows it.
        #[source]
        cause: Arc<Error>,
    },

    /// The WAL was closed.
    #[error("the WAL is closed")]
    Closed,

    /// Any other error of the shared vocabulary. The framing below the WAL fails only with
    /// I/O, corruption or version errors, which [`From<ferris_core::Error>`] turns into the
    /// variants above; this variant keeps that conversion whole for the rest
    /// ([`ferris_core::Error::InvalidInput`], and whatever `ferris-core` adds).
    #[error(transparent)]
    Other(ferris_core::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io(IoError::new(path, source))
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corruption(Corruption::new(file, offset, reason))
    }

    /// True when bytes on disk are damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            Error::Corruption(_) => true,
            Error::Other(e) => e.is_corruption(),
            _ => false,
        }
    }
}

impl From<ferris_core::Error> for Error {
    fn from(e: ferris_core::Error) -> Error {
        match e {
            ferris_core::Error::Io(e) => Error::Io(e),
            ferris_core::Error::Corruption(c) => Error::Corruption(c),
            ferris_core::Error::UnsupportedVersion(v) => Error::UnsupportedVersion(v),
            other => Error::Other(other),
        }
    }
}

/// The WAL's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use super::*;

    #[test]
    fn core_errors_land_in_the_variants_of_the_same_name() {
        let io = Error::from(ferris_core::Error::io(
            "/wal/000001.wal",
            io::Error::from(io::ErrorKind::StorageFull),
        ));
        assert!(matches!(&io, Error::Io(e) if e.kind() == io::ErrorKind::StorageFull));
        let damage = Error::from(ferris_core::Error::corruption("/wal/000001.wal", 7, "bad"));
        assert!(damage.is_corruption());
        assert_eq!(
            damage.to_string(),
            "corruption in /wal/000001.wal at offset 7: bad"
        );
        let other = Error::from(ferris_core::Error::InvalidInput("no".into()));
        assert!(matches!(other, Error::Other(_)) && !other.is_corruption());
    }

    #[test]
    fn a_poisoned_wal_names_its_cause_as_the_source() {
        let cause = Error::io(
            "/wal/000003.wal",
            io::Error::from(io::ErrorKind::StorageFull),
        );
        let poisoned = Error::Poisoned {
            cause: Arc::new(cause),
        };
        let source = poisoned.source().expect("the cause");
        assert_eq!(source.to_string(), "i/o error on /wal/000003.wal");
        // And the chain goes on down to the operating system's error.
        let os = source.source().expect("the operating system's error");
        assert_eq!(
            os.to_string(),
            io::Error::from(io::ErrorKind::StorageFull).to_string()
        );
    }
}
