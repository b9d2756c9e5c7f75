//! The one iterator contract every sorted source meets, and the iterators built on it.
//!
//! An LSM tree keeps its data in many sorted places at once: the memtable, the frozen
//! memtables waiting to be flushed, the tables of level 0 (each its own sorted run), and
//! one sorted run per deeper level. A scan, and a compaction, must see them as **one**
//! sorted sequence. So every one of them speaks [`InternalIterator`]: a cursor over
//! internal keys (user key ascending, then newest version first) that can seek, step both
//! ways and report an error. Three small iterators then compose any number of them:
//!
//! - [`MergingIterator`]: many iterators, one sorted sequence, through a binary heap
//!   ordered by each child's current key (LevelDB's `MergingIterator`);
//! - [`ConcatIterator`]: the tables of one level, which do not overlap, as one iterator
//!   that opens only the table under its position (LevelDB's two-level iterator): a seek
//!   costs one table per level, not one per table;
//! - [`VecIter`]: a sorted vector, the simplest implementation there is, for tests and as
//!   the model the others are checked against.
//!
//! ```text
//!   memtable ──────────┐
//!   frozen memtable ───┤
//!   L0 table 9 ────────┤
//!   L0 table 7 ────────┼──► MergingIterator ──► every version of every key, in order
//!   ConcatIterator(L1) ┤
//!   ConcatIterator(L2) ┘
//! ```
//!
//! What a reader wants is not every version but the newest one visible at its snapshot,
//! with deleted keys hidden: [`UserIter`] is that view of a merge (LevelDB's `DBIter`),
//! and the engine's scans are one over the merge of everything a snapshot pins. The
//! compaction iterator (`ferris-compaction`) decides, on top of the same merge, which
//! versions a rewrite can drop.
//!
//! ```
//! use bytes::Bytes;
//! use ferris_core::iter::{InternalIterator, MergingIterator, VecIter};
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let entry = |k: &str, seq, v: &str| {
//!     (InternalKey::new(k.as_bytes().to_vec(), seq, ValueKind::Put), Bytes::from(v.to_string()))
//! };
//! let newer = VecIter::new(vec![entry("apple", 7, "green"), entry("pear", 8, "ripe")]);
//! let older = VecIter::new(vec![entry("apple", 3, "red"), entry("fig", 2, "purple")]);
//! let mut merged = MergingIterator::new(vec![Box::new(newer), Box::new(older)]);
//! merged.seek_to_first();
//! let mut seen = Vec::new();
//! while merged.valid() {
//!     seen.push(format!("{:?}", merged.key()));
//!     merged.next();
//! }
//! merged.status()?;
//! assert_eq!(seen, ["apple@7:Put", "apple@3:Put", "fig@2:Put", "pear@8:Put"]);
//! # Ok::<(), ferris_core::Error>(())
//! ```
//!
//! # The contract
//!
//! An implementation of [`InternalIterator`] promises:
//!
//! - **Order.** Entries come in internal-key order ([`InternalKeyRef`]'s `Ord`): user keys
//!   ascending, and within one user key sequence numbers descending. Within one iterator
//!   no internal key appears twice.
//! - **Positioning.** After `seek_to_first`, `seek_to_last`, `seek(t)` (the first entry at
//!   or after `t`) or `seek_for_prev(t)` (the last entry at or before `t`), [`valid`]
//!   says whether there is an entry there. `next` and `prev` are called only while
//!   [`valid`], and step to the neighbouring entry, or off the end. Any call may follow
//!   any other: a `prev` after a `next` turns around.
//! - **Errors.** A source that fails (an unreadable or damaged block) becomes invalid,
//!   and [`status`] returns the error from then on. An invalid iterator with an `Ok`
//!   status has simply run out. An iterator never panics on damaged bytes.
//! - **Accessors.** `key` and `value` are called only while [`valid`]; `key` borrows from
//!   the iterator until its next move.
//! - **Snapshots are the caller's.** An iterator yields every version it holds, tombstones
//!   included; which of them a reader may see is decided above it, by sequence number
//!   ([`UserIter`] for a reader, the compaction iterator for a merge).
//! - **Nothing to survive a power cut.** An iterator only reads, and holds nothing that
//!   must be durable: a power cut ends it with the process and leaves nothing of it
//!   behind. What it read is recovered by its owners: a memtable's entries from the
//!   write-ahead log, a table (immutable, and durable before any version lists it) from
//!   the disk as it was.
//!
//! [`valid`]: InternalIterator::valid
//! [`status`]: InternalIterator::status

mod concat;
mod covered;
mod merge;
mod user;
mod vec;

use bytes::Bytes;

pub use concat::{ConcatIterator, OpenFile};
pub use covered::{SkipCovered, Source, skip_covered};
pub use merge::MergingIterator;
pub use user::{MakeIter, UserIter, above_hi, below_lo, owned_bounds, prefix_bounds};
pub use vec::VecIter;

use crate::error::Result;
use crate::key::{InternalKeyRef, MAX_SEQNO, ValueKind};

/// A cursor over a sorted run of internal keys and their values; see the
/// [module docs](self) for the whole contract. In short:
///
/// - **Order:** internal-key order (user key ascending, then sequence number descending),
///   each internal key at most once, both ways.
/// - **Visibility:** every version the source holds, tombstones included, whatever its
///   sequence number; hiding what a reader may not see is [`UserIter`]'s job, above it.
/// - **Power cuts:** an iterator only reads and holds nothing durable; a power cut leaves
///   nothing of it.
///
/// What an implementor writes: all ten methods. Errors end the iteration: the iterator
/// becomes invalid and [`status`](InternalIterator::status) returns the error.
/// `ferris_conformance::iterator::check_iterator` checks one against [`VecIter`].
pub trait InternalIterator: Send {
    /// Whether the iterator is on an entry.
    fn valid(&self) -> bool;

    /// The current entry's key. Called only while [`valid`](InternalIterator::valid).
    fn key(&self) -> InternalKeyRef<'_>;

    /// The current entry's value (empty for a tombstone). Called only while
    /// [`valid`](InternalIterator::valid).
    fn value(&self) -> Bytes;

    /// Positions on the first entry.
    fn seek_to_first(&mut self);

    /// Positions on the last entry.
    fn seek_to_last(&mut self);

    /// Positions on the first entry at or after `target`.
    fn seek(&mut self, target: InternalKeyRef<'_>);

    /// Positions on the last entry at or before `target`.
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>);

    /// Steps to the next entry. Called only while [`valid`](InternalIterator::valid).
    fn next(&mut self);

    /// Steps to the previous entry. Called only while [`valid`](InternalIterator::valid).
    fn prev(&mut self);

    /// The error that made the iterator invalid, if one did.
    ///
    /// # Errors
    ///
    /// Whatever the source met: an I/O failure or damage, with the file and offset.
    fn status(&self) -> Result<()>;
}

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn key(&self) -> InternalKeyRef<'_> {
        (**self).key()
    }
    fn value(&self) -> Bytes {
        (**self).value()
    }
    fn seek_to_first(&mut self) {
        (**self).seek_to_first();
    }
    fn seek_to_last(&mut self) {
        (**self).seek_to_last();
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        (**self).seek(target);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        (**self).seek_for_prev(target);
    }
    fn next(&mut self) {
        (**self).next();
    }
    fn prev(&mut self) {
        (**self).prev();
    }
    fn status(&self) -> Result<()> {
        (**self).status()
    }
}

