//! The skip list: [`SkipListMemtable`], the engine's default memtable.
//!
//! The idea, the cursor and the memory accounting are explained on the
//! [crate's front page](crate); this module is the code. Read it after `btree.rs`, which
//! does the same job in the simplest way: what this one adds is lock-free inserts, a
//! lookup that allocates nothing, keys stored inside the nodes, values copied into shared
//! chunks, and a cursor that follows a link instead of searching again.

use std::borrow::Borrow;
use std::cmp::Ordering as CmpOrdering;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use crossbeam_skiplist::SkipMap;
use ferris_core::key::{TRAILER_LEN, compare_user_keys, pack_trailer};
use ferris_core::range_del::{MemTombstones, RangeTombstone, Tombstones};
use ferris_core::{BatchEntry, InternalKey, InternalKeyRef, Lookup, MAX_SEQNO, SeqNo, ValueKind};

use crate::cursor::Cursor;

/// The estimated bytes each entry of a [`SkipListMemtable`] costs beyond its key and
/// value; see the crate docs, "Memory accounting".
pub const ENTRY_OVERHEAD: usize = 128;

/// A concurrent, sorted, multi-version in-memory table: a lock-free skip list of internal
/// keys, the engine's default [`Memtable`](ferris_core::Memtable). See the
/// [crate docs](crate).
///
/// Besides the contract's methods it has its own, which the engine's flush and the
/// benchmarks use: [`insert`](SkipListMemtable::insert) one version,
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
/// table.insert(&b"apple"[..], 1, ValueKind::Put, &b"red"[..]);
/// table.insert(&b"apple"[..], 2, ValueKind::Put, &b"green"[..]);
/// table.insert(&b"apple"[..], 3, ValueKind::Delete, &b""[..]);
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
    pub(crate) map: SkipMap<Key, Bytes>,
    /// Where [`SkipListMemtable::apply`] copies values (and long keys) to. Uncontended in
    /// the engine, where one write-group leader applies at a time.
    arena: Mutex<Arena>,
    approximate_size: AtomicUsize,
    n_entries: AtomicUsize,
    min_seq: AtomicU64,
    max_seq: AtomicU64,
    /// Range deletes, kept apart from the versions ([`ferris_core::range_del`]).
    range_tombstones: MemTombstones,
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
            map: SkipMap::new(),
            arena: Mutex::new(Arena::default()),
            approximate_size: AtomicUsize::new(0),
            n_entries: AtomicUsize::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            max_seq: AtomicU64::new(0),
            range_tombstones: MemTombstones::default(),
        }
    }

    /// Adds one version of `user_key`. For a delete, `value` is ignored (pass an empty one).
    ///
    /// # Panics
    ///
    /// Panics if `seq` exceeds [`MAX_SEQNO`].
    pub fn insert(
        &self,
        user_key: impl Into<Bytes>,
        seq: SeqNo,
        kind: ValueKind,
        value: impl Into<Bytes>,
    ) {
        let user_key: Bytes = user_key.into();
        let key = Key::new(UserKey::from_bytes(user_key), seq, kind);
        self.insert_key(key, value.into());
    }

    fn insert_key(&self, key: Key, value: Bytes) {
        let (seq, kind) = (key.seq, key.kind);
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
        let value = if kind == ValueKind::Delete {
            Bytes::new()
        } else {
            value
        };
        let size = key.user.as_slice().len() + value.len() + ENTRY_OVERHEAD;
        self.map.insert(key, value);
        self.approximate_size.fetch_add(size, Ordering::Relaxed);
        self.n_entries.fetch_add(1, Ordering::Relaxed);
        self.min_seq.fetch_min(seq, Ordering::Relaxed);
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
    }

    /// Inserts the entries of a batch (`WriteBatch::iter` or `BatchRef::iter`), each at
    /// its own sequence number, copying keys and values. Returns the bytes of keys and
    /// values inserted.
    ///
    /// Values, and keys too long to live in the node, are copied into shared chunks of
    /// [`ARENA_CHUNK`] bytes rather than into an allocation each (see the crate docs,
    /// "Memory accounting").
    pub fn apply<'a>(&self, entries: impl IntoIterator<Item = BatchEntry<'a>>) -> u64 {
        let mut bytes = 0u64;
        let mut arena = self.arena.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in entries {
            bytes += (entry.key.len() + entry.value.len()) as u64;
            let Some(kind) = entry.kind.value_kind() else {
                self.add_range_tombstone(&entry);
                continue;
            };
            let user = if entry.key.len() <= INLINE_KEY_LEN {
                UserKey::new(entry.key)
            } else {
                UserKey::Heap(arena.copy(entry.key))
            };
            let value = arena.copy(entry.value);
            self.insert_key(Key::new(user, entry.seq, kind), value);
        }
        bytes
    }

    /// Adds the range tombstone a [`BatchOp::DeleteRange`](ferris_core::BatchOp) entry
    /// carries.
    fn add_range_tombstone(&self, entry: &BatchEntry<'_>) {
        let end = (!entry.value.is_empty()).then(|| Bytes::copy_from_slice(entry.value));
        let key = Bytes::copy_from_slice(entry.key);
        (self.range_tombstones).add(RangeTombstone::new(key, end, entry.seq));
        let size = entry.key.len() + entry.value.len() + ENTRY_OVERHEAD;
        self.approximate_size.fetch_add(size, Ordering::Relaxed);
        self.n_entries.fetch_add(1, Ordering::Relaxed);
    }

    /// The range tombstones applied so far, fragmented.
    pub fn range_tombstones(&self) -> Arc<Tombstones> {
        self.range_tombstones.get()
    }

    /// The newest version of `user_key` with a sequence number at most `snapshot`, or `None`
    /// if this memtable holds no such version (so older layers must be asked). A range
    /// tombstone over the key newer than that version answers [`Lookup::Deleted`].
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        let point = self.get_version(user_key, snapshot);
        (self.range_tombstones).resolve(user_key, snapshot, point)
    }

    /// The newest version of `user_key` at most `snapshot`, with its sequence number.
    fn get_version(&self, user_key: &[u8], snapshot: SeqNo) -> Option<(SeqNo, Lookup)> {
        let probe = Probe {
            user_key,
            trailer: pack_trailer(snapshot.min(MAX_SEQNO), ValueKind::MAX),
        };
        let entry = self
            .map
            .lower_bound(Bound::Included(&probe as &dyn KeyView))?;
        let key = entry.key();
        if key.user.as_slice() != user_key {
            return None;
        }
        Some((
            key.seq,
            match key.kind {
                ValueKind::Put => Lookup::Value(entry.value().clone()),
                ValueKind::Delete => Lookup::Deleted,
            },
        ))
    }

    /// Calls `f` with every entry in internal-key order, without copying keys or values
    /// (what a flush uses); stops at the first error `f` returns.
    ///
    /// # Errors
    ///
    /// The first error `f` returns.
    pub fn try_for_each<E>(
        &self,
        mut f: impl FnMut(InternalKeyRef<'_>, &Bytes) -> Result<(), E>,
    ) -> Result<(), E> {
        for entry in self.map.iter() {
            f(entry.key().as_ref(), entry.value())?;
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
        let start = match bounds.start_bound() {
            Bound::Included(k) => Bound::Included(Key::first_of(k.as_ref())),
            Bound::Excluded(k) => Bound::Excluded(Key::last_of(k.as_ref())),
            Bound::Unbounded => Bound::Unbounded,
        };
        let end = match bounds.end_bound() {
            Bound::Included(k) => Bound::Included(Key::last_of(k.as_ref())),
            Bound::Excluded(k) => Bound::Excluded(Key::first_of(k.as_ref())),
            Bound::Unbounded => Bound::Unbounded,
        };
        Iter {
            inner: self.map.range((start, end)),
        }
    }

    /// The entries from the first one at or after `target` (in internal-key order) onwards.
    pub fn seek(&self, target: &InternalKey) -> Iter<'_> {
        Iter {
            inner: self
                .map
                .range((Bound::Included(Key::of(target.as_ref())), Bound::Unbounded)),
        }
    }

    /// Estimated memory use in bytes; see the crate's `# Memory accounting`.
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
/// It yields owned entries: the user key is copied out of the node, the value's `Bytes`
/// handle is cloned (a reference count). [`SkipListMemtable::try_for_each`] and [`Cursor`]
/// read entries in place.
pub struct Iter<'a> {
    inner: crossbeam_skiplist::map::Range<'a, Key, (Bound<Key>, Bound<Key>), Key, Bytes>,
}

