//! The workloads, db_bench's and YCSB's, and the loop that times them on one engine.

use std::hint::black_box;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::engine::{self, Engine, EngineKind};
use crate::zipf::ScrambledZipfian;
use crate::{SuiteArgs, proc};

/// One workload of the suite, in the order the suite runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workload {
    /// `num` puts in key order, on a fresh database.
    Fillseq,
    /// `num` puts of every key once in random order, on a fresh database.
    Fillrandom,
    /// `num` puts of uniformly random existing keys.
    Overwrite,
    /// `reads` gets of uniformly random existing keys; every one must be found.
    Readrandom,
    /// `reads` gets of uniformly random existing keys, in batches of [`MULTIGET_BATCH`]
    /// through the engine's batched read; ops are keys.
    Multiget,
    /// `reads` gets of keys that were never written.
    Readmissing,
    /// One full forward scan; ops are entries.
    Readseq,
    /// One full reverse scan; ops are entries.
    Readreverse,
    /// `reads / 10` seeks to a random key, each followed by 100 nexts.
    Seekrandom,
    /// YCSB A: 50% reads, 50% updates, zipfian.
    YcsbA,
    /// YCSB B: 95% reads, 5% updates, zipfian.
    YcsbB,
    /// YCSB C: reads only, zipfian.
    YcsbC,
    /// YCSB E: 95% short scans (1 to 100 entries), 5% inserts of new keys; `reads / 10` ops.
    YcsbE,
    /// YCSB F: 50% reads, 50% read-modify-writes, zipfian.
    YcsbF,
    /// One checkpoint of the filled database into a new directory beside it (removed
    /// afterwards), taken through the engine's own call; ops are the entries it holds, so
    /// MB/s is how fast it captures the data. The note says how many bytes are hard links
    /// and how many were copied or written. Engines without checkpoints skip it.
    Checkpoint,
    /// `num / 10` deletes of uniformly random existing keys.
    Deleterandom,
    /// On a fresh database filled in key order (untimed), every key deleted one call at a
    /// time, in key order; ops are keys.
    Deleteseq,
    /// After `deleteseq`: `reads` gets of random deleted keys (each must be missing).
    DeleteseqGet,
    /// After `deleteseq`: one full forward scan (it must find nothing); ops are keys
    /// deleted, so the rate is how fast the scan passes over them.
    DeleteseqScan,
    /// On a fresh database filled in key order (untimed), every key deleted with one call
    /// of the engine's range delete; ops are keys. Engines without one skip it.
    Deleterange,
    /// After `deleterange`: as `deleteseq-get`.
    DeleterangeGet,
    /// After `deleterange`: as `deleteseq-scan`.
    DeleterangeScan,
    /// `num` keys written in random order over [`KEYSPACES`] keyspaces (key `k` into
    /// keyspace `k % KEYSPACES`), on a fresh database; every fourth write is an atomic
    /// batch that also writes the key into the next keyspace. Ops are entries. Engines
    /// without atomic batches across keyspaces (sled) skip it.
    Keyspaces,
    /// As `fillrandom`, into a fresh database whose values expire [`FILL_TTL`] after they
    /// are written (so none expires during the run): what a time to live costs writes.
    /// Engines without expiring values skip it, and the two workloads after it.
    FillrandomTtl,
    /// After `fillrandom-ttl`: as `readrandom`, on that database; what it costs reads.
    ReadrandomTtl,
    /// On a fresh database whose values expire [`EXPIRE_TTL`] after they are written:
    /// `num` keys filled in random order (untimed), a wait of [`EXPIRE_WAIT`] after the
    /// last write (so every value has expired), then one full manual compaction, timed;
    /// ops are the keys it expired. The note gives the database directory's bytes before
    /// and after, and how many of [`EXPIRE_SAMPLE`] point reads after it found a value
    /// (it must be none).
    Expire,
    /// On one thread, `--transfers` plain atomic batches of two keys each (no
    /// transaction), interleaved with `commit-pair`'s on the same database: what a
    /// transaction's commit is measured against. See `txn.rs`. Engines whose
    /// transactional database has no plain batch (fjall) skip it.
    WritePair,
    /// On one thread, `--transfers` transactions that each write two keys, read nothing,
    /// and commit: the same batches as `write-pair`, as transactions; the note gives the
    /// ratio of the two in this run. Engines without transactions (sled) skip it and the
    /// transfers.
    CommitPair,
    /// `--transfers` transactions, each moving money between two distinct accounts picked
    /// uniformly: read both balances, write both, commit, retry on a conflict. Ops are
    /// committed transfers; the note gives the abort rate; the sum of the balances is
    /// checked afterwards.
    TransferUniform,
    /// As `transfer-uniform`, the accounts picked with YCSB's scrambled zipfian chooser,
    /// so a few hot accounts draw most transfers and conflicts.
    TransferZipf,
}

