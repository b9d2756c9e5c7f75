//! `Db::open_read_only`: reads as of the open, writes refused by name, nothing on disk
//! changed, and a consistent state beside a writer that flushes and compacts: read past
//! a change, or refused as `ConcurrentChange` when every attempt meets one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ferris_engine::{Db, Error, WriteBatch};
use ferris_fs::{Fault, FaultKind, FileSystem, Op, SimFs};

use crate::{DIR, dump, hooked, open_sim, sim_options};

/// Every file of the database directory with its bytes.
fn files(sim: &SimFs) -> BTreeMap<String, Vec<u8>> {
    let names = sim.list(DIR.as_ref()).unwrap();
    let read = |name: &String| {
        let file = sim.open(&crate::path(name)).unwrap();
        file.read_vec(0, file.len()).unwrap()
    };
    names
        .iter()
        .map(|name| (name.clone(), read(name)))
        .collect()
}

/// Makes every call that would change the disk fail, so that one made shows up in
/// `SimStats::n_faults` (and could not change anything anyway).
fn refuse_writes(sim: &SimFs) {
    for op in [
        Op::Create,
        Op::Append,
        Op::Sync,
        Op::Reserve,
        Op::SyncDir,
        Op::Rename,
        Op::Remove,
        Op::Lock,
        Op::CreateDir,
    ] {
        sim.inject(Fault::new(op, FaultKind::ReadOnly).sticky(true));
    }
}

/// A database with tables, WAL-only writes and two keyspaces, with the writer still open.
fn populated(seed: u64) -> (SimFs, Db) {
    let (sim, db) = open_sim(seed);
    let other = db.keyspace("other").unwrap();
    for i in 0..300 {
        db.put(format!("k{i:03}"), format!("table-{i}")).unwrap();
    }
    other.put("o1", "table").unwrap();
    db.flush().unwrap();
    // After the flush: only in the WAL.
    db.put("k000", "wal").unwrap();
    db.delete("k001").unwrap();
    other.put("o2", "wal").unwrap();
    (sim, db)
}

/// The reader sees the tables and the WAL as they were when it opened, in every
/// keyspace, through every read call; what the writer does afterwards it does not see.
#[test]
fn a_read_only_open_sees_the_database_as_of_its_open() {
    let (sim, writer) = populated(1);
    let reader = Db::open_read_only(DIR, sim_options(&sim)).unwrap();
    writer.put("k000", "later").unwrap();
    writer.put("new", "later").unwrap();
    writer.keyspace("other").unwrap().delete("o1").unwrap();
    writer.flush().unwrap();
    writer.compact().unwrap();

    assert_eq!(reader.get("k000").unwrap().as_deref(), Some(&b"wal"[..]));
    assert_eq!(reader.get("k001").unwrap(), None);
    assert_eq!(
        reader.get("k002").unwrap().as_deref(),
        Some(&b"table-2"[..])
    );
    assert_eq!(reader.get("new").unwrap(), None);
    let got = reader.multi_get(["k000", "k299", "new"]).unwrap();
    assert_eq!(got[0].as_deref(), Some(&b"wal"[..]));
    assert_eq!(got[1].as_deref(), Some(&b"table-299"[..]));
    assert_eq!(got[2], None);
    assert_eq!(dump(reader.iter().unwrap()).len(), 299);
    assert_eq!(reader.list_keyspaces().unwrap(), ["default", "other"]);
    let other = reader.keyspace("other").unwrap();
    let pairs = dump(other.iter().unwrap());
    assert_eq!(
        pairs,
        [("o1".into(), "table".into()), ("o2".into(), "wal".into())]
    );
    let snapshot = reader.snapshot().unwrap();
    assert_eq!(snapshot.get("k000").unwrap().as_deref(), Some(&b"wal"[..]));
    assert!(reader.stats().last_sequence > 0);
    let problems = reader.verify().unwrap().problems;
    assert!(problems.is_empty(), "{problems:?}");

    // A second reader, opened after the writer's changes, sees them.
    let later = Db::open_read_only(DIR, sim_options(&sim)).unwrap();
    assert_eq!(later.get("k000").unwrap().as_deref(), Some(&b"later"[..]));
    assert_eq!(later.keyspace("other").unwrap().get("o1").unwrap(), None);
}