impl std::fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memtable::Iter")
    }
}

impl Iterator for Iter<'_> {
    type Item = (InternalKey, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|e| (e.key().to_internal(), e.value().clone()))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .next_back()
            .map(|e| (e.key().to_internal(), e.value().clone()))
    }
}

/// Bytes of one chunk of a memtable's arena.
pub const ARENA_CHUNK: usize = 64 * 1024;

/// Values longer than this get an allocation of their own instead of a place in a chunk,
/// so that no chunk is left mostly empty by one large value.
const ARENA_MAX_COPY: usize = ARENA_CHUNK / 8;

/// Chunks that values are copied into: each copy is a slice of the current chunk that
/// shares its reference count, so it costs a `memcpy` and an atomic increment, not a
/// `malloc`. A chunk is freed when the last slice of it is dropped: with the memtable, or
/// later if a reader still holds a value it returned.
#[derive(Debug, Default)]
struct Arena {
    chunk: BytesMut,
}

impl Arena {
    fn copy(&mut self, bytes: &[u8]) -> Bytes {
        if bytes.is_empty() {
            return Bytes::new();
        }
        if bytes.len() > ARENA_MAX_COPY {
            return Bytes::copy_from_slice(bytes);
        }
        if self.chunk.capacity() < bytes.len() {
            self.chunk = BytesMut::with_capacity(ARENA_CHUNK);
        }
        // `split` hands out what was just written and keeps the rest of the chunk's
        // capacity here, for the next copy.
        self.chunk.extend_from_slice(bytes);
        self.chunk.split().freeze()
    }
}

