//! The transaction workloads: money moved between accounts in optimistic transactions that
//! retry when they conflict (`transfer-uniform`, `transfer-zipf`), and what a transaction's
//! commit costs over a plain write of the same batch (`write-pair` against `commit-pair`).
//!
//! They run on FerrisDB's transactions (`Db::transaction`), RocksDB's
//! `OptimisticTransactionDB` and fjall's `OptimisticTxDatabase`, each driven through
//! [`TxnEngine`] and its [`Txn`]; each engine does the same work per transaction and is
//! opened with the same [`Settings`] as in the other workloads, its commits as durable as
//! its plain writes are there.
//!
//! # The transfers
//!
//! `--num / 10` accounts (keys `0..accounts`, at least 2), each a value of `--value-size`
//! bytes (at least 8) whose first 8 bytes are a little-endian balance, all
//! [`INITIAL_BALANCE`] before the first workload. A transfer picks two distinct accounts,
//! uniformly or with YCSB's scrambled zipfian chooser (a few hot accounts, as a bank has),
//! reads both values (the bytes come back to the caller), moves up to
//! [`MAX_AMOUNT`] from the first to the second (never below zero), writes both values back
//! (the rest of each value unchanged) and commits. A commit refused for a conflict is an
//! abort: the transfer starts again from a new read version after
//! [`ferris_txn::backoff`], the delay FerrisDB's own `Db::run` waits, for every engine.
//! Ops are committed transfers; the note gives the aborts over the attempts.
//!
//! After each transfer workload, every account is read back outside any transaction and
//! the balances summed: a lost update (two transfers that both committed over the same
//! read) changes the sum, and the run fails.
//!
//! # The commit against a plain write
//!
//! On the same database, one thread writes `--transfers` batches of two keys (never the
//! accounts): `write-pair` with the engine's plain atomic batch, `commit-pair` with a
//! transaction that only writes two keys and commits. Each draws its pairs the same way
//! from a key range of its own, the same size (so that neither writes over keys the other
//! just wrote, which would make its memtable inserts land beside equal keys). The
//! two are interleaved in [`PAIR_SLICES`] slices, taking turns at going first, so a noisy
//! spell of the machine falls on both. `commit-pair`'s note gives its rate over
//! `write-pair`'s as the median of the slices' ratios: a rare stall of the write path
//! that both share (a memtable switch syncing the WAL segment it seals, 30 ms here) lands
//! in one slice of one of them, and would otherwise move a whole run's ratio by several
//! per cent. The rows' ops/s are whole-run rates, stalls included.
//! fjall's `OptimisticTxDatabase` has no plain batch in its public API, so fjall runs
//! `commit-pair` alone.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::engine::{EngineKind, Entry, Settings};
use crate::workload::{self, Measurement, Values, Workload, key};
use crate::zipf::ScrambledZipfian;
use crate::{SuiteArgs, proc};

/// The transaction workloads, in the order they run on their database.
pub const GROUP: [Workload; 4] = [
    Workload::WritePair,
    Workload::CommitPair,
    Workload::TransferUniform,
    Workload::TransferZipf,
];

/// Every account's balance before the first transfer.
pub const INITIAL_BALANCE: u64 = 1_000_000;

/// The most one transfer moves.
pub const MAX_AMOUNT: u64 = 100;

/// Slices `write-pair` and `commit-pair` are interleaved in.
pub const PAIR_SLICES: u64 = 100;

/// Attempts of one transfer before the run fails: a transfer that conflicts this often
/// means something is broken, not busy.
pub const MAX_ATTEMPTS: u32 = 1000;

/// Accounts written per transaction of the untimed load.
const LOAD_BATCH: u64 = 1000;

/// What a commit came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The transaction's writes are in.
    Committed,
    /// The engine refused the commit for a conflict (or a read version too old to
    /// check), writing nothing: the transaction may be retried.
    Conflict,
}

/// One transaction in flight.
pub trait Txn {
    /// Reads `key` as the transaction sees it, recording it for the conflict check, and
    /// copies its value into `out`; returns whether it was found.
    fn get(&mut self, key: &[u8], out: &mut Vec<u8>) -> Result<bool>;

    /// Writes `key` in the transaction (nothing reaches the database before commit).
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Commits, as durable as the engine's plain writes under the settings.
    fn commit(self: Box<Self>) -> Result<Attempt>;
}

