//! # Background work: compaction, flow control, idle work
//!
//! Every flush adds a table to level 0 ([flush and
//! recovery](crate::guide::flush_and_recovery)), and level-0 tables overlap, so a point
//! read asks each of them and a scan merges each of them ([the read
//! path](crate::guide::read_path)). Nothing is ever overwritten in place, so overwritten
//! and deleted versions keep their space. Left alone, reads would get slower and the disk
//! fuller with every flush. **Compaction** is the fix: background threads merge tables into
//! fewer, larger, non-overlapping ones in deeper levels, and drop the versions no reader
//! can see any more. This chapter follows a compaction from the choice to the new version;
//! then, once snapshots are in the picture, what it may drop; then how writes are held back
//! when compaction falls behind, and what happens when the writes stop.
//!
//! ## Compaction, step by step
//!
//! The compaction threads
//! ([`Options::compaction_threads`](crate::Options::compaction_threads),
//! `src/compaction.rs`) each loop: ask, merge, install. Each asks the strategy
//! ([`Options::compaction_strategy`](crate::Options::compaction_strategy):
//! [`Leveled`](ferris_compaction::Leveled) by default; also
//! [`Tiered`](ferris_compaction::Tiered), `ferris_fifo::Fifo` or your own) what to do. A
//! strategy is a pure function of the levels (`ferris-compaction`'s chapter, and
//! `docs/concepts/compaction.md`, say how each chooses): it returns which tables to merge
//! into which level, or nothing. Then the thread:
//!
//! 1. **marks** the chosen tables busy, so that another compaction thread does not choose
//!    them too;
//! 2. **merges** the inputs: a [`MergingIterator`](ferris_core::iter::MergingIterator)
//!    over their iterators, the same merge a scan uses, yields every version of every key
//!    in internal-key order, and
//!    [`CompactionIterator`](ferris_compaction::CompactionIterator) on top of it decides
//!    which versions to keep (the next section says which). The inputs' blocks are read
//!    once and bypass the block cache, which they would only fill with blocks nobody will
//!    read again;
//! 3. **writes** the output tables, ending each where
//!    [`OutputCuts`](ferris_compaction::OutputCuts) says: at
//!    [`CompactionOptions::target_file_size`](crate::CompactionOptions::target_file_size)
//!    or when one overlaps too much of the next level, and only between user keys, so the
//!    tables of a level never share a key. Each table is durable under its name when
//!    finished, as a flush's is;
//! 4. **installs** the result: the inputs removed and the outputs added as **one**
//!    version edit, fsync'd to the manifest. A crash leaves either the inputs or the
//!    outputs live, never half of each (an output no edit lists is an orphan the next
//!    open deletes). Then the new version is installed, and the inputs are deleted once
//!    no reader holds them.
//!
//! Not every choice needs a merge. A table with nothing to merge with below it just
//! moves down a level (an edit, no rewrite: a *trivial move*), and a strategy may drop
//! whole tables (tables of only tombstones hiding nothing, or a FIFO strategy's oldest).
//! [`Db::compact`](crate::Db::compact) flushes and then asks the strategy for a manual
//! compaction (the leveled and tiered strategies merge every level down into the
//! deepest one); [`Db::compact_range`](crate::Db::compact_range) does the same for a key
//! range.
//!
//! ### Flushes first
//!
//! A compaction checks every thousand entries or so whether a flush is writing its
//! table, and if one is, it waits for it to end
//! ([`Options::flush_priority`](crate::Options::flush_priority); by default only when the
//! machine has fewer cores than the flush thread, the compaction threads and one writer).
//! Until a flush ends, the frozen memtable and the new one filling behind it are both in
//! memory, and writers may be stalled on it; a compaction delayed by a tenth of a second
//! costs nothing of the kind. `docs/concepts/compaction.md` ("Flushes first") says how to
//! measure the difference.
//!
//! ## What a merge may drop: versions and snapshots
//!
//! Read `docs/concepts/mvcc-and-snapshots.md` first: this section builds on sequence
//! numbers, snapshots and what a reader sees, which it explains (and [the read
//! path](crate::guide::read_path) recaps).
//!
//! A merge sees every version of each key, newest first. Which may go? Without
//! snapshots the answer is easy: a reader always sees the newest version of a key, so
//! every older version is garbage. But a [`Snapshot`](crate::Snapshot) (and a
//! transaction's read version, which is one) reads the database as of its sequence
//! number, and sees the newest version *at or below* it, which may be one the present
//! has overwritten. So [`Db::snapshot`](crate::Db::snapshot) registers its sequence
//! number (a count per number in `Shared::snapshots`, `src/db.rs`), dropping the
//! snapshot removes it, and a compaction reads the registered numbers when it starts and
//! hands them to the merge ([`MergeRules::snapshots`](ferris_compaction::MergeRules)).
//!
//! The snapshots cut each key's history into **snapshot stripes**: two versions lie in
//! the same stripe when no snapshot falls between them. Every reader (each snapshot, and
//! the present) that could see the older version of a stripe sees the newer one
//! instead, so only the newest version of each stripe is ever read:
//!
//! ```text
//!   snapshots:          s=5                 s=12
//!   versions of k:  3  4 | 7  9  11          | 14  20
//!   stripe:            0 |      1            |    2
//!   kept:              4 |           11      |        20
//! ```
//!
//! The snapshot at 5 reads version 4, the one at 12 reads 11, and the present reads 20;
//! 3, 7, 9 and 14 are read by nobody, and the merge drops them. With no snapshot alive
//! there is one stripe per key, and a merge keeps only the newest version.
//!
//! **Tombstones.** A tombstone that is the newest version of stripe 0 (no snapshot
//! predates it) hides everything below it from every reader, and must stay as long as
//! something below it could still hold an older version of its key. When the output is
//! **bottommost** (no table outside the inputs, in the output level or below, overlaps
//! their key range: [`is_bottommost`](ferris_compaction::is_bottommost)), nothing older
//! can exist, and the tombstone itself is dropped (LevelDB's and RocksDB's rule). Above
//! the bottom it stays, to keep hiding what lies beneath. That is why deleting a key
//! gives its space back only when a compaction carries the tombstone to the bottom.
//!
//! **Range tombstones** take part in the same stripes: a version under one in the same
//! stripe, and older than it, is read by no one and is dropped; each output table gets
//! the part of the tombstones between it and its neighbours; and at the bottom a range
//! tombstone every snapshot sees is dropped, since nothing older is left for it to cover.
//!
//! ### Compaction filters
//!
//! [`Options::compaction_filter`](crate::Options::compaction_filter) (or a keyspace's
//! own, in [`KeyspaceOptions`](crate::KeyspaceOptions)) runs a
//! [`CompactionFilter`](crate::CompactionFilter) on the newest version of each key that
//! no snapshot reads, as compactions write it: keep it, remove the key, or change its
//! value, for expiring data or rewriting it without a write per key. Only versions no
//! snapshot reads: a snapshot must keep reading what it read. The cost model is
//! compaction's: flushes do not run the filter, and data meets it only when a compaction
//! rewrites it, so what a filter removes keeps its space until then.
//! [`Db::compact`](crate::Db::compact) and [`Db::compact_range`](crate::Db::compact_range)
//! force it: with a filter set, a manual compaction ends by rewriting the deepest level's
//! tables in its range too. A filter that panics fails its compaction, which poisons the
//! database ([`Error::Poisoned`](crate::Error::Poisoned), the panic in the source);
//! nothing was installed, so the data is as it was, and a reopen with a fixed filter
//! goes on. Expiring values (the front page's "Expiring values" section) are a filter
//! the engine installs itself.
//!
//! ## Flow control: holding writes back
//!
//! Writes can arrive faster than compaction can merge them. Then level 0 grows, every
//! read pays for each of its tables, and the debt of bytes to rewrite grows without
//! bound. So the strategy also judges how hard to hold writes back
//! (`Strategy::write_pressure`, once per new version), and the write group's leader acts
//! on it before writing (step 3 of [the write path](crate::guide::write_path)):
//!
//! - **slow down**: the leader sleeps a millisecond per group (counted in
//!   [`Stats::slowdowns`](crate::Stats::slowdowns)), so writers keep going at a pace
//!   compaction can follow;
//! - **stop**: no group is written until a compaction changes the strategy's mind
//!   (counted in [`Stats::stalls`](crate::Stats::stalls), and logged through `tracing`).
//!
//! The leveled and tiered strategies slow writes down when level 0 reaches
//! [`CompactionOptions::l0_slowdown_trigger`](crate::CompactionOptions::l0_slowdown_trigger)
//! tables and stop them at
//! [`CompactionOptions::l0_stop_trigger`](crate::CompactionOptions::l0_stop_trigger); the
//! same two thresholds apply to their estimate of the bytes compaction still has to rewrite
//! ([`CompactionOptions::soft_pending_compaction_bytes`](crate::CompactionOptions::soft_pending_compaction_bytes)
//! and
//! [`CompactionOptions::hard_pending_compaction_bytes`](crate::CompactionOptions::hard_pending_compaction_bytes),
//! shown in [`Stats::pending_compaction_bytes`](crate::Stats::pending_compaction_bytes)). A
//! slowdown is gentle on purpose: a stop makes every writer wait for a whole compaction, a
//! slowdown spreads the wait thinly over many groups. The other stall, for memory, is the
//! write path's own: too many frozen memtables waiting for the flush thread (step 5 there).
//!
//! Keyspaces share the write queue and the WAL, so they share the stalls: writes slow
//! down or stop when any keyspace's strategy asks.
//!
//! ## Idle work
//!
//! Under load the engine holds work back on purpose: a memtable is flushed only when
//! full, and level 0 waits for its trigger so that each merge into level 1 (which, with
//! random keys, rewrites nearly all of it) carries several flushes' worth of keys. When
//! the writes stop, what was held back would stay forever: a partly full memtable whose
//! WAL segments cannot be deleted, and level-0 tables full of versions that level 1 also
//! holds. So an idle thread (`src/idle.rs`) samples the published last sequence number
//! every [`Options::idle_after`](crate::Options::idle_after) (default 5 s), which costs
//! the write path nothing. Once it has not moved for that long, and only once per such
//! quiet period, the thread queues the same freeze as [`Db::flush`](crate::Db::flush) and
//! waits for the flush (the WAL segments are retired as usual), then marks the database
//! idle at that sequence number: the compaction threads show the strategy an idle view
//! until a write arrives, and [`Leveled`](ferris_compaction::Leveled) merges all of
//! level 0 into level 1. Both are counted
//! ([`Stats::idle_flushes`](crate::Stats::idle_flushes),
//! [`Stats::idle_compactions`](crate::Stats::idle_compactions)) and logged through
//! `tracing`. The price is at most one rewrite of level 1's overlapping tables per quiet
//! period: a load that pauses for longer than `idle_after` over and over pays it every
//! time, and should raise the setting or turn it off (`None`). Writes arriving during
//! idle work are simply writes (the database is no longer idle), and
//! [`Db::close`](crate::Db::close) stops it as it stops any compaction.
//!
//! ## Where the threads wait
//!
//! The flush thread, the compaction threads, the idle thread and stalled writers all
//! wait in one place (`src/work.rs`): the background work's state behind one mutex, and
//! one condition variable. It also holds the **poison**: a failed flush, compaction or
//! WAL fsync sets it, keeping the first failure as the source of every later
//! [`Error::Poisoned`](crate::Error::Poisoned), and setting it wakes every waiter, so no
//! thread sleeps through the database's failure.
//!
//! ## Measuring it
//!
//! `cargo xtask compaction-sim` runs the strategies over a synthetic workload with no I/O
//! and prints each one's write, space and read amplification;
//! [`Db::stats`](crate::Db::stats) reports a running database's write amplification,
//! flushes, compactions, slowdowns and stalls (`ferris stats DIR` prints a database's
//! levels, with its space and read amplification); and `cargo xtask bench` prints, beside
//! each workload, how many flushes and compactions ran and how often writes were slowed
//! down or stopped. `docs/benchmarks.md` keeps the results and their history.
