//! The memtable suite against both memtables, and against broken ones.

use std::sync::Arc;

use ferris_conformance::memtable::{check_against_model, check_concurrent_readers, check_factory};
use ferris_core::{BatchIter, InternalIterator, Lookup, Memtable, MemtableFactory, SeqNo};
use ferris_memtable::{BTreeFactory, BTreeMemtable, SkipListFactory};

use crate::failure_of;

#[test]
fn skip_list_factory() {
    check_factory(&SkipListFactory);
}

#[test]
fn btree_factory() {
    check_factory(&BTreeFactory);
}

/// A B-tree memtable with one bug, chosen by `Bug`.
#[derive(Debug, Default)]
struct Broken {
    inner: Arc<BTreeMemtable>,
    bug: Bug,
}

#[derive(Debug, Default, Clone, Copy)]
enum Bug {
    /// A tombstone reads as absent, so older layers would be asked.
    #[default]
    TombstoneIsAbsent,
    /// The size does not count the bytes applied.
    SizeNeverGrows,
}

impl Memtable for Broken {
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        self.inner.apply(entries)
    }
    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        match (self.bug, self.inner.get(user_key, snapshot)) {
            (Bug::TombstoneIsAbsent, Some(Lookup::Deleted)) => None,
            (_, found) => found,
        }
    }
    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        Arc::clone(&self.inner).iter()
    }
    fn approximate_size(&self) -> usize {
        match self.bug {
            Bug::SizeNeverGrows => 100,
            Bug::TombstoneIsAbsent => self.inner.approximate_size(),
        }
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

#[derive(Debug)]
struct BrokenFactory(Bug);

impl MemtableFactory for BrokenFactory {
    fn create(&self) -> Arc<dyn Memtable> {
        Arc::new(Broken {
            inner: Arc::default(),
            bug: self.0,
        })
    }
}

#[test]
fn a_tombstone_read_as_absent_is_caught_and_its_seed_named() {
    let message = failure_of(|| check_factory(&BrokenFactory(Bug::TombstoneIsAbsent)));
    assert!(
        message.starts_with("memtable::check_against_model(_, "),
        "{message}"
    );
    assert!(message.contains("get("), "{message}");
    // The concurrent check reads tombstones too.
    let message =
        failure_of(|| check_concurrent_readers(&BrokenFactory(Bug::TombstoneIsAbsent), 0));
    assert!(
        message.contains("check_concurrent_readers(_, 0)"),
        "{message}"
    );
}

#[test]
fn a_size_that_does_not_grow_is_caught() {
    let message = failure_of(|| check_against_model(&BrokenFactory(Bug::SizeNeverGrows), 3));
    assert!(
        message.starts_with("memtable::check_against_model(_, 3)"),
        "{message}"
    );
    assert!(message.contains("approximate_size"), "{message}");
}
