//! The error vocabulary every component shares.
//!
//! A storage engine's callers ask two questions of any failure: *is my data damaged?* and
//! *is my disk failing?* A corrupt block found by the table reader, a bad checksum found
//! by the WAL and a broken edit found by the manifest are the same answer to the first
//! question, and every component should say it the same way, so that the engine above
//! them (and a tool like `ferris verify`) can report damage without knowing which
//! component found it. So the three findings every component can make live here, once:
//!
//! - [`Corruption`]: bytes on disk are not what was written (the file, the offset, what
//!   was found);
//! - [`IoError`]: the operating system refused (the path, and its `std::io::Error`);
//! - [`UnsupportedVersion`]: a file written by a newer format than this build reads.
//!
//! [`Error`] gathers them, with [`Error::InvalidInput`] for a caller that broke a
//! component's contract (table entries out of order, say). Components whose failures are
//! only these return [`Error`] itself; one with states of its own (the WAL can be
//! poisoned, or closed) has an enum of its own whose variants hold these same types, so a
//! `Corruption` is a `Corruption` wherever it surfaces.
//!
//! Every type here is `Clone`: the `std::io::Error` inside an [`IoError`] is shared behind
//! an `Arc`. A database that refuses writes after a failure keeps the original error and
//! hands it, as the `source()` of each refusal, to everyone who asks.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes on disk are not what was written: a checksum that does not match, a length that
/// runs past the end, a record that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corruption in {} at offset {offset}: {reason}", file.display())]
pub struct Corruption {
    /// The damaged file.
    pub file: PathBuf,
    /// Byte offset of the damage within the file: the start of the block or record holding
    /// it, or 0 for a whole-file problem.
    pub offset: u64,
    /// What was found, in a few lowercase words.
    pub reason: String,
}

impl Corruption {
    /// Damage in `file` at `offset`.
    pub fn new(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Corruption {
        Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// The operating system failed an operation on a file or directory.
#[derive(Debug, Clone, thiserror::Error)]
#[error("i/o error on {}", path.display())]
pub struct IoError {
    /// The file or directory the operation was on.
    pub path: PathBuf,
    /// What the operating system said, shared so the error can be cloned.
    #[source]
    pub source: Arc<io::Error>,
}

impl IoError {
    /// An I/O failure on `path`.
    pub fn new(path: impl Into<PathBuf>, source: io::Error) -> IoError {
        IoError {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// The kind of the operating system's error (`NotFound`, `StorageFull`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// A file was written by a newer version of its format than this build reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} has {format} format version {found}; this build reads versions up to {supported}",
    file.display()
)]
pub struct UnsupportedVersion {
    /// The file.
    pub file: PathBuf,
    /// Which format: `"table"`, `"WAL"`, `"manifest"`.
    pub format: &'static str,
    /// The version the file says it is.
    pub found: u32,
    /// The newest version this build reads.
    pub supported: u32,
}

/// What a storage component reports: damage, a failing disk, a file from the future, or
/// a broken contract.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file system failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Bytes on disk are damaged.
    #[error(transparent)]
    Corruption(#[from] Corruption),
    /// A file from a newer format version.
    #[error(transparent)]
    UnsupportedVersion(#[from] UnsupportedVersion),
    /// The caller broke the component's contract: entries added out of order, a record
    /// too large for the format. A bug in the caller, reported instead of panicking.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// An [`IoError`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io(IoError::new(path, source))
    }

    /// A [`Corruption`] in `file` at `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption(Corruption::new(file, offset, reason))
    }

    /// True when bytes on disk are damaged.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption(_))
    }

    /// The damage, when this is [`Error::Corruption`].
    pub fn as_corruption(&self) -> Option<&Corruption> {
        match self {
            Error::Corruption(c) => Some(c),
            _ => None,
        }
    }

    /// The operating system's failure, when this is [`Error::Io`].
    pub fn as_io(&self) -> Option<&IoError> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The result type of the shared vocabulary.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a `std::io::Result` into one that names the path: `fs.open(path).at(path)?`.
pub trait IoResultExt<T> {
    /// Attaches `path` to the error.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming `path`, when `self` is an error.
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn messages_name_the_file_and_chain_the_os_error() {
        let e = Error::corruption("/db/000007.sst", 4096, "block checksum mismatch");
        assert!(e.is_corruption());
        assert_eq!(
            e.to_string(),
            "corruption in /db/000007.sst at offset 4096: block checksum mismatch"
        );
        let io = Error::io("/db/LOCK", io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(io.to_string(), "i/o error on /db/LOCK");
        assert_eq!(io.as_io().unwrap().kind(), io::ErrorKind::StorageFull);
        // Transparent: the source of the enum is the source of the IoError, the OS error.
        let source = io.source().expect("the operating system's error");
        assert_eq!(
            source.to_string(),
            io::Error::from(io::ErrorKind::StorageFull).to_string()
        );
        let clone = io.clone();
        assert_eq!(clone.to_string(), io.to_string());
        let v = Error::from(UnsupportedVersion {
            file: "/db/000001.wal".into(),
            format: "WAL",
            found: 9,
            supported: 1,
        });
        assert_eq!(
            v.to_string(),
            "/db/000001.wal has WAL format version 9; this build reads versions up to 1"
        );
    }
}
