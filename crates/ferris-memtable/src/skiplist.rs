//! The skip list memtable: [`SkipListMemtable`], the engine's default memtable.
//!
//! The idea, the cursor and the memory accounting are explained on the
//! [crate's front page](crate); the skip list's nodes and their arena are in `list.rs`.
//! This module is the memtable over them: versions in, lookups and scans out, sizes and
//! sequence numbers counted. Read it after `btree.rs`, which does the same job in the
//! simplest way: what this one adds is readers that never wait, a lookup that allocates
//! nothing until it has found its value, every entry packed into one node in shared
//! chunks, and a cursor that follows a link instead of searching again.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use ferris_core::key::{pack_trailer, unpack_trailer};
use ferris_core::range_del::{MemTombstones, RangeTombstone, Tombstones};
use ferris_core::{BatchEntry, InternalKey, InternalKeyRef, Lookup, MAX_SEQNO, SeqNo, ValueKind};

use crate::cursor::Cursor;
use crate::list::{List, Node, Writer};

/// The bytes a range tombstone counts beyond its start and end keys: its place in the
/// fragment list, and the two `Bytes` handles and the sequence number of each fragment.
const RANGE_TOMBSTONE_OVERHEAD: usize = 128;

/// A concurrent, sorted, multi-version in-memory table: a skip list of internal keys
/// whose nodes, keys and values share arena chunks, the engine's default
/// [`Memtable`](ferris_core::Memtable). See the [crate docs](crate).
///
/// Besides the contract's methods it has its own, which the benchmarks use:
/// [`insert`](SkipListMemtable::insert) one version,
/// [`try_for_each`](SkipListMemtable::try_for_each) entry in place,
/// [`range`](SkipListMemtable::range) iteration over user keys, a
/// [`cursor`](SkipListMemtable::cursor), and the [`seq_range`](SkipListMemtable::seq_range)
/// it holds.
///
/// ```
/// use ferris_core::ValueKind;
/// use ferris_memtable::{Lookup, SkipListMemtable};
///
/// let table = SkipListMemtable::new();
/// table.insert(b"apple", 1, ValueKind::Put, b"red");
/// table.insert(b"apple", 2, ValueKind::Put, b"green");
/// table.insert(b"apple", 3, ValueKind::Delete, b"");
///
/// // Reads at a sequence number see the versions written up to it.
/// assert_eq!(table.get(b"apple", 1), Some(Lookup::Value("red".into())));
/// assert_eq!(table.get(b"apple", 2), Some(Lookup::Value("green".into())));
/// // A tombstone is an answer, not an absence: older layers must not be consulted.
/// assert_eq!(table.get(b"apple", 3), Some(Lookup::Deleted));
/// // Absence means "ask the next, older layer".
/// assert_eq!(table.get(b"pear", 3), None);
///
/// // Iteration yields every version, newest first within a key.
/// let seqs: Vec<u64> = table.iter().map(|(key, _)| key.seq()).collect();
/// assert_eq!(seqs, [3, 2, 1]);
/// ```
#[derive(Debug)]
pub struct SkipListMemtable {
    pub(crate) list: List,
    approximate_size: AtomicUsize,
    n_entries: AtomicUsize,
    min_seq: AtomicU64,
    max_seq: AtomicU64,
    /// Range deletes, kept apart from the versions ([`ferris_core::range_del`]).
    range_tombstones: MemTombstones,
    /// Bytes the range tombstones count.
    range_tombstone_bytes: AtomicUsize,
}

impl Default for SkipListMemtable {
    fn default() -> Self {
        SkipListMemtable::new()
    }
}

impl SkipListMemtable {
    /// An empty memtable.
    pub fn new() -> SkipListMemtable {
        SkipListMemtable {
            list: List::default(),
            approximate_size: AtomicUsize::new(0),
            n_entries: AtomicUsize::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            max_seq: AtomicU64::new(0),
            range_tombstones: MemTombstones::default(),
            range_tombstone_bytes: AtomicUsize::new(0),
        }
    }

