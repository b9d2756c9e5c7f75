//! The read path for scans: a merging iterator over every sorted source, and the user-level
//! iterator on top that hides old versions and tombstones.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::key::compare_encoded;
use ferris_core::{InternalKeyRef, MAX_SEQNO, SeqNo, ValueKind};
use ferris_memtable::Cursor;
use ferris_sstable::TableCursor;

use crate::error::{Error, Result};
use crate::version::{SuperVersion, TableFile};

/// A sorted run of internal keys that can be walked both ways: a memtable or a table.
pub(crate) trait Source: Send {
    fn valid(&self) -> bool;
    /// The current key. Only called while [`Source::valid`].
    fn key(&self) -> InternalKeyRef<'_>;
    /// The current value. Only called while [`Source::valid`].
    fn value(&self) -> Bytes;
    fn seek_to_first(&mut self);
    fn seek_to_last(&mut self);
    /// The first entry at or after `target`.
    fn seek(&mut self, target: InternalKeyRef<'_>);
    /// The last entry at or before `target`.
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>);
    fn next(&mut self);
    fn prev(&mut self);
    /// The error that made the source invalid, if one did.
    fn status(&mut self) -> Result<()>;
}

impl Source for Cursor {
    fn valid(&self) -> bool {
        Cursor::valid(self)
    }
    fn key(&self) -> InternalKeyRef<'_> {
        Cursor::key(self)
    }
    fn value(&self) -> Bytes {
        Cursor::value(self).clone()
    }
    fn seek_to_first(&mut self) {
        Cursor::seek_to_first(self);
    }
    fn seek_to_last(&mut self) {
        Cursor::seek_to_last(self);
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        Cursor::seek(self, target);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        Cursor::seek_for_prev(self, target);
    }
    fn next(&mut self) {
        Cursor::next(self);
    }
    fn prev(&mut self) {
        Cursor::prev(self);
    }
    fn status(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A table cursor whose current key has been decoded (and so checked) once per move.
pub(crate) struct TableSource {
    cursor: TableCursor<'static>,
    path: std::path::PathBuf,
    /// The decoded trailer of the current key, `None` when not positioned.
    current: Option<(SeqNo, ValueKind)>,
    error: Option<Error>,
    scratch: Vec<u8>,
}

impl TableSource {
    pub(crate) fn new(cursor: TableCursor<'static>, path: &std::path::Path) -> TableSource {
        TableSource {
            cursor,
            path: path.to_path_buf(),
            current: None,
            error: None,
            scratch: Vec::new(),
        }
    }

    fn settle(&mut self) {
        self.current = None;
        if !self.cursor.valid() {
            if let Err(e) = self.cursor.status() {
                self.error.get_or_insert(Error::Table(e));
            }
            return;
        }
        match InternalKeyRef::decode(self.cursor.key()) {
            Ok(k) => self.current = Some((k.seq, k.kind)),
            Err(e) => {
                let reason = format!("a table entry's key does not decode: {e}");
                self.error.get_or_insert(Error::Corruption {
                    file: self.path.clone(),
                    offset: 0,
                    reason,
                });
            }
        }
    }

    fn encode(&mut self, target: InternalKeyRef<'_>) {
        self.scratch.clear();
        target.encode_into(&mut self.scratch);
    }
}

impl Source for TableSource {
    fn valid(&self) -> bool {
        self.current.is_some()
    }
    fn key(&self) -> InternalKeyRef<'_> {
        let (seq, kind) = self.current.expect("key() on an invalid table source");
        let raw = self.cursor.key();
        InternalKeyRef {
            user_key: &raw[..raw.len() - ferris_core::key::TRAILER_LEN],
            seq,
            kind,
        }
    }
    fn value(&self) -> Bytes {
        self.cursor.value()
    }
    fn seek_to_first(&mut self) {
        self.cursor.seek_to_first();
        self.settle();
    }
    fn seek_to_last(&mut self) {
        self.cursor.seek_to_last();
        self.settle();
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.encode(target);
        self.cursor.seek(&self.scratch);
        self.settle();
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.encode(target);
        self.cursor.seek(&self.scratch);
        if self.cursor.valid() {
            if compare_encoded(self.cursor.key(), &self.scratch) == Ordering::Greater {
                self.cursor.prev();
            }
        } else {
            match self.cursor.status() {
                // Everything is before the target.
                Ok(()) => self.cursor.seek_to_last(),
                Err(e) => {
                    self.error.get_or_insert(Error::Table(e));
                }
            }
        }
        self.settle();
    }
    fn next(&mut self) {
        self.cursor.next();
        self.settle();
    }
    fn prev(&mut self) {
        self.cursor.prev();
        self.settle();
    }
    fn status(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// A merge of sources in one direction: a binary heap of source indices, ordered by each
/// source's current key (smallest on top going forwards, largest going backwards).
///
/// Each direction gets its own merger, so neither ever has to turn around.
/// One level of sorted, non-overlapping tables (level 1 and deeper) as a single source:
/// only the table under the current position is open, and moving off its end opens the
/// next one, as LevelDB's two-level iterator does. Without it a seek would seek into every
/// table of every level, and a short scan would pay for each of them.
pub(crate) struct LevelSource {
    /// The level's tables that may hold keys in the scan's range, in key order.
    files: Vec<Arc<TableFile>>,
    /// Which of `files` is open, when one is.
    open: Option<(usize, TableSource)>,
    error: Option<Error>,
}

impl LevelSource {
    pub(crate) fn new(files: Vec<Arc<TableFile>>) -> LevelSource {
        LevelSource {
            files,
            open: None,
            error: None,
        }
    }

    /// Opens `files[index]` (or nothing, past either end).
    fn open(&mut self, index: Option<usize>) -> Option<&mut TableSource> {
        self.open = index.filter(|&i| i < self.files.len()).map(|i| {
            let file = &self.files[i];
            (
                i,
                TableSource::new(file.table.owned_cursor(), file.table.path()),
            )
        });
        self.open.as_mut().map(|(_, source)| source)
    }

    /// While the open table is exhausted (and healthy), moves on to the next one in the
    /// direction of travel.
    fn settle(&mut self, forward: bool) {
        while let Some((index, source)) = &mut self.open {
            if source.valid() {
                return;
            }
            if let Err(e) = source.status() {
                self.error.get_or_insert(e);
                self.open = None;
                return;
            }
            let next = if forward {
                Some(*index + 1)
            } else {
                index.checked_sub(1)
            };
            match self.open(next) {
                Some(source) if forward => source.seek_to_first(),
                Some(source) => source.seek_to_last(),
                None => return,
            }
        }
    }
}

impl Source for LevelSource {
    fn valid(&self) -> bool {
        self.open.as_ref().is_some_and(|(_, source)| source.valid())
    }
    fn key(&self) -> InternalKeyRef<'_> {
        self.open
            .as_ref()
            .expect("key() on an invalid level")
            .1
            .key()
    }
    fn value(&self) -> Bytes {
        self.open
            .as_ref()
            .expect("value() on an invalid level")
            .1
            .value()
    }
    fn seek_to_first(&mut self) {
        if let Some(source) = self.open(Some(0)) {
            source.seek_to_first();
        }
        self.settle(true);
    }
    fn seek_to_last(&mut self) {
        if let Some(source) = self.open(self.files.len().checked_sub(1)) {
            source.seek_to_last();
        }
        self.settle(false);
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        // The first table whose largest key is at or after the target.
        let index = self
            .files
            .partition_point(|f| f.meta.largest.as_ref() < target);
        if let Some(source) = self.open(Some(index)) {
            source.seek(target);
        }
        self.settle(true);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        // The last table whose smallest key is at or before the target.
        let index = self
            .files
            .partition_point(|f| f.meta.smallest.as_ref() <= target)
            .checked_sub(1);
        if let Some(source) = self.open(index) {
            source.seek_for_prev(target);
        }
        self.settle(false);
    }
    fn next(&mut self) {
        if let Some((_, source)) = &mut self.open {
            source.next();
        }
        self.settle(true);
    }
    fn prev(&mut self) {
        if let Some((_, source)) = &mut self.open {
            source.prev();
        }
        self.settle(false);
    }
    fn status(&mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match &mut self.open {
            Some((_, source)) => source.status(),
            None => Ok(()),
        }
    }
}

pub(crate) struct Merger {
    sources: Vec<Box<dyn Source>>,
    heap: Vec<usize>,
    forward: bool,
    error: Option<Error>,
}

impl Merger {
    pub(crate) fn new(sources: Vec<Box<dyn Source>>, forward: bool) -> Merger {
        Merger {
            sources,
            heap: Vec::new(),
            forward,
            error: None,
        }
    }

    /// Positions every source (`position` seeks one) and builds the heap.
    pub(crate) fn start(&mut self, position: impl Fn(&mut dyn Source)) {
        self.heap.clear();
        for i in 0..self.sources.len() {
            position(&mut *self.sources[i]);
            if self.sources[i].valid() {
                self.heap.push(i);
            } else {
                self.note_error(i);
            }
        }
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    fn note_error(&mut self, i: usize) {
        if let Err(e) = self.sources[i].status() {
            self.error.get_or_insert(e);
        }
    }

    /// True while there is a current entry and no source has failed.
    pub(crate) fn valid(&self) -> bool {
        self.error.is_none() && !self.heap.is_empty()
    }

    pub(crate) fn key(&self) -> InternalKeyRef<'_> {
        self.sources[self.heap[0]].key()
    }

    pub(crate) fn value(&self) -> Bytes {
        self.sources[self.heap[0]].value()
    }

    /// Steps past the current entry in this merger's direction.
    pub(crate) fn advance(&mut self) {
        let top = self.heap[0];
        if self.forward {
            self.sources[top].next();
        } else {
            self.sources[top].prev();
        }
        if !self.sources[top].valid() {
            self.note_error(top);
            let last = self.heap.pop().expect("non-empty");
            if self.heap.is_empty() {
                return;
            }
            self.heap[0] = last;
        }
        self.sift_down(0);
    }

    pub(crate) fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Whether heap entry `a` should be above `b`. Ties (which unique sequence numbers
    /// rule out) go to the lower source index, so the order is total.
    fn above(&self, a: usize, b: usize) -> bool {
        let (sa, sb) = (self.heap[a], self.heap[b]);
        let ord = self.sources[sa].key().cmp(&self.sources[sb].key());
        let ord = if self.forward { ord } else { ord.reverse() };
        ord.then(sa.cmp(&sb)) == Ordering::Less
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < self.heap.len() && self.above(l, best) {
                best = l;
            }
            if r < self.heap.len() && self.above(r, best) {
                best = r;
            }
            if best == i {
                return;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }
}

/// The smallest internal key of `user_key`: its newest possible version.
/// How many unwanted entries of one user key in a row a scan steps over before it seeks
/// past the rest (RocksDB's `max_sequential_skip_in_iterations` is 8 too).
const MAX_SEQUENTIAL_SKIPS: usize = 8;

fn first_of(user_key: &[u8]) -> InternalKeyRef<'_> {
    InternalKeyRef {
        user_key,
        seq: MAX_SEQNO,
        kind: ValueKind::MAX,
    }
}

/// The largest internal key of `user_key`: its oldest possible version.
fn last_of(user_key: &[u8]) -> InternalKeyRef<'_> {
    InternalKeyRef {
        user_key,
        seq: 0,
        kind: ValueKind::Delete,
    }
}

/// The user keys and values of a database (or snapshot) within bounds, in key order:
/// the newest version of each key visible at the iterator's sequence number, tombstones
/// hidden. Double-ended: `.rev()` walks backwards, and `next` and `next_back` can be
/// mixed; they stop when they meet.
///
/// The iterator pins what it reads (memtables and table files), so it sees one consistent
/// state however long it lives, through later writes, flushes and compactions. A read
/// error is yielded once, then the iterator ends.
pub struct DbIter {
    sv: Arc<SuperVersion>,
    snapshot: SeqNo,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    front: Option<Merger>,
    back: Option<Merger>,
    /// The last user key each end decided (yielded or found deleted). Buffers that are
    /// reused, so that deciding a key costs a copy into them and no allocation.
    front_last: Option<Vec<u8>>,
    back_last: Option<Vec<u8>>,
    done: bool,
}

impl std::fmt::Debug for DbIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIter")
            .field("snapshot", &self.snapshot)
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .finish_non_exhaustive()
    }
}

