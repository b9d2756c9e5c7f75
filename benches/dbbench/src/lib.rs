//! FerrisDB's db_bench: the workloads people use to compare storage engines, run on
//! FerrisDB and, behind cargo features, on RocksDB, fjall and sled, in one run.
//!
//! `cargo xtask bench` drives it; `docs/benchmarks.md` is the user's guide. The parts:
//!
//! - [`engine::Engine`]: the narrow interface every engine is driven through (batched
//!   writes, gets, batched gets, deletes, range deletes, seek-and-scan, full scans, a full
//!   manual compaction), with FerrisDB's side of it; the peers' sides are in `peers.rs`,
//!   each behind its feature so that `cargo test --workspace` never compiles RocksDB.
//! - [`workload::Workload`]: db_bench's fillseq, fillrandom, overwrite, readrandom,
//!   multiget (RocksDB's `MultiGet`), readmissing, readseq, readreverse, seekrandom and
//!   deleterandom, YCSB A, B, C, E and F with scrambled zipfian keys ([`zipf`]), a
//!   checkpoint of the filled database (RocksDB's `Checkpoint`), writes over four
//!   keyspaces, and every key deleted one by one (`deleteseq`) against one range delete
//!   (`deleterange`, RocksDB's `DeleteRange`), each followed by the point reads and the
//!   scan of what it deleted (`-get`, `-scan`), and expiring values: a random fill and
//!   random reads of a database whose values live an hour (`fillrandom-ttl`,
//!   `readrandom-ttl`, against RocksDB's `DBWithTTL`), and the full compaction that
//!   gives back the space of values that have all expired (`expire`).
//! - [`txn`]: the transaction workloads, on each engine's optimistic transactions
//!   (FerrisDB's `Db::transaction`, RocksDB's `OptimisticTransactionDB`, fjall's
//!   `OptimisticTxDatabase`): transfers between accounts that retry on conflict, uniform
//!   and zipfian (`transfer-uniform`, `transfer-zipf`, with the abort rate and a check that
//!   the balances still add up), and a blind two-key commit against a plain write of the
//!   same batch (`commit-pair`, `write-pair`).
//! - [`run`]: runs each engine in a child process of its own, one after another, so each
//!   engine's peak RSS and disk writes are its own, then prints one table with every
//!   figure as a ratio of FerrisDB over each peer, and optionally writes JSON and an SVG
//!   chart ([`report`]).
//!
//! Every figure is measured in the run that prints it. The machine is printed with it.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

pub mod engine;
mod limit;
pub mod peers;
mod proc;
pub mod report;
pub mod txn;
pub mod workload;
pub mod zipf;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::engine::{Codec, EngineKind, Settings};
use crate::workload::{Measurement, State, Workload};

