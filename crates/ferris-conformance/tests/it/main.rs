//! Integration tests of ferris-conformance: every suite against every implementation in
//! the workspace, and against broken ones ("mutants"), which it must catch.

mod iterator;
mod memtable;
mod mutants;
mod strategy;
mod table;

use std::sync::Arc;

use bytes::Bytes;
use ferris_conformance::Failure;
use ferris_core::{InternalIterator, InternalKey, MemtableFactory, WriteBatch};

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

/// The failure a check gave a broken implementation.
///
/// # Panics
///
/// When the check passed it: the suite missed what it is there to catch.
pub(crate) fn caught(result: Result<(), Failure>) -> Failure {
    match result {
        Ok(()) => panic!("the suite passed a broken implementation"),
        Err(failure) => failure,
    }
}
