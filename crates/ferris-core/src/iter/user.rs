//! What a reader sees of a merge: at its snapshot, the newest version of each key, with
//! deleted keys hidden, within bounds, from either end.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::iter::{InternalIterator, first_of, last_of};
use crate::key::{InternalKeyRef, SeqNo, ValueKind};
use crate::range_del::Tombstones;

/// How many unwanted entries of one user key in a row a scan steps over before it seeks
/// past the rest (RocksDB's `max_sequential_skip_in_iterations` is 8 too).
const MAX_SEQUENTIAL_SKIPS: usize = 8;

/// Makes a fresh iterator over every version the reader may need: the merge of a
/// database's sources. [`UserIter`] makes one per end it walks from.
pub type MakeIter = Box<dyn Fn() -> Box<dyn InternalIterator> + Send + Sync>;

/// The user keys and values of a run of versions, at a snapshot, within user-key bounds:
/// for each user key the newest version with a sequence number at most the snapshot,
/// and nothing for a key whose newest such version is a tombstone. Double-ended: `.rev()`
/// walks backwards, and `next` and `next_back` can be mixed; they stop when they meet.
///
/// Going forwards, a key's versions arrive newest first, so the first visible one
/// decides and the rest are stepped over; after eight unwanted versions of one key in a
/// row (a hot key, overwritten thousands of times) the iterator seeks past the rest, as
/// RocksDB does. Going backwards, versions arrive oldest first, so the iterator reads
/// them all and keeps the newest visible one; past eight, it seeks forward to that one
/// directly, then back before the key.
///
/// ```
/// use std::ops::Bound;
/// use bytes::Bytes;
/// use ferris_core::iter::{InternalIterator, UserIter, VecIter};
/// use ferris_core::{InternalKey, ValueKind};
///
/// let version = |k: &str, seq, kind, v: &str| {
///     (InternalKey::new(k.as_bytes().to_vec(), seq, kind), Bytes::from(v.to_string()))
/// };
/// let versions = VecIter::new(vec![
///     version("apple", 1, ValueKind::Put, "red"),
///     version("apple", 3, ValueKind::Put, "green"),
///     version("fig", 2, ValueKind::Put, "purple"),
///     version("fig", 4, ValueKind::Delete, ""),
/// ]);
/// let make = move || Box::new(versions.clone()) as Box<dyn InternalIterator>;
/// let at = |snapshot| {
///     UserIter::new(Box::new(make.clone()), snapshot, Bound::Unbounded, Bound::Unbounded)
///         .map(|kv| kv.map(|(k, v)| format!("{}={}", k.escape_ascii(), v.escape_ascii())))
///         .collect::<Result<Vec<_>, _>>()
/// };
/// assert_eq!(at(2)?, ["apple=red", "fig=purple"]);
/// assert_eq!(at(4)?, ["apple=green"]); // fig was deleted at 4
/// # Ok::<(), ferris_core::Error>(())
/// ```
pub struct UserIter {
    make: MakeIter,
    snapshot: SeqNo,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    /// One iterator per end, so neither ever turns around.
    front: Option<Box<dyn InternalIterator>>,
    back: Option<Box<dyn InternalIterator>>,
    /// The last user key each end decided (yielded or found deleted). Buffers that are
    /// reused, so that deciding a key costs a copy into them and no allocation.
    front_last: Option<Vec<u8>>,
    back_last: Option<Vec<u8>>,
    /// Range tombstones over the scan, from every source it merges; `None` when there are
    /// none, so a scan without them checks nothing per key.
    tombstones: Option<Arc<Tombstones>>,
    done: bool,
}

impl std::fmt::Debug for UserIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserIter")
            .field("snapshot", &self.snapshot)
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .finish_non_exhaustive()
    }
}

/// Copies `key` into `slot`'s buffer, reusing it, and returns the copy.
fn remember<'a>(slot: &'a mut Option<Vec<u8>>, key: &[u8]) -> &'a [u8] {
    let buf = slot.get_or_insert_with(Vec::new);
    buf.clear();
    buf.extend_from_slice(key);
    buf
}

