//! One history: threads running random transactions on one database, recorded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferris_engine::{Db, Error, Keyspace, Options, Transaction, TxnError};
use ferris_fs::{FileSystem, SimFs};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::history::{Committed, Space, State, Step, Violation, replay};

/// What a history runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Seed of every thread's random choices (and of the simulated file system).
    pub seed: u64,
    /// Threads running transactions at once.
    pub threads: usize,
    /// Transactions each thread begins.
    pub txns_per_thread: usize,
    /// Keys per keyspace: fewer keys, more conflicts.
    pub keys: u32,
    /// The most steps (reads and writes) one transaction makes.
    pub max_steps: usize,
    /// Whether a thread flushes and compacts beside the transactions, on a database whose
    /// memtables are a few KiB, so reads meet tables of every level and compactions
    /// replace them under running transactions.
    pub maintenance: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 0,
            threads: 4,
            txns_per_thread: 200,
            keys: 24,
            max_steps: 6,
            maintenance: true,
        }
    }
}

/// What a history did, once it was found serializable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Transactions that committed and wrote.
    pub committed: u64,
    /// Transactions that committed having only read.
    pub read_only: u64,
    /// Commits refused with a conflict.
    pub conflicts: u64,
    /// Commits refused as too old.
    pub too_old: u64,
    /// Transactions dropped without committing (they must leave nothing).
    pub abandoned: u64,
    /// Flushes and compactions the maintenance thread ran.
    pub maintenance: u64,
}

impl Outcome {
    /// Adds another history's counts to these.
    pub fn add(&mut self, other: &Outcome) {
        self.committed += other.committed;
        self.read_only += other.read_only;
        self.conflicts += other.conflicts;
        self.too_old += other.too_old;
        self.abandoned += other.abandoned;
        self.maintenance += other.maintenance;
    }
}

/// Why a history failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The committed transactions are not serializable in commit order.
    #[error("seed {seed}: not serializable: {violation}")]
    NotSerializable {
        /// The history's seed.
        seed: u64,
        /// The first transaction whose reads the replay contradicts.
        violation: Box<Violation>,
    },
    /// The database ended in another state than the replay of its commits.
    #[error(
        "seed {seed}: the database holds {found} entries that the replay does not ({missing} the other way)"
    )]
    FinalState {
        /// The history's seed.
        seed: u64,
        /// Entries in the database and not in the replay (or with another value).
        found: usize,
        /// Entries in the replay and not in the database.
        missing: usize,
    },
    /// The engine failed where it should not (an error that is not a refused commit).
    #[error("seed {seed}: {source}")]
    Engine {
        /// The history's seed.
        seed: u64,
        /// The error.
        #[source]
        source: Error,
    },
}

