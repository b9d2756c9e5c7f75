//! The skip list itself: nodes packed into arena chunks, one writer at a time, readers
//! that never wait. All of this crate's pointer work lives in this module; the memtable
//! above it (`skiplist.rs`) and its cursor are written against [`List`] and [`Node`].
//!
//! # A node in memory
//!
//! A node is one contiguous run of bytes in a chunk, laid out as RocksDB's inline skip list
//! lays its nodes out: the links first, the highest level lowest in memory, then the
//! entry. A node's address is that of its level-0 link, so the entry a search compares
//! with starts eight bytes after the link it just followed, usually in the same cache
//! line, and the height never needs storing: a search reaches a node at some level, so
//! the node has that level.
//!
//! ```text
//!             ┌ node
//! ... next[2] next[1] next[0] │ trailer (u64) │ key len (u32) │ value len (u32) │ key │ value │ pad
//!             -16     -8      0               8               16                24
//! ```
//!
//! The trailer is the sequence number and kind packed as the internal key's trailer
//! ([`ferris_core::key::pack_trailer`]); the node ends padded to eight bytes, so the next
//! node's links are aligned. With 16-byte keys, 100-byte values and on average 4/3 links
//! (each level is kept with probability 1/4), a node takes 16 + 100 + 10.7 + 16 + 4 ≈ 147
//! bytes: the pointer-per-node structures it replaced took 244.
//!
//! # Why it is sound
//!
//! - **Memory lives as long as the list.** Chunks are allocated with the global allocator
//!   and freed only in [`List`]'s `Drop`; nothing is ever removed from the list. A
//!   [`Node<'a>`] borrows the list for `'a`, so every slice it hands out does too.
//! - **An entry is immutable once reachable.** The writer fills a node's entry and its own
//!   links before a `Release` store of a link to it makes it reachable; readers load links
//!   with `Acquire`, so whoever reaches a node sees it whole. After that only the links
//!   change, and they are atomics.
//! - **One writer at a time.** Inserts hold the arena's mutex (the engine applies one write
//!   group at a time, so it is uncontended there); a link is only ever stored by the
//!   writer, so no compare-and-swap is needed, as in LevelDB's skip list.
//! - **A level is only read from a node that has it.** A search follows level `l` from a
//!   node it reached by a level-`l` link (or from the head, which has every level), and a
//!   node linked at level `l` has `l + 1` links.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cmp::Ordering as CmpOrdering;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferris_core::key::compare_user_keys;

/// Most levels a node can have. Each level holds a quarter of the one below, so 16
/// levels keep searches logarithmic up to 4^16 entries, far beyond any memtable.
pub(crate) const MAX_HEIGHT: usize = 16;

/// Bytes of one chunk of a memtable's arena: nodes are placed one after another in the
/// current chunk, and a new chunk is taken when the next node does not fit.
pub const ARENA_CHUNK: usize = 64 * 1024;

/// Nodes longer than this get an allocation of their own instead of a place in a chunk,
/// so that no chunk is left mostly empty by one large value.
const OWN_BLOCK: usize = ARENA_CHUNK / 8;

const LINK: usize = size_of::<AtomicPtr<u8>>();

/// Trailer, key length and value length.
const HEADER: usize = 16;

/// Bytes a node with `height` links, a `key_len`-byte key and a `value_len`-byte value
/// takes, padding included.
pub(crate) fn node_size(height: usize, key_len: usize, value_len: usize) -> usize {
    (height * LINK + HEADER + key_len + value_len).next_multiple_of(LINK)
}

/// A node of a [`List`], borrowed from it for `'a`: a copyable pointer that reads the
/// entry in place.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    /// The node's level-0 link; the entry follows it.
    ptr: NonNull<u8>,
    list: PhantomData<&'a List>,
}

// SAFETY: a `Node` is a shared reference in all but name: it reads an entry that never
// changes once reachable, and links that are atomics (see the module docs).
unsafe impl Send for Node<'_> {}
// SAFETY: as for `Send`.
unsafe impl Sync for Node<'_> {}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl Eq for Node<'_> {}