/// The owned user-key bounds of a range of keys, as [`UserIter::new`] takes them.
pub fn owned_bounds<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(
    range: &R,
) -> (Bound<Bytes>, Bound<Bytes>) {
    let own = |b: Bound<&K>| b.map(|k| Bytes::copy_from_slice(k.as_ref()));
    (own(range.start_bound()), own(range.end_bound()))
}

/// The user-key bounds of every key starting with `prefix`: from the prefix itself to
/// the smallest key greater than every key that starts with it (none when the prefix is
/// empty or all `0xff`).
pub fn prefix_bounds(prefix: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let mut end = prefix.to_vec();
    let hi = loop {
        match end.pop() {
            Some(0xff) => continue,
            Some(last) => {
                end.push(last + 1);
                break Bound::Excluded(Bytes::from(end));
            }
            None => break Bound::Unbounded,
        }
    };
    (Bound::Included(Bytes::copy_from_slice(prefix)), hi)
}

/// Whether `key` lies before the lower bound `lo`.
pub fn below_lo(lo: &Bound<Bytes>, key: &[u8]) -> bool {
    match lo {
        Bound::Included(b) => key < &b[..],
        Bound::Excluded(b) => key <= &b[..],
        Bound::Unbounded => false,
    }
}

/// Whether `key` lies after the upper bound `hi`.
pub fn above_hi(hi: &Bound<Bytes>, key: &[u8]) -> bool {
    match hi {
        Bound::Included(b) => key > &b[..],
        Bound::Excluded(b) => key >= &b[..],
        Bound::Unbounded => false,
    }
}

impl UserIter {
    /// What a reader at `snapshot` sees between `lo` and `hi` (user keys) of the versions
    /// `make` iterates.
    pub fn new(make: MakeIter, snapshot: SeqNo, lo: Bound<Bytes>, hi: Bound<Bytes>) -> UserIter {
        let empty = match (&lo, &hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        };
        UserIter {
            make,
            snapshot,
            lo,
            hi,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            tombstones: None,
            done: empty,
        }
    }

    /// Hides every version `tombstones` covers at the iterator's snapshot
    /// ([`crate::range_del`]): they must be every range tombstone of every source `make`
    /// merges, or at least every one over the iterator's bounds.
    pub fn with_range_tombstones(mut self, tombstones: Arc<Tombstones>) -> UserIter {
        self.tombstones = (!tombstones.is_empty()).then_some(tombstones);
        self
    }

    /// Whether a range tombstone in `tombstones` hides the version `key @ seq` from a reader
    /// at `snapshot`.
    fn covered(
        tombstones: &Option<Arc<Tombstones>>,
        key: &[u8],
        seq: SeqNo,
        snapshot: SeqNo,
    ) -> bool {
        tombstones
            .as_ref()
            .is_some_and(|t| t.covers(key, seq, snapshot))
    }

    /// The iterator ran out: with the error that ended it, if one did.
    fn end(&mut self, status: Result<()>) -> Option<Result<(Bytes, Bytes)>> {
        self.done = true;
        status.err().map(Err)
    }

