//! Stage 6, the engine: `lab_engine::LabDb`, or the reference `ferris_engine::Db`.
//!
//! Both are graded through [`Engine`], the few calls a key-value store answers: open on a
//! file system, put, delete, get, a snapshot and a read at it, a scan, flush, close. The
//! reference is FerrisDB's whole engine behind an adapter ([`Reference`]), with its
//! background threads, manifest and compactions; `LabDb` is one memtable, a log, and a
//! list of tables. The checks ask the same of both.
//!
//! | check | what it demands |
//! |---|---|
//! | `reads_its_writes` | a put is found by `get`; a second put of the key answers instead of the first |
//! | `deletes_hide_values` | `get` after `delete` answers `None`; a put after the delete is found again |
//! | `reads_at_a_snapshot` | a read at a snapshot sees the value of its moment, through later puts, deletes and a flush |
//! | `flushes_to_tables` | after flushes, reads find the tables' values: the memtable first, then the tables newest first, a tombstone stopping the read |
//! | `scans_merge` | a scan over the memtable and two tables yields each key's newest value once, deleted keys left out, and a scan at a snapshot what was there then |
//! | `recovers_on_reopen` | after close and open, the log's writes and the tables' are back, and new writes are numbered after them |
//! | `against_model` | random puts, deletes, reads, snapshots, scans, flushes and reopens from a seed, each answer compared with a `BTreeMap` |
//! | `power_cuts` | a workload of synced and unsynced writes and flushes on a simulated disk, the power cut at every file operation: after the reopen, every write acknowledged as synced is there, and the state is the history up to some point after it (nothing unwritten, no holes) |

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use ferris_engine::{Db, Options, WriteOptions};
use ferris_fs::{FileSystem, SimFs};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::{Check, Failure, Subject, caught, lab_failure};

/// What an engine call failed with, in words (its error and every `source()` below it).
pub type EngineError = String;

/// The calls the stage grades, answered by `LabDb` and by the reference alike.
pub trait Engine {
    /// Writes `value` under `key`, durable on return if `sync`.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn put(&mut self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError>;

    /// Deletes `key`, durable on return if `sync`.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn delete(&mut self, key: &[u8], sync: bool) -> Result<(), EngineError>;

    /// The newest value of `key`.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, EngineError>;

    /// Takes a snapshot of this moment, and returns its handle for
    /// [`get_at`](Engine::get_at) and [`scan_at`](Engine::scan_at). Snapshots last until
    /// the engine is closed.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn snapshot(&mut self) -> Result<u64, EngineError>;

    /// The value `key` had at `snapshot`.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn get_at(&self, key: &[u8], snapshot: u64) -> Result<Option<Bytes>, EngineError>;

    /// Every key and its newest value, in key order.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn scan(&self) -> Result<Vec<(Bytes, Bytes)>, EngineError>;

    /// Every key and the value it had at `snapshot`, in key order.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn scan_at(&self, snapshot: u64) -> Result<Vec<(Bytes, Bytes)>, EngineError>;

    /// Writes the memtable's contents into a table.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn flush(&mut self) -> Result<(), EngineError>;

    /// Closes the engine.
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    fn close(self: Box<Self>) -> Result<(), EngineError>;
}

/// Opens an engine in a directory of a file system.
pub type Open = fn(Arc<dyn FileSystem>, &Path) -> Result<Box<dyn Engine>, EngineError>;

/// An error and its chain of sources, in one line.
fn words(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

impl Engine for lab_engine::LabDb {
    fn put(&mut self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        lab_engine::LabDb::put(self, key, value, sync).map_err(|e| words(&e))
    }
    fn delete(&mut self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        lab_engine::LabDb::delete(self, key, sync).map_err(|e| words(&e))
    }
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, EngineError> {
        lab_engine::LabDb::get(self, key).map_err(|e| words(&e))
    }
    fn snapshot(&mut self) -> Result<u64, EngineError> {
        Ok(lab_engine::LabDb::snapshot(self))
    }
    fn get_at(&self, key: &[u8], snapshot: u64) -> Result<Option<Bytes>, EngineError> {
        lab_engine::LabDb::get_at(self, key, snapshot).map_err(|e| words(&e))
    }
    fn scan(&self) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        lab_engine::LabDb::scan(self).map_err(|e| words(&e))
    }
    fn scan_at(&self, snapshot: u64) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        lab_engine::LabDb::scan_at(self, snapshot).map_err(|e| words(&e))
    }
    fn flush(&mut self) -> Result<(), EngineError> {
        lab_engine::LabDb::flush(self).map_err(|e| words(&e))
    }
    fn close(self: Box<Self>) -> Result<(), EngineError> {
        lab_engine::LabDb::close(*self).map_err(|e| words(&e))
    }
}

/// `ferris_engine::Db` as an [`Engine`]: the reference. Its snapshots are kept here, and
/// a handle is an index into them.
#[derive(Debug)]
pub struct Reference {
    db: Db,
    snapshots: Vec<ferris_engine::Snapshot>,
}

