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
//! | structure | `BTreeMap` behind an `RwLock` | lock-free skip list (`crossbeam-skiplist`) |
//! | readers during a write | wait for the batch | never wait |
//! | iterator step | a fresh search, O(log n) | follows a link, O(1) for `next` |
//! | lookup | copies the key into a probe | allocates nothing |
//! | memory per entry beyond key and value | [`BTREE_ENTRY_OVERHEAD`], 256 bytes | [`ENTRY_OVERHEAD`], 128 bytes |
//! | factory | [`BTreeFactory`] | [`SkipListFactory`] |
//!
//! **Read `src/btree.rs` first** (its page is [`btree`]). It is the simplest memtable
//! that is correct: a couple of hundred lines of the standard library, with the reason for
//! every line, and it passes the same conformance suite (`ferris-conformance`, module
//! `memtable`) as the skip list. Then read the rest of this chapter and `src/skiplist.rs`,
//! which do the same job without a lock, without an allocation per lookup, and with a
//! cursor that does not search again at every step: everything the skip list adds is
//! for speed, and the B-tree shows what it must still preserve.
//!
//! ## The skip list
//!
//! ### The idea: a skip list of internal keys
//!
//! A skip list is a sorted linked list with express lanes. Each node is in the bottom list
//! and, with probability 1/2 per level, in the lists above, so a search starts high, skips
//! far, and drops down when it would overshoot: O(log n) like a balanced tree, but with no
//! rebalancing, which is what lets inserts proceed without locks.
//!
//! ```text
//! level 2: head ─────────────────────────► m@7 ───────────────────────────► nil
//! level 1: head ───────► c@3 ────────────► m@7 ──────────► t@2 ───────────► nil
//! level 0: head ► a@5 ► c@3 ► c@1 ► f@4 ► m@7 ► m@6 ► q@9 ► t@2 ► x@8 ────► nil
//! ```
//!
//! FerrisDB uses `crossbeam-skiplist`, a lock-free skip list whose memory is reclaimed with
//! epochs: a reader pins the current epoch, and a removed node is freed only once no pinned
//! reader can still see it. Writers never block readers and readers never block writers.
//!
//! ### Cursors, and the one `unsafe` block
//!
//! The engine merges a memtable with tables through a [`Cursor`] that it keeps for as long
//! as a scan lives, so the cursor owns an `Arc<SkipListMemtable>` rather than borrowing
//! one. The skip list's own position handle borrows the list, and safe Rust cannot keep an
//! owner and a borrow of it in one struct. The first cursor did without the handle and
//! searched afresh from its key at every step, O(log n) comparisons per `next`. The cursor
//! now keeps the handle, its lifetime widened next to the `Arc` that keeps the list alive,
//! so `next` follows one link (`src/cursor.rs` explains why that is sound).
//! `ferris-dbbench --num 200000 --workloads seekrandom,ycsb-e` (a seek then 100 nexts;
//! short zipfian scans) measures what that is worth; `docs/benchmarks.md` ("Memtable
//! cursors that keep their place") has what it gained over the old cursor.
//!
//! ### Memory accounting
//!
//! [`SkipListMemtable::approximate_size`] is what the engine compares with its write
//! buffer size to decide when to flush. Each entry counts its user key and value bytes
//! plus [`ENTRY_OVERHEAD`] bytes:
//!
//! - the skip-list node, about 112 bytes: the key (56 bytes: a user key of up to 30 bytes
//!   stored inside the node, or a `Bytes` handle to a longer one, then the sequence number
//!   and the kind), the value's 32-byte `Bytes` handle, a reference count and height word,
//!   and on average 2 tower pointers (each level is kept with probability 1/2); with the
//!   allocator's header and rounding it takes 128;
//! - the value's own heap allocation, with an allocator header and rounding of about 16
//!   bytes, for values given to [`SkipListMemtable::insert`] as `Bytes`. The write path
//!   goes through [`SkipListMemtable::apply`] instead, which copies values (and user keys
//!   longer than 30 bytes) into shared chunks of [`ARENA_CHUNK`] bytes: a `memcpy` and an
//!   atomic reference-count increment per value instead of a `malloc`, with no header per
//!   value, so for those entries the estimate errs high by about those 16 bytes (the
//!   memtable is frozen a little early, never late). A value over an eighth of a chunk
//!   still gets an allocation of its own, so that one large value does not strand most of
//!   a chunk.
//!
//! Less the 16 key bytes counted as data, that is 128 bytes. `cargo xtask bench` checks the
//! estimate on every run: its one-thread `memtable insert` row inserts a million entries
//! with 16-byte keys and 100-byte values and prints the accounted size next to how much
//! the process's resident memory grew, so the two can be compared on any machine with the
//! code as it is; the accounted size should come out the larger.
//!
//! Keeping short keys inside the node matters for speed as much as for memory: a search
//! compares the probe with a dozen or more nodes' keys, and a key behind a pointer costs a
//! second cache miss at each of them. `ferris-dbbench --num 200000 --workloads
//! readrandom,readmissing,seekrandom` measures it; `docs/benchmarks.md` ("Memtable keys
//! inside the node") has what moving 16-byte keys into the node gained.
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
//! [`SkipListMemtable`] also has an API of its own, which the flush and the benchmarks
//! use: `insert` one version, `try_for_each` entry in place, `range` over user keys, a
//! [`Cursor`].
//!
//! # Concurrency
//!
//! Both memtables are `Send + Sync` and every method takes `&self`: apply from one thread
//! while others read and iterate (the skip list also takes inserts from many threads at
//! once). A lookup or scan sees each entry either fully or not at all. A scan running
//! during inserts may or may not see entries inserted after it began; to read a consistent
//! state, bound reads by a sequence number that was complete when the read started (the
//! engine's snapshots do exactly that). The B-tree's readers wait while a batch is
//! applied; the skip list's never do.
//!
//! # Limits
//!
//! - Entries are never removed; a memtable only grows until it is flushed and dropped.
//! - A value returned by the skip list's lookup or scan shares its arena chunk: holding it
//!   keeps the whole chunk (at most [`ARENA_CHUNK`] bytes) alive after the memtable is
//!   dropped. Copy values you keep for long (`Bytes::copy_from_slice`).
//! - An insert with an internal key equal to an existing one replaces it. The engine gives
//!   every write its own sequence number, so this never happens there.
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
//!    and after (`/proc/self/status`, `VmRSS`). How close is [`ENTRY_OVERHEAD`]? Do the
//!    same with a [`BTreeMemtable`] (its page has the exercise).
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
// The one exception: a cursor that owns its memtable and a position in it (see cursor.rs).
#[allow(unsafe_code)]
mod cursor;
mod skiplist;

pub use btree::{BTREE_ENTRY_OVERHEAD, BTreeFactory, BTreeMemtable};
pub use cursor::Cursor;
pub use ferris_core::memtable::{Lookup, Memtable, MemtableFactory};
pub use skiplist::{ARENA_CHUNK, ENTRY_OVERHEAD, Iter, SkipListFactory, SkipListMemtable};
