//! I/O faults: failed writes and fsyncs (`EIO`), a full disk (`ENOSPC`), and failed or
//! short reads, injected at chosen points of a workload of synced writes, batches, flushes
//! and compactions, on every kind of file the engine touches (WAL segments, tables and
//! their temporaries, the manifest, `CURRENT` and its temporary, the directory).
//!
//! The matrix is fault kind x operation x file x the matching operation it fires on. In
//! every case the engine must
//!
//! 1. report the failure as a typed [`Error`] naming the file (or, for a failure on a
//!    background thread, as [`Error::Poisoned`] at the next call), never as corruption;
//! 2. acknowledge no write it could not make durable;
//! 3. refuse writes after any such failure until it is reopened (the crate docs promise
//!    this for failed WAL writes and syncs, failed flushes and failed compactions alike);
//! 4. after a power cut and a reopen, hold every acknowledged write with its value, the
//!    failed batch either whole or not at all, and files that [`Db::verify`] finds intact.
//!
//! Removals (old WAL segments, old manifests, obsolete tables) and directory listings may
//! fail without an error: their leftovers are cleaned up by the next open, and the
//! durability check still applies. Every other fault that fires must surface as an error.
//!
//! Reads get their own matrix: an `EIO` from the simulated disk, and a short read (half the
//! bytes, the rest garbage, then `UnexpectedEof`) from a wrapper file system, hitting the
//! n-th table read of gets and scans. A read either returns the right answer or an error;
//! never wrong data, never a panic; and once the fault is gone everything reads back and
//! the database still takes writes. A last matrix injects faults into `Db::open` itself.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use ferris_engine::{Db, Error, Options, WriteBatch};
use ferris_fs::{Fault, FaultKind, FileLock, FileSystem, Op, ReadableFile, SimFs, WritableFile};

use crate::{DIR, stable_options};

type Model = BTreeMap<String, String>;

/// The writes of one call: a key and its new value, or `None` for a delete.
type Writes = Vec<(String, Option<String>)>;

/// Which files a fault hits, as a substring of their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Wal,
    /// Tables and their temporaries (`NNNNNN.sst.tmp`).
    Table,
    Manifest,
    /// `CURRENT` and `CURRENT.tmp`.
    Current,
    /// Any path: for the operations on the directory itself (sync, list).
    Any,
}

impl Target {
    fn needle(self) -> Option<&'static str> {
        match self {
            Target::Wal => Some(".wal"),
            Target::Table => Some(".sst"),
            Target::Manifest => Some("MANIFEST"),
            Target::Current => Some("CURRENT"),
            Target::Any => None,
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    op: Op,
    target: Target,
    kind: FaultKind,
    /// Matching operations let through before the fault fires.
    after: u64,
    /// Whether the fault keeps firing once it has (a dead disk) or fires once.
    sticky: bool,
    /// Cut the power with the database open; otherwise close it, then crash.
    power_cut: bool,
    seed: u64,
}

impl Case {
    fn fault(&self) -> Fault {
        let fault = Fault::new(self.op, self.kind)
            .after(self.after)
            .sticky(self.sticky);
        match self.target.needle() {
            Some(needle) => fault.path_contains(needle),
            None => fault,
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} on {} of {:?} after {}{} ({}, seed {})",
            self.kind,
            self.op,
            self.target,
            self.after,
            if self.sticky { ", sticky" } else { "" },
            if self.power_cut {
                "power cut"
            } else {
                "close, then crash"
            },
            self.seed,
        )
    }
}

/// Every combination of fault kind and `after` for `op` on each of `targets`.
fn matrix(op: Op, targets: &[Target], afters: &[u64]) -> Vec<Case> {
    let mut cases = Vec::new();
    for &target in targets {
        for kind in [FaultKind::Eio, FaultKind::Enospc] {
            for &after in afters {
                let idx = cases.len() as u64;
                cases.push(Case {
                    op,
                    target,
                    kind,
                    after,
                    sticky: after % 2 == 1,
                    power_cut: idx.is_multiple_of(2),
                    seed: 0x10_f4u64 * 1000 + idx + after * 100,
                });
            }
        }
    }
    cases
}

