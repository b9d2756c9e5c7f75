//! The merge rules: which versions a compaction keeps, as an iterator over its inputs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::{Error, InternalKeyRef, Result, SeqNo, ValueKind};

use crate::filter::{CompactionFilter, Decision};

/// What a merge must know beyond its inputs to decide which versions to keep.
#[derive(Debug, Clone, Default)]
pub struct MergeRules {
    /// The sequence numbers of the live snapshots, in any order. A snapshot at `s` reads
    /// the newest version of each key with a sequence number at or below `s`, so the
    /// merge keeps that version for it.
    pub snapshots: Vec<SeqNo>,
    /// Whether nothing older than the inputs can hold a key in their range: no table
    /// outside the inputs, in the output level or below, overlaps it ([`is_bottommost`]
    /// decides it from the levels). Only then may a tombstone go: there is nothing left
    /// for it to hide.
    ///
    /// [`is_bottommost`]: crate::is_bottommost
    pub bottommost: bool,
    /// The user's hook on the newest version of each key that no snapshot reads, and
    /// the level the merge writes to, which it is told.
    pub filter: Option<(Arc<dyn CompactionFilter>, usize)>,
}

/// What a merge dropped, and what it kept, for stats and logs.
///
/// Once the merge has run to its end, `read == kept + shadowed + tombstones_dropped`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Entries read from the input so far, the current one included.
    pub read: u64,
    /// Entries kept so far, the current one included.
    pub kept: u64,
    /// Versions dropped because a newer version of the same key is visible to every
    /// reader that could see them (the same snapshot stripe).
    pub shadowed: u64,
    /// Tombstones dropped because the output is bottommost and every snapshot sees them
    /// (tombstones the filter put in place of a removed key included).
    pub tombstones_dropped: u64,
    /// Keys the compaction filter removed (each written as a tombstone, or dropped).
    pub filter_removed: u64,
    /// Values the compaction filter changed.
    pub filter_changed: u64,
}

