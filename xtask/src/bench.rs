//! `cargo xtask bench`: FerrisDB's main job.
//!
//! Two parts, one command:
//!
//! 1. The engine suite, db_bench's and YCSB's workloads, run by the `ferris-dbbench` crate
//!    (`benches/dbbench`) in a process of its own per engine. With `--compare
//!    rocksdb,fjall,sled` the same run covers those engines too: the crate is then built
//!    with their cargo features in a target directory of its own (`target/peers`), so the
//!    workspace's normal builds and CI never compile RocksDB.
//! 2. The components below the engine: durable puts through the engine with group commit
//!    (1 thread and the most `--wal-threads`), the WAL (durable appends at several thread
//!    counts, appends without sync at 1 thread and the most, recovery), the memtable
//!    (inserts and lookups) and the bloom filter. `--no-components` skips them.
//!
//! Every figure comes from this run on this machine; the header says which machine that is.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use ferris_core::{BatchEntry, BatchOp, DEFAULT_KEYSPACE, SeqNo};
use ferris_dbbench::SuiteArgs;
use ferris_dbbench::engine::EngineKind;
use ferris_engine::{Db, Options};
use ferris_fs::{FileSystem, StdFs};
use ferris_memtable::SkipListMemtable;
use ferris_wal::{RecoveryOptions, SyncMode, Wal, WalOptions, WalRecovery};
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Options of `cargo xtask bench`.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Peers to run beside FerrisDB in the same run, comma separated: rocksdb, fjall, sled.
    /// The first build with rocksdb compiles RocksDB's C++ (about 9 minutes on 2 cores;
    /// needs clang and libclang-dev).
    #[arg(long, value_delimiter = ',')]
    compare: Vec<EngineKind>,
    /// Skip the component benchmarks (WAL, memtable, bloom filter, group commit).
    #[arg(long)]
    no_components: bool,
    /// Skip the engine suite (run only the components).
    #[arg(long)]
    no_suite: bool,
    /// Durable appends (WAL) and durable puts (engine) per thread count.
    #[arg(long, default_value_t = 20_000)]
    wal_records: usize,
    /// Writer thread counts for the durable WAL workload, comma separated; the engine's
    /// durable puts and the WAL's appends without sync run at 1 and the largest.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    wal_threads: Vec<usize>,
}

/// One line of the results table.
struct Row {
    workload: String,
    threads: usize,
    ops: u64,
    elapsed: Duration,
    bytes: u64,
    latency: Option<Histogram<u64>>,
    note: String,
}

impl Row {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }

    fn quantile_us(&self, q: f64) -> Option<f64> {
        self.latency
            .as_ref()
            .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
    }
}

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    let mut suite = args.suite.clone();
    for peer in &args.compare {
        if !suite.engines.contains(peer) {
            suite.engines.push(*peer);
        }
    }
    if !args.no_suite {
        run_suite(&suite, &args.compare)?;
    }
    if args.no_components {
        return Ok(());
    }

    let temp;
    let dir = match &suite.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join("components")
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    println!();
    println!("FerrisDB components");
    println!(
        "machine: {}; directory: {}",
        ferris_dbbench::machine(),
        dir.display()
    );
    println!();
    let (num, value_size) = (usize::try_from(suite.num)?, suite.value_size);
    let mut rows = Vec::new();

    eprintln!("[1/5] engine: durable puts with group commit ...");
    rows.extend(durable_puts(&dir.join("engine"), args)?);
    let engine_rows = rows.len();

    eprintln!("[2/5] wal: durable appends with group commit ...");
    for &threads in &args.wal_threads {
        rows.push(wal_appends(
            &dir.join(format!("wal-sync-{threads}")),
            SyncMode::Always,
            threads,
            args.wal_records,
            value_size,
        )?);
    }
    let base = rows.get(engine_rows).map(Row::ops_per_sec).unwrap_or(1.0);
    for row in &mut rows[engine_rows..] {
        row.note = format!("{}, {:.2}x 1 thread", row.note, row.ops_per_sec() / base);
    }

    eprintln!("[3/5] wal: appends without sync, then recovery ...");
    let max_threads = args.wal_threads.iter().copied().max().unwrap_or(1);
    let nosync_dir = dir.join("wal-nosync-1");
    let single = wal_appends(&nosync_dir, SyncMode::Manual, 1, num, value_size)?;
    let single_rate = single.ops_per_sec();
    rows.push(single);
    rows.push(wal_recover(&nosync_dir)?);
    if max_threads > 1 {
        let dir = dir.join(format!("wal-nosync-{max_threads}"));
        let mut row = wal_appends(&dir, SyncMode::Manual, max_threads, num, value_size)?;
        row.note = format!(
            "{}, {:.2}x 1 thread",
            row.note,
            row.ops_per_sec() / single_rate
        );
        rows.push(row);
    }

    eprintln!("[4/5] memtable: inserts and lookups ...");
    rows.extend(memtable(num, value_size)?);

    eprintln!("[5/5] bloom filter: probes and false positives ...");
    rows.push(bloom(num));

    print_table(&rows);
    if let Some(path) = &suite.json {
        add_components_to_json(path, &rows)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs the engine suite in the `ferris-dbbench` binary. Without peers it is built in the
/// workspace's own target directory; with peers, with their features in `target/peers`,
/// so that switching between the two does not rebuild either.
fn run_suite(suite: &SuiteArgs, peers: &[EngineKind]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["run", "--release", "--quiet", "-p", "ferris-dbbench"]);
    if !peers.is_empty() {
        let features: Vec<&str> = peers.iter().map(|p| p.name()).collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask sits in the workspace")?;
        command
            .arg("--features")
            .arg(features.join(","))
            .arg("--target-dir")
            .arg(root.join("target/peers"));
        eprintln!(
            "building ferris-dbbench with {} (the first build with rocksdb takes several minutes) ...",
            features.join(", ")
        );
    }
    command.arg("--").args(suite.to_args());
    let status = command.status().context("running cargo")?;
    if !status.success() {
        bail!("the engine suite failed ({status})");
    }
    Ok(())
}