/// An engine opened for transactions. Every call is made from several threads at once
/// when `--threads` is above one.
pub trait TxnEngine: Send + Sync {
    /// Begins an optimistic, serializable transaction.
    fn begin(&self) -> Result<Box<dyn Txn + '_>>;

    /// Writes `entries` as one plain atomic batch, outside any transaction; `None` when
    /// the engine's transactional database has no such call.
    fn write(&self, entries: &[Entry<'_>]) -> Option<Result<()>>;

    /// Reads `key` outside any transaction into `out`; returns whether it was found.
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool>;

    /// Closes the engine, waiting for what it must finish.
    fn close(self: Box<Self>) -> Result<()>;
}

/// Opens `kind` for transactions in `dir` (a fresh directory) with `settings`.
pub fn open(kind: EngineKind, dir: &Path, settings: &Settings) -> Result<Box<dyn TxnEngine>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    match kind {
        EngineKind::Ferris => Ok(Box::new(FerrisTxn {
            db: ferris_engine::Db::open(dir, crate::engine::ferris_options(settings)?)?,
        })),
        #[cfg(feature = "rocksdb")]
        EngineKind::Rocksdb => Ok(Box::new(rocks::RocksTxn::open(dir, settings)?)),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(fjall_txn::FjallTxn::open(dir, settings)?)),
        other => bail!(
            "{} has no transactions here, or is not built in",
            other.name()
        ),
    }
}

/// FerrisDB: `Db::transaction`, whose commit is as durable as a plain write
/// (`TxnOptions::sync` left at `None` follows `Options::sync_writes`).
struct FerrisTxn {
    db: ferris_engine::Db,
}

impl TxnEngine for FerrisTxn {
    fn begin(&self) -> Result<Box<dyn Txn + '_>> {
        Ok(Box::new(self.db.transaction()?))
    }

    fn write(&self, entries: &[Entry<'_>]) -> Option<Result<()>> {
        let mut batch = ferris_engine::WriteBatch::new();
        for (key, value) in entries {
            batch.put(key, value);
        }
        Some(self.db.write(batch).map_err(Into::into))
    }

    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        Ok(copy_into(self.db.get(key)?.as_deref(), out))
    }

    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}

impl Txn for ferris_engine::Transaction {
    fn get(&mut self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        Ok(copy_into(
            ferris_engine::Transaction::get(self, key)?.as_deref(),
            out,
        ))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(ferris_engine::Transaction::put(self, key, value)?)
    }

    fn commit(self: Box<Self>) -> Result<Attempt> {
        match ferris_engine::Transaction::commit(*self) {
            Ok(_) => Ok(Attempt::Committed),
            Err(e) if e.is_retryable() => Ok(Attempt::Conflict),
            Err(e) => Err(e.into()),
        }
    }
}

/// Copies `value` into `out`; returns whether there was one.
fn copy_into(value: Option<&[u8]>, out: &mut Vec<u8>) -> bool {
    out.clear();
    if let Some(value) = value {
        out.extend_from_slice(value);
    }
    value.is_some()
}

/// RocksDB's `OptimisticTransactionDB`.
#[cfg(feature = "rocksdb")]
mod rocks {
    use super::*;

    /// The database, and the write options (sync as the settings say) every commit and
    /// plain write takes.
    pub(super) struct RocksTxn {
        db: rocksdb::OptimisticTransactionDB,
        write: rocksdb::WriteOptions,
    }

    impl RocksTxn {
        pub(super) fn open(dir: &Path, settings: &Settings) -> Result<RocksTxn> {
            let options = crate::peers::rocks_options(settings)?;
            let mut write = rocksdb::WriteOptions::default();
            write.set_sync(settings.sync);
            Ok(RocksTxn {
                db: rocksdb::OptimisticTransactionDB::open(&options, dir)?,
                write,
            })
        }
    }

    impl TxnEngine for RocksTxn {
        fn begin(&self) -> Result<Box<dyn Txn + '_>> {
            let options = rocksdb::OptimisticTransactionOptions::default();
            Ok(Box::new(self.db.transaction_opt(&self.write, &options)))
        }

