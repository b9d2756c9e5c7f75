//! Running one seed: the workload against the engine and the model, the power cut, and
//! the checks after the restart.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferris_core::expiry::{self, NEVER};
use ferris_engine::{
    Bytes, Clock, DEFAULT_KEYSPACE, Db, Error, Keyspace, KeyspaceId, LimitError, ManualClock,
    Options, Snapshot, Ttl, WriteBatch,
};
use ferris_fs::{FileSystem, SimFs};

use crate::components::Components;
use crate::model::{
    self, DEFAULT, History, Model, Mutation, State, Stored, first_difference, show, show_value,
};
use crate::panics;
use crate::probe::{CutSite, Probe};
use crate::workload::{BatchEntry, CLOCK_START, KEYSPACES, Op, Workload, key, value};

mod txn;

/// Where the database lives on the simulated disk.
pub const DIR: &str = "/db";

/// The key the harness writes after recovery, outside every seed's key space, to show the
/// recovered database takes writes and keeps them.
const AFTER_RECOVERY: &[u8] = b"zz-after-recovery";

/// How many snapshots a workload keeps live at most.
const MAX_SNAPSHOTS: usize = 4;

/// What every seed of a run shares.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimConfig {
    /// Operations in each seed's workload (default 120).
    pub ops_per_seed: usize,
    /// The most power cuts a seed plans (default 3); each seed picks 1 to this many. Later
    /// cuts often land inside the recovery from the one before. With 0 the workload runs
    /// to its end and the disk crashes there, which is how `cargo xtask sim --no-cut`
    /// measures how many file-system operations a workload operation costs.
    pub max_cuts: usize,
    /// The memtable, table format and compaction strategy plugged into the engine
    /// (default: the engine's own, and each seed's strategy). They change what runs, not
    /// what a seed generates: [`Workload::generate`] ignores them.
    pub components: Components,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            ops_per_seed: 120,
            max_cuts: 3,
            components: Components::default(),
        }
    }
}

impl SimConfig {
    /// The command that runs `seed` alone with this config: `cargo xtask sim --seeds 1
    /// --start SEED`, and the flags for whatever differs from the defaults (operations,
    /// cuts, [`Components::to_args`]).
    pub fn replay_command(&self, seed: u64) -> String {
        let mut command = format!("cargo xtask sim --seeds 1 --start {seed}");
        let default = SimConfig::default();
        if self.ops_per_seed != default.ops_per_seed {
            command += &format!(" --ops {}", self.ops_per_seed);
        }
        if self.max_cuts == 0 {
            command += " --no-cut";
        } else if self.max_cuts != default.max_cuts {
            command += &format!(" --max-cuts {}", self.max_cuts);
        }
        for arg in self.components.to_args() {
            command += " ";
            command += &arg;
        }
        command
    }
}

/// What went wrong with a seed: see [`SimFailure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureKind {
    /// A read (get, scan either way, snapshot read) disagreed with the model while the
    /// workload ran, or the recovered database's gets, forward and reverse scans
    /// disagreed with each other.
    WrongRead,
    /// The engine returned an error while the power was still on.
    UnexpectedError,
    /// The database did not open after the restart, or could not be read.
    RecoveryFailed,
    /// After the restart, a key holds what no prefix of the history allows: an
    /// acknowledged durable write was lost, or a value appeared that was never written.
    LostWrite,
    /// After the restart, every key holds a value some prefix allows, but no one prefix
    /// gives them all: a later write survived while an earlier one was lost.
    Hole,
    /// `Db::verify` found damage in the recovered database's files.
    Damaged,
    /// The read-only open of what a power cut left (before the recovery that follows)
    /// failed, changed the disk, or read another state than that recovery.
    ReadOnly,
    /// The recovered database refused a write, or lost it across a clean reopen.
    AfterRecovery,
    /// The workload's own thread panicked (inside the engine, or in a check).
    Panic,
    /// One of the engine's background threads panicked.
    BackgroundPanic,
    /// A transaction's commit conflicted when the model says no write after its read
    /// version touched what it read (under snapshot isolation, what it wrote), or
    /// committed when one did.
    Conflict,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::WrongRead => "wrong read",
            FailureKind::UnexpectedError => "unexpected error",
            FailureKind::RecoveryFailed => "recovery failed",
            FailureKind::LostWrite => "lost write",
            FailureKind::Hole => "hole in the history",
            FailureKind::Damaged => "damaged files after recovery",
            FailureKind::ReadOnly => "read-only open after a power cut",
            FailureKind::AfterRecovery => "broken after recovery",
            FailureKind::Panic => "panic",
            FailureKind::BackgroundPanic => "panic in a background thread",
            FailureKind::Conflict => "wrong transaction outcome",
        })
    }
}

/// A seed that failed: which seed, what diverged, where, and how to replay it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("seed {seed}: {kind}{}: {detail}", step.map(|s| format!(" at step {s}")).unwrap_or_default())]
#[non_exhaustive]
pub struct SimFailure {
    /// The seed: [`run_seed`] with it (and the same [`SimConfig`]) replays the workload.
    pub seed: u64,
    /// The config the seed ran with.
    pub config: SimConfig,
    /// What kind of divergence.
    pub kind: FailureKind,
    /// The workload step at which it showed (`None` for the checks after the restart).
    pub step: Option<usize>,
    /// What was expected and what was found.
    pub detail: String,
    /// Where the power cut had landed, if it had (boxed: failures travel in `Result`s).
    pub cut: Option<Box<CutSite>>,
}

impl SimFailure {
    /// The command that replays this seed alone: [`SimConfig::replay_command`].
    pub fn replay_command(&self) -> String {
        self.config.replay_command(self.seed)
    }
}

/// What a seed that passed did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// [`Workload::digest`] of its workload.
    pub workload_digest: u64,
    /// Workload steps attempted (a step a power cut interrupted is not retried).
    pub steps_run: usize,
    /// Where each power cut landed, in order: the operation and the thread that ran it.
    /// The last is the crash at the end of the workload when the planned cuts ran out
    /// first.
    pub cuts: Vec<CutSite>,
    /// Planned cuts that landed before the workload's end.
    pub cuts_landed: usize,
    /// Of those, the cuts that landed while the database recovered from the one before:
    /// in the `Db::open` after a restart, or in the checks of what it recovered.
    pub cuts_in_recovery: usize,
    /// File-system operations performed, up to the last crash.
    pub fs_ops: u64,
    /// Writes acknowledged.
    pub writes_acknowledged: usize,
    /// Writes in doubt at the cuts (issued after the last durability point), summed.
    pub writes_in_doubt: usize,
    /// How many of them the recovered states held (each state being that prefix).
    pub writes_recovered: usize,
    /// Clean reopens during the workload.
    pub reopens: usize,
    /// Memtable flushes and merging compactions, summed over the workload's opens (those
    /// a power cut interrupted are not counted).
    pub flushes: u64,
    /// See `flushes`.
    pub compactions: u64,
    /// Values that had expired since the workload's previous compaction call (or since
    /// they were written) when a `Db::compact` or `Db::compact_range` over them ran,
    /// summed: expired data the compaction's `ExpiryFilter` had to meet (background
    /// compactions may have met some of it first).
    pub expired_before_compactions: usize,
    /// What its transactions ([`Op::Txn`]) did.
    pub txns: TxnCounts,
}

