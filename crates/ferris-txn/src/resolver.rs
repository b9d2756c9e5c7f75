//! The resolver: recent commits' write ranges, and the check a commit must pass.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use bytes::Bytes;
use ferris_core::{KeyspaceId, SeqNo};

use crate::set::{RangeRef, batch_charge};
use crate::{Check, KeyRange, RangeSet, TxnError};
use ferris_core::WriteBatch;

/// How much history a [`Resolver`] keeps, and how large one transaction may be.
///
/// The first two bound the resolver's memory and how long a transaction may run; what
/// they trim raises [`Resolver::oldest`], and a transaction whose read version is below it
/// gets [`TxnError::TooOld`]. The third bounds the work and memory of one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverLimits {
    /// The most the remembered write ranges may weigh, in [`KeyRange::charged_bytes`]; past
    /// it, [`Resolver::record`] forgets the oldest commits. Default 64 MiB.
    pub max_history_bytes: usize,
    /// How long a commit is remembered, in milliseconds of the clock the caller passes to
    /// [`Resolver::record`]; older commits are forgotten when the next one is recorded, so
    /// a transaction whose read version is older than this is likely to be refused.
    /// Default 5,000: FoundationDB's five-second window.
    pub max_age_ms: u64,
    /// The most one transaction's read ranges (in [`Resolver::check`]) or write ranges (in
    /// [`Resolver::record`]) may weigh, in [`KeyRange::charged_bytes`]. Default 10 MiB,
    /// FoundationDB's limit on a whole transaction. Keep it well below
    /// `max_history_bytes`: a commit that alone weighs more than the history may hold is
    /// forgotten as soon as it is recorded, and every older read version becomes too old.
    pub max_txn_bytes: usize,
}

impl Default for ResolverLimits {
    fn default() -> ResolverLimits {
        ResolverLimits {
            max_history_bytes: 64 << 20,
            max_age_ms: 5_000,
            max_txn_bytes: 10 << 20,
        }
    }
}

/// One remembered commit, in the queue that trimming pops from the front.
#[derive(Debug)]
struct Commit {
    seq: SeqNo,
    at_ms: u64,
    /// The single keys it wrote; each is in `Resolver::points`, unless a newer commit
    /// wrote the same key since.
    points: Vec<(KeyspaceId, Bytes)>,
    /// How many of the entries at the front of `Resolver::ranges` are this commit's, once
    /// every older commit has been popped.
    n_ranges: usize,
    bytes: usize,
}

/// The history of recent commits' write ranges, and the check that decides whether a
/// transaction may commit: FoundationDB's resolver, for one process.
///
/// [`check`](Resolver::check) a transaction's read ranges against every commit newer than
/// its read version, then [`record`](Resolver::record) its write ranges at the sequence
/// number it commits at, both in one critical section (see the crate's front page,
/// "Check, then commit, atomically"). [`trim`](Resolver::trim) forgets commits no live
/// transaction can conflict with.
///
/// # Concurrency
///
/// `check` takes `&self` and `record` and `trim` take `&mut self`: the resolver has no lock
/// of its own. Its caller keeps it where commits are already ordered (the engine's
/// write-queue leader), so that no commit can slip between a transaction's check and its
/// record.
#[derive(Debug)]
pub struct Resolver {
    limits: ResolverLimits,
    /// Per keyspace, each single key written by a remembered commit, and the newest such
    /// commit's sequence number.
    points: BTreeMap<KeyspaceId, BTreeMap<Bytes, SeqNo>>,
    /// Every written range that is not a single key (range deletes), in commit order.
    ranges: VecDeque<(SeqNo, KeyRange)>,
    /// The remembered commits that wrote anything, oldest first.
    commits: VecDeque<Commit>,
    /// Every commit above this sequence number is remembered.
    oldest: SeqNo,
    /// The newest commit recorded (or `oldest`, if none was).
    last: SeqNo,
    /// What the remembered ranges weigh.
    bytes: usize,
}

impl Default for Resolver {
    /// A resolver with [`ResolverLimits::default`] that knows of no commit before it, so
    /// every read version is new enough: right for a database that starts empty.
    fn default() -> Resolver {
        Resolver::new(0, ResolverLimits::default())
    }
}

