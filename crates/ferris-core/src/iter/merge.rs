//! Many sorted iterators as one: a binary heap of children ordered by their current keys.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::{InternalKey, InternalKeyRef, SeqNo, ValueKind};

/// Merges children into one sorted sequence.
///
/// The children sit in a binary heap ordered by their current keys, smallest on top while
/// moving forwards and largest on top while moving backwards, so each step costs one step
/// of one child and `O(log n)` comparisons. The merge keeps a copy of each child's current
/// key, taken when the child moves: a step asks one child for its key once, and the
/// comparisons that follow read the copies, not the children behind their trait objects. Turning around (a `prev` after a `next`)
/// repositions every other child just behind the current key, as LevelDB's merging
/// iterator does; a scan that keeps one direction never pays for it.
///
/// Children must not share an internal key (in a database every write has its own
/// sequence number, so they never do). When one child fails, the merge stops: it becomes
/// invalid and [`status`](InternalIterator::status) returns that child's error, so an
/// entry hidden behind the failed child is never skipped silently.
pub struct MergingIterator {
    children: Vec<Box<dyn InternalIterator>>,
    /// Each valid child's current key, copied when the child moved (the buffers are
    /// reused, so a step allocates nothing once they have grown to the keys' size).
    keys: Vec<KeyCopy>,
    /// Indices of the valid children, as a binary heap.
    heap: Vec<usize>,
    forward: bool,
    error: Option<Error>,
}

impl std::fmt::Debug for MergingIterator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergingIterator")
            .field("children", &self.children.len())
            .field("forward", &self.forward)
            .finish_non_exhaustive()
    }
}

/// A copy of a child's current key.
#[derive(Debug)]
struct KeyCopy {
    user_key: Vec<u8>,
    seq: SeqNo,
    kind: ValueKind,
}

impl KeyCopy {
    fn new() -> KeyCopy {
        KeyCopy {
            user_key: Vec::new(),
            seq: 0,
            kind: ValueKind::Put,
        }
    }

    fn set(&mut self, key: InternalKeyRef<'_>) {
        self.user_key.clear();
        self.user_key.extend_from_slice(key.user_key);
        self.seq = key.seq;
        self.kind = key.kind;
    }

    fn as_ref(&self) -> InternalKeyRef<'_> {
        InternalKeyRef {
            user_key: &self.user_key,
            seq: self.seq,
            kind: self.kind,
        }
    }
}

impl MergingIterator {
    /// A merge of `children`, not yet positioned.
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> MergingIterator {
        MergingIterator {
            heap: Vec::with_capacity(children.len()),
            keys: children.iter().map(|_| KeyCopy::new()).collect(),
            children,
            forward: true,
            error: None,
        }
    }

    /// Positions every child with `position`, in direction `forward`, and builds the heap.
    fn start(&mut self, forward: bool, position: impl Fn(&mut dyn InternalIterator)) {
        self.forward = forward;
        self.error = None;
        for child in &mut self.children {
            position(&mut **child);
        }
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.heap.clear();
        for i in 0..self.children.len() {
            if self.children[i].valid() {
                self.keys[i].set(self.children[i].key());
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
        if let Err(e) = self.children[i].status() {
            self.error.get_or_insert(e);
        }
    }

    /// Steps the top child (in the current direction) and restores the heap.
    fn step_top(&mut self) {
        let top = self.heap[0];
        if self.forward {
            self.children[top].next();
        } else {
            self.children[top].prev();
        }
        if self.children[top].valid() {
            self.keys[top].set(self.children[top].key());
        } else {
            self.note_error(top);
            let last = self.heap.pop().expect("the heap holds the top");
            if self.heap.is_empty() {
                return;
            }
            self.heap[0] = last;
        }
        self.sift_down(0);
    }

    /// Turns the merge around at its current entry: every other child is moved to the
    /// nearest entry on the new side of the current key, so that the next step of the top
    /// child continues the sequence in the new direction.
    fn turn(&mut self, forward: bool) {
        let top = self.heap[0];
        let current: InternalKey = self.children[top].key().to_owned();
        let current = current.as_ref();
        for (i, child) in self.children.iter_mut().enumerate() {
            if i == top {
                continue;
            }
            if forward {
                child.seek(current);
                if child.valid() && child.key() == current {
                    child.next();
                }
            } else {
                child.seek_for_prev(current);
                if child.valid() && child.key() == current {
                    child.prev();
                }
            }
        }
        self.forward = forward;
        // The top child is still on the current key; the heap puts it back on top, and the
        // caller's step moves it.
        self.rebuild();
    }

    /// Whether heap entry `a` belongs above `b`. Ties go to the lower child index, so the
    /// order is total.
    fn above(&self, a: usize, b: usize) -> bool {
        let (ca, cb) = (self.heap[a], self.heap[b]);
        let ord = self.keys[ca].as_ref().cmp(&self.keys[cb].as_ref());
        let ord = if self.forward { ord } else { ord.reverse() };
        ord.then(ca.cmp(&cb)) == Ordering::Less
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

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && !self.heap.is_empty()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        self.keys[self.heap[0]].as_ref()
    }

    fn value(&self) -> Bytes {
        self.children[self.heap[0]].value()
    }

    fn seek_to_first(&mut self) {
        self.start(true, |c| c.seek_to_first());
    }

    fn seek_to_last(&mut self) {
        self.start(false, |c| c.seek_to_last());
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.start(true, |c| c.seek(target));
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.start(false, |c| c.seek_for_prev(target));
    }

    fn next(&mut self) {
        if !self.forward {
            self.turn(true);
        }
        self.step_top();
    }

    fn prev(&mut self) {
        if self.forward {
            self.turn(false);
        }
        self.step_top();
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::iter::VecIter;
    use crate::iter::tests::{entries, model_walk};

    proptest! {
        /// A merge of any split of a set of entries walks exactly like the whole set in
        /// one sorted vector, through any sequence of seeks and steps both ways.
        #[test]
        fn a_merge_walks_like_one_sorted_vector(
            all in entries(60),
            parts in proptest::collection::vec(0usize..4, 60),
            walk in proptest::collection::vec((0u8..6, any::<u8>(), 0u64..40), 1..60),
        ) {
            let mut children: Vec<Vec<_>> = vec![Vec::new(); 4];
            for (i, entry) in all.iter().enumerate() {
                children[parts[i % parts.len()]].push(entry.clone());
            }
            let merged = MergingIterator::new(
                children
                    .into_iter()
                    .map(|c| Box::new(VecIter::new(c)) as Box<dyn InternalIterator>)
                    .collect(),
            );
            model_walk(merged, VecIter::new(all), &walk)?;
        }
    }
}