/// The versions a compaction keeps, in order: a filter over the merged input tables that
/// applies the garbage-collection rules, with no I/O of its own.
///
/// The live snapshots cut each key's history into **stripes**: two versions lie in the
/// same stripe when no snapshot falls between them (at or above the older, below the
/// newer). Every reader, a snapshot or the present, that can see the older version of a
/// stripe sees the newer one instead, so only the newest version of each stripe is kept.
/// Stripe 0 holds the versions older than every snapshot (all of them, with none).
///
/// ```text
///   snapshots:          s=5                 s=12
///   versions of k:  3  4 | 7  9  11          | 14  20
///   stripe:            0 |      1            |    2
///   kept:              4 |           11      |        20
/// ```
///
/// A tombstone that is the newest of stripe 0 hides the versions below it from every
/// reader. When the output is **bottommost** ([`MergeRules::bottommost`]), nothing older
/// than the inputs holds the key either, so the tombstone itself is dropped (LevelDB's
/// and RocksDB's rule); above the bottom it stays, to keep hiding the older versions
/// beneath.
///
/// # Using it
///
/// Build the input as one sorted iterator over every input table (a
/// [`MergingIterator`](ferris_core::iter::MergingIterator) of the tables' iterators),
/// positioned or not: [`CompactionIterator::new`] seeks it to its first entry. Then, while
/// [`valid`](CompactionIterator::valid), write [`key`](CompactionIterator::key) and
/// [`value`](CompactionIterator::value), cutting the output before an entry for which
/// [`first_of_user_key`](CompactionIterator::first_of_user_key) holds, if the
/// [`OutputCuts`](crate::OutputCuts) rule says so; [`next`](CompactionIterator::next);
/// and at the end check [`status`](CompactionIterator::status): an input that failed
/// stops the merge early, and its outputs must not be installed.
///
/// ```
/// use bytes::Bytes;
/// use ferris_compaction::{CompactionIterator, MergeRules};
/// use ferris_core::iter::VecIter;
/// use ferris_core::{InternalKey, ValueKind};
///
/// let put = |k: &str, seq| (InternalKey::new(k.as_bytes().to_vec(), seq, ValueKind::Put), Bytes::new());
/// let del = |k: &str, seq| (InternalKey::new(k.as_bytes().to_vec(), seq, ValueKind::Delete), Bytes::new());
/// let input = VecIter::new(vec![put("a", 9), put("a", 7), put("a", 3), del("b", 8), put("b", 2)]);
/// // A snapshot at 5 still reads a@3; nobody can read a@7 (a@9 hides it from all).
/// let rules = MergeRules { snapshots: vec![5], bottommost: true, filter: None };
/// let mut merge = CompactionIterator::new(input, rules);
/// let mut kept = Vec::new();
/// while merge.valid() {
///     kept.push((format!("{:?}", merge.key()), merge.first_of_user_key()));
///     merge.next();
/// }
/// merge.status()?;
/// assert_eq!(kept, [
///     ("a@9:Put".to_string(), true),
///     ("a@3:Put".to_string(), false),
///     // The tombstone at 8 is newer than the snapshot: it stays, and so does b@2, which
///     // the snapshot still reads.
///     ("b@8:Delete".to_string(), true),
///     ("b@2:Put".to_string(), false),
/// ]);
/// assert_eq!(merge.stats().shadowed, 1);
/// # Ok::<(), ferris_core::Error>(())
/// ```
#[derive(Debug)]
pub struct CompactionIterator<I> {
    input: I,
    /// The snapshots, sorted and without duplicates.
    snapshots: Vec<SeqNo>,
    bottommost: bool,
    /// The user key of the entries being read, once one has been.
    user_key: Option<Vec<u8>>,
    /// The stripe of the last version of `user_key` read, kept or dropped as a tombstone.
    last_stripe: Option<usize>,
    /// Whether an entry of `user_key` has been kept.
    kept_of_key: bool,
    /// Whether the current entry is the first kept entry of its user key.
    first_of_user_key: bool,
    filter: Option<(Arc<dyn CompactionFilter>, usize)>,
    /// What the filter made of the current entry: a tombstone (`None`) or a new value.
    filtered: Option<Option<Bytes>>,
    /// A panic of the filter, which ends the merge.
    failed: Option<Error>,
    stats: MergeStats,
}

impl<I: InternalIterator> CompactionIterator<I> {
    /// The entries of `input` that a compaction under `rules` keeps. Seeks `input` to its
    /// first entry, wherever it was, and positions on the first entry kept.
    pub fn new(mut input: I, rules: MergeRules) -> CompactionIterator<I> {
        let MergeRules {
            mut snapshots,
            bottommost,
            filter,
        } = rules;
        snapshots.sort_unstable();
        snapshots.dedup();
        input.seek_to_first();
        let mut merge = CompactionIterator {
            input,
            snapshots,
            bottommost,
            user_key: None,
            last_stripe: None,
            kept_of_key: false,
            first_of_user_key: false,
            filter,
            filtered: None,
            failed: None,
            stats: MergeStats::default(),
        };
        merge.settle();
        merge
    }

    /// Whether the iterator is on a kept entry. False at the end, and after an input
    /// error ([`status`](CompactionIterator::status) tells which).
    pub fn valid(&self) -> bool {
        self.failed.is_none() && self.input.valid()
    }

