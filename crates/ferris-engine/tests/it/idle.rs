//! Idle work (`Options::idle_after`): once writes stop, the memtable is flushed and level 0
//! merged into level 1; writes arriving meanwhile, and closing meanwhile, are safe.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferris_engine::{Db, Options, Stats, WriteBatch};
use ferris_fs::{FileSystem, SimFs};

use crate::{DIR, Leaving, sim_options, wait_for};

fn idle_options(sim: &SimFs, idle_after: Option<Duration>) -> Options {
    let mut options = sim_options(sim);
    options.idle_after = idle_after;
    options
}

type Model = BTreeMap<String, String>;

/// Overwrites of 100 keys until two memtables have been frozen, then a few more: two
/// level-0 tables and a memtable, unless idle work already ran. Flushing that memtable
/// makes three tables, still below the trigger of four, so only an idle compaction
/// merges them. Returns what the database should hold.
fn fill(db: &Db) -> Model {
    let mut model = Model::new();
    let frozen = |s: Stats| s.flushes + s.immutable_memtables as u64;
    let mut i = 0;
    let mut more = 10;
    while more > 0 {
        let (key, value) = (
            format!("key{:03}", i % 100),
            format!("{i}-{}", "v".repeat(100)),
        );
        db.put(&key, &value).unwrap();
        model.insert(key, value);
        i += 1;
        if frozen(db.stats()) >= 2 {
            more -= 1;
        }
    }
    model
}

fn check_contents(db: &Db, model: &Model) {
    for (key, value) in model {
        assert_eq!(
            db.get(key).unwrap().as_deref(),
            Some(value.as_bytes()),
            "{key}"
        );
    }
    let got: Model = crate::dump(db.iter().unwrap()).into_iter().collect();
    assert!(got == *model, "a scan disagrees with the model");
}

fn wal_segments(sim: &SimFs) -> usize {
    sim.list(std::path::Path::new(DIR))
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".wal"))
        .count()
}

/// Idle work for the last write is done: nothing is left in memtables or level 0.
fn tidy(stats: &Stats) -> bool {
    stats.memtable_bytes == 0 && stats.immutable_memtables == 0 && stats.levels[0].files == 0
}

#[test]
fn an_idle_database_flushes_its_memtable_and_merges_level0_into_level1() {
    let sim = SimFs::new(40);
    let db = Db::open(DIR, idle_options(&sim, Some(Duration::from_millis(50)))).unwrap();
    let mut model = fill(&db);
    let before = db.stats();
    wait_for("idle work", || tidy(&db.stats()));
    let after = db.stats();
    assert!(after.idle_flushes >= 1, "{before:?}\n{after:?}");
    assert!(after.idle_compactions >= 1, "{before:?}\n{after:?}");
    assert!(after.levels[1].files >= 1, "{after:?}");
    assert_eq!(after.last_sequence, before.last_sequence);
    // The flush retired every segment but the fresh one the freeze started.
    assert_eq!(wal_segments(&sim), 1);
    check_contents(&db, &model);
    // New writes make the database busy, then idle again: the work is done once more.
    db.put("key000", "again").unwrap();
    model.insert("key000".into(), "again".into());
    wait_for("idle work after a new write", || {
        let s = db.stats();
        tidy(&s) && s.idle_flushes > after.idle_flushes
    });
    assert_eq!(db.get("key000").unwrap().as_deref(), Some(&b"again"[..]));
    drop(db);
    let db = Db::open(DIR, idle_options(&sim, None)).unwrap();
    check_contents(&db, &model);
}

/// With `idle_after: None` nothing happens however long the database is quiet. "However
/// long" is measured by a twin database with idle work on, on the same workload: by the
/// time the twin has finished its idle work, the first has had every chance to start.
#[test]
fn no_idle_work_happens_when_it_is_off() {
    let (quiet_sim, twin_sim) = (SimFs::new(41), SimFs::new(41));
    let quiet = Db::open(DIR, idle_options(&quiet_sim, None)).unwrap();
    let twin = Db::open(
        DIR,
        idle_options(&twin_sim, Some(Duration::from_millis(10))),
    )
    .unwrap();
    let model = fill(&quiet);
    // The flushes of the memtables `fill` froze finish in the background.
    wait_for("the flushes", || quiet.stats().immutable_memtables == 0);
    let before = quiet.stats();
    fill(&twin);
    wait_for("the twin's idle work", || tidy(&twin.stats()));
    let after = quiet.stats();
    assert!(
        before.levels[0].files > 0 && before.memtable_bytes > 0,
        "{before:?}"
    );
    assert_eq!(after, before);
    assert_eq!((after.idle_flushes, after.idle_compactions), (0, 0));
    check_contents(&quiet, &model);
}

