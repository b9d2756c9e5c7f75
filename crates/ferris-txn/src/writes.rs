//! A transaction's buffered writes, and the conflict ranges of a batch.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use ferris_core::{BatchOp, KeyspaceId, LimitError, MAX_KEY_LEN, MAX_VALUE_LEN, WriteBatch};

use crate::{KeyRange, RANGE_OVERHEAD};

/// The writes a transaction has made and not yet committed: per keyspace, each key it
/// wrote and what it wrote last (a value, or `None` for a delete).
///
/// A transaction keeps its writes here until commit, so nothing of it is visible to anyone
/// else before then, and reads its own writes from here first ([`WriteSet::get`], and
/// [`WriteSet::range`] for [`Overlay`](crate::Overlay) over a scan). Writing a key twice
/// keeps the last write, as applying both in order would: the batch a commit builds
/// ([`WriteSet::to_batch`]) has one entry per key.
///
/// ```
/// use ferris_txn::WriteSet;
///
/// let mut writes = WriteSet::default();
/// writes.put(0, "a", "1")?;
/// writes.put(0, "a", "2")?;
/// writes.delete(0, "b")?;
/// assert_eq!(writes.get(0, b"a"), Some(Some(&"2".into())));
/// assert_eq!(writes.get(0, b"b"), Some(None)); // deleted here
/// assert_eq!(writes.get(0, b"c"), None); // not written: read the database
/// assert_eq!(writes.to_batch().len(), 2);
/// # Ok::<(), ferris_core::LimitError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteSet {
    keyspaces: BTreeMap<KeyspaceId, BTreeMap<Bytes, Option<Bytes>>>,
    len: usize,
    /// At least what the batch of these writes encodes to (every write counted, also the
    /// ones replaced since): the capacity `to_batch` reserves.
    bytes: usize,
}