impl Resolver {
    /// A resolver that remembers nothing yet, and knows that commits at or below `oldest`
    /// happened without it (the last sequence number of the database it is opened on):
    /// a read version below `oldest` is [`TxnError::TooOld`].
    pub fn new(oldest: SeqNo, limits: ResolverLimits) -> Resolver {
        Resolver {
            limits,
            points: BTreeMap::new(),
            ranges: VecDeque::new(),
            commits: VecDeque::new(),
            oldest,
            last: oldest,
            bytes: 0,
        }
    }

    /// Whether a transaction that read `reads` at `read_version` may commit: whether no
    /// commit after `read_version` wrote a key in any of them.
    ///
    /// Pass the ranges the transaction read for serializable isolation, or the ranges it
    /// writes for snapshot isolation (see the crate's front page). A transaction that
    /// checks no ranges passes, whatever its read version: it cannot conflict.
    ///
    /// # Errors
    ///
    /// In this order: [`TxnError::TooLarge`] when `reads` weigh more than
    /// [`ResolverLimits::max_txn_bytes`]; [`TxnError::TooOld`] when `reads` is not empty
    /// and `read_version` is below [`oldest`](Resolver::oldest), so commits the check
    /// needs are forgotten;
    /// [`TxnError::Conflict`] naming the first range of `reads` that a commit after
    /// `read_version` wrote into, with the newest such commit.
    pub fn check(&self, read_version: SeqNo, reads: &[KeyRange]) -> Result<(), TxnError> {
        self.check_refs(read_version, reads.iter().map(RangeRef::Range))
    }

    /// [`Resolver::check`] of the ranges in a [`RangeSet`] (its single keys first).
    ///
    /// # Errors
    ///
    /// As [`Resolver::check`].
    pub fn check_set(&self, read_version: SeqNo, reads: &RangeSet) -> Result<(), TxnError> {
        self.check_refs(read_version, reads.refs())
    }

