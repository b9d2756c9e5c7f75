//! One level's tables as one iterator, opening only the table under its position.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::iter::InternalIterator;
use crate::key::InternalKeyRef;
use crate::level::HasMeta;

/// Opens the iterator of one file of a [`ConcatIterator`].
pub type OpenFile<T> = Box<dyn Fn(&T) -> Box<dyn InternalIterator> + Send + Sync>;

/// The files of one sorted, non-overlapping run (a level below level 0) as one iterator.
///
/// Only the file under the current position is open. A seek picks the one file whose key
/// range can hold the target (from the files' [`FileMeta`](crate::level::FileMeta), with
/// no I/O), and running off a file's end opens its neighbour. Without it, a scan would
/// open and seek every table of every level, and a short scan would pay for all of them;
/// LevelDB's two-level iterator does the same.
///
/// `files` must be sorted by key and must not overlap, as [`Levels`](crate::level::Levels)
/// keeps every level but level 0.
pub struct ConcatIterator<T> {
    files: Vec<T>,
    open: OpenFile<T>,
    /// Which of `files` is open, when one is.
    current: Option<(usize, Box<dyn InternalIterator>)>,
    error: Option<Error>,
}

impl<T> std::fmt::Debug for ConcatIterator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcatIterator")
            .field("files", &self.files.len())
            .field("open", &self.current.as_ref().map(|(i, _)| *i))
            .finish_non_exhaustive()
    }
}

impl<T: HasMeta + Send> ConcatIterator<T> {
    /// An iterator over `files`, which `open` opens one at a time.
    pub fn new(files: Vec<T>, open: OpenFile<T>) -> ConcatIterator<T> {
        ConcatIterator {
            files,
            open,
            current: None,
            error: None,
        }
    }

    /// Opens `files[index]`, or nothing past either end.
    fn open_file(&mut self, index: Option<usize>) -> Option<&mut Box<dyn InternalIterator>> {
        self.current = index
            .filter(|&i| i < self.files.len())
            .map(|i| (i, (self.open)(&self.files[i])));
        self.current.as_mut().map(|(_, it)| it)
    }

    /// While the open file is exhausted (and healthy), moves on to its neighbour in the
    /// direction of travel.
    fn settle(&mut self, forward: bool) {
        while let Some((index, it)) = &self.current {
            if it.valid() {
                return;
            }
            if let Err(e) = it.status() {
                self.error = Some(e);
                self.current = None;
                return;
            }
            let next = if forward {
                Some(*index + 1)
            } else {
                index.checked_sub(1)
            };
            match self.open_file(next) {
                Some(it) if forward => it.seek_to_first(),
                Some(it) => it.seek_to_last(),
                None => return,
            }
        }
    }

    fn open_at(&mut self, index: Option<usize>, position: impl FnOnce(&mut dyn InternalIterator)) {
        self.error = None;
        if let Some(it) = self.open_file(index) {
            position(&mut **it);
        }
    }
}

impl<T: HasMeta + Send> InternalIterator for ConcatIterator<T> {
    fn valid(&self) -> bool {
        self.current.as_ref().is_some_and(|(_, it)| it.valid())
    }

    fn key(&self) -> InternalKeyRef<'_> {
        self.current
            .as_ref()
            .expect("key() on an invalid iterator")
            .1
            .key()
    }

    fn value(&self) -> Bytes {
        self.current
            .as_ref()
            .expect("value() on an invalid iterator")
            .1
            .value()
    }

    fn seek_to_first(&mut self) {
        self.open_at(Some(0), |it| it.seek_to_first());
        self.settle(true);
    }

    fn seek_to_last(&mut self) {
        self.open_at(self.files.len().checked_sub(1), |it| it.seek_to_last());
        self.settle(false);
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        // The first file whose largest key is at or after the target.
        let index = self
            .files
            .partition_point(|f| f.meta().largest.as_ref() < target);
        self.open_at(Some(index), |it| it.seek(target));
        self.settle(true);
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        // The last file whose smallest key is at or before the target.
        let index = self
            .files
            .partition_point(|f| f.meta().smallest.as_ref() <= target)
            .checked_sub(1);
        self.open_at(index, |it| it.seek_for_prev(target));
        self.settle(false);
    }

    fn next(&mut self) {
        if let Some((_, it)) = &mut self.current {
            it.next();
        }
        self.settle(true);
    }

    fn prev(&mut self) {
        if let Some((_, it)) = &mut self.current {
            it.prev();
        }
        self.settle(false);
    }

    fn status(&self) -> Result<()> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match &self.current {
            Some((_, it)) => it.status(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::iter::VecIter;
    use crate::iter::tests::{entries, model_walk};
    use crate::level::FileMeta;

    /// A "file": its metadata and its entries.
    struct File(FileMeta, Arc<VecIter>);

    impl HasMeta for File {
        fn meta(&self) -> &FileMeta {
            &self.0
        }
    }

    proptest! {
        /// Any cut of a sorted run into files walks like the whole run, through seeks and
        /// steps both ways across file boundaries.
        #[test]
        fn a_level_walks_like_one_sorted_vector(
            all in entries(60),
            cuts in proptest::collection::btree_set(1usize..60, 0..6),
            walk in proptest::collection::vec((0u8..6, any::<u8>(), 0u64..40), 1..60),
        ) {
            let sorted = VecIter::new(all).entries().to_vec();
            let mut files = Vec::new();
            let mut start = 0;
            // Cut only between user keys, as compaction does, so files never overlap.
            for cut in cuts.into_iter().chain([sorted.len()]) {
                let cut = cut.min(sorted.len());
                let mut end = cut;
                while end < sorted.len() && end > 0 && sorted[end].0.user_key() == sorted[end - 1].0.user_key() {
                    end += 1;
                }
                if end > start {
                    let part = sorted[start..end].to_vec();
                    let meta = FileMeta {
                        number: files.len() as u64,
                        size: 1,
                        smallest: part[0].0.clone(),
                        largest: part[part.len() - 1].0.clone(),
                        min_seq: 0,
                        max_seq: 0,
                        entries: part.len() as u64,
                        tombstones: 0,
                    };
                    files.push(File(meta, Arc::new(VecIter::new(part))));
                    start = end;
                }
            }
            let level = ConcatIterator::new(
                files,
                Box::new(|f: &File| Box::new((*f.1).clone()) as Box<dyn InternalIterator>),
            );
            model_walk(level, VecIter::new(sorted), &walk)?;
        }
    }
}