/// The options of a suite run; `cargo xtask bench` takes the same ones.
#[derive(Args, Clone, Debug)]
pub struct SuiteArgs {
    /// Keys in the database (16-byte keys).
    #[arg(long, default_value_t = 1_000_000)]
    pub num: u64,
    /// Point reads and YCSB operations per workload (default: --num); seekrandom and
    /// YCSB E run a tenth as many.
    #[arg(long)]
    pub reads: Option<u64>,
    /// Puts of the overwrite workload (default: --num). With `--overwrites` ten times
    /// `--num`, each key is overwritten ten times on average.
    #[arg(long)]
    pub overwrites: Option<u64>,
    /// Committed transactions of each transfer workload, and batches of each of
    /// write-pair and commit-pair (default: --num / 20). The transfers move money between
    /// --num / 10 accounts.
    #[arg(long)]
    pub transfers: Option<u64>,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Threads issuing operations at once.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Fsync every write (or every batch, with --batch) before it returns.
    #[arg(long)]
    pub sync: bool,
    /// Writes of the fill and overwrite workloads go in atomic batches of this many.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Block compression: none or zstd.
    #[arg(long, default_value = "none")]
    pub compression: Codec,
    /// Workloads to run, comma separated (default: all). The random-fill runs first
    /// whenever a later workload needs data, reported or not.
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<Workload>,
    /// Engines to run, comma separated: ferrisdb, rocksdb, fjall, sled. Peers need their
    /// cargo feature (`cargo xtask bench --compare` turns them on).
    #[arg(long, value_delimiter = ',', default_value = "ferrisdb")]
    pub engines: Vec<EngineKind>,
    /// Block cache in MiB, for every engine.
    #[arg(long, default_value_t = 64)]
    pub cache_mib: u64,
    /// Memtable (write buffer) size in MiB, for every engine.
    #[arg(long, default_value_t = 64)]
    pub memtable_mib: u64,
    /// Bloom filter bits per key, for every engine that has filters.
    #[arg(long, default_value_t = 10)]
    pub bloom_bits: u32,
    /// FerrisDB memory-maps its tables instead of reading them with pread, its default
    /// (the mapped pages a scan or compaction touches then count in its RSS).
    #[arg(long)]
    pub mmap: bool,
    /// Runs of the whole suite, each engine once per round, in turn (ferrisdb, the peers,
    /// ferrisdb, ...). The table shows each engine's median run of each workload, and the
    /// ratios are medians of the ratios measured within each round.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: u64,
    /// Seconds of quiet between the fresh reads and the settled ones, in which background
    /// flushes and compactions can finish (a quiescent database); the overwrite's disk
    /// figures are read after it.
    #[arg(long = "settle", default_value_t = 10)]
    pub settle_seconds: u64,
    /// The states the read workloads run in, comma separated: fresh (right after the
    /// writes), settled (after the --settle wait), or both.
    #[arg(long, value_delimiter = ',', default_value = "fresh,settled")]
    pub states: Vec<State>,
    /// Runs each engine's process in a memory cgroup limited to this many MiB (bare: 512),
    /// which counts the page cache it uses as well as its heap (Linux's cgroup v1 memory
    /// controller, as root), and first measures the disk's random 4 KiB reads per second,
    /// the physical limit of reads that miss memory. For a database larger than memory,
    /// add `--num 10000000 --workloads fillrandom,readrandom,ycsb-a,seekrandom`.
    #[arg(long, num_args = 0..=1, default_missing_value = "512")]
    pub memory_limit: Option<u64>,
    /// Runs the whole suite once per key count, comma separated (e.g.
    /// 1000000,10000000,100000000), each as `--num` would, then prints each workload's cost
    /// per operation at each size for each engine and how much it grew from the smallest
    /// size to the largest; with `--plot`, also draws it (`scale.svg`).
    #[arg(long, value_delimiter = ',')]
    pub scale: Vec<u64>,
    /// Internal: the memory cgroup a child joins before it does anything else.
    #[arg(long, hide = true)]
    pub cgroup: Option<PathBuf>,
    /// Directory to run in (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write every measurement, the settings and the machine as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write an SVG chart of ops/s per workload per engine into this directory.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Internal: run one engine and write its measurements as JSON to --child-out.
    #[arg(long, hide = true)]
    pub child: Option<EngineKind>,
    /// Internal: where a child writes its measurements.
    #[arg(long, hide = true)]
    pub child_out: Option<PathBuf>,
}

impl SuiteArgs {
    /// The settings every engine is opened with.
    pub fn settings(&self) -> Settings {
        Settings {
            sync: self.sync,
            compression: self.compression,
            cache_bytes: self.cache_mib << 20,
            memtable_bytes: self.memtable_mib << 20,
            bloom_bits_per_key: self.bloom_bits,
            mmap: self.mmap,
            keyspaces: 0,
            ttl: None,
        }
    }

    /// The workloads to run, in suite order.
    pub fn selected_workloads(&self) -> Vec<Workload> {
        Workload::ALL
            .into_iter()
            .filter(|w| self.workloads.is_empty() || self.workloads.contains(w))
            .collect()
    }

