//! Range iteration over a table, from both ends.

use std::cmp::Ordering;
use std::ops::Bound;

use bytes::Bytes;
use ferris_core::key::compare_encoded;
use ferris_core::{InternalKey, MAX_SEQNO, ValueKind};

use crate::error::Result;
use crate::table::reader::TableCursor;

/// The entries of a table within user-key bounds, every version of each key, as a
/// double-ended iterator: `.rev()` walks backwards.
///
/// It holds two cursors, one per end, and stops when they meet, so mixing `next` and
/// `next_back` yields each entry exactly once. A read error is yielded once, then the
/// iterator ends.
#[derive(Debug)]
pub struct TableRange<'a> {
    front: TableCursor<'a>,
    back: TableCursor<'a>,
    /// Internal-key bounds equivalent to the user-key bounds given.
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    front_started: bool,
    back_started: bool,
    /// The last key each end yielded: the other end must not pass it.
    last_front: Option<Vec<u8>>,
    last_back: Option<Vec<u8>>,
    done: bool,
}

impl<'a> TableRange<'a> {
    pub(crate) fn new(
        front: TableCursor<'a>,
        back: TableCursor<'a>,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> TableRange<'a> {
        // A user-key bound covers every version of that key: from its newest possible
        // internal key (largest trailer) to its oldest (smallest trailer).
        let first_of = |k: &[u8]| {
            InternalKey::new(Bytes::copy_from_slice(k), MAX_SEQNO, ValueKind::MAX).encode()
        };
        let last_of =
            |k: &[u8]| InternalKey::new(Bytes::copy_from_slice(k), 0, ValueKind::Delete).encode();
        let lo = match lo {
            Bound::Included(k) => Bound::Included(first_of(k)),
            Bound::Excluded(k) => Bound::Excluded(last_of(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match hi {
            Bound::Included(k) => Bound::Included(last_of(k)),
            Bound::Excluded(k) => Bound::Excluded(first_of(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        TableRange {
            front,
            back,
            lo,
            hi,
            front_started: false,
            back_started: false,
            last_front: None,
            last_back: None,
            done: false,
        }
    }

    fn below_hi(&self, key: &[u8]) -> bool {
        match &self.hi {
            Bound::Included(h) => compare_encoded(key, h) != Ordering::Greater,
            Bound::Excluded(h) => compare_encoded(key, h) == Ordering::Less,
            Bound::Unbounded => true,
        }
    }

    fn above_lo(&self, key: &[u8]) -> bool {
        match &self.lo {
            Bound::Included(l) => compare_encoded(key, l) != Ordering::Less,
            Bound::Excluded(l) => compare_encoded(key, l) == Ordering::Greater,
            Bound::Unbounded => true,
        }
    }

    fn start_front(&mut self) {
        match &self.lo {
            Bound::Included(l) => self.front.seek(l),
            Bound::Excluded(l) => {
                let l = l.clone();
                self.front.seek(&l);
                while self.front.valid()
                    && compare_encoded(self.front.key(), &l) != Ordering::Greater
                {
                    self.front.next();
                }
            }
            Bound::Unbounded => self.front.seek_to_first(),
        }
    }

    fn start_back(&mut self) {
        match &self.hi {
            Bound::Unbounded => self.back.seek_to_last(),
            Bound::Included(h) | Bound::Excluded(h) => {
                let h = h.clone();
                // The first entry at or after the bound, then back to the last one within it.
                self.back.seek(&h);
                if !self.back.valid() {
                    if self.back.status().is_err() {
                        return;
                    }
                    self.back.seek_to_last();
                }
                while self.back.valid() && !self.below_hi(self.back.key()) {
                    self.back.prev();
                }
            }
        }
    }

    /// Ends the iteration, turning a cursor failure into one error item.
    fn finish(&mut self, from_front: bool) -> Option<Result<(InternalKey, Bytes)>> {
        self.done = true;
        let cursor = if from_front {
            &mut self.front
        } else {
            &mut self.back
        };
        cursor.status().err().map(Err)
    }

    fn entry(cursor: &TableCursor<'_>) -> Result<(InternalKey, Bytes)> {
        let key = InternalKey::decode(cursor.key()).map_err(|e| cursor.corruption(e.reason))?;
        Ok((key, cursor.value()))
    }
}

impl Iterator for TableRange<'_> {
    type Item = Result<(InternalKey, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.front_started {
            self.front.next();
        } else {
            self.front_started = true;
            self.start_front();
        }
        if !self.front.valid() {
            return self.finish(true);
        }
        let key = self.front.key();
        let met_back = self
            .last_back
            .as_deref()
            .is_some_and(|b| compare_encoded(key, b) != Ordering::Less);
        if !self.below_hi(key) || met_back {
            self.done = true;
            return None;
        }
        self.last_front = Some(key.to_vec());
        Some(Self::entry(&self.front))
    }
}

impl DoubleEndedIterator for TableRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.back_started {
            self.back.prev();
        } else {
            self.back_started = true;
            self.start_back();
        }
        if !self.back.valid() {
            return self.finish(false);
        }
        let key = self.back.key();
        let met_front = self
            .last_front
            .as_deref()
            .is_some_and(|f| compare_encoded(key, f) != Ordering::Greater);
        if !self.above_lo(key) || met_front {
            self.done = true;
            return None;
        }
        self.last_back = Some(key.to_vec());
        Some(Self::entry(&self.back))
    }
}