impl WriteSet {
    /// Buffers a put of `value` at `key` in `keyspace`, replacing any earlier write of it.
    ///
    /// # Errors
    ///
    /// [`LimitError`] for an empty key, or a key or value over
    /// [`MAX_KEY_LEN`]/[`MAX_VALUE_LEN`]: refused now, not at commit.
    pub fn put(
        &mut self,
        keyspace: KeyspaceId,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), LimitError> {
        let value = value.into();
        if value.len() > MAX_VALUE_LEN {
            return Err(LimitError::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        self.write(keyspace, key.into(), Some(value))
    }

    /// Buffers a delete of `key` in `keyspace`, replacing any earlier write of it.
    ///
    /// # Errors
    ///
    /// [`LimitError`] for an empty key or one over [`MAX_KEY_LEN`].
    pub fn delete(
        &mut self,
        keyspace: KeyspaceId,
        key: impl Into<Bytes>,
    ) -> Result<(), LimitError> {
        self.write(keyspace, key.into(), None)
    }

    fn write(
        &mut self,
        keyspace: KeyspaceId,
        key: Bytes,
        value: Option<Bytes>,
    ) -> Result<(), LimitError> {
        if key.is_empty() {
            return Err(LimitError::EmptyKey);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(LimitError::KeyTooLarge {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        // A tag, a keyspace id and two lengths are at most 1 + 5 + 5 + 5 bytes.
        self.bytes += 16 + key.len() + value.as_ref().map_or(0, Bytes::len);
        let keys = self.keyspaces.entry(keyspace).or_default();
        if keys.insert(key, value).is_none() {
            self.len += 1;
        }
        Ok(())
    }

    /// What the transaction last wrote at `key` in `keyspace`: `Some(Some(value))` for a
    /// put, `Some(None)` for a delete, `None` if it has not written the key (read the
    /// database then).
    pub fn get(&self, keyspace: KeyspaceId, key: &[u8]) -> Option<Option<&Bytes>> {
        let written = self.keyspaces.get(&keyspace)?.get(key)?;
        Some(written.as_ref())
    }

    /// The writes in `keyspace` between `lo` and `hi`, in key order: what
    /// [`Overlay`](crate::Overlay) lays over a scan of the same bounds. A copy (of `Bytes`
    /// handles, not of the bytes), so the transaction may write on while the scan runs;
    /// the scan does not see those writes.
    pub fn range(
        &self,
        keyspace: KeyspaceId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let Some(keys) = self.keyspaces.get(&keyspace) else {
            return Vec::new();
        };
        if matches!((lo, hi), (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) if l > h)
        {
            return Vec::new(); // `BTreeMap::range` panics on a reversed range
        }
        let range = keys.range::<[u8], _>((lo, hi));
        range.map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// How many keys the transaction has written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the transaction has written nothing: its commit has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch that applies every buffered write: one put or delete per key written.
    pub fn to_batch(&self) -> WriteBatch {
        let mut batch = WriteBatch::with_capacity(self.bytes);
        for (&keyspace, keys) in &self.keyspaces {
            for (key, value) in keys {
                match value {
                    Some(value) => batch.put_in(keyspace, key, value),
                    None => batch.delete_in(keyspace, key),
                };
            }
        }
        batch
    }
}

/// The conflict ranges `batch` writes: the range of each key it puts or deletes, and each
/// range it deletes. What the resolver records for a commit (and what a transaction
/// under snapshot isolation checks).
pub fn batch_ranges(batch: &WriteBatch) -> Vec<KeyRange> {
    let mut ranges = Vec::with_capacity(batch.len());
    for entry in batch.iter() {
        let range = match entry.kind {
            BatchOp::Put | BatchOp::Delete => Some(KeyRange::key(entry.keyspace, entry.key)),
            // A range delete's value is the first key past it, empty for no end.
            BatchOp::DeleteRange => {
                let end = (!entry.value.is_empty()).then(|| Bytes::copy_from_slice(entry.value));
                KeyRange::new(entry.keyspace, Bytes::copy_from_slice(entry.key), end)
            }
        };
        ranges.extend(range);
    }
    ranges
}

/// What [`batch_ranges`] would weigh in [`KeyRange::charged_bytes`], without building
/// them: a key's range is the key, the key and a zero byte, and the overhead.
pub(crate) fn batch_charge(batch: &WriteBatch) -> usize {
    let charge = |e: ferris_core::BatchEntry<'_>| match e.kind {
        BatchOp::Put | BatchOp::Delete => 2 * e.key.len() + 1 + RANGE_OVERHEAD,
        BatchOp::DeleteRange => e.key.len() + e.value.len() + RANGE_OVERHEAD,
    };
    batch.iter().map(charge).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_written_twice_counts_once_and_keeps_the_last_write() {
        let mut w = WriteSet::default();
        w.put(1, "k", "a").unwrap();
        w.delete(1, "k").unwrap();
        w.put(2, "k", "b").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.get(1, b"k"), Some(None));
        let batch = w.to_batch();
        let kinds: Vec<_> = batch.iter().map(|e| (e.keyspace, e.kind)).collect();
        assert_eq!(kinds, [(1, BatchOp::Delete), (2, BatchOp::Put)]);
    }

    #[test]
    fn limits_are_refused_at_the_write() {
        let mut w = WriteSet::default();
        assert_eq!(w.put(0, "", "v"), Err(LimitError::EmptyKey));
        let long = vec![b'k'; MAX_KEY_LEN + 1];
        assert!(matches!(
            w.delete(0, long),
            Err(LimitError::KeyTooLarge { .. })
        ));
        assert!(w.is_empty());
    }

    #[test]
    fn a_reversed_range_is_empty() {
        let mut w = WriteSet::default();
        w.put(0, "b", "1").unwrap();
        let (lo, hi) = (Bound::Included(&b"c"[..]), Bound::Excluded(&b"a"[..]));
        assert!(w.range(0, lo, hi).is_empty());
        assert_eq!(w.range(0, Bound::Unbounded, Bound::Unbounded).len(), 1);
    }

    #[test]
    fn a_batch_writes_its_keys_and_ranges() {
        let mut batch = WriteBatch::new();
        batch
            .put_in(3, "a", "1")
            .delete("b")
            .delete_range_in(3, "c".."f");
        batch.delete_prefix("p");
        let ranges = batch_ranges(&batch);
        let charged: usize = ranges.iter().map(KeyRange::charged_bytes).sum();
        assert_eq!(batch_charge(&batch), charged);
        assert_eq!(
            ranges,
            [
                KeyRange::key(3, "a"),
                KeyRange::key(0, "b"),
                KeyRange::bounds(3, "c".."f").unwrap(),
                KeyRange::prefix(0, "p"),
            ]
        );
    }
}
