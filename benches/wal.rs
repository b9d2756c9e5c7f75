//! WAL append throughput: how fast records become durable, and how group commit scales.
//!
//! Questions it answers:
//! - What does an fsync'd append cost, for 100 B and 1 KiB records?
//! - How much does group commit help as writer threads grow from 1 to 8? Each durable
//!   configuration prints the fsyncs it issued per record: 1.0 means no sharing at all.
//! - What does an append cost when syncing is left to the caller?
//!
//! Runs on the real file system, in a temporary directory (set `TMPDIR` to choose the disk).
//! Run with `cargo bench -p ferris-benches --bench wal`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferris_fs::{FileSystem, StdFs};
use ferris_wal::{SyncMode, Wal, WalOptions};

const THREADS: [usize; 4] = [1, 2, 4, 8];
const SIZES: [usize; 2] = [100, 1024];

/// A WAL in a fresh subdirectory of `dir`: a configuration may rotate through many
/// segments, so configurations must not share a directory.
fn new_wal(dir: &Path, n_configs: &mut u64, sync_mode: SyncMode) -> Wal {
    let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    let mut options = WalOptions::default();
    options.sync_mode = sync_mode;
    *n_configs += 1;
    let dir = dir.join(n_configs.to_string());
    fs.create_dir_all(&dir).expect("create bench dir");
    Wal::create(fs, &dir, 1, options).expect("create wal")
}

/// Appends `n` records split evenly over `threads` threads; returns the elapsed time.
fn run(wal: &Wal, threads: usize, n: u64, record: &[u8]) -> Duration {
    let per_thread = n.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    wal.append(record).expect("append");
                }
            });
        }
    });
    start.elapsed()
}

fn bench_appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n_configs = 0;
    for (mode, name) in [
        (SyncMode::Always, "append_sync"),
        (SyncMode::Manual, "append_nosync"),
    ] {
        let mut group = c.benchmark_group(name);
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_millis(500));
        for size in SIZES {
            let record = vec![0xab; size];
            for threads in THREADS {
                group.throughput(Throughput::Elements(1));
                let wal = new_wal(dir.path(), &mut n_configs, mode);
                group.bench_with_input(
                    BenchmarkId::new(format!("{size}B"), format!("{threads}t")),
                    &threads,
                    |b, &t| {
                        b.iter_custom(|iters| run(&wal, t, iters, &record));
                    },
                );
                let stats = wal.stats();
                if mode == SyncMode::Always && stats.records > 0 {
                    // The segment header's fsync is not an append's.
                    let per_record = (stats.syncs - 1) as f64 / stats.records as f64;
                    eprintln!(
                        "{name}/{size}B/{threads}t: {per_record:.3} fsyncs per record ({} records)",
                        stats.records
                    );
                }
                wal.close().expect("close");
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_appends);
criterion_main!(benches);