        fn write(&self, entries: &[Entry<'_>]) -> Option<Result<()>> {
            let mut batch = rocksdb::WriteBatchWithTransaction::<true>::default();
            for (key, value) in entries {
                batch.put(key, value);
            }
            Some(self.db.write_opt(batch, &self.write).map_err(Into::into))
        }

        fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
            Ok(copy_into(self.db.get_pinned(key)?.as_deref(), out))
        }

        fn close(self: Box<Self>) -> Result<()> {
            drop(self);
            Ok(())
        }
    }

    impl Txn for rocksdb::Transaction<'_, rocksdb::OptimisticTransactionDB> {
        /// `GetForUpdate`: an optimistic transaction checks at commit only the keys it
        /// wrote or read this way, each against the sequence number when it was first
        /// tracked. A plain `Get` followed by a `Put` would be checked from the `Put` on,
        /// and two transfers over the same read could both commit: a lost update.
        fn get(&mut self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
            let value = self.get_pinned_for_update(key, true)?;
            Ok(copy_into(value.as_deref(), out))
        }

        fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
            Ok(rocksdb::Transaction::put(self, key, value)?)
        }

        /// `Busy` is a conflict; `TryAgain` means the memtables no longer hold the history
        /// the check needs, so it cannot tell, and refuses: both are retried.
        fn commit(self: Box<Self>) -> Result<Attempt> {
            match rocksdb::Transaction::commit(*self) {
                Ok(()) => Ok(Attempt::Committed),
                Err(e)
                    if matches!(
                        e.kind(),
                        rocksdb::ErrorKind::Busy | rocksdb::ErrorKind::TryAgain
                    ) =>
                {
                    Ok(Attempt::Conflict)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// fjall's `OptimisticTxDatabase` (serializable snapshot isolation).
#[cfg(feature = "fjall")]
mod fjall_txn {
    use fjall::Readable;

    use super::*;

    pub(super) struct FjallTxn {
        db: fjall::OptimisticTxDatabase,
        keyspace: fjall::OptimisticTxKeyspace,
        sync: bool,
    }

    impl FjallTxn {
        pub(super) fn open(dir: &Path, settings: &Settings) -> Result<FjallTxn> {
            let db = fjall::OptimisticTxDatabase::builder(dir)
                .cache_size(settings.cache_bytes)
                .open()?;
            let keyspace =
                db.keyspace("bench", || crate::peers::fjall_keyspace_options(settings))?;
            Ok(FjallTxn {
                db,
                keyspace,
                sync: settings.sync,
            })
        }
    }

    /// The plain keyspace under a transactional one, as fjall's transactions take it.
    fn keyspace(keyspace: &fjall::OptimisticTxKeyspace) -> &fjall::Keyspace {
        keyspace.as_ref()
    }

    /// A write transaction and the keyspace it works on.
    struct FjallTx<'a> {
        tx: fjall::OptimisticWriteTx,
        keyspace: &'a fjall::OptimisticTxKeyspace,
    }

    impl TxnEngine for FjallTxn {
        /// With `--sync` the transaction persists with `SyncAll` as it commits, as the
        /// plain workloads call `persist(SyncAll)` after each write; otherwise it keeps
        /// fjall's default for transactions, the journal written to the OS.
        fn begin(&self) -> Result<Box<dyn Txn + '_>> {
            let mut tx = self.db.write_tx()?;
            if self.sync {
                tx = tx.durability(Some(fjall::PersistMode::SyncAll));
            }
            Ok(Box::new(FjallTx {
                tx,
                keyspace: &self.keyspace,
            }))
        }

        fn write(&self, _entries: &[Entry<'_>]) -> Option<Result<()>> {
            None
        }

        fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
            Ok(copy_into(self.keyspace.get(key)?.as_deref(), out))
        }

        fn close(self: Box<Self>) -> Result<()> {
            drop(self);
            Ok(())
        }
    }

    impl Txn for FjallTx<'_> {
        fn get(&mut self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
            let value = self.tx.get(keyspace(self.keyspace), key)?;
            Ok(copy_into(value.as_deref(), out))
        }

        fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
            self.tx.insert(keyspace(self.keyspace), key, value);
            Ok(())
        }

        fn commit(self: Box<Self>) -> Result<Attempt> {
            Ok(match self.tx.commit()? {
                Ok(()) => Attempt::Committed,
                Err(fjall::Conflict) => Attempt::Conflict,
            })
        }
    }
}