/// The delete workloads, each group on a database of its own: the deletes, then the reads
/// of what they deleted.
const DELETE_GROUPS: [[Workload; 3]; 2] = [
    [
        Workload::Deleteseq,
        Workload::DeleteseqGet,
        Workload::DeleteseqScan,
    ],
    [
        Workload::Deleterange,
        Workload::DeleterangeGet,
        Workload::DeleterangeScan,
    ],
];

/// The TTL workloads' group on a database of its own: the fill, then the reads of it.
const TTL_GROUP: [Workload; 2] = [Workload::FillrandomTtl, Workload::ReadrandomTtl];

/// How long the values of `fillrandom-ttl` live: far longer than any run, so the rows
/// measure what carrying and checking an expiry costs, not expiry itself.
pub const FILL_TTL: Duration = Duration::from_secs(3600);

/// How long the values of `expire` live.
pub const EXPIRE_TTL: Duration = Duration::from_secs(1);

/// How long `expire` waits after its last write before it compacts. RocksDB stores a
/// value's write time in whole seconds and drops it once that time plus the TTL is
/// below the current second, so a value written at the very start of a second can read
/// as live for up to two seconds; FerrisDB judges expiry in milliseconds.
pub const EXPIRE_WAIT: Duration = Duration::from_millis(2100);

/// Point reads of random keys after `expire`'s compaction, each of which must find
/// nothing.
pub const EXPIRE_SAMPLE: u64 = 10_000;

/// The keyspaces the `keyspaces` workload writes to.
pub const KEYSPACES: usize = 4;

impl Workload {
    /// Every workload, in the order they run.
    pub const ALL: [Workload; 30] = [
        Workload::Fillseq,
        Workload::Fillrandom,
        Workload::Overwrite,
        Workload::Readrandom,
        Workload::Multiget,
        Workload::Readmissing,
        Workload::Readseq,
        Workload::Readreverse,
        Workload::Seekrandom,
        Workload::YcsbA,
        Workload::YcsbB,
        Workload::YcsbC,
        Workload::YcsbE,
        Workload::YcsbF,
        Workload::Checkpoint,
        Workload::Deleterandom,
        Workload::Keyspaces,
        Workload::Deleteseq,
        Workload::DeleteseqGet,
        Workload::DeleteseqScan,
        Workload::Deleterange,
        Workload::DeleterangeGet,
        Workload::DeleterangeScan,
        Workload::FillrandomTtl,
        Workload::ReadrandomTtl,
        Workload::Expire,
        Workload::WritePair,
        Workload::CommitPair,
        Workload::TransferUniform,
        Workload::TransferZipf,
    ];

    /// The name on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Fillseq => "fillseq",
            Workload::Fillrandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::Readrandom => "readrandom",
            Workload::Multiget => "multiget",
            Workload::Readmissing => "readmissing",
            Workload::Readseq => "readseq",
            Workload::Readreverse => "readreverse",
            Workload::Seekrandom => "seekrandom",
            Workload::YcsbA => "ycsb-a",
            Workload::YcsbB => "ycsb-b",
            Workload::YcsbC => "ycsb-c",
            Workload::YcsbE => "ycsb-e",
            Workload::YcsbF => "ycsb-f",
            Workload::Checkpoint => "checkpoint",
            Workload::Deleterandom => "deleterandom",
            Workload::Keyspaces => "keyspaces",
            Workload::Deleteseq => "deleteseq",
            Workload::DeleteseqGet => "deleteseq-get",
            Workload::DeleteseqScan => "deleteseq-scan",
            Workload::Deleterange => "deleterange",
            Workload::DeleterangeGet => "deleterange-get",
            Workload::DeleterangeScan => "deleterange-scan",
            Workload::FillrandomTtl => "fillrandom-ttl",
            Workload::ReadrandomTtl => "readrandom-ttl",
            Workload::Expire => "expire",
            Workload::WritePair => "write-pair",
            Workload::CommitPair => "commit-pair",
            Workload::TransferUniform => "transfer-uniform",
            Workload::TransferZipf => "transfer-zipf",
        }
    }

    /// Whether the workload runs in both states ([`State`]): the reads of the random fill
    /// and YCSB's mixes, whose few writes change nothing the next one depends on.
    pub fn reads_in_both_states(self) -> bool {
        matches!(
            self,
            Workload::Readrandom
                | Workload::Multiget
                | Workload::Readmissing
                | Workload::Readseq
                | Workload::Readreverse
                | Workload::Seekrandom
                | Workload::YcsbA
                | Workload::YcsbB
                | Workload::YcsbC
                | Workload::YcsbE
                | Workload::YcsbF
        )
    }

    /// Whether the workload writes (so write amplification means something).
    fn writes(self) -> bool {
        matches!(
            self,
            Workload::Fillseq
                | Workload::Fillrandom
                | Workload::FillrandomTtl
                | Workload::Overwrite
                | Workload::Deleterandom
                | Workload::Keyspaces
                | Workload::Deleteseq
                | Workload::Deleterange
        )
    }
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Workload::ALL.iter().map(|w| w.name()).collect();
                format!("unknown workload {s:?}: use {}", names.join(", "))
            })
    }
}

