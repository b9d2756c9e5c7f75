//! # Flush and recovery, step by step
//!
//! [The write path](crate::guide::write_path) leaves every write in two places: the WAL,
//! which makes it durable, and the memtable, which makes it readable. Neither can grow
//! forever. A **flush** writes a full memtable out as a sorted table file and lets go of
//! the WAL segments that held it; **recovery** is the other direction, after a crash or a
//! clean close: it puts the database back together from the files. The two are designed
//! together, around one question asked at every step: if the power fails *here*, what is on
//! disk, and what will the next open make of it?
//!
//! Three kinds of file are involved (`docs/format/` has the bytes of each):
//!
//! - **WAL segments** (`NNNNNN.wal`, `docs/format/wal.md`): every write, in order;
//! - **tables** (`NNNNNN.sst` in the default format, `docs/format/table.md`): immutable
//!   sorted files, each in one level;
//! - the **manifest** (`MANIFEST-NNNNNN`, `docs/format/manifest.md`): a log of *version
//!   edits* that say which tables are live in which level, and from which WAL segment on
//!   the writes are not yet in tables (each keyspace's *log number*); and `CURRENT`,
//!   which names the manifest in use.
//!
//! The manifest is the truth. A table no manifest edit lists does not exist, whatever
//! is on disk; a WAL segment older than the log number is garbage. Every change of the
//! set of live files is one edit, fsync'd to the manifest, and it takes effect at that
//! fsync and not before.
//!
//! ## Flush: memtable to table
//!
//! When the write path freezes a full memtable (step 5 of the write path), the flush
//! thread (`src/flush.rs`) takes the oldest frozen memtable and:
//!
//! 1. walks the memtable's iterator into a new table's `TableBuilder`, whose `finish`
//!    makes the table durable under its name (the default format writes `NNNNNN.sst.tmp`,
//!    **fsyncs it**, renames it to `NNNNNN.sst` and **fsyncs the directory**);
//! 2. appends a version edit to the manifest (the table added to level 0, the first WAL
//!    segment still needed, the next file number, the last sequence number) and **fsyncs
//!    the manifest**: this is the moment the flush takes effect;
//! 3. installs a new `Version` and drops the frozen memtable from what reads see (a new
//!    super version; readers that pinned the old one keep it);
//! 4. deletes the WAL segments the table made redundant.
//!
//! Then the thread frees the flushed memtable itself, waiting up to 5 ms for the point
//! reads that still hold it to let go ([`retire`](ferris_core::memtable::retire)):
//! freeing a full memtable takes milliseconds, and the reader that let go last would
//! otherwise pay for it in the middle of a `get`. A long scan that still holds it frees it
//! when it ends.
//!
//! What a power cut leaves at each point:
//!
//! | cut | on disk | the next open |
//! |---|---|---|
//! | during step 1 | a `.sst.tmp`, or a table no edit lists | deletes it; replays the WAL into a memtable, as if no flush had started |
//! | during step 2 | a manifest whose last edit is torn | drops the torn edit (it never took effect) and deletes the orphan table |
//! | after step 2 | the edit, the table, and WAL segments now redundant | replays only segments from the log number on, and deletes the older ones |
//!
//! In no row is a write lost, or applied twice: the table and the WAL segments overlap
//! until the edit says which one holds the writes.
//!
//! The flush does not merge: the new table goes into level 0, beside the older ones, and
//! level-0 tables overlap one another. Keeping that in check is compaction's job
//! ([background work](crate::guide::background_work)).
//!
//! ### Preparing the next table
//!
//! Between flushes, while the next memtable fills, the thread creates the next table and
//! lets the format prepare it (`TableBuilder::prefault`; the default format has the page
//! cache set up for its `.sst.tmp`), so that step 1 only copies: a flush holds a whole
//! frozen memtable in memory, and the memtable behind it grows for as long as the flush
//! takes. A failure there poisons the database like a failed flush.
//!
//! ### Rotating the manifest
//!
//! The manifest only grows. When it passes
//! [`Options::max_manifest_size`](crate::Options::max_manifest_size), a new one is
//! written holding a snapshot of the state (one edit that lists every live table), and
//! `CURRENT` is switched to it atomically: write `CURRENT.tmp`, fsync it, rename it to
//! `CURRENT`, fsync the directory. A power cut before the rename leaves the old `CURRENT`
//! naming the old manifest, still complete; after it, the new one.
//!
//! ## Opening: recovery, step by step
//!
//! [`Db::open`](crate::Db::open):
//!
//! 1. Create the directory if needed, then take an OS lock on `LOCK`
//!    ([`Error::Locked`](crate::Error::Locked) if another `Db` holds it;
//!    [`Error::ReadOnly`](crate::Error::ReadOnly) if the directory cannot be written,
//!    since every open for writing writes a lock, a WAL segment and a manifest).
//! 2. Read `CURRENT` (checksummed) and replay the manifest it names into the set of live
//!    tables, and open them. No `CURRENT` means a new database, unless the directory
//!    holds tables, WAL segments or foreign files, or
//!    [`Options::create_if_missing`](crate::Options::create_if_missing) is off
//!    ([`Error::NotADatabase`](crate::Error::NotADatabase), checked before the lock file
//!    is written). Before anything is deleted, the files that state needs must be there:
//!    a missing WAL segment at the manifest's log number is corruption, and so is a
//!    damaged last manifest edit that had taken effect (the segments or tables it retired
//!    are gone), which a torn write cannot leave.
//! 3. Replay every WAL segment from the smallest log number of any keyspace on, each
//!    entry into its keyspace's memtable if the segment is not older than that keyspace's
//!    log number (a dropped keyspace's entries are skipped). A torn tail (what a power cut
//!    leaves) is dropped; corruption anywhere else is an error naming the file and offset
//!    (see [`Options::wal_recovery_mode`](crate::Options::wal_recovery_mode) for the
//!    lenient modes).
//! 4. Write a fresh manifest holding one snapshot edit, fsync it, switch `CURRENT`.
//!    Leftovers (old manifests, temporaries, tables no version lists, flushed WAL
//!    segments) were deleted before anything new was written. Then start a new WAL
//!    segment.
//! 5. The replayed segments normally stay until the recovered memtable is flushed; but
//!    when there was nothing to replay, when four or more segments were replayed (each
//!    open starts one, so a tool that opens the database for one write at a time would
//!    otherwise pile them up), or when a lenient recovery mode skipped damage, the
//!    recovered memtable is frozen and flushed during the open, by the flush thread's own
//!    code, and every replayed segment is retired.
//!
//! Recovery's promise is the engine's durability guarantee (the front page's
//! `# Durability`): after a crash, the state is the history up to some point at or
//! after the last acknowledged write, a prefix with no holes. The torn tail is why it is
//! "at or after": a write in flight when the power failed may be there or not, whole,
//! never half (a group is one WAL record, and a record is checksummed). The open is
//! itself crash-safe: a power cut during step 4 leaves either the old `CURRENT` and
//! manifest, with the WAL segments still there, or the new ones, and the next open
//! starts over from whichever it finds.
//!
//! [`Db::open_read_only`](crate::Db::open_read_only) runs steps 2 and 3 and nothing else
//! (the front page's "Read-only open" section says what that costs beside a live writer).
//!
//! ## How it is tested
//!
//! Every step above is a place the power can fail, so the tests fail it there. The
//! integration tests cut the power of a simulated disk (`ferris_fs::SimFs`) at operations
//! spread over a workload of writes, flushes and compactions, at every operation of an
//! open and of manifest rotations, and check that every acknowledged write survived and
//! that the recovered state is a prefix of the history (`tests/it/power_cut.rs`);
//! `ferris-sim` does the same over seeded random workloads, and `ferris-crash` with a
//! real process killed by `SIGKILL` (`docs/concepts/testing.md`).
//!
//! What is next: level 0 grows by one table per flush. [Background
//! work](crate::guide::background_work) merges it down.
