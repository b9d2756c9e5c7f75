//! Sorted tables: building, point lookups, scans and seeks.
//!
//! Questions it answers:
//! - How fast is a table built from sorted entries, raw and zstd-compressed?
//! - What does a point lookup cost when the key is there, and when it is not, with and
//!   without the bloom filter? What does the block cache save?
//! - How fast is a full scan, and a random seek, raw and compressed?
//!
//! Tables live on the real file system (memory-mapped) in a temporary directory.
//! Run with `cargo bench -p ferris-benches --bench sstable`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferris_benches::Workload;
use ferris_core::{InternalKey, ValueKind};
use ferris_fs::{FileSystem, StdFs};
use ferris_sstable::{BlockCache, Compression, ReadOptions, Table, TableOptions, TableWriter};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const N: usize = 100_000;
const PROBES: usize = 1_000;

fn options(compression: Compression, bloom: bool) -> TableOptions {
    let mut o = TableOptions::default();
    o.compression = compression;
    o.bloom_bits_per_key = if bloom { 10 } else { 0 };
    o
}

fn build(fs: &Arc<dyn FileSystem>, path: &Path, entries: &[(InternalKey, Bytes)], o: TableOptions) {
    if fs.exists(path).unwrap() {
        fs.remove(path).unwrap();
    }
    let mut w = TableWriter::create(fs.clone(), path, o).unwrap();
    for (k, v) in entries {
        w.add(k, v).unwrap();
    }
    w.finish().unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    let mut workload = Workload::new(3);
    let mut keys = workload.shuffled_keys(N);
    keys.sort();
    // Compressible values, like real records: a short random part, then repetition.
    let value = {
        let mut v = workload.value(20);
        v.extend(std::iter::repeat_n(b'x', 80));
        Bytes::from(v)
    };
    let entries: Vec<(InternalKey, Bytes)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                InternalKey::new(Bytes::from(k.clone()), i as u64 + 1, ValueKind::Put),
                value.clone(),
            )
        })
        .collect();
    let mut rng = SmallRng::seed_from_u64(5);
    let hits: Vec<Vec<u8>> = (0..PROBES)
        .map(|_| keys[rng.random_range(0..N)].clone())
        .collect();
    let misses: Vec<Vec<u8>> = hits.iter().map(|k| [&k[..], b"~"].concat()).collect();

    let mut group = c.benchmark_group("sstable");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));

    group.throughput(Throughput::Elements(N as u64));
    for (name, compression) in [("raw", Compression::None), ("zstd", Compression::Zstd)] {
        let path = dir.path().join(format!("build-{name}.sst"));
        group.bench_function(BenchmarkId::new("build", name), |b| {
            b.iter(|| build(&fs, &path, &entries, options(compression, true)));
        });
    }

    let open = |name: &str, compression, bloom, cache: Option<Arc<BlockCache>>| {
        let path = dir.path().join(format!("{name}.sst"));
        build(&fs, &path, &entries, options(compression, bloom));
        let read = cache.map_or_else(ReadOptions::default, ReadOptions::with_cache);
        Table::open_with(&*fs, &path, read).unwrap()
    };
    let cache = || Some(Arc::new(BlockCache::new(64 << 20)));
    let tables = [
        ("raw", open("raw", Compression::None, true, None)),
        ("zstd", open("zstd", Compression::Zstd, true, None)),
        (
            "raw_cached",
            open("raw-cached", Compression::None, true, cache()),
        ),
        (
            "raw_cached_nobloom",
            open("raw-nobloom", Compression::None, false, cache()),
        ),
    ];

    group.throughput(Throughput::Elements(PROBES as u64));
    for (name, table) in &tables {
        group.bench_function(BenchmarkId::new("get_hit", name), |b| {
            b.iter(|| {
                hits.iter()
                    .filter(|k| table.get(k, u64::MAX >> 8).unwrap().is_some())
                    .count()
            });
        });
        group.bench_function(BenchmarkId::new("get_miss", name), |b| {
            b.iter(|| {
                misses
                    .iter()
                    .filter(|k| table.get(k, u64::MAX >> 8).unwrap().is_some())
                    .count()
            });
        });
        group.bench_function(BenchmarkId::new("seek_next", name), |b| {
            b.iter(|| {
                let mut n = 0;
                for k in &hits {
                    let mut c = table.cursor();
                    c.seek(
                        &InternalKey::seek_key(Bytes::copy_from_slice(k), u64::MAX >> 8).encode(),
                    );
                    c.next();
                    n += usize::from(c.valid());
                }
                n
            });
        });
    }

    group.throughput(Throughput::Elements(N as u64));
    for (name, table) in &tables[..2] {
        group.bench_function(BenchmarkId::new("scan", name), |b| {
            b.iter(|| table.iter().count())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
