//! Every API call on the happy path, through flushes and reopens.

use ferris_engine::{Db, WriteBatch};

use crate::{dump, open_sim, reopen};

#[test]
fn put_get_delete_through_memtable_tables_and_reopen() {
    // The level-0 counts below hold only without idle work.
    let sim = ferris_fs::SimFs::new(1);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    db.put("apple", "red").unwrap();
    db.put("pear", "green").unwrap();
    db.delete("pear").unwrap();
    assert_eq!(db.get("apple").unwrap().as_deref(), Some(&b"red"[..]));
    assert_eq!(db.get("pear").unwrap(), None);
    db.flush().unwrap();
    assert_eq!(db.stats().levels[0].files, 1);
    db.put("apple", "yellow").unwrap();
    assert_eq!(db.get("apple").unwrap().as_deref(), Some(&b"yellow"[..]));
    drop(db);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    assert_eq!(db.get("apple").unwrap().as_deref(), Some(&b"yellow"[..]));
    assert_eq!(db.get("pear").unwrap(), None);
    assert_eq!(db.stats().levels[0].files, 1);
}

#[test]
fn batches_apply_together() {
    let (_sim, db) = open_sim(2);
    db.put("b", "old").unwrap();
    let mut batch = WriteBatch::new();
    batch.put("a", "1").put("c", "3").delete("b");
    db.write(batch).unwrap();
    assert_eq!(
        dump(db.iter().unwrap()),
        [("a".into(), "1".into()), ("c".into(), "3".into())]
    );
    db.write(WriteBatch::new()).unwrap();
}

#[test]
fn scans_go_both_ways_and_meet_in_the_middle() {
    let (_sim, db) = open_sim(3);
    for i in 0..300 {
        db.put(format!("k{i:03}"), format!("v{i}")).unwrap();
        if i % 100 == 99 {
            db.flush().unwrap();
        }
    }
    for i in (0..300).step_by(3) {
        db.delete(format!("k{i:03}")).unwrap();
    }
    let all = dump(db.iter().unwrap());
    assert_eq!(all.len(), 200);
    let mut back = dump(db.iter().unwrap().rev());
    back.reverse();
    assert_eq!(back, all);
    let in_range = dump(db.range("k010".."k020").unwrap());
    assert_eq!(in_range.first().unwrap().0, "k010");
    // k010..k019 without the deleted k012, k015 and k018.
    assert_eq!(in_range.len(), 7);
    let prefixed = dump(db.prefix("k29").unwrap());
    assert_eq!(prefixed.len(), 7);
    // Mixing ends yields every entry once.
    let mut it = db.iter().unwrap();
    let mut seen = Vec::new();
    loop {
        match (it.next(), it.next_back()) {
            (None, None) => break,
            (a, b) => seen.extend(a.into_iter().chain(b).map(|kv| kv.unwrap().0)),
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 200);
    seen.dedup();
    assert_eq!(seen.len(), 200);
}

#[test]
fn snapshots_and_iterators_see_one_moment_through_writes_and_flushes() {
    let (_sim, db) = open_sim(4);
    db.put("k", "1").unwrap();
    db.put("gone", "x").unwrap();
    let snap = db.snapshot().unwrap();
    let iter = db.iter().unwrap();
    db.put("k", "2").unwrap();
    db.delete("gone").unwrap();
    db.put("new", "n").unwrap();
    db.flush().unwrap();
    db.put("k", "3").unwrap();
    db.flush().unwrap();
    assert_eq!(snap.get("k").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get("gone").unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(snap.get("new").unwrap(), None);
    let expected = vec![
        ("gone".to_string(), "x".to_string()),
        ("k".into(), "1".into()),
    ];
    assert_eq!(dump(snap.iter().unwrap()), expected);
    assert_eq!(dump(iter), expected);
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"3"[..]));
}

#[test]
fn memtables_freeze_flush_and_leave_stats() {
    let (sim, db) = open_sim(5);
    let value = vec![7u8; 500];
    for i in 0..400 {
        db.put(format!("key{i:05}"), &value).unwrap();
    }
    db.flush().unwrap();
    let stats = db.stats();
    assert!(stats.flushes >= 2, "{stats:?}");
    // The tables may have been compacted out of level 0 already.
    let (files, bytes) = stats
        .levels
        .iter()
        .fold((0, 0), |(f, b), l| (f + l.files, b + l.bytes));
    assert!(files >= 1 && bytes > 0, "{stats:?}");
    assert!(stats.write_amplification > 1.0, "{stats:?}");
    assert_eq!(stats.immutable_memtables, 0);
    // Flushed WAL segments are gone: only the active one (and any not yet flushed) remain.
    let segments = sim_segments(&sim);
    assert!(segments <= 2, "{segments} WAL segments left");
    let db = reopen(&sim, db);
    for i in (0..400).step_by(37) {
        assert_eq!(
            db.get(format!("key{i:05}")).unwrap().as_deref(),
            Some(&value[..])
        );
    }
}