impl Reference {
    /// Opens a `Db` in `dir` on `fs`, writes durable only when asked, no idle work (so
    /// the simulated disk sees only what the calls do).
    ///
    /// # Errors
    ///
    /// The engine's error, in words.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<Reference, EngineError> {
        let mut options = Options::default();
        options.file_system = fs;
        options.sync_writes = false;
        options.idle_after = None;
        let db = Db::open(dir, options).map_err(|e| words(&e))?;
        Ok(Reference {
            db,
            snapshots: Vec::new(),
        })
    }

    fn at(&self, snapshot: u64) -> Result<&ferris_engine::Snapshot, EngineError> {
        usize::try_from(snapshot)
            .ok()
            .and_then(|i| self.snapshots.get(i))
            .ok_or_else(|| format!("no snapshot {snapshot}"))
    }
}

/// The entries of a `Db` iterator.
fn collect(
    iter: ferris_engine::Result<ferris_engine::DbIter>,
) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
    iter.map_err(|e| words(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| words(&e))
}

impl Engine for Reference {
    fn put(&mut self, key: &[u8], value: &[u8], sync: bool) -> Result<(), EngineError> {
        let options = WriteOptions::new().sync(sync);
        self.db.put_opt(key, value, options).map_err(|e| words(&e))
    }
    fn delete(&mut self, key: &[u8], sync: bool) -> Result<(), EngineError> {
        let options = WriteOptions::new().sync(sync);
        self.db.delete_opt(key, options).map_err(|e| words(&e))
    }
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, EngineError> {
        self.db.get(key).map_err(|e| words(&e))
    }
    fn snapshot(&mut self) -> Result<u64, EngineError> {
        self.snapshots
            .push(self.db.snapshot().map_err(|e| words(&e))?);
        Ok(self.snapshots.len() as u64 - 1)
    }
    fn get_at(&self, key: &[u8], snapshot: u64) -> Result<Option<Bytes>, EngineError> {
        self.at(snapshot)?.get(key).map_err(|e| words(&e))
    }
    fn scan(&self) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        collect(self.db.iter())
    }
    fn scan_at(&self, snapshot: u64) -> Result<Vec<(Bytes, Bytes)>, EngineError> {
        collect(self.at(snapshot)?.iter())
    }
    fn flush(&mut self) -> Result<(), EngineError> {
        self.db.flush().map_err(|e| words(&e))
    }
    fn close(self: Box<Self>) -> Result<(), EngineError> {
        let Reference { db, snapshots } = *self;
        drop(snapshots);
        db.close().map_err(|e| words(&e))
    }
}

/// How the subject's engine is opened.
pub fn opener(subject: Subject) -> Open {
    match subject {
        Subject::Lab => |fs, dir| {
            lab_engine::LabDb::open(fs, dir)
                .map(|db| Box::new(db) as Box<dyn Engine>)
                .map_err(|e| words(&e))
        },
        Subject::Reference => |fs, dir| Reference::open(fs, dir).map(|db| Box::new(db) as _),
    }
}

/// The name a failure gives the subject's engine.
fn name(subject: Subject) -> &'static str {
    match subject {
        Subject::Lab => "lab_engine::LabDb",
        Subject::Reference => "ferris_engine::Db",
    }
}

/// The seeds `against_model` and `power_cuts` run.
const MODEL_SEEDS: u64 = 16;
const POWER_CUT_SEEDS: u64 = 2;

/// The stage's checks, in order.
pub const CHECKS: [Check; 8] = [
    Check {
        name: "reads_its_writes",
        guarantee: "what was written is there: get finds the newest put of a key",
        run: |s| {
            fixed(
                name(s),
                opener(s),
                "reads_its_writes",
                READS_ITS_WRITES,
                reads_its_writes,
            )
        },
        seed: None,
    },
    Check {
        name: "deletes_hide_values",
        guarantee: "a delete is the newest version: get after delete answers None, and a later \
                    put is found again",
        run: |s| {
            fixed(
                name(s),
                opener(s),
                "deletes_hide_values",
                DELETES,
                deletes_hide_values,
            )
        },
        seed: None,
    },
    Check {
        name: "reads_at_a_snapshot",
        guarantee: "a read at a snapshot sees the database as it was then, whatever was put, \
                    deleted or flushed after",
        run: |s| {
            fixed(
                name(s),
                opener(s),
                "reads_at_a_snapshot",
                SNAPSHOT,
                reads_at_a_snapshot,
            )
        },
        seed: None,
    },
    Check {
        name: "flushes_to_tables",
        guarantee: "a flush moves the memtable into a table and changes no answer: reads ask \
                    the memtable, then the tables newest first, and the first answer, a \
                    tombstone included, stands",
        run: |s| {
            fixed(
                name(s),
                opener(s),
                "flushes_to_tables",
                FLUSHES,
                flushes_to_tables,
            )
        },
        seed: None,
    },
    Check {
        name: "scans_merge",
        guarantee: "a scan merges the memtable and every table into one sorted sequence and \
                    yields each key once, with its newest value at the snapshot, deleted keys \
                    left out",
        run: |s| fixed(name(s), opener(s), "scans_merge", SCANS, scans_merge),
        seed: None,
    },
    Check {
        name: "recovers_on_reopen",
        guarantee: "close and open lose nothing: the log is replayed into the memtable, the \
                    tables are read again, and new writes are numbered after every old one",
        run: |s| {
            fixed(
                name(s),
                opener(s),
                "recovers_on_reopen",
                REOPEN,
                recovers_on_reopen,
            )
        },
        seed: None,
    },
    Check {
        name: "against_model",
        guarantee: "every answer, through random puts, deletes, snapshots, flushes and reopens, \
                    agrees with a BTreeMap given the same writes",
        run: |s| (0..MODEL_SEEDS).try_for_each(|seed| against_model(s, seed)),
        seed: Some(against_model),
    },
    Check {
        name: "power_cuts",
        guarantee: "after a power cut anywhere and a reopen, every write acknowledged as synced \
                    is there, and nothing is that was not written: the state is the history up \
                    to some point at or after the last synced write",
        run: |s| (0..POWER_CUT_SEEDS).try_for_each(|seed| power_cuts(s, seed)),
        seed: Some(power_cuts),
    },
];