    fn next_front(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.front.is_none() {
            let mut it = (self.make)();
            match &self.lo {
                Bound::Included(k) => it.seek(first_of(k)),
                Bound::Excluded(k) => it.seek(last_of(k)),
                Bound::Unbounded => it.seek_to_first(),
            }
            self.front = Some(it);
        }
        let mut skipped = 0;
        loop {
            let it = self.front.as_mut().expect("started");
            if !it.valid() {
                let status = it.status();
                return self.end(status);
            }
            let key = it.key();
            let newer = key.seq > self.snapshot;
            let passed = self.front_last.as_deref() == Some(key.user_key);
            if newer || passed || below_lo(&self.lo, key.user_key) {
                skipped += 1;
                if skipped > MAX_SEQUENTIAL_SKIPS && (newer || passed) {
                    // A run of versions of one key that this scan does not want: seek past
                    // them in O(log n) instead of stepping over each.
                    let user = key.user_key.to_vec();
                    let target = if passed {
                        last_of(&user)
                    } else {
                        InternalKeyRef {
                            user_key: &user,
                            seq: self.snapshot,
                            kind: ValueKind::MAX,
                        }
                    };
                    it.seek(target);
                    skipped = 0;
                } else {
                    it.next();
                }
                continue;
            }
            skipped = 0;
            let crossed = self.back_last.as_deref().is_some_and(|b| key.user_key >= b);
            if crossed || above_hi(&self.hi, key.user_key) {
                self.done = true;
                return None;
            }
            let live = key.kind == ValueKind::Put
                && !Self::covered(&self.tombstones, key.user_key, key.seq, self.snapshot);
            let last = remember(&mut self.front_last, key.user_key);
            let value = live.then(|| it.value());
            it.next();
            if let Some(value) = value {
                return Some(Ok((Bytes::copy_from_slice(last), value)));
            }
        }
    }

    fn next_back(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.back.is_none() {
            let mut it = (self.make)();
            match &self.hi {
                Bound::Included(k) => it.seek_for_prev(last_of(k)),
                Bound::Excluded(k) => it.seek_for_prev(first_of(k)),
                Bound::Unbounded => it.seek_to_last(),
            }
            self.back = Some(it);
        }
        loop {
            let it = self.back.as_mut().expect("started");
            if !it.valid() {
                let status = it.status();
                return self.end(status);
            }
            let key = it.key();
            if above_hi(&self.hi, key.user_key) {
                it.prev();
                continue;
            }
            let crossed = self
                .front_last
                .as_deref()
                .is_some_and(|f| key.user_key <= f);
            if crossed || below_lo(&self.lo, key.user_key) {
                self.done = true;
                return None;
            }
            // Going backwards, a key's versions come oldest first: the last one visible
            // at the snapshot is the newest, and decides.
            let user = remember(&mut self.back_last, key.user_key);
            let mut newest: Option<(ValueKind, SeqNo, Bytes)> = None;
            let mut steps = 0;
            while it.valid() && it.key().user_key == user {
                steps += 1;
                if steps > MAX_SEQUENTIAL_SKIPS {
                    // Many versions of one key (a hot key): seek forward to the visible
                    // one directly, then back before all of them.
                    it.seek(InternalKeyRef {
                        user_key: user,
                        seq: self.snapshot,
                        kind: ValueKind::MAX,
                    });
                    newest = None;
                    if it.valid() && it.key().user_key == user {
                        newest = Some((it.key().kind, it.key().seq, it.value()));
                    }
                    it.seek_for_prev(first_of(user));
                    break;
                }
                let key = it.key();
                if key.seq <= self.snapshot {
                    newest = Some((key.kind, key.seq, it.value()));
                }
                it.prev();
            }
            if let Err(e) = it.status() {
                self.done = true;
                return Some(Err(e));
            }
            if let Some((ValueKind::Put, seq, value)) = newest
                && !Self::covered(&self.tombstones, user, seq, self.snapshot)
            {
                return Some(Ok((Bytes::copy_from_slice(user), value)));
            }
        }
    }
}

impl Iterator for UserIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_front()
    }
}

