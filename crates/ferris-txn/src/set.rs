//! A transaction's conflict ranges, stored compactly.

use bytes::Bytes;
use ferris_core::{BatchOp, KeyspaceId, WriteBatch};

use crate::{KeyRange, RANGE_OVERHEAD};

/// A list of conflict ranges, as a transaction gathers them: single keys (a point read,
/// or a key it writes) with their bytes in one buffer, and wider ranges (scans, range
/// deletes) as [`KeyRange`]s. The same ranges as a `Vec<KeyRange>`, without an allocation
/// per key: a transaction records one per read, on the path of every commit.
///
/// ```
/// use ferris_txn::{KeyRange, RangeSet};
///
/// let mut reads = RangeSet::default();
/// reads.add_key(0, b"alice");
/// reads.add_range(KeyRange::prefix(0, "orders/"));
/// let all: Vec<KeyRange> = reads.iter().collect();
/// assert_eq!(all, [KeyRange::key(0, "alice"), KeyRange::prefix(0, "orders/")]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// The single keys' bytes, back to back.
    arena: Vec<u8>,
    /// The single keys: keyspace, and where the key lies in `arena`.
    keys: Vec<(KeyspaceId, usize, usize)>,
    /// The wider ranges.
    ranges: Vec<KeyRange>,
}

/// One range of a [`RangeSet`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeRef<'a> {
    /// Exactly one key.
    Key(KeyspaceId, &'a [u8]),
    /// Anything wider.
    Range(&'a KeyRange),
}

impl RangeRef<'_> {
    /// What [`KeyRange::charged_bytes`] charges for it.
    pub(crate) fn charged_bytes(self) -> usize {
        match self {
            RangeRef::Key(_, key) => 2 * key.len() + 1 + RANGE_OVERHEAD,
            RangeRef::Range(range) => range.charged_bytes(),
        }
    }

    /// It, owned.
    pub(crate) fn to_range(self) -> KeyRange {
        match self {
            RangeRef::Key(keyspace, key) => KeyRange::key(keyspace, key),
            RangeRef::Range(range) => range.clone(),
        }
    }
}

impl RangeSet {
    /// Adds the range holding exactly `key` in `keyspace`.
    pub fn add_key(&mut self, keyspace: KeyspaceId, key: &[u8]) {
        if self.arena.capacity() == 0 {
            self.arena.reserve(key.len().max(128));
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(key);
        self.keys.push((keyspace, start, self.arena.len()));
    }

    /// Adds `range` (a single-key range goes with the keys).
    pub fn add_range(&mut self, range: KeyRange) {
        match range.as_key() {
            Some(key) => self.add_key(range.keyspace(), key),
            None => self.ranges.push(range),
        }
    }

    /// The ranges `batch` writes: each key it puts or deletes, each range it deletes.
    pub fn of_batch(batch: &WriteBatch) -> RangeSet {
        let mut set = RangeSet::default();
        for entry in batch.iter() {
            match entry.kind {
                BatchOp::Put | BatchOp::Delete => set.add_key(entry.keyspace, entry.key),
                // A range delete's value is the first key past it, empty for no end.
                BatchOp::DeleteRange => {
                    let end =
                        (!entry.value.is_empty()).then(|| Bytes::copy_from_slice(entry.value));
                    let start = Bytes::copy_from_slice(entry.key);
                    set.ranges.extend(KeyRange::new(entry.keyspace, start, end));
                }
            }
        }
        set
    }

    /// How many ranges it holds.
    pub fn len(&self) -> usize {
        self.keys.len() + self.ranges.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ranges: the single keys in the order added, then the wider ranges in the order
    /// added.
    pub fn iter(&self) -> impl Iterator<Item = KeyRange> + '_ {
        self.refs().map(RangeRef::to_range)
    }

    /// What the ranges weigh, in [`KeyRange::charged_bytes`].
    pub fn charged_bytes(&self) -> usize {
        self.refs().map(RangeRef::charged_bytes).sum()
    }

    pub(crate) fn refs(&self) -> impl Iterator<Item = RangeRef<'_>> + Clone {
        let keys =
            (self.keys.iter()).map(|&(ks, start, end)| RangeRef::Key(ks, &self.arena[start..end]));
        keys.chain(self.ranges.iter().map(RangeRef::Range))
    }
}

impl<'a> FromIterator<&'a KeyRange> for RangeSet {
    fn from_iter<I: IntoIterator<Item = &'a KeyRange>>(ranges: I) -> RangeSet {
        let mut set = RangeSet::default();
        for range in ranges {
            set.add_range(range.clone());
        }
        set
    }
}

/// What [`RangeSet::of_batch`] would weigh in [`KeyRange::charged_bytes`], without building
/// it.
pub(crate) fn batch_charge(batch: &WriteBatch) -> usize {
    let charge = |e: ferris_core::BatchEntry<'_>| match e.kind {
        BatchOp::Put | BatchOp::Delete => RangeRef::Key(e.keyspace, e.key).charged_bytes(),
        BatchOp::DeleteRange => e.key.len() + e.value.len() + RANGE_OVERHEAD,
    };
    batch.iter().map(charge).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_writes_its_keys_and_ranges() {
        let mut batch = WriteBatch::new();
        batch
            .put_in(3, "a", "1")
            .delete("b")
            .delete_range_in(3, "c".."f");
        batch.delete_prefix("p");
        let set = RangeSet::of_batch(&batch);
        let want = [
            KeyRange::key(3, "a"),
            KeyRange::key(0, "b"),
            KeyRange::bounds(3, "c".."f").unwrap(),
            KeyRange::prefix(0, "p"),
        ];
        assert_eq!(set.iter().collect::<Vec<_>>(), want);
        let charged: usize = want.iter().map(KeyRange::charged_bytes).sum();
        assert_eq!(
            (set.charged_bytes(), batch_charge(&batch)),
            (charged, charged)
        );
        assert_eq!(want.iter().collect::<RangeSet>(), set);
        assert_eq!(set.len(), 4);
    }
}