/// What one workload measured on one engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measurement {
    /// The engine's name.
    pub engine: String,
    /// The workload.
    pub workload: Workload,
    /// Threads that ran it.
    pub threads: usize,
    /// Operations (entries for scans and batched writes).
    pub ops: u64,
    /// Wall time of the timed part.
    pub seconds: f64,
    /// Key and value bytes moved by the operations.
    pub user_bytes: u64,
    /// Median latency of one call (a batch, a scan) in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency in microseconds.
    pub p99_us: f64,
    /// 99.9th percentile latency in microseconds.
    pub p999_us: f64,
    /// Bytes the process sent to the disk during the workload (and its settle time)
    /// over the user bytes written, for writing workloads.
    pub write_amp: Option<f64>,
    /// Bytes in the database directory over the bytes of live user data, after the
    /// workload (and its settle time), for writing workloads.
    pub space_amp: Option<f64>,
    /// Peak resident memory of the process during the workload, in bytes.
    pub peak_rss: Option<u64>,
    /// Anything else worth a word.
    pub note: String,
    /// Which round of a `--repeat` run measured it, from 0.
    #[serde(default)]
    pub round: usize,
    /// The state of the database a read workload ran in; `None` for the others.
    #[serde(default)]
    pub state: Option<State>,
}

/// When a read workload runs. Both are states users meet: a service reading what it has
/// just written, and one reading after a quiet night.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Right after the writes that set its data up (`overwrite`, and each read workload
    /// before it): the memtable as the writes left it, level 0 as they left it.
    Fresh,
    /// After `--settle` seconds with no operations, in which each engine's background work
    /// goes on: FerrisDB flushes an idle memtable and compacts level 0 then; RocksDB and
    /// fjall do not flush an idle memtable.
    Settled,
}

impl State {
    /// The word after a workload's name in the output.
    pub fn name(self) -> &'static str {
        match self {
            State::Fresh => "fresh",
            State::Settled => "settled",
        }
    }
}

impl Measurement {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// User bytes per second, in MB.
    pub fn mb_per_sec(&self) -> f64 {
        self.user_bytes as f64 / self.seconds.max(1e-9) / 1e6
    }
}

/// Keys per call of the `multiget` workload.
pub const MULTIGET_BATCH: u64 = 64;

/// The key of item `i`: 16 bytes, `key` and 13 digits, so keys sort as their numbers.
pub fn key(i: u64) -> [u8; 16] {
    let mut key = *b"key0000000000000";
    let mut i = i;
    for byte in key[3..].iter_mut().rev() {
        *byte = b'0' + (i % 10) as u8;
        i /= 10;
    }
    key
}

/// A key that no workload writes: item `i` with its last byte outside the digits.
fn missing_key(i: u64) -> [u8; 16] {
    let mut key = key(i);
    key[15] = b'x';
    key
}

/// Values are windows of one random buffer, as db_bench's generator gives, so each write
/// carries different bytes without generating them in the timed loop.
pub(crate) struct Values {
    buffer: Vec<u8>,
    size: usize,
}

impl Values {
    pub(crate) fn new(size: usize) -> Values {
        let mut rng = SmallRng::seed_from_u64(0x5eed);
        let mut buffer = vec![0u8; (1 << 20) + size];
        rng.fill(&mut buffer[..]);
        Values { buffer, size }
    }

    pub(crate) fn get(&self, i: u64) -> &[u8] {
        let start = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 44) as usize % (1 << 20);
        &self.buffer[start..start + self.size]
    }
}