/// The balance in an account's value: its first 8 bytes, little-endian.
///
/// # Errors
///
/// When the value is shorter than 8 bytes (it was not written by this workload).
pub fn balance(value: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("an account value of {} bytes", value.len()))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Sets the balance in an account's value (at least 8 bytes long), keeping the rest.
fn set_balance(value: &mut [u8], balance: u64) {
    value[..8].copy_from_slice(&balance.to_le_bytes());
}

/// How the transaction workloads are sized from the suite's options.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    /// Accounts, keys `0..accounts`.
    accounts: u64,
    /// Committed transfers per transfer workload, and batches per pair workload.
    transfers: u64,
    /// Bytes of an account's value.
    value_len: usize,
}

impl Sizes {
    fn new(args: &SuiteArgs) -> Sizes {
        Sizes {
            accounts: (args.num / 10).max(2),
            transfers: args.transfers.unwrap_or(args.num / 20).max(1),
            value_len: args.value_size.max(8),
        }
    }
}

/// Runs the selected transaction workloads on `kind` in a fresh database under `dir`: the
/// accounts loaded (untimed), then `write-pair` and `commit-pair` interleaved, then each
/// transfer workload followed by the check of the balances.
///
/// # Errors
///
/// When the engine fails, a transfer conflicts [`MAX_ATTEMPTS`] times, an account is
/// missing or the balances no longer add up.
pub fn run(
    kind: EngineKind,
    dir: &Path,
    args: &SuiteArgs,
    selected: &[Workload],
) -> Result<Vec<Measurement>> {
    if !GROUP.iter().any(|w| selected.contains(w)) {
        return Ok(Vec::new());
    }
    if !kind.has_transactions() {
        eprintln!(
            "{}: no transactions driven here; transfers skipped",
            kind.name()
        );
        return Ok(Vec::new());
    }
    let sizes = Sizes::new(args);
    let values = Values::new(sizes.value_len);
    let db_dir = dir.join("transactions");
    let db = open(kind, &db_dir, &args.settings())?;
    load(&*db, sizes, &values)?;
    let mut results = Vec::new();

    let pairs: Vec<Workload> = [Workload::WritePair, Workload::CommitPair]
        .into_iter()
        .filter(|w| selected.contains(w))
        .collect();
    if !pairs.is_empty() {
        results.extend(pair_workloads(kind, &*db, sizes, &values, &pairs)?);
    }
    for (workload, zipfian) in [
        (Workload::TransferUniform, false),
        (Workload::TransferZipf, true),
    ] {
        if selected.contains(&workload) {
            let threads = args.threads.max(1);
            results.push(transfers(kind, &*db, sizes, workload, zipfian, threads)?);
        }
    }
    db.close()?;
    std::fs::remove_dir_all(&db_dir).ok();
    Ok(results)
}

/// Writes every account with [`INITIAL_BALANCE`], in transactions of [`LOAD_BATCH`] blind
/// writes (every engine has those).
fn load(db: &dyn TxnEngine, sizes: Sizes, values: &Values) -> Result<()> {
    let mut value = vec![0u8; sizes.value_len];
    for first in (0..sizes.accounts).step_by(LOAD_BATCH as usize) {
        let mut txn = db.begin()?;
        for i in first..(first + LOAD_BATCH).min(sizes.accounts) {
            value.copy_from_slice(values.get(i));
            set_balance(&mut value, INITIAL_BALANCE);
            txn.put(&key(i), &value)?;
        }
        ensure!(
            txn.commit()? == Attempt::Committed,
            "loading the accounts conflicted with nothing running"
        );
    }
    Ok(())
}

/// Reads every account outside any transaction and checks the balances add up to what
/// the load wrote: no transfer's update was lost, and none was applied twice.
fn check_balances(kind: EngineKind, db: &dyn TxnEngine, sizes: Sizes) -> Result<()> {
    let mut value = Vec::new();
    let mut sum: u128 = 0;
    for i in 0..sizes.accounts {
        ensure!(
            db.get(&key(i), &mut value)?,
            "{}: account {i} is missing after the transfers",
            kind.name()
        );
        sum += u128::from(balance(&value)?);
    }
    let expected = u128::from(sizes.accounts) * u128::from(INITIAL_BALANCE);
    ensure!(
        sum == expected,
        "{}: LOST UPDATE: the {} balances add up to {sum}, not {expected}",
        kind.name(),
        sizes.accounts
    );
    Ok(())
}

