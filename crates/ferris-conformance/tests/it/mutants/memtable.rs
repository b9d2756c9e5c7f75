//! Memtables broken on purpose: each wraps the B-tree memtable and breaks one promise.

use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::memtable;
use ferris_core::{
    BatchIter, InternalIterator, InternalKeyRef, Lookup, Memtable, MemtableFactory, SeqNo,
    ValueKind,
};
use ferris_memtable::BTreeMemtable;

use crate::caught;

/// The one promise a mutant breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// A tombstone reads as absent, so older layers would be asked.
    TombstoneIsAbsent,
    /// The size does not count the bytes applied.
    SizeNeverGrows,
    /// Its iterators step over tombstones, which a merge needs to see.
    IteratorsHideTombstones,
    /// A lookup of a key it never held panics.
    PanicsOnAbsentKeys,
}

#[derive(Debug)]
struct Broken {
    inner: Arc<BTreeMemtable>,
    bug: Bug,
}

impl Memtable for Broken {
    fn apply(&self, entries: BatchIter<'_>) -> u64 {
        self.inner.apply(entries)
    }

    fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
        match (self.bug, self.inner.get(user_key, snapshot)) {
            (Bug::TombstoneIsAbsent, Some(Lookup::Deleted)) => None,
            (Bug::PanicsOnAbsentKeys, None) => panic!("no such key"),
            (_, found) => found,
        }
    }

    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        let inner = Arc::clone(&self.inner).iter();
        match self.bug {
            Bug::IteratorsHideTombstones => Box::new(HidesTombstones(inner)),
            _ => inner,
        }
    }

    fn approximate_size(&self) -> usize {
        match self.bug {
            Bug::SizeNeverGrows => 100,
            _ => self.inner.approximate_size(),
        }
    }

    fn len(&self) -> usize {
        self.inner.len()
    }
}

/// An iterator that moves on past every tombstone it lands on.
struct HidesTombstones(Box<dyn InternalIterator>);

impl HidesTombstones {
    fn skip(&mut self, forward: bool) {
        while self.0.valid() && self.0.key().kind == ValueKind::Delete {
            if forward {
                self.0.next();
            } else {
                self.0.prev();
            }
        }
    }
}

impl InternalIterator for HidesTombstones {
    fn valid(&self) -> bool {
        self.0.valid()
    }
    fn key(&self) -> InternalKeyRef<'_> {
        self.0.key()
    }
    fn value(&self) -> Bytes {
        self.0.value()
    }
    fn seek_to_first(&mut self) {
        self.0.seek_to_first();
        self.skip(true);
    }
    fn seek_to_last(&mut self) {
        self.0.seek_to_last();
        self.skip(false);
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.0.seek(target);
        self.skip(true);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.0.seek_for_prev(target);
        self.skip(false);
    }
    fn next(&mut self) {
        self.0.next();
        self.skip(true);
    }
    fn prev(&mut self) {
        self.0.prev();
        self.skip(false);
    }
    fn status(&self) -> ferris_core::Result<()> {
        self.0.status()
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
fn a_tombstone_read_as_absent_is_caught_and_its_seed_replays() {
    let factory = BrokenFactory(Bug::TombstoneIsAbsent);
    let f = caught(memtable::check_factory(&factory));
    assert_eq!(f.implementation(), "BrokenFactory(TombstoneIsAbsent)");
    assert_eq!(f.check(), "against_model");
    assert!(f.detail().contains("get("), "{f}");
    assert_eq!((f.got(), f.expected()), (Some("None"), Some("Deleted")));
    let seed = f.seed().expect("the model check is seeded");
    assert_eq!(memtable::against_model_seed(&factory, seed), Err(f));
}

#[test]
fn a_tombstone_read_as_absent_is_caught_by_the_concurrent_readers() {
    let f = caught(memtable::concurrent_readers_seed(
        &BrokenFactory(Bug::TombstoneIsAbsent),
        0,
    ));
    assert_eq!((f.check(), f.seed()), ("concurrent_readers", Some(0)));
    // Which reader and snapshot depend on the threads' timing; that one erred does not.
    assert!(f.detail().starts_with("reader "), "{f}");
    assert_eq!((f.got(), f.expected()), (Some("None"), Some("Deleted")));
}

#[test]
fn a_size_that_does_not_grow_is_caught() {
    let f = caught(memtable::against_model_seed(
        &BrokenFactory(Bug::SizeNeverGrows),
        3,
    ));
    assert_eq!((f.check(), f.seed()), ("against_model", Some(3)));
    assert!(f.detail().starts_with("approximate_size()"), "{f}");
    assert_eq!(f.got(), Some("100"));
}

#[test]
fn iterators_that_hide_tombstones_are_caught_by_both_iterator_checks() {
    let factory = BrokenFactory(Bug::IteratorsHideTombstones);
    let f = caught(memtable::against_model(&factory));
    assert!(f.detail().contains("the iterator over"), "{f}");
    assert!(f.expected().is_some_and(|e| e.contains(":Delete")), "{f}");
    let f = caught(memtable::iterators_across_applies(&factory));
    assert!(f.detail().contains("skipped"), "{f}");
}

#[test]
fn a_panic_in_a_reader_thread_is_a_failure_naming_the_thread() {
    let f = caught(memtable::concurrent_readers_seed(
        &BrokenFactory(Bug::PanicsOnAbsentKeys),
        1,
    ));
    assert_eq!((f.check(), f.seed()), ("concurrent_readers", Some(1)));
    // Both readers panic; the first is reported.
    assert_eq!(f.detail(), "reader 0: panicked: no such key");
}