/// Runs the selected workloads on one engine, in fresh directories under `dir`, and
/// returns what each measured. This runs in a child process of its own per engine, so
/// the peak RSS and the disk writes it reads are that engine's alone.
pub fn run_engine(kind: EngineKind, dir: &Path, args: &SuiteArgs) -> Result<Vec<Measurement>> {
    let settings = args.settings();
    let selected = args.selected_workloads();
    let mut results = Vec::new();
    let suite = Suite {
        kind,
        args,
        values: Values::new(args.value_size),
        entry_bytes: (16 + args.value_size) as u64,
    };

    if selected.contains(&Workload::Fillseq) {
        let db_dir = dir.join("fillseq");
        let db = engine::open(kind, &db_dir, &settings)?;
        results.push(suite.measure(&*db, &db_dir, Workload::Fillseq, None)?);
        db.close()?;
        std::fs::remove_dir_all(&db_dir).ok();
    }

    if selected.contains(&Workload::Keyspaces) {
        let db_dir = dir.join("keyspaces");
        let mut settings = settings.clone();
        settings.keyspaces = KEYSPACES;
        let db = engine::open(kind, &db_dir, &settings)?;
        if db.write_in(&[]).is_some() {
            results.push(suite.measure(&*db, &db_dir, Workload::Keyspaces, None)?);
        } else {
            eprintln!(
                "{}: no atomic batches across keyspaces; keyspaces skipped",
                kind.name()
            );
        }
        db.close()?;
        std::fs::remove_dir_all(&db_dir).ok();
    }

    // The deletes run on databases of their own, filled in key order: one deleted key by
    // key, one with a range delete, each followed by the reads of what it deleted.
    for group in DELETE_GROUPS {
        if !group.iter().any(|w| selected.contains(w)) {
            continue;
        }
        if group[0] == Workload::Deleterange && !kind.has_delete_range() {
            eprintln!("{}: no range deletes; deleterange skipped", kind.name());
            continue;
        }
        let db_dir = dir.join(group[0].name());
        let db = engine::open(kind, &db_dir, &settings)?;
        suite.measure(&*db, &db_dir, Workload::Fillseq, None)?;
        // The reads after need the deletes made, reported or not.
        results.extend(suite.measure_in_turn(&*db, &db_dir, &group, &selected)?);
        db.close()?;
        std::fs::remove_dir_all(&db_dir).ok();
    }

    let ttl_wanted = selected.iter().any(|w| TTL_GROUP.contains(w));
    let expire_wanted = selected.contains(&Workload::Expire);
    if (ttl_wanted || expire_wanted) && !kind.has_ttl() {
        eprintln!(
            "{}: no expiring values; fillrandom-ttl, readrandom-ttl and expire skipped",
            kind.name()
        );
    } else {
        if ttl_wanted {
            let db_dir = dir.join("ttl");
            let mut settings = settings.clone();
            settings.ttl = Some(FILL_TTL);
            let db = engine::open(kind, &db_dir, &settings)?;
            // The reads need the fill, reported or not.
            results.extend(suite.measure_in_turn(&*db, &db_dir, &TTL_GROUP, &selected)?);
            db.close()?;
            std::fs::remove_dir_all(&db_dir).ok();
        }
        if expire_wanted {
            let db_dir = dir.join("expire");
            let mut settings = settings.clone();
            settings.ttl = Some(EXPIRE_TTL);
            let db = engine::open(kind, &db_dir, &settings)?;
            suite.measure(&*db, &db_dir, Workload::Fillrandom, None)?;
            std::thread::sleep(EXPIRE_WAIT);
            results.push(suite.measure(&*db, &db_dir, Workload::Expire, None)?);
            db.close()?;
            std::fs::remove_dir_all(&db_dir).ok();
        }
    }

    // The transaction workloads run on a database of their own, opened for transactions.
    results.extend(crate::txn::run(kind, dir, args, &selected)?);

    let rest: Vec<Workload> = selected
        .iter()
        .copied()
        .filter(|w| {
            !matches!(
                w,
                Workload::Fillseq | Workload::Keyspaces | Workload::Expire
            )
        })
        .filter(|w| !DELETE_GROUPS.iter().flatten().any(|g| g == w))
        .filter(|w| !TTL_GROUP.contains(w))
        .filter(|w| !crate::txn::GROUP.contains(w))
        .collect();
    if rest.is_empty() {
        return Ok(results);
    }
    let db_dir = dir.join("random");
    let db = engine::open(kind, &db_dir, &settings)?;
    // Every other workload reads or overwrites a database filled in random order: fill it
    // even when fillrandom itself is not reported.
    let fill = suite.measure(&*db, &db_dir, Workload::Fillrandom, None)?;
    if rest.contains(&Workload::Fillrandom) {
        results.push(fill);
    }
    // The overwrite, then the reads in both states: right after the writes (fresh: the
    // memtable as the writes left it, level 0 not yet compacted), then after the quiet
    // wait (settled: whatever each engine's background work made of it), then what
    // changes the data for good.
    let overwrite_began = proc::disk_write_bytes();
    let mut overwrite = None;
    if rest.contains(&Workload::Overwrite) {
        overwrite = Some(suite.measure(&*db, &db_dir, Workload::Overwrite, None)?);
    }
    let both: Vec<Workload> = rest
        .iter()
        .copied()
        .filter(|w| w.reads_in_both_states())
        .collect();
    for &state in &[State::Fresh, State::Settled] {
        if state == State::Settled {
            std::thread::sleep(Duration::from_secs(args.settle_seconds));
            if let Some(mut measured) = overwrite.take() {
                suite.settled_disk_figures(&mut measured, &db_dir, overwrite_began);
                results.push(measured);
            }
        }
        if !args.states.contains(&state) {
            continue;
        }
        for &workload in &both {
            results.push(suite.measure(&*db, &db_dir, workload, Some(state))?);
        }
    }
    for workload in rest {
        if matches!(workload, Workload::Fillrandom | Workload::Overwrite)
            || workload.reads_in_both_states()
        {
            continue;
        }
        if workload == Workload::Checkpoint && !kind.has_checkpoint() {
            eprintln!("{}: no checkpoints; checkpoint skipped", kind.name());
            continue;
        }
        results.push(suite.measure(&*db, &db_dir, workload, None)?);
    }
    db.close()?;
    std::fs::remove_dir_all(&db_dir).ok();
    Ok(results)
}