/// Runs the lab's own check `check` (one of the six fixed ones) on the engine `open`
/// opens, called `implementation`: how a test grades an engine that is neither yours nor
/// the reference.
///
/// # Errors
///
/// A [`Failure`] saying what broke; one naming the check when there is no fixed check
/// of that name.
pub fn fixed_check(implementation: &'static str, open: Open, check: &str) -> Result<(), Failure> {
    let (check, case, body): (&'static str, &'static str, Body) = match check {
        "reads_its_writes" => ("reads_its_writes", READS_ITS_WRITES, reads_its_writes),
        "deletes_hide_values" => ("deletes_hide_values", DELETES, deletes_hide_values),
        "reads_at_a_snapshot" => ("reads_at_a_snapshot", SNAPSHOT, reads_at_a_snapshot),
        "flushes_to_tables" => ("flushes_to_tables", FLUSHES, flushes_to_tables),
        "scans_merge" => ("scans_merge", SCANS, scans_merge),
        "recovers_on_reopen" => ("recovers_on_reopen", REOPEN, recovers_on_reopen),
        _ => {
            return Err(lab_failure(
                implementation,
                "fixed_check",
                check.to_string(),
                format!("no fixed check called {check}"),
            ));
        }
    };
    fixed(implementation, open, check, case, body)
}

/// The directory every check's database lives in, on a simulated disk.
const DIR: &str = "/db";

/// A value in a failure: `b"..."`, or `None`.
fn show(value: Option<&[u8]>) -> String {
    value.map_or("None".into(), |v| format!("b\"{}\"", v.escape_ascii()))
}

/// A scan in a failure: `[a=1, b=2]`.
fn show_scan(entries: &[(Bytes, Bytes)]) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}={}", k.escape_ascii(), v.escape_ascii()))
        .collect();
    format!("[{}]", entries.join(", "))
}

/// One fixed case of a check, on a fresh database: the calls, each failure in words.
struct Case {
    implementation: &'static str,
    check: &'static str,
    case: &'static str,
    open: Open,
    fs: Arc<dyn FileSystem>,
}

impl Case {
    fn fail(&self, detail: impl Into<String>) -> Failure {
        lab_failure(self.implementation, self.check, self.case, detail)
    }

    /// A call that must succeed: its error is the failure.
    fn call<T>(&self, what: &str, result: Result<T, EngineError>) -> Result<T, Failure> {
        result.map_err(|e| self.fail(format!("{what} failed: {e}")))
    }

    fn open(&self) -> Result<Box<dyn Engine>, Failure> {
        self.call("open", (self.open)(Arc::clone(&self.fs), Path::new(DIR)))
    }

    /// Reopens: closes `db` and opens the directory again.
    fn reopen(&self, db: Box<dyn Engine>) -> Result<Box<dyn Engine>, Failure> {
        self.call("close", db.close())?;
        self.open()
    }

    /// `got` must be `want`; `wrong` says what it means that it is not.
    fn expect(
        &self,
        got: Option<Bytes>,
        want: Option<&str>,
        wrong: impl FnOnce(Option<&[u8]>) -> String,
    ) -> Result<(), Failure> {
        if got.as_deref() == want.map(str::as_bytes) {
            return Ok(());
        }
        Err(self
            .fail(wrong(got.as_deref()))
            .with_answers(show(got.as_deref()), show(want.map(str::as_bytes))))
    }

    fn get(&self, db: &dyn Engine, key: &str) -> Result<Option<Bytes>, Failure> {
        self.call(&format!("get(b\"{key}\")"), db.get(key.as_bytes()))
    }

    fn get_at(&self, db: &dyn Engine, key: &str, at: u64) -> Result<Option<Bytes>, Failure> {
        let what = format!("get_at(b\"{key}\", s)");
        self.call(&what, db.get_at(key.as_bytes(), at))
    }