    fn check_refs<'a>(
        &self,
        read_version: SeqNo,
        reads: impl Iterator<Item = RangeRef<'a>> + Clone,
    ) -> Result<(), TxnError> {
        self.check_bytes(reads.clone().map(RangeRef::charged_bytes).sum())?;
        // Nothing to check cannot conflict, however old: a blind write is never too old.
        if read_version < self.oldest && reads.clone().next().is_some() {
            return Err(TxnError::TooOld {
                read_version,
                oldest: self.oldest,
            });
        }
        for range in reads {
            if let Some(committed_at) = self.newest_write(range, read_version) {
                return Err(TxnError::Conflict {
                    range: range.to_range(),
                    committed_at,
                });
            }
        }
        Ok(())
    }

    /// Remembers that the transaction committing at sequence number `commit` writes
    /// `writes`, at `now_ms` on the caller's millisecond clock (the engine's `Clock`), then
    /// forgets the oldest commits while the history weighs more than
    /// [`ResolverLimits::max_history_bytes`] or its oldest commit is older than
    /// [`ResolverLimits::max_age_ms`].
    ///
    /// Record a commit only once its check has passed, and before any later transaction is
    /// checked. A commit that records and then fails to reach the log leaves its ranges
    /// behind: later transactions may conflict with writes that never happened, which
    /// costs a retry, never a wrong answer.
    ///
    /// # Errors
    ///
    /// [`TxnError::OutOfOrder`] when `commit` is not above every commit recorded before
    /// (or [`oldest`](Resolver::oldest)); [`TxnError::TooLarge`] when `writes` weigh more
    /// than [`ResolverLimits::max_txn_bytes`]. Either way nothing is recorded.
    pub fn record(
        &mut self,
        commit: SeqNo,
        writes: &[KeyRange],
        now_ms: u64,
    ) -> Result<(), TxnError> {
        self.record_refs(commit, writes.iter().map(RangeRef::Range), now_ms)
    }

    fn record_refs<'a>(
        &mut self,
        commit: SeqNo,
        writes: impl Iterator<Item = RangeRef<'a>> + Clone,
        now_ms: u64,
    ) -> Result<(), TxnError> {
        if commit <= self.last {
            return Err(TxnError::OutOfOrder {
                commit,
                after: self.last,
            });
        }
        let bytes = self.check_bytes(writes.clone().map(RangeRef::charged_bytes).sum())?;
        self.last = commit;
        let mut entry = Commit {
            seq: commit,
            at_ms: now_ms,
            points: Vec::new(),
            n_ranges: 0,
            bytes,
        };
        for range in writes {
            // A single-key range is a key, whichever way it came.
            let range = match range {
                RangeRef::Range(r) => r.as_key().map_or(range, |k| RangeRef::Key(r.keyspace(), k)),
                key => key,
            };
            match range {
                RangeRef::Key(keyspace, key) => {
                    let key = Bytes::copy_from_slice(key);
                    let keys = self.points.entry(keyspace).or_default();
                    keys.insert(key.clone(), commit);
                    entry.points.push((keyspace, key));
                }
                RangeRef::Range(range) => {
                    self.ranges.push_back((commit, range.clone()));
                    entry.n_ranges += 1;
                }
            }
        }
        if !entry.points.is_empty() || entry.n_ranges > 0 {
            self.bytes += bytes;
            self.commits.push_back(entry);
        }
        while let Some(front) = self.commits.front() {
            let too_old = now_ms.saturating_sub(front.at_ms) > self.limits.max_age_ms;
            if !too_old && self.bytes <= self.limits.max_history_bytes {
                break;
            }
            self.forget_oldest();
        }
        Ok(())
    }

    /// Decides one member of a write group whose entries are written right after sequence
    /// number `last`, and returns the last sequence number it takes. A transaction's
    /// commit (`txn`) is [checked](Resolver::check), then its `batch`
    /// [recorded](Resolver::record); if either fails it is refused (`txn.refused` says
    /// why), nothing is recorded, and `last` is returned: leave its batch out of the group.
    /// A transaction let through gets its commit version in `txn.commit`. A plain write
    /// (`None`) cannot be refused: it is recorded, or
    /// [skipped past](Resolver::skip) if too large to remember.
    ///
    /// Admit a group's members in the order they will be written: each is then checked
    /// against every commit before it, those of its own group included.
    ///
    /// With `remember` false, nothing is recorded: a transaction is checked, and its writes
    /// held to the size limit, and that is all. For a caller that knows no transaction
    /// will ever be checked against this commit (FerrisDB's leader, when the only live
    /// transaction is the one committing); recording it anyway is never wrong, only slower.
    pub fn admit(
        &mut self,
        last: SeqNo,
        batch: &WriteBatch,
        txn: Option<&mut Check>,
        now_ms: u64,
        remember: bool,
    ) -> SeqNo {
        let commit = last + batch.len() as u64;
        let admitted = match (txn, remember) {
            (Some(txn), true) => {
                let writes = RangeSet::of_batch(batch);
                let admitted = (self.check_set(txn.read_version, &txn.ranges))
                    .and_then(|()| self.record_refs(commit, writes.refs(), now_ms));
                Some((txn, admitted))
            }
            (Some(txn), false) => {
                let admitted = (self.check_set(txn.read_version, &txn.ranges))
                    .and_then(|()| self.check_bytes(batch_charge(batch)).map(drop));
                Some((txn, admitted))
            }
            (None, true) => {
                let writes = RangeSet::of_batch(batch);
                if self.record_refs(commit, writes.refs(), now_ms).is_err() {
                    self.skip(commit);
                }
                None
            }
            (None, false) => None,
        };
        match admitted {
            Some((txn, Err(e))) => {
                txn.refused = Some(e);
                last
            }
            Some((txn, Ok(()))) => {
                txn.commit = commit;
                commit
            }
            None => commit,
        }
    }

    /// Forgets every commit, and makes every read version below `commit` too old: what to
    /// do for a commit whose writes cannot be remembered (a plain write batch whose ranges
    /// weigh more than [`ResolverLimits::max_txn_bytes`], which is not a transaction and
    /// cannot be refused). Every transaction that read before it gets
    /// [`TxnError::TooOld`] instead of a check that would have to ignore it.
    pub fn skip(&mut self, commit: SeqNo) {
        while !self.commits.is_empty() {
            self.forget_oldest();
        }
        self.oldest = self.oldest.max(commit);
        self.last = self.last.max(commit);
    }

    /// Forgets every commit at or below `oldest_live_read_version`: no transaction reading
    /// at that version or later can conflict with them. Call it with the oldest read
    /// version of any transaction still running (the engine's oldest live snapshot).
    ///
    /// [`oldest`](Resolver::oldest) rises to the newest commit forgotten, so a transaction
    /// that is in fact older than the version passed here gets [`TxnError::TooOld`], not a
    /// wrong answer.
    pub fn trim(&mut self, oldest_live_read_version: SeqNo) {
        while self
            .commits
            .front()
            .is_some_and(|c| c.seq <= oldest_live_read_version)
        {
            self.forget_oldest();
        }
    }

    /// The oldest read version the resolver can check: it remembers every commit after
    /// this one. Rises as commits are forgotten, never falls.
    pub fn oldest(&self) -> SeqNo {
        self.oldest
    }

    /// The newest commit recorded, or [`oldest`](Resolver::oldest) at the start.
    pub fn last_commit(&self) -> SeqNo {
        self.last
    }

    /// How many commits that wrote something are remembered.
    pub fn len(&self) -> usize {
        self.commits.len()
    }

    /// Whether no commit is remembered.
    pub fn is_empty(&self) -> bool {
        self.commits.is_empty()
    }

    /// What the remembered write ranges weigh, in [`KeyRange::charged_bytes`].
    pub fn history_bytes(&self) -> usize {
        self.bytes
    }

    /// The limits the resolver was made with.
    pub fn limits(&self) -> &ResolverLimits {
        &self.limits
    }

    /// `bytes`, if that is within the per-transaction limit.
    fn check_bytes(&self, bytes: usize) -> Result<usize, TxnError> {
        if bytes > self.limits.max_txn_bytes {
            return Err(TxnError::TooLarge {
                bytes,
                limit: self.limits.max_txn_bytes,
            });
        }
        Ok(bytes)
    }

    /// The newest remembered commit after `after` that wrote a key in `range`.
    fn newest_write(&self, range: RangeRef<'_>, after: SeqNo) -> Option<SeqNo> {
        let (keyspace, range) = match range {
            RangeRef::Key(keyspace, key) => {
                // One lookup, and the range writes that hold the key.
                let point = (self.points.get(&keyspace)).and_then(|keys| keys.get(key).copied());
                let ranges = self.newest_range_write(after, |w| w.contains(keyspace, key));
                return point.filter(|&seq| seq > after).max(ranges);
            }
            RangeRef::Range(range) => (range.keyspace(), range),
        };
        // Every remembered key inside the range, each with its newest commit: for a scan,
        // every key written inside it.
        let points = self.points.get(&keyspace).and_then(|keys| {
            let end = (range.end()).map_or(Bound::Unbounded, |e| Bound::Excluded(&e[..]));
            keys.range::<[u8], _>((Bound::Included(&range.start()[..]), end))
                .map(|(_, &seq)| seq)
                .filter(|&seq| seq > after)
                .max()
        });
        points.max(self.newest_range_write(after, |w| w.intersects(range)))
    }

    /// The newest range write after `after` that `hits`: walked newest first, stopping at
    /// the read version, so the first found is the newest.
    fn newest_range_write(&self, after: SeqNo, hits: impl Fn(&KeyRange) -> bool) -> Option<SeqNo> {
        (self.ranges.iter().rev())
            .take_while(|(seq, _)| *seq > after)
            .find(|(_, written)| hits(written))
            .map(|(seq, _)| *seq)
    }

    /// Forgets the oldest remembered commit, and raises `oldest` to it.
    fn forget_oldest(&mut self) {
        let Some(commit) = self.commits.pop_front() else {
            return;
        };
        for (keyspace, key) in &commit.points {
            // A newer commit that wrote the same key owns the entry now; leave it.
            if let Some(keys) = self.points.get_mut(keyspace) {
                if keys.get(key) == Some(&commit.seq) {
                    keys.remove(key);
                }
                if keys.is_empty() {
                    self.points.remove(keyspace);
                }
            }
        }
        // Every older commit's ranges were popped before this one's, so its own are at
        // the front.
        for _ in 0..commit.n_ranges {
            let popped = self.ranges.pop_front();
            debug_assert_eq!(popped.map(|(seq, _)| seq), Some(commit.seq));
        }
        self.bytes -= commit.bytes;
        self.oldest = self.oldest.max(commit.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> KeyRange {
        KeyRange::key(0, k)
    }

    #[test]
    fn trimming_removes_a_key_only_for_its_newest_commit() {
        let mut r = Resolver::default();
        r.record(1, &[key("a"), key("b")], 0).unwrap();
        r.record(2, &[key("a")], 0).unwrap();
        r.trim(1);
        // "a" still belongs to commit 2, "b" went with commit 1.
        assert_eq!(r.points[&0].len(), 1);
        assert_eq!(r.points[&0].get(&b"a"[..]), Some(&2));
        r.trim(2);
        assert!(r.points.is_empty());
        assert!(r.is_empty());
        assert_eq!(r.history_bytes(), 0);
        assert_eq!(r.oldest(), 2);
    }

    #[test]
    fn range_writes_leave_with_their_commit() {
        let mut r = Resolver::default();
        let ab = KeyRange::bounds(0, "a".."b").unwrap();
        let cd = KeyRange::bounds(0, "c".."d").unwrap();
        r.record(1, &[ab.clone(), key("x")], 0).unwrap();
        r.record(2, &[cd.clone(), ab.clone()], 0).unwrap();
        assert_eq!(r.ranges.len(), 3);
        r.trim(1);
        assert_eq!(r.ranges.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [2, 2]);
        assert_eq!(r.history_bytes(), cd.charged_bytes() + ab.charged_bytes());
    }

    #[test]
    fn the_newest_intersecting_write_is_reported() {
        let mut r = Resolver::default();
        r.record(3, &[KeyRange::bounds(0, "a".."z").unwrap()], 0)
            .unwrap();
        r.record(5, &[key("m")], 0).unwrap();
        r.record(7, &[KeyRange::bounds(0, "a".."c").unwrap()], 0)
            .unwrap();
        let err = |reads: &[KeyRange]| match r.check(2, reads) {
            Err(TxnError::Conflict { committed_at, .. }) => committed_at,
            other => panic!("expected a conflict, got {other:?}"),
        };
        assert_eq!(err(&[key("m")]), 5);
        assert_eq!(err(&[key("b")]), 7);
        assert_eq!(err(&[key("q")]), 3);
        assert_eq!(err(&[KeyRange::prefix(0, "")]), 7);
    }

    #[test]
    fn admit_refuses_a_conflicting_transaction_and_numbers_the_rest() {
        let mut r = Resolver::default();
        let mut batch = WriteBatch::new();
        batch.put("a", "1").put("b", "2");
        // A plain write of two entries after sequence 10 takes 11 and 12.
        assert_eq!(r.admit(10, &batch, None, 0, true), 12);
        let mut stale = Check {
            read_version: 10,
            ranges: [key("b")].iter().collect(),
            refused: None,
            commit: 0,
        };
        assert_eq!(r.admit(12, &batch, Some(&mut stale), 0, true), 12);
        assert!(matches!(
            stale.refused,
            Some(TxnError::Conflict {
                committed_at: 12,
                ..
            })
        ));
        let mut fresh = Check {
            read_version: 12,
            ranges: [key("b")].iter().collect(),
            refused: None,
            commit: 0,
        };
        assert_eq!(r.admit(12, &batch, Some(&mut fresh), 0, true), 14);
        assert_eq!(fresh.refused, None);
        assert_eq!(fresh.commit, 14);
        assert_eq!(r.last_commit(), 14);
    }

    #[test]
    fn a_skipped_commit_makes_every_older_read_version_too_old() {
        let mut r = Resolver::default();
        r.record(1, &[key("a")], 0).unwrap();
        r.skip(5);
        assert!(r.is_empty());
        assert_eq!(r.history_bytes(), 0);
        assert_eq!(
            r.check(4, &[key("z")]),
            Err(TxnError::TooOld {
                read_version: 4,
                oldest: 5
            })
        );
        assert_eq!(r.check(5, &[key("a")]), Ok(()));
        assert!(matches!(
            r.record(5, &[key("b")], 0),
            Err(TxnError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn out_of_order_commits_are_refused_and_change_nothing() {
        let mut r = Resolver::new(10, ResolverLimits::default());
        assert_eq!(
            r.record(10, &[key("a")], 0),
            Err(TxnError::OutOfOrder {
                commit: 10,
                after: 10
            })
        );
        r.record(12, &[key("a")], 0).unwrap();
        assert_eq!(
            r.record(11, &[key("b")], 0),
            Err(TxnError::OutOfOrder {
                commit: 11,
                after: 12
            })
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r.check(10, &[key("b")]), Ok(()));
    }
}
