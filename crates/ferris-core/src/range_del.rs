//! Range tombstones: deleting every key in a range with one entry.
//!
//! A point tombstone deletes one key. Deleting a million keys that way writes a million
//! tombstones, each as large as its key, and every reader steps over all of them until
//! compaction reaches the bottom level. A **range tombstone** says "every version of every
//! key in `[start, end)` older than sequence number `seq` is gone" in one entry, whatever
//! the range holds. It is written through the WAL like any other batch entry, kept beside
//! the memtable's skip list, and written into a block of its own in each table whose keys
//! it may cover; readers consult it, and compaction drops what it covers.
//!
//! # Coverage
//!
//! A tombstone `[start, end) @ t` covers a version `key @ s` when `start <= key < end` and
//! `s < t`. A reader at snapshot `r` sees the tombstone only if `t <= r`, exactly as it sees
//! any other entry. So a version is hidden from a reader when some tombstone the reader sees
//! is newer than the version and its range holds the key: a put written *after* the
//! tombstone (a higher sequence number) is visible again, and a snapshot taken before the
//! tombstone still sees everything it covers.
//!
//! # Fragments
//!
//! Tombstones may overlap: `[a, m) @ 5` and `[f, z) @ 9`. Asking "which tombstones cover
//! `k`?" of a list of overlapping ranges needs a scan. [`Tombstones`] instead cuts them at
//! every start and end into **fragments** that do not overlap, each with the sequence
//! numbers of every tombstone over it, newest first (RocksDB's `FragmentedRangeTombstoneList`
//! does the same):
//!
//! ```text
//! tombstones:  [a ───────── m) @5
//!                   [f ──────────────── z) @9
//! fragments:   [a ── f) {5}  [f ── m) {9, 5}  [m ── z) {9}
//! ```
//!
//! A lookup is then one binary search for the fragment holding the key, and a walk down its
//! short list of sequence numbers to the first one the reader may see
//! ([`Tombstones::covering`]). Fragments are also what table files store: sorted, disjoint,
//! so a file's tombstones can be cut at any key ([`Tombstones::clip`]) and a compaction
//! can give each output table exactly the part of the ranges between its neighbours.
//!
//! ```
//! use ferris_core::range_del::{RangeTombstone, Tombstones};
//!
//! let tombstones = Tombstones::new([
//!     RangeTombstone::new("a", Some("m".into()), 5),
//!     RangeTombstone::new("f", Some("z".into()), 9),
//! ]);
//! assert_eq!(tombstones.fragments().len(), 3);
//! // "g" is under both; a reader at 9 or later sees the newer one.
//! assert_eq!(tombstones.covering(b"g", 100), Some(9));
//! // A reader at snapshot 7 does not see the tombstone written at 9.
//! assert_eq!(tombstones.covering(b"g", 7), Some(5));
//! assert_eq!(tombstones.covering(b"z", 100), None, "ends are exclusive");
//! // A version is covered when the tombstone is newer than it.
//! assert!(tombstones.covers(b"g", 8, 100));
//! assert!(!tombstones.covers(b"g", 10, 100), "written after the delete");
//! ```
//!
//! # Bounds
//!
//! A range's end is exclusive, or absent: [`RangeTombstone::end`] `None` reaches past every
//! key (`delete_range("k"..)`, or a prefix of `0xff` bytes). A table's key range must hold
//! what its tombstones cover, and metadata ranges are inclusive user keys, so
//! [`Tombstones::largest_key`] turns an exclusive end into the greatest key it covers where
//! that is a key: below `x\0` the greatest key is `x` exactly (nothing sorts between them),
//! which is how compaction cuts tombstones between two output tables without the tables'
//! ranges overlapping. Any other end `e` is claimed whole (`e` itself, one key too many,
//! which only makes the table's range a little wider than needed), and an absent end claims
//! the greatest key there can be, [`MAX_KEY_LEN`] bytes of `0xff`.
//!
//! # Encoding
//!
//! [`Tombstones::encode`] is the payload of a table's range-tombstone block (each table
//! format frames and checksums it; `docs/format/table.md` has the byte layout):
//!
//! ```text
//! varint32 fragment count
//! per fragment: varint start_len | start | varint end_len | end (empty: no end)
//!               | varint32 seq_count | varint64 seq (newest first) × seq_count
//! ```
//!
//! [`Tombstones::decode`] checks every length and that the fragments are sorted, disjoint
//! and non-empty with strictly descending sequence numbers, so damaged bytes are an error,
//! never a panic or a wrong answer.

