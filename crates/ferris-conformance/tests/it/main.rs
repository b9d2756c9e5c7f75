//! Integration tests of ferris-conformance: every suite against every implementation in
//! the workspace, and against broken ones, which it must catch.

mod iterator;
mod memtable;
mod mutants;
mod strategy;
mod table;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
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

/// Runs `check`, which must panic, and returns its panic message.
pub(crate) fn failure_of(check: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(check))
        .expect_err("the suite passed a broken implementation");
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