    fn put(&self, db: &mut dyn Engine, key: &str, value: &str) -> Result<(), Failure> {
        let what = format!("put(b\"{key}\", b\"{value}\")");
        self.call(&what, db.put(key.as_bytes(), value.as_bytes(), true))
    }

    fn delete(&self, db: &mut dyn Engine, key: &str) -> Result<(), Failure> {
        self.call(
            &format!("delete(b\"{key}\")"),
            db.delete(key.as_bytes(), true),
        )
    }

    fn flush(&self, db: &mut dyn Engine) -> Result<(), Failure> {
        self.call("flush", db.flush())
    }
}

/// The body of a fixed check: its calls on a [`Case`].
type Body = fn(&Case) -> Result<(), Failure>;

/// Runs the fixed case `body` of check `check` on a new database opened by `open`.
fn fixed(
    implementation: &'static str,
    open: Open,
    check: &'static str,
    case: &'static str,
    body: Body,
) -> Result<(), Failure> {
    caught(implementation, check, case, || {
        let case = Case {
            implementation,
            check,
            case,
            open,
            fs: Arc::new(SimFs::new(0)),
        };
        body(&case)
    })
}

const READS_ITS_WRITES: &str = "apple = red, then apple = green, on a new database";

fn reads_its_writes(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    c.put(&mut *db, "apple", "red")?;
    c.expect(c.get(&*db, "apple")?, Some("red"), |got| match got {
        None => "get(b\"apple\") after put(b\"apple\", b\"red\") found nothing: a write goes \
                 to the log, then into the memtable, where get must find it"
            .into(),
        Some(_) => "get(b\"apple\") after put(b\"apple\", b\"red\") found another value".into(),
    })?;
    c.put(&mut *db, "apple", "green")?;
    c.expect(c.get(&*db, "apple")?, Some("green"), |got| match got {
        Some(b"red") => "get(b\"apple\") after a second put returned the first value: the \
                         newest version answers (does each write get a higher sequence \
                         number, and does get read at the newest one?)"
            .into(),
        _ => "get(b\"apple\") after put(b\"apple\", b\"green\") did not find it".into(),
    })?;
    c.expect(c.get(&*db, "fig")?, None, |_| {
        "get(b\"fig\"), a key never written, found a value".into()
    })?;
    c.call("close", db.close())
}

const DELETES: &str = "k = v, delete(k), then k = again";

fn deletes_hide_values(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    c.put(&mut *db, "k", "v")?;
    c.delete(&mut *db, "k")?;
    c.expect(c.get(&*db, "k")?, None, |got| match got {
        Some(b"v") => "get(k) after delete(k) returned the old value: a delete writes a \
                       tombstone, a newer version of k, and get answers None when the \
                       newest version is one"
            .into(),
        _ => "get(k) after delete(k) found a value".into(),
    })?;
    c.put(&mut *db, "k", "again")?;
    c.expect(c.get(&*db, "k")?, Some("again"), |_| {
        "get(k) after delete(k) and a new put(k) did not find the new value: the put is newer \
         than the tombstone"
            .into()
    })?;
    c.call("close", db.close())
}

const SNAPSHOT: &str = "k = v1, snapshot s, k = v2, delete(k), flush";

fn reads_at_a_snapshot(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    c.put(&mut *db, "k", "v1")?;
    let s = c.call("snapshot", db.snapshot())?;
    c.put(&mut *db, "k", "v2")?;
    let at_s = |step: &str| {
        let step = step.to_string();
        move |got: Option<&[u8]>| match got {
            Some(b"v2") => format!(
                "{step}get_at(k, s) saw the put of v2 made after the snapshot s: a read at s \
                 sees only versions numbered at most s"
            ),
            None => format!(
                "{step}get_at(k, s) found nothing, though k = v1 was written before s: a read \
                 at s sees the newest version at or below s (are older versions kept?)"
            ),
            Some(_) => format!("{step}get_at(k, s) found the wrong value"),
        }
    };
    c.expect(c.get_at(&*db, "k", s)?, Some("v1"), at_s(""))?;
    c.delete(&mut *db, "k")?;
    c.expect(
        c.get_at(&*db, "k", s)?,
        Some("v1"),
        at_s("after delete(k), made after s, "),
    )?;
    c.expect(c.get(&*db, "k")?, None, |_| {
        "get(k) after delete(k) found a value: the newest version is a tombstone".into()
    })?;
    c.flush(&mut *db)?;
    c.expect(c.get_at(&*db, "k", s)?, Some("v1"), |got| match got {
        None => "after a flush, get_at(k, s) lost v1: a flush writes every version of the \
                 memtable into the table, not only the newest, so that older snapshots can \
                 still read"
            .into(),
        got => at_s("after a flush, ")(got),
    })?;
    c.expect(c.get(&*db, "k")?, None, |_| {
        "after a flush, get(k) of a deleted key found a value: the tombstone goes into the \
         table too, and hides the older versions there"
            .into()
    })?;
    c.call("close", db.close())
}

const FLUSHES: &str = "a = 1, b = 2, flush; a = 3, delete(b), flush; c = 4";