struct Suite<'a> {
    kind: EngineKind,
    args: &'a SuiteArgs,
    values: Values,
    entry_bytes: u64,
}

impl Suite<'_> {
    /// Measures each workload of `group` in turn on `db`, each on what the ones before it
    /// left, up to the last one in `selected`, and returns the measurements of those in
    /// `selected`.
    fn measure_in_turn(
        &self,
        db: &dyn Engine,
        db_dir: &Path,
        group: &[Workload],
        selected: &[Workload],
    ) -> Result<Vec<Measurement>> {
        let needed = group
            .iter()
            .rposition(|w| selected.contains(w))
            .map_or(0, |last| last + 1);
        let mut results = Vec::new();
        for &workload in &group[..needed] {
            let measured = self.measure(db, db_dir, workload, None)?;
            if selected.contains(&workload) {
                results.push(measured);
            }
        }
        Ok(results)
    }

    /// After the quiet wait that follows the overwrite (and its fresh reads): the disk
    /// figures of `overwrite` again, counting every byte written since it began
    /// (`began`), background flushes and compactions included, and the space a quiescent
    /// database takes.
    fn settled_disk_figures(&self, overwrite: &mut Measurement, db_dir: &Path, began: Option<u64>) {
        (overwrite.write_amp, overwrite.space_amp) =
            self.disk_figures(db_dir, began, overwrite.user_bytes);
        let note = format!(
            "disk figures after a {} s quiescent wait (and the fresh reads before it)",
            self.args.settle_seconds
        );
        overwrite.note = [note, std::mem::take(&mut overwrite.note)]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
    }

    /// Write amplification (bytes sent to the disk since `began` over `user_bytes`) and
    /// space amplification (`db_dir`'s size over the live user data), each where the
    /// operating system tells.
    fn disk_figures(
        &self,
        db_dir: &Path,
        began: Option<u64>,
        user_bytes: u64,
    ) -> (Option<f64>, Option<f64>) {
        let written = proc::disk_write_bytes()
            .zip(began)
            .map(|(after, before)| after.saturating_sub(before));
        let write_amp = written.map(|w| w as f64 / user_bytes.max(1) as f64);
        let space_amp = proc::dir_size(db_dir)
            .ok()
            .map(|size| size as f64 / (self.args.num * self.entry_bytes) as f64);
        (write_amp, space_amp)
    }

    /// Runs `workload` once, timed, and gathers its figures; `state` says which state of
    /// the database a read workload ran in.
    fn measure(
        &self,
        db: &dyn Engine,
        db_dir: &Path,
        workload: Workload,
        state: Option<State>,
    ) -> Result<Measurement> {
        let args = self.args;
        let num = args.num;
        let threads = args.threads.max(1);
        let batch = args.batch.max(1) as u64;
        let reads = args.reads.unwrap_or(num);
        let written_before = proc::disk_write_bytes();
        proc::reset_peak_rss();

        let (units, entries_per_unit): (u64, u64) = match workload {
            Workload::Fillseq | Workload::Fillrandom | Workload::FillrandomTtl => {
                (num.div_ceil(batch), batch)
            }
            Workload::Overwrite => (args.overwrites.unwrap_or(num).div_ceil(batch), batch),
            Workload::Readrandom | Workload::ReadrandomTtl | Workload::Readmissing => (reads, 1),
            Workload::Multiget => (reads.div_ceil(MULTIGET_BATCH), MULTIGET_BATCH),
            Workload::Readseq | Workload::Readreverse => (1, num),
            Workload::Seekrandom | Workload::YcsbE => ((reads / 10).max(1), 1),
            Workload::YcsbA | Workload::YcsbB | Workload::YcsbC | Workload::YcsbF => (reads, 1),
            Workload::Deleterandom => ((num / 10).max(1), 1),
            Workload::Deleteseq => (num, 1),
            Workload::DeleteseqGet | Workload::DeleterangeGet => (reads, 1),
            Workload::Deleterange | Workload::DeleteseqScan | Workload::DeleterangeScan => (1, num),
            Workload::Keyspaces => (num, 1),
            Workload::Checkpoint | Workload::Expire => (1, num),
            Workload::WritePair
            | Workload::CommitPair
            | Workload::TransferUniform
            | Workload::TransferZipf => bail!("{} runs in txn.rs", workload.name()),
        };
        // Scans run on one thread: each is one call over the whole database.
        let threads = if units == 1 { 1 } else { threads };
        let progress = progress_bar(self.kind, workload, units * entries_per_unit);

        let permutation = matches!(
            workload,
            Workload::Fillrandom | Workload::FillrandomTtl | Workload::Keyspaces
        )
        .then(|| {
            let mut p: Vec<u64> = (0..num).collect();
            p.shuffle(&mut SmallRng::seed_from_u64(42));
            p
        });
        let zipf = matches!(
            workload,
            Workload::YcsbA | Workload::YcsbB | Workload::YcsbC | Workload::YcsbE | Workload::YcsbF
        )
        .then(|| ScrambledZipfian::new(num));
        // YCSB E inserts keys past the loaded ones.
        let next_insert = AtomicU64::new(num + 1_000_000_000);

        let per_thread = units.div_ceil(threads as u64);
        // The puts a writing workload makes in all: the last batch may be short.
        let total_puts = match workload {
            Workload::Overwrite => args.overwrites.unwrap_or(num),
            _ => num,
        };
        let value_size = args.value_size;
        let entry_bytes = self.entry_bytes;
        let checkpoint_dir = db_dir.with_file_name("checkpoint");
        // What the expired values take on disk before the compaction that gives it back.
        let size_before = if workload == Workload::Expire {
            Some(proc::dir_size(db_dir)?)
        } else {
            None
        };
        let op = |unit: u64, rng: &mut SmallRng| -> Result<(u64, u64)> {
            match workload {
                Workload::Fillseq
                | Workload::Fillrandom
                | Workload::FillrandomTtl
                | Workload::Overwrite => {
                    let first = unit * batch;
                    let last = (first + batch).min(total_puts);
                    let keys: Vec<[u8; 16]> = (first..last)
                        .map(|i| match (&permutation, workload) {
                            (Some(p), _) => key(p[i as usize]),
                            (None, Workload::Overwrite) => key(rng.random_range(0..num)),
                            (None, _) => key(i),
                        })
                        .collect();
                    let entries: Vec<(&[u8], &[u8])> = keys
                        .iter()
                        .zip(first..)
                        .map(|(k, i)| (&k[..], self.values.get(i)))
                        .collect();
                    db.write(&entries)?;
                    Ok((last - first, (last - first) * entry_bytes))
                }
                Workload::Readrandom | Workload::ReadrandomTtl => {
                    let k = key(rng.random_range(0..num));
                    let seen = black_box(db.get(&k)?);
                    ensure!(
                        seen.map(|s| s.bytes) == Some(value_size),
                        "{}: key {} read back as {seen:?}",
                        self.kind.name(),
                        String::from_utf8_lossy(&k)
                    );
                    Ok((1, entry_bytes))
                }
                Workload::Multiget => {
                    let keys: Vec<[u8; 16]> = (0..MULTIGET_BATCH)
                        .map(|_| key(rng.random_range(0..num)))
                        .collect();
                    let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
                    let seen = black_box(db.multi_get(&refs)?);
                    ensure!(
                        seen.len() == refs.len()
                            && seen.iter().all(|s| s.map(|s| s.bytes) == Some(value_size)),
                        "{}: a batch read back as {seen:?}",
                        self.kind.name(),
                    );
                    Ok((MULTIGET_BATCH, MULTIGET_BATCH * entry_bytes))
                }
                Workload::Readmissing => {
                    let k = missing_key(rng.random_range(0..num));
                    ensure!(db.get(&k)?.is_none(), "a missing key was found");
                    Ok((1, 16))
                }
                Workload::Readseq | Workload::Readreverse => {
                    let seen = black_box(db.scan_all(workload == Workload::Readreverse)?);
                    Ok((seen.entries as u64, seen.bytes as u64))
                }
                Workload::Seekrandom => {
                    let seen = black_box(db.scan(&key(rng.random_range(0..num)), 101)?);
                    Ok((1, seen.bytes as u64))
                }
                Workload::YcsbA | Workload::YcsbB | Workload::YcsbC | Workload::YcsbF => {
                    let zipf = zipf.as_ref().expect("ycsb has a zipfian chooser");
                    let item = zipf.next(rng);
                    let k = key(item);
                    let write_percent = match workload {
                        Workload::YcsbA | Workload::YcsbF => 50,
                        Workload::YcsbB => 5,
                        _ => 0,
                    };
                    if rng.random_range(0..100) < write_percent {
                        if workload == Workload::YcsbF {
                            // Read-modify-write: the read is part of the operation.
                            black_box(db.get(&k)?);
                        }
                        db.write(&[(&k, self.values.get(item ^ unit))])?;
                    } else {
                        black_box(db.get(&k)?);
                    }
                    Ok((1, entry_bytes))
                }
                Workload::YcsbE => {
                    if rng.random_range(0..100) < 5 {
                        let i = next_insert.fetch_add(1, Ordering::Relaxed);
                        db.write(&[(&key(i), self.values.get(i))])?;
                        Ok((1, entry_bytes))
                    } else {
                        let zipf = zipf.as_ref().expect("ycsb has a zipfian chooser");
                        let len = rng.random_range(1..=100);
                        let seen = black_box(db.scan(&key(zipf.next(rng)), len)?);
                        Ok((1, seen.bytes as u64))
                    }
                }
                Workload::Checkpoint => {
                    db.checkpoint(&checkpoint_dir)
                        .expect("checked before the workload")?;
                    Ok((num, num * entry_bytes))
                }
                Workload::Expire => {
                    db.compact().expect("checked before the workload")?;
                    Ok((num, num * entry_bytes))
                }
                Workload::Deleterandom => {
                    db.delete(&key(rng.random_range(0..num)))?;
                    Ok((1, 16))
                }
                Workload::Deleteseq => {
                    db.delete(&key(unit))?;
                    Ok((1, 16))
                }
                Workload::Deleterange => {
                    db.delete_range(&key(0), &key(num))
                        .expect("checked before the workload")?;
                    Ok((num, num * 16))
                }
                Workload::DeleteseqGet | Workload::DeleterangeGet => {
                    let k = key(rng.random_range(0..num));
                    ensure!(db.get(&k)?.is_none(), "a deleted key was found");
                    Ok((1, 16))
                }
                Workload::DeleteseqScan | Workload::DeleterangeScan => {
                    let found = db.scan_all(false)?.entries;
                    ensure!(found == 0, "a scan after deleting every key found {found}");
                    Ok((num, num * 16))
                }
                Workload::Keyspaces => {
                    let i = permutation.as_ref().expect("a permutation")[unit as usize];
                    let (k, value) = (key(i), self.values.get(i));
                    let ks = i as usize % KEYSPACES;
                    let mut entries = vec![(ks, &k[..], value)];
                    if unit.is_multiple_of(4) {
                        entries.push(((ks + 1) % KEYSPACES, &k[..], value));
                    }
                    db.write_in(&entries)
                        .expect("checked before the workload")?;
                    let n = entries.len() as u64;
                    Ok((n, n * entry_bytes))
                }
                Workload::WritePair
                | Workload::CommitPair
                | Workload::TransferUniform
                | Workload::TransferZipf => bail!("{} runs in txn.rs", workload.name()),
            }
        };

        let start = Instant::now();
        let outcomes: Vec<Result<(u64, u64, Histogram<u64>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (op, progress) = (&op, &progress);
                    s.spawn(move || {
                        let mut rng = SmallRng::seed_from_u64(0xbe7c_0000 + t as u64);
                        let mut latency = histogram();
                        let (mut ops, mut bytes, mut unreported) = (0u64, 0u64, 0u64);
                        let first = t as u64 * per_thread;
                        let last = (first + per_thread).min(units);
                        for unit in first..last {
                            let began = Instant::now();
                            let (n, b) = op(unit, &mut rng)?;
                            latency.record(began.elapsed().as_nanos().max(1) as u64)?;
                            ops += n;
                            bytes += b;
                            unreported += n;
                            if unreported >= 4096 {
                                progress.inc(unreported);
                                unreported = 0;
                            }
                        }
                        progress.inc(unreported);
                        Ok((ops, bytes, latency))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("workload thread panicked"))
                .collect()
        });
        let seconds = start.elapsed().as_secs_f64();
        progress.finish_and_clear();

        let (mut ops, mut user_bytes, mut latency) = (0, 0, histogram());
        for outcome in outcomes {
            let (o, b, h) =
                outcome.with_context(|| format!("{} on {}", workload.name(), self.kind.name()))?;
            ops += o;
            user_bytes += b;
            latency.add(&h)?;
        }
        let mut notes = Vec::new();
        if workload == Workload::Checkpoint {
            let (linked, own) = proc::linked_and_own_bytes(&checkpoint_dir)?;
            let mib = |b: u64| b as f64 / (1 << 20) as f64;
            notes.push(format!(
                "checkpoint: {:.1} MiB hard-linked, {:.1} MiB copied or written",
                mib(linked),
                mib(own)
            ));
            std::fs::remove_dir_all(&checkpoint_dir).ok();
        }
        if let Some(before) = size_before {
            notes.push(self.expire_note(db, db_dir, before)?);
        }
        notes.push(db.stats_note());
        notes.retain(|n| !n.is_empty());
        let note = notes.join("; ");
        let (write_amp, space_amp) = match workload.writes() {
            true => self.disk_figures(db_dir, written_before, user_bytes),
            false => (None, None),
        };
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        Ok(Measurement {
            engine: self.kind.name().to_owned(),
            workload,
            threads,
            ops,
            seconds,
            user_bytes,
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
            write_amp,
            space_amp,
            peak_rss: proc::peak_rss(),
            note,
            round: 0,
            state,
        })
    }

    /// After `expire`'s compaction: the directory's bytes before (`before`) and after, and
    /// how many of [`EXPIRE_SAMPLE`] reads of random keys found a value, which fails the
    /// run unless it is none: every value written had expired.
    fn expire_note(&self, db: &dyn Engine, db_dir: &Path, before: u64) -> Result<String> {
        let after = proc::dir_size(db_dir)?;
        let sample = EXPIRE_SAMPLE.min(self.args.num);
        let mut rng = SmallRng::seed_from_u64(0xe7_91e5);
        let mut found = 0u64;
        for _ in 0..sample {
            found += u64::from(db.get(&key(rng.random_range(0..self.args.num)))?.is_some());
        }
        ensure!(
            found == 0,
            "{}: {found} of {sample} reads after expiry found a value",
            self.kind.name()
        );
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        Ok(format!(
            "directory {:.1} MiB before, {:.1} MiB after; {found} of {sample} reads found a value",
            mib(before),
            mib(after)
        ))
    }
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