impl<'a> Node<'a> {
    /// # Safety
    ///
    /// `ptr` is a node of a list that `'a` borrows (or its head).
    unsafe fn new(ptr: NonNull<u8>) -> Node<'a> {
        Node {
            ptr,
            list: PhantomData,
        }
    }

    /// The link at `level`, which the node must have (see the module docs).
    fn link(self, level: usize) -> &'a AtomicPtr<u8> {
        // SAFETY: links sit below the node's address, level `l` at `8 * l` bytes below,
        // eight-aligned; the node has `level` (callers keep the rule in the module docs),
        // and the list outlives `'a`.
        unsafe { &*self.ptr.as_ptr().sub(level * LINK).cast::<AtomicPtr<u8>>() }
    }

    fn next_at(self, level: usize) -> Option<Node<'a>> {
        // SAFETY: a link holds null or a node of the same list.
        NonNull::new(self.link(level).load(Ordering::Acquire)).map(|p| unsafe { Node::new(p) })
    }

    /// The next node in order, following the bottom link.
    pub(crate) fn next(self) -> Option<Node<'a>> {
        self.next_at(0)
    }

    fn header(self) -> (u64, usize, usize) {
        // SAFETY: the header follows the level-0 link, written before the node became
        // reachable and never changed; eight-aligned, so the reads are aligned.
        unsafe {
            let h = self.ptr.as_ptr().add(LINK);
            let trailer = h.cast::<u64>().read();
            let key_len = h.add(8).cast::<u32>().read() as usize;
            let value_len = h.add(12).cast::<u32>().read() as usize;
            (trailer, key_len, value_len)
        }
    }

    /// The entry's trailer: sequence number and kind.
    pub(crate) fn trailer(self) -> u64 {
        self.header().0
    }

    /// The entry's user key.
    pub(crate) fn user_key(self) -> &'a [u8] {
        let (_, key_len, _) = self.header();
        // SAFETY: `key_len` bytes of key follow the header, immutable while the list
        // lives (`'a`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(LINK + HEADER), key_len) }
    }

    /// The entry's value.
    pub(crate) fn value(self) -> &'a [u8] {
        let (_, key_len, value_len) = self.header();
        // SAFETY: as for the key, which the value follows.
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().add(LINK + HEADER + key_len), value_len)
        }
    }

    /// The node's key against the internal key (`user_key`, `trailer`): user keys
    /// ascending, then trailers descending (newer versions first).
    pub(crate) fn cmp_key(self, user_key: &[u8], trailer: u64) -> CmpOrdering {
        compare_user_keys(self.user_key(), user_key).then_with(|| trailer.cmp(&self.trailer()))
    }
}

/// An insert-only skip list of entries (an internal key and a value) in arena chunks.
pub(crate) struct List {
    /// A node with every level and no entry, in a block of its own; never compared.
    head: NonNull<u8>,
    /// Levels in use: searches start at the highest.
    height: AtomicUsize,
    arena: Mutex<Arena>,
}

// SAFETY: the list owns its chunks; shared access reads immutable entries and atomic
// links, and every write goes through the arena's mutex (module docs).
unsafe impl Send for List {}
// SAFETY: as for `Send`.
unsafe impl Sync for List {}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("List")
            .field("height", &self.height.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The writer's side: where the next node goes, every block to free, and the random
/// heights.
struct Arena {
    /// The current chunk's first free byte, and how many are left.
    free: *mut u8,
    left: usize,
    /// Every block allocated, chunks and single nodes alike, freed with the list.
    blocks: Vec<(NonNull<u8>, Layout)>,
    /// Bytes given to nodes, plus the tails of chunks left unused.
    used: usize,
    rng: u64,
}

// SAFETY: the pointers are into blocks the list owns; the arena is only reached through
// the list's mutex.
unsafe impl Send for Arena {}

impl Arena {
    /// A fresh block of `size` bytes, eight-aligned, freed with the list.
    fn block(&mut self, size: usize) -> NonNull<u8> {
        let layout = Layout::from_size_align(size, LINK).expect("a node is far below isize::MAX");
        // SAFETY: `size` is never zero (a node has a link and a header).
        let ptr =
            NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout));
        self.blocks.push((ptr, layout));
        ptr
    }

    /// `size` bytes (a multiple of eight) for one node.
    fn alloc(&mut self, size: usize) -> NonNull<u8> {
        self.used += size;
        if size > OWN_BLOCK {
            return self.block(size);
        }
        if size > self.left {
            // The rest of the old chunk is lost: count it, so the size the engine compares
            // with its write buffer is what the memtable holds.
            self.used += self.left;
            self.free = self.block(ARENA_CHUNK).as_ptr();
            self.left = ARENA_CHUNK;
        }
        let ptr = self.free;
        // SAFETY: `size <= left`, so this stays inside (or one past the end of) the chunk.
        self.free = unsafe { ptr.add(size) };
        self.left -= size;
        // SAFETY: `ptr` is inside a block just allocated or from `free`, never null.
        unsafe { NonNull::new_unchecked(ptr) }
    }

    /// A random height: 1, then one more level with probability 1/4 each (xorshift64*).
    fn random_height(&mut self) -> usize {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        // Two more zero bits at the bottom per level: probability 1/4 each.
        1 + (r.trailing_zeros() as usize / 2).min(MAX_HEIGHT - 1)
    }
}

impl Drop for List {
    fn drop(&mut self) {
        let arena = self.arena.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (ptr, layout) in arena.blocks.drain(..) {
            // SAFETY: allocated by `Arena::block` with this layout, freed once; no node
            // outlives the list (they borrow it).
            unsafe { dealloc(ptr.as_ptr(), layout) };
        }
    }
}