fn flushes_to_tables(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    c.put(&mut *db, "a", "1")?;
    c.put(&mut *db, "b", "2")?;
    c.flush(&mut *db)?;
    c.expect(c.get(&*db, "a")?, Some("1"), |got| match got {
        None => "after flush(), get(a) found nothing: the flush must write the memtable into a \
                 table, and get must ask the tables when the memtable knows nothing of a key"
            .into(),
        _ => "after flush(), get(a) found the wrong value".into(),
    })?;
    c.put(&mut *db, "a", "3")?;
    c.expect(c.get(&*db, "a")?, Some("3"), |got| match got {
        Some(b"1") => "get(a) answered from the table though the memtable holds a newer \
                       version: the memtable is asked first"
            .into(),
        _ => "get(a) after put(a, 3) over a flushed a = 1 did not answer 3".into(),
    })?;
    c.delete(&mut *db, "b")?;
    c.expect(c.get(&*db, "b")?, None, |got| match got {
        Some(b"2") => "get(b) after delete(b) found the value in the table: the memtable's \
                       tombstone is an answer (Lookup::Deleted), and stops the read before \
                       the tables"
            .into(),
        _ => "get(b) after delete(b) found a value".into(),
    })?;
    c.flush(&mut *db)?;
    c.put(&mut *db, "c", "4")?;
    c.expect(c.get(&*db, "a")?, Some("3"), |got| match got {
        Some(b"1") => "with two tables, get(a) answered from the older one: the tables are \
                       asked newest first, and the first answer stands"
            .into(),
        None => "after a second flush, get(a) found nothing: every flush adds a table, and \
                 get asks them all"
            .into(),
        _ => "with two tables, get(a) found the wrong value".into(),
    })?;
    c.expect(c.get(&*db, "b")?, None, |got| match got {
        Some(b"2") => "with two tables, get(b) found the value its tombstone hides: the \
                       tombstone in the newer table is an answer, and stops the read before \
                       the older table"
            .into(),
        _ => "with two tables, get(b) of a deleted key found a value".into(),
    })?;
    c.expect(c.get(&*db, "c")?, Some("4"), |_| {
        "get(c), written after two flushes, was not found".into()
    })?;
    c.call("close", db.close())
}

const SCANS: &str = "a = a1, b = b1, c = c1, snapshot s, flush; b = b2, delete(c), d = d1, \
                     flush; a = a3, delete(d), e = e1";

fn scans_merge(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    for (k, v) in [("a", "a1"), ("b", "b1"), ("c", "c1")] {
        c.put(&mut *db, k, v)?;
    }
    let s = c.call("snapshot", db.snapshot())?;
    c.flush(&mut *db)?;
    c.put(&mut *db, "b", "b2")?;
    c.delete(&mut *db, "c")?;
    c.put(&mut *db, "d", "d1")?;
    c.flush(&mut *db)?;
    c.put(&mut *db, "a", "a3")?;
    c.delete(&mut *db, "d")?;
    c.put(&mut *db, "e", "e1")?;
    let scan = c.call("scan", db.scan())?;
    let want = [("a", "a3"), ("b", "b2"), ("e", "e1")];
    check_scan(c, "scan()", &scan, &want)?;
    let scan = c.call("scan_at(s)", db.scan_at(s))?;
    check_scan(
        c,
        "scan_at(s)",
        &scan,
        &[("a", "a1"), ("b", "b1"), ("c", "c1")],
    )?;
    c.call("close", db.close())
}

/// `scan` must be `want`; if not, says what kind of wrong it is.
fn check_scan(
    c: &Case,
    what: &str,
    scan: &[(Bytes, Bytes)],
    want: &[(&str, &str)],
) -> Result<(), Failure> {
    let want: Vec<(Bytes, Bytes)> = want
        .iter()
        .map(|(k, v)| (Bytes::from(k.to_string()), Bytes::from(v.to_string())))
        .collect();
    if scan == want {
        return Ok(());
    }
    let keys: Vec<&Bytes> = scan.iter().map(|(k, _)| k).collect();
    let wanted_keys: Vec<&Bytes> = want.iter().map(|(k, _)| k).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    let detail = if scan.is_empty() {
        format!(
            "{what} yielded nothing: merge the memtable's iterator and every table's with a \
             MergingIterator, and walk it from seek_to_first"
        )
    } else if sorted.len() < keys.len() {
        format!(
            "{what} yielded a key more than once: the versions of a key come newest first, the \
             first visible one decides, and the older ones are shadowed"
        )
    } else if sorted != keys {
        format!("{what} yielded the keys out of order: a scan yields them ascending")
    } else if keys.iter().any(|k| !wanted_keys.contains(k)) {
        format!(
            "{what} yielded a deleted key, or one written after the snapshot: when the newest \
             version at the snapshot is a tombstone, the key is left out"
        )
    } else if keys.len() < wanted_keys.len() {
        format!(
            "{what} missed keys: every source holds some (the memtable and each table), and \
             all of them are merged"
        )
    } else {
        format!(
            "{what} yielded an older value of a key: the newest version at the snapshot \
             decides (versions newer than the snapshot are skipped, not taken)"
        )
    };
    Err(c
        .fail(detail)
        .with_answers(show_scan(scan), show_scan(&want)))
}