/// Every call that writes fails with `Error::OpenedReadOnly`; the open, the reads and
/// the close make no call that changes the disk, and every file keeps its bytes.
#[test]
fn writes_on_a_read_only_handle_fail_by_name_and_change_no_file() {
    let (sim, writer) = populated(2);
    writer.close().unwrap();
    let before = files(&sim);
    refuse_writes(&sim);

    let reader = Db::open_read_only(DIR, sim_options(&sim)).unwrap();
    let other = reader.keyspace("other").unwrap();
    let mut batch = WriteBatch::new();
    batch.put("a", "b");
    let refused: Vec<(&str, ferris_engine::Result<()>)> = vec![
        ("put", reader.put("k", "v")),
        ("delete", reader.delete("k000")),
        ("write", reader.write(batch)),
        ("flush", reader.flush()),
        ("compact", reader.compact()),
        ("compact_range", reader.compact_range("a".."z")),
        ("sync_wal", reader.sync_wal()),
        ("create a keyspace", reader.keyspace("new").map(drop)),
        ("drop a keyspace", reader.drop_keyspace("other")),
        ("keyspace put", other.put("k", "v")),
        ("keyspace delete", other.delete("o1")),
        ("keyspace flush", other.flush()),
        ("keyspace compact", other.compact()),
    ];
    for (call, result) in refused {
        assert!(
            matches!(result, Err(Error::OpenedReadOnly)),
            "{call}: {result:?}"
        );
    }
    // Nothing was lost either: the reads still answer as before.
    assert_eq!(reader.get("k000").unwrap().as_deref(), Some(&b"wal"[..]));
    assert_eq!(other.get("o1").unwrap().as_deref(), Some(&b"table"[..]));
    let message = reader.put("k", "v").unwrap_err().to_string();
    assert!(message.contains("read-only"), "{message}");
    reader.close().unwrap();
    drop((other, reader));

    assert_eq!(sim.stats().n_faults, 0, "a read-only open tried to write");
    sim.clear_faults();
    assert_eq!(files(&sim), before);
    // The database opens for writing afterwards, with everything in it.
    let writer = Db::open(DIR, sim_options(&sim)).unwrap();
    assert_eq!(writer.get("k000").unwrap().as_deref(), Some(&b"wal"[..]));
}