fn sim_segments(sim: &ferris_fs::SimFs) -> usize {
    use ferris_fs::FileSystem;
    sim.list(std::path::Path::new(crate::DIR))
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".wal"))
        .count()
}

#[test]
fn reopen_cycles_keep_everything() {
    let sim = ferris_fs::SimFs::new(6);
    let mut db = Db::open(crate::DIR, crate::sim_options(&sim)).unwrap();
    for cycle in 0..8 {
        for i in 0..50 {
            db.put(format!("c{cycle}-{i}"), format!("{cycle}")).unwrap();
        }
        if cycle % 3 == 0 {
            db.flush().unwrap();
        }
        db = reopen(&sim, db);
        assert_eq!(db.iter().unwrap().count(), (cycle + 1) * 50);
    }
}

#[test]
fn close_is_final_and_idempotent() {
    let (_sim, db) = open_sim(7);
    db.put("k", "v").unwrap();
    db.close().unwrap();
    db.close().unwrap();
    assert!(matches!(
        db.put("k", "v"),
        Err(ferris_engine::Error::Closed)
    ));
    assert!(matches!(db.get("k"), Err(ferris_engine::Error::Closed)));
    assert!(matches!(db.iter(), Err(ferris_engine::Error::Closed)));
    assert!(matches!(db.flush(), Err(ferris_engine::Error::Closed)));
    assert!(matches!(db.snapshot(), Err(ferris_engine::Error::Closed)));
}

#[test]
fn a_real_directory_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db"), Default::default()).unwrap();
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    db.put("k2", "v2").unwrap();
    drop(db);
    let db = Db::open(dir.path().join("db"), Default::default()).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(db.get("k2").unwrap().as_deref(), Some(&b"v2"[..]));
}

/// Between flushes the flush thread creates the next flush's table ahead (see
/// `ferris_engine`'s flush module); the next flush writes into it, and `close` removes one
/// left unwritten.
#[test]
fn the_next_flushs_table_is_prepared_ahead_and_removed_at_close() {
    use ferris_fs::FileSystem;
    // Without idle work, which could compact the tables away under the test.
    let sim = ferris_fs::SimFs::new(9);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    let tmp_tables = || -> Vec<String> {
        let names = sim.list(std::path::Path::new(crate::DIR)).unwrap();
        names
            .into_iter()
            .filter(|n| n.ends_with(".sst.tmp"))
            .collect()
    };
    db.put("a", "1").unwrap();
    db.flush().unwrap();
    // Prepared once the flush is done, by the flush thread: wait for it (the deadline
    // only keeps a broken build from hanging).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let prepared = loop {
        if let [one] = tmp_tables().as_slice() {
            break one.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no table was prepared"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    db.put("b", "2").unwrap();
    db.flush().unwrap();
    let written = prepared.strip_suffix(".tmp").unwrap();
    assert!(
        sim.exists(&crate::path(written)).unwrap(),
        "{written} was not written"
    );
    assert_eq!(db.stats().levels[0].files, 2);
    db.close().unwrap();
    assert_eq!(
        tmp_tables(),
        Vec::<String>::new(),
        "close left a prepared table"
    );
    drop(db);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("b").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn open_removes_what_a_crash_left_behind() {
    use ferris_fs::FileSystem;
    let (sim, db) = open_sim(8);
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    drop(db);
    for name in [
        "000099.sst",
        "000100.sst.tmp",
        "CURRENT.tmp",
        "MANIFEST-000098",
        "000000.wal",
    ] {
        sim.create(&crate::path(name)).unwrap();
    }
    let db = Db::open(crate::DIR, crate::sim_options(&sim)).unwrap();
    let names = sim.list(std::path::Path::new(crate::DIR)).unwrap();
    for name in [
        "000099.sst",
        "000100.sst.tmp",
        "CURRENT.tmp",
        "MANIFEST-000098",
        "000000.wal",
    ] {
        assert!(!names.iter().any(|n| n == name), "{name} left in {names:?}");
    }
    assert_eq!(
        names.iter().filter(|n| n.starts_with("MANIFEST-")).count(),
        1
    );
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn frozen_memtables_stay_bounded_under_a_write_burst() {
    let sim = ferris_fs::SimFs::new(9);
    let mut options = crate::sim_options(&sim);
    options.write_buffer_size = 4 << 10;
    options.max_immutable_memtables = 1;
    let db = Db::open(crate::DIR, options).unwrap();
    let value = vec![1u8; 300];
    for i in 0..2000 {
        db.put(format!("k{i:05}"), &value).unwrap();
        let stats = db.stats();
        assert!(stats.immutable_memtables <= 1, "{stats:?}");
        // One memtable may exceed the buffer by the write that filled it.
        assert!(stats.memtable_bytes < (4 << 10) + 1000, "{stats:?}");
    }
    assert!(db.stats().flushes > 10);
}

#[test]
fn reopening_again_and_again_does_not_pile_up_wal_segments() {
    let sim = ferris_fs::SimFs::new(10);
    let mut db = Db::open(crate::DIR, crate::sim_options(&sim)).unwrap();
    for i in 0..30 {
        // A write or two per open, as a command-line tool does.
        if i % 3 != 0 {
            db.put(format!("k{i}"), "v").unwrap();
        }
        db = reopen(&sim, db);
        assert!(
            sim_segments(&sim) <= 5,
            "open {i}: {} segments",
            sim_segments(&sim)
        );
    }
    assert_eq!(db.iter().unwrap().count(), 20);
}

#[test]
fn the_manifest_rotates_and_current_follows() {
    use ferris_fs::FileSystem;
    let (sim, db) = open_sim(11);
    let first = ferris_manifest::read_current(&sim, std::path::Path::new(crate::DIR)).unwrap();
    for i in 0..40 {
        db.put(format!("k{i:03}"), "v").unwrap();
        db.flush().unwrap();
    }
    let now = ferris_manifest::read_current(&sim, std::path::Path::new(crate::DIR)).unwrap();
    assert_ne!(first, now);
    let names = sim.list(std::path::Path::new(crate::DIR)).unwrap();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("MANIFEST-")).count(),
        1,
        "{names:?}"
    );
    let db = reopen(&sim, db);
    assert_eq!(db.iter().unwrap().count(), 40);
    // Compaction edits rotate the manifest too.
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 0, "{stats:?}");
    assert!(stats.levels[1..].iter().any(|l| l.files > 0), "{stats:?}");
    let db = reopen(&sim, db);
    assert_eq!(db.iter().unwrap().count(), 40);
}