    /// Adds one version of `user_key`, copying key and value. For a delete, `value` is
    /// ignored (pass an empty one). A version whose internal key (user key, sequence
    /// number and kind) is already here is ignored: it can only be the same write again.
    ///
    /// # Panics
    ///
    /// Panics if `seq` exceeds [`MAX_SEQNO`].
    pub fn insert(
        &self,
        user_key: impl AsRef<[u8]>,
        seq: SeqNo,
        kind: ValueKind,
        value: impl AsRef<[u8]>,
    ) {
        let mut writer = self.list.writer();
        self.insert_with(&mut writer, user_key.as_ref(), seq, kind, value.as_ref());
        self.publish_size(&writer);
    }

    fn insert_with(
        &self,
        writer: &mut Writer<'_>,
        user_key: &[u8],
        seq: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) {
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
        let value = if kind == ValueKind::Delete {
            &[][..]
        } else {
            value
        };
        if writer
            .insert(user_key, pack_trailer(seq, kind), value)
            .is_none()
        {
            return;
        }
        self.n_entries.fetch_add(1, Ordering::Relaxed);
        self.min_seq.fetch_min(seq, Ordering::Relaxed);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// Makes the size of the nodes written so far the one readers see.
    fn publish_size(&self, writer: &Writer<'_>) {
        let size = writer.used() + self.range_tombstone_bytes.load(Ordering::Relaxed);
        self.approximate_size.store(size, Ordering::Relaxed);
    }

    /// Inserts the entries of a batch (`WriteBatch::iter` or `BatchRef::iter`), each at
    /// its own sequence number, copying keys and values into the arena. Returns the bytes
    /// of keys and values inserted.
    pub fn apply<'a>(&self, entries: impl IntoIterator<Item = BatchEntry<'a>>) -> u64 {
        let mut bytes = 0u64;
        let mut writer = self.list.writer();
        for entry in entries {
            bytes += (entry.key.len() + entry.value.len()) as u64;
            match entry.kind.value_kind() {
                Some(kind) => {
                    self.insert_with(&mut writer, entry.key, entry.seq, kind, entry.value);
                }
                None => self.add_range_tombstone(&entry),
            }
        }
        self.publish_size(&writer);
        bytes
    }

    /// Adds the range tombstone a [`BatchOp::DeleteRange`](ferris_core::BatchOp) entry
    /// carries.
    fn add_range_tombstone(&self, entry: &BatchEntry<'_>) {
        let end = (!entry.value.is_empty()).then(|| Bytes::copy_from_slice(entry.value));
        let key = Bytes::copy_from_slice(entry.key);
        (self.range_tombstones).add(RangeTombstone::new(key, end, entry.seq));
        let size = entry.key.len() + entry.value.len() + RANGE_TOMBSTONE_OVERHEAD;
        self.range_tombstone_bytes
            .fetch_add(size, Ordering::Relaxed);
        self.n_entries.fetch_add(1, Ordering::Relaxed);
    }

    /// The range tombstones applied so far, fragmented.
    pub fn range_tombstones(&self) -> Arc<Tombstones> {
        self.range_tombstones.get()
    }