impl DoubleEndedIterator for UserIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        UserIter::next_back(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::iter::VecIter;
    use crate::iter::tests::entries;
    use crate::key::InternalKey;
    use crate::range_del::RangeTombstone;

    /// What a reader at `snapshot` sees, from a plain map of versions and a list of range
    /// tombstones.
    fn model(
        all: &[(InternalKey, Bytes)],
        tombstones: &[RangeTombstone],
        snapshot: SeqNo,
    ) -> Vec<(Bytes, Bytes)> {
        let mut newest: BTreeMap<Vec<u8>, (SeqNo, ValueKind, Bytes)> = BTreeMap::new();
        for (k, v) in all {
            if k.seq() <= snapshot
                && newest
                    .get(k.user_key())
                    .is_none_or(|(s, _, _)| *s < k.seq())
            {
                newest.insert(k.user_key().to_vec(), (k.seq(), k.kind(), v.clone()));
            }
        }
        let deleted = |k: &[u8], seq: SeqNo| {
            (tombstones.iter()).any(|t| t.contains(k) && t.seq <= snapshot && t.seq > seq)
        };
        newest
            .into_iter()
            .filter(|(k, (seq, kind, _))| *kind == ValueKind::Put && !deleted(k, *seq))
            .map(|(k, (_, _, v))| (Bytes::from(k), v))
            .collect()
    }

    fn bound(b: (u8, u8)) -> Bound<Bytes> {
        let key = Bytes::from(vec![b'k', b.1 % 14]);
        match b.0 % 3 {
            0 => Bound::Unbounded,
            1 => Bound::Included(key),
            _ => Bound::Excluded(key),
        }
    }

    #[test]
    fn prefix_bounds_end_at_the_prefixs_successor() {
        let hi = |p: &[u8]| prefix_bounds(p).1;
        assert_eq!(hi(b"ab"), Bound::Excluded(Bytes::from_static(b"ac")));
        assert_eq!(hi(b"a\xff\xff"), Bound::Excluded(Bytes::from_static(b"b")));
        assert_eq!(hi(b"\xff"), Bound::Unbounded);
        assert_eq!(hi(b""), Bound::Unbounded);
        assert_eq!(
            prefix_bounds(b"ab").0,
            Bound::Included(Bytes::from_static(b"ab"))
        );
    }

    proptest! {
        /// Forwards, backwards and both ends mixed, a scan yields exactly the newest
        /// visible version of each key in bounds, many versions per key included.
        #[test]
        fn a_scan_sees_the_newest_visible_version_of_each_key(
            mut all in entries(80),
            hot in 0u64..30,
            snapshot in 0u64..45,
            lo in (any::<u8>(), any::<u8>()),
            hi in (any::<u8>(), any::<u8>()),
            ends in proptest::collection::vec(any::<bool>(), 0..40),
            ranges in proptest::collection::vec((0u8..14, 0u8..15, 0u64..130), 0..3),
        ) {
            let tombstones: Vec<RangeTombstone> = ranges
                .into_iter()
                .map(|(a, b, seq)| {
                    let end = (b < 14).then(|| Bytes::from(vec![b'k', b]));
                    RangeTombstone::new(vec![b'k', a], end, seq)
                })
                .collect();
            // A hot key with many versions, past the sequential-skip limit both ways.
            for seq in 0..hot {
                let kind = if seq % 5 == 4 { ValueKind::Delete } else { ValueKind::Put };
                all.push((InternalKey::new(vec![b'k', 5], 100 + seq, kind), Bytes::from(seq.to_string())));
            }
            let snapshot = if snapshot >= 40 { 100 + hot / 2 } else { snapshot };
            let (lo, hi) = (bound(lo), bound(hi));
            let want: Vec<_> = model(&all, &tombstones, snapshot)
                .into_iter()
                .filter(|(k, _)| !below_lo(&lo, k) && !above_hi(&hi, k))
                .collect();
            let versions = VecIter::new(all);
            let make: MakeIter = Box::new(move || Box::new(versions.clone()));
            let mut it = UserIter::new(make, snapshot, lo, hi)
                .with_range_tombstones(Arc::new(Tombstones::new(tombstones)));
            let (mut front, mut back) = (Vec::new(), Vec::new());
            let mut ends = ends.into_iter();
            loop {
                let forwards = ends.next().unwrap_or(true);
                let item = if forwards { it.next() } else { it.next_back() };
                let Some(kv) = item else { break };
                if forwards { front.push(kv.unwrap()) } else { back.push(kv.unwrap()) }
            }
            // The two ends meet and never pass each other: forwards then the backward
            // items reversed is the whole scan, in order.
            front.extend(back.into_iter().rev());
            prop_assert_eq!(front, want);
        }
    }
}
