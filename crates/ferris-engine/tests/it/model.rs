//! A model check: random puts, deletes, range and prefix deletes, batches, flushes,
//! compactions, reopens, snapshot reads and scans both ways, against a `BTreeMap`; and
//! the same with expiring values on a manual clock (puts with their own time to live,
//! a keyspace default, the clock moving on).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use ferris_engine::{Clock, Db, ManualClock, Ttl, WriteBatch};
use ferris_fs::SimFs;
use proptest::prelude::*;

use crate::{DIR, Plug, sim_options};

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u16),
    Delete(u8),
    /// `delete_range` between two bounds (refused, and nothing changed, when empty).
    DeleteRange(Bound<u8>, Bound<u8>),
    /// `delete_prefix` of the keys whose index has this tens digit.
    DeletePrefix(u8),
    Batch(Vec<(u8, Option<u16>)>),
    Flush,
    Compact,
    Reopen,
    /// Take a snapshot, make these writes (and maybe a range delete from this key over
    /// five keys, and a compaction), then check that the snapshot still reads the state
    /// from before them.
    Snapshot(Vec<(u8, Option<u16>)>, Option<u8>, bool),
    Scan(Bound<u8>, Bound<u8>, bool),
    Get(u8),
    /// `put_with_ttl` for this many milliseconds (expiring runs only).
    PutTtl(u8, u16, u16),
    /// Move the clock on by this many milliseconds (expiring runs only).
    Advance(u16),
}

fn key(k: u8) -> String {
    format!("key{k:03}")
}

fn value(v: u16) -> String {
    // Some values are long so memtables fill and freeze on their own.
    format!("{v}-{}", "v".repeat(usize::from(v % 7) * 60))
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..40;
    let bound = prop_oneof![
        Just(Bound::Unbounded),
        (0u8..40).prop_map(Bound::Included),
        (0u8..40).prop_map(Bound::Excluded)
    ];
    prop_oneof![
        10 => (k.clone(), any::<u16>()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => k.clone().prop_map(Op::Delete),
        2 => (bound.clone(), bound.clone()).prop_map(|(a, b)| Op::DeleteRange(a, b)),
        1 => (0u8..4).prop_map(Op::DeletePrefix),
        3 => proptest::collection::vec((k.clone(), proptest::option::of(any::<u16>())), 1..6).prop_map(Op::Batch),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
        2 => (proptest::collection::vec((k.clone(), proptest::option::of(any::<u16>())), 1..20), proptest::option::of(k.clone()), any::<bool>()).prop_map(|(w, r, f)| Op::Snapshot(w, r, f)),
        2 => (bound.clone(), bound, any::<bool>()).prop_map(|(a, b, r)| Op::Scan(a, b, r)),
        3 => k.prop_map(Op::Get),
    ]
}

/// Each key's newest value and its expiry time (0: never).
type Model = BTreeMap<String, (String, u64)>;

/// What a reader at `now` sees of the model.
fn visible(model: &Model, now: u64) -> BTreeMap<String, String> {
    (model.iter())
        .filter(|(_, (_, expiry))| *expiry == 0 || *expiry > now)
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

/// The time the expiring runs start at.
const START: u64 = 1_700_000_000_000;

/// The default time to live of the expiring runs.
const DEFAULT_TTL: u64 = 300;

fn op_expiring() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => op(),
        2 => (0u8..40, any::<u16>(), 0u16..600).prop_map(|(k, v, t)| Op::PutTtl(k, v, t)),
        1 => (0u16..400).prop_map(Op::Advance),
    ]
}

