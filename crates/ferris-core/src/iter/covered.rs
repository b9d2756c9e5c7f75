//! Skipping what newer sources' range tombstones cover, inside a merge.
//!
//! A scan merges sources from newest to oldest: the memtables, the level-0 tables newest
//! first, then one run per deeper level. Every version an older source holds of a key is
//! older than anything a newer source holds of that key (compaction moves a key's versions
//! down together, tombstones and all), so a range tombstone in a newer source covers every
//! version of every key in its range in all the older sources. Their iterators need not
//! walk through such a range one version at a time, only for the reader to hide each: they
//! can seek past it. [`skip_covered`] wraps each source in a [`SkipCovered`] holding the
//! tombstones of every newer source that the reader sees, and a source's own tombstones
//! stay for the reader's per-version check ([`UserIter`](crate::iter::UserIter)), since
//! a source may hold versions newer than its own tombstones. RocksDB's merging iterator
//! seeks past range tombstones the same way.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use ferris_core::iter::{InternalIterator, Source, VecIter, skip_covered};
//! use ferris_core::range_del::{RangeTombstone, Tombstones};
//! use ferris_core::{InternalKey, ValueKind};
//!
//! let put = |k: &str, seq| (InternalKey::new(Bytes::copy_from_slice(k.as_bytes()), seq, ValueKind::Put), Bytes::new());
//! // The newer source deleted "b".."y" at 10; the older one holds "a" to "z".
//! let newer = Tombstones::new([RangeTombstone::new("b", Some("y".into()), 10)]);
//! let older = VecIter::new(vec![put("a", 1), put("c", 2), put("m", 3), put("z", 4)]);
//! let mut sources = skip_covered(
//!     vec![
//!         Source::new(Box::new(VecIter::new(vec![])), Arc::new(newer)),
//!         Source::new(Box::new(older), Arc::default()),
//!     ],
//!     100,
//! );
//! let older = &mut sources[1];
//! older.seek_to_first();
//! let mut keys = Vec::new();
//! while older.valid() {
//!     keys.push(older.key().user_key.to_vec());
//!     older.next();
//! }
//! assert_eq!(keys, [b"a".to_vec(), b"z".to_vec()]);
//! ```

use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::iter::{InternalIterator, first_of};
use crate::key::{InternalKeyRef, SeqNo};
use crate::memtable::Memtable;
use crate::range_del::Tombstones;

/// One source of a merge, stepping past every key that range tombstones covering all of
/// its versions there cover (see [`skip_covered`]).
pub struct SkipCovered {
    inner: Box<dyn InternalIterator>,
    /// The tombstones of the newer sources that the reader sees.
    newer: Arc<Tombstones>,
}

impl std::fmt::Debug for SkipCovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipCovered")
            .field("newer", &self.newer.fragments().len())
            .finish_non_exhaustive()
    }
}

/// One source of a merge, as [`skip_covered`] takes it: its iterator, its own range
/// tombstones, and the newest sequence number of any version it holds, if known.
pub struct Source {
    /// The source's iterator.
    pub iter: Box<dyn InternalIterator>,
    /// The source's own range tombstones.
    pub tombstones: Arc<Tombstones>,
    /// The largest sequence number of its versions (0 for none), when the source knows it:
    /// its own tombstones newer than that cover every version it holds in their ranges.
    pub newest_version: Option<SeqNo>,
}

impl Source {
    /// A source whose newest version is not known (a table or a level).
    pub fn new(iter: Box<dyn InternalIterator>, tombstones: Arc<Tombstones>) -> Source {
        Source {
            iter,
            tombstones,
            newest_version: None,
        }
    }

    /// A memtable as a source: its iterator, its tombstones and its newest version.
    pub fn memtable(mem: &Arc<dyn Memtable>) -> Source {
        Source {
            iter: Arc::clone(mem).iter(),
            tombstones: mem.range_tombstones(),
            newest_version: mem.newest_version(),
        }
    }
}

