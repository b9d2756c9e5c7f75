//! Compaction filters: a user's hook on what a compaction writes.

use std::fmt;

use bytes::Bytes;

/// What a [`CompactionFilter`] decides for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Write the entry as it is.
    Keep,
    /// Remove the key: the compaction writes a tombstone in the entry's place (so older
    /// versions in deeper levels stay hidden), and drops even that where tombstones go
    /// (at the bottom, with no snapshot that could see the key).
    Remove,
    /// Write this value instead.
    ChangeValue(Bytes),
}

/// A hook run on entries as a compaction writes them: to drop expired data, rewrite values
/// into a new encoding, or garbage-collect what the application knows is dead, without a
/// write per key.
///
/// # Which entries it sees
///
/// Only the newest version of each key, and only when no live snapshot can read that
/// version (it is newer than every snapshot): what a snapshot reads never changes under
/// it. Older versions that snapshots still read are written as they are, and tombstones
/// are never shown. A key the filter removes reads as deleted from then on, by readers
/// without a snapshot and snapshots taken later; one whose value it changes reads the new
/// value. Flushes do not run it, only compactions, so its effect shows once a compaction
/// reaches the data: the cost model of every compaction filter (RocksDB's and fjall's
/// too). `Db::compact_range` forces it over a range.
///
/// # Contract
///
/// `filter` must be a pure function of its arguments (the same entry may be filtered again
/// if a compaction is retried after a failure) and fast (it runs inside compactions, which
/// hold back writes when they fall behind). It may run on several compaction threads at
/// once. A panic is caught: the compaction fails with an error naming the filter, writes
/// nothing, and the database keeps every entry as it was.
pub trait CompactionFilter: Send + Sync + fmt::Debug {
    /// A name for logs and errors.
    fn name(&self) -> &str;

    /// The decision for `key`'s newest version, holding `value`, being written to
    /// `level`.
    fn filter(&self, level: usize, key: &[u8], value: &[u8]) -> Decision;
}
