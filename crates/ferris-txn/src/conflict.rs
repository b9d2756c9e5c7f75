//! The resolver's contract: [`ConflictResolver`], what a write path needs of one.

use std::fmt;

use ferris_core::{SeqNo, WriteBatch};

use crate::{Check, KeyRange, RangeSet, Resolver, TxnError};

/// A transaction conflict resolver: the history of recent commits' write ranges, and the
/// check a commit must pass. [`Resolver`] is FerrisDB's; the lab's stage `txn`
/// (`lab/txn`) is yours.
///
/// # The contract
///
/// A resolver is told of commits in sequence-number order ([`record`], or [`admit`] in a
/// write-queue leader) and asked, for a transaction about to commit, whether any commit
/// **after** its read version wrote into a range it read ([`check`]). It must answer as a
/// resolver that keeps every commit forever would (the model of the conformance suite,
/// `ferris_conformance::resolver`), with one exception: once it has forgotten a commit it
/// would have to look at, it says [`TxnError::TooOld`], never `Ok`. In full:
///
/// - **Which commits count.** A commit at sequence number `c` conflicts with a check at
///   read version `v` when `c > v` and one of its write ranges shares a key with a read
///   range. A commit *at* `v` is part of the snapshot the transaction read: no conflict.
///   Ranges are half-open (`[start, end)`), a point is `[k, k\0)`
///   ([`KeyRange::key`]), and ranges in different keyspaces never meet.
/// - **What a conflict names.** The first range of `reads`, in the order given, that a
///   commit after `v` wrote into, and the newest such commit:
///   `TxnError::Conflict { range, committed_at }`.
/// - **Errors in order.** [`TxnError::TooLarge`] when the reads weigh more than the
///   limit (`ResolverLimits::max_txn_bytes`, in [`KeyRange::charged_bytes`]); then
///   [`TxnError::TooOld`] when `reads` is not empty and `v` is below [`oldest`]; then the
///   conflict. A check of no ranges is `Ok` whatever its read version: it cannot conflict.
/// - **Recording.** `record(c, writes, now_ms)` refuses a `c` not above every commit
///   recorded or skipped before, and every version at or below the resolver's starting
///   [`oldest`] ([`TxnError::OutOfOrder`]), and writes weighing more than
///   `max_txn_bytes` ([`TxnError::TooLarge`]); either way it records nothing. A commit
///   that writes no range changes nothing but the last sequence number.
/// - **Forgetting.** [`trim`]`(t)` forgets every commit at or below `t`; a
///   resolver made with `ResolverLimits` forgets its oldest commits, after each record,
///   while the remembered ranges weigh more than `max_history_bytes` or the oldest was
///   recorded more than `max_age_ms` before the newest; [`skip`]`(c)` forgets everything
///   and makes every read version below `c` too old. [`oldest`] is the newest sequence
///   number forgotten (or skipped to, or the one the resolver started at): it rises,
///   never falls, and every commit after it is remembered.
///
/// # What to write
///
/// Five methods: [`check`], [`record`], [`trim`], [`skip`], [`oldest`]. The rest have
/// defaults built on them: [`check_set`] checks a [`RangeSet`] range by range, and
/// [`admit`] decides one member of a write group as the engine's leader does (check, then
/// record at the sequence number its last entry will take). An implementation may
/// override them to go faster, as [`Resolver`] does, but not to answer otherwise.
///
/// # Concurrency
///
/// Checks take `&self`, everything that changes the history `&mut self`: there is no
/// lock inside. The caller keeps the resolver where commits are already serial (the
/// engine's write-queue leader, `crates/ferris-engine/src/write.rs`), so that no commit
/// slips between a transaction's check and its record. That is also why the trait asks
/// for `Send` and not `Sync`: it lives behind the leader's mutex.
///
/// [`check`]: ConflictResolver::check
/// [`check_set`]: ConflictResolver::check_set
/// [`record`]: ConflictResolver::record
/// [`admit`]: ConflictResolver::admit
/// [`trim`]: ConflictResolver::trim
/// [`skip`]: ConflictResolver::skip
/// [`oldest`]: ConflictResolver::oldest
pub trait ConflictResolver: fmt::Debug + Send {
    /// Whether a transaction that read `reads` at `read_version` may commit: whether no
    /// remembered commit after `read_version` wrote a key in any of them.
    ///
    /// # Errors
    ///
    /// In this order: [`TxnError::TooLarge`] when `reads` weigh more than the
    /// per-transaction limit; [`TxnError::TooOld`] when `reads` is not empty and
    /// `read_version` is below [`oldest`](ConflictResolver::oldest);
    /// [`TxnError::Conflict`] naming the first range of `reads` a commit after
    /// `read_version` wrote into, with the newest such commit.
    fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError>;

    /// Remembers that the commit at sequence number `commit` wrote `writes`, at `now_ms`
    /// on the caller's millisecond clock, then forgets the oldest commits while the
    /// history is over its limits.
    ///
    /// # Errors
    ///
    /// [`TxnError::OutOfOrder`] when `commit` is not above every commit recorded or
    /// skipped before (or the version the resolver started at); [`TxnError::TooLarge`]
    /// when `writes` weigh more than the per-transaction limit. Either way nothing is
    /// recorded.
    fn record(&mut self, commit: SeqNo, writes: &[KeyRange], now_ms: u64) -> Result<(), TxnError>;

