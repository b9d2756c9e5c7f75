//! # ferris-txn: deciding which transactions may commit
//!
//! ## The problem
//!
//! A write batch is atomic: all of its puts and deletes land, or none do. That is not
//! enough to make a *read-modify-write* safe. Three anomalies show why; each is a test in
//! `tests/it/anomalies.rs`.
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
//!
//! ## Optimistic concurrency control, as FoundationDB does it
//!
//! Locks would prevent these, at the price of clients that hold locks, wait for each other
//! and deadlock. FoundationDB takes no locks. A transaction:
//!
//! 1. gets a **read version**, a sequence number, and reads the database as of it (a
//!    snapshot; in FerrisDB, every write's sequence number is one);
//! 2. buffers its writes, and notes the **conflict ranges**: every key range it read (a
//!    point read is the range holding one key; a scan is the whole range it scanned, not
//!    the keys it found) and every range it writes;
//! 3. at commit, hands both to the **resolver**, which keeps the write ranges of every
//!    recent commit. If a transaction that committed *after* the read version wrote into a
//!    range this one read, what it read may be stale: it is refused with a `Conflict`,
//!    writes nothing, and retries from a new read version. Otherwise it commits at a
//!    sequence number after every earlier commit, and its write ranges join the history.
//!
//! If every committed transaction passed that check, ordering them by commit sequence
//! number is a serial order that explains every value each one read: nothing it read
//! changed between its read version and its commit. The anomalies fall to it. The second
//! of the two transfers read the balance the first wrote: conflict. Bob read Alice's key,
//! which Alice's commit wrote: conflict. The monthly total read the range
//! `[orders/2026-12/, orders/2026-120)`, and the insert wrote a key inside it: conflict,
//! although the key did not exist when it was scanned. That is why a range read must
//! record its whole range.
//!
//! **Snapshot isolation** is the weaker promise many databases give by default: a
//! transaction conflicts only when another committed a write to a key it *also writes*
//! (first committer wins). It stops lost updates (both transfers write the balance) but
//! lets write skew through (Alice and Bob write different keys). With this resolver it is
//! one choice of what to check: pass the transaction's **write** ranges to
//! [`Resolver::check`] instead of its read ranges. A serializable transaction can do the
//! same per read, FoundationDB's *snapshot reads*: a read the caller knows is safe records
//! no range.
//!
//! ### The window, and `TooOld`
//!
//! The resolver cannot keep every commit forever. It forgets commits no running
//! transaction can conflict with ([`Resolver::trim`], given the oldest live read version),
//! and, to bound its memory, the oldest commits past a byte cap or an age
//! ([`ResolverLimits`]; the age defaults to FoundationDB's five seconds). What it forgot
//! raises [`Resolver::oldest`]; a transaction whose read version is below it gets
//! [`TxnError::TooOld`], since the commits it would have to check against are gone. That
//! is the one thing the resolver may say instead of the truth: it never says "no conflict"
//! without having looked. FoundationDB's `transaction_too_old` is the same error, and the
//! reason its transactions may not run for more than five seconds.
//!
//! ### Check, then commit, atomically
//!
//! A check is only as good as the moment it is made: if another transaction committed
//! between this one's check and its commit, the check missed it. So the check and the
//! record happen in one critical section, the place commits are already ordered: the
//! engine's write-queue leader, which alone assigns sequence numbers. For each
//! transaction in its group, it calls [`Resolver::check`], assigns the sequence number,
//! and calls [`Resolver::record`], before the next transaction of the group is checked.
//! Nothing can commit in between, because nothing else assigns sequence numbers.
//!
//! ## The data structure, and what it costs
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
//!   one of them, whether or not they conflict.
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
//! ## Walk-through
//!
//! Two transfers read the same balance at read version 10. The first commits; the second
//! is refused. Under snapshot isolation, two transactions that read each other's keys but
//! write different ones both commit (write skew), where serializable refuses the second.
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
//!   conflict is a commit recorded that then failed to reach the log.
//! - **Keyspaces are separate**: ranges in different keyspaces never conflict.
//!
//! # Concurrency
//!
//! A [`Resolver`] has no lock; `check` borrows it shared, `record` and `trim`
//! exclusively. The engine keeps it under its write queue, where commits are serial (see
//! "Check, then commit, atomically" above).
//!
//! # Limits
//!
//! One transaction's read or write ranges weigh at most
//! [`ResolverLimits::max_txn_bytes`] ([`TxnError::TooLarge`]). The history holds at most
//! [`ResolverLimits::max_history_bytes`] and [`ResolverLimits::max_age_ms`] of commits;
//! a transaction that outlives either gets [`TxnError::TooOld`]. Each resolver serves one
//! process: there is no distributed resolution here, and no durability (after a restart
//! no transaction is running, so there is nothing to remember: start the resolver at the
//! database's last sequence number with [`Resolver::new`]).
//!
//! ## Reading order
//!
//! This is chapter 11 of the book. Read it after the engine (chapter 6): a read version
//! is a snapshot's sequence number, and the write queue whose leader assigns sequence
//! numbers is where the check will run. The MVCC article
//! (`docs/concepts/mvcc-and-snapshots.md`) explains both.
//!
//! ## Exercises
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
//!
//! ## What to read next
//!
//! Issue 21's next step: the engine's `Transaction`, which buffers writes, records its
//! reads as it makes them, and commits through the write queue with this resolver.

#![forbid(unsafe_code)]

mod buffer;
mod error;
mod isolation;
mod options;
mod overlay;
mod range;
mod resolver;
mod set;
mod writes;

pub use buffer::{Check, TxnBuffer};
pub use error::TxnError;
pub use isolation::Isolation;
pub use options::{TxnOptions, backoff};
pub use overlay::Overlay;
pub use range::{KeyRange, RANGE_OVERHEAD};
pub use resolver::{Resolver, ResolverLimits};
pub use set::RangeSet;
pub use writes::WriteSet;
