//! Scans: what a super version pins, merged, as a reader at a snapshot sees it.
//!
//! The merge is `ferris_core::iter::MergingIterator` over the memtables' and tables'
//! iterators, with one `ConcatIterator` per level below level 0, and the reader's view of
//! it (newest visible version per key, tombstones hidden, both ends) is
//! `ferris_core::iter::UserIter`. This module only chooses the sources, and gathers the
//! range tombstones of every source the scan may read (`ferris_core::range_del`), which
//! the reader's view uses to hide what they cover; in an expiring keyspace,
//! `ferris_core::expiry::Unexpired` hides what has expired.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::SeqNo;
use ferris_core::expiry::Unexpired;
use ferris_core::iter::{
    ConcatIterator, InternalIterator, MergingIterator, Source, UserIter, skip_covered,
};
use ferris_core::range_del::Tombstones;

use crate::error::Result;
use crate::versions::{SuperVersion, TableFile};

/// The user keys and values of a database (or snapshot) within bounds, in key order:
/// the newest version of each key visible at the iterator's sequence number, tombstones
/// hidden. Double-ended: `.rev()` walks backwards, and `next` and `next_back` can be
/// mixed; they stop when they meet.
///
/// The iterator pins what it reads (memtables and table files), so it sees one consistent
/// state however long it lives, through later writes, flushes and compactions. A read
/// error is yielded once, then the iterator ends.
#[derive(Debug)]
pub struct DbIter {
    inner: Unexpired<UserIter>,
}

impl DbIter {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        snapshot: SeqNo,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
        (now, dir): (Option<u64>, &Path),
    ) -> DbIter {
        let (l, h) = (lo.clone(), hi.clone());
        let tombstones = range_tombstones(&sv, &lo, &hi);
        let make =
            Box::new(move || Box::new(merge(&sv, &l, &h, snapshot)) as Box<dyn InternalIterator>);
        let user = UserIter::new(make, snapshot, lo, hi).with_range_tombstones(tombstones);
        DbIter {
            inner: Unexpired::new(user, now, dir),
        }
    }
}

/// The range tombstones of the memtables and of the tables whose keys may lie between
/// `lo` and `hi`, as one set.
fn range_tombstones(sv: &SuperVersion, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> Arc<Tombstones> {
    let mems = std::iter::once(&sv.mem).chain(sv.frozen.iter().map(|f| &f.mem));
    let tables = (sv.version.tombstone_tables.iter()).filter(|(_, f)| f.meta.meets(lo, hi));
    Tombstones::merged(
        (mems.map(|m| m.range_tombstones()))
            .chain(tables.map(|(_, f)| f.reader.range_tombstones())),
    )
}

/// The merge of what a scan between `lo` and `hi` reads at `snapshot`: the memtables,
/// each level-0 table whose keys may lie in the range, and one level iterator per deeper
/// level (over its tables in the range), which opens one table at a time; newest first,
/// each with its range tombstones, so that older sources seek past what newer ones delete
/// (`ferris_core::iter::skip_covered`).
fn merge(
    sv: &SuperVersion,
    lo: &Bound<Bytes>,
    hi: &Bound<Bytes>,
    snapshot: SeqNo,
) -> MergingIterator {
    let mems = std::iter::once(&sv.mem).chain(sv.frozen.iter().map(|f| &f.mem));
    let mut sources: Vec<Source> = mems.map(Source::memtable).collect();
    let in_range = |f: &&Arc<TableFile>| f.meta.meets(lo, hi);
    let open = |f: &Arc<TableFile>| Arc::clone(&f.reader).iter(true);
    let mut levels = sv.version.levels.levels().enumerate();
    if let Some((_, level0)) = levels.next() {
        let tables = level0.iter().filter(in_range);
        sources.extend(tables.map(|f| Source::new(open(f), f.reader.range_tombstones())));
    }
    for (n, level) in levels {
        let files: Vec<Arc<TableFile>> = level.iter().filter(in_range).cloned().collect();
        if !files.is_empty() {
            let holders =
                (sv.version.tombstone_tables.iter()).filter(|(l, f)| *l == n && in_range(&f));
            let tombstones = Tombstones::merged(holders.map(|(_, f)| f.reader.range_tombstones()));
            sources.push(Source::new(
                Box::new(ConcatIterator::new(files, Box::new(open))),
                tombstones,
            ));
        }
    }
    MergingIterator::new(skip_covered(sources, snapshot))
}

impl Iterator for DbIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|kv| kv.map_err(Into::into))
    }
}

impl DoubleEndedIterator for DbIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|kv| kv.map_err(Into::into))
    }
}