impl Default for List {
    fn default() -> List {
        let mut arena = Arena {
            free: std::ptr::null_mut(),
            left: 0,
            blocks: Vec::new(),
            used: 0,
            // Any odd constant: the sequence of heights need not differ between lists.
            rng: 0x9e37_79b9_7f4a_7c15,
        };
        let size = node_size(MAX_HEIGHT, 0, 0);
        let block = arena.block(size);
        // SAFETY: the block has `size` bytes: zero every link (null) and the header.
        let head = unsafe {
            std::ptr::write_bytes(block.as_ptr(), 0, size);
            NonNull::new_unchecked(block.as_ptr().add((MAX_HEIGHT - 1) * LINK))
        };
        List {
            head,
            height: AtomicUsize::new(1),
            arena: Mutex::new(arena),
        }
    }
}

impl List {
    fn head(&self) -> Node<'_> {
        // SAFETY: the head is this list's.
        unsafe { Node::new(self.head) }
    }

    /// Where a search ends: from the head, at each level from the highest down, moving
    /// right while `right` holds for the next node. `right` must hold for a prefix of the
    /// list (true, then false from some node on). Returns the last node it holds for (the
    /// head if none) and the node after it that the search saw, for which it does not.
    ///
    /// The second must be the node the search compared, not the last one's link read
    /// again: a writer may link a node in between meanwhile, one that `right` would have
    /// held for (a newer version of the key sought, say).
    fn descend(&self, right: impl FnMut(Node<'_>) -> bool) -> (Node<'_>, Option<Node<'_>>) {
        self.descend_noting(right, |_, _| ())
    }

    /// [`descend`](List::descend), calling `note(level, node)` with the node it ends each
    /// level on: the last one `right` holds for there (what an insert links after).
    fn descend_noting<'a>(
        &'a self,
        mut right: impl FnMut(Node<'a>) -> bool,
        mut note: impl FnMut(usize, Node<'a>),
    ) -> (Node<'a>, Option<Node<'a>>) {
        let mut x = self.head();
        let mut after = None;
        for level in (0..self.height.load(Ordering::Relaxed)).rev() {
            loop {
                after = x.next_at(level);
                match after {
                    Some(next) if right(next) => x = next,
                    _ => break,
                }
            }
            note(level, x);
        }
        (x, after)
    }

    /// `node`, unless it is the head.
    fn real<'a>(&'a self, node: Node<'a>) -> Option<Node<'a>> {
        (node.ptr != self.head).then_some(node)
    }

    /// The first node.
    pub(crate) fn first(&self) -> Option<Node<'_>> {
        self.head().next()
    }

    /// The last node.
    pub(crate) fn last(&self) -> Option<Node<'_>> {
        self.real(self.descend(|_| true).0)
    }

    /// The first node at or after the internal key (`user_key`, `trailer`).
    pub(crate) fn seek_ge(&self, user_key: &[u8], trailer: u64) -> Option<Node<'_>> {
        self.descend(|n| n.cmp_key(user_key, trailer).is_lt()).1
    }

    /// The first node after the internal key.
    pub(crate) fn seek_gt(&self, user_key: &[u8], trailer: u64) -> Option<Node<'_>> {
        self.descend(|n| n.cmp_key(user_key, trailer).is_le()).1
    }

    /// The last node before the internal key.
    pub(crate) fn seek_lt(&self, user_key: &[u8], trailer: u64) -> Option<Node<'_>> {
        self.real(self.descend(|n| n.cmp_key(user_key, trailer).is_lt()).0)
    }

    /// The last node at or before the internal key.
    pub(crate) fn seek_le(&self, user_key: &[u8], trailer: u64) -> Option<Node<'_>> {
        self.real(self.descend(|n| n.cmp_key(user_key, trailer).is_le()).0)
    }

    /// The node before `node` (a search: there are no backward links).
    pub(crate) fn prev<'a>(&'a self, node: Node<'a>) -> Option<Node<'a>> {
        self.seek_lt(node.user_key(), node.trailer())
    }

    /// The writer's side, for one insert or a batch of them: waits for any other writer.
    pub(crate) fn writer(&self) -> Writer<'_> {
        Writer {
            list: self,
            arena: self.arena.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// The one writer of a [`List`], holding its arena.
pub(crate) struct Writer<'a> {
    list: &'a List,
    arena: MutexGuard<'a, Arena>,
}

