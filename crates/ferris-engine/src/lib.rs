//! # ferris-engine: the database
//!
//! ## The problem
//!
//! The chapters before this one built the parts: a log that makes a write durable
//! (`ferris-wal`), a sorted in-memory buffer (`ferris-memtable`), immutable sorted files
//! (`ferris-table`'s contract, `ferris-sstable`'s format) and a log of which files are live
//! (`ferris-manifest`). None of them is a database. A database takes `put`, `get`, `delete`
//! and scans from many threads at once, never loses an acknowledged write, never shows half
//! a batch, and keeps memory bounded however much is written. This crate wires the parts
//! into [`Db`]. This page shows what the database does and how to use it; the four chapters
//! of the [`guide`] walk through what happens at each step, and at each
//! fsync.
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
//! `ferris_core::iter`), and the engine's own code stays at most 3,455 lines as
//! `cargo xtask loc ferris-engine` counts them: a test in `xtask/src/loc.rs` fails past
//! that.
//!
//! ## The engine, step by step
//!
//! How the engine does what the example shows is four chapters of their own, in the
//! [`guide`] module; read them in order:
//!
//! 1. [The write path](crate::guide::write_path): the queue of writers, group commit, flow
//!    control, the WAL append and the fsync that makes a write durable, the memtable,
//!    and publishing the sequence number readers see.
//! 2. [The read path](crate::guide::read_path): versions and snapshots; a point read that
//!    stops at the newest source that knows the key; batched reads; and scans, through the
//!    merging iterator that turns every memtable and table into one sorted stream, and the
//!    reader's view of it that hides old versions, tombstones and range tombstones, both
//!    ways.
//! 3. [Flush and recovery](crate::guide::flush_and_recovery): a memtable becoming a table,
//!    the manifest edit that makes it count, and an open putting the database back together
//!    after a crash, with what a power cut leaves at each step.
//! 4. [Background work](crate::guide::background_work): compaction from the choice to the
//!    new version; what a merge may drop once snapshots are in play (snapshot stripes,
//!    tombstones at the bottom, compaction filters); holding writes back when compaction
//!    falls behind; and the work done when the writes stop.
//!
//! The rest of this page is a tour of the API beyond `get` and `put` (keyspaces, a
//! read-only open, range deletes, expiring values, checking the files, checkpoints,
//! transactions), then the guarantees and the limits.
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
//! ## Read-only open
//!
//! [`Db::open_read_only`] runs steps 2 and 3 of recovery ([flush and
//! recovery](crate::guide::flush_and_recovery)) and nothing else: no lock, no deletions, no
//! new manifest or WAL segment, no flush, no background threads. What it replayed stays in
//! memory, and it serves reads as of its open. It works on a read-only mount, and beside a
//! process that has the database open for writing; every write on it fails with
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
//! - **scans** ([the read path](crate::guide::read_path) teaches the merge) give each
//!   source they merge (the memtables, level-0 tables and deeper levels, newest first) the
//!   tombstones of every newer source, and an older source's iterator seeks past what those
//!   cover in one step (`ferris_core::iter::skip_covered`: every version an older source
//!   holds of a key is older than a newer source's tombstone over it), as does a memtable
//!   past its own tombstones newer than every version it holds
//!   (`Memtable::newest_version`); `UserIter` then hides what is left under a tombstone of
//!   its own source, checking each version, in both directions;
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
//!   group will be written, just before it assigns sequence numbers (step 4 of [the write
//!   path](crate::guide::write_path)): nothing can commit between a check and its write. A
//!   refused transaction is left out of the group. While a transaction is live, plain
//!   writes are recorded too, so a plain write to a key a transaction read makes it
//!   conflict; while none is live, writes skip the resolver (`src/write.rs` says why that
//!   is safe).
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
//! Worked answers: `docs/answers.md`, chapter 6. Try each exercise first.
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
//! The four chapters of the [`guide`], from [the write
//! path](crate::guide::write_path) on; `docs/format/manifest.md` for the bytes of the
//! manifest and `CURRENT`; `ferris-compaction` for the strategy behind compaction; and
//! `docs/concepts/mvcc-and-snapshots.md` for how sequence numbers make snapshots work; and
//! chapter 11, `ferris-txn`, for the transactions built on them.

#![forbid(unsafe_code)]

mod checkpoint;
mod compaction;
mod db;
mod error;
mod flush;
pub mod guide;
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
