//! # ferris-memtable: where writes wait, sorted, before they reach disk
//!
//! ## The problem
//!
//! Disks are fast at writing big sequential files and slow at updating small pieces in
//! place. An LSM tree therefore never updates a file: it collects writes in memory, keeps
//! them **sorted**, and when enough have gathered, writes them out in one sequential pass as
//! a sorted table. The in-memory part is the **memtable**. It must take inserts while it
//! answers reads, and iterate in key order for the flush.
//!
//! Every write first went to the write-ahead log (`ferris-wal`), so the memtable itself
//! needs no durability: after a crash it is rebuilt by replaying the log.
//!
//! ## What the engine needs: the contract
//!
//! The engine does not know which memtable it has. It asks for four things, and the
//! [`Memtable`] trait (defined in [`ferris_core::memtable`], re-exported here) is exactly
//! those four: **apply** a write batch, each entry at its own sequence number; **get** the
//! newest version of a key no newer than a snapshot, a value or a tombstone; **iterate**
//! over every version in internal-key order, through an owning
//! [`InternalIterator`](ferris_core::InternalIterator); and report an **approximate size**,
//! which decides when the memtable is full. The engine makes memtables through a
//! [`MemtableFactory`], so any implementation can be plugged in. Read the contract's page
//! first: it says what a version is, what a reader may see while a batch is applied, and
//! what "full" means.
//!
//! The keys are **internal keys** (`ferris_core::InternalKey`): user key, sequence number
//! and kind, with newer versions of a key first. Nothing is ever overwritten: a put adds a
//! version, a delete adds a tombstone. A read at sequence number `s` seeks to `(key, s)`
//! and the first entry with the same user key is the answer, which is how a snapshot sees
//! the past while writes continue.
//!
//! ## Two implementations, and which to read first
//!
//! | | [`BTreeMemtable`] ([`btree`]) | [`SkipListMemtable`] (the default) |
//! |---|---|---|
//! | structure | `BTreeMap` behind an `RwLock` | skip list with its nodes in arena chunks |
//! | readers during a write | wait for the batch | never wait |
//! | iterator step | a fresh search, O(log n) | follows a link, O(1) for `next` |
//! | lookup | copies the key into a probe | allocates nothing until it finds a value |
//! | memory per entry beyond key and value | [`BTREE_ENTRY_OVERHEAD`], 256 bytes | about 31 bytes: a node's header, links and padding |
//! | factory | [`BTreeFactory`] | [`SkipListFactory`] |
//!
//! **Read `src/btree.rs` first** (its page is [`btree`]). It is the simplest memtable
//! that is correct: a couple of hundred lines of the standard library, with the reason for
//! every line, and it passes the same conformance suite (`ferris-conformance`, module
//! `memtable`) as the skip list. Then read the rest of this chapter and `src/skiplist.rs`,
//! and `src/list.rs`, which do the same job with readers that never wait, with every
//! entry packed into one node, and with a cursor that does not search again at every
//! step: everything the skip list adds is for speed and memory, and the B-tree shows what
//! it must still preserve.
//!
//! ## The skip list
//!
//! ### The idea: a skip list of internal keys
//!
//! A skip list is a sorted linked list with express lanes. Each node is in the bottom list
//! and, with probability 1/4 per level, in the lists above, so a search starts high, skips
//! far, and drops down when it would overshoot: O(log n) like a balanced tree, but an
//! insert only links one new node in at a few levels, with no rebalancing.
//!
//! ```text
//! level 2: head ─────────────────────────► m@7 ───────────────────────────► nil
//! level 1: head ───────► c@3 ────────────► m@7 ──────────► t@2 ───────────► nil
//! level 0: head ► a@5 ► c@3 ► c@1 ► f@4 ► m@7 ► m@6 ► q@9 ► t@2 ► x@8 ────► nil
//! ```
//!
//! FerrisDB's list (`src/list.rs`) is built the way LevelDB's and RocksDB's are, for a
//! memtable's one unusual property: **nothing is ever removed**. A memtable only grows
//! until it is flushed and dropped whole. So nodes need no reclamation scheme and no
//! reference counts: they are packed one after another into 64 KiB chunks
//! ([`ARENA_CHUNK`]), each node one run of bytes holding its links, the internal key's
//! trailer, the key and the value, and every chunk is freed when the memtable is. One
//! writer links nodes in at a time (inserts take turns on a mutex, which the engine never
//! contends: one write-group leader applies at a time); readers take no lock and write no
//! shared memory. A node is filled in before a `Release` store of a link makes it
//! reachable, and readers follow links with `Acquire` loads, so a reader sees a node
//! either whole or not at all.
//!
//! ### The node, and why it is laid out backwards
//!
//! A search compares the probe with a dozen or more nodes on its way down, so what a
//! comparison reads should be where the search already is. A node's address is its
//! level-0 link; the higher links sit below it in memory, and the entry right after it:
//!
//! ```text
//!             ┌ node
//! ... next[2] next[1] next[0] │ trailer │ key len │ value len │ key │ value │ pad
//! ```
//!
//! Following a link lands eight bytes before the key, in the same cache line, and the
//! node's height never needs storing: a search reaches a node at some level, so the node
//! has that level. A node with a 16-byte key and a 100-byte value takes 116 bytes of entry,
//! a 16-byte header, on average 4/3 links of 8 bytes, and padding to 8: about 147 bytes.
//! The list before this one, `crossbeam-skiplist`'s general map with an owned key and a
//! `Bytes` value in a heap node, took about 244.
//!
//! ### Cursors
//!
//! The engine merges a memtable with tables through a [`Cursor`] that it keeps for as long
//! as a scan lives, so the cursor owns an `Arc<SkipListMemtable>` rather than borrowing
//! one. Its position is a node, which borrows the list, and safe Rust cannot keep an owner
//! and a borrow of it in one struct. Searching afresh from the cursor's key at every step
//! would cost O(log n) comparisons per `next`; the cursor keeps the node instead, its
//! lifetime widened next to the `Arc` that keeps the list alive, so `next` follows one
//! link (`src/cursor.rs` explains why that is sound). `ferris-dbbench --num 200000
//! --workloads seekrandom,ycsb-e` (a seek then 100 nexts; short zipfian scans) measures
//! what that is worth.
//!
//! ### Memory accounting
//!
//! [`SkipListMemtable::approximate_size`] is what the engine compares with its write
//! buffer size to decide when to flush. It is not an estimate any more: it is the bytes of
//! every node (links, header, key, value, padding), plus the unused tail of each chunk the
//! arena has moved on from, plus a fixed 128 bytes per range tombstone beyond its keys.
//! Nodes larger than an eighth of a chunk get an allocation of their own, so that one
//! large value does not strand most of a chunk. `cargo xtask bench` checks the figure on
//! every run: its one-thread `memtable insert` row inserts a million entries with 16-byte
//! keys and 100-byte values and prints the accounted size next to how much the process's
//! resident memory grew.
//!
//! What a reader gets back is a copy: [`SkipListMemtable::get`] and the cursor's
//! [`InternalIterator::value`](ferris_core::InternalIterator::value) copy the value out of
//! the node, so nothing a caller holds keeps a memtable's chunks alive.
//!
//! ## Example
//!
//! Both implementations, through the contract, as the engine uses them:
//!
//! ```
//! use std::sync::Arc;
//!
//! use ferris_core::WriteBatch;
//! use ferris_memtable::{BTreeFactory, Lookup, MemtableFactory, SkipListFactory};
//!
//! let factories: [Arc<dyn MemtableFactory>; 2] =
//!     [Arc::new(SkipListFactory), Arc::new(BTreeFactory)];
//! for factory in factories {
//!     let table = factory.create();
//!     for (seq, value) in [(1, "red"), (2, "green")] {
//!         let mut batch = WriteBatch::new();
//!         batch.put(b"apple", value);
//!         batch.set_seq(seq);
//!         table.apply(batch.iter());
//!     }
//!     let mut batch = WriteBatch::new();
//!     batch.delete(b"apple");
//!     batch.set_seq(3);
//!     table.apply(batch.iter());
//!
//!     // Reads at a sequence number see the versions written up to it.
//!     assert_eq!(table.get(b"apple", 1), Some(Lookup::Value("red".into())));
//!     assert_eq!(table.get(b"apple", 2), Some(Lookup::Value("green".into())));
//!     // A tombstone is an answer, not an absence: older layers must not be consulted.
//!     assert_eq!(table.get(b"apple", 3), Some(Lookup::Deleted));
//!     // Absence means "ask the next, older layer".
//!     assert_eq!(table.get(b"pear", 3), None);
//!     assert_eq!(table.len(), 3); // every version is kept
//! }
//! ```
//!
//! [`SkipListMemtable`] also has an API of its own, which the benchmarks use: `insert`
//! one version, `try_for_each` entry in place, `range` over user keys, a [`Cursor`].
//!
//! # Concurrency
//!
//! Both memtables are `Send + Sync` and every method takes `&self`: apply from one thread
//! while others read and iterate (inserts from many threads at once are correct too, and
//! take turns). A lookup or scan sees each entry either fully or not at all. A scan running
//! during inserts may or may not see entries inserted after it began; to read a consistent
//! state, bound reads by a sequence number that was complete when the read started (the
//! engine's snapshots do exactly that). The B-tree's readers wait while a batch is
//! applied; the skip list's never do.
//!
//! # Limits
//!
//! - Entries are never removed; a memtable only grows until it is flushed and dropped.
//! - An insert with an internal key equal to an existing one is ignored in the skip list
//!   (the B-tree replaces it): it can only be the same write twice, since the engine gives
//!   every write its own sequence number.
//! - A key or value of 4 GiB or more does not fit a node's header (the engine accepts at
//!   most 64 KiB keys and 64 MiB values).
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 3. Try each exercise first.
//!
//! 1. Apply the same user key at sequence numbers 1 to 5 and read it with
//!    [`Memtable::get`] at each sequence number from 0 to 6. Which reads see nothing, and
//!    why does a read at 6 see the write at 5?
//! 2. Insert a million 16-byte keys with 100-byte values and compare
//!    [`SkipListMemtable::approximate_size`] with the process's resident memory before
//!    and after (`/proc/self/status`, `VmRSS`). What does the process hold beyond the
//!    accounted size, and where does it come from? Do the same with a [`BTreeMemtable`]
//!    (its page has the exercise).
//! 3. Take a [`SkipListMemtable::cursor`], seek it to the middle, insert keys before and
//!    after its position from another thread, and walk on. Which of the new keys does it
//!    see? Does a [`BTreeMemtable`]'s iterator see the same ones?
//! 4. Write a third memtable (a sorted `Vec` behind a lock, inserting with
//!    `binary_search`), and run `ferris_conformance::memtable::check_factory` on its
//!    factory. Which check fails first if you forget that a tombstone is an answer?
//!
//! ## What to read next
//!
//! Chapter 4, `ferris-sstable`: what a full memtable becomes when it is flushed, a sorted
//! table on disk, built from the memtable's entries in order. `ferris-wal` (chapter 2)
//! makes each write durable before it lands here, and `docs/concepts/skip-lists.md` goes
//! deeper into the skip list.

#![deny(unsafe_code)]

pub mod btree;
// The exceptions: the skip list's nodes in their arena (list.rs), and a cursor that owns
// its memtable and a node of it (cursor.rs).
#[allow(unsafe_code)]
mod cursor;
#[allow(unsafe_code)]
mod list;
mod skiplist;

pub use btree::{BTREE_ENTRY_OVERHEAD, BTreeFactory, BTreeMemtable};
pub use cursor::Cursor;
pub use ferris_core::memtable::{Lookup, Memtable, MemtableFactory};
pub use list::ARENA_CHUNK;
pub use skiplist::{Iter, SkipListFactory, SkipListMemtable};
