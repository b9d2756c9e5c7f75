//! # ferris-engine: the database
//!
//! (Tutorial chapter in progress.)

#![forbid(unsafe_code)]

mod db;
mod error;
mod flush;
mod iter;
mod options;
mod recovery;
mod version;
mod write;

pub use bytes::Bytes;
pub use db::{Db, LevelStats, Snapshot, Stats};
pub use error::{Error, Result};
pub use ferris_core::{LimitError, MAX_KEY_LEN, MAX_VALUE_LEN, WriteBatch};
pub use ferris_sstable::Compression;
pub use ferris_wal::RecoveryMode;
pub use iter::DbIter;
pub use options::Options;