/// What one thread of a timed loop counted.
struct Tally {
    ops: u64,
    attempts: u64,
    latency: Histogram<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            ops: 0,
            attempts: 0,
            latency: workload::histogram(),
        }
    }

    fn record(&mut self, began: Instant) -> Result<()> {
        self.latency
            .record(began.elapsed().as_nanos().max(1) as u64)?;
        self.ops += 1;
        Ok(())
    }

    fn add(&mut self, other: &Tally) -> Result<()> {
        self.ops += other.ops;
        self.attempts += other.attempts;
        self.latency.add(&other.latency)?;
        Ok(())
    }
}

/// Runs one transfer workload on `threads` threads, then checks the balances.
fn transfers(
    kind: EngineKind,
    db: &dyn TxnEngine,
    sizes: Sizes,
    workload: Workload,
    zipfian: bool,
    threads: usize,
) -> Result<Measurement> {
    proc::reset_peak_rss();
    let zipf = zipfian.then(|| ScrambledZipfian::new(sizes.accounts));
    let pick = |rng: &mut SmallRng| match &zipf {
        Some(zipf) => zipf.next(rng),
        None => rng.random_range(0..sizes.accounts),
    };
    let progress = workload::progress_bar(kind, workload, sizes.transfers);
    let per_thread = sizes.transfers.div_ceil(threads as u64);
    let one_thread = |t: usize| -> Result<Tally> {
        let mut rng = SmallRng::seed_from_u64(0x7a45_0000 + t as u64);
        let mut tally = Tally::new();
        let (mut from_value, mut to_value) = (Vec::new(), Vec::new());
        let first = t as u64 * per_thread;
        let last = (first + per_thread).min(sizes.transfers);
        for done in first..last {
            let from = pick(&mut rng);
            let to = loop {
                let to = pick(&mut rng);
                if to != from {
                    break to;
                }
            };
            let (from_key, to_key) = (key(from), key(to));
            let wanted = rng.random_range(1..=MAX_AMOUNT);
            let began = Instant::now();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                tally.attempts += 1;
                let mut txn = db.begin()?;
                let found =
                    txn.get(&from_key, &mut from_value)? && txn.get(&to_key, &mut to_value)?;
                ensure!(found, "account {from} or {to} is missing");
                let (from_balance, to_balance) = (balance(&from_value)?, balance(&to_value)?);
                let amount = wanted.min(from_balance);
                set_balance(&mut from_value, from_balance - amount);
                set_balance(&mut to_value, to_balance + amount);
                txn.put(&from_key, &from_value)?;
                txn.put(&to_key, &to_value)?;
                match txn.commit()? {
                    Attempt::Committed => break,
                    Attempt::Conflict => {
                        ensure!(
                            attempt < MAX_ATTEMPTS,
                            "a transfer from {from} to {to} conflicted {attempt} times"
                        );
                        std::thread::sleep(ferris_txn::backoff(attempt));
                    }
                }
            }
            tally.record(began)?;
            if done % 1024 == 1023 {
                progress.inc(1024);
            }
        }
        Ok(tally)
    };
    let start = Instant::now();
    let outcomes: Vec<Result<Tally>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let one_thread = &one_thread;
                s.spawn(move || one_thread(t))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("transfer thread panicked"))
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let mut total = Tally::new();
    for outcome in outcomes {
        total.add(&outcome.with_context(|| format!("{} on {}", workload.name(), kind.name()))?)?;
    }
    check_balances(kind, db, sizes)?;
    let aborts = total.attempts - total.ops;
    let note = format!(
        "{} accounts, {}; aborts {:.2}% ({aborts} of {} attempts); balances add up",
        sizes.accounts,
        if zipfian { "zipfian" } else { "uniform" },
        100.0 * aborts as f64 / total.attempts.max(1) as f64,
        total.attempts
    );
    // Two values read and two written per transfer.
    let user_bytes = total.ops * 4 * (16 + sizes.value_len as u64);
    Ok(measurement(
        kind, workload, threads, seconds, user_bytes, &total, note,
    ))
}

