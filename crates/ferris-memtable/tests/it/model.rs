//! A model test: random puts and deletes at increasing sequence numbers, then lookups at
//! random snapshots and range scans both ways, checked against a `BTreeMap` of every version.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use ferris_core::{SeqNo, ValueKind};
use ferris_memtable::{Lookup, SkipListMemtable};
use proptest::prelude::*;

/// The model: user key -> (seq -> value, None for a tombstone).
type Model = BTreeMap<Vec<u8>, BTreeMap<SeqNo, Option<Vec<u8>>>>;

fn model_get(model: &Model, key: &[u8], snapshot: SeqNo) -> Option<Lookup> {
    let (_, v) = model.get(key)?.range(..=snapshot).next_back()?;
    Some(match v {
        Some(v) => Lookup::Value(Bytes::from(v.clone())),
        None => Lookup::Deleted,
    })
}

/// Every version in the model within user-key bounds, in internal-key order.
fn model_range(model: &Model, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Vec<(Vec<u8>, SeqNo)> {
    model
        .range((lo, hi))
        .flat_map(|(k, versions)| versions.keys().rev().map(move |s| (k.clone(), *s)))
        .collect()
}

fn small_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(b'a'..b'e', 0..3)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        small_key().prop_map(Bound::Included),
        small_key().prop_map(Bound::Excluded),
    ]
}

proptest! {
    #[test]
    fn memtable_matches_a_model_of_every_version(
        ops in proptest::collection::vec((small_key(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..4)), 1..60),
        probes in proptest::collection::vec((small_key(), 0u64..70), 1..30),
        ranges in proptest::collection::vec((bound(), bound()), 1..8),
    ) {
        let table = SkipListMemtable::new();
        let mut model = Model::new();
        for (i, (key, is_put, value)) in ops.iter().enumerate() {
            let seq = i as SeqNo + 1;
            let kind = if *is_put { ValueKind::Put } else { ValueKind::Delete };
            table.insert(Bytes::from(key.clone()), seq, kind, Bytes::from(value.clone()));
            model.entry(key.clone()).or_default().insert(seq, is_put.then(|| value.clone()));
        }
        for (key, snapshot) in &probes {
            prop_assert_eq!(table.get(key, *snapshot), model_get(&model, key, *snapshot), "get {:?} at {}", key, snapshot);
        }
        // A cursor walks the same versions as the iterator, both ways, and its seeks land
        // where the model says.
        let table = std::sync::Arc::new(table);
        let all = model_range(&model, Bound::Unbounded, Bound::Unbounded);
        let mut cursor = table.cursor();
        let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
        cursor.seek_to_first();
        while cursor.valid() {
            fwd.push((cursor.key().user_key.to_vec(), cursor.key().seq));
            cursor.next();
        }
        cursor.seek_to_last();
        while cursor.valid() {
            bwd.push((cursor.key().user_key.to_vec(), cursor.key().seq));
            cursor.prev();
        }
        bwd.reverse();
        prop_assert_eq!(&fwd, &all);
        prop_assert_eq!(&bwd, &all);
        for (key, snapshot) in &probes {
            // `seek_key` has the largest kind: every entry at `snapshot` sorts at or after it.
            let target = ferris_core::InternalKey::seek_key(Bytes::from(key.clone()), *snapshot);
            // Internal-key order: user key ascending, sequence number descending.
            let at_or_after = all.iter().find(|(k, s)| (k, std::cmp::Reverse(*s)) >= (key, std::cmp::Reverse(*snapshot)));
            let at_or_before = all.iter().rev().find(|(k, s)| (k, std::cmp::Reverse(*s)) <= (key, std::cmp::Reverse(*snapshot)));
            let here = |c: &ferris_memtable::Cursor| c.valid().then(|| (c.key().user_key.to_vec(), c.key().seq));
            cursor.seek(target.as_ref());
            prop_assert_eq!(here(&cursor), at_or_after.cloned());
            // With the smallest kind, every entry at `snapshot` sorts at or before the target.
            let target = ferris_core::InternalKey::new(Bytes::from(key.clone()), *snapshot, ValueKind::Delete);
            cursor.seek_for_prev(target.as_ref());
            prop_assert_eq!(here(&cursor), at_or_before.cloned());
        }
        for (lo, hi) in ranges {
            // BTreeMap panics on an inverted range; the memtable yields nothing for one.
            let inverted = match (&lo, &hi) {
                (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                    a > b || (a == b && !matches!((&lo, &hi), (Bound::Included(_), Bound::Included(_))))
                }
                _ => false,
            };
            let want = if inverted { Vec::new() } else { model_range(&model, lo.clone(), hi.clone()) };
            let got: Vec<(Vec<u8>, SeqNo)> =
                table.range((lo.clone(), hi.clone())).map(|(k, _)| (k.user_key().to_vec(), k.seq())).collect();
            prop_assert_eq!(&got, &want);
            let mut back: Vec<(Vec<u8>, SeqNo)> =
                table.range((lo, hi)).rev().map(|(k, _)| (k.user_key().to_vec(), k.seq())).collect();
            back.reverse();
            prop_assert_eq!(back, want);
        }
    }
}
