//! Range deletes through the engine: `delete_range` and `delete_prefix` hide what they
//! cover in point reads, batched reads and scans both ways, in memory, in tables and
//! across a reopen; a snapshot from before sees everything; compaction gives the space
//! back once the tombstone reaches the bottom; bad ranges are typed errors.

use ferris_core::LimitError;
use ferris_engine::{Db, Error, WriteBatch};
use ferris_fs::SimFs;

use crate::{DIR, dump, sim_options};

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn keys(
    iter: impl Iterator<Item = ferris_engine::Result<(ferris_engine::Bytes, ferris_engine::Bytes)>>,
) -> Vec<String> {
    dump(iter).into_iter().map(|(k, _)| k).collect()
}

fn filled(sim: &SimFs, n: u32) -> Db {
    let db = Db::open(DIR, sim_options(sim)).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..n {
        batch.put(key(i), format!("v{i}"));
    }
    db.write(batch).unwrap();
    db
}

/// What every read path answers, checked against the live keys `want`.
fn check_reads(db: &Db, n: u32, want: &[u32]) {
    let want_keys: Vec<String> = want.iter().map(|&i| key(i)).collect();
    assert_eq!(keys(db.iter().unwrap()), want_keys, "forward scan");
    let mut back = keys(db.iter().unwrap().rev());
    back.reverse();
    assert_eq!(back, want_keys, "backward scan");
    let all: Vec<String> = (0..n).map(key).collect();
    let got = db.multi_get(&all).unwrap();
    for i in 0..n {
        let live = want.contains(&i);
        assert_eq!(db.get(key(i)).unwrap().is_some(), live, "get {}", key(i));
        assert_eq!(got[i as usize].is_some(), live, "multi_get {}", key(i));
    }
}

#[test]
fn a_range_delete_hides_its_keys_in_memory_in_tables_and_after_a_reopen() {
    let sim = SimFs::new(1);
    let db = filled(&sim, 100);
    db.delete_range(key(10)..key(90)).unwrap();
    db.put(key(50), "back").unwrap();
    let want: Vec<u32> = (0..10).chain([50]).chain(90..100).collect();
    check_reads(&db, 100, &want);
    db.flush().unwrap();
    check_reads(&db, 100, &want);
    drop(db);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    check_reads(&db, 100, &want);
    // Unflushed, the tombstone comes back from the WAL.
    db.delete_range(key(0)..=key(4)).unwrap();
    drop(db);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    let want: Vec<u32> = (5..10).chain([50]).chain(90..100).collect();
    check_reads(&db, 100, &want);
}

#[test]
fn a_snapshot_from_before_sees_every_key_through_flushes_and_compactions() {
    let sim = SimFs::new(2);
    let db = filled(&sim, 50);
    db.flush().unwrap();
    let snapshot = db.snapshot().unwrap();
    db.delete_prefix("key0001").unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    assert_eq!(dump(snapshot.iter().unwrap()).len(), 50);
    assert_eq!(snapshot.get(key(15)).unwrap().as_deref(), Some(&b"v15"[..]));
    let want: Vec<u32> = (0..10).chain(20..50).collect();
    check_reads(&db, 50, &want);
}

#[test]
fn compaction_at_the_bottom_drops_the_keys_and_the_tombstone() {
    let sim = SimFs::new(3);
    let db = filled(&sim, 1_000);
    db.flush().unwrap();
    db.compact().unwrap();
    db.delete_range(key(100)..).unwrap();
    db.flush().unwrap();
    db.compact().unwrap();
    check_reads(&db, 1_000, &(0..100).collect::<Vec<_>>());
    let report = db.verify().unwrap();
    let tables = report
        .files
        .iter()
        .filter(|f| f.kind == ferris_engine::FileKind::Table);
    let entries: u64 = tables.map(|f| f.records).sum();
    assert_eq!(entries, 100, "only the live keys are left: {report:?}");
}