/// Runs `write-pair` and `commit-pair` (those of them in `pairs`) on one thread,
/// interleaved in [`PAIR_SLICES`] slices, each drawing the same pairs of keys from a range
/// of its own.
fn pair_workloads(
    kind: EngineKind,
    db: &dyn TxnEngine,
    sizes: Sizes,
    values: &Values,
    pairs: &[Workload],
) -> Result<Vec<Measurement>> {
    let plain_wanted = pairs.contains(&Workload::WritePair);
    let plain = plain_wanted && db.write(&[]).is_some();
    if plain_wanted && !plain {
        eprintln!(
            "{}: no plain batch on its transactional database; write-pair skipped",
            kind.name()
        );
    }
    let commit = pairs.contains(&Workload::CommitPair);
    // The pairs' keys lie past the accounts, so the transfers' sum is not disturbed, and
    // each workload has a key range of its own, drawn the same way: were commit-pair to
    // rewrite the keys write-pair had just written, every one of its inserts would land
    // beside an equal user key in the memtable, whose comparisons run the whole key, and
    // it would be measured on a harder memtable than write-pair.
    let pair = |rng: &mut SmallRng, i: u64, base: u64| {
        let a = base + rng.random_range(0..sizes.accounts);
        let b = loop {
            let b = base + rng.random_range(0..sizes.accounts);
            if b != a {
                break b;
            }
        };
        ((key(a), values.get(i)), (key(b), values.get(i + 1)))
    };
    proc::reset_peak_rss();
    let (mut plain_tally, mut commit_tally) = (Tally::new(), Tally::new());
    let (mut plain_time, mut commit_time) = (Duration::ZERO, Duration::ZERO);
    let (mut plain_rng, mut commit_rng) = (
        SmallRng::seed_from_u64(0x9a12),
        SmallRng::seed_from_u64(0x9a12),
    );
    let per_slice = sizes.transfers.div_ceil(PAIR_SLICES);
    let progress = workload::progress_bar(kind, pairs[0], 2 * sizes.transfers);
    // Each slice's commit rate over its plain rate, where both ran.
    let mut slice_ratios = Vec::new();
    for slice in 0..PAIR_SLICES {
        let units = slice * per_slice..((slice + 1) * per_slice).min(sizes.transfers);
        if units.is_empty() {
            break;
        }
        let (mut plain_slice, mut commit_slice) = (None, None);
        // Whichever runs second in a slice runs on a memtable the first just grew: take
        // turns.
        let commit_first = slice % 2 == 1;
        for commit_turn in [commit_first, !commit_first] {
            if plain && !commit_turn {
                let start = Instant::now();
                for i in units.clone() {
                    let ((a, va), (b, vb)) = pair(&mut plain_rng, i, sizes.accounts);
                    let began = Instant::now();
                    db.write(&[(&a, va), (&b, vb)])
                        .context("checked before the loop")??;
                    plain_tally.record(began)?;
                }
                plain_slice = Some(start.elapsed());
            }
            if commit && commit_turn {
                let start = Instant::now();
                for i in units.clone() {
                    let ((a, va), (b, vb)) = pair(&mut commit_rng, i, 2 * sizes.accounts);
                    let began = Instant::now();
                    let mut txn = db.begin()?;
                    txn.put(&a, va)?;
                    txn.put(&b, vb)?;
                    ensure!(
                        txn.commit()? == Attempt::Committed,
                        "{}: a transaction that read nothing conflicted with nothing running",
                        kind.name()
                    );
                    commit_tally.record(began)?;
                }
                commit_slice = Some(start.elapsed());
            }
        }
        plain_time += plain_slice.unwrap_or_default();
        commit_time += commit_slice.unwrap_or_default();
        if let (Some(plain), Some(commit)) = (plain_slice, commit_slice) {
            slice_ratios.push(plain.as_secs_f64() / commit.as_secs_f64());
        }
        progress.inc(2 * (units.end - units.start));
    }
    progress.finish_and_clear();
    let bytes = |tally: &Tally| tally.ops * 2 * (16 + sizes.value_len as u64);
    let mut results = Vec::new();
    if plain {
        let note = "one thread; 2-key batches, interleaved with commit-pair".to_owned();
        results.push(measurement(
            kind,
            Workload::WritePair,
            1,
            plain_time.as_secs_f64(),
            bytes(&plain_tally),
            &plain_tally,
            note,
        ));
    }
    if commit {
        let note = match crate::report::median(&slice_ratios) {
            Some(ratio) => format!(
                "one thread; blind 2-key transactions; {ratio:.3}x write-pair's ops/s \
                 (median of {} slices' ratios) in this run",
                slice_ratios.len()
            ),
            None => "one thread; blind 2-key transactions".to_owned(),
        };
        results.push(measurement(
            kind,
            Workload::CommitPair,
            1,
            commit_time.as_secs_f64(),
            bytes(&commit_tally),
            &commit_tally,
            note,
        ));
    }
    Ok(results)
}