impl DbIter {
    pub(crate) fn new(
        sv: Arc<SuperVersion>,
        snapshot: SeqNo,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
    ) -> DbIter {
        let empty = match (&lo, &hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        };
        DbIter {
            sv,
            snapshot,
            lo,
            hi,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: empty,
        }
    }

    /// The sources a scan merges: the memtables, each level-0 table that may hold keys in
    /// the range, and one [`LevelSource`] per deeper level (over its tables in the range).
    fn sources(&self) -> Vec<Box<dyn Source>> {
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        sources.push(Box::new(self.sv.mem.cursor()));
        for imm in &self.sv.imms {
            sources.push(Box::new(imm.mem.cursor()));
        }
        let in_range = |f: &&Arc<TableFile>| {
            !below_lo(&self.lo, f.meta.largest.user_key())
                && !above_hi(&self.hi, f.meta.smallest.user_key())
        };
        let levels = &self.sv.version.levels;
        for file in levels[0].iter().filter(in_range) {
            sources.push(Box::new(TableSource::new(
                file.table.owned_cursor(),
                file.table.path(),
            )));
        }
        for level in &levels[1..] {
            let files: Vec<Arc<TableFile>> = level.iter().filter(in_range).cloned().collect();
            if !files.is_empty() {
                sources.push(Box::new(LevelSource::new(files)));
            }
        }
        sources
    }
}