use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;

use crate::coding::{Decoder, put_varint32, put_varint64};
use crate::key::{MAX_SEQNO, SeqNo};
use crate::{DecodeError, Lookup, MAX_KEY_LEN};

/// One range deletion: every version of every key in `[start, end)` older than `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    /// The first key covered.
    pub start: Bytes,
    /// The first key past the range, or `None` for no end.
    pub end: Option<Bytes>,
    /// The sequence number the deletion was written at.
    pub seq: SeqNo,
}

impl RangeTombstone {
    /// A tombstone over `[start, end)` at `seq`.
    pub fn new(start: impl Into<Bytes>, end: Option<Bytes>, seq: SeqNo) -> RangeTombstone {
        RangeTombstone {
            start: start.into(),
            end,
            seq,
        }
    }

    /// Whether the range holds `key`.
    pub fn contains(&self, key: &[u8]) -> bool {
        &self.start[..] <= key && self.end.as_ref().is_none_or(|e| key < &e[..])
    }
}

/// The start and exclusive end (`None`: no end) of the keys in `range`, or `None` when the
/// range holds no key at all (reversed, or empty like `"b".."b"`).
///
/// An inclusive end `b` becomes the exclusive end `b\0`, the next key after `b`; an
/// excluded start `a` becomes `a\0` the same way; no start is the empty key, which sorts
/// before every key.
pub fn key_range<K: AsRef<[u8]>>(range: &impl RangeBounds<K>) -> Option<(Bytes, Option<Bytes>)> {
    let successor = |k: &K| {
        let mut next = k.as_ref().to_vec();
        next.push(0);
        Bytes::from(next)
    };
    let start = match range.start_bound() {
        Bound::Included(k) => Bytes::copy_from_slice(k.as_ref()),
        Bound::Excluded(k) => successor(k),
        Bound::Unbounded => Bytes::new(),
    };
    let end = match range.end_bound() {
        Bound::Included(k) => Some(successor(k)),
        Bound::Excluded(k) => Some(Bytes::copy_from_slice(k.as_ref())),
        Bound::Unbounded => None,
    };
    match &end {
        Some(end) if start >= *end => None,
        _ => Some((start, end)),
    }
}

/// The start and exclusive end of every key beginning with `prefix`: the prefix, and the
/// smallest key greater than all of them (none when the prefix is empty or all `0xff`).
pub fn prefix_range(prefix: &[u8]) -> (Bytes, Option<Bytes>) {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xff {
            end.push(last + 1);
            return (Bytes::copy_from_slice(prefix), Some(Bytes::from(end)));
        }
    }
    (Bytes::copy_from_slice(prefix), None)
}

/// A part of the key space under one or more tombstones, cut so that no two fragments of a
/// [`Tombstones`] overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The first key of the fragment.
    pub start: Bytes,
    /// The first key past it, or `None` for no end.
    pub end: Option<Bytes>,
    /// The sequence numbers of the tombstones over it, newest first, never empty.
    pub seqs: Vec<SeqNo>,
}

impl Fragment {
    fn contains(&self, key: &[u8]) -> bool {
        &self.start[..] <= key && self.end.as_ref().is_none_or(|e| key < &e[..])
    }
}

/// Compares two exclusive ends, `None` (no end) last.
fn cmp_end(a: Option<&Bytes>, b: Option<&Bytes>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A set of range tombstones, fragmented; see the [module docs](self). Immutable: build
/// a new one to add tombstones ([`Tombstones::new`] over both sets' [`iter`](Self::iter)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    fragments: Vec<Fragment>,
}