/// Durable puts (sync on) through the engine at 1 thread and at the most `--wal-threads`:
/// what group commit gives concurrent writers.
fn durable_puts(dir: &Path, args: &BenchArgs) -> Result<Vec<Row>> {
    let entry_bytes = (16 + args.suite.value_size) as u64;
    let value = vec![0x5au8; args.suite.value_size];
    let mut rows = Vec::new();
    let max_threads = args.wal_threads.iter().copied().max().unwrap_or(1);
    let mut single = None;
    for threads in [1, max_threads] {
        let db = Db::open(dir.join(format!("sync-{threads}")), Options::default())?;
        let per_thread = args.wal_records.div_ceil(threads);
        let (elapsed, latency) = timed_writers(threads, per_thread, |t, i| {
            db.put(format!("t{t:02}-{i:012}"), &value)?;
            Ok(())
        })?;
        let stats = db.stats();
        let ops = (per_thread * threads) as u64;
        let ops_per_sec = ops as f64 / elapsed.as_secs_f64();
        let base = *single.get_or_insert(ops_per_sec);
        rows.push(Row {
            workload: "db put, fsync".into(),
            threads,
            ops,
            elapsed,
            bytes: ops * entry_bytes,
            latency: Some(latency),
            note: format!(
                "{:.3} fsyncs/write, {:.2}x 1 thread",
                stats.wal_syncs.saturating_sub(1) as f64 / ops as f64,
                ops_per_sec / base
            ),
        });
    }
    Ok(rows)
}

fn new_wal(dir: &Path, sync_mode: SyncMode) -> Result<Wal> {
    std::fs::create_dir_all(dir)?;
    let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    let mut options = WalOptions::default();
    options.sync_mode = sync_mode;
    Ok(Wal::create(fs, dir, 1, options)?)
}

