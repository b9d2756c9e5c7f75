//! A transaction's buffered writes, and the conflict ranges of a batch.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use bytes::Bytes;
use ferris_core::{KeyspaceId, LimitError, MAX_KEY_LEN, MAX_VALUE_LEN, WriteBatch};

/// The writes a transaction has made and not yet committed: per keyspace, each key it
/// wrote and what it wrote last (a value, or `None` for a delete).
///
/// A transaction keeps its writes here until commit, so nothing of it is visible to anyone
/// else before then, and reads its own writes from here first ([`WriteSet::get`], and
/// [`WriteSet::range`] for [`Overlay`](crate::Overlay) over a scan). Writing a key twice
/// keeps the last write, as applying both in order would: the batch a commit builds
/// ([`WriteSet::to_batch`]) has one entry per key, in the order each key was last written.
///
/// ```
/// use ferris_txn::WriteSet;
///
/// let mut writes = WriteSet::default();
/// writes.put(0, "a", "1")?;
/// writes.put(0, "a", "2")?;
/// writes.delete(0, "b")?;
/// assert_eq!(writes.get(0, b"a"), Some(Some(&b"2"[..])));
/// assert_eq!(writes.get(0, b"b"), Some(None)); // deleted here
/// assert_eq!(writes.get(0, b"c"), None); // not written: read the database
/// assert_eq!(writes.to_batch().len(), 2);
/// # Ok::<(), ferris_core::LimitError>(())
/// ```
///
/// # Cost
///
/// A transaction is usually a handful of writes, and this is on the path of every commit,
/// so the keys and values are copied into one growing buffer (no allocation per write)
/// and kept in the order written; a key is found by walking them from the newest. Past 32
/// writes an index by key takes over, so a large transaction does not pay a walk per
/// write.
#[derive(Debug, Clone, Default)]
pub struct WriteSet {
    /// Every key and value written, back to back (a replaced value stays, unreferenced).
    arena: Vec<u8>,
    /// Every write, in the order made.
    log: Vec<Write>,
    /// Per keyspace, each key's newest write in `log`: built once `log` outgrows
    /// [`INDEXED_AFTER`].
    index: Option<Index>,
    /// Keys written (each counted once).
    len: usize,
    /// At least what the batch of these writes encodes to (every write counted, also the
    /// ones replaced since): the capacity `to_batch` reserves.
    bytes: usize,
}

/// How many writes a [`WriteSet`] finds by walking them before it builds an index.
const INDEXED_AFTER: usize = 32;

/// The arena's first allocation, in bytes.
const ARENA_START: usize = 256;

/// Per keyspace, each key's newest write in a [`WriteSet`]'s log.
type Index = BTreeMap<KeyspaceId, BTreeMap<Box<[u8]>, usize>>;

