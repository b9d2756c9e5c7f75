//! `crates/ferris-memtable/src/lib.rs`, exercise 1.

use std::sync::Arc;

use ferris_core::{Lookup, WriteBatch};
use ferris_memtable::SkipListMemtable;

#[test]
fn ex1_a_read_sees_versions_at_or_below_its_sequence_number() {
    let memtable = Arc::new(SkipListMemtable::new());
    for seq in 1..=5u64 {
        let mut batch = WriteBatch::new();
        batch.put("k", format!("v{seq}"));
        batch.set_seq(seq);
        memtable.apply(batch.iter());
    }
    let seen: Vec<Option<Lookup>> = (0..=6).map(|s| memtable.get(b"k", s)).collect();
    let value = |v: &str| Some(Lookup::Value(v.to_owned().into()));
    assert_eq!(
        seen,
        [
            None,
            value("v1"),
            value("v2"),
            value("v3"),
            value("v4"),
            value("v5"),
            value("v5")
        ]
    );
}
