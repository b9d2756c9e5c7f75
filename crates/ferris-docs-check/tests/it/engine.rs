//! `crates/ferris-engine/src/lib.rs` (the engine chapter), exercises 1, 2, 3 and 4.

use std::sync::Arc;
use std::time::Duration;

use ferris_engine::{Db, Error, ManualClock, Options, Ttl};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

#[test]
fn ex1_flushes_and_write_amplification() -> Result {
    let dir = tempfile::tempdir()?;
    let mut options = Options::default();
    options.write_buffer_size = 16 << 10;
    let db = Db::open(dir.path(), options)?;
    for i in 0..1000 {
        db.put(format!("key{i:06}"), format!("value{i:06}"))?;
    }
    let stats = db.stats();
    // Each node takes about 50 bytes (the 20 of key and value, a 16-byte header, 4/3
    // links of 8 bytes, padding), so a memtable holds about 16 KiB / 50 = 325 entries:
    // three flushes, plus the one the open counts (it retires the new database's empty
    // WAL segment).
    assert_eq!(stats.flushes, 4);
    assert_eq!(stats.user_bytes_written, 20_000);
    // The WAL, not the tables, makes most of it: each flush seals its segment, padded to
    // a whole 32 KiB block, for about 325 records of 20 bytes.
    assert!(stats.wal_bytes_written > 3 * 32 * 1024);
    assert!(stats.table_bytes_written < stats.wal_bytes_written / 3);
    let expected = (stats.wal_bytes_written + stats.table_bytes_written) as f64 / 20_000.0;
    assert!((stats.write_amplification - expected).abs() < 0.01);
    assert!(
        stats.write_amplification > 5.0,
        "{}",
        stats.write_amplification
    );
    Ok(())
}

#[test]
fn ex2_a_second_open_is_locked() -> Result {
    let dir = tempfile::tempdir()?;
    let _db = Db::open(dir.path(), Options::default())?;
    let err = Db::open(dir.path(), Options::default()).unwrap_err();
    let Error::Locked { path } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, &dir.path().join("LOCK"));
    Ok(())
}

#[test]
fn ex3_a_snapshot_keeps_a_deleted_value_through_compaction() -> Result {
    let dir = tempfile::tempdir()?;
    let db = Db::open(dir.path(), Options::default())?;
    db.put("k", vec![7u8; 100_000])?;
    let snapshot = db.snapshot()?;
    db.delete("k")?;
    db.compact()?;
    // The snapshot reads the value from the one table compaction wrote, in level 1: the
    // put and the delete both survived the merge, the put because the snapshot sees it.
    assert_eq!(snapshot.get("k")?.map(|v| v.len()), Some(100_000));
    let level1 = |db: &Db| db.stats().levels[1].bytes;
    assert!(level1(&db) > 100_000);
    drop(snapshot);
    // A manual compaction merges the levels above the deepest into it; it does not
    // rewrite the deepest alone, so the bytes are still there...
    db.compact()?;
    assert!(level1(&db) > 100_000);
    assert_eq!(db.get("k")?, None);
    // ...until a compaction reads that table again: here, one that merges into it a new
    // flush whose keys overlap it (a table that overlaps nothing below is moved down as
    // it is). No snapshot needs the old put now, and the newest version hides the rest.
    db.put("k", "new")?;
    db.compact()?;
    assert!(level1(&db) < 1_000, "{}", level1(&db));
    assert_eq!(db.get("k")?.as_deref(), Some(&b"new"[..]));
    Ok(())
}

#[test]
fn ex4_expired_values() -> Result {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut options = Options::default();
    options.ttl = Ttl::On { default: None };
    options.clock = clock.clone();
    let db = Db::open(dir.path(), options)?;
    for i in 0..10_000 {
        db.put_with_ttl(format!("key{i:06}"), "v", Duration::from_secs(60))?;
    }
    db.flush()?;
    let snapshot = db.snapshot()?;
    clock.advance(Duration::from_secs(61));
    let bytes = |db: &Db| db.stats().levels.iter().map(|l| l.bytes).sum::<u64>();
    // Expired: a read does not see the value, although every byte of it is still there.
    assert_eq!(db.get("key000001")?, None);
    let before = bytes(&db);
    assert!(before > 200_000);
    // The snapshot judges expiry as of when it was taken, so it still reads the value,
    // and a compaction must keep what it can read.
    assert_eq!(snapshot.get("key000001")?.as_deref(), Some(&b"v"[..]));
    db.compact()?;
    assert_eq!(bytes(&db), before);
    drop(snapshot);
    db.compact()?;
    assert_eq!(bytes(&db), 0);
    Ok(())
}