impl Writer<'_> {
    /// Bytes the list's nodes take, with the unused tails of full chunks.
    pub(crate) fn used(&self) -> usize {
        self.arena.used
    }

    /// Inserts an entry; returns the bytes its node took, or `None` (and inserts
    /// nothing) if the list already holds an entry with this internal key.
    ///
    /// # Panics
    ///
    /// Panics if the key or the value is 4 GiB or longer.
    pub(crate) fn insert(&mut self, user_key: &[u8], trailer: u64, value: &[u8]) -> Option<usize> {
        let list = self.list;
        // Where the node goes, at every level: the last node before it.
        let mut before = [list.head(); MAX_HEIGHT];
        let height = list.height.load(Ordering::Relaxed);
        let (_, after) = list.descend_noting(
            |n| n.cmp_key(user_key, trailer).is_lt(),
            |level, x| before[level] = x,
        );
        if after.is_some_and(|n| n.cmp_key(user_key, trailer).is_eq()) {
            return None;
        }
        let node_height = self.arena.random_height();
        if node_height > height {
            // Readers may see the new height before the head's new links: a null link
            // sends them down a level, as it should.
            list.height.store(node_height, Ordering::Relaxed);
        }
        let key_len = u32::try_from(user_key.len()).expect("key under 4 GiB");
        let value_len = u32::try_from(value.len()).expect("value under 4 GiB");
        let size = node_size(node_height, user_key.len(), value.len());
        let block = self.arena.alloc(size);
        // SAFETY: `block` has `size` bytes, eight-aligned, that no one else can reach yet.
        // The node's address is its level-0 link, `node_height - 1` links into the block;
        // the header, key and value follow it, inside `size` (see `node_size`).
        let node = unsafe {
            let ptr = block.as_ptr().add((node_height - 1) * LINK);
            let h = ptr.add(LINK);
            h.cast::<u64>().write(trailer);
            h.add(8).cast::<u32>().write(key_len);
            h.add(12).cast::<u32>().write(value_len);
            let k = h.add(HEADER);
            std::ptr::copy_nonoverlapping(user_key.as_ptr(), k, user_key.len());
            std::ptr::copy_nonoverlapping(value.as_ptr(), k.add(user_key.len()), value.len());
            Node::new(NonNull::new_unchecked(ptr))
        };
        // Bottom up, so a reader that finds the node at some level also finds it below.
        // Each `Release` store publishes everything written to the node before it.
        for (level, before) in before.iter().enumerate().take(node_height) {
            let next = before.link(level).load(Ordering::Relaxed);
            node.link(level).store(next, Ordering::Relaxed);
            before
                .link(level)
                .store(node.ptr.as_ptr(), Ordering::Release);
        }
        Some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sizes_are_what_the_module_docs_say() {
        assert_eq!(node_size(1, 16, 100), 8 + 16 + 16 + 100 + 4);
        assert_eq!(node_size(2, 0, 0), 32);
        assert_eq!(node_size(MAX_HEIGHT, 0, 0) % LINK, 0);
    }

    #[test]
    fn heights_thin_out_by_a_quarter_per_level() {
        let list = List::default();
        let mut writer = list.writer();
        let n = 400_000;
        let mut at_least = [0usize; MAX_HEIGHT + 1];
        for _ in 0..n {
            let h = writer.arena.random_height();
            assert!((1..=MAX_HEIGHT).contains(&h));
            for count in &mut at_least[..=h] {
                *count += 1;
            }
        }
        // Expected n / 4^(h-1): 400,000, 100,000, 25,000, 6,250; within a few percent.
        for (h, expected) in [(2, 100_000.0), (3, 25_000.0), (4, 6_250.0)] {
            let got = at_least[h] as f64;
            assert!((got / expected - 1.0).abs() < 0.1, "height {h}: {got}");
        }
    }

    /// Nodes bigger than an eighth of a chunk get blocks of their own; the rest share
    /// chunks, and every entry reads back from wherever it went.
    #[test]
    fn small_and_large_nodes_read_back() {
        let list = List::default();
        let sizes = [
            0usize,
            1,
            7,
            8,
            100,
            OWN_BLOCK - 64,
            OWN_BLOCK,
            3 * ARENA_CHUNK,
        ];
        let mut w = list.writer();
        for i in 0..200 {
            let len = sizes[i % sizes.len()];
            let key = format!("{i:03}-{len}");
            let value = vec![i as u8; len];
            let trailer = (i as u64) << 8 | 1;
            assert!(w.insert(key.as_bytes(), trailer, &value).is_some());
            assert_eq!(w.insert(key.as_bytes(), trailer, &value), None, "duplicate");
        }
        drop(w);
        let mut n = 0;
        let mut node = list.first();
        while let Some(x) = node {
            let key = std::str::from_utf8(x.user_key()).unwrap();
            let (i, len) = key.split_once('-').unwrap();
            assert_eq!(
                x.value(),
                vec![i.parse::<u8>().unwrap(); len.parse().unwrap()]
            );
            node = x.next();
            n += 1;
        }
        assert_eq!(n, 200);
    }
}