/// A directory that is not a database is refused as `Db::open` refuses it; a missing one
/// is never created, whatever `create_if_missing` says.
#[test]
fn a_read_only_open_of_what_is_not_a_database_is_refused() {
    let sim = SimFs::new(3);
    let err = Db::open_read_only(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert!(!sim.exists(DIR.as_ref()).unwrap());

    sim.create_dir_all(DIR.as_ref()).unwrap();
    let err = Db::open_read_only(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert!(sim.list(DIR.as_ref()).unwrap().is_empty());

    sim.create(&crate::path("notes.txt")).unwrap();
    let read_only = Db::open_read_only(DIR, sim_options(&sim)).unwrap_err();
    let writable = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(
        matches!(read_only, Error::NotADatabase { .. }),
        "{read_only}"
    );
    assert_eq!(read_only.to_string(), writable.to_string());
}

/// A failure that happens once (a writer's change, or a passing I/O error) is met by
/// starting over; one that stays, with the manifest standing still, is reported as
/// itself: damage is never hidden behind `ConcurrentChange`.
#[test]
fn a_passing_failure_is_retried_and_a_lasting_one_is_reported() {
    let (sim, writer) = populated(4);
    writer.close().unwrap();
    let table = sim
        .list(DIR.as_ref())
        .unwrap()
        .into_iter()
        .find(|name| name.ends_with(".sst"))
        .expect("a table");

    sim.inject(Fault::new(Op::Open, FaultKind::Eio).path_contains(table.clone()));
    let reader = Db::open_read_only(DIR, sim_options(&sim)).unwrap();
    assert_eq!(
        reader.get("k002").unwrap().as_deref(),
        Some(&b"table-2"[..])
    );
    assert_eq!(sim.stats().n_faults, 1);
    drop(reader);

    sim.inject(
        Fault::new(Op::Open, FaultKind::Eio)
            .path_contains(table)
            .sticky(true),
    );
    let err = Db::open_read_only(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
}

/// A reader opened again and again beside a writer that flushes, compacts and switches
/// manifests (small write buffer and manifest limit) sees, each time, a prefix of the
/// writer's batches: every batch writes keys `n..n + BATCH` and sets `max` to the last of
/// them, so the keys present must be exactly `0..=max`. An open may fail only with
/// `ConcurrentChange`.
#[test]
fn a_reader_beside_a_writer_sees_whole_batches() {
    const BATCH: u64 = 7;
    const BATCHES: u64 = 2_000;
    let sim = SimFs::new(5);
    let writer = Db::open(DIR, sim_options(&sim)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let thread = {
        let (db, done) = (writer.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let _done = SetOnDrop(done);
            for b in 0..BATCHES {
                let mut batch = WriteBatch::new();
                for n in b * BATCH..(b + 1) * BATCH {
                    batch.put(format!("{n:08}"), format!("{n}-{}", "x".repeat(40)));
                }
                batch.put("max", ((b + 1) * BATCH - 1).to_string());
                db.write(batch).unwrap();
                if b % 400 == 399 {
                    db.compact().unwrap();
                }
            }
        })
    };
    let (mut opened, mut busy) = (0, 0);
    while !done.load(Ordering::Acquire) || opened < 3 {
        let reader = match Db::open_read_only(DIR, sim_options(&sim)) {
            Ok(reader) => reader,
            Err(Error::ConcurrentChange { .. }) => {
                busy += 1;
                continue;
            }
            Err(e) => panic!("a read-only open beside a writer failed: {e}"),
        };
        opened += 1;
        let max = reader.get("max").unwrap();
        let max: Option<u64> = max.map(|m| std::str::from_utf8(&m).unwrap().parse().unwrap());
        let keys: Vec<_> = dump(reader.range("0".."9").unwrap());
        let expected = max.map_or(0, |m| m + 1);
        assert_eq!(keys.len() as u64, expected, "max {max:?}");
        for (i, (key, value)) in keys.iter().enumerate() {
            assert_eq!(key, &format!("{i:08}"));
            assert!(value.starts_with(&format!("{i}-")), "{key}: {value}");
        }
    }
    thread.join().unwrap();
    assert!(opened >= 3, "{opened} opens, {busy} met changes");
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A writer that flushes between a reader's replay of the manifest and its replay of the
/// WAL: `flushes` says how many more times it does (each time after a write of `key`,
/// numbered by `done`). The flush records a later log number in the manifest and deletes
/// the WAL segment the reader's manifest still points at, just before the reader opens
/// it, so that attempt cannot read a consistent state, and the manifest has moved.
fn flush_before_wal_reads(
    sim: &SimFs,
    writer: &Db,
    flushes: &Arc<AtomicUsize>,
    done: &Arc<AtomicUsize>,
) -> ferris_engine::Options {
    let (writer, flushes, done) = (writer.clone(), Arc::clone(flushes), Arc::clone(done));
    let mut options = sim_options(sim);
    options.file_system = hooked(sim, move |sim, path| {
        let is_wal = path.extension().is_some_and(|e| e == "wal");
        let take = |n: usize| n.checked_sub(1);
        if is_wal
            && flushes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, take)
                .is_ok()
        {
            let n = done.fetch_add(1, Ordering::AcqRel) + 1;
            writer.put("key", format!("flush-{n}")).unwrap();
            writer.flush().unwrap();
        }
        sim.open(path)
    });
    options
}

/// A read-only open whose every attempt meets a writer's change fails with the typed
/// `ConcurrentChange`, naming the directory and the attempts made (the engine's eight),
/// with the last attempt's failure as its source: never with that failure itself, which
/// would pass a writer's work off as damage, and never with a state mixed from two
/// moments.
#[test]
fn a_database_changing_under_every_attempt_is_a_concurrent_change() {
    let (sim, writer) = populated(7);
    let (flushes, done) = (Arc::new(AtomicUsize::new(usize::MAX)), Arc::default());
    let options = flush_before_wal_reads(&sim, &writer, &flushes, &done);

    let err = Db::open_read_only(DIR, options).unwrap_err();
    let Error::ConcurrentChange {
        path,
        attempts,
        source,
    } = &err
    else {
        panic!("not a concurrent change: {err}");
    };
    assert_eq!((path.as_path(), *attempts), (DIR.as_ref(), 8), "{err}");
    assert_eq!(
        done.load(Ordering::Acquire),
        8,
        "one flush met each attempt"
    );
    assert!(
        matches!(&**source, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "the last attempt found the WAL segment gone: {source}"
    );
    assert!(err.to_string().contains("try again"), "{err}");
}

/// A change that meets only the first attempt is read past: the second attempt reads the
/// state after the writer's flush, whole (the write the flush carried, and everything
/// before it, in every keyspace).
#[test]
fn a_change_under_the_first_attempt_only_is_read_past() {
    let (sim, writer) = populated(8);
    let (flushes, done) = (Arc::new(AtomicUsize::new(1)), Arc::default());
    let options = flush_before_wal_reads(&sim, &writer, &flushes, &done);

    let reader = Db::open_read_only(DIR, options).unwrap();
    assert_eq!(done.load(Ordering::Acquire), 1);
    assert_eq!(reader.get("key").unwrap().as_deref(), Some(&b"flush-1"[..]));
    assert_eq!(reader.get("k000").unwrap().as_deref(), Some(&b"wal"[..]));
    assert_eq!(reader.get("k001").unwrap(), None);
    assert_eq!(
        dump(reader.iter().unwrap()).len(),
        300,
        "k001 deleted, key added"
    );
    let other = dump(reader.keyspace("other").unwrap().iter().unwrap());
    assert_eq!(
        other,
        [("o1".into(), "table".into()), ("o2".into(), "wal".into())]
    );
    let problems = reader.verify().unwrap().problems;
    assert!(problems.is_empty(), "{problems:?}");
}