/// Runs `op(thread, i)` for `i` in `0..per_thread` on each of `threads` threads at once;
/// returns the wall time and every call's latency.
fn timed_writers(
    threads: usize,
    per_thread: usize,
    op: impl Fn(usize, usize) -> Result<()> + Sync,
) -> Result<(Duration, Histogram<u64>)> {
    let start = Instant::now();
    let histograms: Vec<Histogram<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let op = &op;
                s.spawn(move || -> Result<Histogram<u64>> {
                    let mut h = histogram();
                    for i in 0..per_thread {
                        let started = Instant::now();
                        op(t, i)?;
                        h.record(started.elapsed().as_nanos() as u64)?;
                    }
                    Ok(h)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread panicked"))
            .collect::<Result<_>>()
    })?;
    let elapsed = start.elapsed();
    let mut latency = histogram();
    for h in &histograms {
        latency.add(h)?;
    }
    Ok((elapsed, latency))
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// `threads` writers share `n_records` appends, each synced (`SyncMode::Always`) or not
/// (`SyncMode::Manual`); latency is per append.
fn wal_appends(
    dir: &Path,
    mode: SyncMode,
    threads: usize,
    n_records: usize,
    value_size: usize,
) -> Result<Row> {
    let wal = new_wal(dir, mode)?;
    let record = vec![0x5a; 16 + value_size];
    let per_thread = n_records.div_ceil(threads);
    let (elapsed, latency) = timed_writers(threads, per_thread, |_, _| {
        wal.append(&record)?;
        Ok(())
    })?;
    let stats = wal.stats();
    wal.close()?;
    let (workload, note) = match mode {
        SyncMode::Always => {
            // The segment header's fsync at creation and the seal's at close are not
            // appends'.
            let per_record = stats.syncs.saturating_sub(1) as f64 / stats.records as f64;
            (
                "wal append, fsync",
                format!("{per_record:.3} fsyncs/record"),
            )
        }
        _ => (
            "wal append, no sync",
            format!("{} segments", stats.rotations + 1),
        ),
    };
    Ok(Row {
        workload: workload.into(),
        threads,
        ops: stats.records,
        elapsed,
        bytes: stats.payload_bytes,
        latency: Some(latency),
        note,
    })
}

fn wal_recover(dir: &Path) -> Result<Row> {
    let fs: Arc<dyn FileSystem> = Arc::new(StdFs::default());
    let start = Instant::now();
    let mut recovery = WalRecovery::open(fs, dir, RecoveryOptions::default())?;
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Some(record) = recovery.next_record()? {
        n += 1;
        bytes += record.data.len() as u64;
    }
    let elapsed = start.elapsed();
    let report = recovery.finish();
    anyhow::ensure!(
        report.events.is_empty(),
        "clean WAL reported {:?}",
        report.events
    );
    Ok(Row {
        workload: "wal recovery".into(),
        threads: 1,
        ops: n,
        elapsed,
        bytes,
        latency: None,
        note: "records replayed".into(),
    })
}

fn memtable(n: usize, value_size: usize) -> Result<Vec<Row>> {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut keys: Vec<Bytes> = (0..n).map(|i| Bytes::from(format!("key{i:013}"))).collect();
    keys.shuffle(&mut rng);
    let mut value = vec![0u8; value_size];
    rng.fill(&mut value[..]);
    let value = Bytes::from(value);
    let entry_bytes = (keys.first().map_or(0, Bytes::len) + value_size) as u64;
    let mut rows = Vec::new();

    for threads in [1usize, 2] {
        let rss_before = rss_bytes();
        let table = SkipListMemtable::new();
        let chunk = n.div_ceil(threads);
        let start = Instant::now();
        std::thread::scope(|s| {
            for (t, part) in keys.chunks(chunk).enumerate() {
                let (table, value) = (&table, &value);
                s.spawn(move || {
                    for (i, key) in part.iter().enumerate() {
                        let seq = (t * chunk + i) as SeqNo + 1;
                        // One entry per call, as the engine's write path applies a
                        // one-put batch (copying key and value into the memtable).
                        table.apply([BatchEntry {
                            seq,
                            keyspace: DEFAULT_KEYSPACE,
                            kind: BatchOp::Put,
                            key: &key[..],
                            value: &value[..],
                        }]);
                    }
                });
            }
        });
        let elapsed = start.elapsed();
        rows.push(Row {
            workload: "memtable insert".into(),
            threads,
            ops: n as u64,
            elapsed,
            bytes: n as u64 * entry_bytes,
            latency: None,
            // Only the first table starts from a clean heap: the allocator reuses what the
            // dropped first table freed, so RSS says nothing about the second.
            note: memory_note(
                table.approximate_size(),
                rss_before.filter(|_| threads == 1),
                rss_bytes(),
            ),
        });
        if threads == 1 {
            rows.extend(memtable_lookups(&table, &keys, &mut rng)?);
        }
    }
    Ok(rows)
}

/// The memtable's own estimate of its size beside what the process's resident memory
/// actually grew by, so the estimate can be checked on every run.
fn memory_note(accounted: usize, rss_before: Option<u64>, rss_after: Option<u64>) -> String {
    let mib = |b: f64| b / f64::from(1 << 20);
    let mut note = format!("{:.0} MiB accounted", mib(accounted as f64));
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        note.push_str(&format!(
            ", RSS grew {:.0} MiB",
            mib(after.saturating_sub(before) as f64)
        ));
    }
    note
}

