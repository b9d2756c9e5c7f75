//! The engine end to end: `put` and `get` through `Db`, on a real directory.
//!
//! Questions it answers:
//! - What does a write cost through the whole write path (write queue, WAL append,
//!   memtable insert), with per-write sync off and on?
//! - What does a point lookup cost when the key is in the memtable, and when it is in
//!   level-0 tables after a flush (bloom filter, index, block cache)?
//! - What does a miss cost?
//! - How much does `multi_get` save over a loop of `get` for a batch of 100 random keys
//!   of a settled (compacted) database?
//!
//! Run with `cargo bench -p ferris-benches --bench engine`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferris_benches::Workload;
use ferris_engine::{Db, Options};

const N: usize = 20_000;
const VALUE_SIZE: usize = 100;
/// Keys per batch of the `batch_of_100` pair, and how many different batches it cycles
/// through.
const BATCH: usize = 100;
const BATCHES: usize = 256;

fn options(sync: bool) -> Options {
    let mut options = Options::default();
    options.sync_writes = sync;
    options
}

fn bench(c: &mut Criterion) {
    let mut workload = Workload::new(1);
    let keys = workload.shuffled_keys(N);
    let misses: Vec<Vec<u8>> = keys.iter().map(|k| [&k[..], &b"~"[..]].concat()).collect();
    let value = workload.value(VALUE_SIZE);

    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));

    group.throughput(Throughput::Elements(N as u64));
    group.bench_function(BenchmarkId::new("put", "nosync"), |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db = Db::open(dir.path(), options(false)).unwrap();
                (dir, db)
            },
            |(dir, db)| {
                for key in &keys {
                    db.put(key, &value).unwrap();
                }
                drop(db);
                drop(dir);
            },
        );
    });

    // A synced write waits for an fsync, so fewer of them make a sample.
    let synced = 200;
    group.throughput(Throughput::Elements(synced as u64));
    group.bench_function(BenchmarkId::new("put", "sync"), |b| {
        b.iter_with_setup(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db = Db::open(dir.path(), options(true)).unwrap();
                (dir, db)
            },
            |(dir, db)| {
                for key in &keys[..synced] {
                    db.put(key, &value).unwrap();
                }
                drop(db);
                drop(dir);
            },
        );
    });

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(false)).unwrap();
    for key in &keys {
        db.put(key, &value).unwrap();
    }
    group.throughput(Throughput::Elements(N as u64));
    for (place, flush) in [("memtable", false), ("table", true)] {
        if flush {
            db.flush().unwrap();
        }
        group.bench_function(BenchmarkId::new("get_hit", place), |b| {
            b.iter(|| {
                for key in &keys {
                    assert!(db.get(key).unwrap().is_some());
                }
            });
        });
    }
    group.bench_function(BenchmarkId::new("get_miss", "table"), |b| {
        b.iter(|| {
            for key in &misses {
                assert!(db.get(key).unwrap().is_none());
            }
        });
    });

    // A settled database (everything compacted into sorted runs), read in batches of
    // `BATCH` random existing keys: `multi_get` against a loop of `get` over the same
    // batches, one batch per iteration.
    db.compact().unwrap();
    let mut pick = Workload::new(2);
    let batches: Vec<Vec<&[u8]>> = (0..BATCHES)
        .map(|_| (0..BATCH).map(|_| &keys[pick.index(N)][..]).collect())
        .collect();
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("batch_of_100", "get_loop"), |b| {
        let mut next = batches.iter().cycle();
        b.iter(|| {
            for key in next.next().unwrap() {
                assert!(db.get(key).unwrap().is_some());
            }
        });
    });
    group.bench_function(BenchmarkId::new("batch_of_100", "multi_get"), |b| {
        let mut next = batches.iter().cycle();
        b.iter(|| {
            let values = db.multi_get(next.next().unwrap()).unwrap();
            assert!(values.iter().all(Option::is_some));
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
