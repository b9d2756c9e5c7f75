//! Replaying the WAL's write batches into memtables: what recovery does with the records
//! [`WalRecovery`] reads back.
//!
//! Every record is one `WriteBatch`. A batch may write to several keyspaces, each with its
//! own memtable and its own **log number**: the first segment whose writes to that
//! keyspace are not all in its tables yet. Replay applies a batch's entries for each
//! keyspace to that keyspace's memtable, unless the record's segment is older than the
//! keyspace's log number (those writes were flushed already, and applying them again would
//! be harmless but wasted). A keyspace dropped since the batch was written is skipped: its
//! writes stay behind in the WAL until the segment is retired. A keyspace that never
//! existed means the record is not what the engine wrote, and replay stops with
//! [`Error::Corruption`]. The caller decides which is which ([`Route`]), since the keyspaces
//! and their log numbers are the manifest's, not the WAL's.

use std::collections::BTreeMap;

use std::path::Path;

use ferris_core::{Corruption, KeyspaceId, Memtable, SeqNo, WriteBatch};

use crate::error::{Error, Result};
use crate::format::segment_path;
use crate::recovery::WalRecovery;

/// Where one keyspace's entries of a replayed batch go.
#[derive(Debug)]
pub enum Route<'a> {
    /// Into `memtable`, for records in segment `from_segment` or later.
    Apply {
        /// The keyspace's memtable.
        memtable: &'a dyn Memtable,
        /// The keyspace's log number: older segments' writes are in its tables.
        from_segment: u64,
    },
    /// Nowhere: the keyspace was dropped.
    Dropped,
    /// The keyspace never existed: the record is damage.
    Unknown,
}

/// What [`WalRecovery::replay_batches`] applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The largest sequence number of any batch read (applied or not); 0 for none.
    pub last_sequence: SeqNo,
    /// For each keyspace that had writes applied, the segment the first of them came from:
    /// how far back the writes only memory now holds go.
    pub first_segments: BTreeMap<KeyspaceId, u64>,
}

impl WalRecovery {
    /// Reads every remaining record as a write batch and applies each keyspace's entries
    /// where `route` says. Call [`WalRecovery::finish`] after, for the report.
    ///
    /// # Errors
    ///
    /// As [`WalRecovery::next_record`]; [`Error::Corruption`] for a record that is not a
    /// write batch or that names a keyspace `route` calls [`Route::Unknown`].
    pub fn replay_batches<'a>(
        &mut self,
        mut route: impl FnMut(KeyspaceId) -> Route<'a>,
    ) -> Result<Replayed> {
        let mut replayed = Replayed::default();
        while let Some(record) = self.next_record()? {
            let corrupt = |reason: String| {
                let file = segment_path(self.dir(), record.segment_id);
                Error::corruption(file, record.offset, reason)
            };
            let batch = WriteBatch::decode(&record.data).map_err(|e| corrupt(not_a_batch(e)))?;
            let single = batch.single_keyspace();
            for id in single.map_or_else(|| batch.keyspaces(), |id| vec![id]) {
                let (memtable, from_segment) = match route(id) {
                    Route::Apply {
                        memtable,
                        from_segment,
                    } => (memtable, from_segment),
                    Route::Dropped => continue,
                    Route::Unknown => {
                        return Err(corrupt(format!(
                            "a WAL record names keyspace {id}, never created"
                        )));
                    }
                };
                if record.segment_id < from_segment {
                    continue;
                }
                replayed
                    .first_segments
                    .entry(id)
                    .or_insert(record.segment_id);
                memtable.apply(match single {
                    Some(_) => batch.iter(),
                    None => batch.iter_in(id),
                });
            }
            if let Some(last) = batch.last_seq() {
                replayed.last_sequence = replayed.last_sequence.max(last);
            }
        }
        Ok(replayed)
    }
}

/// What a record that does not decode as a write batch is reported as.
fn not_a_batch(e: ferris_core::DecodeError) -> String {
    format!("a WAL record is not a write batch: {e}")
}

/// Why `record` is not a write batch, or `None` when it is one: what the checks of a
/// segment ([`check_segment`](crate::check_segment)) ask of each of the WAL's records.
pub fn batch_problem(record: &[u8]) -> Option<String> {
    WriteBatch::decode(record).err().map(not_a_batch)
}

/// Why segment `missing` is missing when `found` follows the one before it.
pub(crate) fn missing_reason(missing: u64, found: u64) -> String {
    format!("segment {missing} is missing (found segment {found} after it)")
}

/// The segments missing between the ascending ids `segments` in `dir`, as damage:
/// segments are created in sequence and deleted oldest first, so a gap is a segment lost,
/// with the writes it held.
pub fn missing_segments(dir: &Path, segments: &[u64]) -> Vec<Corruption> {
    (segments.windows(2))
        .filter(|pair| pair[1] != pair[0] + 1)
        .map(|pair| {
            let missing = pair[0] + 1;
            Corruption::new(
                segment_path(dir, missing),
                0,
                missing_reason(missing, pair[1]),
            )
        })
        .collect()
}