/// Longest user key stored inside the skip-list node itself.
const INLINE_KEY_LEN: usize = 30;

/// A user key as the skip list stores it: inside the node when it is short, which is the
/// common case, so that comparing against it during a search reads the node's own cache
/// lines instead of chasing a pointer to a separate allocation; on the heap otherwise.
#[derive(Clone)]
enum UserKey {
    Inline {
        len: u8,
        bytes: [u8; INLINE_KEY_LEN],
    },
    Heap(Bytes),
}

impl UserKey {
    /// Copies `key` (into the node when it fits).
    fn new(key: &[u8]) -> UserKey {
        if key.len() <= INLINE_KEY_LEN {
            let mut bytes = [0u8; INLINE_KEY_LEN];
            bytes[..key.len()].copy_from_slice(key);
            UserKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            UserKey::Heap(Bytes::copy_from_slice(key))
        }
    }

    /// Takes `key`, copying it into the node when it fits and keeping the handle otherwise.
    fn from_bytes(key: Bytes) -> UserKey {
        if key.len() <= INLINE_KEY_LEN {
            UserKey::new(&key)
        } else {
            UserKey::Heap(key)
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            UserKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            UserKey::Heap(bytes) => bytes,
        }
    }
}

impl std::fmt::Debug for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_slice().escape_ascii().to_string())
    }
}

/// The skip list's key: an internal key (user key, sequence number, kind) that can also be
/// compared with a borrowed [`Probe`], so a point lookup needs no allocation.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    user: UserKey,
    seq: SeqNo,
    kind: ValueKind,
}

impl Key {
    fn new(user: UserKey, seq: SeqNo, kind: ValueKind) -> Key {
        Key { user, seq, kind }
    }