/// One write: where its key and value lie in the arena.
#[derive(Debug, Clone, Copy)]
struct Write {
    keyspace: KeyspaceId,
    key: (usize, usize),
    /// `None` for a delete.
    value: Option<(usize, usize)>,
    /// Whether a later write of the same key replaced it.
    replaced: bool,
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
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), LimitError> {
        let value = value.as_ref();
        if value.len() > MAX_VALUE_LEN {
            return Err(LimitError::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        self.write(keyspace, key.as_ref(), Some(value))
    }

    /// Buffers a delete of `key` in `keyspace`, replacing any earlier write of it.
    ///
    /// # Errors
    ///
    /// [`LimitError`] for an empty key or one over [`MAX_KEY_LEN`].
    pub fn delete(
        &mut self,
        keyspace: KeyspaceId,
        key: impl AsRef<[u8]>,
    ) -> Result<(), LimitError> {
        self.write(keyspace, key.as_ref(), None)
    }

    fn write(
        &mut self,
        keyspace: KeyspaceId,
        key: &[u8],
        value: Option<&[u8]>,
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
        self.bytes += 16 + key.len() + value.map_or(0, <[u8]>::len);
        match self.find(keyspace, key) {
            Some(earlier) => self.log[earlier].replaced = true,
            None => self.len += 1,
        }
        let at = self.log.len();
        let key_span = self.stash(key);
        let value = value.map(|v| self.stash(v));
        self.log.push(Write {
            keyspace,
            key: key_span,
            value,
            replaced: false,
        });
        match &mut self.index {
            Some(index) => {
                (index.entry(keyspace).or_default()).insert(key.into(), at);
            }
            None if self.log.len() > INDEXED_AFTER => self.build_index(),
            None => {}
        }
        Ok(())
    }

    /// Copies `bytes` into the arena; returns where they lie.
    fn stash(&mut self, bytes: &[u8]) -> (usize, usize) {
        // Room for a few small writes at once, rather than growing 8, 16, 32, ...
        if self.arena.capacity() == 0 {
            self.arena.reserve(bytes.len().max(ARENA_START));
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        (start, self.arena.len())
    }

    fn build_index(&mut self) {
        let mut index = Index::new();
        for (at, write) in self.live() {
            let key = &self.arena[write.key.0..write.key.1];
            index
                .entry(write.keyspace)
                .or_default()
                .insert(key.into(), at);
        }
        self.index = Some(index);
    }

    /// The position in `log` of the newest write of `key` in `keyspace`.
    fn find(&self, keyspace: KeyspaceId, key: &[u8]) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&keyspace)?.get(key).copied(),
            None => (self.log.iter().enumerate().rev())
                .find(|(_, w)| w.keyspace == keyspace && self.slice(w.key) == key)
                .map(|(at, _)| at),
        }
    }

    fn slice(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.arena[start..end]
    }

    /// The writes not replaced since, with their positions, in the order made.
    fn live(&self) -> impl Iterator<Item = (usize, &Write)> {
        self.log.iter().enumerate().filter(|(_, w)| !w.replaced)
    }

    /// What the transaction last wrote at `key` in `keyspace`: `Some(Some(value))` for a
    /// put, `Some(None)` for a delete, `None` if it has not written the key (read the
    /// database then).
    pub fn get(&self, keyspace: KeyspaceId, key: &[u8]) -> Option<Option<&[u8]>> {
        let write = &self.log[self.find(keyspace, key)?];
        Some(write.value.map(|v| self.slice(v)))
    }

    /// The writes in `keyspace` between `lo` and `hi`, in key order: what
    /// [`Overlay`](crate::Overlay) lays over a scan of the same bounds. A copy, so the
    /// transaction may write on while the scan runs; the scan does not see those writes.
    pub fn range(
        &self,
        keyspace: KeyspaceId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> Vec<(Bytes, Option<Bytes>)> {
        let mut found: Vec<&Write> = (self.live().map(|(_, w)| w))
            .filter(|w| {
                w.keyspace == keyspace
                    && RangeBounds::<[u8]>::contains(&(lo, hi), self.slice(w.key))
            })
            .collect();
        found.sort_unstable_by_key(|w| self.slice(w.key));
        let copy = |span| Bytes::copy_from_slice(self.slice(span));
        found
            .into_iter()
            .map(|w| (copy(w.key), w.value.map(copy)))
            .collect()
    }

    /// How many keys the transaction has written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the transaction has written nothing: its commit has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The batch that applies every buffered write: one put or delete per key written, in
    /// the order each key was last written.
    pub fn to_batch(&self) -> WriteBatch {
        let mut batch = WriteBatch::with_capacity(self.bytes);
        for (_, write) in self.live() {
            let key = self.slice(write.key);
            match write.value {
                Some(value) => batch.put_in(write.keyspace, key, self.slice(value)),
                None => batch.delete_in(write.keyspace, key),
            };
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use ferris_core::BatchOp;

    use super::*;

    #[test]
    fn a_key_written_twice_counts_once_and_keeps_the_last_write() {
        let mut w = WriteSet::default();
        w.put(1, "k", "a").unwrap();
        w.put(2, "k", "b").unwrap();
        w.delete(1, "k").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.get(1, b"k"), Some(None));
        let batch = w.to_batch();
        let kinds: Vec<_> = batch.iter().map(|e| (e.keyspace, e.kind)).collect();
        assert_eq!(kinds, [(2, BatchOp::Put), (1, BatchOp::Delete)]);
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

    /// A transaction's scan over `(Excluded(k), Excluded(k))` once panicked here, when the
    /// range was a `BTreeMap::range`, which panics on it. Found by `ferris-sim` (seed 235
    /// and others).
    #[test]
    fn a_range_excluding_the_same_key_at_both_ends_is_empty() {
        let mut w = WriteSet::default();
        w.put(1, "k", "a").unwrap();
        let (excluded, included) = (Bound::Excluded(&b"k"[..]), Bound::Included(&b"k"[..]));
        assert!(w.range(1, excluded, excluded).is_empty());
        assert!(w.range(1, included, excluded).is_empty());
        assert_eq!(w.range(1, included, included).len(), 1);
    }

    #[test]
    fn a_reversed_range_is_empty() {
        let mut w = WriteSet::default();
        w.put(0, "b", "1").unwrap();
        let (lo, hi) = (Bound::Included(&b"c"[..]), Bound::Excluded(&b"a"[..]));
        assert!(w.range(0, lo, hi).is_empty());
        assert_eq!(w.range(0, Bound::Unbounded, Bound::Unbounded).len(), 1);
    }

    mod model {
        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Put(KeyspaceId, u8, u8),
            Delete(KeyspaceId, u8),
            Get(KeyspaceId, u8),
            Range(KeyspaceId, u8, u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            let (ks, key) = (0u32..2, 0u8..60);
            prop_oneof![
                (ks.clone(), key.clone(), any::<u8>()).prop_map(|(s, k, v)| Op::Put(s, k, v)),
                (ks.clone(), key.clone()).prop_map(|(s, k)| Op::Delete(s, k)),
                (ks.clone(), key.clone()).prop_map(|(s, k)| Op::Get(s, k)),
                (ks, key.clone(), key).prop_map(|(s, a, b)| Op::Range(s, a, b)),
            ]
        }

        proptest! {
            /// Walking or indexed (past 32 writes), the set answers as a map of each key's
            /// last write, and its batch applies exactly that.
            #[test]
            fn answers_as_a_map_of_last_writes(ops in prop::collection::vec(op(), 0..150)) {
                let mut set = WriteSet::default();
                let mut model: BTreeMap<(KeyspaceId, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
                for op in ops {
                    match op {
                        Op::Put(s, k, v) => {
                            set.put(s, [b'k', k], [v]).unwrap();
                            model.insert((s, vec![b'k', k]), Some(vec![v]));
                        }
                        Op::Delete(s, k) => {
                            set.delete(s, [b'k', k]).unwrap();
                            model.insert((s, vec![b'k', k]), None);
                        }
                        Op::Get(s, k) => {
                            let want = model.get(&(s, vec![b'k', k])).map(|v| v.as_deref());
                            prop_assert_eq!(set.get(s, &[b'k', k]), want);
                        }
                        Op::Range(s, a, b) => {
                            let (lo, hi) = ([b'k', a], [b'k', b]);
                            let got = set.range(s, Bound::Included(&lo), Bound::Excluded(&hi));
                            let want: Vec<(Bytes, Option<Bytes>)> = (model.iter())
                                .filter(|((ks, k), _)| *ks == s && k[..] >= lo[..] && k[..] < hi[..])
                                .map(|((_, k), v)| (Bytes::from(k.clone()), v.clone().map(Bytes::from)))
                                .collect();
                            prop_assert_eq!(got, want);
                        }
                    }
                    prop_assert_eq!(set.len(), model.len());
                }
                let batch = set.to_batch();
                prop_assert_eq!(batch.len(), model.len());
                let mut applied = BTreeMap::new();
                for e in batch.iter() {
                    let value = (e.kind == BatchOp::Put).then(|| e.value.to_vec());
                    prop_assert!(applied.insert((e.keyspace, e.key.to_vec()), value).is_none());
                }
                prop_assert_eq!(applied, model);
            }
        }
    }
}