impl Tombstones {
    /// Fragments `tombstones` (in any order, overlapping or not; empty ranges are
    /// ignored). Adjacent fragments under the same sequence numbers are joined.
    pub fn new(tombstones: impl IntoIterator<Item = RangeTombstone>) -> Tombstones {
        let mut all: Vec<RangeTombstone> = tombstones
            .into_iter()
            .filter(|t| t.end.as_ref().is_none_or(|e| t.start < *e))
            .collect();
        if all.is_empty() {
            return Tombstones::default();
        }
        all.sort_by(|a, b| a.start.cmp(&b.start));
        // Every place a fragment may begin or end, in order.
        let mut cuts: Vec<Bytes> = all.iter().map(|t| t.start.clone()).collect();
        cuts.extend(all.iter().filter_map(|t| t.end.clone()));
        cuts.sort();
        cuts.dedup();
        let mut fragments: Vec<Fragment> = Vec::new();
        // The tombstones over the current cut: (end, seq).
        let mut active: Vec<(Option<Bytes>, SeqNo)> = Vec::new();
        let mut next = 0;
        for (i, cut) in cuts.iter().enumerate() {
            while next < all.len() && all[next].start == *cut {
                active.push((all[next].end.clone(), all[next].seq));
                next += 1;
            }
            active.retain(|(end, _)| end.as_ref().is_none_or(|e| e > cut));
            if active.is_empty() {
                continue;
            }
            let mut seqs: Vec<SeqNo> = active.iter().map(|(_, s)| *s).collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            // The last cut can only be reached by tombstones with no end.
            let end = cuts.get(i + 1).cloned();
            push_joined(&mut fragments, cut.clone(), end, seqs);
        }
        Tombstones { fragments }
    }

    /// The fragments, sorted and disjoint.
    pub fn fragments(&self) -> &[Fragment] {
        &self.fragments
    }

    /// True when there are no tombstones.
    pub fn is_empty(&self) -> bool {
        self.fragments.is_empty()
    }