const REOPEN: &str = "a = 1, b = 2, delete(b), k = x1, k = x2, close, open; c = 3, flush, \
                      a = 4, close, open; k = x3";

fn recovers_on_reopen(c: &Case) -> Result<(), Failure> {
    let mut db = c.open()?;
    c.put(&mut *db, "a", "1")?;
    c.put(&mut *db, "b", "2")?;
    c.delete(&mut *db, "b")?;
    c.put(&mut *db, "k", "x1")?;
    c.put(&mut *db, "k", "x2")?;
    db = c.reopen(db)?;
    c.expect(c.get(&*db, "a")?, Some("1"), |got| match got {
        None => "after close and open, get(a) found nothing: open must replay the log's \
                 write batches into the new memtable, and replay returns the largest sequence \
                 number it applied (reads see what is at or below the newest)"
            .into(),
        _ => "after close and open, get(a) found the wrong value".into(),
    })?;
    c.expect(c.get(&*db, "b")?, None, |_| {
        "after close and open, the delete of b was lost: replay applies tombstones too".into()
    })?;
    c.put(&mut *db, "c", "3")?;
    c.flush(&mut *db)?;
    c.put(&mut *db, "a", "4")?;
    db = c.reopen(db)?;
    c.expect(c.get(&*db, "c")?, Some("3"), |_| {
        "after a flush, close and open, get(c) did not find the flushed value: the table \
         list names the table, and open reads it"
            .into()
    })?;
    c.expect(c.get(&*db, "a")?, Some("4"), |got| match got {
        Some(b"1") => "after close and open, get(a) answered 1 from the table, not 4 from the \
                       log: the log written after the flush must be replayed"
            .into(),
        _ => "after a flush, a write, close and open, get(a) did not answer 4".into(),
    })?;
    c.put(&mut *db, "k", "x3")?;
    c.expect(c.get(&*db, "k")?, Some("x3"), |_| {
        "after a reopen, a new put(k, x3) was not the newest version of k: replay must return \
         the largest sequence number it replayed, and new writes are numbered after it (and \
         after the tables')"
            .into()
    })?;
    c.call("close", db.close())
}

/// The keys of the random checks.
fn key(i: u64) -> String {
    format!("k{i}")
}

/// The check `against_model` for `seed` on the subject's engine.
fn against_model(subject: Subject, seed: u64) -> Result<(), Failure> {
    against_model_with(name(subject), opener(subject), seed)
}