/// Wraps each of `sources` (newest first) so that it skips what the range tombstones
/// visible at `snapshot` cover in all of it: every newer source's, and its own that are
/// newer than its newest version. Every version an older source holds of a key is older
/// than anything a newer source holds of it (compaction moves a key's versions down
/// together, tombstones and all), so a newer source's tombstone covers all of them: the
/// older source seeks past its range in one step. A source's other tombstones are left
/// to the reader's per-version check
/// ([`UserIter::with_range_tombstones`](crate::iter::UserIter::with_range_tombstones)),
/// since the source may hold versions newer than them. A source with nothing to skip is
/// returned as it is: a merge without range tombstones pays nothing.
pub fn skip_covered(sources: Vec<Source>, snapshot: SeqNo) -> Vec<Box<dyn InternalIterator>> {
    let mut newer: Option<Arc<Tombstones>> = None;
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let own = source.tombstones.visible_at(snapshot);
        let over_all = (source.newest_version)
            .map(|v| own.retain_seqs(|_, t| t > v))
            .filter(|t| !t.is_empty());
        let skip = match (&newer, over_all) {
            (None, None) => None,
            (Some(newer), None) => Some(Arc::clone(newer)),
            (None, Some(own)) => Some(Arc::new(own)),
            (Some(newer), Some(own)) => Some(Arc::new(Tombstones::union([&**newer, &own]))),
        };
        out.push(match skip {
            Some(newer) => Box::new(SkipCovered {
                inner: source.iter,
                newer,
            }) as Box<dyn InternalIterator>,
            None => source.iter,
        });
        if !own.is_empty() {
            newer = Some(Arc::new(match newer.take() {
                Some(above) => Tombstones::union([&*above, &own]),
                None => own,
            }));
        }
    }
    out
}

impl SkipCovered {
    /// Moves forward past every covered key, one seek per tombstone fragment.
    fn skip_forward(&mut self) {
        while self.inner.valid() {
            let Some((_, end)) = self.newer.fragment_bounds(self.inner.key().user_key) else {
                return;
            };
            match end {
                Some(end) => self.inner.seek(first_of(&end)),
                None => {
                    // Covered to the end of the key space.
                    self.inner.seek_to_last();
                    self.inner.next();
                }
            }
        }
    }

    /// Moves backward past every covered key, one seek per tombstone fragment.
    fn skip_backward(&mut self) {
        while self.inner.valid() {
            let Some((start, _)) = self.newer.fragment_bounds(self.inner.key().user_key) else {
                return;
            };
            // The smallest internal key of `start`: the last entry before it is the last
            // one of a smaller user key.
            self.inner.seek_for_prev(first_of(&start));
        }
    }
}

impl InternalIterator for SkipCovered {
    fn valid(&self) -> bool {
        self.inner.valid()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        self.inner.key()
    }

    fn value(&self) -> Bytes {
        self.inner.value()
    }

    fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        self.inner.seek_to_last();
        self.skip_backward();
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.inner.seek(target);
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.inner.seek_for_prev(target);
        self.skip_backward();
    }

    fn next(&mut self) {
        self.inner.next();
        self.skip_forward();
    }

    fn prev(&mut self) {
        self.inner.prev();
        self.skip_backward();
    }

    fn status(&self) -> Result<()> {
        self.inner.status()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::iter::VecIter;
    use crate::key::{InternalKey, ValueKind};
    use crate::range_del::RangeTombstone;

    fn collect(it: &mut dyn InternalIterator, forward: bool) -> Vec<(Vec<u8>, SeqNo)> {
        let mut out = Vec::new();
        if forward {
            it.seek_to_first();
        } else {
            it.seek_to_last();
        }
        while it.valid() {
            out.push((it.key().user_key.to_vec(), it.key().seq));
            if forward { it.next() } else { it.prev() }
        }
        if !forward {
            out.reverse();
        }
        out
    }

    /// One put of each of `keys` (one byte each), at a sequence number from 1 to `spread`.
    fn versions(keys: &std::collections::BTreeSet<u8>, spread: u64) -> Vec<(InternalKey, Bytes)> {
        let put = |k: u8| InternalKey::new(vec![k], u64::from(k) % spread + 1, ValueKind::Put);
        keys.iter().map(|&k| (put(k), Bytes::new())).collect()
    }

    /// Tombstones over one-byte keys `[a, b)` at `seq`; `b` of 40 or more has no end.
    fn tombstones(ranges: &[(u8, u8, SeqNo)]) -> Vec<RangeTombstone> {
        let end = |b: u8| (b < 40).then(|| Bytes::from(vec![b]));
        (ranges.iter())
            .map(|&(a, b, seq)| RangeTombstone::new(vec![a], end(b), seq))
            .collect()
    }

    proptest! {
        /// Either way, a wrapped source yields exactly its versions that no newer
        /// tombstone visible at the snapshot covers.
        #[test]
        fn a_wrapped_source_yields_what_no_newer_tombstone_covers(
            keys in proptest::collection::btree_set(0u8..40, 0..30),
            ranges in proptest::collection::vec((0u8..40, 0u8..41, 50u64..60), 0..4),
            snapshot in 50u64..62,
            forward in any::<bool>(),
        ) {
            let versions = versions(&keys, 7);
            let list = tombstones(&ranges);
            let newer = Arc::new(Tombstones::new(list.clone()));
            let mut wrapped = skip_covered(
                vec![
                    Source::new(Box::new(VecIter::new(Vec::new())), newer),
                    Source::new(Box::new(VecIter::new(versions.clone())), Arc::default()),
                ],
                snapshot,
            );
            let want: Vec<(Vec<u8>, SeqNo)> = versions
                .iter()
                .map(|(k, _)| (k.user_key().to_vec(), k.seq()))
                .filter(|(k, _)| !list.iter().any(|t| t.seq <= snapshot && t.contains(k)))
                .collect();
            prop_assert_eq!(collect(&mut *wrapped[1], forward), want);
        }

        /// A source's own tombstones newer than its newest version are skipped over as
        /// well; older ones (which newer versions of the source may escape) are not.
        #[test]
        fn own_tombstones_newer_than_every_version_are_skipped_too(
            keys in proptest::collection::btree_set(0u8..40, 0..30),
            ranges in proptest::collection::vec((0u8..40, 0u8..41, 1u64..12), 0..4),
            snapshot in 1u64..14,
            forward in any::<bool>(),
        ) {
            let versions = versions(&keys, 9);
            let newest = versions.iter().map(|(k, _)| k.seq()).max().unwrap_or(0);
            let list = tombstones(&ranges);
            let mut source = Source::new(Box::new(VecIter::new(versions.clone())), Arc::new(Tombstones::new(list.clone())));
            source.newest_version = Some(newest);
            let mut wrapped = skip_covered(vec![source], snapshot);
            let want: Vec<(Vec<u8>, SeqNo)> = versions
                .iter()
                .map(|(k, _)| (k.user_key().to_vec(), k.seq()))
                .filter(|(k, _)| !list.iter().any(|t| t.seq <= snapshot && t.seq > newest && t.contains(k)))
                .collect();
            prop_assert_eq!(collect(&mut *wrapped[0], forward), want);
        }
    }

    #[test]
    fn a_reader_older_than_the_tombstone_skips_nothing() {
        let own = Arc::new(Tombstones::new([RangeTombstone::new("a", None, 5)]));
        let older = vec![(InternalKey::new(&b"b"[..], 1, ValueKind::Put), Bytes::new())];
        let mut sources = skip_covered(
            vec![
                Source::new(Box::new(VecIter::new(Vec::new())), own),
                Source::new(Box::new(VecIter::new(older)), Arc::default()),
            ],
            4,
        );
        assert_eq!(collect(&mut *sources[1], true), [(b"b".to_vec(), 1)]);
        assert_eq!(collect(&mut *sources[1], false), [(b"b".to_vec(), 1)]);
    }
}
