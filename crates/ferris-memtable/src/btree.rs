//! [`BTreeMemtable`]: the simplest correct memtable, written to be read first.
//!
//! This file is the teaching reference for the memtable contract
//! ([`ferris_core::memtable`]). It uses nothing but the standard library's `BTreeMap` and
//! `RwLock`, and every choice in it is the obvious one, so that a reader can see what a
//! memtable *must* do before seeing what the skip list (`skiplist.rs`) does to be fast. It
//! passes the same conformance suite as the skip list (`ferris-conformance`, module
//! `memtable`), so it is a real memtable, not a sketch: the engine can run on it.
//!
//! # The whole design in four sentences
//!
//! 1. The entries live in a `BTreeMap<InternalKey, Bytes>`. [`InternalKey`]'s order is
//!    the internal-key order (user key ascending, then newest version first), so the map
//!    keeps every version of a key side by side, newest first, and a range query from a
//!    key finds the next entry in that order: that is all a lookup, a seek and a step need.
//! 2. The map sits behind an `RwLock`, because a `BTreeMap` cannot be changed while
//!    anyone reads it: lookups and iterator steps take the read lock (many at once), and
//!    [`apply`](Memtable::apply) takes the write lock (alone) for a whole batch.
//! 3. The size the engine compares with its write buffer is kept beside the map, under
//!    the same lock, so the map and its size always agree.
//! 4. The iterator owns an `Arc` of the memtable and a copy of its current entry, and every
//!    step is a fresh range query, under the read lock, from the current key.
//!
//! # Why each part is the way it is
//!
//! **Why the key is an owned [`InternalKey`].** A `BTreeMap` compares its own key type.
//! An owned key with a user key in a [`Bytes`] orders correctly through
//! `InternalKey`'s `Ord`, and cloning it out of the map (for the iterator) costs a
//! reference count, not a copy.
//!
//! **Why a lookup copies the user key.** `BTreeMap::range` searches with a key of the
//! map's own type (through `Borrow`, which can only hand out a reference to something the
//! key already contains), so a probe must be an `InternalKey` too: building one copies the
//! caller's user key. The skip list avoids that copy by running its own search, which
//! compares the caller's bytes with each node's key in place (`descend` in `list.rs`).
//!
//! **Why a read-write lock, and one lock for everything.** One lock is the simplest thing
//! that is obviously right: nothing can be seen half-inserted, and the size can never
//! disagree with the map. A read-write lock rather than a mutex lets readers run side by
//! side, which matters because reads outnumber writes and the engine never stops reading.
//! A poisoned lock (a thread panicked while holding it) is used anyway: each insert into
//! the map either happened or did not, so the map is still a valid map, and a batch a
//! panic left half-applied is invisible to readers because the engine publishes a batch's
//! sequence numbers only after `apply` returns.
//!
//! **Why the write lock is held for a whole batch.** Taking it once per batch rather than
//! once per entry is simpler and cheaper for the writer, and it makes each batch appear at
//! once. The contract does not ask for that (the engine's sequence numbers already hide a
//! half-applied batch), and the price is that readers wait for the whole batch.
//!
//! **Why the iterator re-searches at every step.** An iterator must own what it needs: a
//! scan or a flush keeps it for as long as it runs, with no borrow to tie it to. The
//! standard library's `btree_map::Range` borrows the map, and through the lock guard, so
//! holding one would mean holding the read lock for the iterator's whole life, and a
//! writer would wait for every open scan. Instead the iterator keeps its current entry (a
//! clone of the key and value, two reference counts) and each `next` asks the map for the
//! first entry after that key, under the read lock, for that one step. It costs
//! O(log n) per step instead of O(1), and it is correct whatever happens between steps: an
//! entry applied ahead of the iterator is seen, one applied behind it is not, and the
//! order holds either way.
//!
//! # What it gives up next to the skip list
//!
//! - **A writer blocks readers.** While a batch is applied, every lookup and every
//!   iterator step waits; the skip list's readers take no lock and never wait.
//! - **Every step re-searches.** `next` and `prev` cost O(log n) comparisons here; the
//!   skip list's cursor follows one link for `next`.
//! - **More allocations and more memory.** Each key and each value is an allocation of its
//!   own, and a lookup allocates its probe. The skip list packs each entry, key and value
//!   included, into one node in shared arena chunks, and looks up without allocating. See
//!   "Memory accounting" below for what this layout costs per entry.
//!
//! It gives up nothing in correctness: the same conformance suite runs against both.
//!
//! # Plugging it in
//!
//! The engine makes its memtables through a [`MemtableFactory`], and [`BTreeFactory`] is
//! one. Everything the engine does with a memtable goes through the [`Memtable`] trait:
//!
//! ```
//! use std::sync::Arc;
//!
//! use ferris_core::{InternalIterator, WriteBatch};
//! use ferris_memtable::{BTreeFactory, Lookup, MemtableFactory};
//!
//! let factory: Arc<dyn MemtableFactory> = Arc::new(BTreeFactory);
//! let memtable = factory.create();
//!
//! let mut batch = WriteBatch::new();
//! batch.put(b"fig", b"purple").put(b"apple", b"red").delete(b"fig");
//! batch.set_seq(10); // entries get 10, 11, 12
//! assert_eq!(memtable.apply(batch.iter()), 20); // bytes of keys and values
//!
//! assert_eq!(memtable.get(b"fig", 10), Some(Lookup::Value("purple".into())));
//! assert_eq!(memtable.get(b"fig", 12), Some(Lookup::Deleted));
//! assert_eq!(memtable.get(b"apple", 10), None); // written at 11
//!
//! let mut it = Arc::clone(&memtable).iter();
//! it.seek_to_first();
//! let mut seen = Vec::new();
//! while it.valid() {
//!     seen.push(format!("{:?}", it.key()));
//!     it.next();
//! }
//! it.status()?;
//! assert_eq!(seen, ["apple@11:Put", "fig@12:Delete", "fig@10:Put"]);
//! # Ok::<(), ferris_core::Error>(())
//! ```
//!
//! In a database, the factory goes into `ferris_engine::Options::memtable`, and the engine
//! runs on B-trees: each write group is applied to one, every read and scan asks it
//! first, a flush drains it, in order, into a table, and an open replays the write-ahead
//! log into a fresh one. `docs/concepts/swapping-components.md` walks through this
//! example:
//!
//! ```
//! use std::sync::Arc;
//!
//! use ferris_engine::{Db, Options};
//! use ferris_memtable::BTreeFactory;
//!
//! let dir = tempfile::tempdir()?;
//! let mut options = Options::default();
//! options.memtable = Arc::new(BTreeFactory);
//! let db = Db::open(dir.path(), options.clone())?;
//!
//! db.put("apple", "red")?;
//! let snapshot = db.snapshot()?;
//! db.put("apple", "green")?;
//! db.delete("fig")?;
//! // Reads ask the B-tree first, each at its own sequence number.
//! assert_eq!(db.get("apple")?.as_deref(), Some(&b"green"[..]));
//! assert_eq!(snapshot.get("apple")?.as_deref(), Some(&b"red"[..]));
//! assert_eq!(db.get("fig")?, None); // the tombstone answered: no older layer was asked
//!
//! // A flush writes the B-tree's entries to a table; a fresh B-tree takes the next writes.
//! db.flush()?;
//! db.put("pear", "yellow")?;
//! let keys: Vec<_> = db.iter()?.map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, ["apple", "pear"]);
//! drop(snapshot);
//!
//! // Reopened with the same options, the database replays its log into a new B-tree.
//! drop(db);
//! let db = Db::open(dir.path(), options)?;
//! assert_eq!(db.get("pear")?.as_deref(), Some(&b"yellow"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concurrency
//!
//! [`BTreeMemtable`] is `Send + Sync`, and every method takes `&self`. Any number of
//! lookups and iterator steps run at once; an [`apply`](Memtable::apply) runs alone, and
//! readers see each batch either not at all or whole.
//!
//! # Memory accounting
//!
//! [`approximate_size`](Memtable::approximate_size) counts, for each entry, its user key
//! and value bytes plus [`BTREE_ENTRY_OVERHEAD`], 256 bytes. That figure is worked out from
//! this layout on a 64-bit target (the unit tests pin the type sizes it rests on):
//!
//! - **The entry's place in the tree, about 150 bytes.** An entry takes 80 bytes in a
//!   tree node: 48 for the `InternalKey` (a 32-byte `Bytes` handle, the 8-byte sequence
//!   number and the kind, padded) and 32 for the value's `Bytes` handle. The standard
//!   library's nodes hold up to 11 entries (896 bytes for a leaf, 992 for an inner node
//!   with its child pointers), and a node that fills up is split, so nodes run between
//!   half full and full: keys inserted in ascending order leave every leaf with 6 entries,
//!   and one more entry per leaf sits in the inner nodes. That is 896 bytes (912 with the
//!   allocator's header) for 7 entries, 130 each, plus the inner nodes at about 20 more.
//!   Keys in random order fill nodes further, and cost less.
//! - **Two allocations, about 32 bytes.** The user key and the value are each copied into
//!   an allocation of their own, and the allocator adds a header and rounds up: about 16
//!   bytes each.
//! - **Two shared headers, 64 bytes.** A `Bytes` copied from a slice owns its buffer
//!   alone until it is first cloned; the first clone allocates a 24-byte header (32 with
//!   the allocator's) to hold the shared reference count. The iterator clones every key
//!   and value it visits, and a lookup clones the value it returns, so by the time a
//!   memtable has been flushed (which iterates over all of it) every key and value has
//!   paid for one.
//!
//! That sums to about 250 bytes for keys inserted in ascending order, and the estimate is
//! rounded up to 256 so that it errs high: a memtable frozen a little early makes a
//! slightly smaller table, one frozen late holds memory nobody planned for. The estimate
//! only grows, as the contract asks: an entry that replaces one with the same internal key
//! (which the engine never writes) stays counted twice. Exercise 2 below measures it.
//!
//! # Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 3. Try each exercise first.
//!
//! 1. Replace the `RwLock` with a `Mutex`. Which tests still pass, and what did readers
//!    lose? Then try holding a `btree_map::Range` in the iterator instead of its current
//!    key, and see what the borrow checker says about the lock guard.
//! 2. Insert a million 16-byte keys with 100-byte values, in ascending and then in random
//!    order, iterate over all of them, and compare the growth of the process's resident
//!    memory (`/proc/self/status`, `VmRSS`) with
//!    [`approximate_size`](Memtable::approximate_size). Which order comes closer to [`BTREE_ENTRY_OVERHEAD`], and why?
//! 3. Store each entry's key and value in one allocation (copy both into one `Bytes`, then
//!    `slice` it into two). How many allocations per entry does that save, and what should
//!    [`BTREE_ENTRY_OVERHEAD`] become?

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use ferris_core::range_del::{MemTombstones, RangeTombstone, Tombstones};
use ferris_core::{
    BatchIter, InternalIterator, InternalKey, InternalKeyRef, Lookup, Memtable, MemtableFactory,
    SeqNo, ValueKind,
};

