//! Memtable throughput: inserts and point lookups (hits and misses), with 1 and 2 threads.
//!
//! Questions it answers:
//! - How many inserts per second does the skip list take, and does a second thread add
//!   throughput or only contention?
//! - What does a point lookup cost when the key is there, and when it is not?
//! - What does freeing a full memtable cost, the thread that drops it last?
//!
//! Run with `cargo bench -p ferris-benches --bench memtable`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferris_benches::Workload;
use ferris_core::{SeqNo, ValueKind};
use ferris_memtable::SkipListMemtable;

const N: usize = 100_000;
const VALUE_SIZE: usize = 100;

fn fill(table: &SkipListMemtable, keys: &[Bytes], value: &Bytes, threads: usize) {
    let chunk = keys.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (t, part) in keys.chunks(chunk).enumerate() {
            s.spawn(move || {
                for (i, key) in part.iter().enumerate() {
                    table.insert(
                        key.clone(),
                        (t * chunk + i + 1) as SeqNo,
                        ValueKind::Put,
                        value.clone(),
                    );
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let mut workload = Workload::new(1);
    let keys: Vec<Bytes> = workload
        .shuffled_keys(N)
        .into_iter()
        .map(Bytes::from)
        .collect();
    let misses: Vec<Vec<u8>> = keys.iter().map(|k| [k.as_ref(), b"~"].concat()).collect();
    let value = Bytes::from(workload.value(VALUE_SIZE));

    let mut group = c.benchmark_group("memtable");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(N as u64));
    for threads in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("insert", format!("{threads}t")),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let table = SkipListMemtable::new();
                        let start = Instant::now();
                        fill(&table, &keys, &value, t);
                        total += start.elapsed();
                    }
                    total
                });
            },
        );
    }
    // Freeing a full memtable: what whoever lets go of it last pays (see
    // `ferris_core::memtable::retire`).
    group.bench_function("drop", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let table = SkipListMemtable::new();
                fill(&table, &keys, &value, 1);
                let start = Instant::now();
                drop(table);
                total += start.elapsed();
            }
            total
        });
    });
    let table = SkipListMemtable::new();
    fill(&table, &keys, &value, 1);
    for (name, probes) in [
        (
            "get_hit",
            keys.iter().map(|k| k.to_vec()).collect::<Vec<_>>(),
        ),
        ("get_miss", misses),
    ] {
        for threads in [1usize, 2] {
            group.bench_with_input(
                BenchmarkId::new(name, format!("{threads}t")),
                &threads,
                |b, &t| {
                    b.iter_custom(|iters| {
                        let chunk = probes.len().div_ceil(t);
                        let start = Instant::now();
                        for _ in 0..iters {
                            std::thread::scope(|s| {
                                for part in probes.chunks(chunk) {
                                    let table = &table;
                                    s.spawn(move || {
                                        part.iter()
                                            .filter(|p| table.get(p, SeqNo::MAX >> 8).is_some())
                                            .count()
                                    });
                                }
                            });
                        }
                        start.elapsed()
                    });
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