    /// These options as command-line arguments, to hand to a child process.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--num={}", self.num),
            format!("--value-size={}", self.value_size),
            format!("--threads={}", self.threads),
            format!("--batch={}", self.batch),
            format!(
                "--compression={}",
                match self.compression {
                    Codec::None => "none",
                    Codec::Zstd => "zstd",
                }
            ),
            format!("--cache-mib={}", self.cache_mib),
            format!("--memtable-mib={}", self.memtable_mib),
            format!("--bloom-bits={}", self.bloom_bits),
            format!("--settle={}", self.settle_seconds),
            format!(
                "--states={}",
                self.states
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            format!("--repeat={}", self.repeat),
        ];
        let names = |items: Vec<&str>| items.join(",");
        args.push(format!(
            "--engines={}",
            names(self.engines.iter().map(|e| e.name()).collect())
        ));
        if !self.workloads.is_empty() {
            args.push(format!(
                "--workloads={}",
                names(self.workloads.iter().map(|w| w.name()).collect())
            ));
        }
        if let Some(reads) = self.reads {
            args.push(format!("--reads={reads}"));
        }
        if let Some(transfers) = self.transfers {
            args.push(format!("--transfers={transfers}"));
        }
        if let Some(overwrites) = self.overwrites {
            args.push(format!("--overwrites={overwrites}"));
        }
        if let Some(mib) = self.memory_limit {
            args.push(format!("--memory-limit={mib}"));
        }
        if self.sync {
            args.push("--sync".into());
        }
        if self.mmap {
            args.push("--mmap".into());
        }
        for (flag, path) in [
            ("--cgroup", &self.cgroup),
            ("--dir", &self.dir),
            ("--json", &self.json),
            ("--plot", &self.plot),
        ] {
            if let Some(path) = path {
                args.push(format!("{flag}={}", path.display()));
            }
        }
        args
    }
}

/// Everything one suite run measured, as written to `--json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Cores and CPU model.
    pub machine: String,
    /// The command-line options of the run.
    pub args: Vec<String>,
    /// Each engine's configuration, one line each.
    pub engines: Vec<(String, String)>,
    /// Every measurement, engine by engine.
    pub measurements: Vec<Measurement>,
    /// With `--memory-limit`: the disk's random 4 KiB reads per second, `O_DIRECT`, as
    /// many in flight as `--threads`.
    #[serde(default)]
    pub disk_reads_per_second: Option<f64>,
}

