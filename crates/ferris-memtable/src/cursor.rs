//! A cursor that owns its memtable: the one place this crate uses `unsafe`.
//!
//! The engine merges memtables with tables through cursors it keeps for as long as a scan
//! lives, so a cursor cannot borrow the memtable: it holds an `Arc<SkipListMemtable>`
//! instead. The skip list's own position, a `crossbeam_skiplist::map::Entry`, borrows the
//! list, and a struct cannot hold both a value and a borrow of it in safe Rust. Without the
//! entry, every step is a fresh search from the current key: O(log n) key comparisons per
//! `next` instead of following one pointer. `cargo xtask bench`'s seekrandom workload (a
//! seek then 100 nexts) spent most of its time in those searches before this module
//! existed.
//!
//! So the cursor keeps the entry with its lifetime widened to `'static`, next to the `Arc`
//! that keeps what it borrows alive. The `// SAFETY:` comment on [`widen`] says why that is
//! sound; the rest of the module is safe code. The property test in `tests/it/model.rs`
//! walks cursors both ways against a model.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_skiplist::map::Entry;
use ferris_core::InternalKeyRef;

use crate::skiplist::{Key, KeyView, Probe, SkipListMemtable};

/// A movable position in a shared memtable, for merging with other sorted sources.
///
/// `next` follows the skip list's bottom-level link, O(1); `seek`, `seek_for_prev` and
/// `prev` search, O(log n) (a skip list has no backward links). Entries inserted while
/// the cursor is positioned are seen if they fall ahead of it. See
/// [`SkipListMemtable::cursor`].
pub struct Cursor {
    // Field order matters: `current` borrows from `table`'s skip list, and fields drop in
    // declaration order, so the entry is released before the `Arc` can free the list.
    current: Option<Entry<'static, Key, Bytes>>,
    table: Arc<SkipListMemtable>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("key", &self.current.as_ref().map(|e| e.key()))
            .finish_non_exhaustive()
    }
}

impl Clone for Cursor {
    fn clone(&self) -> Cursor {
        Cursor {
            current: self.current.clone(),
            table: Arc::clone(&self.table),
        }
    }
}

/// Widens the lifetime of an entry of `table`'s skip list to `'static`.
fn widen(
    table: &Arc<SkipListMemtable>,
    entry: Entry<'_, Key, Bytes>,
) -> Entry<'static, Key, Bytes> {
    debug_assert!(std::ptr::eq(
        entry.key(),
        table
            .map
            .get(entry.key())
            .map_or(std::ptr::null(), |e| e.key() as *const Key)
    ));
    // SAFETY: an `Entry` is a reference to the skip list plus a reference-counted pointer
    // to one of its nodes; its lifetime only bounds how long the list it points into
    // lives. Every entry given to `widen` comes from `table.map`, and the widened entry is
    // only ever stored in a `Cursor` beside a clone of `table`'s `Arc` (the `Arc`'s heap
    // allocation never moves, so the list's address stays valid). The entry is dropped
    // before that `Arc` (field order, and `set` replaces it in place), so the list outlives
    // every use of it. The node itself stays allocated while the entry holds its count,
    // and memtables never remove entries anyway. Entries are never handed out with the
    // `'static` lifetime: `key` and `value` borrow from `&self`. The transmute changes
    // only a lifetime parameter, so the layout is the same.
    unsafe { std::mem::transmute::<Entry<'_, Key, Bytes>, Entry<'static, Key, Bytes>>(entry) }
}

impl Cursor {
    pub(crate) fn new(table: Arc<SkipListMemtable>) -> Cursor {
        Cursor {
            current: None,
            table,
        }
    }

    fn set(&mut self, entry: Option<Entry<'_, Key, Bytes>>) {
        self.current = entry.map(|e| widen(&self.table, e));
    }

    /// Whether the cursor is on an entry.
    pub fn valid(&self) -> bool {
        self.current.is_some()
    }

    /// The current key.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Cursor::valid).
    pub fn key(&self) -> InternalKeyRef<'_> {
        self.current
            .as_ref()
            .expect("key() on an unpositioned cursor")
            .key()
            .as_ref()
    }

    /// The current value (empty for a tombstone).
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Cursor::valid).
    pub fn value(&self) -> &Bytes {
        self.current
            .as_ref()
            .expect("value() on an unpositioned cursor")
            .value()
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        let table = Arc::clone(&self.table);
        self.set(table.map.front());
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        let table = Arc::clone(&self.table);
        self.set(table.map.back());
    }

    /// Positions on the first entry at or after `target` in internal-key order.
    pub fn seek(&mut self, target: InternalKeyRef<'_>) {
        let probe = Probe::of(target);
        let table = Arc::clone(&self.table);
        self.set(
            table
                .map
                .lower_bound(Bound::Included(&probe as &dyn KeyView)),
        );
    }

    /// Positions on the last entry at or before `target` in internal-key order.
    pub fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        let probe = Probe::of(target);
        let table = Arc::clone(&self.table);
        self.set(
            table
                .map
                .upper_bound(Bound::Included(&probe as &dyn KeyView)),
        );
    }

    /// Moves to the next entry; past the last one the cursor becomes invalid.
    pub fn next(&mut self) {
        if let Some(entry) = &mut self.current
            && !entry.move_next()
        {
            self.current = None;
        }
    }

    /// Moves to the previous entry; before the first one the cursor becomes invalid.
    pub fn prev(&mut self) {
        if let Some(entry) = &mut self.current
            && !entry.move_prev()
        {
            self.current = None;
        }
    }
}

impl ferris_core::InternalIterator for Cursor {
    fn valid(&self) -> bool {
        Cursor::valid(self)
    }
    fn key(&self) -> InternalKeyRef<'_> {
        Cursor::key(self)
    }
    fn value(&self) -> Bytes {
        Cursor::value(self).clone()
    }
    fn seek_to_first(&mut self) {
        Cursor::seek_to_first(self);
    }
    fn seek_to_last(&mut self) {
        Cursor::seek_to_last(self);
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        Cursor::seek(self, target);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        Cursor::seek_for_prev(self, target);
    }
    fn next(&mut self) {
        Cursor::next(self);
    }
    fn prev(&mut self) {
        Cursor::prev(self);
    }
    fn status(&self) -> ferris_core::Result<()> {
        Ok(())
    }
}