    /// The newest version of `user_key` with a sequence number at most `snapshot`, or `None`
    /// if this memtable holds no such version (so older layers must be asked). A range
    /// tombstone over the key newer than that version answers [`Lookup::Deleted`].
    ///
    /// A value found is copied out of the arena, so holding it does not hold the memtable.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let point = self.get_version(user_key, snapshot);
        (self.range_tombstones).resolve(user_key, snapshot, point)
    }

    /// The newest version of `user_key` at most `snapshot`, with its sequence number.
    fn get_version(&self, user_key: &[u8], snapshot: SeqNo) -> Option<(SeqNo, Lookup)> {
        let trailer = pack_trailer(snapshot.min(MAX_SEQNO), ValueKind::MAX);
        let node = self.list.seek_ge(user_key, trailer)?;
        if node.user_key() != user_key {
            return None;
        }
        let key = entry_key(node);
        Some((
            key.seq,
            match key.kind {
                ValueKind::Put => Lookup::Value(Bytes::copy_from_slice(node.value())),
                ValueKind::Delete => Lookup::Deleted,
            },
        ))
    }

    /// Calls `f` with every entry in internal-key order, reading keys and values in place;
    /// stops at the first error `f` returns.
    ///
    /// # Errors
    ///
    /// The first error `f` returns.
    pub fn try_for_each<E>(
        &self,
        mut f: impl FnMut(InternalKeyRef<'_>, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut node = self.list.first();
        while let Some(n) = node {
            f(entry_key(n), n.value())?;
            node = n.next();
        }
        Ok(())
    }

    /// Every entry, in internal-key order: user keys ascending, newest version first.
    pub fn iter(&self) -> Iter<'_> {
        self.range::<&[u8], _>(..)
    }

    /// The entries whose user keys lie within `bounds`, every version of each.
    ///
    /// An excluded start skips every version of that user key, and an included end takes
    /// every version of it.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, bounds: R) -> Iter<'_> {
        let list = &self.list;
        let front = match bounds.start_bound() {
            Bound::Included(k) => list.seek_ge(k.as_ref(), FIRST),
            Bound::Excluded(k) => list.seek_gt(k.as_ref(), LAST),
            Bound::Unbounded => list.first(),
        };
        let back = match bounds.end_bound() {
            Bound::Included(k) => list.seek_le(k.as_ref(), LAST),
            Bound::Excluded(k) => list.seek_lt(k.as_ref(), FIRST),
            Bound::Unbounded => list.last(),
        };
        Iter::new(list, front, back)
    }

    /// The entries from the first one at or after `target` (in internal-key order) onwards.
    pub fn seek(&self, target: &InternalKey) -> Iter<'_> {
        let front = self.list.seek_ge(target.user_key(), target.trailer());
        Iter::new(&self.list, front, self.list.last())
    }

    /// Bytes the memtable holds: its skip-list nodes, each with its key and value (and
    /// the unused tails of full arena chunks), and its range tombstones; see the crate's
    /// `# Memory accounting`. Zero when empty.
    pub fn approximate_size(&self) -> usize {
        self.approximate_size.load(Ordering::Relaxed)
    }

    /// The number of entries (versions, not distinct user keys).
    pub fn len(&self) -> usize {
        self.n_entries.load(Ordering::Relaxed)
    }

    /// True when nothing has been inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest and largest sequence numbers of the versions inserted (range
    /// tombstones not counted), or `None` when there are none.
    pub fn seq_range(&self) -> Option<(SeqNo, SeqNo)> {
        let min = self.min_seq.load(Ordering::Relaxed);
        (min != u64::MAX).then(|| (min, self.max_seq.load(Ordering::Relaxed)))
    }
}

/// The trailer of a user key's first internal key: its newest possible version.
const FIRST: u64 = (MAX_SEQNO << 8) | ValueKind::MAX as u64;

/// The trailer of a user key's last internal key: its oldest possible version.
const LAST: u64 = ValueKind::Delete as u64;