    /// One tombstone per fragment and sequence number: what [`Tombstones::new`] rebuilds
    /// these from, and what a merge of several sets chains together.
    pub fn iter(&self) -> impl Iterator<Item = RangeTombstone> + '_ {
        self.fragments.iter().flat_map(|f| {
            f.seqs
                .iter()
                .map(|&seq| RangeTombstone::new(f.start.clone(), f.end.clone(), seq))
        })
    }

    /// The union of several sets.
    pub fn union<T: AsRef<Tombstones>>(sets: impl IntoIterator<Item = T>) -> Tombstones {
        let sets: Vec<T> = sets.into_iter().collect();
        Tombstones::new(sets.iter().flat_map(|t| t.as_ref().iter()))
    }

    /// The union of several shared sets, for a reader of all of their sources: the one set
    /// itself, not a copy, when only one is not empty (the usual case), and
    /// [`Tombstones::none`] when none has any.
    pub fn merged(sets: impl IntoIterator<Item = Arc<Tombstones>>) -> Arc<Tombstones> {
        // No allocation unless two sources have tombstones: every scan calls this.
        let mut sets = sets.into_iter().filter(|t| !t.is_empty());
        let Some(first) = sets.next() else {
            return Tombstones::none();
        };
        match sets.next() {
            None => first,
            Some(second) => Arc::new(Tombstones::union([first, second].into_iter().chain(sets))),
        }
    }

    /// An empty set behind an `Arc`, shared rather than allocated each time: what a source
    /// without range tombstones hands a reader.
    pub fn none() -> Arc<Tombstones> {
        static NONE: std::sync::LazyLock<Arc<Tombstones>> = std::sync::LazyLock::new(Arc::default);
        Arc::clone(&NONE)
    }

    /// The fragment holding `key`, if any.
    fn fragment(&self, key: &[u8]) -> Option<&Fragment> {
        let i = self.fragments.partition_point(|f| &f.start[..] <= key);
        let f = self.fragments.get(i.checked_sub(1)?)?;
        f.contains(key).then_some(f)
    }

    /// The bounds of the fragment holding `key`, if any: the range around it in which
    /// every key is under the same tombstones.
    pub fn fragment_bounds(&self, key: &[u8]) -> Option<(Bytes, Option<Bytes>)> {
        self.fragment(key).map(|f| (f.start.clone(), f.end.clone()))
    }

    /// The newest tombstone over `key` that a reader at `snapshot` sees: its sequence
    /// number, or `None`.
    pub fn covering(&self, key: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
        let f = self.fragment(key)?;
        f.seqs.iter().copied().find(|&s| s <= snapshot)
    }

    /// Whether a reader at `snapshot` finds the version `key @ seq` deleted by a tombstone.
    pub fn covers(&self, key: &[u8], seq: SeqNo, snapshot: SeqNo) -> bool {
        self.covering(key, snapshot).is_some_and(|t| t > seq)
    }

    /// What a point lookup answers from one layer (a memtable or a table) that holds these
    /// tombstones: `point` is the newest version of `key` the layer holds at `snapshot`, with
    /// its sequence number. A tombstone newer than it (or over a key the layer holds no
    /// version of) answers [`Lookup::Deleted`], as a point tombstone would.
    pub fn resolve(
        &self,
        key: &[u8],
        snapshot: SeqNo,
        point: Option<(SeqNo, Lookup)>,
    ) -> Option<Lookup> {
        let Some(t) = self.covering(key, snapshot) else {
            return point.map(|(_, found)| found);
        };
        match point {
            Some((seq, found)) if seq > t => Some(found),
            _ => Some(Lookup::Deleted),
        }
    }

    /// The tombstones a reader at `snapshot` sees: those written at or before it.
    pub fn visible_at(&self, snapshot: SeqNo) -> Tombstones {
        self.retain_seqs(|_, seq| seq <= snapshot)
    }

    /// These tombstones with only the sequence numbers `keep` accepts (given the fragment
    /// and the number); fragments left with none go, and neighbours left alike are joined.
    pub fn retain_seqs(&self, mut keep: impl FnMut(&Fragment, SeqNo) -> bool) -> Tombstones {
        let mut fragments = Vec::with_capacity(self.fragments.len());
        for f in &self.fragments {
            let seqs: Vec<SeqNo> = f.seqs.iter().copied().filter(|&s| keep(f, s)).collect();
            if !seqs.is_empty() {
                push_joined(&mut fragments, f.start.clone(), f.end.clone(), seqs);
            }
        }
        Tombstones { fragments }
    }

    /// The part of these tombstones over `[lo, hi)` (`hi` `None`: no end).
    pub fn clip(&self, lo: &[u8], hi: Option<&[u8]>) -> Tombstones {
        let mut fragments = Vec::new();
        for f in &self.fragments {
            let start = if &f.start[..] < lo {
                Bytes::copy_from_slice(lo)
            } else {
                f.start.clone()
            };
            let end = match (&f.end, hi) {
                (Some(e), Some(h)) if &e[..] > h => Some(Bytes::copy_from_slice(h)),
                (None, Some(h)) => Some(Bytes::copy_from_slice(h)),
                (end, _) => end.clone(),
            };
            if end.as_ref().is_none_or(|e| start < *e) {
                fragments.push(Fragment {
                    start,
                    end,
                    seqs: f.seqs.clone(),
                });
            }
        }
        Tombstones { fragments }
    }

    /// The smallest key covered, if any.
    pub fn smallest_key(&self) -> Option<&Bytes> {
        self.fragments.first().map(|f| &f.start)
    }

    /// The greatest key a table holding these tombstones must claim (see the
    /// [module docs](self#bounds)), if any.
    pub fn largest_key(&self) -> Option<Bytes> {
        let last = self.fragments.last()?;
        Some(match &last.end {
            None => Bytes::from(vec![0xff; MAX_KEY_LEN]),
            Some(end) if end.last() == Some(&0) => end.slice(..end.len() - 1),
            Some(end) => end.clone(),
        })
    }

    /// The smallest and largest sequence numbers, if any.
    pub fn seq_range(&self) -> Option<(SeqNo, SeqNo)> {
        let seqs = self.fragments.iter().flat_map(|f| f.seqs.iter().copied());
        seqs.fold(None, |r, s| match r {
            None => Some((s, s)),
            Some((lo, hi)) => Some((lo.min(s), hi.max(s))),
        })
    }

    /// How many (fragment, sequence number) pairs there are: the count of tombstones
    /// [`Tombstones::iter`] yields.
    pub fn len(&self) -> usize {
        self.fragments.iter().map(|f| f.seqs.len()).sum()
    }

    /// Checks that a table may store these: [`Tombstones::decode`] refuses a sequence
    /// number past [`MAX_SEQNO`], and tombstones built in memory are not checked, so a
    /// writer that stored one would write a table no reader takes back.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the largest number when
    /// it is past [`MAX_SEQNO`].
    pub fn check_storable(&self) -> Result<(), crate::Error> {
        match self.seq_range() {
            Some((_, max)) if max > MAX_SEQNO => Err(crate::Error::InvalidInput(format!(
                "range tombstone sequence number {max} is past the largest, {MAX_SEQNO}"
            ))),
            _ => Ok(()),
        }
    }

    /// Appends the encoding (see the [module docs](self#encoding)) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint32(out, self.fragments.len() as u32);
        for f in &self.fragments {
            put_varint64(out, f.start.len() as u64);
            out.extend_from_slice(&f.start);
            let end = f.end.as_deref().unwrap_or_default();
            put_varint64(out, end.len() as u64);
            out.extend_from_slice(end);
            put_varint32(out, f.seqs.len() as u32);
            for &s in &f.seqs {
                put_varint64(out, s);
            }
        }
    }

    /// Decodes what [`Tombstones::encode`] wrote.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for any bytes `encode` would not write: a length past the end,
    /// fragments out of order or overlapping, an empty fragment or sequence list,
    /// sequence numbers not strictly descending or past 56 bits, or bytes left over.
    pub fn decode(bytes: &[u8]) -> Result<Tombstones, DecodeError> {
        let mut d = Decoder::new(bytes);
        let count = d.varint32()? as usize;
        // Each fragment takes at least four bytes: do not trust the count for memory.
        if count > d.remaining().len() / 4 {
            return Err(DecodeError::new(d.position(), "more fragments than bytes"));
        }
        let mut fragments: Vec<Fragment> = Vec::with_capacity(count);
        for _ in 0..count {
            let at = d.position();
            let start = Bytes::copy_from_slice(d.length_prefixed()?);
            let end = d.length_prefixed()?;
            let end = (!end.is_empty()).then(|| Bytes::copy_from_slice(end));
            if end.as_ref().is_some_and(|e| start >= *e) {
                return Err(DecodeError::new(at, "empty range tombstone fragment"));
            }
            if let Some(prev) = fragments.last()
                && cmp_end(prev.end.as_ref(), Some(&start)) == Ordering::Greater
            {
                return Err(DecodeError::new(
                    at,
                    "range tombstone fragments out of order",
                ));
            }
            let n = d.varint32()? as usize;
            if n == 0 || n > d.remaining().len() {
                return Err(DecodeError::new(at, "bad sequence number count"));
            }
            let mut seqs = Vec::with_capacity(n);
            for _ in 0..n {
                let seq_at = d.position();
                let seq = d.varint64()?;
                if seq > MAX_SEQNO || seqs.last().is_some_and(|&prev| prev <= seq) {
                    return Err(DecodeError::new(seq_at, "bad range tombstone sequence"));
                }
                seqs.push(seq);
            }
            fragments.push(Fragment { start, end, seqs });
        }
        if !d.is_empty() {
            return Err(DecodeError::new(
                d.position(),
                "bytes after the last fragment",
            ));
        }
        Ok(Tombstones { fragments })
    }
}