    /// Forgets every commit, and makes every read version below `commit` too old: for a
    /// commit whose writes cannot be remembered (a plain write too large to record, which
    /// cannot be refused).
    fn skip(&mut self, commit: SeqNo);

    /// Forgets every commit at or below `oldest_live_read_version`, which no transaction
    /// reading at that version or later can conflict with.
    fn trim(&mut self, oldest_live_read_version: SeqNo);

    /// The oldest read version the resolver can check: it remembers every commit after
    /// this one. Rises as commits are forgotten, never falls.
    fn oldest(&self) -> SeqNo;

    /// [`check`](ConflictResolver::check) of the ranges in a [`RangeSet`], in its order
    /// (single keys first).
    ///
    /// # Errors
    ///
    /// As [`check`](ConflictResolver::check).
    fn check_set(&self, read_version: SeqNo, reads: &RangeSet) -> Result<(), TxnError> {
        let reads: Vec<KeyRange> = reads.iter().collect();
        self.check(read_version, &reads)
    }

    /// Decides one member of a write group whose entries are written right after `last`,
    /// and returns the last sequence number it takes, as the engine's write-queue leader
    /// does (see [`Resolver::admit`]): a transaction (`txn`) is checked, then its batch
    /// recorded at `last + batch.len()`, its commit version (`txn.commit`); if either
    /// fails it is refused (`txn.refused`), nothing is recorded, and `last` is returned.
    /// A plain write (`None`) is recorded, or [skipped past](ConflictResolver::skip) if it
    /// cannot be.
    ///
    /// `remember: false` says no transaction will ever be checked against this commit;
    /// this default records it anyway, which is never wrong, only slower.
    fn admit(
        &mut self,
        last: SeqNo,
        batch: &WriteBatch,
        txn: Option<&mut Check>,
        now_ms: u64,
        remember: bool,
    ) -> SeqNo {
        let _ = remember;
        let commit = last + batch.len() as u64;
        let writes: Vec<KeyRange> = RangeSet::of_batch(batch).iter().collect();
        let Some(txn) = txn else {
            if self.record(commit, &writes, now_ms).is_err() {
                self.skip(commit);
            }
            return commit;
        };
        let admitted = (self.check_set(txn.read_version, &txn.ranges))
            .and_then(|()| self.record(commit, &writes, now_ms));
        match admitted {
            Ok(()) => {
                txn.commit = commit;
                commit
            }
            Err(e) => {
                txn.refused = Some(e);
                last
            }
        }
    }
}

/// FerrisDB's resolver: each method is the inherent one of the same name.
impl ConflictResolver for Resolver {
    fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        Resolver::check(self, read_version, reads)
    }

    fn record(&mut self, commit: SeqNo, writes: &[KeyRange], now_ms: u64) -> Result<(), TxnError> {
        Resolver::record(self, commit, writes, now_ms)
    }

    fn skip(&mut self, commit: SeqNo) {
        Resolver::skip(self, commit);
    }

    fn trim(&mut self, oldest_live_read_version: SeqNo) {
        Resolver::trim(self, oldest_live_read_version);
    }

    fn oldest(&self) -> SeqNo {
        Resolver::oldest(self)
    }

    fn check_set(&self, read_version: SeqNo, reads: &RangeSet) -> Result<(), TxnError> {
        Resolver::check_set(self, read_version, reads)
    }

    fn admit(
        &mut self,
        last: SeqNo,
        batch: &WriteBatch,
        txn: Option<&mut Check>,
        now_ms: u64,
        remember: bool,
    ) -> SeqNo {
        Resolver::admit(self, last, batch, txn, now_ms, remember)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults of `check_set` and `admit`, over `Resolver`'s required methods only,
    /// decide as `Resolver`'s own faster versions do.
    #[derive(Debug, Default)]
    struct Defaults(Resolver);

    impl ConflictResolver for Defaults {
        fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
            self.0.check(read_version, reads)
        }
        fn record(&mut self, c: SeqNo, writes: &[KeyRange], now: u64) -> Result<(), TxnError> {
            self.0.record(c, writes, now)
        }
        fn skip(&mut self, commit: SeqNo) {
            self.0.skip(commit);
        }
        fn trim(&mut self, oldest: SeqNo) {
            self.0.trim(oldest);
        }
        fn oldest(&self) -> SeqNo {
            self.0.oldest()
        }
    }

    #[test]
    fn the_defaults_admit_as_the_resolver_does() {
        let mut batch = WriteBatch::new();
        batch.put("a", "1").put("b", "2");
        let check = |read_version| Check {
            read_version,
            ranges: [KeyRange::key(0, "b")].iter().collect(),
            refused: None,
            commit: 0,
        };
        let resolvers: [&mut dyn ConflictResolver; 2] =
            [&mut Resolver::default(), &mut Defaults::default()];
        let mut outcomes = Vec::new();
        for r in resolvers {
            let mut last = r.admit(10, &batch, None, 0, true);
            let (mut stale, mut fresh) = (check(10), check(12));
            last = r.admit(last, &batch, Some(&mut stale), 0, true);
            last = r.admit(last, &batch, Some(&mut fresh), 0, false);
            outcomes.push((
                last,
                stale.refused,
                stale.commit,
                fresh.refused,
                fresh.commit,
            ));
        }
        assert_eq!(outcomes[0], outcomes[1]);
        assert_eq!(outcomes[0].0, 14);
        assert!(matches!(
            outcomes[0].1,
            Some(TxnError::Conflict {
                committed_at: 12,
                ..
            })
        ));
    }
}