/// Runs the suite: in the parent, one child process per engine, then the report; in a
/// child (`--child ENGINE`), that engine's workloads.
///
/// # Errors
///
/// Fails when an engine fails (an error, or a read that comes back wrong), when a peer
/// was asked for but not built in, or when the directory or output files cannot be
/// written.
pub fn run(args: &SuiteArgs) -> Result<SuiteReport> {
    if !args.scale.is_empty() && args.child.is_none() {
        return run_scale(args);
    }
    let temp;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    if let Some(kind) = args.child {
        if let Some(group) = &args.cgroup {
            limit::join(group)?;
        }
        let results = workload::run_engine(kind, &dir.join(kind.name()), args)?;
        let out = args
            .child_out
            .as_ref()
            .context("--child needs --child-out")?;
        std::fs::write(out, serde_json::to_vec(&results)?)
            .with_context(|| format!("writing {}", out.display()))?;
        return Ok(SuiteReport {
            machine: proc::machine(),
            args: args.to_args(),
            engines: Vec::new(),
            measurements: results,
            disk_reads_per_second: None,
        });
    }

    for kind in &args.engines {
        if !kind.available() {
            bail!(
                "{} is not built in: run `cargo xtask bench --compare {}`, which builds this \
                 crate with the `{}` feature",
                kind.name(),
                kind.name(),
                kind.name()
            );
        }
    }
    let settings = args.settings();
    let report_head = SuiteReport {
        machine: proc::machine(),
        args: args.to_args(),
        engines: args
            .engines
            .iter()
            .map(|&k| (k.name().to_owned(), peers::describe(k, &settings)))
            .collect(),
        measurements: Vec::new(),
        disk_reads_per_second: match args.memory_limit {
            Some(_) => Some(measure_disk(&dir, args.threads)?),
            None => None,
        },
    };
    report::print_header(&report_head, &dir);

    // Engines take turns round by round, so a noisy spell of the machine falls on every
    // engine's runs alike rather than on all of one engine's.
    let mut measurements = Vec::new();
    for round in 0..args.repeat as usize {
        if args.repeat > 1 {
            eprintln!("round {} of {}", round + 1, args.repeat);
        }
        for &kind in &args.engines {
            let results = run_child(kind, &dir, args, round)?;
            measurements.extend(results.into_iter().map(|m| Measurement { round, ..m }));
        }
    }
    let report = SuiteReport {
        measurements,
        ..report_head
    };
    report::print_table(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(plot_dir) = &args.plot {
        let path = report::plot(&report, plot_dir)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(report)
}

/// `--scale`: the suite at each key count in turn, then what each operation cost at each.
/// Returns the reports' measurements together, each with `--num` in its note.
fn run_scale(args: &SuiteArgs) -> Result<SuiteReport> {
    let mut sizes = Vec::new();
    for &num in &args.scale {
        let mut at = args.clone();
        at.scale = Vec::new();
        at.num = num;
        (at.json, at.plot) = (None, None);
        println!("==> {num} keys");
        sizes.push((num, run(&at)?));
    }
    report::print_scale(&sizes);
    if let Some(plot_dir) = &args.plot {
        let path = report::plot_scale(&sizes, plot_dir)?;
        eprintln!("wrote {}", path.display());
    }
    let mut measurements = Vec::new();
    for (num, report) in &sizes {
        measurements.extend(report.measurements.iter().map(|m| Measurement {
            note: format!("--num {num}; {}", m.note),
            ..m.clone()
        }));
    }
    let (_, last) = sizes
        .pop()
        .context("--scale needs at least one key count")?;
    let report = SuiteReport {
        measurements,
        ..last
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// The disk's random 4 KiB reads per second under `dir`, printed as it is measured.
fn measure_disk(dir: &Path, threads: usize) -> Result<f64> {
    eprintln!("measuring the disk's random 4 KiB reads (O_DIRECT, {threads} in flight)...");
    limit::disk_random_reads(
        dir,
        threads,
        std::time::Duration::from_secs(5),
        limit::PROBE_FILE_BYTES,
    )
}

/// Runs `kind`'s workloads in a child process of this same binary and reads back its
/// measurements; with `--memory-limit`, in a memory cgroup of its own, whose peak goes
/// into each measurement's note.
fn run_child(
    kind: EngineKind,
    dir: &Path,
    args: &SuiteArgs,
    round: usize,
) -> Result<Vec<Measurement>> {
    let out = dir.join(format!("{}.json", kind.name()));
    let mut child_args = args.clone();
    child_args.dir = Some(dir.to_path_buf());
    child_args.json = None;
    child_args.plot = None;
    child_args.memory_limit = None;
    let group = match args.memory_limit {
        Some(mib) => {
            let name = format!(
                "ferris-dbbench-{}-{}-{round}",
                std::process::id(),
                kind.name()
            );
            Some(limit::MemoryGroup::create(&name, mib << 20)?)
        }
        None => None,
    };
    child_args.cgroup = group.as_ref().map(|g| g.path().to_path_buf());
    let exe = std::env::current_exe().context("finding this executable")?;
    let status = Command::new(&exe)
        .args(child_args.to_args())
        .arg(format!("--child={}", kind.name()))
        .arg(format!("--child-out={}", out.display()))
        .status()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !status.success() {
        let out_of_memory = match (&group, args.memory_limit) {
            (Some(group), Some(mib)) if group.limit_hits().unwrap_or(0) > 0 => format!(
                ": its memory group reached its {mib} MiB limit, and a SIGKILL then is the \
                 kernel's out-of-memory killer (the engine's memtables and cache need more)"
            ),
            _ => String::new(),
        };
        bail!("the {} run failed ({status}){out_of_memory}", kind.name());
    }
    let bytes = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
    std::fs::remove_file(&out).ok();
    let mut measurements: Vec<Measurement> = serde_json::from_slice(&bytes)?;
    if let (Some(group), Some(mib)) = (&group, args.memory_limit) {
        let note = format!(
            "memory group: peak {} MiB of {mib} MiB (page cache included), limit reached {} times",
            group.peak_bytes().map_or(0, |b| b >> 20),
            group.limit_hits().unwrap_or(0)
        );
        for m in &mut measurements {
            m.note = [std::mem::take(&mut m.note), note.clone()]
                .into_iter()
                .filter(|n| !n.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
        }
    }
    Ok(measurements)
}

/// Cores, CPU model and memory of this machine, as the report's header prints them.
pub fn machine() -> String {
    proc::machine()
}