    /// The current entry's key (a tombstone where the filter removed the key). Called only
    /// while [`valid`](CompactionIterator::valid).
    pub fn key(&self) -> InternalKeyRef<'_> {
        let mut key = self.input.key();
        if let Some(None) = self.filtered {
            key.kind = ValueKind::Delete;
        }
        key
    }

    /// The current entry's value (empty for a tombstone), as the filter left it. Called
    /// only while [`valid`](CompactionIterator::valid).
    pub fn value(&self) -> Bytes {
        match &self.filtered {
            None => self.input.value(),
            Some(value) => value.clone().unwrap_or_default(),
        }
    }

    /// Whether the current entry is the first kept entry of its user key: the only places
    /// an output table may end, so that the tables of a level never share a user key.
    pub fn first_of_user_key(&self) -> bool {
        self.first_of_user_key
    }

    /// Steps to the next kept entry, reading past the entries the rules drop (however
    /// many there are). Called only while [`valid`](CompactionIterator::valid).
    pub fn next(&mut self) {
        self.input.next();
        self.settle();
    }

    /// The error that stopped the input, if one did. Check it once
    /// [`valid`](CompactionIterator::valid) is false: an invalid iterator with an `Ok`
    /// status has kept everything it should.
    ///
    /// # Errors
    ///
    /// The input's error: an I/O failure or damage in an input table, with its file and
    /// offset; [`Error::InvalidInput`] naming the compaction filter if it panicked.
    pub fn status(&self) -> Result<()> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => self.input.status(),
        }
    }

    /// What the merge has read, kept and dropped so far.
    pub fn stats(&self) -> MergeStats {
        self.stats
    }

    /// The input iterator, wherever the merge left it.
    pub fn into_inner(self) -> I {
        self.input
    }

    /// The stripe of a version at `seq`: how many snapshots are older than it.
    fn stripe(&self, seq: SeqNo) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    /// What the filter decides for the current entry, if it is one the filter sees: a
    /// value in the top stripe, newer than every snapshot (the caller has checked that it
    /// is its stripe's newest). `Err` if the filter panicked.
    fn run_filter(&self, stripe: usize) -> std::result::Result<Option<Option<Bytes>>, Error> {
        let Some((filter, level)) = &self.filter else {
            return Ok(None);
        };
        let key = self.input.key();
        if stripe != self.snapshots.len() || key.kind != ValueKind::Put {
            return Ok(None);
        }
        let value = self.input.value();
        let decided = catch_unwind(AssertUnwindSafe(|| {
            filter.filter(*level, key.user_key, &value)
        }));
        match decided {
            Ok(Decision::Keep) => Ok(None),
            Ok(Decision::Remove) => Ok(Some(None)),
            Ok(Decision::ChangeValue(v)) => Ok(Some(Some(v))),
            Err(panic) => {
                let why = (panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::InvalidInput(format!(
                    "compaction filter {:?} panicked: {why}",
                    filter.name()
                )))
            }
        }
    }

    /// Reads from the input's current entry on until one to keep, or the end.
    fn settle(&mut self) {
        self.first_of_user_key = false;
        self.filtered = None;
        while self.input.valid() {
            self.stats.read += 1;
            let key = self.input.key();
            if self.user_key.as_deref() != Some(key.user_key) {
                let user_key = self.user_key.get_or_insert_with(Vec::new);
                user_key.clear();
                user_key.extend_from_slice(key.user_key);
                self.last_stripe = None;
                self.kept_of_key = false;
            }
            let stripe = self.stripe(key.seq);
            // Versions come newest first, so an earlier version of this key in the same
            // stripe hides this one from every reader.
            if self.last_stripe == Some(stripe) {
                self.stats.shadowed += 1;
                self.input.next();
                continue;
            }
            self.last_stripe = Some(stripe);
            match self.run_filter(stripe) {
                Ok(filtered) => self.filtered = filtered,
                Err(e) => {
                    self.failed = Some(e);
                    return;
                }
            }
            match &self.filtered {
                Some(None) => self.stats.filter_removed += 1,
                Some(Some(_)) => self.stats.filter_changed += 1,
                None => {}
            }
            // A tombstone every snapshot sees, with nothing older below the inputs, hides
            // nothing from anyone. The older versions it hid fall to the rule above: they
            // are in the same stripe.
            if self.key().kind == ValueKind::Delete && self.bottommost && stripe == 0 {
                self.stats.tombstones_dropped += 1;
                self.filtered = None;
                self.input.next();
                continue;
            }
            self.stats.kept += 1;
            self.first_of_user_key = !self.kept_of_key;
            self.kept_of_key = true;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use ferris_core::iter::{MergingIterator, VecIter};
    use ferris_core::{Error, InternalKey};
    use proptest::prelude::*;

    use super::*;

    fn entry(k: u8, seq: SeqNo, put: bool) -> (InternalKey, Bytes) {
        let kind = if put {
            ValueKind::Put
        } else {
            ValueKind::Delete
        };
        let value = if put {
            Bytes::from(format!("{k}@{seq}"))
        } else {
            Bytes::new()
        };
        (InternalKey::new(vec![b'k', k], seq, kind), value)
    }

    /// What every reader must still find after the merge: for each user key and each
    /// reader (every snapshot, and the present), the newest version at or below its
    /// sequence number, as a value or "deleted"; keys none of whose readers find a value
    /// are absent.
    fn reads(
        entries: &[(InternalKey, Bytes)],
        readers: &[SeqNo],
    ) -> BTreeMap<(Vec<u8>, SeqNo), Option<Bytes>> {
        let mut out = BTreeMap::new();
        for &reader in readers {
            let mut newest: BTreeMap<Vec<u8>, (SeqNo, Option<Bytes>)> = BTreeMap::new();
            for (key, value) in entries {
                if key.seq() > reader {
                    continue;
                }
                let v = (key.kind() == ValueKind::Put).then(|| value.clone());
                let slot = newest
                    .entry(key.user_key().to_vec())
                    .or_insert((key.seq(), v.clone()));
                if key.seq() > slot.0 {
                    *slot = (key.seq(), v);
                }
            }
            for (user_key, (_, value)) in newest {
                if value.is_some() {
                    out.insert((user_key, reader), value);
                }
            }
        }
        out
    }

    /// The model of the rules, written differently from the iterator: group each key's
    /// versions by the first snapshot at or above them, keep the newest of each group, and
    /// drop that one too if it is a tombstone older than every snapshot in a bottommost
    /// merge.
    fn model(
        entries: &[(InternalKey, Bytes)],
        snapshots: &[SeqNo],
        bottommost: bool,
    ) -> Vec<(InternalKey, Bytes)> {
        let mut groups: BTreeMap<(Vec<u8>, Option<SeqNo>), (InternalKey, Bytes)> = BTreeMap::new();
        for (key, value) in entries {
            let covering = snapshots.iter().copied().filter(|&s| s >= key.seq()).min();
            let slot = groups
                .entry((key.user_key().to_vec(), covering))
                .or_insert((key.clone(), value.clone()));
            if key.seq() > slot.0.seq() {
                *slot = (key.clone(), value.clone());
            }
        }
        let oldest = snapshots.iter().copied().min();
        let mut kept: Vec<_> = groups
            .into_values()
            .filter(|(key, _)| {
                let below_every_snapshot = oldest.is_none_or(|s| key.seq() <= s);
                !(bottommost && key.kind() == ValueKind::Delete && below_every_snapshot)
            })
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        kept
    }

    /// Splits `entries` over `n` tables, entry `i` to table `i % n`, as a merge's inputs.
    fn inputs(entries: &[(InternalKey, Bytes)], n: usize) -> MergingIterator {
        let mut tables = vec![Vec::new(); n.max(1)];
        for (i, e) in entries.iter().enumerate() {
            tables[i % n.max(1)].push(e.clone());
        }
        MergingIterator::new(
            tables
                .into_iter()
                .map(|t| Box::new(VecIter::new(t)) as Box<dyn InternalIterator>)
                .collect(),
        )
    }

    fn run<I: InternalIterator>(
        mut merge: CompactionIterator<I>,
    ) -> (Vec<(InternalKey, Bytes)>, Vec<bool>, MergeStats) {
        let (mut kept, mut firsts) = (Vec::new(), Vec::new());
        while merge.valid() {
            kept.push((merge.key().to_owned(), merge.value()));
            firsts.push(merge.first_of_user_key());
            merge.next();
        }
        merge.status().unwrap();
        (kept, firsts, merge.stats())
    }

    /// A history: distinct (key, seq) pairs over a few keys, puts and tombstones.
    fn history() -> impl Strategy<Value = Vec<(InternalKey, Bytes)>> {
        proptest::collection::btree_map((0u8..6, 1u64..60), any::<bool>(), 0..80).prop_map(|map| {
            map.into_iter()
                .map(|((k, seq), put)| entry(k, seq, put))
                .collect()
        })
    }

    proptest! {
        /// For random histories, snapshot sets and input splits, the iterator keeps what
        /// the model keeps, marks the first kept entry of each key, accounts for every
        /// entry it read, and every reader finds what it found before the merge.
        #[test]
        fn the_merge_keeps_what_the_model_keeps(
            entries in history(),
            snapshots in proptest::collection::vec(0u64..64, 0..5),
            bottommost in any::<bool>(),
            n_inputs in 1usize..5,
        ) {
            let rules = MergeRules { snapshots: snapshots.clone(), bottommost, filter: None };
            let (kept, firsts, stats) = run(CompactionIterator::new(inputs(&entries, n_inputs), rules));
            prop_assert_eq!(&kept, &model(&entries, &snapshots, bottommost));
            for (i, first) in firsts.iter().enumerate() {
                let new_key = i == 0 || kept[i - 1].0.user_key() != kept[i].0.user_key();
                prop_assert_eq!(*first, new_key, "entry {}", i);
            }
            prop_assert_eq!(stats.read, entries.len() as u64);
            prop_assert_eq!(stats.kept, kept.len() as u64);
            prop_assert_eq!(stats.read, stats.kept + stats.shadowed + stats.tombstones_dropped);
            let mut readers = snapshots.clone();
            readers.push(u64::MAX >> 8);
            prop_assert_eq!(reads(&kept, &readers), reads(&entries, &readers));
            if !bottommost {
                prop_assert_eq!(stats.tombstones_dropped, 0);
            }
        }

        /// A filter changes what the present reads of the keys whose newest version no
        /// snapshot reads, exactly as it decided, and nothing any snapshot reads.
        #[test]
        fn a_filter_changes_only_what_no_snapshot_reads(
            entries in history(),
            snapshots in proptest::collection::vec(0u64..64, 0..4),
            bottommost in any::<bool>(),
        ) {
            let filter: Arc<dyn CompactionFilter> = Arc::new(ByKey);
            let rules = MergeRules { snapshots: snapshots.clone(), bottommost, filter: Some((filter, 3)) };
            let (kept, _, stats) = run(CompactionIterator::new(inputs(&entries, 2), rules));
            prop_assert_eq!(stats.read, entries.len() as u64);
            prop_assert_eq!(stats.read, stats.kept + stats.shadowed + stats.tombstones_dropped);
            let before = reads(&entries, &snapshots);
            let after = reads(&kept, &snapshots);
            prop_assert_eq!(&after, &before, "every snapshot reads what it read");
            // The present: the newest version of each key, filtered if it is newer than
            // every snapshot.
            let newest_snapshot = snapshots.iter().copied().max().unwrap_or(0);
            let mut want = reads(&entries, &[SeqNo::MAX]);
            for (key, value) in entries.iter().rev() {
                let newest = entries.iter().filter(|(k, _)| k.user_key() == key.user_key()).map(|(k, _)| k.seq()).max();
                if Some(key.seq()) != newest || key.kind() != ValueKind::Put || key.seq() <= newest_snapshot {
                    continue;
                }
                let slot = (key.user_key().to_vec(), SeqNo::MAX);
                match ByKey.filter(3, key.user_key(), value) {
                    Decision::Keep => {}
                    Decision::Remove => { want.remove(&slot); }
                    Decision::ChangeValue(v) => { want.insert(slot, Some(v)); }
                }
            }
            prop_assert_eq!(reads(&kept, &[SeqNo::MAX]), want);
        }

        /// With no snapshot, a bottommost merge leaves at most one version of each key, and
        /// never a tombstone: the state a full compaction promises.
        #[test]
        fn a_bottommost_merge_without_snapshots_keeps_one_live_value_per_key(entries in history()) {
            let rules = MergeRules { snapshots: Vec::new(), bottommost: true, filter: None };
            let (kept, firsts, _) = run(CompactionIterator::new(inputs(&entries, 2), rules));
            prop_assert!(firsts.iter().all(|&f| f), "one entry per key");
            prop_assert!(kept.iter().all(|(k, _)| k.kind() == ValueKind::Put));
        }
    }

    /// Removes keys whose last byte is a multiple of 3, rewrites the value of those one
    /// above, and keeps the rest.
    #[derive(Debug)]
    struct ByKey;

    impl CompactionFilter for ByKey {
        fn name(&self) -> &str {
            "by-key"
        }

        fn filter(&self, level: usize, key: &[u8], _: &[u8]) -> Decision {
            assert_eq!(level, 3, "the filter is told the output level");
            match key[key.len() - 1] % 3 {
                0 => Decision::Remove,
                1 => Decision::ChangeValue(Bytes::from_static(b"changed")),
                _ => Decision::Keep,
            }
        }
    }

    #[derive(Debug)]
    struct Panics;

    impl CompactionFilter for Panics {
        fn name(&self) -> &str {
            "panics"
        }

        fn filter(&self, _: usize, key: &[u8], _: &[u8]) -> Decision {
            assert!(key != b"k\x02", "a bug in the filter");
            Decision::Keep
        }
    }

    #[test]
    fn a_removed_key_above_the_bottom_leaves_a_tombstone_over_older_versions() {
        let entries = vec![entry(3, 9, true), entry(3, 2, true), entry(4, 5, true)];
        let filter: Arc<dyn CompactionFilter> = Arc::new(ByKey);
        let rules = MergeRules {
            snapshots: Vec::new(),
            bottommost: false,
            filter: Some((filter.clone(), 3)),
        };
        let (kept, _, stats) = run(CompactionIterator::new(
            VecIter::new(entries.clone()),
            rules,
        ));
        let tombstone = InternalKey::new(vec![b'k', 3], 9, ValueKind::Delete);
        let changed = InternalKey::new(vec![b'k', 4], 5, ValueKind::Put);
        assert_eq!(
            kept,
            vec![
                (tombstone, Bytes::new()),
                (changed, Bytes::from_static(b"changed"))
            ]
        );
        assert_eq!((stats.filter_removed, stats.filter_changed), (1, 1));
        // At the bottom the tombstone itself goes.
        let rules = MergeRules {
            snapshots: Vec::new(),
            bottommost: true,
            filter: Some((filter, 3)),
        };
        let (kept, _, stats) = run(CompactionIterator::new(VecIter::new(entries), rules));
        assert_eq!(kept.len(), 1);
        assert_eq!(stats.tombstones_dropped, 1);
    }

    #[test]
    fn a_panicking_filter_stops_the_merge_with_an_error_naming_it() {
        let entries = vec![entry(1, 9, true), entry(2, 5, true), entry(3, 4, true)];
        let filter: Arc<dyn CompactionFilter> = Arc::new(Panics);
        let rules = MergeRules {
            snapshots: Vec::new(),
            bottommost: true,
            filter: Some((filter, 1)),
        };
        let mut merge = CompactionIterator::new(VecIter::new(entries), rules);
        assert!(merge.valid());
        merge.next();
        assert!(!merge.valid());
        let e = merge.status().unwrap_err();
        assert!(
            e.to_string()
                .contains("\"panics\" panicked: a bug in the filter"),
            "{e}"
        );
    }

    #[test]
    fn a_tombstone_a_snapshot_predates_is_kept_at_the_bottom() {
        let entries = vec![entry(1, 10, false), entry(1, 4, true), entry(2, 3, false)];
        let rules = MergeRules {
            snapshots: vec![6],
            bottommost: true,
            filter: None,
        };
        let (kept, _, stats) = run(CompactionIterator::new(
            VecIter::new(entries.clone()),
            rules,
        ));
        // The snapshot at 6 reads k1@4, so the tombstone at 10 must keep hiding it from the
        // present; the tombstone at 3 is older than every snapshot and goes.
        assert_eq!(kept, vec![entries[0].clone(), entries[1].clone()]);
        assert_eq!(stats.tombstones_dropped, 1);
        // Above the bottom, the old tombstone stays too: older tables may hold k2.
        let rules = MergeRules {
            snapshots: vec![6],
            bottommost: false,
            filter: None,
        };
        let (kept, _, _) = run(CompactionIterator::new(
            VecIter::new(entries.clone()),
            rules,
        ));
        assert_eq!(kept, entries);
    }

    #[test]
    fn a_key_whose_every_version_is_dropped_does_not_count_as_a_new_key() {
        // k1 is deleted at the bottom; k2's first kept entry is the first of its key.
        let entries = vec![entry(1, 9, false), entry(1, 5, true), entry(2, 7, true)];
        let rules = MergeRules {
            snapshots: Vec::new(),
            bottommost: true,
            filter: None,
        };
        let (kept, firsts, stats) = run(CompactionIterator::new(
            VecIter::new(entries.clone()),
            rules,
        ));
        assert_eq!(kept, vec![entries[2].clone()]);
        assert_eq!(firsts, vec![true]);
        assert_eq!(
            stats,
            MergeStats {
                read: 3,
                kept: 1,
                shadowed: 1,
                tombstones_dropped: 1,
                ..MergeStats::default()
            }
        );
    }

    /// An input that yields `good` entries and then fails with damage.
    struct Failing {
        good: VecIter,
        failed: bool,
    }

    impl InternalIterator for Failing {
        fn valid(&self) -> bool {
            !self.failed && self.good.valid()
        }
        fn key(&self) -> InternalKeyRef<'_> {
            self.good.key()
        }
        fn value(&self) -> Bytes {
            self.good.value()
        }
        fn seek_to_first(&mut self) {
            self.good.seek_to_first();
        }
        fn seek_to_last(&mut self) {
            self.good.seek_to_last();
        }
        fn seek(&mut self, target: InternalKeyRef<'_>) {
            self.good.seek(target);
        }
        fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
            self.good.seek_for_prev(target);
        }
        fn next(&mut self) {
            self.good.next();
            self.failed = !self.good.valid();
        }
        fn prev(&mut self) {
            self.good.prev();
        }
        fn status(&self) -> Result<()> {
            if self.failed {
                Err(Error::corruption(
                    "000007.sst",
                    4096,
                    "a block's checksum does not match",
                ))
            } else {
                Ok(())
            }
        }
    }

    #[test]
    fn an_input_error_stops_the_merge_and_is_reported() {
        let failing = Failing {
            good: VecIter::new(vec![entry(1, 5, true), entry(2, 5, true)]),
            failed: false,
        };
        let healthy = VecIter::new(vec![entry(3, 5, true), entry(4, 5, true)]);
        let input = MergingIterator::new(vec![Box::new(failing), Box::new(healthy)]);
        let mut merge = CompactionIterator::new(input, MergeRules::default());
        let mut kept = 0;
        while merge.valid() {
            kept += 1;
            merge.next();
        }
        let err = merge.status().unwrap_err();
        assert!(err.is_corruption(), "{err}");
        // The healthy input's entries come after the failure and are never yielded as if
        // the merge were complete.
        assert_eq!(kept, 2);
    }
}
