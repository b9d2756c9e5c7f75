//! The merge rules: which versions a compaction keeps, as an iterator over its inputs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::iter::InternalIterator;
use ferris_core::range_del::Tombstones;
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
    /// The range tombstones of the inputs, all of them together
    /// ([`Tombstones::union`] of each input table's). The merge drops the versions they
    /// cover that no reader can see, garbage-collects the tombstones themselves, and
    /// hands out what is left to the output tables
    /// ([`CompactionIterator::cut_range_tombstones`]).
    pub range_tombstones: Arc<Tombstones>,
}

/// What a merge dropped, and what it kept, for stats and logs.
///
/// Once the merge has run to its end,
/// `read == kept + shadowed + tombstones_dropped + range_deleted`.
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
    /// Versions dropped because a range tombstone in the same snapshot stripe covers them
    /// (point tombstones included).
    pub range_deleted: u64,
    /// Range tombstones dropped, counted per fragment and sequence number (the pairs
    /// [`Tombstones::len`] counts): older ones that a newer one in the same stripe hides,
    /// and, in a bottommost merge, those every snapshot sees.
    pub range_tombstones_dropped: u64,
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
/// # Range tombstones
///
/// A range tombstone `[start, end) @ t` ([`MergeRules::range_tombstones`]) takes part in
/// the same stripes. A version `k @ s` under it with `s < t` in the same stripe as `t` is
/// seen by no reader without the tombstone that hides it, so it is dropped
/// ([`MergeStats::range_deleted`]) before the filter could see it; in an older stripe a
/// snapshot still reads it, and it stays. Of the tombstones over each fragment of the key
/// space only the newest of each stripe is kept, and in a bottommost merge not even that
/// one in stripe 0: every version it covered has just been dropped, and nothing older
/// lies below ([`MergeStats::range_tombstones_dropped`]).
///
/// # Using it
///
/// Build the input as one sorted iterator over every input table (a
/// [`MergingIterator`](ferris_core::iter::MergingIterator) of the tables' iterators),
/// positioned or not: [`CompactionIterator::new`] seeks it to its first entry. Then, while
/// [`valid`](CompactionIterator::valid), write [`key`](CompactionIterator::key) and
/// [`value`](CompactionIterator::value), cutting the output before an entry for which
/// [`first_of_user_key`](CompactionIterator::first_of_user_key) holds, if the
/// [`OutputCuts`](crate::OutputCuts) rule says so, and giving the table being finished
/// its [`cut_range_tombstones`](CompactionIterator::cut_range_tombstones);
/// [`next`](CompactionIterator::next); and at the end check
/// [`status`](CompactionIterator::status): an input that failed stops the merge early,
/// and its outputs must not be installed. The last table gets
/// [`rest_range_tombstones`](CompactionIterator::rest_range_tombstones) (a merge that
/// keeps no entry but some tombstones writes a table of tombstones alone).
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
/// let rules = MergeRules { snapshots: vec![5], bottommost: true, ..MergeRules::default() };
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
    /// The input's range tombstones, only the newest of each stripe over each fragment:
    /// what decides which versions they cover.
    tombstones: Tombstones,
    /// What of them the outputs keep: `tombstones` less those a bottommost merge drops.
    kept_tombstones: Tombstones,
    /// The fragment of `tombstones` at or after `user_key`: keys come in order, so the
    /// search for the fragment over each key only moves forward.
    fragment: usize,
    /// The user key of the last entry kept.
    kept_key: Option<Vec<u8>>,
    /// The user key of the last entry kept before the current entry's user key (before
    /// the end, once the input is done): where an output cut here would end.
    kept_before: Option<Vec<u8>>,
    /// Where the tombstones not yet given to an output begin.
    cut_from: Vec<u8>,
}

impl<I: InternalIterator> CompactionIterator<I> {
    /// The entries of `input` that a compaction under `rules` keeps. Seeks `input` to its
    /// first entry, wherever it was, and positions on the first entry kept.
    pub fn new(mut input: I, rules: MergeRules) -> CompactionIterator<I> {
        let MergeRules {
            mut snapshots,
            bottommost,
            filter,
            range_tombstones,
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
            tombstones: Tombstones::default(),
            kept_tombstones: Tombstones::default(),
            fragment: 0,
            kept_key: None,
            kept_before: None,
            cut_from: Vec::new(),
        };
        merge.collect_tombstones(&range_tombstones);
        merge.settle();
        merge
    }