#[test]
fn deleting_everything_and_compacting_empties_the_disk() {
    use ferris_fs::FileSystem;
    let (sim, db) = open_sim(12);
    let value = vec![3u8; 200];
    for round in 0..3 {
        for i in 0..300 {
            db.put(format!("k{i:04}"), &value).unwrap();
        }
        if round == 1 {
            db.flush().unwrap();
        }
    }
    db.compact().unwrap();
    let full: u64 = db.stats().levels.iter().map(|l| l.bytes).sum();
    assert!(full > 50_000, "{full}");
    for i in 0..300 {
        db.delete(format!("k{i:04}")).unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    let left: u64 = stats.levels.iter().map(|l| l.bytes).sum();
    assert_eq!(left, 0, "{stats:?}");
    assert_eq!(db.iter().unwrap().count(), 0);
    // The obsolete tables are gone from the directory too, once the last reader of them
    // (a background thread may briefly hold the old version) let go: closing waits for
    // every background thread.
    db.close().unwrap();
    let names = sim.list(std::path::Path::new(crate::DIR)).unwrap();
    assert!(!names.iter().any(|n| n.ends_with(".sst")), "{names:?}");
}

#[test]
fn compaction_keeps_one_version_per_key_and_levels_sorted() {
    let (_sim, db) = open_sim(13);
    for round in 0..6 {
        for i in 0..200 {
            db.put(format!("k{i:04}"), format!("{round}")).unwrap();
        }
        db.flush().unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 0, "{stats:?}");
    assert!(stats.compactions >= 1);
    let all = crate::dump(db.iter().unwrap());
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|(_, v)| v == "5"));
    // Point reads through the deeper level's binary search.
    for i in (0..200).step_by(7) {
        assert_eq!(
            db.get(format!("k{i:04}")).unwrap().as_deref(),
            Some(&b"5"[..])
        );
    }
    assert_eq!(db.get("k9999").unwrap(), None);
}

