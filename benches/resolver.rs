//! The transaction resolver: what a commit's check and record cost, and how that grows
//! with the history it keeps.
//!
//! Questions it answers:
//! - What does checking one point read cost, against a history of 1,000 and 100,000
//!   remembered keys? (A map lookup: it should barely grow.)
//! - What does checking one range read cost, when 10 or 1,000 remembered keys lie inside
//!   it? (The structure's weak spot: every remembered key inside the range is visited.)
//! - What does admitting a two-key commit cost, check and record and trim, in a steady
//!   state where the history stays at its size?
//!
//! Run with `cargo bench -p ferris-benches --bench resolver`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferris_core::WriteBatch;
use ferris_txn::{Check, KeyRange, RangeSet, Resolver, ResolverLimits};

fn key(n: u64) -> String {
    format!("user{n:010}")
}

/// A resolver remembering one single-key commit per key `0..keys`, at sequence numbers
/// `1..=keys`.
fn history(keys: u64) -> Resolver {
    let mut resolver = Resolver::new(0, ResolverLimits::default());
    for n in 0..keys {
        resolver
            .record(n + 1, &[KeyRange::key(0, key(n))], 0)
            .unwrap();
    }
    resolver
}

fn bench_checks(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolver_check");
    group.throughput(Throughput::Elements(1));
    for keys in [1_000u64, 100_000] {
        let resolver = history(keys);
        // A read version after every commit: the check finds no conflict, the usual case.
        let read_version = keys;
        let reads = [KeyRange::key(0, key(keys / 2))];
        group.bench_function(BenchmarkId::new("point", keys), |b| {
            b.iter(|| resolver.check(read_version, &reads))
        });
        for inside in [10u64, 1_000] {
            let (lo, hi) = (key(keys / 4), key(keys / 4 + inside));
            let reads = [KeyRange::bounds(0, lo..hi).unwrap()];
            let id = BenchmarkId::new(format!("range_{inside}_keys_inside"), keys);
            group.bench_function(id, |b| b.iter(|| resolver.check(read_version, &reads)));
        }
    }
    group.finish();
}

fn bench_admit(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolver_admit");
    group.throughput(Throughput::Elements(1));
    for keys in [1_000u64, 100_000] {
        // Steady state: each commit writes two keys of `keys`, and the history is trimmed
        // to the last 10,000 commits, so it neither grows nor empties.
        let mut resolver = history(keys);
        let mut seq = keys;
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("two_key_commit", keys), |b| {
            b.iter(|| {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let (a, z) = ((n >> 20) % keys, (n >> 40) % keys);
                let mut batch = WriteBatch::new();
                batch.put(key(a), "1").put(key(z), "2");
                let mut ranges = RangeSet::default();
                ranges.add_key(0, key(a).as_bytes());
                ranges.add_key(0, key(z).as_bytes());
                let mut check = Check {
                    read_version: seq,
                    ranges,
                    refused: None,
                    commit: 0,
                };
                seq = resolver.admit(seq, &batch, Some(&mut check), 0, true);
                resolver.trim(seq.saturating_sub(10_000));
                check.refused
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_checks, bench_admit);
criterion_main!(benches);
