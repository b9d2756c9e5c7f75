//! `Db::multi_get` against `Db::get` and a model, with the keys spread over the
//! memtable, frozen memtables, level 0 and deeper levels.

use std::collections::BTreeMap;

use ferris_engine::{Bytes, Db, WriteBatch};
use ferris_fs::SimFs;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rstest::rstest;

use crate::{DIR, Plug, stable_options};

const KEYS: u32 = 500;

fn key(k: u32) -> String {
    format!("key{k:05}")
}

/// Writes `n` random puts and deletes of keys below [`KEYS`], in small batches, to `db`
/// and `model`.
fn write(db: &Db, model: &mut BTreeMap<String, Bytes>, rng: &mut SmallRng, n: usize) {
    let mut batch = WriteBatch::new();
    for i in 0..n {
        let k = key(rng.random_range(0..KEYS));
        if rng.random_ratio(1, 5) {
            batch.delete(&k);
            model.remove(&k);
        } else {
            let value = Bytes::from(format!("{k}-{i}-{}", "v".repeat(rng.random_range(0..200))));
            batch.put(&k, &value);
            model.insert(k, value);
        }
        if batch.len() == 8 {
            db.write(std::mem::take(&mut batch)).unwrap();
        }
    }
    db.write(batch).unwrap();
}

/// Random batches of keys (held ones, deleted ones, ones never written, repeats, the
/// same key many times, the empty batch) answered by `multi_get` as by `get` and the
/// model.
fn check(db: &Db, model: &BTreeMap<String, Bytes>, rng: &mut SmallRng, stage: &str) {
    for round in 0..30 {
        let n = [0, 1, 2, 10, 100, 400][round % 6];
        let keys: Vec<String> = (0..n)
            .map(|_| match rng.random_range(0..10) {
                // Past every key written, or between two of them.
                0 => format!("zzz{}", rng.random_range(0..3)),
                1 => format!("{}!", key(rng.random_range(0..KEYS))),
                _ => key(rng.random_range(0..KEYS)),
            })
            .collect();
        let got = db.multi_get(&keys).unwrap();
        assert_eq!(got.len(), keys.len());
        for (key, got) in keys.iter().zip(&got) {
            assert_eq!(got, &db.get(key).unwrap(), "{stage}: {key}, round {round}");
            assert_eq!(
                got.as_ref(),
                model.get(key),
                "{stage}: {key}, round {round}"
            );
        }
    }
}

/// The layers a read goes through are all tried: compacted levels, then level-0 tables
/// over them, then the memtables over those, each with overwrites and deletes of keys
/// below.
#[rstest]
#[case::defaults(Plug::Defaults)]
#[case::tiered(Plug::Tiered)]
#[case::btree_memtable(Plug::BTreeMemtable)]
#[case::minitable(Plug::MiniTable)]
#[case::fifo(Plug::Fifo)]
fn multi_get_agrees_with_get_in_every_layer(#[case] plug: Plug) {
    let seed = 0x6d67 + plug as u64;
    let mut rng = SmallRng::seed_from_u64(seed);
    let sim = SimFs::new(seed);
    let mut options = stable_options(&sim);
    options.write_buffer_size = 8 << 10;
    // Several tables per level, so a batch's keys are split among them.
    options.compaction.target_file_size = 16 << 10;
    // Level 0 is left to grow until `compact`, so that reads find tables there.
    options.compaction.l0_compaction_trigger = 1000;
    options.compaction.l0_slowdown_trigger = 1000;
    options.compaction.l0_stop_trigger = 1000;
    plug.apply(&mut options);
    let db = Db::open(DIR, options).unwrap();
    let mut model = BTreeMap::new();

    write(&db, &mut model, &mut rng, 1500);
    db.compact().unwrap();
    let stats = db.stats();
    if plug != Plug::Fifo {
        // FIFO compaction never merges: its tables all stay in level 0.
        assert!(stats.levels[1..].iter().any(|l| l.files > 1), "{stats:?}");
    }
    check(&db, &model, &mut rng, "compacted");

    for _ in 0..2 {
        write(&db, &mut model, &mut rng, 200);
        db.flush().unwrap();
    }
    assert!(db.stats().levels[0].files > 0, "{:?}", db.stats());
    check(&db, &model, &mut rng, "with level 0");

    // Enough to fill and freeze memtables; whatever is flushed by the time of the reads,
    // the answers are the same.
    write(&db, &mut model, &mut rng, 300);
    check(&db, &model, &mut rng, "with memtables");
}

/// One batch reads at one moment: a snapshot's worth of values, whatever writers do.
#[test]
fn multi_get_reads_every_key_at_one_sequence_number() {
    let sim = SimFs::new(31);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let keys: Vec<String> = (0..64).map(key).collect();
    let round = |r: u32| {
        let mut batch = WriteBatch::new();
        for k in &keys {
            batch.put(k, r.to_string());
        }
        batch
    };
    db.write(round(0)).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for r in 1..200 {
                db.write(round(r)).unwrap();
                if r % 50 == 0 {
                    db.flush().unwrap();
                }
            }
        });
        for _ in 0..200 {
            let values = db.multi_get(&keys).unwrap();
            let first = values[0].clone().expect("every key is set");
            assert!(
                values.iter().all(|v| v.as_ref() == Some(&first)),
                "{values:?}"
            );
        }
    });
}

#[test]
fn multi_get_on_a_closed_database_is_closed() {
    let sim = SimFs::new(32);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    db.close().unwrap();
    assert!(matches!(
        db.multi_get(["a"]),
        Err(ferris_engine::Error::Closed)
    ));
}
