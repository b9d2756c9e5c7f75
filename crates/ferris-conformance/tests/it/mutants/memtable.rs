//! Memtables broken on purpose: each wraps the B-tree memtable and breaks one promise.

use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::{Failure, memtable};
use ferris_core::range_del::Tombstones;
use ferris_core::{
    BatchIter, InternalIterator, InternalKey, Lookup, Memtable, MemtableFactory, SeqNo, ValueKind,
};
use ferris_memtable::BTreeMemtable;

use crate::{Move, Tampered, assert_replays, caught};

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
    /// Lookups answer from the versions alone, as if no range had been deleted.
    IgnoresRangeTombstones,
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
        if self.bug == Bug::IgnoresRangeTombstones {
            return newest_version(Arc::clone(&self.inner).iter(), user_key, snapshot);
        }
        match (self.bug, self.inner.get(user_key, snapshot)) {
            (Bug::TombstoneIsAbsent, Some(Lookup::Deleted)) => None,
            (Bug::PanicsOnAbsentKeys, None) => panic!("no such key"),
            (_, found) => found,
        }
    }

    fn range_tombstones(&self) -> Arc<Tombstones> {
        self.inner.range_tombstones()
    }

    fn iter(self: Arc<Self>) -> Box<dyn InternalIterator> {
        let inner = Arc::clone(&self.inner).iter();
        match self.bug {
            Bug::IteratorsHideTombstones => Box::new(Tampered {
                inner,
                after: hide_tombstones,
            }),
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

/// The newest version of `user_key` at most `snapshot` among the versions `it` yields
/// (never a range tombstone: iterators yield versions alone).
fn newest_version(
    mut it: Box<dyn InternalIterator>,
    user_key: &[u8],
    snapshot: SeqNo,
) -> Option<Lookup> {
    it.seek(InternalKey::seek_key(Bytes::copy_from_slice(user_key), snapshot).as_ref());
    if !it.valid() || it.key().user_key != user_key {
        return None;
    }
    Some(match it.key().kind {
        ValueKind::Put => Lookup::Value(it.value()),
        ValueKind::Delete => Lookup::Deleted,
    })
}

/// Moves on past every tombstone the iterator lands on, in the move's direction.
fn hide_tombstones(it: &mut dyn InternalIterator, moved: Move<'_>) {
    while it.valid() && it.key().kind == ValueKind::Delete {
        if moved.forward() {
            it.next();
        } else {
            it.prev();
        }
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
    let f = caught(memtable::check_factory(&factory), "against_model");
    assert_eq!(f.implementation(), "BrokenFactory(TombstoneIsAbsent)");
    assert!(f.detail().contains("get("), "{f}");
    assert_eq!((f.got(), f.expected()), (Some("None"), Some("Deleted")));
    assert_replays(f, |seed| memtable::against_model_seed(&factory, seed));
}

#[test]
fn a_lookup_that_ignores_range_deletes_is_caught_and_its_seed_replays() {
    let factory = BrokenFactory(Bug::IgnoresRangeTombstones);
    // Without range deletes it answers as the B-tree memtable does.
    let f = caught(memtable::check_factory(&factory), "range_deletes");
    assert!(f.detail().contains("get("), "{f}");
    assert_eq!(f.expected(), Some("Deleted"), "{f}");
    assert_ne!(f.got(), Some("Deleted"), "{f}");
    assert_replays(f, |seed| memtable::range_deletes_seed(&factory, seed));
}

/// The failure seed `seed` of the concurrent readers gives a memtable with `bug`.
fn race(bug: Bug, seed: u64) -> Failure {
    let f = caught(
        memtable::concurrent_readers_seed(&BrokenFactory(bug), seed),
        "concurrent_readers",
    );
    assert_eq!(f.seed(), Some(seed));
    f
}

#[test]
fn a_tombstone_read_as_absent_is_caught_by_the_concurrent_readers() {
    let f = race(Bug::TombstoneIsAbsent, 0);
    // Which reader and snapshot depend on the threads' timing; that one erred does not.
    assert!(f.detail().starts_with("reader "), "{f}");
    assert_eq!((f.got(), f.expected()), (Some("None"), Some("Deleted")));
}

#[test]
fn a_size_that_does_not_grow_is_caught() {
    let factory = BrokenFactory(Bug::SizeNeverGrows);
    let f = caught(memtable::against_model_seed(&factory, 3), "against_model");
    assert_eq!(f.seed(), Some(3));
    assert!(f.detail().starts_with("approximate_size()"), "{f}");
    assert_eq!(f.got(), Some("100"));
}

#[test]
fn iterators_that_hide_tombstones_are_caught_by_both_iterator_checks() {
    let factory = BrokenFactory(Bug::IteratorsHideTombstones);
    let f = caught(memtable::against_model(&factory), "against_model");
    assert!(f.detail().contains("the iterator over"), "{f}");
    assert!(f.expected().is_some_and(|e| e.contains(":Delete")), "{f}");
    let f = caught(
        memtable::iterators_across_applies(&factory),
        "iterators_across_applies",
    );
    assert!(f.detail().contains("skipped"), "{f}");
}

#[test]
fn a_panic_in_a_reader_thread_is_a_failure_naming_the_thread() {
    let f = race(Bug::PanicsOnAbsentKeys, 1);
    // Both readers panic; the first is reported.
    assert_eq!(f.detail(), "reader 0: panicked: no such key");
}
