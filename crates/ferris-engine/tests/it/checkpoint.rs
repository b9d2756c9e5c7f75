//! Checkpoints: a copy at one sequence number while writes go on, that opens as a
//! database; no half checkpoint after a failure or a power cut; bad targets refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferris_engine::{Db, Error, Options, WriteBatch};
use ferris_fs::{Fault, FaultKind, FileSystem, Op, SimFs};

use crate::{DIR, sim_options, stable_options};

const TARGET: &str = "/backup";

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    (db.iter().unwrap())
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

fn key(i: usize) -> String {
    format!("key{i:06}")
}

/// A writer thread puts key `i` into the default keyspace and into keyspace `b` in one
/// batch (sequence numbers `2i + 1` and `2i + 2`) while checkpoints are taken on a real
/// disk, with a write buffer small enough that flushes and compactions run throughout.
/// Each checkpoint must hold exactly the batches up to its sequence number, in both
/// keyspaces: a whole prefix, nothing torn, nothing newer.
#[test]
fn a_checkpoint_taken_under_writes_holds_exactly_the_writes_up_to_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::default();
    options.write_buffer_size = 32 << 10;
    let db = Db::open(dir.path().join("db"), options.clone()).unwrap();
    let b = db.keyspace("b").unwrap();
    let done = AtomicBool::new(false);
    let checkpoints = std::thread::scope(|s| {
        s.spawn(|| {
            let value = "v".repeat(100);
            let mut i = 0;
            while !done.load(Ordering::Acquire) || i < 2_000 {
                let mut batch = WriteBatch::new();
                batch.put(key(i), &value);
                batch.put_in(b.id(), key(i), &value);
                db.write(batch).unwrap();
                i += 1;
            }
        });
        let mut taken = Vec::new();
        for n in 0..6 {
            // Spread over the writes, so flushes and compactions land in between.
            let enough = (n + 1) * 700;
            crate::wait_for("writes", || db.snapshot().unwrap().sequence() >= enough);
            let target = dir.path().join(format!("checkpoint{n}"));
            let stats = db.checkpoint(&target).unwrap();
            taken.push((target, stats));
        }
        done.store(true, Ordering::Release);
        taken
    });
    let linked: usize = checkpoints.iter().map(|(_, s)| s.tables_linked).sum();
    assert!(linked > 0, "the tables on one file system are hard links");
    for (target, stats) in checkpoints {
        assert_eq!(stats.sequence % 2, 0, "a batch is never split: {stats:?}");
        assert_eq!(stats.tables_copied, 0);
        let copy = Db::open(&target, options.clone()).unwrap();
        let batches = (stats.sequence / 2) as usize;
        let expected: BTreeMap<Vec<u8>, Vec<u8>> = (0..batches)
            .map(|i| (key(i).into_bytes(), "v".repeat(100).into_bytes()))
            .collect();
        assert_eq!(contents(&copy), expected, "{}", target.display());
        let copy_b = copy.keyspace("b").unwrap();
        let in_b = copy_b.iter().unwrap().count();
        assert_eq!(in_b, batches, "keyspace b of {}", target.display());
        // The copy is a database of its own: it takes writes, and the source does not
        // see them.
        copy.put("only-in-copy", "x").unwrap();
        assert_eq!(db.get("only-in-copy").unwrap(), None);
    }
    // The source lost nothing to the checkpoints' links.
    db.flush().unwrap();
    db.compact().unwrap();
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn memtable_writes_become_a_table_of_the_checkpoint_and_keyspace_options_carry_over() {
    let sim = SimFs::new(11);
    let mut options = sim_options(&sim);
    options.write_buffer_size = 1 << 20;
    let db = Db::open(DIR, options.clone()).unwrap();
    db.put("flushed", "1").unwrap();
    db.flush().unwrap();
    db.put("in-memory", "2").unwrap();
    db.delete("flushed").unwrap();
    let logs = db.keyspace("logs").unwrap();
    logs.put("entry", "3").unwrap();
    let dropped = db.keyspace("dropped").unwrap();
    dropped.put("gone", "4").unwrap();
    db.drop_keyspace("dropped").unwrap();

    let stats = db.checkpoint(TARGET).unwrap();
    assert_eq!(stats.tables_linked, 1, "{stats:?}");
    assert_eq!(stats.tables_written, 2, "default and logs: {stats:?}");
    assert!(stats.bytes_written > 0);
    db.put("after", "5").unwrap();

    let copy = Db::open(TARGET, options).unwrap();
    assert_eq!(
        copy.get("flushed").unwrap(),
        None,
        "the tombstone came along"
    );
    assert_eq!(copy.get("in-memory").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(copy.get("after").unwrap(), None);
    let names: Vec<String> = copy.list_keyspaces().unwrap();
    assert!(names.contains(&"logs".to_string()), "{names:?}");
    assert!(!names.contains(&"dropped".to_string()), "{names:?}");
    let copied_logs = copy.keyspace("logs").unwrap();
    assert_eq!(
        copied_logs.get("entry").unwrap().as_deref(),
        Some(&b"3"[..])
    );
    // A keyspace created in the copy gets an id no keyspace of the source ever had.
    copy.keyspace("new").unwrap().put("k", "v").unwrap();
    drop((copy, copied_logs));
    let copy = Db::open(TARGET, sim_options(&sim)).unwrap();
    assert_eq!(
        copy.keyspace("new").unwrap().get("k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn a_target_that_is_not_empty_or_inside_the_database_is_refused() {
    let sim = SimFs::new(12);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    db.put("k", "v").unwrap();
    sim.create_dir_all(Path::new(TARGET)).unwrap();
    sim.create(Path::new("/backup/notes.txt")).unwrap();
    let e = db.checkpoint(TARGET).unwrap_err();
    assert!(matches!(e, Error::CheckpointTarget { .. }), "{e}");
    for inside in ["/db", "/db/backup"] {
        let e = db.checkpoint(inside).unwrap_err();
        assert!(matches!(e, Error::CheckpointTarget { .. }), "{inside}: {e}");
    }
    assert_eq!(sim.list(Path::new(TARGET)).unwrap(), ["notes.txt"]);
    // An empty directory is a fine target.
    let db_ok = db.checkpoint("/empty");
    assert!(db_ok.is_ok());
    sim.create_dir_all(Path::new("/also-empty")).unwrap();
    db.checkpoint("/also-empty").unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_failed_checkpoint_leaves_an_empty_target_and_the_database_unharmed() {
    for op in [
        Op::Create,
        Op::Link,
        Op::Append,
        Op::Sync,
        Op::SyncDir,
        Op::Rename,
    ] {
        let sim = SimFs::new(13);
        // No idle flush either: the memtable keeps the last writes for the checkpoint.
        let db = Db::open(DIR, stable_options(&sim)).unwrap();
        for i in 0..200 {
            db.put(key(i), "v".repeat(200)).unwrap();
            // Flushed tables for the checkpoint to link, and a memtable for it to write,
            // however far the flush thread has got: without the flush, a busy machine
            // could leave every write in memtables, and no link to fail.
            if i == 149 {
                db.flush().unwrap();
            }
        }
        sim.inject(
            Fault::new(op, FaultKind::Enospc)
                .path_contains("backup")
                .sticky(true),
        );
        let e = db.checkpoint(TARGET).unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{op}: {e}");
        sim.clear_faults();
        assert_eq!(
            sim.list(Path::new(TARGET)).unwrap(),
            Vec::<String>::new(),
            "{op}"
        );
        let mut options = sim_options(&sim);
        options.create_if_missing = false;
        let opened = Db::open(TARGET, options);
        assert!(matches!(opened, Err(Error::NotADatabase { .. })), "{op}");
        // The source goes on, and a second try succeeds.
        db.put("after", "x").unwrap();
        let stats = db.checkpoint(TARGET).unwrap();
        // Both kinds of work were there for the fault to hit.
        assert!(
            stats.tables_linked + stats.tables_copied >= 1,
            "{op}: {stats:?}"
        );
        assert_eq!(stats.tables_written, 1, "{op}: {stats:?}");
        let copy = Db::open(TARGET, sim_options(&sim)).unwrap();
        assert_eq!(copy.iter().unwrap().count(), 201, "{op}");
    }
}

/// A power cut at every file operation of a checkpoint: after the restart the target
/// either is no database (open refuses it) or opens holding exactly the state at the
/// checkpoint's sequence number; and the source opens with every write.
#[test]
fn a_power_cut_during_a_checkpoint_leaves_no_checkpoint_or_a_whole_one() {
    // Without idle work, and small enough never to flush, so no background thread uses
    // the file system during the checkpoint and each cut lands at the same operation.
    let prepare = |sim: &SimFs| -> Db {
        let db = Db::open(DIR, crate::stable_options(sim)).unwrap();
        let ks = db.keyspace("b").unwrap();
        for i in 0..120 {
            db.put(key(i), format!("v{i}")).unwrap();
            ks.put(key(i), format!("w{i}")).unwrap();
        }
        db.sync_wal().unwrap();
        db
    };
    // About how many operations a whole checkpoint takes (a background thread's may
    // fall inside or outside the count, so the cuts go on past it until checkpoints
    // come out whole).
    let sim = SimFs::new(0);
    let db = prepare(&sim);
    let before = sim.op_count();
    db.checkpoint(TARGET).unwrap();
    let ops = sim.op_count() - before;
    let expected = contents(&db);
    drop(db);
    let (mut whole, mut none) = (0, 0);
    for cut in 0..=2 * ops {
        if whole == 3 {
            break;
        }
        let sim = SimFs::new(cut);
        let db = prepare(&sim);
        sim.cut_power_after(cut);
        let _ = db.checkpoint(TARGET);
        drop(db);
        sim.restart();
        let mut options = sim_options(&sim);
        options.create_if_missing = false;
        match Db::open(TARGET, options) {
            Ok(copy) => {
                assert_eq!(contents(&copy), expected, "cut {cut}");
                let b = copy.keyspace("b").unwrap();
                assert_eq!(b.iter().unwrap().count(), 120, "cut {cut}");
                whole += 1;
            }
            Err(Error::NotADatabase { .. }) => none += 1,
            Err(e) => panic!("cut {cut}: a half checkpoint gave {e}"),
        }
        let source = Db::open(DIR, sim_options(&sim)).unwrap();
        assert_eq!(contents(&source), expected, "cut {cut}: the source");
    }
    assert!(whole > 0 && none > 0, "whole {whole}, none {none}");
}

/// Checkpoints of a checkpoint chain: each is a database whose own checkpoints work.
#[test]
fn a_checkpoint_of_a_checkpoint_opens() {
    let sim = SimFs::new(14);
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    for i in 0..300 {
        db.put(key(i), "v".repeat(50)).unwrap();
    }
    db.checkpoint("/one").unwrap();
    let one = Db::open("/one", sim_options(&sim)).unwrap();
    one.put("extra", "1").unwrap();
    one.checkpoint("/two").unwrap();
    let two = Db::open("/two", sim_options(&sim)).unwrap();
    assert_eq!(two.iter().unwrap().count(), 301);
    let fs: Arc<dyn FileSystem> = Arc::new(sim.clone());
    assert!(fs.exists(Path::new("/two/CURRENT")).unwrap());
}