/// Resident set size from `/proc/self/status` (Linux), or `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn memtable_lookups(
    table: &SkipListMemtable,
    keys: &[Bytes],
    rng: &mut SmallRng,
) -> Result<Vec<Row>> {
    let n = keys.len().min(500_000);
    let mut rows = Vec::new();
    for (workload, hit) in [("memtable get, hit", true), ("memtable get, miss", false)] {
        let probes: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let key = &keys[rng.random_range(0..keys.len())];
                if hit {
                    key.to_vec()
                } else {
                    [key.as_ref(), b"-missing"].concat()
                }
            })
            .collect();
        let start = Instant::now();
        let mut found = 0usize;
        for probe in &probes {
            found += usize::from(table.get(probe, SeqNo::MAX >> 8).is_some());
        }
        let elapsed = start.elapsed();
        anyhow::ensure!(
            found == if hit { n } else { 0 },
            "{workload}: {found} of {n} found"
        );
        rows.push(Row {
            workload: workload.into(),
            threads: 1,
            ops: n as u64,
            elapsed,
            bytes: 0,
            latency: None,
            note: String::new(),
        });
    }
    Ok(rows)
}

/// Builds a filter of `n` keys at the default 10 bits per key, then probes `n` keys that
/// were never added: every "maybe" is a false positive.
fn bloom(n: usize) -> Row {
    use ferris_sstable::filter::{BloomBuilder, DEFAULT_BITS_PER_KEY, may_contain};
    let key = |i: usize| format!("key{i:013}");
    let mut builder = BloomBuilder::new(DEFAULT_BITS_PER_KEY);
    for i in 0..n {
        builder.add(key(i).as_bytes());
    }
    let filter = builder.finish();
    let absent: Vec<String> = (n..2 * n).map(key).collect();
    let start = Instant::now();
    let false_positives = absent
        .iter()
        .filter(|k| may_contain(&filter, k.as_bytes()))
        .count();
    let elapsed = start.elapsed();
    let rate = false_positives as f64 / n.max(1) as f64 * 100.0;
    Row {
        workload: "bloom probe, absent".into(),
        threads: 1,
        ops: n as u64,
        elapsed,
        bytes: 0,
        latency: None,
        note: format!("{rate:.2}% false positives at {DEFAULT_BITS_PER_KEY} bits/key"),
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<22} {:>3} {:>12} {:>9} {:>9} {:>9} {:>9}  notes",
        "workload", "thr", "ops/s", "MB/s", "p50 us", "p99 us", "p99.9 us"
    );
    for r in rows {
        println!(
            "{:<22} {:>3} {:>12.0} {:>9} {:>9} {:>9} {:>9}  {}",
            r.workload,
            r.threads,
            r.ops_per_sec(),
            fmt_opt((r.bytes > 0).then(|| r.mb_per_sec())),
            fmt_opt(r.quantile_us(0.5)),
            fmt_opt(r.quantile_us(0.99)),
            fmt_opt(r.quantile_us(0.999)),
            r.note
        );
    }
}

/// Adds the component rows to the suite's JSON at `path` (or writes them alone when the
/// suite did not run).
fn add_components_to_json(path: &Path, rows: &[Row]) -> Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "workload": r.workload,
                "threads": r.threads,
                "ops": r.ops,
                "seconds": r.elapsed.as_secs_f64(),
                "ops_per_sec": r.ops_per_sec(),
                "mb_per_sec": r.mb_per_sec(),
                "p50_us": r.quantile_us(0.5),
                "p99_us": r.quantile_us(0.99),
                "p999_us": r.quantile_us(0.999),
                "note": r.note,
            })
        })
        .collect();
    let mut json = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("reading the suite's {}", path.display()))?,
        Err(_) => serde_json::json!({ "machine": ferris_dbbench::machine() }),
    };
    json["components"] = serde_json::Value::Array(rows);
    std::fs::write(path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", path.display()))
}