/// The internal key of `node`'s entry. The list holds only trailers this module packed,
/// so the kind is always one it knows.
pub(crate) fn entry_key(node: Node<'_>) -> InternalKeyRef<'_> {
    let (seq, kind) =
        unpack_trailer(node.trailer()).expect("the list holds only trailers this module packed");
    InternalKeyRef {
        user_key: node.user_key(),
        seq,
        kind,
    }
}

impl SkipListMemtable {
    /// A cursor that holds the memtable itself (through the `Arc`), so it can outlive any
    /// borrow: the engine's iterators keep one per memtable they read. It starts
    /// unpositioned.
    pub fn cursor(self: &Arc<SkipListMemtable>) -> Cursor {
        Cursor::new(Arc::clone(self))
    }
}

impl ferris_core::Memtable for SkipListMemtable {
    fn apply(&self, entries: ferris_core::BatchIter<'_>) -> u64 {
        SkipListMemtable::apply(self, entries)
    }

    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        SkipListMemtable::get(self, user_key, snapshot)
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        SkipListMemtable::range_tombstones(self)
    }

    // Read by a scan after it loaded its sequence number (an acquire), so it counts every
    // version that number makes visible.
    fn newest_version(&self) -> Option<SeqNo> {
        Some(self.seq_range().map_or(0, |(_, max)| max))
    }

    fn iter(self: Arc<Self>) -> Box<dyn ferris_core::InternalIterator> {
        Box::new(Cursor::new(self))
    }

    fn approximate_size(&self) -> usize {
        SkipListMemtable::approximate_size(self)
    }

    fn len(&self) -> usize {
        SkipListMemtable::len(self)
    }
}

/// Makes [`SkipListMemtable`]s: the engine's default
/// [`MemtableFactory`](ferris_core::MemtableFactory).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkipListFactory;

impl ferris_core::MemtableFactory for SkipListFactory {
    fn create(&self) -> Arc<dyn ferris_core::Memtable> {
        Arc::new(SkipListMemtable::new())
    }
}

/// An iterator over memtable entries, double-ended: `.rev()` walks backwards.
///
/// It yields owned entries, key and value copied out of the node.
/// [`SkipListMemtable::try_for_each`] and [`Cursor`] read entries in place. Entries
/// inserted while it runs are seen if they fall between its two ends.
pub struct Iter<'a> {
    list: &'a List,
    /// The next entry from the front and from the back; `None` once they have met.
    ends: Option<(Node<'a>, Node<'a>)>,
}

impl<'a> Iter<'a> {
    fn new(list: &'a List, front: Option<Node<'a>>, back: Option<Node<'a>>) -> Iter<'a> {
        let ends = front
            .zip(back)
            .filter(|(f, b)| f.cmp_key(b.user_key(), b.trailer()).is_le());
        Iter { list, ends }
    }
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memtable::Iter")
    }
}

fn owned(node: Node<'_>) -> (InternalKey, Bytes) {
    (
        entry_key(node).to_owned(),
        Bytes::copy_from_slice(node.value()),
    )
}

