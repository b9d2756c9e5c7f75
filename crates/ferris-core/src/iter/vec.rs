//! A sorted vector as an [`InternalIterator`]: the simplest implementation of the
//! contract, and the model the others are tested against.

use bytes::Bytes;

use crate::error::Result;
use crate::iter::InternalIterator;
use crate::key::{InternalKey, InternalKeyRef};

/// Entries held in a sorted `Vec`, walked by index. Seeks binary-search.
///
/// Built from any entries in any order: they are sorted on construction, and of two
/// entries with the same internal key only the last given is kept.
#[derive(Debug, Clone, Default)]
pub struct VecIter {
    entries: Vec<(InternalKey, Bytes)>,
    /// The current index; `entries.len()` when not positioned.
    at: usize,
}

impl VecIter {
    /// An iterator over `entries`, not yet positioned.
    pub fn new(mut entries: Vec<(InternalKey, Bytes)>) -> VecIter {
        // A stable sort keeps equal keys in the order given; the dedup keeps the last.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.reverse();
        entries.dedup_by(|a, b| a.0 == b.0);
        entries.reverse();
        let at = entries.len();
        VecIter { entries, at }
    }

    /// The entries, sorted.
    pub fn entries(&self) -> &[(InternalKey, Bytes)] {
        &self.entries
    }

    fn off(&mut self) {
        self.at = self.entries.len();
    }
}

impl InternalIterator for VecIter {
    fn valid(&self) -> bool {
        self.at < self.entries.len()
    }

    fn key(&self) -> InternalKeyRef<'_> {
        self.entries[self.at].0.as_ref()
    }

    fn value(&self) -> Bytes {
        self.entries[self.at].1.clone()
    }

    fn seek_to_first(&mut self) {
        self.at = 0;
    }

    fn seek_to_last(&mut self) {
        match self.entries.len() {
            0 => self.off(),
            n => self.at = n - 1,
        }
    }

    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.at = self.entries.partition_point(|(k, _)| k.as_ref() < target);
    }

    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        match self.entries.partition_point(|(k, _)| k.as_ref() <= target) {
            0 => self.off(),
            n => self.at = n - 1,
        }
    }

    fn next(&mut self) {
        self.at += 1;
    }

    fn prev(&mut self) {
        match self.at {
            0 => self.off(),
            n => self.at = n - 1,
        }
    }

    fn status(&self) -> Result<()> {
        Ok(())
    }
}