impl AsRef<Tombstones> for Tombstones {
    fn as_ref(&self) -> &Tombstones {
        self
    }
}

/// Appends a fragment, joined to the last one when they touch and carry the same numbers.
fn push_joined(fragments: &mut Vec<Fragment>, start: Bytes, end: Option<Bytes>, seqs: Vec<SeqNo>) {
    if let Some(last) = fragments.last_mut()
        && last.end.as_ref() == Some(&start)
        && last.seqs == seqs
    {
        last.end = end;
        return;
    }
    fragments.push(Fragment { start, end, seqs });
}

/// The range tombstones of a memtable: a list that grows as batches are applied, and its
/// fragmented form, built when a reader first asks after a change. Both of
/// `ferris-memtable`'s memtables keep one beside their versions.
///
/// Reads that find no tombstone at all cost one atomic load ([`MemTombstones::is_empty`]),
/// so a database that never deletes a range pays nothing on its read path.
#[derive(Debug, Default)]
pub struct MemTombstones {
    count: std::sync::atomic::AtomicUsize,
    state: std::sync::RwLock<MemState>,
}

#[derive(Debug, Default)]
struct MemState {
    list: Vec<RangeTombstone>,
    /// The fragments of `list`, or `None` after a change.
    built: Option<Arc<Tombstones>>,
}