/// A writer writes a round of every key as one batch, then waits just until idle work has
/// begun and writes the next round, so writes keep landing in the middle of idle flushes
/// and compactions. A reader checks throughout that every snapshot sees a whole round.
///
/// Regression: the writer used to read the idle-flush count *after* writing a round and
/// wait for it to grow. On a loaded machine the idle thread could begin the work for that
/// round in between, and idle work is done once per sequence number, so the count never
/// grew again: the writer gave up after a minute, and the reader, waiting for a flag the
/// panicking writer never cleared, spun until CI's time ran out. The writer now waits for
/// the memtable to be frozen, and counts itself out however it ends ([`Leaving`]).
#[test]
fn writes_during_idle_work_stay_atomic_and_lose_nothing() {
    const ROUNDS: u32 = 15;
    let sim = SimFs::new(42);
    let db = Db::open(DIR, idle_options(&sim, Some(Duration::from_millis(1)))).unwrap();
    let round = |r: u32| {
        let mut batch = WriteBatch::new();
        for k in 0..60 {
            batch.put(format!("k{k:02}"), format!("{r:04}{}", "r".repeat(150)));
        }
        batch
    };
    // Nothing but the idle thread freezes the memtable here, so once the round just
    // written has left the active memtable, idle work has begun: this round's own, or
    // the previous round's freeze, still queued, which took this round with it.
    let write_and_wait_for_idle_work = |r: u32| {
        db.write(round(r)).unwrap();
        wait_for("idle work to begin", || db.stats().memtable_bytes == 0);
    };
    write_and_wait_for_idle_work(0);
    let writing = AtomicUsize::new(1);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _leaving = Leaving(&writing);
            for r in 1..=ROUNDS {
                write_and_wait_for_idle_work(r);
            }
        });
        s.spawn(|| {
            let mut checks = 0;
            while writing.load(Ordering::Acquire) > 0 || checks < 10 {
                let snap = db.snapshot().unwrap();
                let rounds: Vec<String> = snap
                    .iter()
                    .unwrap()
                    .map(|kv| String::from_utf8(kv.unwrap().1[..4].to_vec()).unwrap())
                    .collect();
                assert_eq!(rounds.len(), 60);
                assert!(rounds.iter().all(|r| *r == rounds[0]), "{rounds:?}");
                checks += 1;
            }
        });
    });
    wait_for("the last idle work", || tidy(&db.stats()));
    let stats = db.stats();
    // Round 0 had no freeze before it to be swept up by, so its idle work was counted;
    // how many later rounds were counted depends on the race each one ran.
    assert!(stats.idle_flushes >= 1, "{stats:?}");
    let last = format!("{ROUNDS:04}");
    for kv in db.iter().unwrap() {
        assert!(kv.unwrap().1.starts_with(last.as_bytes()));
    }
}

/// Closing while idle work runs neither hangs nor loses anything: the flush or compaction
/// under way is finished or abandoned, and the next open finds every write.
#[test]
fn closing_during_idle_work_does_not_hang() {
    for seed in 43..46 {
        let sim = SimFs::new(seed);
        let db = Db::open(DIR, idle_options(&sim, Some(Duration::from_millis(1)))).unwrap();
        let model = fill(&db);
        // `fill` leaves writes in the memtable: once it is empty, the idle thread has
        // frozen it, and its flush (counted only when done) or the compaction after runs.
        wait_for("idle work to begin", || db.stats().memtable_bytes == 0);
        db.close().unwrap();
        drop(db);
        let db = Db::open(DIR, idle_options(&sim, None)).unwrap();
        check_contents(&db, &model);
    }
}