/// Runs one history as `config` says, on a fresh database on a simulated file system,
/// and checks it: replaying the committed transactions in commit order must reproduce
/// every value each of them read, and leave what the database holds.
///
/// # Errors
///
/// [`CheckError`] naming the seed.
pub fn run_history(config: &Config) -> Result<Outcome, CheckError> {
    let seed = config.seed;
    let engine = |source| CheckError::Engine { seed, source };
    let sim = SimFs::new(seed);
    let mut options = Options::default();
    options.file_system = Arc::new(sim) as Arc<dyn FileSystem>;
    options.sync_writes = false;
    options.write_buffer_size = 4 << 10;
    options.block_cache_size = 1 << 20;
    let db = Db::open("/db", options).map_err(engine)?;
    let spaces = [db.keyspace("default"), db.keyspace("other")];
    let [default, other] = spaces.map(|k| k.map_err(engine));
    let spaces = [default?, other?];

    let history = Mutex::new(Vec::new());
    let outcome = Mutex::new(Outcome::default());
    let running = AtomicBool::new(true);
    let maintenance = AtomicU64::new(0);
    let result: Result<(), CheckError> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..config.threads)
            .map(|thread| {
                let (db, spaces, history, outcome) = (&db, &spaces, &history, &outcome);
                s.spawn(move || {
                    let mut rng = SmallRng::seed_from_u64(seed ^ (thread as u64) << 32);
                    let mut mine = Outcome::default();
                    for n in 0..config.txns_per_thread {
                        let run = run_one(db, spaces, config, &mut rng, (thread, n), &mut mine);
                        if let Some(committed) = run.map_err(engine)? {
                            history.lock().unwrap().push(committed);
                        }
                    }
                    outcome.lock().unwrap().add(&mine);
                    Ok::<(), CheckError>(())
                })
            })
            .collect();
        if config.maintenance {
            let (db, running, maintenance) = (&db, &running, &maintenance);
            s.spawn(move || {
                let mut round = 0u64;
                while running.load(Ordering::Relaxed) {
                    let done = match round % 4 {
                        3 => db.compact(),
                        _ => db.flush(),
                    };
                    if done.is_ok() {
                        maintenance.fetch_add(1, Ordering::Relaxed);
                    }
                    round += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
        let joined: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        running.store(false, Ordering::Relaxed);
        (joined.into_iter())
            .try_for_each(|r| r.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    });
    result?;

    let state = replay(history.into_inner().unwrap())
        .map_err(|violation| CheckError::NotSerializable { seed, violation })?;
    let mut stored = State::new();
    for (space, keyspace) in spaces.iter().enumerate() {
        for kv in keyspace.iter().map_err(engine)? {
            let (k, v) = kv.map_err(engine)?;
            stored.insert((space as Space, k), v);
        }
    }
    if stored != state {
        let found = (stored.iter())
            .filter(|(k, v)| state.get(*k) != Some(*v))
            .count();
        let missing = (state.keys()).filter(|k| !stored.contains_key(*k)).count();
        return Err(CheckError::FinalState {
            seed,
            found,
            missing,
        });
    }
    let mut outcome = outcome.into_inner().unwrap();
    outcome.maintenance = maintenance.into_inner();
    Ok(outcome)
}

/// Runs one random transaction: `Some` with what it did and saw if it committed.
fn run_one(
    db: &Db,
    spaces: &[Keyspace; 2],
    config: &Config,
    rng: &mut SmallRng,
    (thread, n): (usize, usize),
    outcome: &mut Outcome,
) -> Result<Option<Committed>, Error> {
    let mut txn = db.transaction()?;
    let mut steps = Vec::new();
    for i in 0..rng.random_range(1..=config.max_steps) {
        let space = rng.random_range(0..2u8);
        let keyspace = &spaces[space as usize];
        let key = key(rng.random_range(0..config.keys));
        let step = match rng.random_range(0..100) {
            0..35 => {
                let found = txn.get_in(keyspace, &key)?;
                Step::Get { space, key, found }
            }
            35..50 => scan(&mut txn, keyspace, space, config, rng)?,
            50..85 => {
                let value = Bytes::from(format!("t{thread}.{n}.{i}"));
                txn.put_in(keyspace, &key, &value)?;
                Step::Put { space, key, value }
            }
            _ => {
                txn.delete_in(keyspace, &key)?;
                Step::Delete { space, key }
            }
        };
        steps.push(step);
        // A transaction is a few microseconds; without a yield now and then, most would
        // run whole within one time slice and never meet another.
        if rng.random_bool(0.3) {
            std::thread::yield_now();
        }
    }
    if rng.random_range(0..20) == 0 {
        outcome.abandoned += 1;
        return Ok(None); // dropped: its writes must never appear
    }
    match txn.commit() {
        Ok(commit) => {
            let committed = Committed {
                thread,
                commit,
                steps,
            };
            match committed.writes() {
                true => outcome.committed += 1,
                false => outcome.read_only += 1,
            }
            Ok(Some(committed))
        }
        Err(Error::Transaction(TxnError::Conflict { .. })) => {
            outcome.conflicts += 1;
            Ok(None)
        }
        Err(Error::Transaction(TxnError::TooOld { .. })) => {
            outcome.too_old += 1;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A scan of a random range, forwards or backwards, read to the end.
fn scan(
    txn: &mut Transaction,
    keyspace: &Keyspace,
    space: Space,
    config: &Config,
    rng: &mut SmallRng,
) -> Result<Step, Error> {
    let a = rng.random_range(0..config.keys);
    let b = rng.random_range(a + 1..=config.keys);
    let (lo, hi) = (key(a), key(b));
    let reverse = rng.random_bool(0.5);
    let iter = txn.range_in(keyspace, lo.clone()..hi.clone())?;
    let found: Result<Vec<_>, Error> = match reverse {
        true => iter.rev().collect(),
        false => iter.collect(),
    };
    Ok(Step::Scan {
        space,
        lo,
        hi,
        reverse,
        found: found?,
    })
}

/// Key `n`: fixed width, so key order is number order, and `key(keys)` bounds a scan
/// to the end.
fn key(n: u32) -> Bytes {
    Bytes::from(format!("k{n:04}"))
}
