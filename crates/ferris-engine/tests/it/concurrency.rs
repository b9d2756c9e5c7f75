//! Real threads: writers, readers and snapshots at once, checking invariants.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferris_engine::{Db, FlushPriority, WriteBatch};
use ferris_fs::SimFs;
use rstest::rstest;

use crate::{DIR, Leaving, sim_options};

/// Eight accounts start with 100 each; writers move amounts between them in atomic
/// batches while readers check, through snapshots, that the total never changes, and a
/// third thread flushes and compacts all along.
///
/// Each writer makes 300 transfers; `FERRIS_STRESS_SECS=N` makes them transfer for N
/// seconds instead, for a longer stress run
/// (`FERRIS_STRESS_SECS=600 cargo test -p ferris-engine --test it transfers`).
///
/// Both with compactions stepping aside for every flush and with them never doing so.
#[rstest]
#[case::compactions_wait_for_flushes(FlushPriority::Always)]
#[case::compactions_never_wait(FlushPriority::Never)]
fn transfers_keep_the_total_through_flushes_and_compactions(#[case] priority: FlushPriority) {
    let sim = SimFs::new(20);
    let mut options = sim_options(&sim);
    options.flush_priority = priority;
    let db = Db::open(DIR, options).unwrap();
    let accounts = 8;
    let mut batch = WriteBatch::new();
    for a in 0..accounts {
        batch.put(format!("acct{a}"), 100u64.to_le_bytes());
    }
    db.write(batch).unwrap();
    let balance =
        |v: Option<ferris_engine::Bytes>| u64::from_le_bytes(v.unwrap()[..8].try_into().unwrap());
    let deadline = std::env::var("FERRIS_STRESS_SECS")
        .ok()
        .and_then(|secs| secs.parse::<u64>().ok())
        .map(|secs| Instant::now() + Duration::from_secs(secs));
    let more = |i: u64| match deadline {
        Some(deadline) => Instant::now() < deadline,
        None => i < 300,
    };
    let writers_left = AtomicUsize::new(3);
    let transfer_lock = std::sync::Mutex::new(());
    std::thread::scope(|s| {
        for w in 0..3u64 {
            let (db, lock, left, more) = (&db, &transfer_lock, &writers_left, &more);
            s.spawn(move || {
                let _leaving = Leaving(left);
                let mut i = 0u64;
                while more(i) {
                    i += 1;
                    let from = (w * 7 + i) % accounts;
                    let to = (from + 1 + i % 5) % accounts;
                    // Read-modify-write needs the reads and the write together.
                    let _guard = lock.lock().unwrap();
                    let (a, b) = (
                        balance(db.get(format!("acct{from}")).unwrap()),
                        balance(db.get(format!("acct{to}")).unwrap()),
                    );
                    let amount = a.min(i % 17);
                    let mut batch = WriteBatch::new();
                    batch.put(format!("acct{from}"), (a - amount).to_le_bytes());
                    batch.put(format!("acct{to}"), (b + amount).to_le_bytes());
                    // Padding makes memtables fill, so flushes run during the test.
                    batch.put(format!("pad{w}-{i}"), vec![0u8; 200]);
                    db.write(batch).unwrap();
                }
            });
        }
        for _ in 0..2 {
            let (db, left) = (&db, &writers_left);
            s.spawn(move || {
                let mut checks = 0;
                while left.load(Ordering::Acquire) > 0 || checks < 10 {
                    let snap = db.snapshot().unwrap();
                    let by_get: u64 = (0..accounts)
                        .map(|a| balance(snap.get(format!("acct{a}")).unwrap()))
                        .sum();
                    let by_scan: u64 = snap
                        .prefix("acct")
                        .unwrap()
                        .map(|kv| u64::from_le_bytes(kv.unwrap().1[..8].try_into().unwrap()))
                        .sum();
                    assert_eq!(by_get, 100 * accounts);
                    assert_eq!(by_scan, 100 * accounts);
                    checks += 1;
                }
            });
        }
        s.spawn(|| {
            // At least a few rounds, and on until the writers are done.
            let mut rounds = 0;
            while rounds < 3 || writers_left.load(Ordering::Acquire) > 0 {
                db.flush().unwrap();
                db.compact().unwrap();
                rounds += 1;
            }
        });
    });
    let stats = db.stats();
    assert!(stats.flushes >= 1 && stats.compactions >= 1, "{stats:?}");
}

/// Concurrent writers each write their own keys; afterwards every write is readable, and
/// sequence numbers were never reused (the count of entries matches). Durable writers
/// sleep while another leads; writers without sync yield the processor first.
#[rstest]
#[case::durable(true)]
#[case::without_sync(false)]
fn concurrent_writers_lose_nothing(#[case] sync_writes: bool) {
    let sim = SimFs::new(21);
    let mut options = sim_options(&sim);
    options.sync_writes = sync_writes;
    let db = Db::open(DIR, options).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let db = &db;
            s.spawn(move || {
                for i in 0..250 {
                    db.put(format!("t{t}-{i:04}"), vec![t as u8; 64]).unwrap();
                }
            });
        }
    });
    assert_eq!(db.iter().unwrap().count(), 1000);
    assert_eq!(db.stats().last_sequence, 1000);
    let db = crate::reopen(&sim, db);
    assert_eq!(db.iter().unwrap().count(), 1000);
}
