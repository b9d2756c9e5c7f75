//! # Lab stage 7: a transaction conflict resolver
//!
//! An optimistic transaction reads at a **read version** (a snapshot), buffers its writes,
//! and at commit asks one question: did any transaction that committed *after* my read
//! version write into a range I read? If so, what it read may be stale (two transfers
//! that both read a balance of 100 and both write 110 lose one deposit), and it must be
//! refused and retried. FoundationDB calls the component that answers the **resolver**;
//! the engine's write-queue leader asks it for every commit, in the order commits are
//! written. Your job: [`LabResolver`], a [`ferris_txn::ConflictResolver`].
//!
//! Read the chapter first: `ferris_txn`'s front page (`crates/ferris-txn/src/lib.rs`),
//! sections "The model" and "The resolver", and the trait's page, which states the
//! contract the grader checks: answer as a resolver that keeps every commit forever
//! would, except say [`TxnError::TooOld`] (never `Ok`) once it has forgotten a commit a
//! check needs. The edges to get right:
//!
//! - a commit **at** the read version is in the snapshot: no conflict; one **after** it
//!   is;
//! - ranges are half-open, `[start, end)`, and a point is `[k, k\0)`
//!   ([`KeyRange::key`]); [`KeyRange::intersects`] says whether two ranges share a key,
//!   keyspaces included;
//! - a conflict names the first range read, in the order given, and the newest commit
//!   after the read version that wrote into it;
//! - forgetting (trim, skip, and the limits of [`ResolverLimits`]) raises
//!   [`oldest`](ConflictResolver::oldest) to the newest commit forgotten.
//!
//! Start simple: a `Vec` of `(commit, write ranges, when, bytes)` and a brute-force
//! check over it passes every check; make it fast afterwards (a map from key to its
//! newest commit for point writes, as the reference does).
//!
//! Every body below is empty: the resolver remembers nothing and lets every transaction
//! through, so the lab's bank transfers lose money:
//!
//! ```sh
//! cargo xtask lab check txn              # your resolver
//! cargo xtask lab check txn --reference  # FerrisDB's, which passes
//! ```
//!
//! The reference solution is `ferris_txn::Resolver` (`crates/ferris-txn/src/resolver.rs`).

// The bodies are yours to write; until then they ignore their arguments.
// The lab's starters are the one place in the workspace where that is allowed: see
// CLAUDE.md.
#![allow(unused_variables)]
#![forbid(unsafe_code)]

use ferris_core::SeqNo;
use ferris_txn::{ConflictResolver, KeyRange, ResolverLimits, TxnError};

/// Your resolver: the write ranges of recent commits, and the check a commit must pass.
#[derive(Debug, Default)]
pub struct LabResolver {}

impl LabResolver {
    /// A resolver that remembers nothing yet, knows that every commit at or below
    /// `oldest` happened without it (a read version below `oldest` is too old, and a
    /// commit at or below it is out of order), and keeps history within `limits`.
    ///
    /// What to write: keep `oldest` (it is also the last commit seen so far) and
    /// `limits`, and an empty history.
    pub fn new(oldest: SeqNo, limits: ResolverLimits) -> LabResolver {
        LabResolver {}
    }
}

impl ConflictResolver for LabResolver {
    /// Whether a transaction that read `reads` at `read_version` may commit.
    ///
    /// What to write, in this order: [`TxnError::TooLarge`] if the reads'
    /// [`KeyRange::charged_bytes`] add up to more than `limits.max_txn_bytes`;
    /// `Ok(())` if `reads` is empty; [`TxnError::TooOld`] if `read_version` is below
    /// `oldest`; then, for each range read in order, the newest remembered commit above
    /// `read_version` whose write ranges intersect it: [`TxnError::Conflict`] with that
    /// range and commit. `Ok(())` if there is none.
    fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        Ok(())
    }

    /// Remembers that the commit at `commit` wrote `writes`, at `now_ms`.
    ///
    /// What to write: [`TxnError::OutOfOrder`] unless `commit` is above the last commit
    /// seen (recorded, skipped, or the starting `oldest`); [`TxnError::TooLarge`] if
    /// `writes` weigh more than `max_txn_bytes`; either way record nothing. Else the
    /// commit is the last seen, its ranges (if any) join the history, and then, while the
    /// history weighs more than `max_history_bytes` or its oldest commit was recorded
    /// more than `max_age_ms` before `now_ms`, forget the oldest commit.
    fn record(&mut self, commit: SeqNo, writes: &[KeyRange], now_ms: u64) -> Result<(), TxnError> {
        Ok(())
    }

    /// Forgets everything, and makes every read version below `commit` too old.
    ///
    /// What to write: forget every commit; raise `oldest` and the last commit seen to
    /// `commit` (if they are below it).
    fn skip(&mut self, commit: SeqNo) {}

    /// Forgets every commit at or below `oldest_live_read_version`.
    ///
    /// What to write: forget commits from the oldest while they are at or below it.
    /// Forgetting a commit raises `oldest` to it.
    fn trim(&mut self, oldest_live_read_version: SeqNo) {}

    /// The oldest read version you can check: every commit after it is remembered.
    fn oldest(&self) -> SeqNo {
        0
    }
}