impl MemTombstones {
    /// Adds a tombstone.
    pub fn add(&self, tombstone: RangeTombstone) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.list.push(tombstone);
        state.built = None;
        // After the list has it: a reader that sees the count sees the tombstone.
        self.count
            .store(state.list.len(), std::sync::atomic::Ordering::Release);
    }

    /// True when no tombstone was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many tombstones were added.
    pub fn len(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The tombstones, fragmented.
    pub fn get(&self) -> Arc<Tombstones> {
        if self.is_empty() {
            return Tombstones::none();
        }
        if let Some(built) = &self.state.read().unwrap_or_else(|e| e.into_inner()).built {
            return Arc::clone(built);
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let list = state.list.clone();
        Arc::clone(
            state
                .built
                .get_or_insert_with(|| Arc::new(Tombstones::new(list))),
        )
    }

    /// [`Tombstones::resolve`] over these tombstones, without building them when there are
    /// none.
    pub fn resolve(
        &self,
        key: &[u8],
        snapshot: SeqNo,
        point: Option<(SeqNo, Lookup)>,
    ) -> Option<Lookup> {
        if self.is_empty() {
            return point.map(|(_, found)| found);
        }
        self.get().resolve(key, snapshot, point)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(start: &str, end: Option<&str>, seq: SeqNo) -> RangeTombstone {
        RangeTombstone::new(
            Bytes::copy_from_slice(start.as_bytes()),
            end.map(|e| Bytes::copy_from_slice(e.as_bytes())),
            seq,
        )
    }

    #[test]
    fn overlapping_ranges_become_disjoint_fragments_newest_first() {
        let ts = Tombstones::new([t("a", Some("m"), 5), t("f", Some("z"), 9)]);
        let got: Vec<_> = ts
            .fragments()
            .iter()
            .map(|f| (f.start.clone(), f.end.clone(), f.seqs.clone()))
            .collect();
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        assert_eq!(
            got,
            [
                (b("a"), Some(b("f")), vec![5]),
                (b("f"), Some(b("m")), vec![9, 5]),
                (b("m"), Some(b("z")), vec![9]),
            ]
        );
    }

    #[test]
    fn touching_ranges_of_one_delete_join_and_empty_ones_vanish() {
        let ts = Tombstones::new([
            t("a", Some("c"), 3),
            t("c", Some("e"), 3),
            t("x", Some("x"), 4),
        ]);
        assert_eq!(ts.fragments().len(), 1);
        assert_eq!(ts.largest_key(), Some(Bytes::from_static(b"e")));
    }

    #[test]
    fn an_open_end_covers_every_key_after_the_start() {
        let ts = Tombstones::new([t("k", None, 7), t("a", Some("m"), 2)]);
        assert!(ts.covers(b"\xff\xff\xff", 1, 10));
        assert_eq!(ts.covering(b"l", 10), Some(7));
        assert_eq!(ts.covering(b"b", 10), Some(2));
        assert_eq!(ts.largest_key().unwrap().len(), MAX_KEY_LEN);
    }

    #[test]
    fn the_largest_key_below_a_successor_end_is_the_key_itself() {
        let ts = Tombstones::new([t("a", Some("b\0"), 1)]);
        assert_eq!(ts.largest_key(), Some(Bytes::from_static(b"b")));
    }

    #[test]
    fn resolve_lets_a_newer_version_through_and_hides_an_older_one() {
        let ts = Tombstones::new([t("a", Some("z"), 10)]);
        let v = Lookup::Value(Bytes::from_static(b"v"));
        assert_eq!(ts.resolve(b"k", 20, Some((11, v.clone()))), Some(v.clone()));
        assert_eq!(
            ts.resolve(b"k", 20, Some((9, v.clone()))),
            Some(Lookup::Deleted)
        );
        assert_eq!(ts.resolve(b"k", 20, None), Some(Lookup::Deleted));
        // A reader before the delete.
        assert_eq!(ts.resolve(b"k", 9, Some((9, v.clone()))), Some(v));
        assert_eq!(ts.resolve(b"k", 9, None), None);
    }

    #[test]
    fn key_ranges_follow_the_bounds_and_refuse_empty_ones() {
        let b = |s: &[u8]| Bytes::copy_from_slice(s);
        assert_eq!(key_range(&("a"..="c")), Some((b(b"a"), Some(b(b"c\0")))));
        assert_eq!(key_range::<&str>(&(..)), Some((b(b""), None)));
        assert_eq!(key_range(&("c".."a")), None);
        assert_eq!(key_range(&("a".."a")), None);
        assert_eq!(
            key_range::<&str>(&(Bound::Excluded("a"), Bound::Excluded("a\0"))),
            None
        );
        assert_eq!(prefix_range(b"ab\xff"), (b(b"ab\xff"), Some(b(b"ac"))));
        assert_eq!(prefix_range(b"\xff\xff"), (b(b"\xff\xff"), None));
    }

    #[test]
    fn merging_shares_a_lone_set_and_unites_several() {
        let a = Arc::new(Tombstones::new([t("a", Some("c"), 3)]));
        let b = Arc::new(Tombstones::new([t("b", Some("d"), 5)]));
        let lone = Tombstones::merged([Tombstones::none(), Arc::clone(&a)]);
        assert!(Arc::ptr_eq(&lone, &a));
        let both = Tombstones::merged([a, b]);
        assert_eq!(both.covering(b"b", 10), Some(5));
        assert_eq!(both.covering(b"a", 10), Some(3));
        assert!(Tombstones::merged([]).is_empty());
    }

    #[test]
    fn memtable_tombstones_are_rebuilt_after_each_change() {
        let mem = MemTombstones::default();
        assert!(mem.is_empty());
        assert_eq!(mem.resolve(b"k", 5, None), None);
        mem.add(t("a", Some("m"), 3));
        assert_eq!(mem.get().covering(b"k", 5), Some(3));
        mem.add(t("j", Some("l"), 4));
        assert_eq!(mem.get().covering(b"k", 5), Some(4));
        assert_eq!(mem.len(), 2);
    }

    fn tombstones() -> impl Strategy<Value = Vec<RangeTombstone>> {
        let one = (0u8..12, 0u8..13, 1u64..30).prop_map(|(a, b, seq)| {
            let end = (b < 12).then(|| Bytes::copy_from_slice(&[b]));
            RangeTombstone::new(Bytes::copy_from_slice(&[a]), end, seq)
        });
        proptest::collection::vec(one, 0..8)
    }

    proptest! {
        #[test]
        fn fragments_answer_what_the_list_answers(
            list in tombstones(),
            key in 0u8..13,
            seq in 0u64..32,
            snapshot in 0u64..32,
        ) {
            let ts = Tombstones::new(list.clone());
            let key = [key];
            let want = list
                .iter()
                .filter(|t| t.contains(&key) && t.seq <= snapshot)
                .map(|t| t.seq)
                .max();
            prop_assert_eq!(ts.covering(&key, snapshot), want);
            prop_assert_eq!(ts.covers(&key, seq, snapshot), want.is_some_and(|t| t > seq));
            // Disjoint and sorted.
            for w in ts.fragments().windows(2) {
                prop_assert!(w[0].end.as_ref().is_some_and(|e| *e <= w[1].start));
            }
            // Round trips through its encoding, and through its tombstones.
            let mut bytes = Vec::new();
            ts.encode(&mut bytes);
            prop_assert_eq!(&Tombstones::decode(&bytes).unwrap(), &ts);
            prop_assert_eq!(&Tombstones::new(ts.iter()), &ts);
        }

        #[test]
        fn clipping_at_any_key_splits_the_answers_without_losing_any(
            list in tombstones(),
            cut in 0u8..13,
            key in 0u8..13,
            snapshot in 0u64..32,
        ) {
            let ts = Tombstones::new(list);
            let cut = [cut];
            let (left, right) = (ts.clip(b"", Some(&cut)), ts.clip(&cut, None));
            let key = [key];
            let side = if key < cut { &left } else { &right };
            prop_assert_eq!(side.covering(&key, snapshot), ts.covering(&key, snapshot));
            prop_assert_eq!(ts.visible_at(snapshot).covering(&key, u64::MAX),
                ts.covering(&key, snapshot));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Tombstones::decode(&bytes);
        }
    }

    #[test]
    fn a_flipped_bit_in_an_encoding_is_refused_or_still_sorted() {
        let ts = Tombstones::new([t("a", Some("m"), 5), t("f", Some("z"), 9), t("zz", None, 2)]);
        let mut bytes = Vec::new();
        ts.encode(&mut bytes);
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            // The block's checksum catches damage; the decoder's own promise is only that
            // whatever it accepts keeps the invariants lookups rely on.
            if let Ok(d) = Tombstones::decode(&damaged) {
                for w in d.fragments().windows(2) {
                    assert!(cmp_end(w[0].end.as_ref(), Some(&w[1].start)) != Ordering::Greater);
                }
            }
        }
    }
}