#[test]
fn compact_range_merges_only_what_holds_the_range() {
    // The level-0 counts below hold only without idle work.
    let sim = ferris_fs::SimFs::new(14);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    for (prefix, n) in [("a", 0), ("m", 1), ("z", 2)] {
        for i in 0..100 {
            db.put(format!("{prefix}{i:03}"), format!("{n}")).unwrap();
        }
        db.flush().unwrap();
    }
    assert_eq!(db.stats().levels[0].files, 3);
    db.compact_range("m000".."m999").unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 2, "{stats:?}");
    assert_eq!(stats.levels[1].files, 1, "{stats:?}");
    assert_eq!(db.iter().unwrap().count(), 300);
    assert_eq!(db.get("m050").unwrap().as_deref(), Some(&b"1"[..]));
    db.compact_range::<&str, _>(..).unwrap();
    assert_eq!(db.stats().levels[0].files, 0);
    assert_eq!(db.iter().unwrap().count(), 300);
}

#[test]
fn compaction_reads_do_not_fill_the_block_cache() {
    let sim = ferris_fs::SimFs::new(16);
    let db = Db::open(crate::DIR, crate::stable_options(&sim)).unwrap();
    for round in 0..3 {
        for i in 0..200 {
            db.put(format!("k{i:03}"), format!("v{round}")).unwrap();
        }
        db.flush().unwrap();
    }
    db.compact().unwrap();
    let stats = db.stats();
    assert!(stats.compactions > 0, "{stats:?}");
    assert!(stats.compaction_bytes_read > 0, "{stats:?}");
    // A compaction reads each input block once, and its inputs are then deleted: none of
    // it should take the readers' cache (nor its memory under a write-only load).
    assert_eq!(stats.block_cache.bytes, 0, "{:?}", stats.block_cache);
    // Reads still fill it.
    assert_eq!(db.get("k100").unwrap().as_deref(), Some(&b"v2"[..]));
    assert!(db.stats().block_cache.bytes > 0);
}

#[test]
fn tight_flow_control_limits_slow_writes_down_but_lose_nothing() {
    let sim = ferris_fs::SimFs::new(15);
    let mut options = crate::sim_options(&sim);
    options.write_buffer_size = 2 << 10;
    options.compaction.l0_slowdown_trigger = 2;
    options.compaction.l0_stop_trigger = 5;
    options.compaction.soft_pending_compaction_bytes = 1;
    options.compaction.hard_pending_compaction_bytes = 64 << 10;
    let db = Db::open(crate::DIR, options).unwrap();
    for i in 0..600 {
        db.put(format!("k{:04}", i % 250), vec![i as u8; 100])
            .unwrap();
        assert!(db.stats().levels[0].files <= 5);
    }
    let stats = db.stats();
    assert!(stats.slowdowns > 0, "{stats:?}");
    assert_eq!(db.iter().unwrap().count(), 250);
}

#[test]
fn a_db_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Db>();
    shareable::<ferris_engine::Snapshot>();
    shareable::<ferris_engine::Keyspace>();
    fn sendable<T: Send>() {}
    sendable::<ferris_engine::DbIter>();
}

/// Scans step over up to eight unwanted versions of a key and seek past the rest; both
/// ways, with versions newer than the snapshot and older than the one it sees.
#[test]
fn scans_over_a_key_with_many_versions_see_the_right_one() {
    let (_sim, db) = open_sim(31);
    db.put("a", "first").unwrap();
    for i in 0..50 {
        db.put("hot", format!("old{i}")).unwrap();
    }
    db.put("z", "last").unwrap();
    let snapshot = db.snapshot().unwrap();
    for i in 0..50 {
        db.put("hot", format!("new{i}")).unwrap();
    }
    db.delete("z").unwrap();
    fn entries(
        it: impl Iterator<Item = ferris_engine::Result<(bytes::Bytes, bytes::Bytes)>>,
    ) -> Vec<(String, String)> {
        it.map(|e| {
            let (k, v) = e.unwrap();
            (
                String::from_utf8(k.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
    }
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let now = pairs(&[("a", "first"), ("hot", "new49")]);
    let then = pairs(&[("a", "first"), ("hot", "old49"), ("z", "last")]);
    for flush in [false, true] {
        if flush {
            db.flush().unwrap();
        }
        assert_eq!(entries(db.iter().unwrap()), now);
        let mut back = entries(db.iter().unwrap().rev());
        back.reverse();
        assert_eq!(back, now);
        assert_eq!(entries(snapshot.iter().unwrap()), then);
        let mut back = entries(snapshot.iter().unwrap().rev());
        back.reverse();
        assert_eq!(back, then);
        // Starting on the hot key itself.
        assert_eq!(entries(db.range("hot"..).unwrap()), now[1..]);
        assert_eq!(entries(snapshot.range("hot"..).unwrap()), then[1..]);
    }
}