/// The estimated bytes each entry of a [`BTreeMemtable`] costs beyond its user key and
/// value: see the [module docs](self), "Memory accounting", for how it is worked out.
pub const BTREE_ENTRY_OVERHEAD: usize = 256;

/// A memtable that is a `BTreeMap` behind a read-write lock: the teaching reference. See
/// the [module docs](self) for why each part is the way it is.
///
/// Everything it does goes through the [`Memtable`] trait; its own API is only
/// [`new`](BTreeMemtable::new).
#[derive(Default)]
pub struct BTreeMemtable {
    inner: RwLock<Inner>,
}

/// What the lock guards: the entries, and the size they account for.
#[derive(Default)]
struct Inner {
    /// Every version applied, in internal-key order. A tombstone's value is empty.
    map: BTreeMap<InternalKey, Bytes>,
    /// The running total behind [`Memtable::approximate_size`].
    size: usize,
    /// Range deletes, kept apart from the versions ([`ferris_core::range_del`]).
    range_tombstones: MemTombstones,
    /// The largest sequence number of a version, 0 before the first.
    newest_version: SeqNo,
}

/// Which end of a range an iterator step takes.
#[derive(Clone, Copy)]
enum End {
    /// The smallest entry in the range: forward moves.
    First,
    /// The largest entry in the range: backward moves.
    Last,
}