/// Copies `key` into `slot`'s buffer, reusing it, and returns the copy.
fn remember<'a>(slot: &'a mut Option<Vec<u8>>, key: &[u8]) -> &'a [u8] {
    let buf = slot.get_or_insert_with(Vec::new);
    buf.clear();
    buf.extend_from_slice(key);
    buf
}

fn below_lo(lo: &Bound<Bytes>, key: &[u8]) -> bool {
    match lo {
        Bound::Included(b) => key < &b[..],
        Bound::Excluded(b) => key <= &b[..],
        Bound::Unbounded => false,
    }
}

fn above_hi(hi: &Bound<Bytes>, key: &[u8]) -> bool {
    match hi {
        Bound::Included(b) => key > &b[..],
        Bound::Excluded(b) => key >= &b[..],
        Bound::Unbounded => false,
    }
}

impl DbIter {
    fn fail(&mut self, e: Error) -> Option<Result<(Bytes, Bytes)>> {
        self.done = true;
        Some(Err(e))
    }

    /// The iterator ran out: with the error that ended it, if one did.
    fn end(&mut self, error: Option<Error>) -> Option<Result<(Bytes, Bytes)>> {
        self.done = true;
        error.map(Err)
    }

    fn next_front(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.front.is_none() {
            let mut m = Merger::new(self.sources(), true);
            match &self.lo {
                Bound::Included(k) => m.start(|s| s.seek(first_of(k))),
                Bound::Excluded(k) => m.start(|s| s.seek(last_of(k))),
                Bound::Unbounded => m.start(|s| s.seek_to_first()),
            }
            self.front = Some(m);
        }
        let mut skipped = 0;
        loop {
            let m = self.front.as_mut().expect("started");
            if !m.valid() {
                let error = m.take_error();
                return self.end(error);
            }
            let key = m.key();
            let newer = key.seq > self.snapshot;
            let passed = self.front_last.as_deref() == Some(key.user_key);
            if newer || passed || below_lo(&self.lo, key.user_key) {
                skipped += 1;
                if skipped > MAX_SEQUENTIAL_SKIPS && (newer || passed) {
                    // A run of versions of one key that this scan does not want (a hot
                    // key, overwritten many times): seek past them in O(log n) instead of
                    // stepping over each, as RocksDB does after
                    // `max_sequential_skip_in_iterations`.
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
                    m.start(|s| s.seek(target));
                    skipped = 0;
                } else {
                    m.advance();
                }
                continue;
            }
            skipped = 0;
            let crossed = self.back_last.as_deref().is_some_and(|b| key.user_key >= b);
            if crossed || above_hi(&self.hi, key.user_key) {
                self.done = true;
                return None;
            }
            let last = remember(&mut self.front_last, key.user_key);
            let value = (key.kind == ValueKind::Put).then(|| m.value());
            m.advance();
            if let Some(value) = value {
                return Some(Ok((Bytes::copy_from_slice(last), value)));
            }
        }
    }

