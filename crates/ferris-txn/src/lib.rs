//! # ferris-txn: optimistic transactions
//!
//! ## The problem
//!
//! A write batch is atomic: all of its puts and deletes land, or none do. That is not
//! enough to make a *read-modify-write* safe. Three anomalies show why; each is a test
//! here (`tests/it/anomalies.rs`, against the resolver alone) and in the engine
//! (`crates/ferris-engine/tests/it/txn.rs`, through `Db::transaction`).
//!
//! - **Lost update.** Two transfers both read a balance of 100, both add 10, both write
//!   110. Two deposits happened and the balance shows one. Each batch was atomic; the
//!   interleaving of the reads with the writes was not.
//! - **Write skew.** A rule says at least one of two doctors is on call. Alice reads both
//!   (both on call) and takes herself off; Bob reads both at the same time and takes
//!   himself off. Their writes touch different keys, so nothing that only compares writes
//!   notices, and now no doctor is on call.
//! - **Phantoms.** A transaction scans `orders/2026-12/` to total the month, while another
//!   inserts a new order there. The scan read no key the insert wrote (the key did not
//!   exist yet), yet its total is now wrong.
//!
//! A transaction is *serializable* when the result is as if the transactions ran one at a
//! time, in some order. Each anomaly above is a result no serial order produces.
//! `docs/concepts/transactions.md` compares the three usual cures (optimistic concurrency
//! control, snapshot isolation and two-phase locking) anomaly by anomaly; this chapter
//! builds the first.
//!
//! ## The model: optimistic concurrency control, as FoundationDB does it
//!
//! Locks would prevent these, at the price of clients that hold locks, wait for each other
//! and deadlock. FoundationDB takes no locks. A transaction:
//!
//! 1. gets a **read version**, a sequence number, and reads the database as of it: a
//!    snapshot, and in FerrisDB exactly a `Snapshot`, whose sequence number is that of the
//!    last write published when the transaction first read the database (FoundationDB
//!    too takes its read version at the first read; a transaction that only writes never
//!    takes one);
//! 2. **buffers its writes**, so no one else sees them before it commits, and notes its
//!    **conflict ranges** ([`KeyRange`], `[start, end)` in one keyspace): every range it
//!    read (a point read is the range holding one key, `[k, k\0)`; a scan is the whole
//!    range it scanned, not the keys it found) and every range it writes;
//! 3. at commit, hands both to the **resolver**, which keeps the write ranges of every
//!    recent commit. If a transaction that committed *after* the read version wrote into a
//!    range this one read, what it read may be stale: it is refused with a `Conflict`,
//!    writes nothing, and retries from a new read version. Otherwise its writes are
//!    written as one batch at sequence numbers after every earlier commit; the sequence
//!    number of its last write is its **commit version**, and its write ranges join the
//!    history under it.
//!
//! If every committed transaction passed that check, ordering them by commit version is a
//! serial order that explains every value each one read: nothing it read changed between
//! its read version and its commit. (A transaction that only reads has nothing to check:
//! it read one consistent snapshot, so it takes its place in that order at its read
//! version, and always commits.) The anomalies fall to it. The second of the two
//! transfers read the balance the first wrote: conflict. Bob read Alice's key, which
//! Alice's commit wrote: conflict. The monthly total read the range
//! `[orders/2026-12/, orders/2026-120)`, and the insert wrote a key inside it: conflict,
//! although the key did not exist when it was scanned.
//!
//! That last case is why **a range read must record a range**. Recording the keys a scan
//! found would miss every key that did not exist yet, and the scan's answer ("these are
//! all the orders of December") is a claim about the whole range, absent keys included.
//! A point read of a missing key is the same claim about one key, and records it the same
//! way: a later insert of it conflicts.
//!
//! **Snapshot isolation** is the weaker promise many databases give by default: a
//! transaction conflicts only when another committed a write to a key it *also writes*
//! (first committer wins). It stops lost updates (both transfers write the balance) but
//! lets write skew through (Alice and Bob write different keys). With this resolver it is
//! one choice of what to check: pass the transaction's **write** ranges to
//! [`Resolver::check`] instead of its read ranges ([`Isolation::Snapshot`]). A
//! serializable transaction can do the same per read, FoundationDB's **snapshot reads**:
//! a read the caller knows is safe records no range.
//!
//! ## The client side: [`TxnBuffer`]
//!
//! What a transaction keeps until it commits is a [`TxnBuffer`]: its writes (a
//! [`WriteSet`], per keyspace the last write of each key, a value or a delete) and the
//! read ranges it has recorded. It does no I/O: the engine passes each read in as a
//! closure over its snapshot, so the rules below are tested here without a database.
//!
//! - **Read-your-writes.** A point read of a key the transaction wrote answers from the
//!   [`WriteSet`] (a delete reads as absent) and records nothing: the answer depends on
//!   no one else. A scan is an [`Overlay`]: the database's entries at the read version
//!   with the transaction's writes inside the bounds laid over them, in key order, both
//!   ways (`.rev()`, and `next`/`next_back` mixed). The writes are copied when the scan
//!   opens, so a scan does not see writes made while it runs. (The [`WriteSet`] keeps
//!   every key and value in one growing buffer and the writes in the order made, found by
//!   a walk from the newest, with an index by key past 32 writes: a commit of a few writes
//!   allocates almost nothing for them.)
//! - **What a read records.** Under [`Isolation::Serializable`] (the default), a point
//!   read records `[k, k\0)` and a scan records its whole bounds, when it opens, whatever
//!   it finds and however far the caller iterates. Under [`Isolation::Snapshot`], reads
//!   record nothing, and the commit checks the ranges it writes
//!   ([`RangeSet::of_batch`]). A read that fails records nothing. The ranges are kept in
//!   a [`RangeSet`]: single keys' bytes in one buffer, so a point read does not allocate.
//!
//!   | read | serializable | snapshot isolation |
//!   |---|---|---|
//!   | point read of a key it wrote | nothing (answered from the buffer) | nothing |
//!   | point read, found or not | `[k, k\0)` | nothing |
//!   | scan over `bounds` | all of `bounds`, even if stopped early | nothing |
//!   | snapshot read (`record: false`) | nothing | nothing |
//!   | checked at commit | the ranges it read | the ranges it writes |
//!
//! - **Snapshot reads** pass `record: false` ([`TxnBuffer::read`], [`TxnBuffer::scan`]).
//!   They still read at the read version; they only stop a later write of what they read
//!   from refusing the commit. For reads that may be stale without harm: a statistic, a
//!   hint, a value checked some other way. Used wrongly, they bring write skew back.
//! - **Commit.** [`TxnBuffer::into_commit`] turns the buffer into the batch to write (one
//!   put or delete per key) and a [`Check`] (the read version and the ranges to check),
//!   or `None` for a transaction that wrote nothing: it commits at once.
//!
//! ## The resolver
//!
//! The [`Resolver`] keeps the write ranges of recent commits, each under its commit
//! version, and answers one question: did any commit after this read version write into
//! any of these ranges?
//!
//! ### Where the check runs: the write-queue leader
//!
//! A check is only as good as the moment it is made: if another transaction committed
//! between this one's check and its commit, the check missed it. So the check and the
//! record happen in one critical section, the place commits are already ordered: the
//! engine's write-queue leader, which alone assigns sequence numbers
//! (`crates/ferris-engine/src/write.rs`). A commit is a write job carrying its [`Check`].
//! The leader takes a group of jobs and, before the group reaches the WAL, calls
//! [`Resolver::admit`] on each member **in the order the group will be written**:
//!
//! - a transaction is [checked](Resolver::check) against every commit after its read
//!   version (those earlier in its own group included), then its batch is
//!   [recorded](Resolver::record) at the sequence number its last entry will get, which
//!   becomes [`Check::commit`], its commit version;
//! - a refused transaction (`Check::refused` says why) is **left out of the group**: its
//!   batch is not written, the numbering goes on without it, and its writer gets its own
//!   error while the rest of the group commits;
//! - a plain write (not a transaction) cannot be refused; it is recorded, because a
//!   transaction that read its key must conflict with it.
//!
//! A transaction that checks no ranges (a serializable one that read nothing) cannot
//! conflict, so it is never [`TxnError::TooOld`] either, however old its read version.
//!
//! Nothing can commit between a check and its record, because nothing else assigns
//! sequence numbers. Then the leader trims the history ([`Resolver::trim`]) to the oldest
//! live snapshot (to the sequence number the group follows, when there is none): a
//! transaction that has counted itself live but not yet taken its snapshot will read at
//! that number or later.
//!
//! ### Plain writes skip the resolver while no transaction is live
//!
//! A database that never uses transactions should not pay for them. A plain write matters
//! only to a transaction whose read version is below it, so while no transaction is live,
//! the leader records nothing; and when the only live transaction is the one committing
//! in this group, its commit is checked but not recorded either (`admit` with `remember`
//! false), since no other transaction could ever be checked against it. The engine counts live transactions (begun and not yet
//! dropped). The danger is a transaction that begins *while* a group is being written:
//! the leader saw no transaction and skipped the resolver, yet the new transaction takes a
//! snapshot from before the group is published, reads below it, and would never conflict
//! with it. Two orderings close the gap, each with a `SeqCst` fence in the middle:
//!
//! ```text
//!  Db::transaction                    write-queue leader (saw no live transaction)
//!  live count += 1                    write the group, publish its last sequence number
//!  ── SeqCst fence ──                 ── SeqCst fence ──
//!  read the published sequence number read the live count again: above zero?
//!                                         then record the group now, still leading
//! ```
//!
//! `SeqCst` fences fall in one total order. If the transaction's fence comes first, the
//! leader's read of the count, after its own fence, sees the increment, and it records
//! the group before it stops leading, so before any transaction can be checked. If the
//! leader's fence comes first, the transaction's read of the sequence number sees the
//! publish: its read version is at or after the group, which then cannot conflict with
//! it. Either way, no transaction reads below a write the resolver does not know of. (The
//! late record is the whole group as one commit at its last sequence number: reads see a
//! group whole or not at all, so no read version falls inside it.)
//!
//! Once another transaction is live, every write pays for a record: a map insert per key
//! it writes, under a lock only leaders take. When the count falls back to zero, the next
//! group lets the whole history go ([`Resolver::trim`] to the sequence number it follows):
//! no transaction that begins afterwards can read below it.
//!
//! ### The data structure, and what a check costs
//!
//! Most writes are single keys ([`KeyRange::key`], `[k, k\0)`); ranges are rare (range
//! deletes). The resolver keeps them apart:
//!
//! ```text
//!  points:  keyspace ─► BTreeMap< key ─► newest commit that wrote it >
//!  ranges:  VecDeque< (commit, range) >            in commit order
//!  commits: VecDeque< (commit, time, its keys, how many ranges, bytes) >   oldest first
//! ```
//!
//! - A **point read** is one map lookup, plus a walk over the range writes newer than the
//!   read version: `O(log P + R)`, `P` the remembered keys and `R` the newer range writes.
//! - A **range read** visits every remembered key inside it: `O(log P + K + R)`. This is
//!   the weak spot: a scan over a range where many keys were written recently costs every
//!   one of them, whether or not they conflict, and the check runs in the write-queue
//!   leader, so every writer queued behind it waits for it too.
//! - **Recording** a commit of `W` ranges costs `O(W log P)`. **Trimming** pops commits
//!   from the front of the queue and removes each of their keys from the map unless a
//!   newer commit wrote the key since (the map then holds the newer sequence number):
//!   `O(log P)` per key written, paid once.
//!
//! FoundationDB's resolver keeps one skip list of range boundaries, each node holding the
//! newest version written between it and the next, and each level of the skip list the
//! maximum over the nodes it skips, so that "what is the newest write anywhere in this
//! range" is `O(log n)` whatever the range, and it checks a whole batch of transactions at
//! once. That is the structure to grow into when a benchmark shows range reads over hot
//! ranges costing. This one is the first step because it is small enough to read whole,
//! obviously correct against the model it is tested on (`tests/it/model.rs`: keep every
//! commit forever and check by brute force), and as fast as the skip list for the common
//! case of point reads against point writes.
//!
//! ## The window, and what it costs
//!
//! The resolver cannot keep every commit forever. It forgets:
//!
//! - commits no running transaction can conflict with: [`Resolver::trim`], which the
//!   leader calls with the oldest live snapshot (any snapshot, a transaction's or a
//!   `Db::snapshot`, so a long-lived plain snapshot holds the history back too, up to the
//!   caps below);
//! - the oldest commits once the history weighs more than
//!   [`ResolverLimits::max_history_bytes`] (64 MiB by default);
//! - commits older than [`ResolverLimits::max_age_ms`] (5,000: FoundationDB's five
//!   seconds), judged each time a commit is recorded, on the engine's `Options::clock`;
//! - everything, at the first write group after the last transaction ends.
//!
//! What it forgot raises [`Resolver::oldest`]; a transaction whose read version is below
//! it gets [`TxnError::TooOld`], since the commits it would have to check against are
//! gone. That is the one thing the resolver may say instead of the truth: it never says
//! "no conflict" without having looked. It is retryable, and a retry reads at a new read
//! version. FoundationDB's `transaction_too_old` is the same error, and the reason its
//! transactions may not run for more than five seconds. Here the window is measured in
//! commits, not in the transaction's own age: a transaction older than five seconds
//! still commits if nothing it needs was forgotten (a quiet database forgets nothing by
//! age until the next commit is recorded), and a plain write too large to remember
//! ([`Resolver::skip`]) makes every older read version too old at once.
//!
//! **Memory.** Each remembered range is charged [`KeyRange::charged_bytes`]: its start
//! and end keys plus [`RANGE_OVERHEAD`] (32 bytes, an estimate of the map entry, the
//! keyspace and the sequence number). A written key of `n` bytes is the range
//! `[k, k\0)`: `2n + 1 + 32` bytes. So 16-byte keys are charged 65 bytes each, and the
//! default 64 MiB holds about a million recently written keys; whichever comes first, a
//! million written keys or five seconds, sets the window. Charged bytes are a model of
//! the memory, not a measurement of it: a remembered key is held once, by a `Bytes`
//! handle in the map and another in its commit's list, so long keys cost less than they
//! are charged and short ones more. A busier database has a
//! shorter window in time, and long transactions start failing with `TooOld` sooner: raise
//! `max_history_bytes` (memory) or shorten the transactions. One transaction's read or
//! write ranges may weigh at most [`ResolverLimits::max_txn_bytes`] (10 MiB, FoundationDB's
//! limit on a transaction), or it gets [`TxnError::TooLarge`], which retrying cannot fix.
//!
//! ## Durability
//!
//! A transaction's commit is one batch, and the write-queue leader writes its group as
//! one WAL record, so a committed transaction is all there after a crash or not at all,
//! and one that never committed (refused, dropped, or still running) leaves nothing.
//! [`TxnOptions::sync`] is the commit's `WriteOptions::sync`: `None` follows the
//! database's `sync_writes` (fsync'd before `commit` returns, by default); `Some(false)`
//! survives a crash of the process but not a power cut until a later fsync. The resolver
//! itself is not durable and need not be: after a restart no transaction is running, so
//! there is nothing to remember, and the engine starts a new one at the database's last
//! sequence number ([`Resolver::new`]).
//!
//! ## Retrying
//!
//! A conflict is not a failure of the application: run the transaction again, from a new
//! read version, and it will see the commit it conflicted with. The engine's `Db::run`
//! (FoundationDB's `db.run`) does that: it begins a transaction, runs the caller's
//! closure, commits, and on a retryable error ([`TxnError::is_retryable`]: `Conflict` and
//! `TooOld`) waits [`backoff`] and goes again, up to [`TxnOptions::max_retries`] (100 by
//! default). The first retry waits for nothing (the new read version already holds the
//! commit it conflicted with); later ones wait from 50 µs, doubling, to 10 ms, each scaled
//! by a random factor so that two transactions that keep conflicting stop retrying in
//! step. The closure may run many times, so it must do nothing outside the transaction
//! that cannot be repeated; an error it returns ends the run at once.
//!
//! ## Walk-through
//!
//! The resolver alone. Two transfers read the same balance at read version 10. The first
//! commits; the second is refused. Under snapshot isolation, two transactions that read
//! each other's keys but write different ones both commit (write skew), where
//! serializable refuses the second.
//!
//! ```
//! use ferris_txn::{KeyRange, Resolver, TxnError};
//!
//! let mut resolver = Resolver::default();
//! let balance = KeyRange::key(0, "balance");
//!
//! // Transfer A read the balance at version 10 and writes it back: no commit after 10
//! // wrote the balance, so it commits, at 11, and its write is recorded.
//! resolver.check(10, &[balance.clone()])?;
//! resolver.record(11, &[balance.clone()], 0)?;
//!
//! // Transfer B also read the balance at version 10. Commit 11 wrote it since: a lost
//! // update, refused.
//! let err = resolver.check(10, &[balance.clone()]).unwrap_err();
//! assert_eq!(err, TxnError::Conflict { range: balance.clone(), committed_at: 11 });
//!
//! // Retried at read version 11, it sees A's write and commits.
//! resolver.check(11, &[balance.clone()])?;
//! resolver.record(12, &[balance], 0)?;
//!
//! // Write skew: both read "alice" and "bob" at 12; one writes "alice", the other "bob".
//! let (alice, bob) = (KeyRange::key(0, "alice"), KeyRange::key(0, "bob"));
//! let both = [alice.clone(), bob.clone()];
//! resolver.check(12, &both)?;
//! resolver.record(13, &[alice.clone()], 0)?;
//! // Serializable checks what the second read: refused.
//! assert!(matches!(resolver.check(12, &both), Err(TxnError::Conflict { .. })));
//! // Snapshot isolation checks only what it writes: let through.
//! resolver.check(12, &[bob])?;
//!
//! // A scan protects against phantoms: an insert into the scanned range conflicts.
//! let orders = KeyRange::prefix(0, "orders/");
//! resolver.record(14, &[KeyRange::key(0, "orders/new")], 0)?;
//! assert!(matches!(resolver.check(13, &[orders]), Err(TxnError::Conflict { .. })));
//!
//! // Once no transaction reads below 13, commits up to 13 are forgotten, and a straggler
//! // is told it is too old rather than told it does not conflict.
//! resolver.trim(13);
//! assert_eq!(resolver.check(12, &[alice]), Err(TxnError::TooOld { read_version: 12, oldest: 13 }));
//! # Ok::<(), TxnError>(())
//! ```
//!
//! The same lost update as the engine runs it: two buffered transactions and a plain
//! write, admitted as one write group in the order the leader will write them.
//!
//! ```
//! use ferris_core::WriteBatch;
//! use ferris_txn::{Isolation, Resolver, ResolverLimits, TxnBuffer, TxnError};
//!
//! // The database's last sequence number is 10: a resolver opened there.
//! let mut resolver = Resolver::new(10, ResolverLimits::default());
//! let mut commits = Vec::new();
//! for _ in 0..2 {
//!     let mut txn = TxnBuffer::new(Isolation::Serializable);
//!     // Read at version 10 (the closure stands for the engine's snapshot read) ...
//!     let balance = txn.read(0, b"balance", true, || Ok::<_, ()>(Some("100".into())))?;
//!     assert_eq!(balance.as_deref(), Some(&b"100"[..]));
//!     // ... and write back, into the buffer.
//!     txn.writes_mut().put(0, "balance", "110").expect("a valid key");
//!     commits.push(txn.into_commit(10).expect("it wrote something"));
//! }
//! let (b_batch, mut b) = commits.pop().unwrap();
//! let (a_batch, mut a) = commits.pop().unwrap();
//!
//! // The group: a plain write of one entry, then A, then B. Two transactions are live, so
//! // each member is remembered (`true`): a later one may be checked against it.
//! let mut plain = WriteBatch::new();
//! plain.put("log/0001", "deposit");
//! let mut last = resolver.admit(10, &plain, None, 0, true); // takes sequence number 11
//! last = resolver.admit(last, &a_batch, Some(&mut a), 0, true);
//! assert_eq!((a.refused.clone(), a.commit, last), (None, 12, 12)); // A commits at 12
//! last = resolver.admit(last, &b_batch, Some(&mut b), 0, true);
//! // B read the balance at 10 and A wrote it at 12, in this very group: B is left out,
//! // and the numbering goes on without it.
//! assert!(matches!(b.refused, Some(TxnError::Conflict { committed_at: 12, .. })));
//! assert_eq!(last, 12);
//! # Ok::<(), ()>(())
//! ```
//!
//! ## The contract: [`ConflictResolver`]
//!
//! What a write path needs of a resolver is five methods, and the trait
//! [`ConflictResolver`] names them: [`check`](ConflictResolver::check) a transaction's
//! read ranges at its read version against the commits after it,
//! [`record`](ConflictResolver::record) a commit's write ranges at its sequence number,
//! [`trim`](ConflictResolver::trim) what no live transaction can conflict with,
//! [`skip`](ConflictResolver::skip) past a commit too large to remember, and say which
//! read versions are still [`oldest`](ConflictResolver::oldest) enough to check. Two more,
//! [`check_set`](ConflictResolver::check_set) and [`admit`](ConflictResolver::admit) (the
//! leader's step: check, then record at the sequence number the batch will end at), have
//! defaults built on those five. [`Resolver`] implements it, with faster versions of the
//! two defaults; the engine still names the concrete type, the one resolver it wires.
//!
//! The contract is the model this chapter's tests hold the resolver to, written down:
//! answer as a resolver that keeps every commit forever would, except that a resolver
//! which has forgotten a commit it would have to look at says [`TxnError::TooOld`],
//! never `Ok`. The edges are where implementations go wrong, so the trait's page lists
//! them: a write **at** the read version is in the transaction's snapshot and does not
//! conflict, one after it does; ranges are half-open and keyspaces never meet; a
//! conflict names the first range read (in the order given) and the newest commit that
//! wrote into it. Its suite, `ferris_conformance::resolver`, checks all of that against
//! the model, and then lets the resolver under test decide the commits of random
//! concurrent transactions and replays their history with `ferris-txn-check`: the
//! history must be serializable in commit order. The lab's stage `txn` (`lab/txn`) has
//! you write one and grades it with that suite.
//!
//! ```
//! use ferris_txn::{ConflictResolver, KeyRange, Resolver, TxnError};
//!
//! fn lost_update(resolver: &mut dyn ConflictResolver) -> Result<(), TxnError> {
//!     let balance = KeyRange::key(0, "balance");
//!     resolver.record(7, &[balance.clone()], 0)?;
//!     // Read at 7: the write at 7 is in the snapshot. Read at 5: it is not.
//!     resolver.check(7, &[balance.clone()])?;
//!     let stale = resolver.check(5, &[balance.clone()]);
//!     assert_eq!(stale, Err(TxnError::Conflict { range: balance, committed_at: 7 }));
//!     Ok(())
//! }
//! lost_update(&mut Resolver::default())?;
//! # Ok::<(), TxnError>(())
//! ```
//!
//! # Guarantees
//!
//! - **Never a wrong "no conflict".** [`Resolver::check`] returns `Ok` only when no
//!   recorded commit after the read version wrote into a checked range; when it no longer
//!   knows, it says [`TxnError::TooOld`]. A proptest compares it with a model that keeps
//!   every commit forever, over random histories with trims and tight limits.
//! - **Conflicts are exact.** A conflict is reported only when a remembered write range
//!   truly intersects a checked range (the model agrees exactly). FoundationDB allows
//!   false conflicts (with several resolvers, a transaction that one of them refuses has
//!   still had its writes recorded by the others); here the one source of a needless
//!   conflict is a commit recorded that then failed to reach the log (and a failed WAL
//!   write poisons the database anyway). What a transaction *records* can be more than it
//!   needed: a scan records its whole bounds however little of it was read.
//! - **Keyspaces are separate**: ranges in different keyspaces never conflict; one
//!   transaction may read and write any number of keyspaces.
//! - **Serializable by default**, in commit-version order, with read-only transactions at
//!   their read versions; [`Isolation::Snapshot`] on request.
//!
//! # Concurrency
//!
//! A [`Resolver`] has no lock; `check` borrows it shared, `record`, `admit`, `skip` and
//! `trim` exclusively. The engine keeps it behind a mutex that only the write-queue leader
//! takes, where commits are serial (see "Where the check runs" above), so the lock is
//! never waited on. A [`TxnBuffer`] belongs to one transaction, and the engine's
//! `Transaction` methods take `&mut self`.
//!
//! # Limits
//!
//! - One process: there is no distributed resolution here, and the resolver is not
//!   durable (nothing needs it to be; see "Durability").
//! - The history holds at most [`ResolverLimits::max_history_bytes`] and
//!   [`ResolverLimits::max_age_ms`] of commits; a transaction that outlives either gets
//!   [`TxnError::TooOld`], even one that read nothing (a check of no ranges is still
//!   refused below [`Resolver::oldest`]).
//! - One transaction's read or write ranges weigh at most
//!   [`ResolverLimits::max_txn_bytes`] ([`TxnError::TooLarge`]).
//! - A scan records its whole bounds when it opens, even if the caller stops after one
//!   entry (FoundationDB records only up to the last key it returned): give a scan the
//!   bounds it needs, or make it a snapshot read.
//! - Only writes conflict. Changes that are not writes with sequence numbers are not in
//!   the history: a value expiring in a keyspace with a time to live, a compaction filter
//!   rewriting a value, a keyspace dropped. A transaction that read a value which has
//!   since expired still commits.
//! - The engine's `Transaction` has no range delete and no way to add a conflict range by
//!   hand (FoundationDB's `add_read_conflict_range`); its snapshot reads are
//!   `snapshot_get_in` and `snapshot_range_in`, which take a keyspace handle (the default
//!   keyspace's is `Db::keyspace("default")`).
//! - Range reads cost every remembered key inside them (see "What a check costs").
//!
//! ## Reading order
//!
//! This is chapter 11 of the book. Read it after the engine (chapter 6): a read version
//! is a snapshot's sequence number, and the write queue whose leader assigns sequence
//! numbers is where the check runs. The MVCC article
//! (`docs/concepts/mvcc-and-snapshots.md`) explains both.
//!
//! ## Exercises
//!
//! Worked answers: `docs/answers.md`, chapter 11. Try each exercise first.
//!
//! 1. A transaction scans `"a"..="c"` at read version 5 and finds `"a"` and `"b"`; a
//!    commit at 6 inserts `"bb"`. Which [`KeyRange`]s do the two record, and why must the
//!    resolver refuse the scan although `"bb"` did not exist when it was read? Would an
//!    insert of `"c\0"` conflict?
//! 2. Two transactions each read `x` and `y` at version 1; one writes `x`, the other
//!    `y`. Which isolation level lets both commit, and what invariant of your choosing
//!    could that break?
//! 3. Set [`ResolverLimits::max_age_ms`] to zero. Which transactions can still commit?
//!    What does that say about how long a FoundationDB transaction may run?
//! 4. A serializable transaction calls `range(..)` on the engine, reads the first entry
//!    and writes one key. Meanwhile another thread puts a key at the far end of the
//!    keyspace. What happens at commit, and why? Give two ways to change the transaction
//!    so that it commits.
//! 5. Delete the fence after the publish in the engine's `write_group` (or the second
//!    look at the live count). Write down an interleaving of one `Db::transaction` and one
//!    leader that lets a lost update through, and say which of the two orderings in
//!    "Plain writes skip the resolver" it breaks.
//! 6. With 100-byte keys, how many recently written keys does the default history hold?
//!    At how many written keys per second does the byte cap, rather than the five
//!    seconds, decide how long a transaction may run?
//!
//! ## What to read next
//!
//! The engine's side, `ferris_engine::Transaction` and `Db::run` (its chapter's
//! "Transactions" section, and `crates/ferris-engine/src/write.rs` for the leader); the
//! concept article `docs/concepts/transactions.md`, which sets optimistic concurrency
//! control beside snapshot isolation and two-phase locking with the engine's anomaly tests
//! as examples; and `docs/benchmarks.md` ("Transactions") for what a commit costs against
//! a plain write.

#![forbid(unsafe_code)]

mod buffer;
mod conflict;
mod error;
mod isolation;
mod options;
mod overlay;
mod range;
mod resolver;
mod set;
mod writes;

pub use buffer::{Check, TxnBuffer};
pub use conflict::ConflictResolver;
pub use error::TxnError;
pub use isolation::Isolation;
pub use options::{TxnOptions, backoff};
pub use overlay::Overlay;
pub use range::{KeyRange, RANGE_OVERHEAD};
pub use resolver::{Resolver, ResolverLimits};
pub use set::RangeSet;
pub use writes::WriteSet;
