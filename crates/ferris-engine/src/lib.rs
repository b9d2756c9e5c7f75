//! # ferris-engine: the database
//!
//! ## The problem
//!
//! The chapters before this one built the parts: a log that makes a write durable
//! (`ferris-wal`), a sorted in-memory buffer (`ferris-memtable`), immutable sorted files
//! (`ferris-table`'s contract, `ferris-sstable`'s format) and a log of which files are
//! live (`ferris-manifest`). None of them is
//! a database. A database takes `put`, `get`, `delete` and scans from many threads at once,
//! never loses an acknowledged write, never shows half a batch, and keeps memory bounded
//! however much is written. This crate wires the parts into [`Db`], and this chapter walks
//! through what happens at each step, and at each fsync.
//!
//! ## Example
//!
//! ```
//! use ferris_engine::{Db, Options, WriteBatch, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//!
//! db.put("apple", "red")?; // durable when it returns: the WAL was fsync'd
//! db.put("pear", "green")?;
//! assert_eq!(db.get("apple")?.as_deref(), Some(&b"red"[..]));
//! // Durability per write: this one may wait for the next fsync.
//! db.put_opt("hits", "1", WriteOptions::new().sync(false))?;
//!
//! // A batch is atomic, across a crash too.
//! let mut batch = WriteBatch::new();
//! batch.put("plum", "purple").delete("pear");
//! db.write(batch)?;
//!
//! // Keyspaces: separate key spaces sharing one WAL; a batch may span them.
//! let accounts = db.keyspace("accounts")?;
//! let audit = db.keyspace("audit")?;
//! let mut batch = WriteBatch::new();
//! batch.put_in(accounts.id(), "alice", "90").put_in(audit.id(), "0001", "alice -10");
//! db.write(batch)?;
//! assert_eq!(accounts.get("alice")?.as_deref(), Some(&b"90"[..]));
//! assert_eq!(db.get("alice")?, None); // the default keyspace is another
//!
//! // A snapshot keeps seeing the past while writes go on; it owns what it needs, so it
//! // can move to another thread.
//! let snapshot = db.snapshot()?;
//! db.put("apple", "green")?;
//! db.flush()?; // the memtables become table files; the snapshot does not notice
//! let apple = std::thread::spawn(move || snapshot.get("apple")).join().unwrap()?;
//! assert_eq!(apple.as_deref(), Some(&b"red"[..]));
//!
//! // Scans are double-ended: `.rev()` walks backwards.
//! let keys: Vec<_> = db.iter()?.rev().map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, ["plum", "hits", "apple"]);
//!
//! // Reopening replays the manifest, then the WAL.
//! drop((db, accounts, audit));
//! let db = Db::open(dir.path(), Options::default())?;
//! assert_eq!(db.get("apple")?.as_deref(), Some(&b"green"[..]));
//! assert_eq!(db.get("pear")?, None);
//! assert_eq!(db.keyspace("accounts")?.get("alice")?.as_deref(), Some(&b"90"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The parts, and the traits between them
//!
//! The engine wires components it does not know by name. Three are chosen in
//! [`Options`], each through the trait it is used by, with FerrisDB's own as defaults:
//!
//! | trait | default | what the engine asks of it |
//! |---|---|---|
//! | [`MemtableFactory`] / `ferris_core::Memtable` | the skip list (`ferris-memtable`) | apply a batch, a lookup at a sequence number, an iterator, a size |
//! | [`TableFormat`] (`ferris-table`) | sorted tables (`ferris-sstable`) | write a table from sorted entries; open one for lookups, iteration and verification |
//! | [`Strategy`] (`ferris-compaction`) | leveled compaction | what to compact next, and how hard to hold writes back |
//!
//! Every sorted source, memtable or table, is read through one iterator contract
//! (`ferris_core::iter::InternalIterator`), merged by the same `MergingIterator`, and a
//! reader's view of a merge is `ferris_core::iter::UserIter`; a compaction's is
//! `ferris_compaction::CompactionIterator`. `docs/concepts/swapping-components.md` walks
//! through plugging in a memtable of your own.
//!
//! Inside, the database is a handful of parts with one job each, shared by the [`Db`]
//! handle and the background threads:
//!
//! - the **version set** (`src/versions.rs`): the live tables of each level, the manifest
//!   that records them, and the *super version* every read pins; one
//!   `install_edit`, used by flushes, compactions and recovery alike, is the only way the
//!   set of live tables changes;
//! - the **write controller** (`src/write.rs`): the queue of writers, group commit, the
//!   WAL, flow control and memtable freezes, and the sequence number reads see;
//! - **background work** (`src/work.rs`): what the flush and compaction threads do next,
//!   and the one place every thread waits, on one condition variable; it holds the
//!   **poison**, which refuses writes after a failure, keeps that failure as the
//!   [`Error::Poisoned`] error's source, and wakes every waiter when set;
//! - the flush thread (`src/flush.rs`), the compaction threads (`src/compaction.rs`) and
//!   the idle thread (`src/idle.rs`), each a loop over those parts; recovery
//!   (`src/recovery.rs`) builds them; `Db::verify` (`src/verify.rs`) reads them.
//!
//! What is not wiring lives in the crate whose job it is (the write queue in
//! `ferris_wal::group`, the merge rules in `ferris-compaction`, the iterators in
//! `ferris_core::iter`), and the engine's own code stays at most 3,450 lines as
//! `cargo xtask loc ferris-engine` counts them: a test in `xtask/src/loc.rs` fails past
//! that.
//!
//! ## The write path, step by step
//!
//! 1. **Queue.** [`Db::write`] checks the batch (no empty key, no key over
//!    [`MAX_KEY_LEN`], no value over [`MAX_VALUE_LEN`]) and joins a queue of writers
//!    (a `ferris_wal::group::GroupQueue`; `src/write.rs` says what a group does). The
//!    writer at the front becomes the **leader**; the others wait.
//! 2. **Group.** The leader takes the batches queued behind it (up to 1 MiB) and appends
//!    them into one batch, so the group is one WAL record: all of it survives a crash or
//!    none of it does, and the log stays in sequence-number order. A leader whose own
//!    write wants an fsync first **gathers**: it waits, for at most half the last durable
//!    group's fsync, until the writers that group released have queued again, so the
//!    writers share each fsync instead of splitting into two cohorts that take turns
//!    (`ferris_wal::group` explains both).
//! 3. **Room.** If the memtable of a keyspace the group writes to is full
//!    ([`Options::write_buffer_size`], or its keyspace's own) the leader freezes it: the WAL is **rotated** (the old segment is sealed and fsync'd, a new one created
//!    and its directory entry fsync'd), the memtable joins the frozen list, and the flush
//!    thread is woken. If [`Options::max_immutable_memtables`] are already waiting, the
//!    leader **stalls** until a flush finishes: memory stays bounded, the stall is counted
//!    in [`Stats::stalls`] and logged through `tracing`.
//! 4. **Sequence numbers.** Entry `i` of the group gets `last + 1 + i`. While a
//!    transaction is live, the leader first has the resolver admit each member in
//!    order: a transaction's commit is checked, and left out of the group if it
//!    conflicts (see "Transactions" below).
//! 5. **Log.** One `Wal::append_with` call writes the record and, when any writer in the
//!    group asked for it ([`Options::sync_writes`], the default), **fsyncs the segment**.
//!    This is the fsync that makes the write durable; a group of eight writers pays for one.
//!    If it fails, the database is poisoned: no write is acknowledged that might not be
//!    durable, and every later write fails with [`Error::Poisoned`] until a reopen lets
//!    recovery decide what reached the disk.
//! 6. **Memtable.** The entries go into the memtable, in one `Memtable::apply` call for
//!    the whole group (one per keyspace the group writes to).
//! 7. **Publish.** The last sequence number is stored (release ordering). Reads load it
//!    first, so a reader sees the whole group or none of it.
//!
//! ## Flush: memtable to table, step by step
//!
//! The flush thread (`src/flush.rs`) takes the oldest frozen memtable and:
//!
//! 1. walks the memtable's iterator into a new table's `TableBuilder`, whose `finish` makes
//!    the table durable under its name (the default format writes `NNNNNN.sst.tmp`,
//!    **fsyncs it**, renames it to `NNNNNN.sst` and **fsyncs the directory**);
//! 2. appends a version edit to the manifest (the table added to level 0, the first WAL
//!    segment still needed, the next file number, the last sequence number) and **fsyncs
//!    the manifest**: this is the moment the flush takes effect;
//! 3. installs a new `Version` and drops the frozen memtable from what reads see;
//! 4. deletes the WAL segments the table made redundant.
//!
//! Between flushes, while the next memtable fills, the thread creates the next table and
//! lets the format prepare it (`TableBuilder::prefault`; the default format has the page
//! cache set up for its `.sst.tmp`), so that step 1 only copies: a flush holds a whole frozen memtable in memory, and the memtable behind
//! it grows for as long as the flush takes. A failure there poisons the database like a
//! failed flush.
//!
//! A crash before step 2 leaves an orphan table that the next open deletes; a crash after
//! it leaves old WAL segments the next open deletes. When the manifest passes
//! [`Options::max_manifest_size`], a new one is written holding a snapshot of the state,
//! and `CURRENT` is switched to it atomically (write `CURRENT.tmp`, fsync, rename, fsync
//! the directory).
//!
//! ## Compaction
//!
//! Flushes add overlapping level-0 tables; compaction threads
//! ([`Options::compaction_threads`], `src/compaction.rs`) keep the levels in shape. Each
//! asks the strategy ([`Options::compaction_strategy`]: `ferris_compaction::Leveled` by
//! default; also `Tiered`, `ferris_fifo::Fifo` or your own, each a pure function of the
//! levels) what to do, marks the chosen tables busy, and then:
//!
//! 1. merges the inputs (a `MergingIterator` over their iterators) through
//!    `ferris_compaction`'s `CompactionIterator`, which keeps for each user key only the
//!    newest version in each *snapshot stripe* (versions no live snapshot separates: only
//!    the newest of them can ever be read), and drops a tombstone when nothing older can
//!    exist below the output level and no snapshot predates it;
//! 2. writes the output tables where `ferris_compaction`'s `OutputCuts` ends them: at
//!    [`CompactionOptions::target_file_size`] or when one overlaps too much of the next
//!    level, and only between user keys, so the tables of a level never share a key;
//! 3. records the inputs removed and the outputs added as **one** version edit, fsync'd
//!    to the manifest: a crash leaves either the inputs or the outputs live, never half of
//!    each; then installs the new version. The inputs are deleted once no reader holds
//!    them.
//!
//! Flushes come first. A compaction checks every thousand entries or so whether a flush
//! is writing its table, and if one is, it waits for it to end
//! ([`Options::flush_priority`]; by default only when the machine has fewer cores than
//! the flush thread, the compaction threads and one writer). Until a flush ends, the
//! frozen memtable and the new one filling behind it are both in memory, and writers
//! may be stalled on it; a compaction delayed by a tenth of a second costs nothing of the
//! kind.
//!
//! A table with nothing to merge with below it just moves down a level (an edit, no
//! rewrite), and a strategy may drop whole tables (tables of only tombstones hiding
//! nothing, or a FIFO strategy's oldest). How hard writes are held back is the
//! strategy's call too (`Strategy::write_pressure`, judged once per new version): the
//! leveled and tiered strategies slow writes down by a millisecond per group when level 0
//! reaches [`CompactionOptions::l0_slowdown_trigger`] tables, and stop them (counted in
//! [`Stats::stalls`]) at [`CompactionOptions::l0_stop_trigger`] until compaction catches
//! up; the same two thresholds apply to their estimate of the bytes compaction still has
//! to rewrite ([`CompactionOptions::soft_pending_compaction_bytes`] and
//! [`CompactionOptions::hard_pending_compaction_bytes`], shown in
//! [`Stats::pending_compaction_bytes`]). [`Db::compact`] flushes and then asks the
//! strategy for a manual compaction (the leveled and tiered strategies merge every level
//! down into the deepest one); [`Db::compact_range`] does the same for a key range.
//!
//! [`Options::compaction_filter`] (or a keyspace's own, in [`KeyspaceOptions`]) runs a
//! [`CompactionFilter`] on the newest version of each key that no snapshot reads, as
//! compactions write it: keep it, remove the key, or change its value, for expiring data
//! or rewriting it without a write per key. The cost model is compaction's: flushes do
//! not run the filter, and data meets it only when a compaction rewrites it, so what a
//! filter removes keeps its space until then. [`Db::compact`] and [`Db::compact_range`]
//! force it: with a filter set, a manual compaction ends by rewriting the deepest level's
//! tables in its range too. A filter that panics fails its compaction, which poisons the
//! database ([`Error::Poisoned`], the panic in the source); nothing was installed, so the
//! data is as it was, and a reopen with a fixed filter goes on.
//!
//! ## Idle work
//!
//! Under load the engine holds work back on purpose: a memtable is flushed only when
//! full, and level 0 waits for its trigger so that each merge into level 1 (which, with
//! random keys, rewrites nearly all of it) carries several flushes' worth of keys. When
//! the writes stop, what was held back would stay forever: a partly full memtable whose WAL
//! segments cannot be deleted, and level-0 tables full of versions that level 1 also
//! holds. So an idle thread (`src/idle.rs`) samples the published last sequence number
//! every [`Options::idle_after`] (default 5 s), which costs the write path nothing. Once
//! it has not moved for that long, and only once per such quiet period, the thread
//! queues the same freeze as [`Db::flush`] and waits for the flush (the WAL segments are
//! retired as usual), then marks the database idle at that sequence number: the
//! compaction threads show the strategy an idle view until a write arrives, and
//! `ferris_compaction::Leveled` merges all of level 0 into level 1. Both are counted
//! ([`Stats::idle_flushes`], [`Stats::idle_compactions`]) and logged through `tracing`.
//! The price is at most one rewrite of level 1's overlapping tables per quiet period: a
//! load that pauses for longer than `idle_after` over and over pays it every time, and
//! should raise the setting or turn it off (`None`). Writes arriving during idle work are
//! simply writes (the database is no longer idle), and [`Db::close`] stops it as it stops
//! any compaction.
//!
//! ## The read path
//!
//! A read loads the last sequence number, then pins the current *super version*: the
//! active memtable, the frozen ones, and the `Version` (the live tables per level), all
//! behind one `Arc`. [`Db::get`] asks them in order, newest first, and stops at the first
//! answer, a value or a tombstone: the memtable, the frozen memtables, the level-0 tables
//! newest first (the default format asks its bloom filter before reading a block), then
//! each deeper level's one table whose key range holds the key.
//!
//! [`Db::multi_get`] reads many keys at one sequence number, pinning the super version
//! once for all of them (`src/multi_get.rs`). It sorts and dedupes the keys, asks the
//! memtables for each, then goes level by level with only the keys still unanswered:
//! each level-0 table gets the keys inside its range, and a deeper level's sorted keys
//! are split among its tables in one pass (`ferris_core::level::partition_keys`). A
//! table answers its keys in one call, `TableReader::get_many`, which the default format
//! runs as one forward walk: the bloom filter per key, and each data block read once for
//! all the keys in it.
//!
//! A scan ([`Db::range`], [`Db::prefix`], [`Db::iter`]) merges its sources with
//! `ferris_core::iter::MergingIterator`, a binary heap (`src/iter.rs` chooses the
//! sources): each step yields the smallest internal key among them. The sources are the
//! memtables' iterators, each level-0 table whose key range meets the scan's, and one
//! `ConcatIterator` per deeper level, which opens only the table under its position and
//! moves to the next one at its end (LevelDB's two-level iterator): a seek costs one table
//! per level, not one per table. On top of the merge, `UserIter` (behind [`DbIter`]) skips
//! versions newer than its sequence number, yields only the newest remaining version of
//! each user key, and hides keys whose newest version is a tombstone. After eight unwanted
//! versions of one key in a row (a hot key, overwritten thousands of times) it seeks past
//! the rest instead of stepping over each, as RocksDB does. Going backwards, a key's
//! versions arrive oldest first, so the iterator collects them and keeps the newest
//! visible one (past eight, it seeks to that one directly). The two ends use two merges
//! and stop when they meet.
//!
//! A table file is deleted only when no `Version` lists it and no iterator holds it: each
//! is an `Arc`, and the last one dropped deletes the file once an edit has removed it.
//!
//! ## Keyspaces
//!
//! Applications keep different kinds of data side by side: an index beside its records, a
//! raft log beside its state machine. Each kind wants its own settings, and writes that
//! touch several must be atomic. A **keyspace** ([`Db::keyspace`], RocksDB's column
//! family, fjall's keyspace) is a sorted key space of its own inside the database: its
//! own memtable, its own levels of tables, its own [`KeyspaceOptions`] (write buffer,
//! block size, bloom bits, compression, compaction strategy). What the keyspaces share is
//! what makes writes across them cheap and atomic: one WAL, one manifest, one sequence of
//! sequence numbers, one write queue and one set of background threads.
//!
//! - **Writes.** A batch names a keyspace per entry ([`WriteBatch::put_in`]); an entry of
//!   the default keyspace is encoded exactly as before keyspaces existed, so a database
//!   that uses none pays nothing. The group's leader applies each keyspace's entries to
//!   that keyspace's memtable; the whole group is still one WAL record, so a batch across
//!   keyspaces survives a crash whole or not at all, and readers see it whole (the last
//!   sequence number is published once).
//! - **Reads.** A [`Keyspace`] handle reads its own super version. A [`Snapshot`] is a
//!   sequence number, and sequence numbers are shared: one snapshot is one moment of every
//!   keyspace ([`Snapshot::get_in`], [`Snapshot::range_in`]).
//! - **Flushes and compactions** run per keyspace: a keyspace's memtable is frozen when
//!   *it* is full, and the compaction threads ask each keyspace's strategy in turn. Write
//!   stalls are shared, since the WAL and the queue are: writes slow down or stop when
//!   any keyspace's strategy asks.
//! - **The WAL.** Each keyspace has a *log number* in the manifest: its writes in older
//!   segments are all in its tables. A segment is deleted only when it is older than every
//!   keyspace's log number. Two rules keep a quiet keyspace from holding segments forever:
//!   a flush also moves forward the log numbers of the keyspaces that had nothing in
//!   memory when it froze, and a keyspace whose writes go back four segments is frozen at
//!   the next rotation however little it holds (RocksDB's `max_total_wal_size` plays this
//!   part there).
//! - **Creating and dropping** are manifest edits, fsync'd before the call returns, under
//!   the same lock as every other edit. Ids are handed out in order and never reused, so
//!   a dropped keyspace's entries, which stay in old WAL segments until they are retired,
//!   are skipped by recovery instead of landing in a newer keyspace. A dropped keyspace's
//!   tables are deleted once no read in flight holds them; its handles fail with
//!   [`Error::KeyspaceDropped`].
//! - **What a keyspace is.** The manifest records each keyspace's table format and
//!   strategy by name; opening the database with another for it is refused with
//!   [`Error::KeyspaceOptions`] (the strategies' levels are not interchangeable: FIFO drops
//!   what leveled compaction keeps). Keyspaces other than the default take their options
//!   from [`Options::keyspaces`], because their flushes and compactions start when the
//!   database opens, before anyone asks for a handle. A version 1 database (before
//!   keyspaces) opens as one whose only keyspace is the default.
//!
//! The handles are cheap clones (`Arc`s inside), `Send + Sync`, and each keeps the database
//! open: it closes when [`Db::close`] is called on any of them, or when the last [`Db`],
//! [`Keyspace`] or [`Snapshot`] is dropped.
//!
//! ## Opening: recovery, step by step
//!
//! 1. Create the directory if needed, then take an OS lock on `LOCK` ([`Error::Locked`]
//!    if another `Db` holds it; [`Error::ReadOnly`] if the directory cannot be written,
//!    since every open for writing writes a lock, a WAL segment and a manifest).
//! 2. Read `CURRENT` (checksummed) and replay the manifest it names into the set of live
//!    tables, and open them. No `CURRENT` means a new database, unless the directory holds
//!    tables, WAL segments or foreign files, or [`Options::create_if_missing`] is off
//!    ([`Error::NotADatabase`], checked before the lock file is written). Before anything is
//!    deleted, the files that state needs must be there: a missing WAL segment at the
//!    manifest's log number is corruption, and so is a damaged last manifest edit that had
//!    taken effect (the segments or tables it retired are gone), which a torn write cannot
//!    leave.
//! 3. Replay every WAL segment from the smallest log number of any keyspace on, each entry
//!    into its keyspace's memtable if the segment is not older than that keyspace's log
//!    number (a dropped keyspace's entries are skipped). A torn tail (what a power cut
//!    leaves) is dropped; corruption anywhere else is an error naming the file and offset
//!    (see [`Options::wal_recovery_mode`] for the lenient modes).
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
//! ## Read-only open
//!
//! [`Db::open_read_only`] runs steps 2 and 3 and nothing else: no lock, no deletions, no
//! new manifest or WAL segment, no flush, no background threads. What it replayed stays in
//! memory, and it serves reads as of its open. It works on a read-only mount, and beside
//! a process that has the database open for writing; every write on it fails with
//! [`Error::OpenedReadOnly`], and changes nothing.
//!
//! Beside a live writer, the files it reads may not fit together: between reading
//! `CURRENT`, the manifest, the WAL and the tables, the writer may switch manifests, or
//! delete the WAL segments a flush retired and the tables a compaction replaced. Two
//! facts make that detectable. A name is never reused and a file only grows at its end,
//! so a file read is the one meant, or missing. And a writer deletes a file only after
//! the manifest change that let it go, so a missing file comes with a moved manifest
//! (another `CURRENT`, or a longer manifest). An attempt that fails while the manifest
//! moved starts over (`ferris_manifest::read_consistent`); the same failure twice over a
//! still manifest is the database's own (damage is reported as damage); and after eight
//! attempts that each met a change the open fails with [`Error::ConcurrentChange`]. A torn
//! tail in the manifest or the newest WAL segment is a write in progress, read as the end,
//! so a batch is seen whole or not at all. Once open, its tables stay open, and on Unix a
//! file the writer deletes stays readable through its handle. The module
//! `src/recovery.rs` gives the full argument; the crash loop (`ferris-crash`) reads
//! beside a writer it kills, and checks each read is a prefix of every writer's history.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use ferris_engine::{Db, Error, Options};
//!
//! let writer = Db::open(dir.path(), Options::default())?;
//! writer.put("config", "v1")?;
//! let reader = Db::open_read_only(dir.path(), Options::default())?; // no lock needed
//! writer.put("config", "v2")?;
//! assert_eq!(reader.get("config")?.as_deref(), Some(&b"v1"[..])); // as of its open
//! assert!(matches!(reader.delete("config"), Err(Error::OpenedReadOnly)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Range deletes
//!
//! [`Db::delete_range`] and [`Db::delete_prefix`] (and [`WriteBatch::delete_range`], with
//! other writes, atomically) delete every key in a range with **one** entry, a range
//! tombstone (`ferris_core::range_del`): one WAL record, one sequence number, whatever the
//! range holds. It covers every version of every key in the range written before it:
//!
//! - **in memory**, the memtable keeps its tombstones beside its skip list, and answers a
//!   point lookup under one as deleted;
//! - **in tables**, a flush writes them into a block of their own in the level-0 table
//!   (the table's key range grows to hold what they cover, so the levels find it for every
//!   such key); a table's `get` answers for its own tombstones the same way, so a point
//!   read still stops at the first layer that knows anything about the key;
//! - **scans** give each source they merge (the memtables, level-0 tables and deeper
//!   levels, newest first) the tombstones of every newer source, and an older source's
//!   iterator seeks past what those cover in one step (`ferris_core::iter::skip_covered`:
//!   every version an older source holds of a key is older than a newer source's
//!   tombstone over it), as does a memtable past its own tombstones newer than every
//!   version it holds (`Memtable::newest_version`); `UserIter` then hides what is left
//!   under a tombstone of its own source, checking each version, in both directions;
//! - **snapshots** see a tombstone only if it is no newer than they are, like any entry;
//! - **compaction** gathers its inputs' tombstones too, drops every version one covers in
//!   the same snapshot stripe, hands each output table the part of the tombstones between
//!   it and its neighbours, and at the bottom level drops a tombstone every snapshot sees:
//!   nothing older is left for it to cover. That is when the space comes back, so as with
//!   a compaction filter, [`Db::compact_range`] over the range forces it.
//!
//! The cost model: the write is O(1); reads in the range pay a binary search per layer that
//! holds tombstones; a scan over a deleted range seeks past what it covers, except the
//! versions of the tombstone's own layer when that layer also holds newer versions (a
//! table, or a memtable written to after the delete), which it steps over until
//! compaction drops them (`cargo xtask bench` measures both, the
//! `deleterange` rows against deleting every key one by one). Many overlapping range
//! deletes in one memtable are refragmented after each, when first read.
//! `ferris delete-range DIR --prefix P` (or `--from A --to B`) runs one from the command
//! line.
//!
//! ## Expiring values (TTL)
//!
//! A keyspace created with [`KeyspaceOptions::ttl`] on ([`Options::ttl`] for the default
//! keyspace) stores every value with its expiry time: [`Db::put_with_ttl`],
//! [`Keyspace::put_with_ttl`] and [`WriteBatch::put_with_ttl_in`] give a write its own
//! time to live, and a put without one gets the keyspace's default (or never expires).
//! The pieces:
//!
//! - **the value carries it**: an 8-byte expiry time (milliseconds since the UNIX epoch)
//!   after the user's bytes (`ferris_core::expiry`). The WAL, memtables and tables store
//!   it as part of the value, untouched; the manifest records which keyspaces expire
//!   (format 3), since that decides how their values read, so opening one without saying
//!   so still reads it right, and one created without expiry refuses a TTL;
//! - **writes** turn a time to live into an expiry time once, when the engine takes the
//!   batch ([`WriteBatch::resolve_expiry`]), with the clock of [`Options::clock`]: a WAL
//!   replay after a crash restores the same expiry, not a later one;
//! - **reads** ([`Db::get`], [`Db::multi_get`], scans both ways) strip the trailer and
//!   answer an expired version as a deletion: the key is absent, and older versions stay
//!   hidden behind it. A [`Snapshot`] judges expiry as of the moment it was taken, so it
//!   reads the same thing however long it lives;
//! - **compaction** gives the space back: an expiring keyspace's compactions run
//!   `ferris_compaction::ExpiryFilter` (in front of the keyspace's own filter, which sees
//!   values without their trailers), which turns the newest version of an expired key
//!   into a tombstone, dropped at the bottom level like any other.
//!
//! The cost model is a compaction filter's: an expired value takes its space until a
//! compaction reaches it, and [`Db::compact_range`] over its range forces that. Reads
//! pay one clock read per call and 8 bytes per value (`cargo xtask bench`'s `ttl` rows
//! measure it). Tests run on a [`ManualClock`].
//!
//! ## Checking the files
//!
//! Reads verify the checksum of every block they touch, but a block nobody reads can sit
//! damaged unnoticed. [`Db::verify`] reads every live file back (CURRENT, the manifest,
//! every table block, bypassing the cache, and every WAL segment not yet flushed) while
//! the database runs, and returns a [`VerifyReport`] listing every problem with its file
//! and offset; `ferris verify DIR` prints it.
//!
//! ## Checkpoints
//!
//! [`Db::checkpoint`] writes a copy of the database as of one sequence number into a new
//! directory, while reads and writes go on, and the copy opens as a database of its own
//! (a backup, a clone for a test, a replica's starting point). A job in the write queue
//! pins every keyspace's super version and reads the sequence number `S`, so writers wait
//! only for that; then every pinned table is hard-linked into the target (copied when the
//! target is on another file system, see [`ferris_fs::link_or_copy`]), and what the pinned
//! memtables hold up to `S` is written as one new level-0 table per keyspace, so the copy
//! needs no WAL. The pinned versions keep compaction from deleting a table before it is
//! linked. A new manifest and then CURRENT commit the copy: a power cut or a failure
//! before CURRENT leaves a directory that does not open ([`Error::NotADatabase`]), never
//! half a checkpoint that does; a failed call removes what it wrote. A linked table
//! shares its disk space with the source until a compaction there replaces it, so a
//! checkpoint costs almost nothing at first and its full size once the source has
//! rewritten its tables. `ferris checkpoint DIR TARGET` takes one from the command line.
//!
//! ## Transactions
//!
//! A batch is atomic, but a read followed by a write is not: two deposits that both read
//! a balance of 100 and both write 110 lose one of them. [`Db::transaction`] begins an
//! optimistic transaction, FoundationDB's kind: it reads at a **read version** (a
//! snapshot taken at its first read), sees its own writes (point reads and scans, both
//! ways), buffers its writes until [`Transaction::commit`], and commits them as one batch
//! only if no transaction that committed after its read version changed what it read.
//! Otherwise the commit fails with a retryable [`TxnError::Conflict`] naming the range,
//! and nothing is written. [`Db::run`] wraps the loop: begin, run a closure, commit, and on
//! a conflict wait a little ([`ferris_txn::backoff`]) and run it again.
//!
//! ```
//! use ferris_engine::{Db, Isolation, Options, TxnOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put("alice", "100")?;
//!
//! // Two withdrawals read the same balance: the second to commit is refused.
//! let (mut a, mut b) = (db.transaction()?, db.transaction()?);
//! for txn in [&mut a, &mut b] {
//!     let balance: u64 = std::str::from_utf8(&txn.get("alice")?.ok_or("no balance")?)?.parse()?;
//!     txn.put("alice", (balance - 10).to_string())?;
//! }
//! a.commit()?;
//! assert!(b.commit().unwrap_err().is_retryable());
//!
//! // `run` retries until it commits; the closure may run more than once.
//! let left = db.run(|txn| -> Result<u64, Box<dyn std::error::Error>> {
//!     let balance: u64 = std::str::from_utf8(&txn.get("alice")?.ok_or("no balance")?)?.parse()?;
//!     txn.put("alice", (balance - 10).to_string())?;
//!     Ok(balance - 10)
//! })?;
//! assert_eq!(left, 80);
//!
//! // One transaction spans keyspaces. A snapshot read records no conflict range, so a
//! // later change to what it read does not refuse the commit.
//! let accounts = db.keyspace("accounts")?;
//! let audit = db.keyspace("audit")?;
//! let mut txn = db.transaction()?;
//! let _fee = txn.snapshot_get_in(&accounts, "fee")?; // a hint; stale is fine
//! txn.put_in(&accounts, "bob", "10")?;
//! txn.put_in(&audit, "0001", "alice -> bob 10")?;
//! accounts.put("fee", "1")?; // a write to what the snapshot read saw
//! txn.commit()?;
//! assert_eq!(audit.get("0001")?.as_deref(), Some(&b"alice -> bob 10"[..]));
//!
//! // Snapshot isolation checks only writes against writes: write skew gets through.
//! db.put("on-call/alice", "yes")?;
//! db.put("on-call/bob", "yes")?;
//! let si = TxnOptions::new().isolation(Isolation::Snapshot);
//! let (mut alice, mut bob) = (db.transaction_with(si)?, db.transaction_with(si)?);
//! for (txn, me) in [(&mut alice, "alice"), (&mut bob, "bob")] {
//!     assert_eq!(txn.prefix("on-call/")?.count(), 2); // someone else is on call
//!     txn.delete(format!("on-call/{me}"))?;
//! }
//! alice.commit()?;
//! bob.commit()?; // serializable (the default) would refuse this one
//! assert_eq!(db.prefix("on-call/")?.count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - **Isolation.** Serializable by default ([`Isolation::Serializable`]): a point read
//!   records its key and a scan its whole bounds (so an insert into a scanned range
//!   conflicts: no phantoms), and the commit is checked against them. Snapshot isolation
//!   on request ([`TxnOptions::isolation`]) records no reads and checks the keys the
//!   transaction writes: cheaper, and it lets write skew through, as above. A transaction
//!   that only reads never conflicts.
//! - **Snapshot reads** ([`Transaction::snapshot_get_in`],
//!   [`Transaction::snapshot_range_in`]; the default keyspace's handle is
//!   `db.keyspace("default")`) read at the read version and record nothing.
//! - **Keyspaces.** The `_in` methods read and write any keyspace, and the commit is one
//!   batch across all of them; the same key in two keyspaces is two keys.
//! - **Where the check runs.** The commit is a job in the write queue, and the leader
//!   checks each transaction of its group with `ferris_txn`'s resolver in the order the
//!   group will be written, just before it assigns sequence numbers (step 4 of the write
//!   path): nothing can commit between a check and its write. A refused transaction is
//!   left out of the group. While a transaction is live, plain writes are recorded too,
//!   so a plain write to a key a transaction read makes it conflict; while none is live,
//!   writes skip the resolver (`src/write.rs` says why that is safe).
//! - **The window.** The resolver remembers recent commits up to
//!   [`Options::transaction_limits`] (64 MiB and five seconds by default, FoundationDB's
//!   window); a transaction whose read version is older than what it remembers fails
//!   with [`TxnError::TooOld`], retryable, never with a wrong answer. A transaction whose
//!   read or write ranges weigh more than 10 MiB (by default) gets
//!   [`TxnError::TooLarge`], which retrying cannot fix.
//! - **Durability.** A commit is one WAL record, whole or absent after a crash, durable
//!   when it returns unless [`TxnOptions::sync`] or [`Options::sync_writes`] says
//!   otherwise.
//!
//! Chapter 11 (`ferris-txn`) builds the model, the resolver and the window, and proves
//! the write path's shortcut; `docs/concepts/transactions.md` compares this with snapshot
//! isolation and two-phase locking, anomaly by anomaly, with `tests/it/txn.rs`'s tests
//! as the examples.
//!
//! # Durability
//!
//! With [`Options::sync_writes`] (the default), a write that returned `Ok` was fsync'd to
//! the WAL, and survives a power cut. With it off, a write survives a crash of the process
//! but not a power cut until [`Db::sync_wal`] returns (or a later synced write). After a
//! crash, the recovered state is the history up to some point at or after the last
//! acknowledged write: a prefix, never with holes. The integration tests cut the power of
//! a simulated disk at operations spread over a workload of writes, flushes and
//! compactions, and at every operation of an open and of manifest rotations, and check
//! exactly that (`tests/it/power_cut.rs`).
//!
//! # Concurrency
//!
//! [`Db`], [`Keyspace`] and [`Snapshot`] are `Send + Sync`, and the first two are cheap to
//! clone. Reads never wait for writes or flushes (they clone an `Arc`
//! under a read lock). Writes are serialized through the queue, with one leader at a time;
//! flushes run on their own thread and compactions on theirs, and the idle thread joins
//! the write queue only to freeze the memtable. Snapshots and iterators see one sequence
//! number.
//!
//! # Limits
//!
//! - The tiered strategy trades disk and lookups for fewer rewrites: in
//!   `cargo xtask compaction-sim` it holds up to twice the live data on disk and up to
//!   eight sorted runs for a lookup to consult (see `ferris-compaction`).
//! - Memtable inserts happen in the group's leader, one group at a time.
//! - Background flushes and compactions interleave with writes by the OS scheduler, so a
//!   simulated power cut at operation `n` is not guaranteed to land on the same
//!   operation twice.
//! - A single flush thread; a snapshot does not survive a reopen.
//! - Keyspaces share one table format and one memtable kind ([`Options::table_format`],
//!   [`Options::memtable`]); the rest of their options are their own.
//! - A database opened read-only does not follow its writer: open it again to see newer
//!   writes. Its [`Db::verify`] reads the WAL segments whole, with no writer's length to
//!   stop at, so beside a writer appending at that moment it may catch the record being
//!   written half-copied, which looks like damage, or a segment being sealed cut short
//!   under it. It reads such a segment again, up to four times, and reports damage only
//!   where two reads in a row find it (damage stays, a write in progress does not); a
//!   record left in the same half-copied state across two reads would still be reported.
//!   CURRENT and the manifest it names are read again the same way, since a writer may
//!   switch manifests between the two reads (`ferris_manifest::check_beside_writer`). A
//!   file the writer retired since the open is checked through the handle still open.
//!
//! ## Exercises
//!
//! 1. Write 1,000 keys with [`Options::write_buffer_size`] at 16 KiB and print
//!    [`Db::stats`]: how many flushes ran, and why is the write amplification above 2?
//! 2. Open the same directory twice from one program. Which error do you get, and which
//!    file does it name?
//! 3. Put a key, take a snapshot, delete the key and [`Db::compact`]. Where does the
//!    snapshot find the value now? Drop the snapshot, compact again, and look at
//!    [`Db::stats`]: where did the bytes go?
//! 4. Open a database with [`Options::ttl`] on and a [`ManualClock`], write 10,000 keys
//!    with a time to live of a minute, flush, and move the clock past it. What do
//!    [`Db::get`] and [`Db::stats`] say now, and after [`Db::compact`]? Take a snapshot
//!    before moving the clock: why can compaction not drop what it reads?
//!
//! ## What to read next
//!
//! `docs/format/manifest.md` for the bytes of the manifest and `CURRENT`;
//! `ferris-compaction` for the strategy behind compaction; and
//! `docs/concepts/mvcc-and-snapshots.md` for how sequence numbers make snapshots work;
//! and chapter 11, `ferris-txn`, for the transactions built on them.