    /// Keeps the newest tombstone of each stripe over each fragment, and drops even
    /// that in stripe 0 of a bottommost merge, counting what goes.
    fn collect_tombstones(&mut self, input: &Tombstones) {
        let (snapshots, bottommost) = (&self.snapshots, self.bottommost);
        // A reader that sees an older tombstone of a stripe sees the newest one too (no
        // snapshot lies between them), and the newest covers all the older one covers.
        // Sequence numbers come newest first, so the newest of a stripe is the first.
        let newest_of_stripe = |seqs: &[SeqNo], t: SeqNo| {
            let stripe = stripe(snapshots, t);
            seqs.iter()
                .find(|&&newer| self::stripe(snapshots, newer) == stripe)
                == Some(&t)
        };
        self.tombstones = input.retain_seqs(|f, t| newest_of_stripe(&f.seqs, t));
        // Every version a tombstone of stripe 0 covers is in stripe 0 with it and is
        // dropped, and nothing older lies below a bottommost merge: it has nothing left
        // to hide.
        let mut dropped = 0;
        self.kept_tombstones = input.retain_seqs(|f, t| {
            let keep = newest_of_stripe(&f.seqs, t) && !(bottommost && stripe(snapshots, t) == 0);
            dropped += u64::from(!keep);
            keep
        });
        self.stats.range_tombstones_dropped = dropped;
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

    /// Every range tombstone the merge keeps, for all the outputs together.
    pub fn range_tombstones(&self) -> &Tombstones {
        &self.kept_tombstones
    }

    /// The range tombstones of an output table that ends before the current entry, to be
    /// called where the output is cut (on an entry for which
    /// [`first_of_user_key`](CompactionIterator::first_of_user_key) holds): the kept
    /// tombstones from where the previous cut ended (the start of the key space, for the
    /// first table) up to and including the last user key kept before the current one.
    /// Once the input is done, the cut falls after the last key kept.
    ///
    /// The part ends at that key with a `0` byte appended, exclusive: the next key there
    /// can be, so the table claims that key as its largest
    /// ([`Tombstones::largest_key`]), and the next table begins after it. Two tables cut
    /// here never overlap, and between them they hold every tombstone.
    ///
    /// Empty, and nothing is cut, before any entry has been kept.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use bytes::Bytes;
    /// use ferris_compaction::{CompactionIterator, MergeRules};
    /// use ferris_core::iter::VecIter;
    /// use ferris_core::range_del::{RangeTombstone, Tombstones};
    /// use ferris_core::{InternalKey, ValueKind};
    ///
    /// let put = |k: &str| (InternalKey::new(k.as_bytes().to_vec(), 9, ValueKind::Put), Bytes::new());
    /// // Written before the puts, the delete of [a, z) hides none of them, but it may
    /// // hide older versions in the levels below: it stays, split between the tables.
    /// let tombstone = RangeTombstone::new("a", Some(Bytes::from("z")), 5);
    /// let rules = MergeRules {
    ///     range_tombstones: Arc::new(Tombstones::new([tombstone])),
    ///     ..MergeRules::default()
    /// };
    /// let mut merge = CompactionIterator::new(VecIter::new(vec![put("b"), put("m")]), rules);
    /// merge.next(); // "b" written to the first table; cut before "m".
    /// let first = merge.cut_range_tombstones();
    /// assert_eq!(first.fragments()[0].end.as_deref(), Some(&b"b\0"[..]));
    /// assert_eq!(first.largest_key().as_deref(), Some(&b"b"[..]));
    /// merge.next(); // "m" written to the second table, the last.
    /// let second = merge.rest_range_tombstones();
    /// assert_eq!(second.smallest_key().map(|k| &k[..]), Some(&b"b\0"[..]));
    /// ```
    pub fn cut_range_tombstones(&mut self) -> Tombstones {
        let Some(last) = &self.kept_before else {
            return Tombstones::default();
        };
        let mut end = last.clone();
        end.push(0);
        let part = self.kept_tombstones.clip(&self.cut_from, Some(&end));
        self.cut_from = end;
        part
    }

    /// The range tombstones from where the last cut ended
    /// ([`cut_range_tombstones`](CompactionIterator::cut_range_tombstones)) to the end of
    /// the key space: the last output table's. All of them if there was no cut, which is
    /// what a merge that keeps no entry at all writes alone into a table (unless it is
    /// empty).
    pub fn rest_range_tombstones(&self) -> Tombstones {
        self.kept_tombstones.clip(&self.cut_from, None)
    }

    /// The stripe of a version at `seq`.
    fn stripe(&self, seq: SeqNo) -> usize {
        stripe(&self.snapshots, seq)
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
                let fragments = self.tombstones.fragments();
                while let Some(f) = fragments.get(self.fragment)
                    && f.end.as_ref().is_some_and(|end| &end[..] <= key.user_key)
                {
                    self.fragment += 1;
                }
            }
            let stripe = self.stripe(key.seq);
            // Versions come newest first, so an earlier version of this key in the same
            // stripe hides this one from every reader.
            if self.last_stripe == Some(stripe) {
                self.stats.shadowed += 1;
                self.input.next();
                continue;
            }
            // Before the filter: a version no one can read is not the user's to judge.
            // The older versions of its stripe are covered too, and go the same way.
            if self.range_deleted(key.user_key, key.seq, stripe) {
                self.stats.range_deleted += 1;
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
            if self.first_of_user_key {
                // The last key kept becomes the one before this; its buffer is reused.
                std::mem::swap(&mut self.kept_before, &mut self.kept_key);
                let kept = self.kept_key.get_or_insert_with(Vec::new);
                kept.clear();
                kept.extend_from_slice(self.input.key().user_key);
            }
            return;
        }
        // The end of the input: every key kept is before it.
        self.kept_before.clone_from(&self.kept_key);
    }