/// The check `against_model` for `seed`, on the engine `open` opens, called
/// `implementation`: random operations drawn from the seed, each answer compared with a
/// `BTreeMap` given the same writes.
///
/// # Errors
///
/// A [`Failure`] naming the seed, the operation, the ones before it and the answers.
pub fn against_model_with(
    implementation: &'static str,
    open: Open,
    seed: u64,
) -> Result<(), Failure> {
    const OPS: usize = 150;
    const KEYS: u64 = 8;
    let case = format!(
        "seed {seed}: {OPS} random operations on keys k0..k{}",
        KEYS - 1
    );
    let fail = |step: usize, history: &[String], detail: String| {
        let from = history.len().saturating_sub(12);
        let recent = history[from..].join("; ");
        Failure::new(
            implementation,
            "against_model",
            Some(seed),
            case.clone(),
            format!("operation {step}, {detail}\nthe operations before it: {recent}"),
        )
    };
    caught(implementation, "against_model", &case, || {
        let fs: Arc<dyn FileSystem> = Arc::new(SimFs::new(seed));
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        // Each snapshot's handle and the model at its moment.
        let mut snapshots: Vec<(u64, BTreeMap<String, String>)> = Vec::new();
        let mut history: Vec<String> = Vec::new();
        let mut db = open(Arc::clone(&fs), Path::new(DIR))
            .map_err(|e| fail(0, &history, format!("open failed: {e}")))?;
        for step in 0..OPS {
            let k = key(rng.random_range(0..KEYS));
            let roll = rng.random_range(0..100);
            let op = match roll {
                0..40 => {
                    let v = format!("v{step}");
                    let sync = rng.random_bool(0.5);
                    let op = format!("put({k}, {v})");
                    db.put(k.as_bytes(), v.as_bytes(), sync)
                        .map_err(|e| fail(step, &history, format!("{op} failed: {e}")))?;
                    model.insert(k, v);
                    op
                }
                40..55 => {
                    let op = format!("delete({k})");
                    db.delete(k.as_bytes(), rng.random_bool(0.5))
                        .map_err(|e| fail(step, &history, format!("{op} failed: {e}")))?;
                    model.remove(&k);
                    op
                }
                55..75 => {
                    let op = format!("get({k})");
                    let got = db
                        .get(k.as_bytes())
                        .map_err(|e| fail(step, &history, format!("{op} failed: {e}")))?;
                    let want = model.get(&k).map(String::as_bytes);
                    if got.as_deref() != want {
                        return Err(fail(step, &history, format!("{op} answered wrongly"))
                            .with_answers(show(got.as_deref()), show(want)));
                    }
                    op
                }
                75..80 => {
                    let handle = db
                        .snapshot()
                        .map_err(|e| fail(step, &history, format!("snapshot failed: {e}")))?;
                    snapshots.push((handle, model.clone()));
                    format!("snapshot s{}", snapshots.len() - 1)
                }
                80..88 if !snapshots.is_empty() => {
                    let i = rng.random_range(0..snapshots.len());
                    let (handle, then) = &snapshots[i];
                    let op = format!("get_at({k}, s{i})");
                    let got = db
                        .get_at(k.as_bytes(), *handle)
                        .map_err(|e| fail(step, &history, format!("{op} failed: {e}")))?;
                    let want = then.get(&k).map(String::as_bytes);
                    if got.as_deref() != want {
                        return Err(fail(
                            step,
                            &history,
                            format!(
                                "{op} answered wrongly: a read at a snapshot sees the \
                                     database as it was when the snapshot was taken"
                            ),
                        )
                        .with_answers(show(got.as_deref()), show(want)));
                    }
                    op
                }
                88..93 => {
                    let (op, at) = match snapshots.len() {
                        n if n > 0 && rng.random_bool(0.5) => {
                            let i = rng.random_range(0..n);
                            (format!("scan_at(s{i})"), Some(i))
                        }
                        _ => ("scan".to_string(), None),
                    };
                    let (got, want) = match at {
                        Some(i) => (db.scan_at(snapshots[i].0), &snapshots[i].1),
                        None => (db.scan(), &model),
                    };
                    let got = got.map_err(|e| fail(step, &history, format!("{op} failed: {e}")))?;
                    let want: Vec<(Bytes, Bytes)> = want
                        .iter()
                        .map(|(k, v)| (Bytes::from(k.clone()), Bytes::from(v.clone())))
                        .collect();
                    if got != want {
                        return Err(fail(step, &history, format!("{op} answered wrongly"))
                            .with_answers(show_scan(&got), show_scan(&want)));
                    }
                    op
                }
                93..97 => {
                    db.flush()
                        .map_err(|e| fail(step, &history, format!("flush failed: {e}")))?;
                    "flush".to_string()
                }
                _ => {
                    db.close()
                        .map_err(|e| fail(step, &history, format!("close failed: {e}")))?;
                    db = open(Arc::clone(&fs), Path::new(DIR)).map_err(|e| {
                        fail(step, &history, format!("open after close failed: {e}"))
                    })?;
                    // A snapshot lasts until its engine closes.
                    snapshots.clear();
                    "close and open".to_string()
                }
            };
            history.push(op);
        }
        db.close()
            .map_err(|e| fail(OPS, &history, format!("close failed: {e}")))
    })
}

/// One write of the power-cut workload: a key, its value (`None`: a delete), and whether
/// it is synced.
type Write = (String, Option<String>, bool);

/// The workload of `power_cuts` for `seed`: writes, with a flush after every tenth.
fn workload(seed: u64) -> Vec<Write> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    (0..40)
        .map(|i| {
            let k = key(rng.random_range(0..6));
            let value = (rng.random_range(0..4) != 0).then(|| format!("v{i}"));
            (k, value, rng.random_bool(0.4))
        })
        .collect()
}

