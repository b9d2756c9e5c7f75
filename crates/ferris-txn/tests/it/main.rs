//! Integration tests of the resolver through its public API: the anomalies it must catch
//! (and, under snapshot isolation, the one it must let through), its limits, and a
//! proptest against a model that keeps every commit forever.

mod anomalies;
mod limits;
mod model;

use ferris_core::KeyspaceId;
use ferris_txn::{KeyRange, TxnError};

/// The range holding one key of the default keyspace.
fn key(k: &str) -> KeyRange {
    KeyRange::key(0, k)
}

/// The range `[start, end)` of `keyspace`.
fn span(keyspace: KeyspaceId, start: &str, end: &str) -> KeyRange {
    KeyRange::bounds(keyspace, start..end).expect("a non-empty range")
}

/// The commit a check reported a conflict with, failing the test on any other answer.
fn conflict(result: Result<(), TxnError>) -> (KeyRange, u64) {
    match result {
        Err(TxnError::Conflict {
            range,
            committed_at,
        }) => (range, committed_at),
        other => panic!("expected a conflict, got {other:?}"),
    }
}