    /// Whether a range tombstone in the version's stripe covers `user_key @ seq`. Called
    /// with `fragment` moved to `user_key`.
    fn range_deleted(&self, user_key: &[u8], seq: SeqNo, stripe: usize) -> bool {
        let Some(f) = self.tombstones.fragments().get(self.fragment) else {
            return false;
        };
        if &f.start[..] > user_key {
            return false;
        }
        // The newest tombstone no newer than the stripe's top is the stripe's own, if
        // newer than the version, since only one per stripe is left (a version newer
        // than every snapshot is in the top stripe, which has no top).
        let top = self.snapshots.get(stripe).copied().unwrap_or(SeqNo::MAX);
        f.seqs.iter().find(|&&t| t <= top).is_some_and(|&t| t > seq)
    }
}

/// The stripe of a version at `seq` among the sorted `snapshots`: how many of them are
/// older than it.
fn stripe(snapshots: &[SeqNo], seq: SeqNo) -> usize {
    snapshots.partition_point(|&s| s < seq)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use ferris_core::iter::{MergingIterator, VecIter};
    use ferris_core::range_del::{Fragment, RangeTombstone};
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

    /// Whether a reader at `reader` finds `key @ seq` deleted by one of `list`, the
    /// tombstones as written: the model of [`Tombstones::covers`].
    fn covered(list: &[RangeTombstone], key: &[u8], seq: SeqNo, reader: SeqNo) -> bool {
        list.iter()
            .any(|t| t.contains(key) && seq < t.seq && t.seq <= reader)
    }

    /// What every reader must still find after the merge: for each user key and each
    /// reader (every snapshot, and the present), the newest version at or below its
    /// sequence number, as a value or "deleted" (a point tombstone, or a range tombstone
    /// the reader sees that `covers(key, seq, reader)` says is over it); keys none of
    /// whose readers find a value are absent.
    fn reads(
        entries: &[(InternalKey, Bytes)],
        covers: impl Fn(&[u8], SeqNo, SeqNo) -> bool,
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
            for (user_key, (seq, value)) in newest {
                if value.is_some() && !covers(&user_key, seq, reader) {
                    out.insert((user_key, reader), value);
                }
            }
        }
        out
    }

    /// What readers find of the input: its entries under its tombstones as written.
    fn reads_before(
        entries: &[(InternalKey, Bytes)],
        list: &[RangeTombstone],
        readers: &[SeqNo],
    ) -> BTreeMap<(Vec<u8>, SeqNo), Option<Bytes>> {
        reads(entries, |k, s, r| covered(list, k, s, r), readers)
    }

    /// What readers find of the output tables, each key in its own table, under that
    /// table's tombstones alone.
    fn reads_after(
        tables: &[Output],
        readers: &[SeqNo],
    ) -> BTreeMap<(Vec<u8>, SeqNo), Option<Bytes>> {
        let mut out = BTreeMap::new();
        for (points, tombstones) in tables {
            out.extend(reads(points, |k, s, r| tombstones.covers(k, s, r), readers));
        }
        out
    }

    /// The first snapshot at or above `seq` (`None` above them all): which stripe it is
    /// in, named differently from the iterator's count of older snapshots.
    fn first_reader(snapshots: &[SeqNo], seq: SeqNo) -> Option<SeqNo> {
        snapshots.iter().copied().filter(|&s| s >= seq).min()
    }

    /// The model of the rules, written differently from the iterator: group each key's
    /// versions by the first snapshot at or above them, keep the newest of each group
    /// unless a range tombstone of the same group is over it and newer, and drop that
    /// one too if it is a tombstone older than every snapshot in a bottommost merge.
    fn model(
        entries: &[(InternalKey, Bytes)],
        list: &[RangeTombstone],
        snapshots: &[SeqNo],
        bottommost: bool,
    ) -> Vec<(InternalKey, Bytes)> {
        let mut groups: BTreeMap<(Vec<u8>, Option<SeqNo>), (InternalKey, Bytes)> = BTreeMap::new();
        for (key, value) in entries {
            let covering = first_reader(snapshots, key.seq());
            let slot = groups
                .entry((key.user_key().to_vec(), covering))
                .or_insert((key.clone(), value.clone()));
            if key.seq() > slot.0.seq() {
                *slot = (key.clone(), value.clone());
            }
        }
        let oldest = snapshots.iter().copied().min();
        let mut kept: Vec<_> = groups
            .into_iter()
            .filter(|((user_key, group), (key, _))| {
                let range_deleted = list.iter().any(|t| {
                    t.contains(user_key)
                        && t.seq > key.seq()
                        && first_reader(snapshots, t.seq) == *group
                });
                let below_every_snapshot = oldest.is_none_or(|s| key.seq() <= s);
                let dead_tombstone =
                    bottommost && key.kind() == ValueKind::Delete && below_every_snapshot;
                !range_deleted && !dead_tombstone
            })
            .map(|(_, kept)| kept)
            .collect();
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        kept
    }

    /// The model of the tombstones kept over `key`: of those written over it, the newest
    /// of each group (as in [`model`]), but none older than every snapshot at the bottom;
    /// newest first.
    fn model_tombstones(
        list: &[RangeTombstone],
        key: &[u8],
        snapshots: &[SeqNo],
        bottommost: bool,
    ) -> Vec<SeqNo> {
        let mut newest: BTreeMap<Option<SeqNo>, SeqNo> = BTreeMap::new();
        for t in list.iter().filter(|t| t.contains(key)) {
            let slot = newest
                .entry(first_reader(snapshots, t.seq))
                .or_insert(t.seq);
            *slot = (*slot).max(t.seq);
        }
        let oldest = snapshots.iter().copied().min();
        let mut seqs: Vec<SeqNo> = newest
            .into_values()
            .filter(|&t| !(bottommost && oldest.is_none_or(|s| t <= s)))
            .collect();
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs
    }

    /// The sequence numbers of the fragment of `tombstones` over `key`, newest first.
    fn seqs_at(tombstones: &Tombstones, key: &[u8]) -> Vec<SeqNo> {
        let over =
            |f: &&Fragment| &f.start[..] <= key && f.end.as_ref().is_none_or(|e| key < &e[..]);
        (tombstones.fragments().iter().find(over))
            .map(|f| f.seqs.clone())
            .unwrap_or_default()
    }

    /// Keys to ask the tombstones about: every user key of [`entry`], the edges of the
    /// tombstones of [`tombstone_list`], and keys between them.
    fn probe_keys() -> Vec<Vec<u8>> {
        let mut keys = vec![Vec::new(), vec![b'k'], vec![b'l']];
        for k in 0..9 {
            keys.push(vec![b'k', k]);
            keys.push(vec![b'k', k, 0]);
        }
        keys
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

    /// An output table: its entries and its range tombstones.
    type Output = (Vec<(InternalKey, Bytes)>, Tombstones);

    /// Runs `merge` to its end as the engine does, cutting the output before the first
    /// entry of a key where `cut` (cycled, by entry) says so, and gives each table its
    /// tombstones. Returns the tables (one of tombstones alone when no entry is kept),
    /// whether each entry was the first of its key, and the stats.
    fn run_cut<I: InternalIterator>(
        mut merge: CompactionIterator<I>,
        cut: &[bool],
    ) -> (Vec<Output>, Vec<bool>, MergeStats) {
        let (mut tables, mut current, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
        while merge.valid() {
            let here = cut.get(firsts.len() % cut.len().max(1)) == Some(&true);
            if merge.first_of_user_key() && here && !current.is_empty() {
                let part = merge.cut_range_tombstones();
                tables.push((std::mem::take(&mut current), part));
            }
            current.push((merge.key().to_owned(), merge.value()));
            firsts.push(merge.first_of_user_key());
            merge.next();
        }
        merge.status().unwrap();
        let rest = merge.rest_range_tombstones();
        if !current.is_empty() || !rest.is_empty() {
            tables.push((current, rest));
        }
        (tables, firsts, merge.stats())
    }

    /// Runs `merge` to its end into one output: its entries, whether each was the first
    /// of its key, and the stats.
    fn run<I: InternalIterator>(
        merge: CompactionIterator<I>,
    ) -> (Vec<(InternalKey, Bytes)>, Vec<bool>, MergeStats) {
        let (tables, firsts, stats) = run_cut(merge, &[]);
        let kept = tables.into_iter().flat_map(|(points, _)| points).collect();
        (kept, firsts, stats)
    }

    /// The smallest and largest user keys a table claims: its entries' and its
    /// tombstones' ([`Tombstones::largest_key`]).
    fn claimed(table: &Output) -> (Vec<u8>, Vec<u8>) {
        let (points, tombstones) = table;
        let keys = points.iter().map(|(k, _)| k.user_key().to_vec());
        let keys = keys
            .chain(tombstones.smallest_key().map(|k| k.to_vec()))
            .chain(tombstones.largest_key().map(|k| k.to_vec()));
        let (lo, hi) = (keys.clone().min(), keys.max());
        (lo.unwrap_or_default(), hi.unwrap_or_default())
    }

    /// A history: distinct (key, seq) pairs over a few keys, puts and tombstones.
    fn history() -> impl Strategy<Value = Vec<(InternalKey, Bytes)>> {
        proptest::collection::btree_map((0u8..6, 1u64..60), any::<bool>(), 0..80).prop_map(|map| {
            map.into_iter()
                .map(|((k, seq), put)| entry(k, seq, put))
                .collect()
        })
    }

    /// Range tombstones over the keys of [`history`] and around them: starts from
    /// `k0` to `k6`, ends from `k0` to `k7` (a successor `k7\0` sometimes) or none.
    fn tombstone_list() -> impl Strategy<Value = Vec<RangeTombstone>> {
        let one = (0u8..7, 0u8..9, any::<bool>(), 1u64..60).prop_map(|(a, b, succ, seq)| {
            let mut end = vec![b'k', b];
            if succ {
                end.push(0);
            }
            let end = (b < 8).then(|| Bytes::from(end));
            RangeTombstone::new(vec![b'k', a], end, seq)
        });
        proptest::collection::vec(one, 0..5)
    }

    proptest! {
        /// For random histories, range tombstones, snapshot sets, input splits and output
        /// cuts, the iterator keeps the entries and tombstones the model keeps, marks the
        /// first kept entry of each key, accounts for every entry it read, gives every
        /// kept tombstone to exactly one table, with no two tables' key ranges
        /// overlapping, and every reader finds in the tables what it found in the input.
        #[test]
        fn the_merge_keeps_what_the_model_keeps(
            entries in history(),
            list in tombstone_list(),
            snapshots in proptest::collection::vec(0u64..64, 0..5),
            bottommost in any::<bool>(),
            n_inputs in 1usize..5,
            cut in proptest::collection::vec(any::<bool>(), 1..8),
        ) {
            let input = Tombstones::new(list.clone());
            let rules = MergeRules {
                snapshots: snapshots.clone(),
                bottommost,
                filter: None,
                range_tombstones: Arc::new(input.clone()),
            };
            let merge = CompactionIterator::new(inputs(&entries, n_inputs), rules);
            let all = merge.range_tombstones().clone();
            let (tables, firsts, stats) = run_cut(merge, &cut);
            let kept: Vec<_> = tables.iter().flat_map(|(p, _)| p.iter().cloned()).collect();
            prop_assert_eq!(&kept, &model(&entries, &list, &snapshots, bottommost));
            for (i, first) in firsts.iter().enumerate() {
                let new_key = i == 0 || kept[i - 1].0.user_key() != kept[i].0.user_key();
                prop_assert_eq!(*first, new_key, "entry {}", i);
            }
            prop_assert_eq!(stats.read, entries.len() as u64);
            prop_assert_eq!(stats.kept, kept.len() as u64);
            prop_assert_eq!(
                stats.read,
                stats.kept + stats.shadowed + stats.tombstones_dropped + stats.range_deleted
            );
            // The tombstones kept, and how many went.
            for key in probe_keys() {
                prop_assert_eq!(
                    seqs_at(&all, &key),
                    model_tombstones(&list, &key, &snapshots, bottommost),
                    "tombstones over {:?}", key
                );
            }
            let dropped: usize = input.fragments().iter()
                .map(|f| f.seqs.len() - model_tombstones(&list, &f.start, &snapshots, bottommost).len())
                .sum();
            prop_assert_eq!(stats.range_tombstones_dropped, dropped as u64);
            // Nothing lost, nothing claimed twice.
            let parts: Vec<&Tombstones> = tables.iter().map(|(_, t)| t).collect();
            prop_assert_eq!(Tombstones::union(parts), Tombstones::new(all.iter()));
            for pair in tables.windows(2) {
                let (before, after) = (claimed(&pair[0]), claimed(&pair[1]));
                prop_assert!(before.1 < after.0, "{:?} overlaps {:?}", before, after);
            }
            let mut readers = snapshots.clone();
            readers.push(u64::MAX >> 8);
            prop_assert_eq!(reads_after(&tables, &readers), reads_before(&entries, &list, &readers));
            if !bottommost {
                prop_assert_eq!(stats.tombstones_dropped, 0);
            }
        }

        /// A filter changes what the present reads of the keys whose newest version no
        /// snapshot reads and no range tombstone deletes, exactly as it decided, and
        /// nothing any snapshot reads.
        #[test]
        fn a_filter_changes_only_what_no_snapshot_reads(
            entries in history(),
            list in tombstone_list(),
            snapshots in proptest::collection::vec(0u64..64, 0..4),
            bottommost in any::<bool>(),
        ) {
            let filter: Arc<dyn CompactionFilter> = Arc::new(ByKey);
            let rules = MergeRules {
                snapshots: snapshots.clone(),
                bottommost,
                filter: Some((filter, 3)),
                range_tombstones: Arc::new(Tombstones::new(list.clone())),
            };
            let (tables, _, stats) = run_cut(CompactionIterator::new(inputs(&entries, 2), rules), &[]);
            prop_assert_eq!(stats.read, entries.len() as u64);
            prop_assert_eq!(
                stats.read,
                stats.kept + stats.shadowed + stats.tombstones_dropped + stats.range_deleted
            );
            let before = reads_before(&entries, &list, &snapshots);
            let after = reads_after(&tables, &snapshots);
            prop_assert_eq!(&after, &before, "every snapshot reads what it read");
            // The present: the newest version of each key, filtered if it is newer than
            // every snapshot and no tombstone deletes it.
            let newest_snapshot = snapshots.iter().copied().max().unwrap_or(0);
            let mut want = reads_before(&entries, &list, &[SeqNo::MAX]);
            for (key, value) in entries.iter().rev() {
                let newest = entries.iter().filter(|(k, _)| k.user_key() == key.user_key()).map(|(k, _)| k.seq()).max();
                if Some(key.seq()) != newest
                    || key.kind() != ValueKind::Put
                    || key.seq() <= newest_snapshot
                    || covered(&list, key.user_key(), key.seq(), SeqNo::MAX)
                {
                    continue;
                }
                let slot = (key.user_key().to_vec(), SeqNo::MAX);
                match ByKey.filter(3, key.user_key(), value) {
                    Decision::Keep => {}
                    Decision::Remove => { want.remove(&slot); }
                    Decision::ChangeValue(v) => { want.insert(slot, Some(v)); }
                }
            }
            prop_assert_eq!(reads_after(&tables, &[SeqNo::MAX]), want);
        }

        /// With no snapshot, a bottommost merge leaves at most one version of each key, and
        /// never a tombstone, point or range: the state a full compaction promises.
        #[test]
        fn a_bottommost_merge_without_snapshots_keeps_one_live_value_per_key(
            entries in history(),
            list in tombstone_list(),
        ) {
            let rules = MergeRules {
                bottommost: true,
                range_tombstones: Arc::new(Tombstones::new(list.clone())),
                ..MergeRules::default()
            };
            let merge = CompactionIterator::new(inputs(&entries, 2), rules);
            prop_assert!(merge.range_tombstones().is_empty());
            let (kept, firsts, _) = run(merge);
            prop_assert!(firsts.iter().all(|&f| f), "one entry per key");
            prop_assert!(kept.iter().all(|(k, _)| k.kind() == ValueKind::Put));
            prop_assert!(kept.iter().all(|(k, _)| !covered(&list, k.user_key(), k.seq(), SeqNo::MAX)));
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
            ..MergeRules::default()
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
            ..MergeRules::default()
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
            ..MergeRules::default()
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
            ..MergeRules::default()
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
            ..MergeRules::default()
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
            ..MergeRules::default()
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

    /// A tombstone over `[k<a>, k<b>)`, or from `k<a>` on with no `b`.
    fn over(a: u8, b: Option<u8>, seq: SeqNo) -> RangeTombstone {
        RangeTombstone::new(vec![b'k', a], b.map(|b| Bytes::from(vec![b'k', b])), seq)
    }

    fn with_tombstones(
        snapshots: Vec<SeqNo>,
        bottommost: bool,
        list: Vec<RangeTombstone>,
    ) -> MergeRules {
        MergeRules {
            snapshots,
            bottommost,
            filter: None,
            range_tombstones: Arc::new(Tombstones::new(list)),
        }
    }

    #[test]
    fn only_the_newest_range_tombstone_of_each_stripe_is_kept() {
        // Snapshot 5 splits the stripes: {3} below it, {7, 9} above.
        let list = vec![
            over(1, Some(4), 3),
            over(1, Some(4), 7),
            over(1, Some(4), 9),
        ];
        let merge = CompactionIterator::new(
            VecIter::new(Vec::new()),
            with_tombstones(vec![5], false, list.clone()),
        );
        assert_eq!(seqs_at(merge.range_tombstones(), &[b'k', 2]), [9, 3]);
        assert_eq!(merge.stats().range_tombstones_dropped, 1);
        // At the bottom the snapshot at 5 sees 3, but nothing is older than it: it goes.
        let merge = CompactionIterator::new(
            VecIter::new(Vec::new()),
            with_tombstones(vec![5], true, list.clone()),
        );
        assert_eq!(seqs_at(merge.range_tombstones(), &[b'k', 2]), [9]);
        assert_eq!(merge.stats().range_tombstones_dropped, 2);
        // With no snapshot every tombstone is in stripe 0.
        let merge = CompactionIterator::new(
            VecIter::new(Vec::new()),
            with_tombstones(vec![], true, list),
        );
        assert!(merge.range_tombstones().is_empty());
        assert!(merge.rest_range_tombstones().is_empty());
        assert_eq!(merge.stats().range_tombstones_dropped, 3);
    }

    #[test]
    fn a_range_tombstone_drops_only_the_versions_of_its_own_stripe() {
        // k1@4 is below the snapshot at 5, which reads it: it stays. k1@6 and the point
        // tombstone k2@7 are in the tombstone's stripe: no one reads them. k3@12 is newer.
        let entries = vec![
            entry(1, 6, true),
            entry(1, 4, true),
            entry(2, 7, false),
            entry(3, 12, true),
        ];
        let rules = with_tombstones(vec![5], false, vec![over(0, None, 10)]);
        let (kept, firsts, stats) = run(CompactionIterator::new(
            VecIter::new(entries.clone()),
            rules,
        ));
        assert_eq!(kept, vec![entries[1].clone(), entries[3].clone()]);
        assert_eq!(firsts, [true, true], "k1@4 is the first of its key kept");
        assert_eq!((stats.range_deleted, stats.shadowed), (2, 0));
    }

    #[test]
    fn a_range_deleted_version_is_not_shown_to_the_filter() {
        let entries = vec![entry(3, 9, true), entry(4, 5, true)];
        let filter: Arc<dyn CompactionFilter> = Arc::new(ByKey);
        let rules = MergeRules {
            filter: Some((filter, 3)),
            ..with_tombstones(vec![], false, vec![over(3, Some(4), 10)])
        };
        let (kept, _, stats) = run(CompactionIterator::new(VecIter::new(entries), rules));
        // k3 would be removed by the filter, but the range tombstone got there first.
        assert_eq!(kept.len(), 1);
        assert_eq!((stats.filter_removed, stats.filter_changed), (0, 1));
        assert_eq!(stats.range_deleted, 1);
    }

    #[test]
    fn cuts_hand_each_table_the_tombstones_up_to_its_last_key_and_one_byte_more() {
        // Entries k1, k3, k5 newer than the tombstone [k0, ∞) @ 2; cuts before k3 and k5.
        let entries = vec![entry(1, 5, true), entry(3, 5, true), entry(5, 5, true)];
        let rules = with_tombstones(vec![], false, vec![over(0, None, 2)]);
        let (tables, _, _) = run_cut(
            CompactionIterator::new(VecIter::new(entries), rules),
            &[true],
        );
        let ends: Vec<_> = tables
            .iter()
            .map(|(_, t)| {
                let f = &t.fragments()[0];
                (f.start.to_vec(), f.end.as_ref().map(|e| e.to_vec()))
            })
            .collect();
        assert_eq!(
            ends,
            [
                (vec![b'k', 0], Some(vec![b'k', 1, 0])),
                (vec![b'k', 1, 0], Some(vec![b'k', 3, 0])),
                (vec![b'k', 3, 0], None),
            ]
        );
        // The first table claims up to k1 exactly, the second from just after it.
        assert_eq!(claimed(&tables[0]), (vec![b'k', 0], vec![b'k', 1]));
        assert_eq!(claimed(&tables[1]), (vec![b'k', 1, 0], vec![b'k', 3]));
    }

    #[test]
    fn a_merge_that_keeps_no_entry_leaves_its_tombstones_to_one_table() {
        // Every entry is covered; the tombstone stays above the bottom.
        let entries = vec![entry(1, 5, true), entry(2, 4, false)];
        let rules = with_tombstones(vec![], false, vec![over(0, Some(3), 8)]);
        let mut merge = CompactionIterator::new(VecIter::new(entries), rules);
        assert!(!merge.valid());
        assert!(
            merge.cut_range_tombstones().is_empty(),
            "nothing kept, nothing cut"
        );
        let rest = merge.rest_range_tombstones();
        assert_eq!(rest, Tombstones::new([over(0, Some(3), 8)]));
        assert_eq!(merge.stats().range_deleted, 2);
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
