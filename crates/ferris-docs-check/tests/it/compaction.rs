//! `crates/ferris-compaction/src/lib.rs`, exercises 5 and 6.

use std::sync::Arc;

use ferris_compaction::{CompactionIterator, MergeRules};
use ferris_core::iter::VecIter;
use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, ValueKind};
use ferris_engine::Bytes;

fn run(
    entries: &[(u64, ValueKind)],
    snapshot: u64,
    bottommost: bool,
    tombstones: Tombstones,
) -> Vec<String> {
    let input = VecIter::new(
        entries
            .iter()
            .map(|&(seq, kind)| (InternalKey::new(&b"k"[..], seq, kind), Bytes::new()))
            .collect(),
    );
    let rules = MergeRules {
        snapshots: vec![snapshot],
        bottommost,
        range_tombstones: Arc::new(tombstones),
        ..MergeRules::default()
    };
    let mut merge = CompactionIterator::new(input, rules);
    let mut kept = Vec::new();
    while merge.valid() {
        kept.push(format!("{:?}", merge.key()));
        merge.next();
    }
    merge.status().unwrap();
    let rest: Vec<String> = merge
        .rest_range_tombstones()
        .iter()
        .map(|t| format!("{t:?}"))
        .collect();
    kept.extend(rest);
    kept
}

#[test]
fn ex5_a_tombstone_goes_only_in_a_bottommost_merge() {
    use ValueKind::{Delete, Put};
    // put @1, delete @2, put @3; the snapshot at 2 reads the delete.
    let versions = [(3, Put), (2, Delete), (1, Put)];
    // Not bottommost: the tombstone stays (it may hide older puts in deeper levels); the
    // put below it goes, hidden by it from every reader.
    assert_eq!(
        run(&versions, 2, false, Tombstones::default()),
        ["k@3:Put", "k@2:Delete"]
    );
    // Bottommost: nothing lies below, and the snapshot reads "absent" without it too.
    assert_eq!(run(&versions, 2, true, Tombstones::default()), ["k@3:Put"]);
    // With the *oldest* version the tombstone, it goes both times: the put at 2 hides it
    // from every reader (the snapshot's stripe keeps only its newest version).
    let oldest_deleted = [(3, Put), (2, Put), (1, Delete)];
    for bottommost in [false, true] {
        assert_eq!(
            run(&oldest_deleted, 2, bottommost, Tombstones::default()),
            ["k@3:Put", "k@2:Put"]
        );
    }
}

#[test]
fn ex6_a_range_tombstone_and_bottommost() {
    use ValueKind::Put;
    // Puts @1, @3, @5, a snapshot at 4, and a range tombstone @2 over the key.
    let versions = [(5, Put), (3, Put), (1, Put)];
    let tombstone =
        || Tombstones::new([RangeTombstone::new(&b"a"[..], Some((&b"z"[..]).into()), 2)]);
    let kept_tombstone = "RangeTombstone { start: b\"a\", end: Some(b\"z\"), seq: 2 }";
    assert_eq!(
        run(&versions, 4, false, tombstone()),
        ["k@5:Put", "k@3:Put", kept_tombstone]
    );
    assert_eq!(run(&versions, 4, true, tombstone()), ["k@5:Put", "k@3:Put"]);
}
