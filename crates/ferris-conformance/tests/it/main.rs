//! Integration tests of ferris-conformance: every suite against every implementation in
//! the workspace, and against broken ones ("mutants"), which it must catch.

mod iterator;
mod log;
mod memtable;
mod mutants;
mod resolver;
mod strategy;
mod table;

use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::Failure;
use ferris_core::{InternalIterator, InternalKey, InternalKeyRef, MemtableFactory, WriteBatch};

/// A memtable from `factory` holding `entries`, each applied as a batch of its own at its
/// own sequence number, and its iterator.
pub(crate) fn memtable_iter(
    factory: &dyn MemtableFactory,
    entries: Vec<(InternalKey, Bytes)>,
) -> Box<dyn InternalIterator> {
    let memtable = factory.create();
    for (key, value) in entries {
        let mut batch = WriteBatch::new();
        match key.kind() {
            ferris_core::ValueKind::Put => batch.put(key.user_key(), &value),
            ferris_core::ValueKind::Delete => batch.delete(key.user_key()),
        };
        batch.set_seq(key.seq());
        memtable.apply(batch.iter());
    }
    Arc::clone(&memtable).iter()
}

/// The failure a check gave a broken implementation, which must name `check`.
///
/// # Panics
///
/// When the check passed it (the suite missed what it is there to catch), or when the
/// failure names another check than `check`.
pub(crate) fn caught(result: Result<(), Failure>, check: &str) -> Failure {
    let failure = match result {
        Ok(()) => panic!("the suite passed a broken implementation: {check} should fail it"),
        Err(failure) => failure,
    };
    assert_eq!(failure.check(), check, "{failure}");
    failure
}

/// Runs `run`, a check's `_seed` function, on the seed `failure` names, and asserts that
/// it fails the same way: the seed replays the failure. Returns the seed.
///
/// # Panics
///
/// When `failure` names no seed, or the seed does not replay it.
pub(crate) fn assert_replays(
    failure: Failure,
    run: impl FnOnce(u64) -> Result<(), Failure>,
) -> u64 {
    let seed = failure
        .seed()
        .expect("a seeded check's failure names its seed");
    assert_eq!(run(seed), Err(failure));
    seed
}

/// Whether `failure` is a wrong answer: what was got, what was expected, and that they
/// differ.
pub(crate) fn is_wrong_answer(failure: &Failure) -> bool {
    matches!((failure.got(), failure.expected()), (Some(got), Some(expected)) if got != expected)
}

/// A move of an iterator, as [`Tampered`] hands it to its hook (with the target of a
/// `seek_for_prev`, the one a mutant needs).
pub(crate) enum Move<'a> {
    SeekToFirst,
    SeekToLast,
    Seek,
    SeekForPrev(InternalKeyRef<'a>),
    Next,
    Prev,
}

impl Move<'_> {
    /// Whether the move goes forwards (a `seek` lands at or after its target).
    pub(crate) fn forward(&self) -> bool {
        matches!(self, Move::SeekToFirst | Move::Seek | Move::Next)
    }
}

/// An iterator that makes each move of `inner`, then hands `inner` and the move to
/// `after`: how a mutant breaks one promise of an iterator that keeps them all.
pub(crate) struct Tampered {
    pub(crate) inner: Box<dyn InternalIterator>,
    pub(crate) after: fn(&mut dyn InternalIterator, Move<'_>),
}

impl InternalIterator for Tampered {
    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn key(&self) -> InternalKeyRef<'_> {
        self.inner.key()
    }
    fn value(&self) -> Bytes {
        self.inner.value()
    }
    fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        (self.after)(&mut *self.inner, Move::SeekToFirst);
    }
    fn seek_to_last(&mut self) {
        self.inner.seek_to_last();
        (self.after)(&mut *self.inner, Move::SeekToLast);
    }
    fn seek(&mut self, target: InternalKeyRef<'_>) {
        self.inner.seek(target);
        (self.after)(&mut *self.inner, Move::Seek);
    }
    fn seek_for_prev(&mut self, target: InternalKeyRef<'_>) {
        self.inner.seek_for_prev(target);
        (self.after)(&mut *self.inner, Move::SeekForPrev(target));
    }
    fn next(&mut self) {
        self.inner.next();
        (self.after)(&mut *self.inner, Move::Next);
    }
    fn prev(&mut self) {
        self.inner.prev();
        (self.after)(&mut *self.inner, Move::Prev);
    }
    fn status(&self) -> ferris_core::Result<()> {
        self.inner.status()
    }
}