fn measurement(
    kind: EngineKind,
    workload: Workload,
    threads: usize,
    seconds: f64,
    user_bytes: u64,
    tally: &Tally,
    note: String,
) -> Measurement {
    let us = |q: f64| tally.latency.value_at_quantile(q) as f64 / 1000.0;
    Measurement {
        engine: kind.name().to_owned(),
        workload,
        threads,
        ops: tally.ops,
        seconds,
        user_bytes,
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        write_amp: None,
        space_amp: None,
        peak_rss: proc::peak_rss(),
        note,
        round: 0,
        state: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::tests::suite_args;

    #[test]
    fn transfers_keep_the_sum_of_the_balances_under_contention() {
        let dir = tempfile::tempdir().unwrap();
        // 200 accounts and four threads: the zipfian transfers conflict, and retry.
        let args = suite_args(&[
            "--num=2000",
            "--transfers=3000",
            "--threads=4",
            "--workloads=transfer-zipf,commit-pair,write-pair,transfer-uniform",
        ]);
        let results = crate::workload::run_engine(EngineKind::Ferris, dir.path(), &args).unwrap();
        let workloads: Vec<Workload> = results.iter().map(|m| m.workload).collect();
        assert_eq!(workloads, GROUP);
        for m in &results {
            assert_eq!(m.ops, 3000, "{:?}", m.workload);
        }
        assert_eq!((results[0].threads, results[1].threads), (1, 1));
        assert!(
            results[1].note.contains("x write-pair's ops/s"),
            "{}",
            results[1].note
        );
        for m in &results[2..] {
            assert_eq!(m.threads, 4);
            assert!(m.note.contains("balances add up"), "{}", m.note);
            assert!(m.note.contains("200 accounts"), "{}", m.note);
        }
    }

    /// FerrisDB opened for transactions in `dir`, with 10 accounts of `value_len` bytes.
    fn loaded(dir: &Path, value_len: usize) -> (Box<dyn TxnEngine>, Sizes) {
        let db = open(EngineKind::Ferris, dir, &suite_args(&[]).settings()).unwrap();
        let sizes = Sizes {
            accounts: 10,
            transfers: 1,
            value_len,
        };
        load(&*db, sizes, &Values::new(value_len)).unwrap();
        (db, sizes)
    }

    #[test]
    fn a_second_commit_over_the_same_read_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = loaded(dir.path(), 8);
        let (mut a, mut b) = (db.begin().unwrap(), db.begin().unwrap());
        let mut value = Vec::new();
        for txn in [&mut a, &mut b] {
            assert!(txn.get(&key(3), &mut value).unwrap());
            assert_eq!(balance(&value).unwrap(), INITIAL_BALANCE);
            txn.put(&key(3), &value).unwrap();
        }
        assert_eq!(a.commit().unwrap(), Attempt::Committed);
        assert_eq!(b.commit().unwrap(), Attempt::Conflict);
    }

    #[test]
    fn a_lost_update_fails_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let (db, sizes) = loaded(dir.path(), 16);
        check_balances(EngineKind::Ferris, &*db, sizes).unwrap();
        // A transfer whose credit was lost: money left account 1 and arrived nowhere.
        let mut value = Vec::new();
        assert!(db.get(&key(1), &mut value).unwrap());
        set_balance(&mut value, INITIAL_BALANCE - 5);
        db.write(&[(&key(1), &value)]).unwrap().unwrap();
        let err = check_balances(EngineKind::Ferris, &*db, sizes).unwrap_err();
        assert!(err.to_string().contains("LOST UPDATE"), "{err}");
    }

    #[test]
    fn a_balance_needs_eight_bytes() {
        let mut value = vec![7u8; 12];
        set_balance(&mut value, 42);
        assert_eq!(balance(&value).unwrap(), 42);
        assert_eq!(&value[8..], &[7, 7, 7, 7]);
        assert!(balance(&value[..7]).is_err());
    }
}