    /// An owned copy of `key`.
    fn of(key: InternalKeyRef<'_>) -> Key {
        Key::new(UserKey::new(key.user_key), key.seq, key.kind)
    }

    /// The smallest internal key of `user_key`: its newest possible version.
    fn first_of(user_key: &[u8]) -> Key {
        Key::new(UserKey::new(user_key), MAX_SEQNO, ValueKind::MAX)
    }

    /// The largest internal key of `user_key`: its oldest possible version.
    fn last_of(user_key: &[u8]) -> Key {
        Key::new(UserKey::new(user_key), 0, ValueKind::Delete)
    }

    pub(crate) fn as_ref(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: self.user.as_slice(),
            seq: self.seq,
            kind: self.kind,
        }
    }

    /// An owned `InternalKey` (the user key is copied).
    fn to_internal(&self) -> InternalKey {
        InternalKey::new(
            Bytes::copy_from_slice(self.user.as_slice()),
            self.seq,
            self.kind,
        )
    }
}

// The order of `InternalKey`, through the same comparison probes use.
impl Ord for Key {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self as &dyn KeyView).cmp(other as &dyn KeyView)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for Key {}

/// What the skip list compares: a user key and a trailer, owned or borrowed.
///
/// `crossbeam-skiplist` looks keys up through `Borrow`, and `Borrow` must hand out a
/// reference. A trait object lets both the stored [`Key`] and a stack-allocated [`Probe`]
/// be seen as the same comparable type.
pub(crate) trait KeyView {
    fn user_key(&self) -> &[u8];
    fn trailer(&self) -> u64;
}

impl KeyView for Key {
    fn user_key(&self) -> &[u8] {
        self.user.as_slice()
    }
    fn trailer(&self) -> u64 {
        pack_trailer(self.seq, self.kind)
    }
}

pub(crate) struct Probe<'a> {
    user_key: &'a [u8],
    trailer: u64,
}

impl<'a> Probe<'a> {
    pub(crate) fn of(key: InternalKeyRef<'a>) -> Probe<'a> {
        Probe {
            user_key: key.user_key,
            trailer: pack_trailer(key.seq, key.kind),
        }
    }
}

impl KeyView for Probe<'_> {
    fn user_key(&self) -> &[u8] {
        self.user_key
    }
    fn trailer(&self) -> u64 {
        self.trailer
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

// The same order as `InternalKey`: user key ascending, then trailer descending.
impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        compare_user_keys(self.user_key(), other.user_key())
            .then_with(|| other.trailer().cmp(&self.trailer()))
    }
}

impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for dyn KeyView + '_ {}

const _: () = assert!(TRAILER_LEN == 8);

#[cfg(test)]
mod tests {
    use super::*;

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
    fn keys_in_the_node_and_on_the_heap_sort_together() {
        // Lengths around the inline limit, with shared prefixes, so inline keys are
        // compared with heap keys in both directions.
        let lengths = [0usize, 1, 29, 30, 31, 64];
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
        t.insert(&b"key"[..], 7, ValueKind::Put, &b"value"[..]);
        t.insert(&b"key"[..], 3, ValueKind::Delete, &b"ignored"[..]);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.approximate_size(),
            3 + 5 + ENTRY_OVERHEAD + 3 + ENTRY_OVERHEAD
        );
        assert_eq!(t.seq_range(), Some((3, 7)));
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

    /// Values and long keys share arena chunks: every one reads back intact across chunk
    /// boundaries, a value too big for a chunk gets its own allocation, and a value a
    /// reader holds outlives the memtable.
    #[test]
    fn arena_copies_read_back_across_chunks_and_outlive_the_memtable() {
        let long_key = |i: usize| format!("{i:0>40}");
        let value = |i: usize| vec![(i % 251) as u8; 1 + i % 300];
        let mut batch = ferris_core::WriteBatch::new();
        let n = 3 * ARENA_CHUNK / 150;
        for i in 0..n {
            batch.put(long_key(i), value(i));
        }
        let big = vec![7u8; ARENA_MAX_COPY + 1];
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