/// How a seed's transactions ended ([`SeedReport::txns`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxnCounts {
    /// Committed (read-only ones included); a commit a power cut interrupted is not
    /// counted.
    pub committed: usize,
    /// Refused with a conflict the model predicted.
    pub conflicted: usize,
    /// Dropped without committing, and found to have left nothing.
    pub abandoned: usize,
}

/// Runs the workload of `seed` and checks it: see the [crate docs](crate).
///
/// # Errors
///
/// A [`SimFailure`] naming the seed, the [`FailureKind`] and what diverged. A panic in
/// the workload's thread or in one of the engine's threads is a failure too, not a panic
/// of the caller.
pub fn run_seed(seed: u64, config: &SimConfig) -> Result<SeedReport, SimFailure> {
    run_workload(&Workload::generate(seed, config), config)
}

/// Runs `workload` (normally from [`Workload::generate`]) and checks it, with
/// `config`'s components plugged in; the rest of `config` shaped the workload, and is
/// carried into a failure for its replay command.
///
/// # Errors
///
/// As [`run_seed`].
pub fn run_workload(workload: &Workload, config: &SimConfig) -> Result<SeedReport, SimFailure> {
    panics::install();
    let mark = panics::mark();
    let sim = SimFs::new(workload.seed);
    let probe = Probe::new(
        sim.clone(),
        Path::new(DIR),
        config.components.table_format.build(),
    );
    let fail = |kind, step, detail| SimFailure {
        seed: workload.seed,
        config: config.clone(),
        kind,
        step,
        detail,
        cut: probe.cut_site().map(Box::new),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        Runner::new(workload, config, sim.clone(), probe.clone()).run()
    }));
    let result = match result {
        Ok(result) => result,
        Err(payload) => Err(fail(
            FailureKind::Panic,
            None,
            panics::payload_message(&*payload),
        )),
    };
    // Every engine thread of this seed has been joined by now (dropping a `Db` joins
    // them), so its panics are recorded.
    let background = panics::since(mark);
    if let Some(p) = background.first() {
        let whose = if probe.saw_thread(p.thread) {
            "a thread of this seed"
        } else {
            "a thread this seed's file system never saw: it may belong to a seed running \
             alongside; replay this one alone"
        };
        let detail = format!(
            "{} panicked ({whose}): {}{}",
            p.name,
            p.message,
            match &result {
                Err(f) => format!("; the run then failed with: {f}"),
                Ok(_) => String::new(),
            }
        );
        return Err(fail(FailureKind::BackgroundPanic, None, detail));
    }
    result
}

/// A live snapshot, the state it must read (as a reader saw the model when it was taken:
/// it judges expiry as of that moment), and which keyspace each name was when it was
/// taken (after a drop and a new creation, the same name is another keyspace).
type LiveSnapshot = (Snapshot, State, BTreeMap<String, KeyspaceId>);

/// The run's keyspace handles, by name: live ones, and dropped ones kept to check that
/// they refuse.
type Handles = BTreeMap<String, Keyspace>;

/// The error a dropped keyspace's handle must give.
fn dropped(error: &Error) -> bool {
    matches!(error, Error::KeyspaceDropped { .. })
}

/// The error a put with a time to live into a keyspace whose values do not expire must
/// give.
fn ttl_not_enabled(error: &Error) -> bool {
    matches!(error, Error::Limit(LimitError::TtlNotEnabled { .. }))
}

/// What ended a stretch of the workload between two opens.
enum End {
    /// The workload asked for a reopen.
    Reopen,
    /// The workload is done.
    Done,
    /// The power went: an operation failed with it off.
    Cut,
}

/// The state of one seed's run.
struct Runner<'w> {
    workload: &'w Workload,
    config: &'w SimConfig,
    sim: SimFs,
    probe: Probe,
    options: Options,
    /// The simulated clock the database reads. It is no part of the disk: a power cut
    /// leaves it running, so what expired before the cut stays expired after it.
    clock: Arc<ManualClock>,
    /// The clock's reading at the workload's last compaction call.
    last_compaction_ms: u64,
    expired_before_compactions: usize,
    txns: TxnCounts,
    history: History,
    /// The next step to run.
    step: usize,
    writes_acknowledged: usize,
    writes_in_doubt: usize,
    writes_recovered: usize,
    reopens: usize,
    restarts: usize,
    flushes: u64,
    compactions: u64,
    /// What the read-only open after the last restart read, for the recovery to match.
    read_only: Option<State>,
    /// Where each power cut landed.
    cuts: Vec<CutSite>,
    cuts_landed: usize,
    cuts_in_recovery: usize,
}

impl<'w> Runner<'w> {
    fn new(workload: &'w Workload, config: &'w SimConfig, sim: SimFs, probe: Probe) -> Self {
        let mut options = workload
            .setup
            .options(Arc::new(probe.clone()) as Arc<dyn FileSystem>);
        config.components.apply(&mut options);
        workload.setup.name_keyspaces(&mut options);
        let clock = Arc::new(ManualClock::new(CLOCK_START));
        options.clock = clock.clone();
        Runner {
            workload,
            config,
            sim,
            probe,
            options,
            clock,
            last_compaction_ms: CLOCK_START,
            expired_before_compactions: 0,
            txns: TxnCounts::default(),
            history: History::default(),
            step: 0,
            writes_acknowledged: 0,
            writes_in_doubt: 0,
            writes_recovered: 0,
            reopens: 0,
            restarts: 0,
            flushes: 0,
            compactions: 0,
            read_only: None,
            cuts: Vec::new(),
            cuts_landed: 0,
            cuts_in_recovery: 0,
        }
    }