impl Iterator for Iter<'_> {
    type Item = (InternalKey, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        let (front, back) = self.ends?;
        // Walking from the front reaches the back: it is in the list, after the front.
        self.ends = (front != back)
            .then(|| front.next())
            .flatten()
            .map(|next| (next, back));
        Some(owned(front))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (front, back) = self.ends?;
        self.ends = (front != back)
            .then(|| self.list.prev(back))
            .flatten()
            .map(|prev| (front, prev));
        Some(owned(back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{ARENA_CHUNK, MAX_HEIGHT, node_size};

    fn table(entries: &[(&str, SeqNo, ValueKind)]) -> SkipListMemtable {
        let t = SkipListMemtable::new();
        for &(k, seq, kind) in entries {
            t.insert(
                Bytes::copy_from_slice(k.as_bytes()),
                seq,
                kind,
                Bytes::from(format!("{k}{seq}")),
            );
        }
        t
    }

    fn keys(iter: impl Iterator<Item = (InternalKey, Bytes)>) -> Vec<(String, SeqNo)> {
        iter.map(|(k, _)| (String::from_utf8(k.user_key().to_vec()).unwrap(), k.seq()))
            .collect()
    }

    #[test]
    fn lookup_sees_the_newest_version_at_or_below_the_snapshot() {
        let t = table(&[
            ("k", 2, ValueKind::Put),
            ("k", 5, ValueKind::Put),
            ("k", 9, ValueKind::Delete),
        ]);
        assert_eq!(t.get(b"k", 1), None);
        assert_eq!(t.get(b"k", 2), Some(Lookup::Value("k2".into())));
        assert_eq!(t.get(b"k", 8), Some(Lookup::Value("k5".into())));
        assert_eq!(t.get(b"k", 9), Some(Lookup::Deleted));
        assert_eq!(t.get(b"k", u64::MAX), Some(Lookup::Deleted));
        assert_eq!(t.get(b"j", 100), None);
        assert_eq!(t.get(b"kk", 100), None);
    }

    #[test]
    fn keys_of_every_length_sort_together() {
        // Lengths around the eight bytes compared as one integer, and around a node's
        // padding, with shared prefixes, so keys are compared in both directions.
        let lengths = [0usize, 1, 7, 8, 9, 29, 30, 31, 64];
        let t = SkipListMemtable::new();
        let mut expected = Vec::new();
        for (i, &len) in lengths.iter().enumerate() {
            let key = vec![b'k'; len.max(1)];
            t.insert(
                Bytes::from(key.clone()),
                i as SeqNo + 1,
                ValueKind::Put,
                &b"v"[..],
            );
            expected.push((key, i as SeqNo + 1));
        }
        expected.sort();
        expected.dedup_by(|a, b| a.0 == b.0);
        let got: Vec<(Vec<u8>, SeqNo)> = t
            .iter()
            .map(|(k, _)| (k.user_key().to_vec(), k.seq()))
            .collect();
        // Lengths 0 and 1 both use one byte: that key holds two versions, newest first.
        assert_eq!(got.len(), expected.len() + 1);
        assert!(
            got.windows(2)
                .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 > w[1].1))
        );
        for &len in &lengths[2..] {
            let key = vec![b'k'; len];
            assert!(t.get(&key, SeqNo::MAX).is_some(), "length {len}");
            let mut longer = key.clone();
            longer.push(b'k');
            longer.push(b'x');
            assert_eq!(t.get(&longer, SeqNo::MAX), None, "length {}", len + 2);
        }
    }

    #[test]
    fn a_lookup_does_not_match_a_longer_or_shorter_key() {
        let t = table(&[("ab", 1, ValueKind::Put)]);
        assert_eq!(t.get(b"a", 5), None);
        assert_eq!(t.get(b"abc", 5), None);
        assert_eq!(t.get(b"ab", 5), Some(Lookup::Value("ab1".into())));
    }

    #[test]
    fn range_bounds_cover_every_version_of_their_keys() {
        let t = table(&[
            ("a", 1, ValueKind::Put),
            ("b", 1, ValueKind::Put),
            ("b", 2, ValueKind::Delete),
            ("c", 3, ValueKind::Put),
            ("c", 4, ValueKind::Put),
            ("d", 1, ValueKind::Put),
        ]);
        let s = |v: &[(&str, SeqNo)]| {
            v.iter()
                .map(|&(k, s)| (k.to_owned(), s))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(t.range(&b"b"[..]..&b"d"[..])),
            s(&[("b", 2), ("b", 1), ("c", 4), ("c", 3)])
        );
        assert_eq!(
            keys(t.range(&b"b"[..]..=&b"c"[..])),
            s(&[("b", 2), ("b", 1), ("c", 4), ("c", 3)])
        );
        assert_eq!(
            keys(t.range::<&[u8], _>((Bound::Excluded(&b"b"[..]), Bound::Unbounded))),
            s(&[("c", 4), ("c", 3), ("d", 1)])
        );
        assert_eq!(keys(t.range(..&b"b"[..])), s(&[("a", 1)]));
        assert_eq!(keys(t.range(&b"bb"[..]..&b"c"[..])), s(&[]));
        assert_eq!(
            keys(t.range(&b"b"[..]..=&b"c"[..]).rev()),
            s(&[("c", 3), ("c", 4), ("b", 1), ("b", 2)])
        );
    }

    #[test]
    fn seek_starts_at_the_first_entry_not_before_the_target() {
        let t = table(&[
            ("a", 1, ValueKind::Put),
            ("b", 5, ValueKind::Put),
            ("b", 3, ValueKind::Put),
        ]);
        let from = InternalKey::seek_key(&b"b"[..], 4);
        assert_eq!(keys(t.seek(&from)), vec![("b".to_owned(), 3)]);
    }

    #[test]
    fn size_and_sequence_accounting() {
        let t = SkipListMemtable::new();
        assert_eq!((t.len(), t.approximate_size(), t.seq_range()), (0, 0, None));
        t.insert(b"key", 7, ValueKind::Put, b"value");
        t.insert(b"key", 3, ValueKind::Delete, b"ignored");
        assert_eq!(t.len(), 2);
        // Each node: its links (one to MAX_HEIGHT), the header, key and value, padded.
        let both = |h| node_size(h, 3, 5) + node_size(h, 3, 0);
        let (lo, hi) = (both(1), both(MAX_HEIGHT));
        assert!(
            (lo..=hi).contains(&t.approximate_size()),
            "{}",
            t.approximate_size()
        );
        assert_eq!(t.approximate_size() % 8, 0);
        assert_eq!(t.seq_range(), Some((3, 7)));
        // The same internal key again is the same write again: nothing changes.
        let size = t.approximate_size();
        t.insert(b"key", 7, ValueKind::Put, b"other");
        assert_eq!((t.len(), t.approximate_size()), (2, size));
        assert_eq!(t.get(b"key", 7), Some(Lookup::Value("value".into())));
    }

    #[test]
    fn applying_a_batch_inserts_at_consecutive_sequence_numbers() {
        let mut batch = ferris_core::WriteBatch::new();
        batch.put(b"x", b"1").delete(b"y").put(b"x", b"2");
        batch.set_seq(10);
        let t = SkipListMemtable::new();
        let inserted = t.apply(
            ferris_core::WriteBatch::decode(batch.as_bytes())
                .unwrap()
                .iter(),
        );
        // Keys and values: "x"+"1", "y", "x"+"2".
        assert_eq!(inserted, 5);
        assert_eq!(t.get(b"x", 10), Some(Lookup::Value("1".into())));
        assert_eq!(t.get(b"x", 12), Some(Lookup::Value("2".into())));
        assert_eq!(t.get(b"y", 11), Some(Lookup::Deleted));
        assert_eq!(t.seq_range(), Some((10, 12)));
    }

    /// Nodes share arena chunks: every entry reads back intact across chunk boundaries, a
    /// value too big for a chunk gets an allocation of its own, and a value a reader holds
    /// (a copy) outlives the memtable.
    #[test]
    fn arena_copies_read_back_across_chunks_and_outlive_the_memtable() {
        let long_key = |i: usize| format!("{i:0>40}");
        let value = |i: usize| vec![(i % 251) as u8; 1 + i % 300];
        let mut batch = ferris_core::WriteBatch::new();
        let n = 3 * ARENA_CHUNK / 150;
        for i in 0..n {
            batch.put(long_key(i), value(i));
        }
        let big = vec![7u8; ARENA_CHUNK + 1];
        batch.put(b"big", &big);
        batch.set_seq(1);
        let t = SkipListMemtable::new();
        t.apply(batch.iter());
        for i in 0..n {
            assert_eq!(
                t.get(long_key(i).as_bytes(), MAX_SEQNO),
                Some(Lookup::Value(value(i).into())),
                "entry {i}"
            );
        }
        let held = match t.get(b"big", MAX_SEQNO) {
            Some(Lookup::Value(v)) => v,
            other => panic!("{other:?}"),
        };
        let kept = match t.get(long_key(5).as_bytes(), MAX_SEQNO) {
            Some(Lookup::Value(v)) => v,
            other => panic!("{other:?}"),
        };
        drop(t);
        assert_eq!(held, big);
        assert_eq!(kept, value(5));
    }
}
