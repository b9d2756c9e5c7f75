//! Expiring values (TTL) on a simulated clock: what reads see before and after a value
//! expires (gets, batched gets, scans both ways, snapshots), defaults per keyspace, what
//! compaction gives back, and what survives a reopen, a crash, a checkpoint and a
//! read-only open.

use std::sync::Arc;
use std::time::Duration;

use ferris_engine::{
    Bytes, Db, Error, KeyspaceOptions, LimitError, MAX_VALUE_LEN, ManualClock, Options, Ttl,
    WriteBatch,
};
use ferris_fs::SimFs;

use crate::{DIR, stable_options};

const SECOND: Duration = Duration::from_secs(1);

/// Options with the default keyspace expiring (no default time to live) on a manual
/// clock, which the test moves.
fn expiring(sim: &SimFs) -> (Options, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = stable_options(sim);
    options.ttl = Ttl::On { default: None };
    options.clock = clock.clone();
    (options, clock)
}

fn get(db: &Db, key: &str) -> Option<String> {
    let value = db.get(key).unwrap();
    value.map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn keys(iter: impl Iterator<Item = ferris_engine::Result<(Bytes, Bytes)>>) -> Vec<String> {
    iter.map(|kv| String::from_utf8(kv.unwrap().0.to_vec()).unwrap())
        .collect()
}

#[test]
fn an_expired_value_reads_as_deleted_everywhere_and_hides_older_versions() {
    let sim = SimFs::new(1);
    let (options, clock) = expiring(&sim);
    let db = Db::open(DIR, options).unwrap();
    db.put("a", "forever").unwrap();
    db.put("b", "old").unwrap();
    db.put_with_ttl("b", "new", 10 * SECOND).unwrap();
    db.put_with_ttl("c", "brief", 5 * SECOND).unwrap();
    db.put_with_ttl("d", "later", 20 * SECOND).unwrap();
    for round in 0..2 {
        // Round 0 reads the memtable, round 1 the tables.
        assert_eq!(get(&db, "b").as_deref(), Some("new"), "round {round}");
        clock.advance(5 * SECOND);
        assert_eq!(get(&db, "c"), None, "expired at exactly its time");
        assert_eq!(keys(db.iter().unwrap()), ["a", "b", "d"]);
        clock.advance(5 * SECOND);
        // The expired "new" hides "old": an expired version is a deletion.
        assert_eq!(get(&db, "b"), None);
        assert_eq!(keys(db.iter().unwrap()), ["a", "d"]);
        assert_eq!(keys(db.iter().unwrap().rev()), ["d", "a"]);
        assert_eq!(keys(db.range("b"..).unwrap()), ["d"]);
        let values = db.multi_get(["a", "b", "c", "d"]).unwrap();
        let values: Vec<Option<&[u8]>> = values.iter().map(|v| v.as_deref()).collect();
        assert_eq!(
            values,
            [Some(&b"forever"[..]), None, None, Some(&b"later"[..])]
        );
        clock.advance(10 * SECOND);
        assert_eq!(keys(db.iter().unwrap()), ["a"]);
        // Back to before the writes' expiry, and flushed, for the second round.
        clock.set(1_700_000_000_000);
        db.flush().unwrap();
    }
}

#[test]
fn a_snapshot_judges_expiry_as_of_the_moment_it_was_taken() {
    let sim = SimFs::new(2);
    let (options, clock) = expiring(&sim);
    let db = Db::open(DIR, options).unwrap();
    db.put_with_ttl("k", "v", 10 * SECOND).unwrap();
    let before = db.snapshot().unwrap();
    clock.advance(30 * SECOND);
    let after = db.snapshot().unwrap();
    assert_eq!(before.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(keys(before.iter().unwrap()), ["k"]);
    assert_eq!(
        before.multi_get(["k"]).unwrap()[0].as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(after.get("k").unwrap(), None);
    // Compaction keeps what the older snapshot reads, whatever the clock says.
    db.compact().unwrap();
    assert_eq!(before.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(get(&db, "k"), None);
}

#[test]
fn a_keyspace_default_applies_to_puts_without_a_ttl_of_their_own() {
    let sim = SimFs::new(3);
    let (mut options, clock) = expiring(&sim);
    options.ttl = Ttl::Off;
    let mut cache = KeyspaceOptions::from(&options);
    cache.ttl = Ttl::On {
        default: Some(60 * SECOND),
    };
    let db = Db::open(DIR, options).unwrap();
    let cache = db.keyspace_with("cache", cache).unwrap();
    cache.put("default", "60 s").unwrap();
    cache.put_with_ttl("own", "10 s", 10 * SECOND).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put_in(cache.id(), "batched", "60 s")
        .put_with_ttl_in(cache.id(), "batched-own", "120 s", 120 * SECOND)
        .put("plain", "never");
    db.write(batch).unwrap();
    clock.advance(10 * SECOND);
    assert_eq!(
        keys(cache.iter().unwrap()),
        ["batched", "batched-own", "default"]
    );
    clock.advance(50 * SECOND);
    assert_eq!(keys(cache.iter().unwrap()), ["batched-own"]);
    clock.advance(60 * SECOND);
    assert_eq!(keys(cache.iter().unwrap()), Vec::<String>::new());
    assert_eq!(get(&db, "plain").as_deref(), Some("never"));
}

#[test]
fn a_ttl_into_a_keyspace_that_does_not_expire_is_refused_whole() {
    let sim = SimFs::new(4);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let e = db.put_with_ttl("k", "v", SECOND).unwrap_err();
    assert!(
        matches!(e, Error::Limit(LimitError::TtlNotEnabled { keyspace: 0 })),
        "{e}"
    );
    let mut batch = WriteBatch::new();
    batch.put("other", "v").put_with_ttl("k", "v", SECOND);
    assert!(matches!(db.write(batch), Err(Error::Limit(_))));
    assert_eq!(
        get(&db, "other"),
        None,
        "nothing of a refused batch is written"
    );
}

#[test]
fn the_largest_expiring_value_is_eight_bytes_short_of_the_limit() {
    let sim = SimFs::new(5);
    let (options, _clock) = expiring(&sim);
    let db = Db::open(DIR, options).unwrap();
    let e = db.put("k", vec![0; MAX_VALUE_LEN]).unwrap_err();
    assert!(
        matches!(e, Error::Limit(LimitError::ValueTooLarge { .. })),
        "{e}"
    );
    assert_eq!(get(&db, "k"), None);
}

#[test]
fn compaction_gives_back_the_space_of_expired_values() {
    let sim = SimFs::new(6);
    let (options, clock) = expiring(&sim);
    let db = Db::open(DIR, options).unwrap();
    for i in 0..2_000 {
        db.put_with_ttl(format!("k{i:05}"), vec![7; 200], 10 * SECOND)
            .unwrap();
    }
    db.put("kept", "forever").unwrap();
    db.flush().unwrap();
    let bytes = |db: &Db| db.stats().levels.iter().map(|l| l.bytes).sum::<u64>();
    let before = bytes(&db);
    assert!(before > 400_000, "{before}");
    // Not yet expired: a compaction keeps everything.
    db.compact().unwrap();
    assert!(bytes(&db) > 400_000);
    clock.advance(10 * SECOND);
    db.compact().unwrap();
    let after = bytes(&db);
    assert!(after < 10_000, "{before} bytes before, {after} after");
    assert_eq!(keys(db.iter().unwrap()), ["kept"]);
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn expiry_survives_a_crash_a_reopen_a_checkpoint_and_a_read_only_open() {
    let sim = SimFs::new(7);
    let (options, clock) = expiring(&sim);
    let db = Db::open(DIR, options.clone()).unwrap();
    db.put_with_ttl("flushed", "v", 10 * SECOND).unwrap();
    db.flush().unwrap();
    db.put_with_ttl("logged", "v", 20 * SECOND).unwrap();
    db.put("forever", "v").unwrap();
    db.checkpoint("/copy").unwrap();
    sim.crash();
    drop(db);
    // Opened without saying so, the default keyspace still expires: the manifest says it
    // does, and its values are read that way.
    let mut plain = options.clone();
    plain.ttl = Ttl::Off;
    for dir in [DIR, "/copy"] {
        let db = Db::open(dir, plain.clone()).unwrap();
        assert_eq!(keys(db.iter().unwrap()), ["flushed", "forever", "logged"]);
        clock.advance(10 * SECOND);
        assert_eq!(keys(db.iter().unwrap()), ["forever", "logged"]);
        let read_only = Db::open_read_only(dir, plain.clone()).unwrap();
        assert_eq!(keys(read_only.iter().unwrap()), ["forever", "logged"]);
        clock.advance(10 * SECOND);
        assert_eq!(keys(db.iter().unwrap()), ["forever"]);
        assert_eq!(get(&read_only, "logged"), None);
        clock.set(1_700_000_000_000);
        drop(read_only);
        // With no default, a plain put still never expires.
        db.put("after", "v").unwrap();
        clock.advance(1_000 * SECOND);
        assert_eq!(get(&db, "after").as_deref(), Some("v"));
        clock.set(1_700_000_000_000);
        db.close().unwrap();
    }
}

#[test]
fn a_keyspace_created_without_expiry_cannot_be_opened_with_it() {
    let sim = SimFs::new(8);
    let options = stable_options(&sim);
    let db = Db::open(DIR, options.clone()).unwrap();
    db.put("k", "v").unwrap();
    db.keyspace("events").unwrap().put("e", "v").unwrap();
    db.close().unwrap();
    let mut with_ttl = options.clone();
    with_ttl.ttl = Ttl::On { default: None };
    let e = Db::open(DIR, with_ttl).unwrap_err();
    assert!(matches!(e, Error::KeyspaceOptions { .. }), "{e}");
    let mut events = KeyspaceOptions::from(&options);
    events.ttl = Ttl::On { default: None };
    let mut declared = options.clone();
    declared.keyspaces.insert("events".into(), events);
    let e = Db::open(DIR, declared).unwrap_err();
    assert!(matches!(e, Error::KeyspaceOptions { .. }), "{e}");
    // And the data is as it was.
    let db = Db::open(DIR, options).unwrap();
    assert_eq!(get(&db, "k").as_deref(), Some("v"));
}

#[test]
fn a_keyspace_not_named_at_open_expires_as_it_was_created() {
    let sim = SimFs::new(9);
    let (options, clock) = expiring(&sim);
    let db = Db::open(DIR, options.clone()).unwrap();
    let mut plain = KeyspaceOptions::from(&options);
    plain.ttl = Ttl::Off;
    db.keyspace_with("plain", plain)
        .unwrap()
        .put("k", "v")
        .unwrap();
    // Created with the database's options: expiring, like the default keyspace.
    db.keyspace("cache")
        .unwrap()
        .put_with_ttl("k", "v", SECOND)
        .unwrap();
    db.close().unwrap();
    // Neither is named in the options: each opens as it was created.
    let db = Db::open(DIR, options).unwrap();
    let plain = db.keyspace("plain").unwrap();
    assert_eq!(plain.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    let e = plain.put_with_ttl("k", "w", SECOND).unwrap_err();
    assert!(
        matches!(e, Error::Limit(LimitError::TtlNotEnabled { .. })),
        "{e}"
    );
    let cache = db.keyspace("cache").unwrap();
    assert_eq!(cache.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    clock.advance(SECOND);
    assert_eq!(cache.get("k").unwrap(), None);
}