impl BTreeMemtable {
    /// An empty memtable.
    pub fn new() -> BTreeMemtable {
        BTreeMemtable::default()
    }

    /// Takes the read lock. A poisoned lock still guards a valid map (see the module docs).
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the write lock, the same way.
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// One iterator step: the first or last entry within `bounds`, cloned out so that the
    /// read lock is released before this returns.
    fn entry_in(
        &self,
        bounds: (Bound<&InternalKey>, Bound<&InternalKey>),
        end: End,
    ) -> Option<(InternalKey, Bytes)> {
        let inner = self.read();
        let mut range = inner.map.range::<InternalKey, _>(bounds);
        let found = match end {
            End::First => range.next(),
            End::Last => range.next_back(),
        };
        found.map(|(key, value)| (key.clone(), value.clone()))
    }
}

// A summary rather than the derived dump of every entry, which for a full memtable would
// be millions of lines in a log.
impl fmt::Debug for BTreeMemtable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.read();
        f.debug_struct("BTreeMemtable")
            .field("entries", &inner.map.len())
            .field("approximate_size", &inner.size)
            .finish()
    }
}

impl Memtable for BTreeMemtable {
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        let mut inner = self.write();
        let mut inserted = 0;
        for entry in entries {
            let bytes = entry.key.len() + entry.value.len();
            inserted += bytes as u64;
            inner.size += bytes + BTREE_ENTRY_OVERHEAD;
            // The batch's bytes belong to the caller, so the key and value are copied. A
            // delete's value is already empty: the batch stores none for it. A range
            // delete's "value" is the end of its range.
            let start = Bytes::copy_from_slice(entry.key);
            let value = Bytes::copy_from_slice(entry.value);
            match entry.kind.value_kind() {
                Some(kind) => {
                    let key = InternalKey::new(start, entry.seq, kind);
                    inner.map.insert(key, value);
                    inner.newest_version = inner.newest_version.max(entry.seq);
                }
                None => {
                    let end = (!value.is_empty()).then_some(value);
                    let tombstone = RangeTombstone::new(start, end, entry.seq);
                    inner.range_tombstones.add(tombstone);
                }
            }
        }
        inserted
    }

    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        // `seek_key` is the smallest internal key of `user_key` at `snapshot`: the first
        // entry at or after it is the newest version no newer than `snapshot`, if it
        // belongs to the same user key at all.
        let probe = InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot);
        let inner = self.read();
        let point = (inner.map.range(probe..).next())
            .filter(|(key, _)| key.user_key() == user_key)
            .map(|(key, value)| match key.kind() {
                ValueKind::Put => (key.seq(), Lookup::Value(value.clone())),
                ValueKind::Delete => (key.seq(), Lookup::Deleted),
            });
        inner.range_tombstones.resolve(user_key, snapshot, point)
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        self.read().range_tombstones.get()
    }

    fn newest_version(&self) -> Option<SeqNo> {
        Some(self.read().newest_version)
    }

    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        Box::new(Iter {
            table: self,
            current: None,
        })
    }

    fn approximate_size(&self) -> usize {
        self.read().size
    }

    fn len(&self) -> usize {
        let inner = self.read();
        inner.map.len() + inner.range_tombstones.len()
    }
}