pub(crate) fn progress_bar(kind: EngineKind, workload: Workload, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>24} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} {}", kind.name(), workload.name()));
    bar
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::Seen;

    #[test]
    fn keys_are_sixteen_bytes_and_sort_as_their_numbers() {
        assert_eq!(&key(0), b"key0000000000000");
        assert_eq!(&key(1_234_567), b"key0000001234567");
        assert!(key(9) < key(10));
        assert!(missing_key(5) != key(5));
    }

    #[test]
    fn workload_names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(w.name().parse::<Workload>(), Ok(w));
        }
        assert!("fillrandomm".parse::<Workload>().is_err());
    }

    /// The suite's options from a command line, as `ferris-dbbench` parses them.
    pub(crate) fn suite_args(line: &[&str]) -> SuiteArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            suite: SuiteArgs,
        }
        Cli::parse_from(std::iter::once("ferris-dbbench").chain(line.iter().copied())).suite
    }

    #[test]
    fn ttl_workloads_read_back_their_fill_and_expire_everything() {
        let dir = tempfile::tempdir().unwrap();
        let args = suite_args(&[
            "--num=3000",
            "--workloads=fillrandom-ttl,readrandom-ttl,expire",
        ]);
        let results = run_engine(EngineKind::Ferris, dir.path(), &args).unwrap();
        let workloads: Vec<Workload> = results.iter().map(|m| m.workload).collect();
        assert_eq!(
            workloads,
            [
                Workload::FillrandomTtl,
                Workload::ReadrandomTtl,
                Workload::Expire
            ]
        );
        // Every read of the hour-long values found its value (the loop checks each one).
        assert_eq!(results[1].ops, 3000);
        let expire = &results[2];
        assert_eq!(expire.ops, 3000);
        assert!(
            expire.note.contains("0 of 3000 reads found a value"),
            "{}",
            expire.note
        );
    }

    #[test]
    fn only_the_selected_workloads_of_a_group_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let args = suite_args(&["--num=1000", "--workloads=fillrandom-ttl,deleteseq"]);
        let results = run_engine(EngineKind::Ferris, dir.path(), &args).unwrap();
        let workloads: Vec<Workload> = results.iter().map(|m| m.workload).collect();
        assert_eq!(workloads, [Workload::Deleteseq, Workload::FillrandomTtl]);
    }

    #[test]
    fn reads_run_fresh_then_settled_and_read_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let args = suite_args(&[
            "--num=2000",
            "--settle=0",
            "--workloads=overwrite,readrandom,readseq,checkpoint",
        ]);
        let results = run_engine(EngineKind::Ferris, dir.path(), &args).unwrap();
        let rows: Vec<(Workload, Option<State>)> =
            results.iter().map(|m| (m.workload, m.state)).collect();
        assert_eq!(
            rows,
            [
                (Workload::Readrandom, Some(State::Fresh)),
                (Workload::Readseq, Some(State::Fresh)),
                (Workload::Overwrite, None),
                (Workload::Readrandom, Some(State::Settled)),
                (Workload::Readseq, Some(State::Settled)),
                (Workload::Checkpoint, None),
            ]
        );
        for scan in results.iter().filter(|m| m.workload == Workload::Readseq) {
            // Every entry, and every byte of each key and value, as read.
            assert_eq!(scan.ops, 2000);
            assert_eq!(scan.user_bytes, 2000 * (16 + 100));
        }
        let overwrite = &results[2];
        assert!(overwrite.write_amp.is_some() || proc::disk_write_bytes().is_none());
        assert!(
            overwrite.note.contains("quiescent wait"),
            "{}",
            overwrite.note
        );
    }

    #[test]
    fn a_scan_sees_the_bytes_of_each_entry() {
        let mut seen = Seen::default();
        seen.add(b"k1", b"value");
        seen.add(b"k2", b"");
        assert_eq!(seen.entries, 2);
        assert_eq!(seen.bytes, 2 + 5 + 2);
        let mut other = Seen::default();
        other.add(b"k1", b"valuf");
        other.add(b"k2", b"");
        assert_ne!(seen.crc, other.crc, "a changed byte changes the checksum");
        assert_eq!(Seen::value(b"abc").bytes, 3);
    }

    #[test]
    fn values_are_windows_of_the_requested_size() {
        let values = Values::new(100);
        assert_eq!(values.get(0).len(), 100);
        assert_eq!(values.get(u64::MAX).len(), 100);
        assert_ne!(values.get(1), values.get(2));
    }
}