#![forbid(unsafe_code)]

mod checkpoint;
mod compaction;
mod db;
mod error;
mod flush;
mod idle;
mod iter;
mod keyspace;
mod multi_get;
mod options;
mod recovery;
mod txn;
mod verify;
mod versions;
mod work;
mod write;

pub use bytes::Bytes;
pub use checkpoint::CheckpointStats;
pub use db::{Db, LevelStats, Snapshot, Stats, WriteOptions};
pub use error::{Corruption, Error, IoError, Result, UnsupportedVersion};
pub use ferris_compaction::{CompactionFilter, CompactionOptions, Decision, Strategy};
pub use ferris_core::expiry::{Clock, ManualClock, SystemClock, Ttl};
pub use ferris_core::{
    DEFAULT_KEYSPACE, KeyspaceId, LimitError, MAX_BATCH_LEN, MAX_KEY_LEN, MAX_VALUE_LEN,
    MemtableFactory, WriteBatch,
};
pub use ferris_table::{Compression, TableFormat};
pub use ferris_txn::{Isolation, KeyRange, ResolverLimits, TxnError, TxnOptions};
pub use ferris_wal::RecoveryMode;
pub use iter::DbIter;
pub use keyspace::{Keyspace, KeyspaceStats};
pub use options::{FlushPriority, KeyspaceOptions, Options};
pub use txn::{Transaction, TxnIter};
pub use verify::{FileCheck, FileKind, VerifyReport};