/// The model after the first `n` writes of `writes`.
fn model_after(writes: &[Write], n: usize) -> BTreeMap<String, String> {
    let mut model = BTreeMap::new();
    for (k, v, _) in &writes[..n] {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
    model
}

/// Runs `writes` on `db`, flushing after every tenth, until the end or the first error;
/// returns how many writes were acknowledged, and whether the one after them was tried.
fn run_writes(db: &mut dyn Engine, writes: &[Write]) -> (usize, bool) {
    for (i, (k, v, sync)) in writes.iter().enumerate() {
        let done = match v {
            Some(v) => db.put(k.as_bytes(), v.as_bytes(), *sync),
            None => db.delete(k.as_bytes(), *sync),
        };
        if done.is_err() {
            return (i, true);
        }
        if i % 10 == 9 && db.flush().is_err() {
            return (i + 1, false);
        }
    }
    (writes.len(), false)
}

/// What `get` answers for each key of the power-cut workload, or the error of the
/// first that failed.
fn read_state(db: &dyn Engine) -> Result<BTreeMap<String, String>, String> {
    let mut state = BTreeMap::new();
    for k in (0..6).map(key) {
        match db.get(k.as_bytes()) {
            Ok(Some(v)) => {
                state.insert(k, String::from_utf8_lossy(&v).into_owned());
            }
            Ok(None) => {}
            Err(e) => return Err(format!("get({k}) failed: {e}")),
        }
    }
    Ok(state)
}

/// The check `power_cuts` for the workload of `seed` on the subject's engine.
fn power_cuts(subject: Subject, seed: u64) -> Result<(), Failure> {
    power_cuts_with(name(subject), opener(subject), seed)
}

/// The check `power_cuts` for the workload of `seed`, on the engine `open` opens, called
/// `implementation`: the power cut after each file operation of it in turn.
///
/// # Errors
///
/// A [`Failure`] naming the seed, what broke and the answers.
pub fn power_cuts_with(implementation: &'static str, open: Open, seed: u64) -> Result<(), Failure> {
    let writes = workload(seed);
    let case = format!(
        "seed {seed}: {} puts and deletes on keys k0..k5, some synced, a flush after every \
         tenth, the power cut at each file operation in turn",
        writes.len()
    );
    let fail = |detail: String| {
        Failure::new(
            implementation,
            "power_cuts",
            Some(seed),
            case.clone(),
            detail,
        )
    };
    caught(implementation, "power_cuts", &case, || {
        let dir = Path::new(DIR);
        // Count the workload's operations, with the power on throughout.
        let probe = SimFs::new(seed);
        let mut db = open(Arc::new(probe.clone()), dir)
            .map_err(|e| fail(format!("open failed, with the power on: {e}")))?;
        let (acked, _) = run_writes(&mut *db, &writes);
        if acked < writes.len() {
            return Err(fail(format!(
                "write {acked} failed, with the power on: every write must succeed"
            )));
        }
        drop(db);
        let total = probe.op_count();
        // Before any power cut: the whole workload, reopened, is all there.
        let db = open(Arc::new(probe.clone()), dir)
            .map_err(|e| fail(format!("reopen failed, with the power on: {e}")))?;
        let state = read_state(&*db).map_err(|e| fail(format!("with the power on, {e}")))?;
        let want = model_after(&writes, writes.len());
        if let Some(k) = (0..6).map(key).find(|k| state.get(k) != want.get(k)) {
            return Err(fail(format!(
                "before any power cut, after the whole workload and a reopen, get({k}) \
                 answers wrongly: every write is there when nothing was lost \
                 (recovers_on_reopen checks this alone)"
            ))
            .with_answers(
                state.get(&k).map_or("None".into(), String::clone),
                want.get(&k).map_or("None".into(), String::clone),
            ));
        }
        drop(db);
        for cut in 0..=total {
            let sim = SimFs::new(seed << 20 ^ cut);
            let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
            sim.cut_power_after(cut);
            let (acked, tried) = match open(Arc::clone(&fs), dir) {
                Ok(mut db) => run_writes(&mut *db, &writes),
                Err(_) => (0, false),
            };
            sim.restart();
            let at = format!("after the power was cut at file operation {cut} of {total}");
            let db =
                open(Arc::clone(&fs), dir).map_err(|e| fail(format!("{at}, open failed: {e}")))?;
            let state = read_state(&*db).map_err(|e| fail(format!("{at}, {e}")))?;
            // Every write up to the last synced one acknowledged must be there; the ones
            // after it may or may not be, as a prefix.
            let synced = (0..acked).rev().find(|&i| writes[i].2).map_or(0, |i| i + 1);
            let last = acked + usize::from(tried);
            if (synced..=last).any(|n| model_after(&writes, n) == state) {
                drop(db);
                continue;
            }
            let (detail, got, expected) = diagnose(&writes, &state, synced, last, &at);
            return Err(fail(detail).with_answers(got, expected));
        }
        Ok(())
    })
}

/// Why `state`, recovered after a power cut, is no state the writes up to some `n` in
/// `synced..=last` leave: the first key that holds what no such `n` gives it, or else the
/// whole state, which mixes two moments. The detail, what was got, what was expected.
fn diagnose(
    writes: &[Write],
    state: &BTreeMap<String, String>,
    synced: usize,
    last: usize,
    at: &str,
) -> (String, String, String) {
    let show_state = |m: &BTreeMap<String, String>| {
        let entries: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("[{}]", entries.join(", "))
    };
    let models: Vec<_> = (synced..=last).map(|n| model_after(writes, n)).collect();
    for k in (0..6).map(key) {
        let got = state.get(&k);
        let mut possible: Vec<Option<&String>> = models.iter().map(|m| m.get(&k)).collect();
        possible.dedup();
        if possible.contains(&got) {
            continue;
        }
        let written = |v: &String| {
            writes
                .iter()
                .any(|(wk, wv, _)| *wk == k && wv.as_ref() == Some(v))
        };
        let detail = match got {
            Some(v) if !written(v) => format!(
                "{at}, get({k}) answers {v}, which was never written to {k}: nothing may \
                 appear that was not written"
            ),
            _ => format!(
                "{at}, get({k}) answers what it held before a write that was acknowledged as \
                 synced (writes 0..{synced} must all be there): a synced write, and every \
                 write before it, survives a power cut"
            ),
        };
        let show = |v: Option<&String>| v.map_or("None".to_string(), String::clone);
        let possible: Vec<String> = possible.into_iter().map(show).collect();
        return (detail, show(got), format!("one of {}", possible.join(", ")));
    }
    (
        format!(
            "{at}, the state is no moment of the history: each key holds a value it could \
             hold, but not all at the same moment (writes 0..{synced} must all be there, \
             and a write survives only with every one before it)"
        ),
        show_state(state),
        show_state(&models[0]),
    )
}
