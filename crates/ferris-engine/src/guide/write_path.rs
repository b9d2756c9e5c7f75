//! # The write path, step by step
//!
//! A write has two promises to keep. When [`Db::put`](crate::Db::put) returns `Ok` the
//! write is **durable**: it survives a power cut (with
//! [`Options::sync_writes`](crate::Options::sync_writes), the default). And a batch is
//! **atomic**: a reader, and recovery after a crash, sees all of it or none of it. Both
//! have to hold while many threads write at once, and without paying a whole fsync, the
//! slowest thing a write does, for every write. The answer is a queue: writers line up, and
//! the one at the front writes for everyone behind it.
//!
//! ```text
//!   writers ─► queue ─► leader: group ─► flow control ─► check txns ─► room? ─► seq nos
//!                                                                                 │
//!     readers ◄── publish last seq ◄── memtable.apply ◄── WAL append (+ fsync) ◄──┘
//! ```
//!
//! The code is `src/write.rs` (what a group does) and `ferris_wal::group` (the queue,
//! the grouping, and how the writers wait).
//!
//! ## The steps
//!
//! 1. **Queue.** [`Db::write`](crate::Db::write) checks the batch (no empty key, no key
//!    over [`MAX_KEY_LEN`](crate::MAX_KEY_LEN), no value over
//!    [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN)) and joins a queue of writers (a
//!    [`GroupQueue`](ferris_wal::group::GroupQueue)). The writer at the front becomes the
//!    **leader**; the others wait. A writer that wants no fsync first yields the processor
//!    in a loop for up to [`SPIN`](ferris_wal::group::SPIN) (its group is likely done by
//!    then), then sleeps; a durable writer sleeps at once, since its group takes an fsync.
//! 2. **Group.** The leader takes the batches queued behind it (up to 1 MiB) and appends
//!    them into one batch, so the group is one WAL record: all of it survives a crash or
//!    none of it does, and the log stays in sequence-number order. A leader whose own write
//!    wants an fsync first **gathers**: it waits, for at most half the last durable
//!    group's write and fsync, until the writers that group released have queued again,
//!    so the writers share each fsync instead of splitting into two cohorts that take
//!    turns ([`ferris_wal::group`] explains both).
//! 3. **Flow control.** If the compaction strategy says compaction is falling behind, the
//!    leader holds the group back: a millisecond per group to slow down, or a wait until
//!    compaction catches up to stop ([background work](crate::guide::background_work) says
//!    when and why).
//! 4. **Transactions.** While a transaction is live, the leader has the resolver admit
//!    each member of the group in order: a transaction's commit is checked, and left out
//!    of the group if it conflicts (the front page's "Transactions" section, and
//!    `ferris-txn`). While none is live, this step is skipped.
//! 5. **Room.** If the memtable of a keyspace the group writes to is full
//!    ([`Options::write_buffer_size`](crate::Options::write_buffer_size), or its
//!    keyspace's own) the leader freezes it: the WAL is **rotated** (the old segment is
//!    sealed and fsync'd, a new one created and its directory entry fsync'd), the
//!    memtable joins the frozen list, and the flush thread is woken. If
//!    [`Options::max_immutable_memtables`](crate::Options::max_immutable_memtables) are
//!    already waiting, the leader **stalls** until a flush finishes: memory stays
//!    bounded, and the stall is counted in [`Stats::stalls`](crate::Stats::stalls) and
//!    logged through `tracing`.
//! 6. **Sequence numbers.** Entry `i` of the group gets `last + 1 + i`, where `last` is
//!    the last sequence number published. Only a leader assigns them, one group at a
//!    time, so they are unique and in the order the WAL holds them.
//! 7. **Log.** One `Wal::append_with` call writes the record and, when any writer in the
//!    group asked for it ([`Options::sync_writes`](crate::Options::sync_writes), or
//!    [`WriteOptions::sync`](crate::WriteOptions::sync) per write), **fsyncs the
//!    segment**. This is the fsync that makes the write durable; a group of eight
//!    writers pays for one. If it fails, the database is poisoned: no write is
//!    acknowledged that might not be durable, and every later write fails with
//!    [`Error::Poisoned`](crate::Error::Poisoned) until a reopen lets recovery decide what
//!    reached the disk.
//! 8. **Memtable.** The entries go into the memtable, in one `Memtable::apply` call for
//!    the whole group (one per keyspace the group writes to).
//! 9. **Publish.** The last sequence number is stored (release ordering), and the leader
//!    hands each writer of the group its result. Reads load the number first (acquire),
//!    so a reader sees the whole group or none of it: every entry at or below the number
//!    it loaded is already in the memtable.
//!
//! The order of the last three steps is the whole argument. The WAL comes before the
//! memtable, so nothing a reader can see is missing from the log; publishing comes after
//! the memtable, so a reader never sees a sequence number whose entries are not there
//! yet. A crash between the log and the publish loses nothing that was acknowledged: no
//! writer has been told `Ok` yet, and recovery replays the record anyway, which is
//! allowed (the write was in flight; it may land or not).
//!
//! ## What a write costs
//!
//! A write without fsync costs a WAL append into the page cache and a memtable insert; a
//! durable one adds its share of one fsync. `cargo xtask bench` measures both through the
//! engine (the `fillrandom` row, and with `--sync` the durable puts) and the WAL alone
//! (its `wal append` rows); `docs/concepts/wal-and-recovery.md` explains how group commit
//! and gathering change the fsyncs per write, and `docs/benchmarks.md` keeps the
//! measurements and their history.
//!
//! ## What is next
//!
//! The write is in the memtable, and readers can see it: [the read
//! path](crate::guide::read_path) shows how they find it among everything else.
