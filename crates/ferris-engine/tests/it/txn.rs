//! Transactions: the anomalies they stop (each test fails on a database without a
//! resolver), read-your-writes, the window and the limits, keyspaces, durability, and
//! `Db::run` retrying under contention.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ferris_engine::{
    Bytes, Db, Error, Isolation, KeyRange, LimitError, ManualClock, Transaction, TxnError,
    TxnOptions, WriteOptions,
};
use ferris_fs::SimFs;

use crate::{DIR, stable_options};

fn open() -> (SimFs, Db) {
    let sim = SimFs::new(7);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    (sim, db)
}

fn number(value: Option<Bytes>) -> u64 {
    value.map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap())
}

fn text(value: Option<Bytes>) -> Option<String> {
    value.map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn keys(iter: impl Iterator<Item = ferris_engine::Result<(Bytes, Bytes)>>) -> Vec<String> {
    iter.map(|kv| String::from_utf8(kv.unwrap().0.to_vec()).unwrap())
        .collect()
}

fn serializable(db: &Db) -> Transaction {
    db.transaction().unwrap()
}

fn snapshot_isolated(db: &Db) -> Transaction {
    let options = TxnOptions::new().isolation(Isolation::Snapshot);
    db.transaction_with(options).unwrap()
}

fn conflict(result: ferris_engine::Result<u64>) -> KeyRange {
    match result {
        Err(Error::Transaction(TxnError::Conflict { range, .. })) => range,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Two deposits read the same balance and write it back: under either isolation the
/// second is refused, and nothing of it is written.
#[test]
fn lost_update_is_refused_under_both_isolations() {
    for begin in [serializable, snapshot_isolated] {
        let (_sim, db) = open();
        db.put("balance", "100").unwrap();
        let (mut a, mut b) = (begin(&db), begin(&db));
        for txn in [&mut a, &mut b] {
            let balance = number(txn.get("balance").unwrap());
            txn.put("balance", (balance + 10).to_string()).unwrap();
        }
        a.commit().unwrap();
        assert_eq!(conflict(b.commit()), KeyRange::key(0, "balance"));
        assert_eq!(number(db.get("balance").unwrap()), 110);
    }
}

/// Alice and Bob each check that the other is on call and take themselves off. Their
/// writes do not overlap: serializable refuses the second (it read what the first
/// wrote), snapshot isolation lets both through and breaks the rule.
#[test]
fn write_skew_is_caught_when_serializable_and_allowed_under_snapshot_isolation() {
    for (begin, skew_allowed) in [
        (serializable as fn(&Db) -> Transaction, false),
        (snapshot_isolated, true),
    ] {
        let (_sim, db) = open();
        db.put("on-call/alice", "yes").unwrap();
        db.put("on-call/bob", "yes").unwrap();
        let (mut alice, mut bob) = (begin(&db), begin(&db));
        for (txn, me) in [(&mut alice, "alice"), (&mut bob, "bob")] {
            let on_call = keys(txn.prefix("on-call/").unwrap()).len();
            assert_eq!(on_call, 2, "both are on call, so one may leave");
            txn.delete(format!("on-call/{me}")).unwrap();
        }
        alice.commit().unwrap();
        let second = bob.commit();
        if skew_allowed {
            second.unwrap();
            assert!(keys(db.prefix("on-call/").unwrap()).is_empty());
        } else {
            assert_eq!(conflict(second), KeyRange::prefix(0, "on-call/"));
            assert_eq!(keys(db.prefix("on-call/").unwrap()), ["on-call/bob"]);
        }
    }
}

/// A transaction totals a month's orders while another inserts one: the insert's key did
/// not exist when the range was scanned, yet the total is stale. The scan recorded its
/// whole range, so the total is refused.
#[test]
fn a_phantom_insert_into_a_scanned_range_conflicts() {
    let (_sim, db) = open();
    db.put("orders/2026-12/0001", "30").unwrap();
    db.put("orders/2026-12/0002", "12").unwrap();
    db.put("orders/2027-01/0001", "99").unwrap(); // outside the month
    let mut total = serializable(&db);
    let sum: u64 = (total.range("orders/2026-12/".."orders/2026-13").unwrap())
        .map(|kv| number(Some(kv.unwrap().1)))
        .sum();
    assert_eq!(sum, 42);
    total.put("totals/2026-12", sum.to_string()).unwrap();

    // A write outside the scanned range does not disturb it ...
    let mut outside = serializable(&db);
    outside.put("orders/2027-01/0002", "1").unwrap();
    outside.commit().unwrap();
    // ... an insert inside it does, though no key it read changed.
    let mut insert = serializable(&db);
    insert.put("orders/2026-12/0003", "8").unwrap();
    insert.commit().unwrap();
    let range = conflict(total.commit());
    assert_eq!(
        range,
        KeyRange::bounds(0, "orders/2026-12/".."orders/2026-13").unwrap()
    );
    assert_eq!(db.get("totals/2026-12").unwrap(), None);

    // A point read of a missing key protects it the same way.
    let mut absent = serializable(&db);
    assert_eq!(absent.get("flag").unwrap(), None);
    absent.put("seen", "no flag").unwrap();
    db.put("flag", "raised").unwrap();
    assert_eq!(conflict(absent.commit()), KeyRange::key(0, "flag"));
}

/// A transaction sees its own puts, overwrites and deletes in point reads and in scans
/// both ways, over data in the memtable and in tables; others see none of them until it
/// commits.
#[test]
fn reads_see_the_transactions_own_writes_in_both_directions() {
    let (_sim, db) = open();
    for key in ["a", "c", "e", "g"] {
        db.put(key, "stored").unwrap();
    }
    db.flush().unwrap();
    db.put("i", "stored").unwrap(); // in the memtable
    let mut txn = serializable(&db);
    txn.put("b", "new").unwrap();
    txn.put("c", "overwritten").unwrap();
    txn.delete("e").unwrap();
    txn.put("h", "new").unwrap();
    txn.delete("i").unwrap();
    txn.put("z", "new").unwrap();
    assert_eq!(text(txn.get("c").unwrap()).as_deref(), Some("overwritten"));
    assert_eq!(txn.get("e").unwrap(), None);
    assert_eq!(txn.get("i").unwrap(), None);
    let want = ["a", "b", "c", "g", "h", "z"];
    assert_eq!(keys(txn.range::<&str, _>(..).unwrap()), want);
    let mut backwards = keys(txn.range::<&str, _>(..).unwrap().rev());
    backwards.reverse();
    assert_eq!(backwards, want);
    assert_eq!(
        keys(txn.range("b"..="h").unwrap().rev()),
        ["h", "g", "c", "b"]
    );
    // Mixed ends meet in the middle.
    let mut both = txn.range::<&str, _>(..).unwrap();
    let (first, last) = (both.next(), both.next_back());
    assert_eq!(keys(first.into_iter().chain(last)), ["a", "z"]);
    assert_eq!(keys(both), ["b", "c", "g", "h"]);
    let (c, _) = txn.range("c"..="c").unwrap().next().unwrap().unwrap();
    assert_eq!(c, "c");
    // Nobody else sees any of it yet.
    assert_eq!(db.get("b").unwrap(), None);
    assert_eq!(keys(db.iter().unwrap()), ["a", "c", "e", "g", "i"]);
    txn.commit().unwrap();
    assert_eq!(keys(db.iter().unwrap()), want);
}

/// A transaction that only reads cannot conflict: it read one consistent snapshot, and
/// commits at its read version whatever happened since.
#[test]
fn a_read_only_transaction_never_conflicts() {
    let (_sim, db) = open();
    db.put("x", "1").unwrap();
    let mut reader = serializable(&db);
    assert_eq!(number(reader.get("x").unwrap()), 1);
    assert_eq!(keys(reader.iter_all()), ["x"]);
    db.put("x", "2").unwrap();
    db.put("y", "new").unwrap();
    // Still reads the snapshot after the writes.
    assert_eq!(number(reader.get("x").unwrap()), 1);
    let version = reader.read_version().unwrap();
    assert_eq!(reader.commit().unwrap(), version);
}

trait IterAll {
    fn iter_all(&mut self) -> ferris_engine::TxnIter;
}

impl IterAll for Transaction {
    fn iter_all(&mut self) -> ferris_engine::TxnIter {
        self.range::<&str, _>(..).unwrap()
    }
}

/// A plain write (not a transaction) made while a transaction runs conflicts with it
/// when it touches what the transaction read; snapshot reads record nothing, so a write
/// to what they read does not.
#[test]
fn plain_writes_conflict_and_snapshot_reads_do_not() {
    let (_sim, db) = open();
    let default = db.keyspace("default").unwrap();
    db.put("counter", "1").unwrap();
    db.put("hint", "1").unwrap();

    let mut txn = serializable(&db);
    let n = number(txn.get("counter").unwrap());
    txn.put("counter", (n + 1).to_string()).unwrap();
    db.put("counter", "100").unwrap();
    assert_eq!(conflict(txn.commit()), KeyRange::key(0, "counter"));

    let mut txn = serializable(&db);
    assert_eq!(number(txn.snapshot_get_in(&default, "hint").unwrap()), 1);
    assert_eq!(
        keys(txn.snapshot_range_in(&default, "h".."i").unwrap()),
        ["hint"]
    );
    txn.put("used-hint", "1").unwrap();
    db.put("hint", "2").unwrap();
    let mut batch = ferris_engine::WriteBatch::new();
    batch.delete_range("h".."i");
    db.write(batch).unwrap();
    txn.commit().unwrap();

    // A range delete conflicts with a read inside it.
    let mut txn = serializable(&db);
    assert_eq!(txn.get("counter").unwrap().as_deref(), Some(&b"100"[..]));
    txn.put("other", "x").unwrap();
    db.delete_prefix("count").unwrap();
    assert_eq!(conflict(txn.commit()), KeyRange::key(0, "counter"));
}

/// A transaction spans keyspaces atomically; the same key in two keyspaces is two keys.
#[test]
fn transactions_span_keyspaces_and_conflict_within_each() {
    let (_sim, db) = open();
    let accounts = db.keyspace("accounts").unwrap();
    let audit = db.keyspace("audit").unwrap();
    accounts.put("alice", "100").unwrap();
    let mut txn = serializable(&db);
    let balance = number(txn.get_in(&accounts, "alice").unwrap());
    txn.put_in(&accounts, "alice", (balance - 10).to_string())
        .unwrap();
    txn.put_in(&audit, "0001", "alice -10").unwrap();
    assert_eq!(
        text(txn.get_in(&audit, "0001").unwrap()).as_deref(),
        Some("alice -10")
    );
    assert_eq!(keys(txn.prefix_in(&audit, "").unwrap()), ["0001"]);
    // "alice" in the default keyspace is another key.
    db.put("alice", "unrelated").unwrap();
    txn.commit().unwrap();
    assert_eq!(number(accounts.get("alice").unwrap()), 90);
    assert_eq!(
        text(audit.get("0001").unwrap()).as_deref(),
        Some("alice -10")
    );

    let mut txn = serializable(&db);
    txn.get_in(&accounts, "alice").unwrap();
    txn.delete_in(&audit, "0001").unwrap();
    accounts.put("alice", "0").unwrap();
    assert_eq!(conflict(txn.commit()).keyspace(), accounts.id());
    assert!(audit.get("0001").unwrap().is_some());
}

/// Past the resolver's window a transaction is told it is too old, never told it does
/// not conflict; `Db::run` retries it from a new read version.
#[test]
fn a_transaction_older_than_the_window_is_too_old_and_retryable() {
    let sim = SimFs::new(3);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = stable_options(&sim);
    options.clock = clock.clone();
    let db = Db::open(DIR, options).unwrap();
    let mut slow = serializable(&db);
    slow.get("a").unwrap();
    slow.put("b", "1").unwrap();
    let mut other = serializable(&db);
    other.put("c", "1").unwrap();
    other.commit().unwrap();
    clock.advance(Duration::from_secs(6));
    let mut later = serializable(&db);
    later.put("d", "1").unwrap();
    later.commit().unwrap(); // recording it forgets the commit six seconds old
    let err = slow.commit().unwrap_err();
    assert!(
        matches!(err, Error::Transaction(TxnError::TooOld { .. })),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(db.get("b").unwrap(), None);
    let mut attempts = 0;
    db.run(|txn| {
        attempts += 1;
        txn.get("a")?;
        txn.put("b", "1")
    })
    .unwrap();
    assert_eq!((attempts, number(db.get("b").unwrap())), (1, 1));
}

/// Limits are typed errors: a key or value over the limits at the write, conflict ranges
/// over the transaction limit at commit (not retryable: retrying cannot shrink it).
#[test]
fn limits_are_typed_errors() {
    let sim = SimFs::new(4);
    let mut options = stable_options(&sim);
    options.transaction_limits.max_txn_bytes = 4 << 10;
    let db = Db::open(DIR, options).unwrap();
    let mut txn = serializable(&db);
    assert!(matches!(
        txn.put("", "v"),
        Err(Error::Limit(LimitError::EmptyKey))
    ));
    let long = vec![b'k'; ferris_engine::MAX_KEY_LEN + 1];
    assert!(matches!(
        txn.delete(&long),
        Err(Error::Limit(LimitError::KeyTooLarge { .. }))
    ));
    for i in 0..200 {
        txn.put(format!("key-{i:04}"), "v").unwrap();
    }
    let err = txn.commit().unwrap_err();
    assert!(
        matches!(err, Error::Transaction(TxnError::TooLarge { .. })),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(db.get("key-0000").unwrap(), None);
    // An error from the closure ends a run at once.
    let mut attempts = 0;
    let result: Result<(), Error> = db.run(|txn| {
        attempts += 1;
        txn.put("x", "1")?;
        Err(Error::InvalidInput("changed my mind".into()))
    });
    assert!(result.is_err());
    assert_eq!((attempts, db.get("x").unwrap()), (1, None));
}

/// A committed transaction is one WAL record: after a crash it is there whole, durable
/// as its options said; an uncommitted one leaves nothing.
#[test]
fn a_committed_transaction_survives_a_crash_whole() {
    let (sim, db) = open();
    let mut committed = serializable(&db);
    for i in 0..50 {
        committed.put(format!("k{i:02}"), "committed").unwrap();
    }
    committed.commit().unwrap();
    let mut open_txn = serializable(&db);
    open_txn.put("pending", "never committed").unwrap();
    let unsynced = TxnOptions::new().sync(false);
    let mut lazy = db.transaction_with(unsynced).unwrap();
    lazy.put("lazy", "not yet durable").unwrap();
    lazy.commit().unwrap();
    sim.crash();
    drop(open_txn);
    drop(db);
    sim.restart();
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let found = keys(db.prefix("k").unwrap());
    assert_eq!(found.len(), 50);
    assert_eq!(db.get("pending").unwrap(), None);
    // The unsynced commit shares the fate of plain unsynced writes: no later fsync
    // carried it, so the power cut took it.
    assert_eq!(db.get("lazy").unwrap(), None);
    // Synced after all with the next durable write.
    let mut lazy = db.transaction_with(unsynced).unwrap();
    lazy.put("lazy", "durable with the next sync").unwrap();
    lazy.commit().unwrap();
    db.put_opt("sync", "1", WriteOptions::new().sync(true))
        .unwrap();
    sim.crash();
    drop(db);
    sim.restart();
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    assert!(db.get("lazy").unwrap().is_some());
}

/// A database opened read-only runs read-only transactions, and refuses a commit that
/// writes.
#[test]
fn a_read_only_database_reads_in_transactions_and_refuses_commits() {
    let (sim, db) = open();
    db.put("a", "1").unwrap();
    db.close().unwrap();
    drop(db);
    let db = Db::open_read_only(DIR, stable_options(&sim)).unwrap();
    let mut txn = serializable(&db);
    assert_eq!(number(txn.get("a").unwrap()), 1);
    txn.commit().unwrap();
    let mut txn = serializable(&db);
    txn.put("b", "1").unwrap();
    assert!(matches!(txn.commit(), Err(Error::OpenedReadOnly)));
}

/// Many threads increment shared counters through `Db::run`: every increment lands
/// exactly once, however the commits conflict, group and retry.
#[test]
fn concurrent_increments_through_run_lose_nothing() {
    let (_sim, db) = open();
    let (threads, per_thread, counters) = (4, 150, 3);
    let retries = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (db, retries) = (&db, &retries);
            s.spawn(move || {
                for i in 0..per_thread {
                    let key = format!("counter-{}", (t + i) % counters);
                    let mut attempt = 0;
                    let options = TxnOptions::new().sync(i % 10 == 0).max_retries(10_000);
                    db.run_with(options, |txn| {
                        attempt += 1;
                        let n = number(txn.get(&key)?);
                        txn.put(&key, (n + 1).to_string())
                    })
                    .unwrap();
                    retries.fetch_add(attempt - 1, Ordering::Relaxed);
                }
            });
        }
    });
    let total: u64 = (0..counters)
        .map(|c| number(db.get(format!("counter-{c}")).unwrap()))
        .sum();
    assert_eq!(total, threads * per_thread);
}

/// Options reach the commit, and a transaction commits after a plain write that it did
/// not read.
#[test]
fn unrelated_writes_do_not_conflict() {
    let (_sim, db) = open();
    let mut txn = db.transaction_with(TxnOptions::default()).unwrap();
    txn.get("mine").unwrap();
    txn.put("mine", "1").unwrap();
    db.put("theirs", "1").unwrap();
    let mut other = serializable(&db);
    other.put("elsewhere", "1").unwrap();
    let first = other.commit().unwrap();
    let second = txn.commit().unwrap();
    assert!(
        second > first,
        "commit versions rise: {first} then {second}"
    );
    assert_eq!(number(db.get("mine").unwrap()), 1);
}

/// In an expiring keyspace a transaction's put takes the keyspace's default time to live
/// at commit, and its reads see expiry as of the transaction's start.
#[test]
fn transactions_write_and_read_expiring_keyspaces() {
    let sim = SimFs::new(5);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = stable_options(&sim);
    options.clock = clock.clone();
    let ttl = ferris_engine::Ttl::On {
        default: Some(Duration::from_secs(10)),
    };
    let mut sessions = ferris_engine::KeyspaceOptions::from(&options);
    sessions.ttl = ttl;
    options.keyspaces.insert("sessions".into(), sessions);
    let db = Db::open(DIR, options).unwrap();
    let sessions = db.keyspace("sessions").unwrap();
    sessions.put("old", "1").unwrap();
    let mut txn = serializable(&db);
    txn.put_in(&sessions, "new", "2").unwrap();
    assert_eq!(
        text(txn.get_in(&sessions, "new").unwrap()).as_deref(),
        Some("2")
    );
    assert_eq!(
        keys(txn.range_in(&sessions, "a".."z").unwrap()),
        ["new", "old"]
    );
    txn.commit().unwrap();
    assert_eq!(text(sessions.get("new").unwrap()).as_deref(), Some("2"));
    let mut before = serializable(&db);
    let mut lazy = serializable(&db);
    assert_eq!(
        text(before.get_in(&sessions, "old").unwrap()).as_deref(),
        Some("1")
    );
    clock.advance(Duration::from_secs(11));
    // It first read before the values expired, so it still reads them ...
    let found = keys(before.range_in(&sessions, "a".."z").unwrap());
    assert_eq!(found, ["new", "old"]);
    // ... while one begun as early that had not read yet reads as of its first read.
    assert_eq!(lazy.get_in(&sessions, "new").unwrap(), None);
    assert!(keys(lazy.range_in(&sessions, "a".."z").unwrap()).is_empty());
}

/// The read version is taken at the first read (FoundationDB's lazy read version): what
/// commits between `transaction()` and that read is seen. A transaction that only writes
/// takes none, so it can neither conflict under serializability nor be too old.
#[test]
fn the_read_version_is_taken_at_the_first_read() {
    let sim = SimFs::new(6);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut options = stable_options(&sim);
    options.clock = clock.clone();
    let db = Db::open(DIR, options).unwrap();
    let mut reader = serializable(&db);
    let mut blind = serializable(&db);
    db.put("a", "1").unwrap();
    assert_eq!(number(reader.get("a").unwrap()), 1);
    let version = reader.read_version().unwrap();
    db.put("a", "2").unwrap();
    assert_eq!(number(reader.get("a").unwrap()), 1);
    assert_eq!(reader.read_version().unwrap(), version);

    // Past the window, with commits in between, a blind write still commits.
    blind.put("b", "1").unwrap();
    for i in 0..3 {
        let mut other = serializable(&db);
        other.put(format!("x{i}"), "1").unwrap();
        other.commit().unwrap();
        clock.advance(Duration::from_secs(4));
    }
    blind.commit().unwrap();
    assert_eq!(number(db.get("b").unwrap()), 1);
}

/// The read-only anomaly (Fekete, O'Neil and O'Neil): under snapshot isolation a
/// read-only transaction can see a state no serial order produces. Checking `x` and savings
/// `y` hold 0. T2 reads both to withdraw 10 from checking, with a fee of 1 if the total
/// would go negative; T1 deposits 20 into savings and commits; T3 reads `x = 0, y = 20`;
/// T2 writes `x = -11`. Snapshot isolation commits all three; serializable refuses T2,
/// which read `y` before T1 wrote it, so T3 saw a prefix of the commit order.
#[test]
fn the_read_only_anomaly_is_refused_when_serializable() {
    for (begin, anomaly_allowed) in [
        (serializable as fn(&Db) -> Transaction, false),
        (snapshot_isolated, true),
    ] {
        let (_sim, db) = open();
        db.put("x", "0").unwrap();
        db.put("y", "0").unwrap();
        let mut t2 = begin(&db);
        let total = number(t2.get("x").unwrap()) + number(t2.get("y").unwrap());
        assert_eq!(total, 0, "so the withdrawal will charge a fee");
        let mut t1 = begin(&db);
        t1.put("y", "20").unwrap();
        t1.commit().unwrap();
        let mut t3 = begin(&db);
        let seen = (number(t3.get("x").unwrap()), number(t3.get("y").unwrap()));
        assert_eq!(seen, (0, 20));
        t3.commit().unwrap();
        t2.put("x", "-11").unwrap();
        match anomaly_allowed {
            true => {
                t2.commit().unwrap();
            }
            false => assert_eq!(conflict(t2.commit()), KeyRange::key(0, "y")),
        }
    }
}