    fn next_back(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        if self.back.is_none() {
            let mut m = Merger::new(self.sources(), false);
            match &self.hi {
                Bound::Included(k) => m.start(|s| s.seek_for_prev(last_of(k))),
                Bound::Excluded(k) => m.start(|s| s.seek_for_prev(first_of(k))),
                Bound::Unbounded => m.start(|s| s.seek_to_last()),
            }
            self.back = Some(m);
        }
        loop {
            let m = self.back.as_mut().expect("started");
            if !m.valid() {
                let error = m.take_error();
                return self.end(error);
            }
            let key = m.key();
            if above_hi(&self.hi, key.user_key) {
                m.advance();
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
            let mut newest: Option<(ValueKind, Bytes)> = None;
            let mut steps = 0;
            while m.valid() && m.key().user_key == user {
                steps += 1;
                if steps > MAX_SEQUENTIAL_SKIPS {
                    // Many versions of one key (a hot key): look the visible one up
                    // directly, and seek before all of them.
                    newest = match self.sv.get(user, self.snapshot) {
                        Ok(value) => value.map(|v| (ValueKind::Put, v)),
                        Err(e) => return self.fail(e),
                    };
                    m.start(|s| s.seek_for_prev(first_of(user)));
                    break;
                }
                let key = m.key();
                if key.seq <= self.snapshot {
                    let value = match key.kind {
                        ValueKind::Put => m.value(),
                        ValueKind::Delete => Bytes::new(),
                    };
                    newest = Some((key.kind, value));
                }
                m.advance();
            }
            if let Some(e) = m.take_error() {
                return self.fail(e);
            }
            if let Some((ValueKind::Put, value)) = newest {
                return Some(Ok((Bytes::copy_from_slice(user), value)));
            }
        }
    }
}

impl Iterator for DbIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_front()
    }
}

impl DoubleEndedIterator for DbIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        DbIter::next_back(self)
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when there is
/// none (the prefix is empty or all `0xff`).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