/// Operations whose failure always matters: if a fault on one fires, some call must fail.
fn must_surface(op: Op) -> bool {
    matches!(
        op,
        Op::Append | Op::Sync | Op::Reserve | Op::Create | Op::Rename | Op::Open | Op::Read
    )
}

fn key(n: usize) -> String {
    format!("key{:02}", n % 23)
}

fn value(i: usize) -> String {
    format!("v{i}-{}", "x".repeat(100 + i * 37 % 200))
}

/// The writes of workload step `i`: mostly single puts, every fifth a batch of two puts and
/// a delete.
fn writes(i: usize) -> Writes {
    match i % 5 {
        2 => vec![
            (key(i), Some(value(i))),
            (key(i + 7), Some(value(i))),
            (key(i + 3), None),
        ],
        _ => vec![(key(i), Some(value(i)))],
    }
}

const STEPS: usize = 60;

fn batch_of(writes: &Writes) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (k, v) in writes {
        match v {
            Some(v) => batch.put(k, v),
            None => batch.delete(k),
        };
    }
    batch
}

fn apply(model: &mut Model, writes: &Writes) {
    for (k, v) in writes {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// Everything the database holds, read with a forward scan.
fn contents(db: &Db) -> Model {
    db.iter()
        .unwrap()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (
                String::from_utf8(k.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

/// Durable data from before the fault: in a table, and in the WAL.
fn write_base(db: &Db) -> Model {
    let mut model = Model::new();
    for i in 0..30 {
        let writes = vec![(format!("base{i:02}"), Some(format!("b{i}")))];
        db.write(batch_of(&writes)).unwrap();
        apply(&mut model, &writes);
        if i == 19 {
            db.flush().unwrap();
        }
    }
    model
}

/// The path an I/O error names: every component reports one the same way.
fn io_path(e: &Error) -> Option<&Path> {
    match e {
        Error::Io(e) => Some(&e.path),
        _ => None,
    }
}

/// The error's message and those of all its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An injected fault must come back as a typed I/O error naming the file it hit (or as
/// `Poisoned`, when a background thread hit it first), and never as damage.
fn check_typed(e: &Error, what: &dyn fmt::Display, needle: Option<&str>) {
    assert!(
        !e.is_corruption(),
        "{what}: a fault reported as corruption: {e}"
    );
    if let Error::Poisoned { source } = e {
        // The failure that poisoned the database is kept, and is a typed error too.
        return check_typed(source, what, None);
    }
    let path = io_path(e).unwrap_or_else(|| panic!("{what}: not a typed I/O error: {e:?}"));
    assert!(
        path.starts_with(DIR),
        "{what}: {e} names {}",
        path.display()
    );
    if let Some(needle) = needle {
        assert!(
            path.to_string_lossy().contains(needle),
            "{what}: {e} does not name the file the fault hit"
        );
    }
    assert!(
        chain(e).contains("simulated"),
        "{what}: {} is not the injected fault",
        chain(e)
    );
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    fired: usize,
    errors: usize,
}

impl Tally {
    /// Most cases of a matrix must have their fault fire, or the matrix tests little.
    fn check(&self, name: &str) {
        eprintln!(
            "io_faults::{name}: {} cases, {} fired, {} returned an error",
            self.cases, self.fired, self.errors
        );
        assert!(
            self.fired * 3 >= self.cases * 2,
            "{name}: only {} of {} faults fired",
            self.fired,
            self.cases
        );
    }
}

/// Runs the workload under `case`'s fault until the first error, checks the error and the
/// poisoning, then cuts the power, reopens and checks what survived.
fn run_case(case: &Case, tally: &mut Tally) {
    let sim = SimFs::new(case.seed);
    let mut options = stable_options(&sim);
    // Tiny, so most flushes and compactions start a new manifest and switch CURRENT.
    options.max_manifest_size = 256;
    let db = Db::open(DIR, options.clone()).unwrap();
    let mut model = write_base(&db);
    sim.inject(case.fault());

    let mut failed: Option<Writes> = None;
    let mut error = None;
    for i in 0..=STEPS {
        let result = if i == STEPS {
            db.compact()
        } else {
            let w = writes(i);
            match db.write(batch_of(&w)) {
                Ok(()) => {
                    apply(&mut model, &w);
                    if i % 12 == 11 {
                        db.flush()
                    } else if i % 25 == 24 {
                        db.compact()
                    } else {
                        Ok(())
                    }
                }
                Err(e) => {
                    failed = Some(w);
                    Err(e)
                }
            }
        };
        if let Err(e) = result {
            error = Some(e);
            break;
        }
    }
    let fired = sim.stats().n_faults > 0;
    tally.cases += 1;
    tally.fired += usize::from(fired);
    tally.errors += usize::from(error.is_some());

    match &error {
        Some(e) => {
            assert!(fired, "{case}: an error with no fault fired: {e}");
            check_typed(e, case, case.target.needle());
            // Whatever failed, the engine cannot know what reached the disk: no more writes
            // until a reopen lets recovery decide.
            let probe = db.put("probe", "must not be acknowledged");
            assert!(
                matches!(probe, Err(Error::Poisoned { .. })),
                "{case}: a write after `{e}` returned {probe:?}"
            );
            let flush = db.flush();
            assert!(
                matches!(flush, Err(Error::Poisoned { .. })),
                "{case}: a flush after `{e}` returned {flush:?}"
            );
        }
        None => assert!(
            !(fired && must_surface(case.op)),
            "{case}: the fault fired, and every call succeeded"
        ),
    }

    // Reads go on from memory: exactly the acknowledged writes.
    sim.clear_faults();
    assert_eq!(contents(&db), model, "{case}: reads before the power cut");

    if case.power_cut {
        sim.cut_power_after(0);
        drop(db);
        sim.restart();
    } else {
        drop(db);
        sim.crash();
    }
    let db = Db::open(DIR, options).unwrap_or_else(|e| panic!("{case}: reopen: {e}"));
    let got = contents(&db);
    let with_failed = failed.map(|w| {
        let mut m = model.clone();
        apply(&mut m, &w);
        m
    });
    assert!(
        got == model || Some(&got) == with_failed.as_ref(),
        "{case}: after the power cut\n got {got:?}\nwant {model:?}\n  or {with_failed:?}"
    );
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{case}: {:?}", report.problems);
    db.put("after", "reopen").unwrap();
    db.flush().unwrap();
    assert_eq!(db.get("after").unwrap().as_deref(), Some(&b"reopen"[..]));
}

fn run_matrix(name: &str, cases: &[Case]) {
    let mut tally = Tally::default();
    for case in cases {
        run_case(case, &mut tally);
    }
    tally.check(name);
}

const AFTERS: &[u64] = &[0, 1, 3, 6];
const FILES: &[Target] = &[
    Target::Wal,
    Target::Table,
    Target::Manifest,
    Target::Current,
];

#[test]
fn failed_appends() {
    run_matrix("failed_appends", &matrix(Op::Append, FILES, AFTERS));
}

/// The WAL sets its segments' length ahead of its appends (`WritableFile::reserve`): when
/// a segment is created, and whenever appends reach the end of what was set.
#[test]
fn failed_reserves() {
    run_matrix(
        "failed_reserves",
        &matrix(Op::Reserve, &[Target::Wal], &[0, 1, 2]),
    );
}

#[test]
fn failed_syncs() {
    run_matrix("failed_syncs", &matrix(Op::Sync, FILES, AFTERS));
}

#[test]
fn failed_creates() {
    run_matrix("failed_creates", &matrix(Op::Create, FILES, &[0, 1, 2]));
}

#[test]
fn failed_renames_and_directory_syncs() {
    let mut cases = matrix(Op::Rename, &[Target::Table, Target::Current], AFTERS);
    cases.extend(matrix(Op::SyncDir, &[Target::Any], AFTERS));
    run_matrix("failed_renames_and_directory_syncs", &cases);
}

#[test]
fn failed_removes_lists_and_table_opens() {
    let mut cases = matrix(
        Op::Remove,
        &[Target::Wal, Target::Table, Target::Manifest],
        &[0, 1, 3],
    );
    cases.extend(matrix(Op::List, &[Target::Any], &[0, 1, 3]));
    cases.extend(matrix(Op::Open, &[Target::Table], AFTERS));
    cases.extend(matrix(Op::Read, &[Target::Table], AFTERS));
    run_matrix("failed_removes_lists_and_table_opens", &cases);
}

// ---------------------------------------------------------------------------------------
// Reads.

/// A file system that passes everything to a [`SimFs`], but can make the n-th read of a
/// table short: half the bytes arrive, the rest of the buffer is garbage, and the read fails
/// with `UnexpectedEof`, as `read_exact_at` reports a file that ended early.
#[derive(Debug, Clone)]
struct ShortReads {
    sim: SimFs,
    plan: Arc<Mutex<ShortPlan>>,
}

#[derive(Debug, Default)]
struct ShortPlan {
    /// Table reads to let through before the short one; `None` when disarmed.
    armed: Option<u64>,
    fired: u64,
}

impl ShortReads {
    fn plan(&self) -> std::sync::MutexGuard<'_, ShortPlan> {
        self.plan.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct ShortFile {
    inner: Box<dyn ReadableFile>,
    plan: Arc<Mutex<ShortPlan>>,
    path: PathBuf,
}

impl ReadableFile for ShortFile {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let short = {
            let mut plan = self.plan.lock().unwrap_or_else(PoisonError::into_inner);
            match plan.armed {
                Some(0) => {
                    plan.armed = None;
                    plan.fired += 1;
                    true
                }
                Some(n) => {
                    plan.armed = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        if !short {
            return self.inner.read_exact_at(offset, buf);
        }
        let half = buf.len() / 2;
        self.inner.read_exact_at(offset, &mut buf[..half])?;
        buf[half..].fill(0xa5);
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "simulated short read: {half} of {} bytes at offset {offset} of {}",
                buf.len(),
                self.path.display()
            ),
        ))
    }
}

impl ShortReads {
    /// The file system the engine gets: the `SimFs`, with table files opened through the
    /// plan.
    fn file_system(&self) -> Arc<dyn FileSystem> {
        let plan = Arc::clone(&self.plan);
        crate::hooked(&self.sim, move |sim, path| {
            let inner = sim.open(path)?;
            if !path.to_string_lossy().contains(".sst") {
                return Ok(inner);
            }
            Ok(Box::new(ShortFile {
                inner,
                plan: Arc::clone(&plan),
                path: path.to_path_buf(),
            }))
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum ReadFault {
    /// `EIO` from the simulated disk on the n-th table read, once or from then on.
    Eio { after: u64, sticky: bool },
    /// A short read on the n-th table read.
    Short { after: u64 },
}

fn read_key(i: usize) -> String {
    format!("r{i:03}")
}

/// A database whose keys sit in a deep level, in level 0, and in the WAL, reopened so the
/// block cache is cold. Returns the model and the options to reopen with.
fn read_setup(fs: &ShortReads) -> (Db, Model, Options) {
    let mut options = stable_options(&fs.sim);
    options.file_system = fs.file_system();
    // Small blocks, so a scan reads many of them.
    options.block_size = 256;
    let db = Db::open(DIR, options.clone()).unwrap();
    let mut model = Model::new();
    let mut put = |db: &Db, i: usize, round: usize| {
        let (k, v) = (
            read_key(i),
            format!("value-{round}-{i}-{}", "y".repeat(i % 50)),
        );
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    };
    for i in 0..200 {
        put(&db, i, 0);
    }
    db.compact().unwrap();
    for i in 150..300 {
        put(&db, i, 1);
    }
    db.flush().unwrap();
    for i in 280..320 {
        put(&db, i, 2);
    }
    drop(db);
    let db = Db::open(DIR, options.clone()).unwrap();
    (db, model, options)
}

/// Reads everything several ways under the fault; returns how many reads failed. Every
/// read that succeeds must be right.
fn read_everything(db: &Db, model: &Model, what: &dyn fmt::Display) -> usize {
    let mut n_errors = 0;
    let mut failed = |e: &Error| {
        check_typed(e, what, Some(".sst"));
        n_errors += 1;
    };
    for i in (0..330).step_by(3) {
        let k = read_key(i);
        match db.get(&k) {
            Ok(v) => assert_eq!(
                v.as_deref(),
                model.get(&k).map(|v| v.as_bytes()),
                "{what}: get({k}) returned wrong data"
            ),
            Err(e) => failed(&e),
        }
    }
    let want: Vec<(&String, &String)> = model.iter().collect();
    let mut scan = |iter: &mut dyn Iterator<
        Item = ferris_engine::Result<(ferris_engine::Bytes, ferris_engine::Bytes)>,
    >,
                    want: &mut dyn Iterator<Item = (&String, &String)>| {
        for kv in iter {
            match kv {
                Ok((k, v)) => {
                    let (wk, wv) = want
                        .next()
                        .unwrap_or_else(|| panic!("{what}: a scan returned {k:?} past the end"));
                    assert_eq!(
                        (&k[..], &v[..]),
                        (wk.as_bytes(), wv.as_bytes()),
                        "{what}: a scan returned wrong data"
                    );
                }
                Err(e) => {
                    failed(&e);
                    return;
                }
            }
        }
        assert!(
            want.next().is_none(),
            "{what}: a scan ended early with no error"
        );
    };
    scan(&mut db.iter().unwrap(), &mut want.iter().copied());
    scan(
        &mut db.iter().unwrap().rev(),
        &mut want.iter().rev().copied(),
    );
    scan(
        &mut db.prefix("r1").unwrap(),
        &mut want.iter().copied().filter(|(k, _)| k.starts_with("r1")),
    );
    n_errors
}

fn run_read_case(fault: ReadFault, seed: u64, tally: &mut Tally) {
    let what = format!("{fault:?} (seed {seed})");
    let fs = ShortReads {
        sim: SimFs::new(seed),
        plan: Arc::default(),
    };
    let (db, model, _options) = read_setup(&fs);
    let faults_before = fs.sim.stats().n_faults;
    match fault {
        ReadFault::Eio { after, sticky } => fs.sim.inject(
            Fault::new(Op::Read, FaultKind::Eio)
                .path_contains(".sst")
                .after(after)
                .sticky(sticky),
        ),
        ReadFault::Short { after } => fs.plan().armed = Some(after),
    }
    let n_errors = read_everything(&db, &model, &what);
    let fired = fs.sim.stats().n_faults > faults_before || fs.plan().fired > 0;
    tally.cases += 1;
    tally.fired += usize::from(fired);
    tally.errors += usize::from(n_errors > 0);
    assert_eq!(
        fired,
        n_errors > 0,
        "{what}: a failed read must be an error, and an error needs a failed read"
    );

    // Once the disk reads again, so does the database: a failed read poisons nothing.
    fs.sim.clear_faults();
    fs.plan().armed = None;
    assert_eq!(read_everything(&db, &model, &what), 0);
    assert_eq!(contents(&db), model, "{what}");
    db.put("after", "reads").unwrap();
    db.flush().unwrap();
    assert_eq!(db.get("after").unwrap().as_deref(), Some(&b"reads"[..]));
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{what}: {:?}", report.problems);
}

#[test]
fn failed_and_short_reads_are_errors_never_wrong_data() {
    let mut tally = Tally::default();
    for (idx, after) in [0u64, 1, 2, 5, 11, 23, 47].into_iter().enumerate() {
        let seed = 0x5ead + idx as u64;
        run_read_case(
            ReadFault::Eio {
                after,
                sticky: false,
            },
            seed,
            &mut tally,
        );
        run_read_case(
            ReadFault::Eio {
                after,
                sticky: true,
            },
            seed,
            &mut tally,
        );
        run_read_case(ReadFault::Short { after }, seed, &mut tally);
    }
    tally.check("failed_and_short_reads_are_errors_never_wrong_data");
}

// ---------------------------------------------------------------------------------------
// Opening.

/// A fault while opening (replaying the manifest and the WAL, writing a fresh manifest,
/// switching CURRENT, removing leftovers, starting a segment): the open fails with a typed
/// error or succeeds with everything, and either way a later open finds everything.
fn run_open_case(case: &Case, tally: &mut Tally) {
    let sim = SimFs::new(case.seed);
    let options = stable_options(&sim);
    let db = Db::open(DIR, options.clone()).unwrap();
    let mut model = write_base(&db);
    for i in 0..20 {
        let w = writes(i);
        db.write(batch_of(&w)).unwrap();
        apply(&mut model, &w);
    }
    if case.power_cut {
        sim.cut_power_after(0);
        drop(db);
        sim.restart();
    } else {
        drop(db);
    }

    sim.inject(case.fault());
    let opened = Db::open(DIR, options.clone());
    let fired = sim.stats().n_faults > 0;
    tally.cases += 1;
    tally.fired += usize::from(fired);
    tally.errors += usize::from(opened.is_err());
    match opened {
        Ok(db) => {
            sim.clear_faults();
            assert_eq!(contents(&db), model, "{case}: opened under the fault");
            sim.cut_power_after(0);
            drop(db);
            sim.restart();
        }
        Err(e) => {
            assert!(fired, "{case}: open failed with no fault fired: {e}");
            check_typed(&e, case, None);
            sim.clear_faults();
            sim.crash();
        }
    }
    let db = Db::open(DIR, options).unwrap_or_else(|e| panic!("{case}: reopen: {e}"));
    assert_eq!(contents(&db), model, "{case}: after the reopen");
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "{case}: {:?}", report.problems);
    db.put("after", "open").unwrap();
}

#[test]
fn faults_while_opening() {
    let mut tally = Tally::default();
    // What an open does to each kind of file here: it reads CURRENT, the manifest, the
    // WAL segments and the tables; writes a new manifest, CURRENT and WAL segment; and
    // removes the old manifest. (It writes no table: the replayed memtable is kept.)
    let plan: &[(Op, &[Target], &[u64])] = &[
        (Op::Lock, &[Target::Any], &[0]),
        (Op::CreateDir, &[Target::Any], &[0]),
        (Op::List, &[Target::Any], &[0, 1]),
        (Op::Open, FILES, &[0]),
        (Op::Read, FILES, &[0]),
        (Op::Read, &[Target::Wal, Target::Table], &[1]),
        (
            Op::Create,
            &[Target::Wal, Target::Manifest, Target::Current],
            &[0],
        ),
        (
            Op::Append,
            &[Target::Wal, Target::Manifest, Target::Current],
            &[0],
        ),
        (
            Op::Sync,
            &[Target::Wal, Target::Manifest, Target::Current],
            &[0],
        ),
        (Op::Reserve, &[Target::Wal], &[0]),
        (Op::Rename, &[Target::Current], &[0]),
        (Op::Remove, &[Target::Manifest], &[0]),
        (Op::SyncDir, &[Target::Any], &[0, 1]),
    ];
    for &(op, targets, afters) in plan {
        for case in matrix(op, targets, afters) {
            run_open_case(&case, &mut tally);
        }
    }
    tally.check("faults_while_opening");
}

// ---------------------------------------------------------------------------------------
// A compaction racing a failed manifest rotation.

/// A file system that passes everything to a [`SimFs`], and can hold a compaction thread
/// just before it creates its first output table, and fail every directory sync that
/// follows a rename onto `CURRENT` (without syncing: the rename stays pending).
#[derive(Debug, Clone)]
struct Gated {
    sim: SimFs,
    gate: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Debug, Default)]
struct GateState {
    hold_compaction: bool,
    compaction_held: bool,
    fail_sync_after_current_rename: bool,
    current_renamed: bool,
}

impl Gated {
    fn update(&self, f: impl FnOnce(&mut GateState)) {
        let (state, changed) = &*self.gate;
        f(&mut state.lock().unwrap_or_else(PoisonError::into_inner));
        changed.notify_all();
    }

    fn wait_until(&self, done: impl Fn(&GateState) -> bool) {
        let (state, changed) = &*self.gate;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        while !done(&s) {
            s = changed.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl FileSystem for Gated {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let compacting = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("ferris-compact"));
        if compacting && path.to_string_lossy().ends_with(".sst.tmp") {
            self.update(|s| s.compaction_held = s.hold_compaction);
            self.wait_until(|s| !s.hold_compaction);
        }
        self.sim.create(path)
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadableFile>> {
        self.sim.open(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.sim.rename(from, to)?;
        if to.ends_with(ferris_manifest::CURRENT) {
            self.update(|s| s.current_renamed = s.fail_sync_after_current_rename);
        }
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.sim.remove(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        self.sim.hard_link(original, link)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.sim.list(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.sim.exists(path)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.sim.create_dir_all(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut fail = false;
        self.update(|s| {
            fail = s.current_renamed;
            s.current_renamed = false;
        });
        if fail {
            return Err(io::Error::other(
                "simulated EIO on the directory sync after a rename onto CURRENT",
            ));
        }
        self.sim.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        self.sim.lock(path)
    }
}

/// A compaction that is already merging when a flush's manifest rotation fails after the
/// rename onto `CURRENT` (only the directory sync after it fails, and goes on failing) still
/// finishes: it records its edit in the manifest the engine holds (the old one, since the
/// switch failed) and deletes its inputs. Whatever part of the directory's changes a power
/// cut then keeps, the manifest `CURRENT` names must still list only tables that exist, and
/// every acknowledged write must be there.
#[test]
fn a_compaction_in_flight_during_a_failed_manifest_rotation_loses_nothing() {
    // The power cut keeps a random part of the directory's unsynced changes: several
    // seeds make sure some lose the last switch of CURRENT.
    for seed in 0..8 {
        compaction_in_flight_during_a_failed_rotation(seed);
    }
}

fn compaction_in_flight_during_a_failed_rotation(seed: u64) {
    let fs = Gated {
        sim: SimFs::new(seed),
        gate: Arc::default(),
    };
    let mut options = stable_options(&fs.sim);
    options.file_system = Arc::new(fs.clone()) as Arc<dyn FileSystem>;
    // Every manifest edit starts a new manifest.
    options.max_manifest_size = 1;
    options.compaction.l0_compaction_trigger = 100;
    let db = Db::open(DIR, options.clone()).unwrap();
    let mut model = Model::new();
    for round in 0..2 {
        for i in 0..40 {
            let (k, v) = (format!("k{i:02}"), format!("v{round}-{i}"));
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.flush().unwrap();
    }

    fs.update(|s| s.hold_compaction = true);
    // Whatever happens below (a failed assertion included), the held compaction thread is
    // let go: otherwise closing the database would wait for it forever.
    struct Release<'a>(&'a Gated);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            self.0.update(|s| s.hold_compaction = false);
        }
    }
    let _release = Release(&fs);
    std::thread::scope(|scope| {
        let compaction = scope.spawn(|| db.compact());
        fs.wait_until(|s| s.compaction_held);
        // The compaction is merging. A flush now rotates the manifest, and fails after
        // CURRENT names the new one.
        db.put("late", "write").unwrap();
        model.insert("late".into(), "write".into());
        fs.update(|s| s.fail_sync_after_current_rename = true);
        let err = db.flush().unwrap_err();
        assert!(matches!(err, Error::Poisoned { .. }), "{err}");
        fs.update(|s| s.hold_compaction = false);
        let result = compaction.join().unwrap();
        assert!(matches!(result, Err(Error::Poisoned { .. })), "{result:?}");
    });
    // The disk recovers, too late: the power goes.
    fs.update(|s| s.fail_sync_after_current_rename = false);
    fs.sim.cut_power_after(0);
    drop(db);
    fs.sim.restart();
    let db = Db::open(DIR, options).unwrap_or_else(|e| panic!("seed {seed}: reopen: {e}"));
    assert_eq!(contents(&db), model, "seed {seed}");
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "seed {seed}: {:?}", report.problems);
}
