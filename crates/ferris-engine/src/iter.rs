//! Scans: what a super version pins, merged, as a reader at a snapshot sees it.
//!
//! The merge is `ferris_core::iter::MergingIterator` over the memtables' and tables'
//! iterators, with one `ConcatIterator` per level below level 0, and the reader's view of
//! it (newest visible version per key, tombstones hidden, both ends) is
//! `ferris_core::iter::UserIter`. This module only chooses the sources, and gathers the
//! range tombstones of every source the scan may read (`ferris_core::range_del`), which
//! the reader's view uses to hide what they cover.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::SeqNo;
use ferris_core::iter::{
    ConcatIterator, InternalIterator, MergingIterator, UserIter, above_hi, below_lo,
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
    inner: UserIter,
}

impl DbIter {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        snapshot: SeqNo,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
    ) -> DbIter {
        let (l, h) = (lo.clone(), hi.clone());
        let tombstones = range_tombstones(&sv, &lo, &hi);
        let make = Box::new(move || Box::new(merge(&sv, &l, &h)) as Box<dyn InternalIterator>);
        DbIter {
            inner: UserIter::new(make, snapshot, lo, hi).with_range_tombstones(tombstones),
        }
    }
}

/// The range tombstones of the memtables and of the tables whose keys may lie between
/// `lo` and `hi`, as one set.
fn range_tombstones(sv: &SuperVersion, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> Arc<Tombstones> {
    let mems = std::iter::once(&sv.mem).chain(sv.frozen.iter().map(|f| &f.mem));
    let tables = (sv.version.tombstone_tables.iter()).filter(|f| in_range(f, lo, hi));
    Tombstones::merged(
        (mems.map(|m| m.range_tombstones())).chain(tables.map(|f| f.reader.range_tombstones())),
    )
}

/// Whether the table's keys may lie between `lo` and `hi`.
fn in_range(f: &TableFile, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    !below_lo(lo, f.meta.largest.user_key()) && !above_hi(hi, f.meta.smallest.user_key())
}

/// The merge of what a scan between `lo` and `hi` reads: the memtables, each level-0
/// table whose keys may lie in the range, and one level iterator per deeper level (over
/// its tables in the range), which opens one table at a time.
fn merge(sv: &SuperVersion, lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> MergingIterator {
    let mut sources: Vec<Box<dyn InternalIterator>> = vec![Arc::clone(&sv.mem).iter()];
    sources.extend(sv.frozen.iter().map(|f| Arc::clone(&f.mem).iter()));
    let in_range = |f: &&Arc<TableFile>| in_range(f, lo, hi);
    let open = |f: &Arc<TableFile>| Arc::clone(&f.reader).iter(true);
    let mut levels = sv.version.levels.levels();
    if let Some(level0) = levels.next() {
        sources.extend(level0.iter().filter(in_range).map(open));
    }
    for level in levels {
        let files: Vec<Arc<TableFile>> = level.iter().filter(in_range).cloned().collect();
        if !files.is_empty() {
            sources.push(Box::new(ConcatIterator::new(files, Box::new(open))));
        }
    }
    MergingIterator::new(sources)
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
