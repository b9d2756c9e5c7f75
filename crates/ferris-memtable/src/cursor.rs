//! A cursor that owns its memtable.
//!
//! The engine merges memtables with tables through cursors it keeps for as long as a scan
//! lives, so a cursor cannot borrow the memtable: it holds an `Arc<SkipListMemtable>`
//! instead. Its position is a node of the skip list, and a [`Node`] borrows the list, which
//! a struct cannot do next to the `Arc` that owns it in safe Rust. Without the node, every
//! step would be a fresh search from the current key: O(log n) key comparisons per `next`
//! instead of following one link. `cargo xtask bench`'s seekrandom workload (a seek then
//! 100 nexts) spent most of its time in those searches before cursors kept their place.
//!
//! So the cursor keeps the node with its lifetime widened to `'static`, next to the `Arc`
//! that keeps the list alive. The `// SAFETY:` comment in [`Cursor::set`] says why that is
//! sound; the property test in `tests/it/model.rs` walks cursors both ways against a model.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::InternalKeyRef;
use ferris_core::key::pack_trailer;

use crate::list::Node;
use crate::skiplist::{SkipListMemtable, entry_key};

/// A movable position in a shared memtable, for merging with other sorted sources.
///
/// `next` follows the skip list's bottom-level link, O(1); `seek`, `seek_for_prev` and
/// `prev` search, O(log n) (a skip list has no backward links). Entries inserted while
/// the cursor is positioned are seen if they fall ahead of it. See
/// [`SkipListMemtable::cursor`].
#[derive(Clone)]
pub struct Cursor {
    /// A node of `table`'s list; never handed out with this lifetime (every accessor
    /// borrows `self`).
    current: Option<Node<'static>>,
    table: Arc<SkipListMemtable>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("key", &self.node().map(entry_key))
            .finish_non_exhaustive()
    }
}

impl Cursor {
    pub(crate) fn new(table: Arc<SkipListMemtable>) -> Cursor {
        Cursor {
            current: None,
            table,
        }
    }

    /// Moves to `node`, which a search of `self.table`'s list returned.
    fn set(&mut self, node: Option<Node<'_>>) {
        // SAFETY: a `Node` is a pointer into the list's arena, which the list frees only
        // when it is dropped, and its lifetime only bounds how long the list lives. Every
        // node given to `set` comes from `self.table.list`, and the widened node is only
        // kept here, beside the `Arc` that keeps that list alive (moving the `Arc` does not
        // move the list). It is never handed out with the `'static` lifetime: `node`
        // narrows it to a borrow of `self`. The transmute changes only a lifetime, so the
        // layout is the same.
        self.current = node.map(|n| unsafe { std::mem::transmute::<Node<'_>, Node<'static>>(n) });
    }

    fn node(&self) -> Option<Node<'_>> {
        self.current
    }

    fn here(&self, what: &str) -> Node<'_> {
        self.node()
            .unwrap_or_else(|| panic!("{what}() on an unpositioned cursor"))
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
        entry_key(self.here("key"))
    }

    /// The current value (empty for a tombstone), read in place.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Cursor::valid).
    pub fn value(&self) -> &[u8] {
        self.here("value").value()
    }

    /// Positions on the first entry.
    pub fn seek_to_first(&mut self) {
        let table = Arc::clone(&self.table);
        self.set(table.list.first());
    }

    /// Positions on the last entry.
    pub fn seek_to_last(&mut self) {
        let table = Arc::clone(&self.table);
        self.set(table.list.last());
    }

    /// Positions on the first entry at or after `target` in internal-key order.
    pub fn seek(&mut self, target: InternalKeyRef<'_>) {
        let table = Arc::clone(&self.table);
        let trailer = pack_trailer(target.seq, target.kind);
        self.set(table.list.seek_ge(target.user_key, trailer));
    }

    /// Positions on the last entry at or before `target` in internal-key order.
    pub fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        let table = Arc::clone(&self.table);
        let trailer = pack_trailer(target.seq, target.kind);
        self.set(table.list.seek_le(target.user_key, trailer));
    }

    /// Moves to the next entry; past the last one the cursor becomes invalid.
    pub fn next(&mut self) {
        self.current = self.current.and_then(Node::next);
    }

    /// Moves to the previous entry; before the first one the cursor becomes invalid.
    pub fn prev(&mut self) {
        let table = Arc::clone(&self.table);
        let prev = self.current.and_then(|n| table.list.prev(n));
        self.set(prev);
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
        Bytes::copy_from_slice(Cursor::value(self))
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