/// The smallest internal key of `user_key`: its newest possible version. Seeking to it
/// lands on the first entry of the key.
pub fn first_of(user_key: &[u8]) -> InternalKeyRef<'_> {
    InternalKeyRef {
        user_key,
        seq: MAX_SEQNO,
        kind: ValueKind::MAX,
    }
}

/// The largest internal key of `user_key`: its oldest possible version. Seeking to it
/// lands on the last entry of the key (if the key has a version at sequence 0) or past
/// the key.
pub fn last_of(user_key: &[u8]) -> InternalKeyRef<'_> {
    InternalKeyRef {
        user_key,
        seq: 0,
        kind: ValueKind::Delete,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;
    use crate::key::InternalKey;

    /// Up to `max` entries with distinct internal keys over a few user keys, so that keys
    /// have several versions.
    pub(crate) fn entries(max: usize) -> impl Strategy<Value = Vec<(InternalKey, Bytes)>> {
        proptest::collection::btree_map((0u8..12, 0u64..40, any::<bool>()), any::<u16>(), 0..max)
            .prop_map(|map| {
                map.into_iter()
                    .map(|((k, seq, put), v)| {
                        let kind = if put {
                            ValueKind::Put
                        } else {
                            ValueKind::Delete
                        };
                        (
                            InternalKey::new(vec![b'k', k], seq, kind),
                            Bytes::from(v.to_le_bytes().to_vec()),
                        )
                    })
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect()
            })
    }

    /// Drives `it` and `model` through the same `walk` (an operation, a user key and a
    /// sequence number each) and checks they agree after every step.
    pub(crate) fn model_walk(
        mut it: impl InternalIterator,
        mut model: impl InternalIterator,
        walk: &[(u8, u8, u64)],
    ) -> Result<(), TestCaseError> {
        for &(op, k, seq) in walk {
            let user = [b'k', k % 14];
            let target = InternalKeyRef {
                user_key: &user,
                seq,
                kind: ValueKind::Put,
            };
            match op {
                0 => (it.seek_to_first(), model.seek_to_first()),
                1 => (it.seek_to_last(), model.seek_to_last()),
                2 => (it.seek(target), model.seek(target)),
                3 => (it.seek_for_prev(target), model.seek_for_prev(target)),
                4 if model.valid() => (it.next(), model.next()),
                5 if model.valid() => (it.prev(), model.prev()),
                _ => ((), ()),
            };
            prop_assert_eq!(it.valid(), model.valid(), "after op {} at {:?}", op, target);
            prop_assert!(it.status().is_ok());
            if model.valid() {
                prop_assert_eq!(it.key(), model.key());
                prop_assert_eq!(it.value(), model.value());
            }
        }
        Ok(())
    }

    proptest! {
        /// The model itself: a walk through a `VecIter` matches a walk through a `BTreeMap`.
        #[test]
        fn vec_iter_walks_like_a_btree_map(all in entries(40), walk in proptest::collection::vec((0u8..6, any::<u8>(), 0u64..40), 1..40)) {
            let map: std::collections::BTreeMap<InternalKey, Bytes> = all.iter().cloned().collect();
            let mut it = VecIter::new(all);
            let mut at: Option<InternalKey> = None;
            for (op, k, seq) in walk {
                let target = InternalKey::new(vec![b'k', k % 14], seq, ValueKind::Put);
                at = match op {
                    0 => map.keys().next().cloned(),
                    1 => map.keys().next_back().cloned(),
                    2 => map.range(target.clone()..).next().map(|(k, _)| k.clone()),
                    3 => map.range(..=target.clone()).next_back().map(|(k, _)| k.clone()),
                    4 => match at { Some(a) => map.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)).next().map(|(k, _)| k.clone()), None => continue },
                    _ => match at { Some(a) => map.range(..a).next_back().map(|(k, _)| k.clone()), None => continue },
                };
                match op {
                    0 => it.seek_to_first(),
                    1 => it.seek_to_last(),
                    2 => it.seek(target.as_ref()),
                    3 => it.seek_for_prev(target.as_ref()),
                    4 => it.next(),
                    _ => it.prev(),
                }
                prop_assert_eq!(it.valid(), at.is_some());
                if let Some(a) = &at {
                    prop_assert_eq!(it.key(), a.as_ref());
                    prop_assert_eq!(&it.value(), &map[a]);
                }
            }
        }
    }
}