    fn fail(&self, kind: FailureKind, step: Option<usize>, detail: String) -> SimFailure {
        SimFailure {
            seed: self.workload.seed,
            config: self.config.clone(),
            kind,
            step,
            detail,
            cut: self
                .probe
                .cut_site()
                .or_else(|| self.cuts.last().cloned())
                .map(Box::new),
        }
    }

    /// `Ok(Some)` for success, `Ok(None)` for an error the power cut explains, and an
    /// [`FailureKind::UnexpectedError`] for an error with the power on.
    fn outcome<T>(
        &self,
        result: ferris_engine::Result<T>,
        what: &str,
    ) -> Result<Option<T>, SimFailure> {
        self.outcome_as(FailureKind::UnexpectedError, result, what)
    }

    /// [`Runner::outcome`], failing with `kind`.
    fn outcome_as<T>(
        &self,
        kind: FailureKind,
        result: ferris_engine::Result<T>,
        what: &str,
    ) -> Result<Option<T>, SimFailure> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(_) if self.sim.is_powered_off() => Ok(None),
            Err(e) => Err(self.fail(
                kind,
                Some(self.step),
                format!("{what}: {}", error_chain(&e)),
            )),
        }
    }

    fn wrong_read(&self, what: String) -> SimFailure {
        self.fail(FailureKind::WrongRead, Some(self.step), what)
    }

    /// The simulated clock's reading.
    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Whether keyspace `name`'s values expire, and their default.
    fn ttl(&self, name: &str) -> Ttl {
        let i = KEYSPACES.iter().position(|n| *n == name);
        i.map_or(Ttl::Off, |i| self.workload.setup.ttl[i])
    }

    /// `value` as the model keeps it when a write into keyspace `name` with time to live
    /// `ttl` (or none of its own) is made now: with the expiry time the engine gives it,
    /// `ferris_core::expiry::expires_at` of the clock's reading, fixed at the write.
    fn stored(&self, name: &str, value: Vec<u8>, ttl: Option<Duration>) -> Stored {
        let ttl = match self.ttl(name) {
            Ttl::On { default } => ttl.or(default),
            Ttl::Off => None,
        };
        let at = ttl.map_or(NEVER, |ttl| expiry::expires_at(self.now(), ttl));
        (value, at)
    }

    /// Before a compaction call over `lo..=hi` of every keyspace: counts the values that
    /// have expired since the last one ([`SeedReport::expired_before_compactions`]).
    fn note_compaction(&mut self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) {
        let (since, now) = (self.last_compaction_ms, self.now());
        for model in self.history.current.values() {
            let expired = model::expired_between(model, lo.clone(), hi.clone(), since, now);
            self.expired_before_compactions += expired;
        }
        self.last_compaction_ms = now;
    }

    fn run(mut self) -> Result<SeedReport, SimFailure> {
        let mut planned = self.workload.cuts.iter();
        let mut recovering = false;
        loop {
            if let Some(&n) = planned.next() {
                self.sim.cut_power_after(n);
            }
            let finished = self.power_cycle(recovering)?;
            self.cuts.extend(self.probe.take_cut_site());
            self.sim.restart();
            self.restarts += 1;
            recovering = true;
            if finished {
                break;
            }
            // Before the next cut is planned, so that its count starts where it did.
            self.check_read_only()?;
        }
        let fs_ops = self.sim.op_count();
        self.check_read_only()?;
        self.final_checks()?;
        Ok(SeedReport {
            seed: self.workload.seed,
            workload_digest: self.workload.digest(),
            steps_run: self.step,
            cuts: self.cuts,
            cuts_landed: self.cuts_landed,
            cuts_in_recovery: self.cuts_in_recovery,
            fs_ops,
            writes_acknowledged: self.writes_acknowledged,
            writes_in_doubt: self.writes_in_doubt,
            writes_recovered: self.writes_recovered,
            reopens: self.reopens,
            flushes: self.flushes,
            compactions: self.compactions,
            expired_before_compactions: self.expired_before_compactions,
            txns: self.txns,
        })
    }

    /// One power cycle: open (recovering and checking what survived, after a restart),
    /// then run the workload from where it stopped until the power cut or the end, where
    /// the disk is crashed on purpose. Returns whether the workload is done.
    fn power_cycle(&mut self, recovering: bool) -> Result<bool, SimFailure> {
        let open_kind = if recovering {
            FailureKind::RecoveryFailed
        } else {
            FailureKind::UnexpectedError
        };
        let opened = Db::open(DIR, self.options.clone());
        let Some(mut db) = self.outcome_as(open_kind, opened, "open")? else {
            self.cut_landed(recovering);
            return Ok(false);
        };
        if recovering && self.check_recovered(&db)?.is_none() {
            self.cut_landed(true);
            return Ok(false);
        }
        loop {
            let end = self.stretch(&db)?;
            let stats = db.stats();
            self.flushes += stats.flushes;
            self.compactions += stats.compactions;
            match end {
                End::Cut => {
                    self.cut_landed(false);
                    return Ok(false);
                }
                End::Done => {
                    if self.check_all(&db)?.is_none() || self.sim.is_powered_off() {
                        self.cut_landed(false);
                    } else {
                        // Crash here, wherever the background work has got to.
                        self.sim.cut_power_after(0);
                    }
                    return Ok(true);
                }
                End::Reopen => {
                    self.reopens += 1;
                    let closed = db.close();
                    drop(db);
                    if self.outcome(closed, "close")?.is_none() {
                        self.cut_landed(false);
                        return Ok(false);
                    }
                    // Closing seals and syncs the WAL, which also makes durable a
                    // transaction committed without sync where writes are synced.
                    self.history.durable_at(self.step);
                    let opened = Db::open(DIR, self.options.clone());
                    db = match self.outcome(opened, "reopen")? {
                        Some(db) => db,
                        None => {
                            self.cut_landed(false);
                            return Ok(false);
                        }
                    };
                    if self.check_all(&db)?.is_none() {
                        self.cut_landed(false);
                        return Ok(false);
                    }
                }
            }
        }
    }

    fn cut_landed(&mut self, in_recovery: bool) {
        self.cuts_landed += 1;
        self.cuts_in_recovery += usize::from(in_recovery);
    }

    /// Runs steps against `db` until a reopen, the end, or the power cut. Snapshots and
    /// keyspace handles live here, so they are released before the `Db` is.
    fn stretch(&mut self, db: &Db) -> Result<End, SimFailure> {
        let mut snapshots: Vec<LiveSnapshot> = Vec::new();
        let mut handles = Handles::new();
        while let Some(op) = self.workload.ops.get(self.step) {
            let step = self.step;
            // Time moves on before every step, the one a power cut interrupted included.
            let tick = self.workload.ticks_ms.get(step).copied().unwrap_or(0);
            self.clock.advance(Duration::from_millis(tick));
            let now = self.now();
            let done = match op {
                Op::Put { key: k, value_len } => {
                    let (k, v) = (key(*k), value(step, 0, *value_len));
                    let stored = self.stored(DEFAULT, v.clone(), None);
                    let mutation = Mutation::default_write(vec![(k.clone(), Some(stored))]);
                    self.write(step, mutation, || db.put(k, v))?.is_some()
                }
                Op::Delete { key: k } => {
                    let k = key(*k);
                    let mutation = Mutation::default_write(vec![(k.clone(), None)]);
                    self.write(step, mutation, || db.delete(k))?.is_some()
                }
                Op::DeleteRange { lo, hi } => {
                    let (lo, hi) = (key(*lo), hi.map(key));
                    let mutation = Mutation::DeleteRange {
                        keyspace: DEFAULT.to_string(),
                        lo: lo.clone(),
                        hi: hi.clone(),
                    };
                    let bounds = (
                        Bound::Included(lo),
                        hi.map_or(Bound::Unbounded, Bound::Excluded),
                    );
                    self.write(step, mutation, || db.delete_range(bounds))?
                        .is_some()
                }
                Op::Batch(entries) => {
                    let mut batch = WriteBatch::new();
                    let mut mutation = Vec::new();
                    for (entry, (k, v)) in entries.iter().enumerate() {
                        let k = key(*k);
                        match v {
                            Some(len) => {
                                let v = value(step, entry, *len);
                                batch.put(&k, &v);
                                mutation.push((k, Some(self.stored(DEFAULT, v, None))));
                            }
                            None => {
                                batch.delete(&k);
                                mutation.push((k, None));
                            }
                        }
                    }
                    let mutation = Mutation::default_write(mutation);
                    self.write(step, mutation, || db.write(batch))?.is_some()
                }
                Op::Get { key: k } => {
                    let k = key(*k);
                    let want = model::get_at(&self.history.current[DEFAULT], &k, now);
                    self.check_get("get", want, &k, |k| db.get(k))?
                }
                Op::Scan { lo, hi, reverse } => {
                    let (lo, hi) = (lo.map(key), hi.map(key));
                    let model = &self.history.current[DEFAULT];
                    let want = model::range_at(model, lo.clone(), hi.clone(), now);
                    self.check_scan("scan", &want, *reverse, || {
                        db.range((lo.clone(), hi.clone()))
                    })?
                }
                Op::Snapshot => match self.outcome(db.snapshot(), "snapshot")? {
                    None => false,
                    Some(snapshot) => {
                        // Which keyspace each name was when the snapshot was taken: after a
                        // drop and a new creation, the name is another keyspace.
                        let mut ids = BTreeMap::new();
                        let names: Vec<String> = self.history.current.keys().cloned().collect();
                        for name in names {
                            if let Some((handle, true)) = self.handle(db, &mut handles, &name)? {
                                ids.insert(name, handle.id());
                            }
                        }
                        if snapshots.len() == MAX_SNAPSHOTS {
                            snapshots.remove(0);
                        }
                        // It reads what a reader saw now, however far the clock moves.
                        let state = model::visible(&self.history.current, now);
                        snapshots.push((snapshot, state, ids));
                        true
                    }
                },
                Op::SnapshotRead {
                    which,
                    key: k,
                    lo,
                    hi,
                    reverse,
                } => match snapshots.len() {
                    0 => true,
                    n => {
                        let (snapshot, state, _) = &snapshots[which % n];
                        let what = format!("snapshot (sequence {})", snapshot.sequence());
                        let model = &state[DEFAULT];
                        self.check_get(&what, model.get(&key(*k)), &key(*k), |k| snapshot.get(k))?
                            && self.check_scan(
                                &what,
                                &model::range(model, lo.map(key), hi.map(key)),
                                *reverse,
                                || snapshot.range((lo.map(key), hi.map(key))),
                            )?
                    }
                },
                Op::ReleaseSnapshot { which } => {
                    if !snapshots.is_empty() {
                        let n = snapshots.len();
                        snapshots.remove(which % n);
                    }
                    true
                }
                Op::Flush => self.durable_call(db.flush(), "flush")?,
                Op::Compact => {
                    self.note_compaction(Bound::Unbounded, Bound::Unbounded);
                    self.durable_call(db.compact(), "compact")?
                }
                Op::CompactRange { lo, hi } => {
                    let (lo, hi) = (key(*lo), key(*hi));
                    self.note_compaction(Bound::Included(lo.clone()), Bound::Included(hi.clone()));
                    self.durable_call(db.compact_range(lo..=hi), "compact_range")?
                }
                Op::SyncWal => self.durable_call(db.sync_wal(), "sync_wal")?,
                Op::Reopen => {
                    self.step += 1;
                    return Ok(End::Reopen);
                }
                Op::CreateKeyspace { keyspace } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let created = if self.history.current.contains_key(name) {
                        // Live already: the call opens it and must change nothing.
                        self.outcome(db.keyspace(name), "keyspace")?
                    } else {
                        let mutation = Mutation::Create(name.to_string());
                        self.write(step, mutation, || db.keyspace(name))?
                    };
                    match created {
                        Some(handle) => {
                            handles.insert(name.to_string(), handle);
                            true
                        }
                        None => false,
                    }
                }
                Op::DropKeyspace { keyspace } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    if self.history.current.contains_key(name) {
                        // The run's handle stays: later steps write through it and must
                        // get the dropped keyspace's error.
                        self.handle(db, &mut handles, name)?;
                        let mutation = Mutation::Drop(name.to_string());
                        self.write(step, mutation, || db.drop_keyspace(name))?
                            .is_some()
                    } else {
                        // Dropping a keyspace that is not live is not an error.
                        self.outcome(db.drop_keyspace(name), "drop_keyspace")?
                            .is_some()
                    }
                }
                Op::PutIn {
                    keyspace,
                    key: k,
                    value_len,
                } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let (k, v) = (key(*k), value(step, 0, *value_len));
                    match self.handle(db, &mut handles, name)? {
                        None => true,
                        Some((handle, true)) => {
                            let stored = self.stored(name, v.clone(), None);
                            let mutation =
                                Mutation::Write(vec![(name.to_string(), k.clone(), Some(stored))]);
                            self.write(step, mutation, || handle.put(k, v))?.is_some()
                        }
                        Some((handle, false)) => {
                            self.refused("put into a dropped keyspace", handle.put(k, v), dropped)?
                        }
                    }
                }
                Op::DeleteIn { keyspace, key: k } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let k = key(*k);
                    match self.handle(db, &mut handles, name)? {
                        None => true,
                        Some((handle, true)) => {
                            let mutation =
                                Mutation::Write(vec![(name.to_string(), k.clone(), None)]);
                            self.write(step, mutation, || handle.delete(k))?.is_some()
                        }
                        Some((handle, false)) => {
                            self.refused("delete in a dropped keyspace", handle.delete(k), dropped)?
                        }
                    }
                }
                Op::BatchIn(entries) => {
                    let entries = entries
                        .iter()
                        .map(|&(ks, k, v)| (ks, k, v.map(|v| (v, None))));
                    self.batch_in(db, &mut handles, step, entries)?
                }
                Op::BatchWithTtl(entries) => {
                    self.batch_in(db, &mut handles, step, entries.iter().copied())?
                }
                Op::PutWithTtl {
                    keyspace,
                    key: k,
                    value_len,
                    ttl_ms,
                } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let (k, v) = (key(*k), value(step, 0, *value_len));
                    let ttl = Duration::from_millis(*ttl_ms);
                    let stored = self.stored(name, v.clone(), Some(ttl));
                    let mutation =
                        Mutation::Write(vec![(name.to_string(), k.clone(), Some(stored))]);
                    let expires = self.ttl(name).is_on();
                    let refuse = "a put with a TTL into a keyspace whose values do not expire";
                    if *keyspace == 0 {
                        // The default keyspace is always live.
                        let put = || db.put_with_ttl(k, v, ttl);
                        if expires {
                            self.write(step, mutation, put)?.is_some()
                        } else {
                            self.refused(refuse, put(), ttl_not_enabled)?
                        }
                    } else {
                        match self.handle(db, &mut handles, name)? {
                            None => true,
                            Some((handle, true)) => {
                                let put = || handle.put_with_ttl(k, v, ttl);
                                if expires {
                                    self.write(step, mutation, put)?.is_some()
                                } else {
                                    self.refused(refuse, put(), ttl_not_enabled)?
                                }
                            }
                            Some((handle, false)) => self.refused(
                                "a put with a TTL into a dropped keyspace",
                                handle.put_with_ttl(k, v, ttl),
                                dropped,
                            )?,
                        }
                    }
                }
                Op::GetIn { keyspace, key: k } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let k = key(*k);
                    match self.handle(db, &mut handles, name)? {
                        None => true,
                        Some((handle, true)) => {
                            let what = format!("get in {name}");
                            let want = model::get_at(&self.history.current[name], &k, now);
                            self.check_get(&what, want, &k, |k| handle.get(k))?
                        }
                        Some((handle, false)) => {
                            self.refused("get in a dropped keyspace", handle.get(k), dropped)?
                        }
                    }
                }
                Op::ScanIn {
                    keyspace,
                    lo,
                    hi,
                    reverse,
                } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let (lo, hi) = (lo.map(key), hi.map(key));
                    match self.handle(db, &mut handles, name)? {
                        None => true,
                        Some((handle, true)) => {
                            let model = &self.history.current[name];
                            let want = model::range_at(model, lo.clone(), hi.clone(), now);
                            self.check_scan(&format!("scan of {name}"), &want, *reverse, || {
                                handle.range((lo.clone(), hi.clone()))
                            })?
                        }
                        Some((handle, false)) => self.refused(
                            "scan of a dropped keyspace",
                            handle.range((lo, hi)),
                            dropped,
                        )?,
                    }
                }
                Op::SnapshotReadIn {
                    which,
                    keyspace,
                    key: k,
                    lo,
                    hi,
                    reverse,
                } => {
                    let name = KEYSPACES[usize::from(*keyspace)];
                    let handle = self.handle(db, &mut handles, name)?;
                    let read = match (snapshots.len(), handle) {
                        (0, _) | (_, None | Some((_, false))) => None,
                        (n, Some((handle, true))) => {
                            let (snapshot, state, ids) = &snapshots[which % n];
                            // Only the keyspace the name meant when the snapshot was taken.
                            (ids.get(name) == Some(&handle.id()))
                                .then(|| (snapshot, &state[name], handle))
                        }
                    };
                    match read {
                        None => true,
                        Some((snapshot, model, handle)) => {
                            let what =
                                format!("snapshot (sequence {}) of {name}", snapshot.sequence());
                            let k = key(*k);
                            self.check_get(&what, model.get(&k), &k, |k| {
                                snapshot.get_in(&handle, k)
                            })? && self.check_scan(
                                &what,
                                &model::range(model, lo.map(key), hi.map(key)),
                                *reverse,
                                || snapshot.range_in(&handle, (lo.map(key), hi.map(key))),
                            )?
                        }
                    }
                }
                Op::Checkpoint => self.check_checkpoint(db, step)?.is_some(),
                Op::Txn(op) => self.transaction(db, &mut handles, step, op)?,
            };
            if !done {
                // The step the power cut is not retried: the model takes whatever the
                // recovery kept of it.
                self.step += 1;
                return Ok(End::Cut);
            }
            self.step += 1;
        }
        Ok(End::Done)
    }

    /// [`Op::BatchIn`] and [`Op::BatchWithTtl`]: one batch across keyspaces, puts with a
    /// time to live of their own (`WriteBatch::put_with_ttl_in`) or the keyspace's
    /// default, and deletes. Entries in keyspaces never created are left out; an entry
    /// naming a dropped keyspace makes the whole batch fail with `Error::NoSuchKeyspace`,
    /// and apply nothing. `Ok(false)` if the power cut stopped it.
    fn batch_in(
        &mut self,
        db: &Db,
        handles: &mut Handles,
        step: usize,
        entries: impl Iterator<Item = BatchEntry>,
    ) -> Result<bool, SimFailure> {
        let mut batch = WriteBatch::new();
        let mut mutation = Vec::new();
        let mut names_a_dropped_keyspace = false;
        for (entry, (ks, k, v)) in entries.enumerate() {
            let name = KEYSPACES[usize::from(ks)];
            let id = if ks == 0 {
                DEFAULT_KEYSPACE
            } else {
                match self.handle(db, handles, name)? {
                    // Never created: the entry is left out.
                    None => continue,
                    Some((handle, live)) => {
                        names_a_dropped_keyspace |= !live;
                        handle.id()
                    }
                }
            };
            let k = key(k);
            let stored = match v {
                Some((len, ttl_ms)) => {
                    let v = value(step, entry, len);
                    match ttl_ms.map(Duration::from_millis) {
                        Some(ttl) => batch.put_with_ttl_in(id, &k, &v, ttl),
                        None => batch.put_in(id, &k, &v),
                    };
                    let ttl = ttl_ms.map(Duration::from_millis);
                    Some(self.stored(name, v, ttl))
                }
                None => {
                    batch.delete_in(id, &k);
                    None
                }
            };
            mutation.push((name.to_string(), k, stored));
        }
        if names_a_dropped_keyspace {
            self.refused("a batch naming a dropped keyspace", db.write(batch), |e| {
                matches!(e, Error::NoSuchKeyspace { .. })
            })
        } else {
            let written = self.write(step, Mutation::Write(mutation), || db.write(batch))?;
            Ok(written.is_some())
        }
    }

    /// The run's handle to keyspace `name`, and whether the keyspace is live: the handle
    /// held (live, or dropped since it was opened), or for a live keyspace the run holds
    /// none of, a new one. `None` for a keyspace this stretch never saw and the model does
    /// not have: opening it would create it.
    fn handle(
        &self,
        db: &Db,
        handles: &mut Handles,
        name: &str,
    ) -> Result<Option<(Keyspace, bool)>, SimFailure> {
        let live = self.history.current.contains_key(name);
        if let Some(handle) = handles.get(name) {
            return Ok(Some((handle.clone(), live)));
        }
        if !live {
            return Ok(None);
        }
        // `Db::keyspace` creates a missing keyspace, so ask the list first: a keyspace the
        // model has and the database does not must not be quietly made again.
        let Some(names) = self.outcome(db.list_keyspaces(), "list_keyspaces")? else {
            return Ok(None);
        };
        if !names.iter().any(|n| n == name) {
            return Err(self.wrong_read(format!(
                "keyspace {name} is live in the model, but not listed: {names:?}"
            )));
        }
        let Some(handle) = self.outcome(db.keyspace(name), "keyspace")? else {
            return Ok(None);
        };
        handles.insert(name.to_string(), handle.clone());
        Ok(Some((handle, true)))
    }

    /// A call that must fail with the error `expected` accepts and change nothing (it is
    /// not issued to the history); `Ok(false)` if the power cut stopped it.
    fn refused<T>(
        &self,
        what: &str,
        result: ferris_engine::Result<T>,
        expected: impl Fn(&Error) -> bool,
    ) -> Result<bool, SimFailure> {
        match result {
            Err(_) if self.sim.is_powered_off() => Ok(false),
            Err(e) if expected(e.root()) => Ok(true),
            Err(e) => Err(self.fail(
                FailureKind::UnexpectedError,
                Some(self.step),
                format!("{what}: the wrong error: {}", error_chain(&e)),
            )),
            Ok(_) => Err(self.wrong_read(format!("{what} succeeded"))),
        }
    }

    /// Gets `k` and compares it with `want`, what the model says a reader sees;
    /// `Ok(false)` if the power cut stopped it.
    fn check_get(
        &self,
        what: &str,
        want: Option<&Vec<u8>>,
        k: &[u8],
        get: impl FnOnce(&[u8]) -> ferris_engine::Result<Option<Bytes>>,
    ) -> Result<bool, SimFailure> {
        let Some(got) = self.outcome(get(k), what)? else {
            return Ok(false);
        };
        if got.as_deref() != want.map(|v| &v[..]) {
            return Err(self.wrong_read(format!(
                "{what} get {}: got {}, want {}",
                show(k),
                show_value(got.map(|b| b.to_vec()).as_ref()),
                show_value(want)
            )));
        }
        Ok(true)
    }

    /// Issues one write (a keyspace creation or drop is one too); `Ok(None)` if the power
    /// cut stopped it.
    fn write<T>(
        &mut self,
        step: usize,
        mutation: Mutation,
        call: impl FnOnce() -> ferris_engine::Result<T>,
    ) -> Result<Option<T>, SimFailure> {
        // An empty batch (every entry in a keyspace never created) returns at once: it
        // syncs nothing, so it is no durability point for the writes before it, which
        // may be unsynced (a transaction's commit with `sync(false)`).
        let empty = matches!(&mutation, Mutation::Write(entries) if entries.is_empty());
        self.history.issue(step, mutation);
        let result = call();
        let Some(out) = self.outcome(result, "write")? else {
            return Ok(None);
        };
        self.history.acknowledge();
        self.writes_acknowledged += 1;
        if self.workload.setup.sync_writes && !empty {
            self.history.durable_at(step);
        }
        Ok(Some(out))
    }

    /// A flush, compaction or WAL sync: when it succeeds, every write acknowledged before
    /// it is durable.
    fn durable_call(
        &mut self,
        result: ferris_engine::Result<()>,
        what: &str,
    ) -> Result<bool, SimFailure> {
        if self.outcome(result, what)?.is_none() {
            return Ok(false);
        }
        self.history.durable_at(self.step);
        Ok(true)
    }

    /// Collects a scan forwards (and backwards, with `reverse`) and compares it with
    /// `want`; `Ok(false)` if the power cut stopped it.
    fn check_scan<I>(
        &self,
        what: &str,
        want: &[(Vec<u8>, Vec<u8>)],
        reverse: bool,
        mut open: impl FnMut() -> ferris_engine::Result<I>,
    ) -> Result<bool, SimFailure>
    where
        I: DoubleEndedIterator<Item = ferris_engine::Result<(Bytes, Bytes)>>,
    {
        let Some(got) = self.outcome(open().and_then(collect), what)? else {
            return Ok(false);
        };
        if got != want {
            return Err(self.wrong_read(format!("{what}: {}", first_difference(&got, want))));
        }
        if reverse {
            let backwards = open().and_then(|it| collect(it.rev()));
            let Some(mut backwards) = self.outcome(backwards, what)? else {
                return Ok(false);
            };
            backwards.reverse();
            if backwards != want {
                return Err(self.wrong_read(format!(
                    "reverse {what}: {}",
                    first_difference(&backwards, want)
                )));
            }
        }
        Ok(true)
    }

    /// Checks that the database lists the model's keyspaces, and a full scan of each both
    /// ways against the model; `Ok(None)` if the power cut stopped it.
    fn check_all(&self, db: &Db) -> Result<Option<()>, SimFailure> {
        let Some(mut names) = self.outcome(db.list_keyspaces(), "list_keyspaces")? else {
            return Ok(None);
        };
        names.sort();
        let want: Vec<&String> = self.history.current.keys().collect();
        if names.iter().collect::<Vec<_>>() != want {
            return Err(self.wrong_read(format!(
                "the database lists keyspaces {names:?}, the model has {want:?}"
            )));
        }
        let now = self.now();
        for (name, model) in &self.history.current {
            let Some(keyspace) = self.outcome(db.keyspace(name), "keyspace")? else {
                return Ok(None);
            };
            let want = model::range_at(model, Bound::Unbounded, Bound::Unbounded, now);
            let what = format!("full scan of {name}");
            if !self.check_scan(&what, &want, true, || keyspace.iter())? {
                return Ok(None);
            }
        }
        Ok(Some(()))
    }

    /// The failure for a `Db::verify` report that found damage, naming every problem.
    fn damaged(&self, report: &ferris_engine::VerifyReport) -> SimFailure {
        let problems: Vec<String> = (report.problems.iter())
            .map(|p| format!("{} at {}: {}", p.file.display(), p.offset, p.reason))
            .collect();
        self.fail(FailureKind::Damaged, None, problems.join("; "))
    }

    /// [`Op::Checkpoint`]: takes a checkpoint at `step` into a directory of its own, opens
    /// it and reads it whole; it must hold the model's current state and verify clean.
    /// `Ok(None)` if the power cut stopped it.
    fn check_checkpoint(&self, db: &Db, step: usize) -> Result<Option<()>, SimFailure> {
        let target = format!("/checkpoint-{step}");
        if self
            .outcome(db.checkpoint(&target), "checkpoint")?
            .is_none()
        {
            return Ok(None);
        }
        let Some(copy) =
            self.outcome(Db::open(&target, self.options.clone()), "open checkpoint")?
        else {
            return Ok(None);
        };
        let Some(state) = self.read_recovered(&copy)? else {
            return Ok(None);
        };
        let now = self.now();
        if state != model::visible(&self.history.current, now) {
            let diff = self.history.explain(&state, now).1;
            return Err(self.wrong_read(format!(
                "the checkpoint at step {step} is not the database's state then: {diff}"
            )));
        }
        let Some(report) = self.outcome(copy.verify(), "verify checkpoint")? else {
            return Ok(None);
        };
        if !report.is_clean() {
            return Err(self.damaged(&report));
        }
        self.outcome(copy.close(), "close checkpoint")
    }

    /// Reads every keyspace the database lists, by a forward scan, a backward scan and a
    /// get of every key of the seed's key space, which must agree; `Ok(None)` if the power
    /// cut stopped it.
    fn read_recovered(&self, db: &Db) -> Result<Option<State>, SimFailure> {
        let failed = FailureKind::RecoveryFailed;
        let wrong = |detail: String| self.fail(FailureKind::WrongRead, None, detail);
        let Some(names) = self.outcome_as(failed, db.list_keyspaces(), "list_keyspaces")? else {
            return Ok(None);
        };
        let mut state = State::new();
        for name in names {
            // Listed, so this opens it and creates nothing.
            let Some(keyspace) = self.outcome_as(failed, db.keyspace(&name), "keyspace")? else {
                return Ok(None);
            };
            let forward = keyspace.iter().and_then(collect);
            let Some(forward) = self.outcome_as(failed, forward, "scan")? else {
                return Ok(None);
            };
            let backward = keyspace.iter().and_then(|it| collect(it.rev()));
            let Some(mut backward) = self.outcome_as(failed, backward, "reverse scan")? else {
                return Ok(None);
            };
            backward.reverse();
            if backward != forward {
                return Err(wrong(format!(
                    "the recovered database scans {name} differently backwards: {}",
                    first_difference(&backward, &forward)
                )));
            }
            let recovered: Model = forward.into_iter().collect();
            for k in 0..self.workload.setup.n_keys {
                let k = key(k);
                let Some(got) = self.outcome_as(failed, keyspace.get(&k), "get")? else {
                    return Ok(None);
                };
                if got.as_deref() != recovered.get(&k).map(|v| &v[..]) {
                    return Err(wrong(format!(
                        "the recovered database's get {} in {name} gives {}, its scan {}",
                        show(&k),
                        show_value(got.map(|b| b.to_vec()).as_ref()),
                        show_value(recovered.get(&k))
                    )));
                }
            }
            if state.insert(name.clone(), recovered).is_some() {
                return Err(wrong(format!("the database lists keyspace {name} twice")));
            }
        }
        Ok(Some(state))
    }

    /// After a restart, before the database is opened for writing: opens what the power
    /// cut left with `Db::open_read_only` and reads it whole, as [`Runner::read_recovered`]
    /// reads a recovered database. The open and the reads must succeed (the power is on,
    /// and no writer is at work) and change nothing on the disk: no call through the
    /// probe that changes it, and every file of the directory the same bytes afterwards.
    /// What it read is kept for [`Runner::check_recovered`], which requires the recovery
    /// that follows to read the same (a directory that is not a database yet, because
    /// the first open was cut short, reads as the empty database that recovery creates).
    fn check_read_only(&mut self) -> Result<(), SimFailure> {
        let fail = |detail: String| self.fail(FailureKind::ReadOnly, None, detail);
        let (files, changes) = (self.files(), self.probe.changes());
        let state = match Db::open_read_only(DIR, self.options.clone()) {
            Ok(db) => {
                let read = self.read_recovered(&db).map_err(|mut failure| {
                    failure.kind = FailureKind::ReadOnly;
                    failure.detail = format!("reading it: {}", failure.detail);
                    failure
                })?;
                let closed = db.close();
                drop(db);
                closed.map_err(|e| fail(format!("close: {}", error_chain(&e))))?;
                read.ok_or_else(|| fail("the power went off with no cut planned".into()))?
            }
            Err(Error::NotADatabase { .. }) => model::visible(&model::empty_state(), 0),
            Err(e) => return Err(fail(format!("open: {}", error_chain(&e)))),
        };
        let made = self.probe.changes() - changes;
        if made > 0 || self.files() != files {
            let now = self.files();
            let changed: Vec<&String> = (files.keys().chain(now.keys()))
                .filter(|name| files.get(*name) != now.get(*name))
                .collect();
            return Err(fail(format!(
                "it changed the disk: {made} call(s) that change it, files changed: {changed:?}"
            )));
        }
        self.read_only = Some(state);
        Ok(())
    }

    /// Every file of the database directory with its bytes, read from the `SimFs` itself
    /// (not through the probe, whose counts they would change).
    fn files(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let names = self.sim.list(Path::new(DIR)).unwrap_or_default();
        let read = |name: &String| {
            let file = self.sim.open(&Path::new(DIR).join(name)).ok()?;
            file.read_vec(0, file.len()).ok()
        };
        names
            .iter()
            .map(|name| (name.clone(), read(name)))
            .collect()
    }

    /// After a restart, with `db` just opened: checks that what it holds (its keyspaces
    /// and their contents) is a prefix of the history, and that its files are intact,
    /// then takes it as the model's state. `Ok(None)` if a power cut (planned to land
    /// inside recovery) stopped the checks.
    fn check_recovered(&mut self, db: &Db) -> Result<Option<()>, SimFailure> {
        let failed = FailureKind::RecoveryFailed;
        let Some(recovered) = self.read_recovered(db)? else {
            return Ok(None);
        };
        if let Some(read_only) = self.read_only.take()
            && read_only != recovered
        {
            return Err(self.fail(
                FailureKind::ReadOnly,
                None,
                format!(
                    "after restart {}, the read-only open read {}",
                    self.restarts,
                    state_difference(&read_only, &recovered)
                ),
            ));
        }
        // Judged as a reader sees each prefix now: the clock kept running through the cut.
        let now = self.now();
        let Some((prefix, timed)) = self.history.matching_prefix(&recovered, now) else {
            let (lost, why) = self.history.explain(&recovered, now);
            let kind = if lost {
                FailureKind::LostWrite
            } else {
                FailureKind::Hole
            };
            return Err(self.fail(
                kind,
                None,
                format!("after restart {}: {why}", self.restarts),
            ));
        };
        // What the database recovered was on the disk when it restarted, so it is durable
        // now: a cut in what follows must not lose any of it.
        self.writes_in_doubt += self.history.since.len();
        self.writes_recovered += prefix;
        self.history.settle(timed, self.step);
        let Some(report) = self.outcome_as(failed, db.verify(), "verify")? else {
            return Ok(None);
        };
        if !report.is_clean() {
            if self.sim.is_powered_off() {
                // Files verify could not read once the power went are not damage.
                return Ok(None);
            }
            return Err(self.damaged(&report));
        }
        Ok(Some(()))
    }

    /// After the last restart, with no cut planned: the recovered state is a prefix, and
    /// the database takes a write and keeps it across a clean reopen.
    fn final_checks(&mut self) -> Result<(), SimFailure> {
        let db = Db::open(DIR, self.options.clone()).map_err(|e| {
            self.fail(
                FailureKind::RecoveryFailed,
                None,
                format!("open after restart {}: {}", self.restarts, error_chain(&e)),
            )
        })?;
        if self.check_recovered(&db)?.is_none() {
            return Err(self.fail(
                FailureKind::RecoveryFailed,
                None,
                "the power went off with no cut planned".to_string(),
            ));
        }
        let after = |what: &str, e: ferris_engine::Error| {
            self.fail(
                FailureKind::AfterRecovery,
                None,
                format!("{what}: {}", error_chain(&e)),
            )
        };
        db.put(AFTER_RECOVERY, b"ok")
            .map_err(|e| after("a write after recovery", e))?;
        db.close().map_err(|e| after("close after recovery", e))?;
        drop(db);
        let db = Db::open(DIR, self.options.clone())
            .map_err(|e| after("a second open after recovery", e))?;
        // The clock stands still from here on, so nothing more expires.
        let mut want = model::visible(&self.history.current, self.now());
        let default = want.entry(DEFAULT.to_string()).or_default();
        default.insert(AFTER_RECOVERY.to_vec(), b"ok".to_vec());
        let mut names = db
            .list_keyspaces()
            .map_err(|e| after("listing keyspaces after the second open", e))?;
        names.sort();
        if names.iter().ne(want.keys()) {
            return Err(self.fail(
                FailureKind::AfterRecovery,
                None,
                format!(
                    "after a write and a clean reopen: keyspaces {names:?}, want {:?}",
                    want.keys().collect::<Vec<_>>()
                ),
            ));
        }
        for (name, want) in want {
            let got = db
                .keyspace(&name)
                .and_then(|ks| ks.iter())
                .and_then(collect)
                .map_err(|e| after("reading after the second open", e))?;
            let want: Vec<_> = want.into_iter().collect();
            if got != want {
                return Err(self.fail(
                    FailureKind::AfterRecovery,
                    None,
                    format!(
                        "after a write and a clean reopen, in {name}: {}",
                        first_difference(&got, &want)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Where two database states first differ: a keyspace only one of them has, or the
/// first key of a keyspace whose contents differ, with `got` named first.
fn state_difference(got: &State, want: &State) -> String {
    let names: Vec<&String> = got.keys().chain(want.keys()).collect();
    for name in names {
        match (got.get(name), want.get(name)) {
            (Some(g), Some(w)) if g != w => {
                let (g, w): (Vec<_>, Vec<_>) = (
                    g.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    w.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                );
                return format!(
                    "{name} otherwise than the recovery: {}",
                    first_difference(&g, &w)
                );
            }
            (Some(_), None) => return format!("keyspace {name}, which the recovery has not"),
            (None, Some(_)) => return format!("no keyspace {name}, which the recovery has"),
            _ => {}
        }
    }
    "the same state".to_string()
}

/// Every entry of a scan, as owned bytes.
fn collect(
    iter: impl Iterator<Item = ferris_engine::Result<(Bytes, Bytes)>>,
) -> ferris_engine::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    iter.map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// An error and its sources, joined: `a: b: c`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text += &format!(": {e}");
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_its_seed_and_how_to_replay_it() {
        let mut config = SimConfig::default();
        let failure = SimFailure {
            seed: 77,
            config: config.clone(),
            kind: FailureKind::LostWrite,
            step: Some(12),
            detail: "k0001: recovered nothing".into(),
            cut: None,
        };
        assert_eq!(
            failure.to_string(),
            "seed 77: lost write at step 12: k0001: recovered nothing"
        );
        assert_eq!(
            failure.replay_command(),
            "cargo xtask sim --seeds 1 --start 77"
        );
        config.ops_per_seed = 500;
        config.max_cuts = 0;
        let failure = SimFailure {
            config: config.clone(),
            ..failure
        };
        assert_eq!(
            failure.replay_command(),
            "cargo xtask sim --seeds 1 --start 77 --ops 500 --no-cut"
        );
        config.max_cuts = 3;
        config.components = Components::default()
            .with_memtable(crate::MemtableKind::BTree)
            .with_strategy(crate::CompactionStrategy::Fifo);
        let failure = SimFailure { config, ..failure };
        assert_eq!(
            failure.replay_command(),
            "cargo xtask sim --seeds 1 --start 77 --ops 500 --memtable btree --strategy fifo"
        );
    }
}