/// Whether bounds over key indexes hold no key.
fn is_empty(lo: &Bound<u8>, hi: &Bound<u8>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

fn scan_model<V: Clone>(
    model: &BTreeMap<String, V>,
    lo: &Bound<u8>,
    hi: &Bound<u8>,
) -> Vec<(String, V)> {
    if is_empty(lo, hi) {
        return Vec::new();
    }
    model
        .range((lo.map(key), hi.map(key)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Deletes what `delete_range(lo..hi)` deletes from the model.
fn delete_range_model(model: &mut Model, lo: &Bound<u8>, hi: &Bound<u8>) {
    for (k, _) in scan_model(model, lo, hi) {
        model.remove(&k);
    }
}

fn run(ops: Vec<Op>, plug: Plug) {
    run_with(ops, plug, false);
}

/// Runs `ops` against the model; with `expiring`, in a database whose values expire
/// ([`DEFAULT_TTL`] by default) on a manual clock.
fn run_with(ops: Vec<Op>, plug: Plug, expiring: bool) {
    let sim = SimFs::new(9);
    let mut options = sim_options(&sim);
    plug.apply(&mut options);
    options.write_buffer_size = 4 << 10;
    let clock = Arc::new(ManualClock::new(START));
    if expiring {
        options.clock = clock.clone();
        options.ttl = Ttl::On {
            default: Some(Duration::from_millis(DEFAULT_TTL)),
        };
    }
    // What a put without a time to live of its own expires at.
    let default = |clock: &ManualClock| match expiring {
        true => clock.now() + DEFAULT_TTL,
        false => 0,
    };
    let mut db = Db::open(DIR, options.clone()).unwrap();
    let mut model = Model::new();
    for op in ops {
        let now = clock.now();
        match op {
            Op::Put(k, v) => {
                db.put(key(k), value(v)).unwrap();
                model.insert(key(k), (value(v), default(&clock)));
            }
            Op::PutTtl(k, v, ttl) => {
                let ttl = Duration::from_millis(u64::from(ttl));
                db.put_with_ttl(key(k), value(v), ttl).unwrap();
                let expiry = ferris_core::expiry::expires_at(now, ttl);
                model.insert(key(k), (value(v), expiry));
            }
            Op::Advance(ms) => clock.advance(Duration::from_millis(u64::from(ms))),
            Op::Delete(k) => {
                db.delete(key(k)).unwrap();
                model.remove(&key(k));
            }
            Op::DeleteRange(lo, hi) => {
                let result = db.delete_range((lo.map(key), hi.map(key)));
                match is_empty(&lo, &hi) {
                    true => assert!(
                        matches!(
                            result,
                            Err(ferris_engine::Error::Limit(
                                ferris_core::LimitError::EmptyRange
                            ))
                        ),
                        "{result:?}"
                    ),
                    false => result.unwrap(),
                }
                delete_range_model(&mut model, &lo, &hi);
            }
            Op::DeletePrefix(tens) => {
                db.delete_prefix(format!("key0{tens}")).unwrap();
                let lo = Bound::Included(tens * 10);
                delete_range_model(&mut model, &lo, &Bound::Excluded(tens * 10 + 10));
            }
            Op::Batch(entries) => {
                let mut batch = WriteBatch::new();
                for (k, v) in entries {
                    match v {
                        Some(v) => {
                            batch.put(key(k), value(v));
                            model.insert(key(k), (value(v), default(&clock)));
                        }
                        None => {
                            batch.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                db.write(batch).unwrap();
            }
            Op::Flush => db.flush().unwrap(),
            Op::Compact => db.compact().unwrap(),
            Op::Reopen => {
                drop(db);
                db = Db::open(DIR, options.clone()).unwrap();
            }
            Op::Snapshot(writes, range, flush) => {
                let before = visible(&model, now);
                let snap = db.snapshot().unwrap();
                // Expiry as of the snapshot, whatever the clock says now.
                clock.advance(Duration::from_millis(DEFAULT_TTL / 2));
                for (k, v) in writes {
                    match v {
                        Some(v) => {
                            db.put(key(k), value(v)).unwrap();
                            model.insert(key(k), (value(v), default(&clock)));
                        }
                        None => {
                            db.delete(key(k)).unwrap();
                            model.remove(&key(k));
                        }
                    }
                }
                if let Some(k) = range {
                    let (lo, hi) = (Bound::Included(k), Bound::Excluded(k.saturating_add(5)));
                    db.delete_range((lo.map(key), hi.map(key))).unwrap();
                    delete_range_model(&mut model, &lo, &hi);
                }
                if flush {
                    // Compaction must keep every version the snapshot can see.
                    db.compact().unwrap();
                }
                assert_eq!(
                    crate::dump(snap.iter().unwrap()),
                    before.clone().into_iter().collect::<Vec<_>>()
                );
                for k in 0..40 {
                    let got = snap
                        .get(key(k))
                        .unwrap()
                        .map(|v| String::from_utf8(v.to_vec()).unwrap());
                    assert_eq!(got, before.get(&key(k)).cloned(), "snapshot get {}", key(k));
                }
            }
            Op::Scan(lo, hi, reverse) => {
                let want = scan_model(&visible(&model, now), &lo, &hi);
                let bounds = (lo.map(key), hi.map(key));
                let got = crate::dump(db.range(bounds).unwrap());
                if reverse {
                    let mut back = crate::dump(db.range((lo.map(key), hi.map(key))).unwrap().rev());
                    back.reverse();
                    assert_eq!(back, want, "reverse scan {lo:?}..{hi:?}");
                }
                assert_eq!(got, want, "scan {lo:?}..{hi:?}");
            }
            Op::Get(k) => {
                let got = db
                    .get(key(k))
                    .unwrap()
                    .map(|v| String::from_utf8(v.to_vec()).unwrap());
                let want = visible(&model, now).get(&key(k)).cloned();
                assert_eq!(got, want, "get {}", key(k));
            }
        }
    }
    assert_eq!(
        crate::dump(db.iter().unwrap()),
        visible(&model, clock.now()).into_iter().collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_engine_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, Plug::Defaults);
    }

    #[test]
    fn the_engine_with_tiered_compaction_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, Plug::Tiered);
    }

    #[test]
    fn the_engine_with_the_btree_memtable_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, Plug::BTreeMemtable);
    }

    #[test]
    fn the_engine_with_minitables_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, Plug::MiniTable);
    }

    #[test]
    fn the_engine_with_expiring_values_matches_a_btreemap(ops in proptest::collection::vec(op_expiring(), 1..120)) {
        run_with(ops, Plug::Defaults, true);
    }

    #[test]
    fn the_engine_with_fifo_compaction_matches_a_btreemap(ops in proptest::collection::vec(op(), 1..120)) {
        run(ops, Plug::Fifo);
    }
}