#[test]
fn range_deletes_in_a_batch_are_atomic_with_its_other_writes_and_per_keyspace() {
    let sim = SimFs::new(4);
    let db = filled(&sim, 20);
    let other = db.keyspace("other").unwrap();
    for i in 0..20 {
        other.put(key(i), "o").unwrap();
    }
    let mut batch = WriteBatch::new();
    batch
        .delete_range(key(0)..key(10))
        .put(key(5), "new")
        .delete_range_in(other.id(), key(15)..);
    db.write(batch).unwrap();
    check_reads(&db, 20, &(5..6).chain(10..20).collect::<Vec<_>>());
    assert_eq!(keys(other.iter().unwrap()).len(), 15);
    other.delete_prefix("").unwrap();
    assert!(keys(other.iter().unwrap()).is_empty());
    assert_eq!(
        keys(db.iter().unwrap()).len(),
        11,
        "the default keyspace is untouched"
    );
}

#[test]
fn a_range_over_no_key_is_a_typed_error_and_writes_nothing() {
    let sim = SimFs::new(5);
    let db = filled(&sim, 10);
    for result in [
        db.delete_range(key(5)..key(2)),
        db.delete_range(key(5)..key(5)),
    ] {
        assert!(
            matches!(result, Err(Error::Limit(LimitError::EmptyRange))),
            "{result:?}"
        );
    }
    let mut batch = WriteBatch::new();
    batch.put(key(0), "changed").delete_range(key(9)..=key(1));
    assert!(matches!(
        db.write(batch),
        Err(Error::Limit(LimitError::EmptyRange))
    ));
    assert_eq!(db.get(key(0)).unwrap().as_deref(), Some(&b"v0"[..]));
    check_reads(&db, 10, &(0..10).collect::<Vec<_>>());
}

#[test]
fn a_read_only_database_refuses_range_deletes() {
    let sim = SimFs::new(6);
    drop(filled(&sim, 10));
    let db = Db::open_read_only(DIR, sim_options(&sim)).unwrap();
    assert!(matches!(
        db.delete_range(key(0)..),
        Err(Error::OpenedReadOnly)
    ));
    assert!(matches!(
        db.delete_prefix("key"),
        Err(Error::OpenedReadOnly)
    ));
}

#[test]
fn a_checkpoint_keeps_the_range_deletes_made_before_it() {
    let sim = SimFs::new(7);
    let db = filled(&sim, 30);
    db.flush().unwrap();
    db.delete_range(key(10)..key(20)).unwrap();
    db.checkpoint("/copy").unwrap();
    db.delete_range(key(0)..key(5)).unwrap();
    drop(db);
    let mut options = sim_options(&sim);
    options.create_if_missing = false;
    let copy = Db::open("/copy", options).unwrap();
    check_reads(&copy, 30, &(0..10).chain(20..30).collect::<Vec<_>>());
}

/// A regression: the B-tree memtable never raised its newest version (the
/// `Memtable::newest_version` a scan trusts to skip what the memtable's own newer range
/// tombstones cover), so a key put after a prefix delete in the same memtable vanished
/// from scans. Found by the engine's model test.
#[rstest::rstest]
fn a_key_put_after_a_range_delete_in_the_same_memtable_is_scanned(
    #[values(crate::Plug::Defaults, crate::Plug::BTreeMemtable)] plug: crate::Plug,
) {
    let sim = SimFs::new(9);
    let mut options = sim_options(&sim);
    plug.apply(&mut options);
    let db = Db::open(DIR, options).unwrap();
    db.put("key000", "a").unwrap();
    db.put("key023", "b").unwrap();
    db.delete_prefix("key02").unwrap();
    db.put("key025", "c").unwrap();
    let fwd = keys(db.iter().unwrap());
    let mut back = keys(db.iter().unwrap().rev());
    back.reverse();
    assert_eq!(fwd, ["key000", "key025"]);
    assert_eq!(back, fwd);
}