/// Makes [`BTreeMemtable`]s, for an engine (or a test) that takes a [`MemtableFactory`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BTreeFactory;

impl MemtableFactory for BTreeFactory {
    fn create(&self) -> Arc<dyn Memtable> {
        Arc::new(BTreeMemtable::new())
    }
}

/// The iterator: the memtable it keeps alive, and where it is.
struct Iter {
    table: Arc<BTreeMemtable>,
    /// The current entry, cloned out of the map; `None` when not positioned.
    current: Option<(InternalKey, Bytes)>,
}

impl InternalIterator for Iter {
    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        let (key, _) = self.current.as_ref().expect("key() on an invalid iterator");
        key.as_ref()
    }

    fn value(&self) -> Bytes {
        let (_, value) = self
            .current
            .as_ref()
            .expect("value() on an invalid iterator");
        value.clone()
    }

    fn seek_to_first(&mut self) {
        let everything = (Bound::Unbounded, Bound::Unbounded);
        self.current = self.table.entry_in(everything, End::First);
    }

    fn seek_to_last(&mut self) {
        let everything = (Bound::Unbounded, Bound::Unbounded);
        self.current = self.table.entry_in(everything, End::Last);
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        // The map searches with its own key type, so the target is copied (see "Why a
        // lookup copies the user key").
        let target = target.to_owned();
        let at_or_after = (Bound::Included(&target), Bound::Unbounded);
        self.current = self.table.entry_in(at_or_after, End::First);
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        let target = target.to_owned();
        let at_or_before = (Bound::Unbounded, Bound::Included(&target));
        self.current = self.table.entry_in(at_or_before, End::Last);
    }

    fn next(&mut self) {
        if let Some((key, _)) = &self.current {
            let after = (Bound::Excluded(key), Bound::Unbounded);
            self.current = self.table.entry_in(after, End::First);
        }
    }

    fn prev(&mut self) {
        if let Some((key, _)) = &self.current {
            let before = (Bound::Unbounded, Bound::Excluded(key));
            self.current = self.table.entry_in(before, End::Last);
        }
    }

    fn status(&self) -> ferris_core::Result<()> {
        // Nothing here reads a disk, so nothing can fail.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use ferris_core::WriteBatch;

    use super::*;

    /// The sizes "Memory accounting" is worked out from. If one changes, so must
    /// [`BTREE_ENTRY_OVERHEAD`]'s derivation.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_layout_the_overhead_is_worked_out_from() {
        assert_eq!(size_of::<InternalKey>(), 48);
        assert_eq!(size_of::<Bytes>(), 32);
    }

    #[test]
    fn every_entry_counts_its_bytes_and_the_overhead() {
        let table = BTreeMemtable::new();
        let mut batch = WriteBatch::new();
        batch.put(b"key", b"value").delete(b"key").put(b"k", b"");
        batch.set_seq(1);
        assert_eq!(table.apply(batch.iter()), 3 + 5 + 3 + 1);
        assert_eq!(table.len(), 3);
        assert_eq!(table.approximate_size(), 12 + 3 * BTREE_ENTRY_OVERHEAD);
    }

    /// An iterator sees an entry applied ahead of it after it was positioned, and not one
    /// applied behind it: every step searches the map as it is then.
    #[test]
    fn an_iterator_sees_entries_applied_ahead_of_it() {
        let table = Arc::new(BTreeMemtable::new());
        let put = |key: &[u8], seq| {
            let mut batch = WriteBatch::new();
            batch.put(key, b"v");
            batch.set_seq(seq);
            table.apply(batch.iter());
        };
        put(b"b", 1);
        let mut it = Arc::clone(&table).iter();
        it.seek_to_first();
        put(b"a", 2);
        put(b"c", 3);
        let mut seen = vec![it.key().user_key.to_vec()];
        it.next();
        while it.valid() {
            seen.push(it.key().user_key.to_vec());
            it.next();
        }
        assert_eq!(seen, [b"b", b"c"]);
    }

    #[test]
    fn debug_prints_a_summary() {
        let table = BTreeMemtable::new();
        assert_eq!(
            format!("{table:?}"),
            "BTreeMemtable { entries: 0, approximate_size: 0 }"
        );
    }
}
