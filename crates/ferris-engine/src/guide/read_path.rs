//! # The read path, and the merging iterator
//!
//! [The write path](crate::guide::write_path) never overwrites anything. A put adds a new
//! version of its key to the memtable; a delete adds a *tombstone*, a version that says
//! "deleted"; flushes turn memtables into tables without merging them with older ones.
//! So the versions of one key may be spread over the memtable, the frozen memtables
//! waiting for a flush, several level-0 tables and a table in each deeper level, and a
//! read has to find the right one among them. This chapter shows how a point read does
//! it (stop at the newest source that knows the key), and how a scan does it (merge every
//! source into one sorted stream, then pick the visible version of each key).
//!
//! ## Versions and snapshots
//!
//! `docs/concepts/mvcc-and-snapshots.md` tells this part at length; here is what the rest
//! of the chapter needs.
//!
//! Every entry carries the **sequence number** its write got (step 6 of the write path),
//! and what is stored is the **internal key**: the user key, the sequence number and the
//! kind (put or delete). Internal keys sort by user key ascending, then by sequence number
//! **descending** ([`InternalKeyRef`](ferris_core::InternalKeyRef)'s `Ord`):
//!
//! ```text
//!   apple@9:Put  apple@4:Put  fig@8:Delete  fig@2:Put  pear@3:Put
//! ```
//!
//! So within one key the newest version comes first, and "the value of `apple` as of
//! sequence number `s`" is the first version of `apple` at or below `s`. A reader's
//! moment is a sequence number: a read loads the last *published* one (step 9 of the
//! write path), and a [`Snapshot`](crate::Snapshot) is nothing more than one kept. Every
//! version above it is invisible to that reader, whatever source holds it.
//!
//! A reader must also be able to *find* the versions while memtables are frozen and
//! flushed and tables compacted away underneath it. So a read pins the current **super
//! version**: the active memtable, the frozen ones, and the `Version` (the live tables
//! of each level), all behind one `Arc` (`src/versions.rs`). A flush or a compaction
//! installs a new super version instead of changing the old one, and a table file is an
//! `Arc` too: it is deleted when the last one is dropped, after an edit has removed it
//! from the live set, so never under a reader still using it.
//!
//! ## Reading one key
//!
//! [`Db::get`](crate::Db::get) loads the last sequence number, pins the super version,
//! and asks its sources in order, newest first, stopping at the first answer, a value or
//! a tombstone: the memtable, the frozen memtables, the level-0 tables newest first (they
//! overlap one another; the default format asks its bloom filter before reading a
//! block), then each deeper level's one table whose key range holds the key (a level's
//! tables do not overlap, so there is at most one). Stopping is right because every
//! version in a newer source is newer than every version of the same key in an older one:
//! memtables are flushed in order, and compaction moves a key's versions down together.
//! A tombstone is an answer too: "absent", and the older versions below it stay hidden.
//!
//! [`Db::multi_get`](crate::Db::multi_get) reads many keys at one sequence number,
//! pinning the super version once for all of them (`src/multi_get.rs`). It sorts and
//! dedupes the keys, asks the memtables for each, then goes level by level with only the
//! keys still unanswered: each level-0 table gets the keys inside its range, and a deeper
//! level's sorted keys are split among its tables in one pass
//! ([`partition_keys`](ferris_core::level::partition_keys)). A table answers its keys in
//! one call, `TableReader::get_many`, which the default format runs as one forward walk:
//! the bloom filter per key, and each data block read once for all the keys in it.
//!
//! ## Scans: many sorted sources as one
//!
//! A scan ([`Db::range`](crate::Db::range), [`Db::prefix`](crate::Db::prefix),
//! [`Db::iter`](crate::Db::iter)) cannot stop at the first source: every source may hold
//! keys in the range. Each source is already sorted, and speaks one cursor contract,
//! [`InternalIterator`](ferris_core::iter::InternalIterator): seek, step both ways, report
//! an error. A scan merges them (`src/iter.rs` chooses the sources):
//!
//! ```text
//!   memtable ─────────────────┐
//!   frozen memtables ─────────┤
//!   L0 tables in the range ───┼──► MergingIterator ──► UserIter ──► DbIter
//!   ConcatIterator(L1 tables) ┤    every version of     the newest
//!   ConcatIterator(L2 tables) ┘    every key, in order  visible version
//!                                                       of each key
//! ```
//!
//! - each memtable's iterator, active and frozen;
//! - each level-0 table whose key range meets the scan's: level-0 tables overlap, so
//!   each is a sorted run of its own;
//! - one [`ConcatIterator`](ferris_core::iter::ConcatIterator) per deeper level, over the
//!   level's tables in the range. They do not overlap and are sorted, so they are one
//!   sorted run, and the iterator opens only the table under its position, moving to the
//!   next at its end (LevelDB's two-level iterator): a seek costs one table per level,
//!   not one per table.
//!
//! ### The merge: a heap of cursors
//!
//! Merging `n` sorted runs is the merge step of merge sort, with `n` inputs instead of
//! two. Each run has a current entry; the smallest of them is the next entry of the
//! merge; that run steps forward, and the smallest is found again.
//! [`MergingIterator`](ferris_core::iter::MergingIterator) keeps its children in a
//! **binary heap** ordered by each child's current key, smallest on top, so the next
//! entry is always the top child's, and a step is:
//!
//! 1. step the top child (`next`);
//! 2. if it ran out, take it out of the heap (the last heap slot moves to the top);
//! 3. sift the top down: swap it with its smaller child until both children are bigger.
//!
//! That is one step of one child and `O(log n)` key comparisons, however many sources
//! there are. The comparisons are most of a scan's cost beyond the children's own steps,
//! so the merge copies each child's key into a buffer of its own when the child moves
//! and compares the copies: a child is asked for its key once per step, not once per
//! comparison. A tournament tree ("loser tree") is the classic alternative: the same
//! `O(log n)`, with one comparison per level instead of two; FerrisDB uses the heap, the
//! simpler of the two. Three children, the memtable `m`, a level-0 table `t`, and level
//! 1, `L1`:
//!
//! ```text
//!   m:  apple@9  fig@8:Delete
//!   t:  apple@4  fig@2
//!   L1: cherry@1 pear@3
//!
//!   heap: top (the rest)                  yields        then
//!   m:apple@9 (t:apple@4, L1:cherry@1)    apple@9       m steps to fig@8
//!   t:apple@4 (L1:cherry@1, m:fig@8)      apple@4       t steps to fig@2
//!   L1:cherry@1 (m:fig@8, t:fig@2)        cherry@1      L1 steps to pear@3
//!   m:fig@8 (t:fig@2, L1:pear@3)          fig@8:Delete  m runs out and leaves the heap
//!   t:fig@2 (L1:pear@3)                   fig@2         t runs out
//!   L1:pear@3                             pear@3        L1 runs out: the merge ends
//! ```
//!
//! ### Newer wins by the order of the keys
//!
//! Notice what the merge does *not* need to know: which source is newer. Two versions of
//! one user key never tie, because every write has its own sequence number, and the
//! internal-key order puts the higher sequence number first. So the merge yields a key's
//! versions newest first whichever sources they came from: `apple@9` from the memtable
//! before `apple@4` from the table. (The heap breaks ties by child index, so its order is
//! total; in a database no two children ever share an internal key, so it never comes up.)
//! The merge yields *every* version; choosing among them is the next layer's job.
//!
//! ### Seeks
//!
//! A seek to an internal key `t` seeks every child to its first entry at or after `t` and
//! builds the heap again from the children still valid (bottom-up, `O(n)`). A scan from
//! user key `k` seeks to `k`'s newest possible version
//! ([`first_of`](ferris_core::iter::first_of)), so it lands on the first version of the
//! first key at or after `k`; an excluded lower bound seeks to its oldest possible version
//! ([`last_of`](ferris_core::iter::last_of)) and steps over what is left of it. A
//! `ConcatIterator` picks the one table whose key range can hold the target from the
//! tables' metadata, with no I/O, and seeks only in it; a table (in the default format)
//! seeks with its index and its blocks' restart points (`docs/concepts/sorted-tables.md`).
//!
//! ### The reader's view: `UserIter`
//!
//! [`UserIter`](ferris_core::iter::UserIter) (behind [`DbIter`](crate::DbIter)) walks
//! the merge and yields, for each user key, what a reader at its sequence number sees:
//!
//! - a version **newer** than the reader's sequence number is stepped over: it did not
//!   exist yet at the reader's moment;
//! - the **first** version at or below it is the newest visible one, and decides: a put
//!   is yielded, a tombstone means the key is absent;
//! - every **older** version of the same key is stepped over: it was overwritten or
//!   deleted before the reader's moment.
//!
//! A hot key, overwritten thousands of times, leaves thousands of versions to step over
//! until compaction drops them. So after eight unwanted versions of one key in a row,
//! `UserIter` seeks past the rest (to the key's oldest possible version, or to its first
//! version at the reader's sequence number) instead of stepping over each, as RocksDB
//! does: a seek is `O(log n)` per source, a step over a thousand versions is a thousand
//! steps.
//!
//! ### Range tombstones
//!
//! A range delete ([`Db::delete_range`](crate::Db::delete_range)) writes one entry that
//! covers every older version of every key in a range, and each source keeps its range
//! tombstones beside its entries (`ferris_core::range_del`). A scan hides what they cover
//! in two ways:
//!
//! - **Skipping whole ranges.** The sources are listed newest first, and
//!   [`skip_covered`](ferris_core::iter::skip_covered) wraps each in a cursor that knows
//!   the tombstones of every newer source the reader sees. Every version an older source
//!   holds of a key is older than a newer source's tombstone over it (the same argument
//!   as for point reads), so the older source seeks past the whole covered range in one
//!   step instead of yielding versions only to have them hidden. A memtable does the same
//!   past its own tombstones that are newer than every version it holds.
//! - **Checking each version.** A source's own tombstones may be older than some of its
//!   versions (a table can hold a range delete and a newer put inside it), so `UserIter`
//!   checks each version it would yield against every tombstone the scan gathered:
//!   hidden if a tombstone visible at the reader's sequence number covers the key with a
//!   higher sequence number than the version's.
//!
//! A scan with no range tombstones pays nothing for either: the wrappers and the check
//! are left out.
//!
//! ### Backwards
//!
//! `.rev()` walks the same merge in reverse. The heap keeps the *largest* current key on
//! top, each step is a `prev`, and a seek is a `seek_for_prev` (the last entry at or
//! before the target). The order of versions flips too: going backwards, a key's versions
//! arrive oldest first. So `UserIter` reads all of a key's versions, remembers the newest
//! one at or below its sequence number, and decides when it reaches the previous key
//! (past eight versions, it seeks forward to the visible one directly, then back before
//! the key). A double-ended scan uses two merges, one per end, each going one way; they
//! stop when they meet, so neither ever turns around. `MergingIterator` can turn around
//! (a `prev` after a `next`), as the iterator contract asks: every other child seeks to
//! just behind the current key, as LevelDB's merging iterator does, a cost a scan in one
//! direction never pays.
//!
//! ### Errors
//!
//! A source that cannot read a block (an I/O error, or a checksum that does not match)
//! becomes invalid and reports the error. The merge then stops too, with that error,
//! rather than carry on without the source: an entry hidden behind the failed source,
//! say a newer tombstone, must never be skipped silently, or a deleted key would come
//! back. `DbIter` yields the error once, then ends.
//!
//! ## The merge, in code
//!
//! The same pieces the engine uses, over two sorted vectors standing in for a memtable and
//! a table:
//!
//! ```
//! use std::ops::Bound;
//! use std::sync::Arc;
//!
//! use bytes::Bytes;
//! use ferris_core::iter::{InternalIterator, MakeIter, MergingIterator, UserIter, VecIter};
//! use ferris_core::range_del::{RangeTombstone, Tombstones};
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let v = |k: &str, seq, kind, value: &str| {
//!     (InternalKey::new(k.as_bytes().to_vec(), seq, kind), Bytes::from(value.to_string()))
//! };
//! // The memtable (newest): apple overwritten at 9, fig deleted at 8.
//! let memtable = vec![v("apple", 9, ValueKind::Put, "green"), v("fig", 8, ValueKind::Delete, "")];
//! // A table (older).
//! let table = vec![
//!     v("apple", 4, ValueKind::Put, "red"),
//!     v("fig", 2, ValueKind::Put, "purple"),
//!     v("pear", 3, ValueKind::Put, "ripe"),
//! ];
//! let sources = move || -> Vec<Box<dyn InternalIterator>> {
//!     vec![Box::new(VecIter::new(memtable.clone())), Box::new(VecIter::new(table.clone()))]
//! };
//!
//! // The merge yields every version of every key, newest first within a key.
//! let mut merged = MergingIterator::new(sources());
//! merged.seek_to_first();
//! let mut order = Vec::new();
//! while merged.valid() {
//!     order.push(format!("{:?}", merged.key()));
//!     merged.next();
//! }
//! merged.status()?;
//! assert_eq!(order, ["apple@9:Put", "apple@4:Put", "fig@8:Delete", "fig@2:Put", "pear@3:Put"]);
//!
//! // A reader at a sequence number sees the newest version at or below it, if a put.
//! let scan = |seq, tombstones: &Tombstones, rev: bool| -> ferris_core::Result<Vec<String>> {
//!     let sources = sources.clone();
//!     let make: MakeIter =
//!         Box::new(move || Box::new(MergingIterator::new(sources())) as Box<dyn InternalIterator>);
//!     let user = UserIter::new(make, seq, Bound::Unbounded, Bound::Unbounded)
//!         .with_range_tombstones(Arc::new(tombstones.clone()));
//!     let shown = |kv: ferris_core::Result<(Bytes, Bytes)>| {
//!         kv.map(|(k, v)| format!("{}={}", k.escape_ascii(), v.escape_ascii()))
//!     };
//!     if rev { user.rev().map(shown).collect() } else { user.map(shown).collect() }
//! };
//! let none = Tombstones::default();
//! assert_eq!(scan(10, &none, false)?, ["apple=green", "pear=ripe"]); // fig deleted at 8
//! assert_eq!(scan(5, &none, false)?, ["apple=red", "fig=purple", "pear=ripe"]); // the past
//! assert_eq!(scan(10, &none, true)?, ["pear=ripe", "apple=green"]); // backwards
//!
//! // A range tombstone over ["o", "q") at 7 hides pear@3 from readers at 7 and later.
//! let deleted = Tombstones::new([RangeTombstone::new("o", Some("q".into()), 7)]);
//! assert_eq!(scan(10, &deleted, false)?, ["apple=green"]);
//! assert_eq!(scan(6, &deleted, false)?, ["apple=red", "fig=purple", "pear=ripe"]);
//! # Ok::<(), ferris_core::Error>(())
//! ```
//!
//! On top of `UserIter`, an expiring keyspace's scans hide values whose time to live has
//! passed (`ferris_core::expiry::Unexpired`; the front page's "Expiring values" section).
//!
//! ## What a scan holds
//!
//! A [`DbIter`](crate::DbIter) owns its pinned super version, so it sees one consistent
//! state however long it lives, through later writes, flushes and compactions. The
//! price: the memtables and table files it pins stay in memory and on disk until it is
//! dropped, even after a flush or a compaction replaced them, so a scan left open for
//! long keeps every table replaced meanwhile.
//!
//! The same `MergingIterator` drives compaction, which merges its input tables and decides,
//! on top of the merge, which versions to keep: [background
//! work](crate::guide::background_work). First, [flush and
//! recovery](crate::guide::flush_and_recovery) shows how the memtable becomes a table.
