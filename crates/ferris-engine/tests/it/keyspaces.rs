//! Keyspaces: a model check over several of them, power cuts during creation, drops and
//! cross-keyspace batches, the errors of their misuse, owned handles and snapshots shared
//! between threads, and per-write durability.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferris_engine::{Db, Error, KeyspaceOptions, Options, WriteBatch, WriteOptions};
use ferris_fs::{FileSystem, SimFs};
use proptest::prelude::*;

use crate::{DIR, Leaving, sim_options, stable_options};

type Model = BTreeMap<String, String>;

/// Every keyspace's contents, by name, as the database has them now.
fn everything(db: &Db) -> BTreeMap<String, Model> {
    let mut all = BTreeMap::new();
    for name in db.list_keyspaces().unwrap() {
        let keyspace = db.keyspace(&name).unwrap();
        let contents = crate::dump(keyspace.iter().unwrap());
        all.insert(name, contents.into_iter().collect());
    }
    all
}

// ---------------------------------------------------------------------------------------
// Power cuts

/// One step of the history over keyspaces `default`, `a` and `b`.
#[derive(Debug, Clone)]
enum Step {
    Create(&'static str),
    Drop(&'static str),
    /// One batch: `(keyspace, key, value or delete)`.
    Batch(Vec<(&'static str, String, Option<String>)>),
    Flush(&'static str),
    Compact,
}

const STEPS: usize = 90;

fn step(i: usize) -> Step {
    let key = |n: usize| format!("key{:02}", n % 17);
    let value = |n: usize| format!("v{n}-{}", "x".repeat(n % 200));
    match i {
        0 => Step::Create("a"),
        1 => Step::Create("b"),
        40 => Step::Drop("b"),
        41 => Step::Create("b"),
        70 => Step::Drop("a"),
        _ if i % 23 == 22 => Step::Compact,
        _ if i % 11 == 10 => Step::Flush(live(i)[i % live(i).len()]),
        _ => {
            let ks = |n: usize| live(i)[n % live(i).len()];
            let mut batch = vec![(ks(i), key(i), Some(value(i)))];
            if i.is_multiple_of(3) {
                batch.push((ks(i + 1), key(i + 1), Some(value(i))));
                batch.push((ks(i + 2), key(i + 3), None));
            }
            Step::Batch(batch)
        }
    }
}

/// The keyspaces live at step `i` (other than while `b` is dropped and made again).
fn live(i: usize) -> &'static [&'static str] {
    if i > 70 {
        &["default", "b"]
    } else {
        &["default", "a", "b"]
    }
}

/// The state after the first `n` steps.
fn model_after(n: usize) -> BTreeMap<String, Model> {
    let mut all = BTreeMap::from([("default".to_string(), Model::new())]);
    for i in 0..n {
        match step(i) {
            Step::Create(name) => {
                all.entry(name.to_string()).or_default();
            }
            Step::Drop(name) => {
                all.remove(name);
            }
            Step::Batch(entries) => {
                for (ks, k, v) in entries {
                    let model = all.get_mut(ks).unwrap();
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Step::Flush(_) | Step::Compact => {}
        }
    }
    all
}

/// Runs the history until it ends or an error (the power cut) stops it; returns how many
/// steps were acknowledged.
fn run(db: &Db) -> usize {
    for i in 0..STEPS {
        let result = match step(i) {
            Step::Create(name) => db.keyspace(name).map(drop),
            Step::Drop(name) => db.drop_keyspace(name),
            Step::Batch(entries) => {
                let mut batch = WriteBatch::new();
                for (ks, k, v) in entries {
                    let id = match db.keyspace(ks) {
                        Ok(keyspace) => keyspace.id(),
                        Err(_) => return i,
                    };
                    match v {
                        Some(v) => batch.put_in(id, k, v),
                        None => batch.delete_in(id, k),
                    };
                }
                db.write(batch)
            }
            Step::Flush(name) => db.keyspace(name).and_then(|k| k.flush()),
            Step::Compact => db.compact(),
        };
        if result.is_err() {
            return i;
        }
    }
    STEPS
}

/// Power cuts spread over a history that creates and drops keyspaces and writes batches
/// across them: after each restart the keyspaces and their contents are exactly the
/// history up to the last acknowledged step or the one after it. So a batch is never half
/// applied across keyspaces, a dropped keyspace never comes back, and a created one never
/// vanishes once acknowledged.
#[test]
fn keyspaces_survive_a_power_cut_anywhere() {
    let options = |sim: &SimFs| {
        let mut options = stable_options(sim);
        options.write_buffer_size = 4 << 10;
        options
    };
    let probe = SimFs::new(0);
    let db = Db::open(DIR, options(&probe)).unwrap();
    assert_eq!(run(&db), STEPS);
    assert_eq!(everything(&db), model_after(STEPS));
    drop(db);
    let total = probe.op_count();
    let stride = (total / 150).max(1) as usize;
    let mut checked = 0;
    for cut in (0..total).step_by(stride) {
        let seed = cut ^ 0x4b53;
        let sim = SimFs::new(seed);
        sim.cut_power_after(cut);
        let acked = match Db::open(DIR, options(&sim)) {
            Ok(db) => run(&db),
            Err(_) => 0,
        };
        sim.restart();
        let db = Db::open(DIR, options(&sim))
            .unwrap_or_else(|e| panic!("cut {cut} (seed {seed}): reopen failed: {e}"));
        let got = everything(&db);
        let ok = got == model_after(acked) || (acked < STEPS && got == model_after(acked + 1));
        assert!(
            ok,
            "cut {cut} (seed {seed}): {acked} steps acknowledged, state is not that prefix: {got:?}"
        );
        checked += 1;
    }
    eprintln!("keyspace power cuts: {checked} runs over {total} operations");
    assert!(checked >= 100, "only {checked} runs");
}

// ---------------------------------------------------------------------------------------
// A model check

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u8, u16),
    Delete(usize, u8),
    /// A batch across keyspaces.
    Batch(Vec<(usize, u8, Option<u16>)>),
    Flush(usize),
    CompactAll,
    Drop(usize),
    Reopen,
    /// A snapshot of every keyspace, then writes to them, then the snapshot still reads
    /// what was there before.
    Snapshot(Vec<(usize, u8, Option<u16>)>),
}

const NAMES: [&str; 3] = ["default", "red", "blue"];

fn op() -> impl Strategy<Value = Op> {
    let (ks, k) = (0..NAMES.len(), 0u8..30);
    let write = (ks.clone(), k.clone(), proptest::option::of(any::<u16>()));
    prop_oneof![
        8 => (ks.clone(), k.clone(), any::<u16>()).prop_map(|(s, k, v)| Op::Put(s, k, v)),
        2 => (ks.clone(), k).prop_map(|(s, k)| Op::Delete(s, k)),
        3 => proptest::collection::vec(write.clone(), 1..6).prop_map(Op::Batch),
        1 => ks.clone().prop_map(Op::Flush),
        1 => Just(Op::CompactAll),
        1 => (1..NAMES.len()).prop_map(Op::Drop),
        1 => Just(Op::Reopen),
        1 => proptest::collection::vec(write, 1..10).prop_map(Op::Snapshot),
    ]
}

fn key(k: u8) -> String {
    format!("key{k:03}")
}

fn value(v: u16) -> String {
    format!("{v}-{}", "v".repeat(usize::from(v % 5) * 80))
}

/// Applies `writes` to the model and returns the batch that makes them, opening (and so
/// creating) the keyspaces they name.
fn batch_of(
    db: &Db,
    models: &mut BTreeMap<String, Model>,
    writes: &[(usize, u8, Option<u16>)],
) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for &(s, k, v) in writes {
        let id = db.keyspace(NAMES[s]).unwrap().id();
        let model = models.entry(NAMES[s].to_string()).or_default();
        match v {
            Some(v) => {
                batch.put_in(id, key(k), value(v));
                model.insert(key(k), value(v));
            }
            None => {
                batch.delete_in(id, key(k));
                model.remove(&key(k));
            }
        }
    }
    batch
}

fn run_model(ops: Vec<Op>) {
    let sim = SimFs::new(5);
    let mut options = sim_options(&sim);
    options.write_buffer_size = 4 << 10;
    let mut db = Db::open(DIR, options.clone()).unwrap();
    let mut models = BTreeMap::from([("default".to_string(), Model::new())]);
    for op in ops {
        match op {
            Op::Put(s, k, v) => {
                db.keyspace(NAMES[s])
                    .unwrap()
                    .put(key(k), value(v))
                    .unwrap();
                models
                    .entry(NAMES[s].into())
                    .or_default()
                    .insert(key(k), value(v));
            }
            Op::Delete(s, k) => {
                db.keyspace(NAMES[s]).unwrap().delete(key(k)).unwrap();
                models.entry(NAMES[s].into()).or_default().remove(&key(k));
            }
            Op::Batch(writes) => {
                let batch = batch_of(&db, &mut models, &writes);
                db.write(batch).unwrap();
            }
            Op::Flush(s) => {
                db.keyspace(NAMES[s]).unwrap().flush().unwrap();
                models.entry(NAMES[s].into()).or_default();
            }
            Op::CompactAll => db.compact().unwrap(),
            Op::Drop(s) => {
                let handle = db.keyspace(NAMES[s]).unwrap();
                db.drop_keyspace(NAMES[s]).unwrap();
                models.remove(NAMES[s]);
                assert!(matches!(
                    handle.get("x"),
                    Err(Error::KeyspaceDropped { .. })
                ));
            }
            Op::Reopen => {
                drop(db);
                db = Db::open(DIR, options.clone()).unwrap();
            }
            Op::Snapshot(writes) => {
                let before = everything(&db);
                let snapshot = db.snapshot().unwrap();
                let batch = batch_of(&db, &mut models, &writes);
                db.write(batch).unwrap();
                db.compact().unwrap();
                for (name, model) in &before {
                    let keyspace = db.keyspace(name).unwrap();
                    let seen = crate::dump(snapshot.range_in::<&[u8], _>(&keyspace, ..).unwrap());
                    assert_eq!(
                        seen,
                        model.clone().into_iter().collect::<Vec<_>>(),
                        "{name}"
                    );
                    for (k, v) in model {
                        let got = snapshot.get_in(&keyspace, k).unwrap();
                        assert_eq!(got.as_deref(), Some(v.as_bytes()), "{name} {k}");
                    }
                }
            }
        }
    }
    assert_eq!(everything(&db), models);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn keyspaces_match_a_model(ops in proptest::collection::vec(op(), 1..80)) {
        run_model(ops);
    }
}

// ---------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_keyspace_names_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    for name in ["", &"n".repeat(256), "tab\there", "line\n"] {
        let err = db.keyspace(name).unwrap_err();
        assert!(
            matches!(err, Error::InvalidKeyspaceName { .. }),
            "{name:?}: {err}"
        );
    }
    assert_eq!(db.list_keyspaces().unwrap(), ["default"]);
    // 255 bytes is fine, and so is any printable UTF-8.
    db.keyspace(&"n".repeat(255)).unwrap();
    db.keyspace("índice 📇").unwrap().put("k", "v").unwrap();
    assert!(matches!(
        db.drop_keyspace("default"),
        Err(Error::InvalidInput(_))
    ));
    // The default keyspace is reachable by name, and is the database's own.
    db.put("mine", "1").unwrap();
    assert_eq!(
        db.keyspace("default")
            .unwrap()
            .get("mine")
            .unwrap()
            .as_deref(),
        Some(&b"1"[..])
    );
}

/// A keyspace's strategy is what it is: reopening the database without naming the options
/// a keyspace was created with is refused, naming them works, and a keyspace already open
/// with other options refuses `keyspace_with` without touching anything.
#[test]
fn options_that_contradict_a_keyspace_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut tiered = KeyspaceOptions::from(&Options::default());
    tiered.compaction_strategy = Arc::new(ferris_compaction::Tiered::default());
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let events = db.keyspace_with("events", tiered.clone()).unwrap();
    events.put("e1", "x").unwrap();
    let leveled = KeyspaceOptions::from(&Options::default());
    let err = db.keyspace_with("events", leveled).unwrap_err();
    assert!(
        matches!(&err, Error::KeyspaceOptions { name, .. } if name == "events"),
        "{err}"
    );
    let mut bigger = tiered.clone();
    bigger.write_buffer_size *= 2;
    assert!(matches!(
        db.keyspace_with("events", bigger),
        Err(Error::KeyspaceOptions { .. })
    ));
    db.close().unwrap();

    let err = Db::open(dir.path(), Options::default()).unwrap_err();
    assert!(
        matches!(&err, Error::KeyspaceOptions { name, reason } if name == "events" && reason.contains("tiered")),
        "{err}"
    );
    let mut options = Options::default();
    options.keyspaces.insert("events".into(), tiered);
    let db = Db::open(dir.path(), options).unwrap();
    assert_eq!(
        db.keyspace("events").unwrap().get("e1").unwrap().as_deref(),
        Some(&b"x"[..])
    );
}

/// A batch naming a dropped keyspace fails as a whole, typed, and writes nothing; a handle
/// to it fails the same way in every method, and nothing of the other keyspaces is lost.
#[test]
fn a_dropped_keyspace_is_a_typed_error_and_its_space_is_given_back() {
    let sim = SimFs::new(3);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let (keep, gone) = (db.keyspace("keep").unwrap(), db.keyspace("gone").unwrap());
    for i in 0..200 {
        keep.put(format!("k{i}"), "x".repeat(100)).unwrap();
        gone.put(format!("k{i}"), "y".repeat(100)).unwrap();
    }
    db.flush().unwrap();
    let tables = |sim: &SimFs| {
        let names = sim.list(std::path::Path::new(DIR)).unwrap();
        names.iter().filter(|n| n.ends_with(".sst")).count()
    };
    let before = tables(&sim);
    assert!(before >= 2);
    let id = gone.id();
    let clone = gone.clone();
    db.drop_keyspace("gone").unwrap();
    assert!(
        tables(&sim) < before,
        "the dropped keyspace's tables are deleted"
    );
    for result in [
        clone.get("k1").map(drop),
        clone.put("k", "v"),
        clone.flush(),
        clone.iter().map(drop),
    ] {
        assert!(
            matches!(result, Err(Error::KeyspaceDropped { .. })),
            "{result:?}"
        );
    }
    let mut batch = WriteBatch::new();
    batch.put_in(keep.id(), "new", "1").put_in(id, "k", "v");
    assert!(matches!(db.write(batch), Err(Error::NoSuchKeyspace { id: i }) if i == id));
    assert_eq!(
        keep.get("new").unwrap(),
        None,
        "nothing of the refused batch was written"
    );
    drop(db);
    drop((keep, gone, clone));
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    assert_eq!(db.list_keyspaces().unwrap(), ["default", "keep"]);
    assert_eq!(db.keyspace("keep").unwrap().iter().unwrap().count(), 200);
    // The name can be used again, for a new and empty keyspace with a new id.
    let again = db.keyspace("gone").unwrap();
    assert!(again.id() > id);
    assert_eq!(again.iter().unwrap().count(), 0);
}

/// A keyspace written once and then left alone does not hold WAL segments back: the
/// flushes of the busy keyspace move its log number forward (it holds nothing in memory
/// then), and a keyspace whose few writes sit in an old segment is flushed with the rest.
#[test]
fn a_quiet_keyspace_does_not_hold_the_wal_back() {
    let sim = SimFs::new(4);
    let mut options = stable_options(&sim);
    options.write_buffer_size = 8 << 10;
    let db = Db::open(DIR, options).unwrap();
    let quiet = db.keyspace("quiet").unwrap();
    let busy = db.keyspace("busy").unwrap();
    quiet.put("once", "1").unwrap();
    for i in 0..3000 {
        busy.put(format!("k{i:05}"), "z".repeat(64)).unwrap();
    }
    let segments = sim
        .list(std::path::Path::new(DIR))
        .unwrap()
        .iter()
        .filter(|n| n.ends_with(".wal"))
        .count();
    assert!(segments <= 8, "{segments} WAL segments kept");
    assert_eq!(quiet.get("once").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(
        quiet.stats().unwrap().memtable_bytes,
        0,
        "flushed with the rest"
    );
}

// ---------------------------------------------------------------------------------------
// Tables of another keyspace

/// Table files record the keyspace they were written for (table format 2). Here keyspace
/// `a`'s table is copied over the default keyspace's, as a mix-up of files would leave
/// it: the manifest now lists a table of `a` under the default keyspace. `Db::verify`
/// reports it while the database runs, and the next open refuses the database rather than
/// serve `a`'s keys as the default keyspace's.
#[test]
fn a_table_listed_under_another_keyspace_is_corruption() {
    let sim = SimFs::new(19);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    let a = db.keyspace("a").unwrap();
    db.put("apple", "red").unwrap();
    db.flush().unwrap();
    a.put("apple", "green").unwrap();
    a.flush().unwrap();
    // Table numbers grow: the default keyspace's table was written first.
    let mut tables: Vec<String> = (sim.list(Path::new(DIR)).unwrap().into_iter())
        .filter(|name| name.ends_with(".sst"))
        .collect();
    tables.sort();
    let [default_table, a_table] = &tables[..] else {
        panic!("two tables, one per keyspace: {tables:?}")
    };
    let listed = Path::new(DIR).join(default_table);
    let bytes = {
        let file = sim.open(&Path::new(DIR).join(a_table)).unwrap();
        file.read_vec(0, file.len()).unwrap()
    };
    sim.remove(&listed).unwrap();
    let mut file = sim.create(&listed).unwrap();
    file.append(&bytes).unwrap();
    file.sync().unwrap();
    let reason = format!(
        "the table belongs to keyspace {} but is listed under keyspace 0",
        a.id()
    );

    let report = db.verify().unwrap();
    assert!(
        (report.problems.iter()).any(|p| p.file == listed && p.reason == reason),
        "{:#?}",
        report.problems
    );
    drop(a);
    db.close().unwrap();
    match Db::open(DIR, stable_options(&sim)) {
        Err(Error::Corruption(c)) => assert_eq!((c.file, c.reason), (listed, reason)),
        other => panic!("expected the mix-up refused as corruption, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Owned handles

/// Bank transfers between accounts in one keyspace, each with an audit record in another,
/// by threads sharing clones of one `Db`; snapshots taken on one thread are checked on
/// another. Every snapshot sees the same total, and one audit record per transfer it sees.
#[test]
fn transfers_across_two_keyspaces_stay_consistent_under_clones_and_moved_snapshots() {
    const ACCOUNTS: u64 = 16;
    const TRANSFERS: u64 = 300;
    let sim = SimFs::new(8);
    let mut options = sim_options(&sim);
    options.write_buffer_size = 16 << 10;
    let db = Db::open(DIR, options).unwrap();
    let accounts = db.keyspace("accounts").unwrap();
    let mut batch = WriteBatch::new();
    for a in 0..ACCOUNTS {
        batch.put_in(accounts.id(), format!("acct{a:02}"), "100");
    }
    db.write(batch).unwrap();
    let writers = AtomicUsize::new(2);
    let (tx, rx) = std::sync::mpsc::channel::<ferris_engine::Snapshot>();
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let db = db.clone();
            let writers = &writers;
            let tx = tx.clone();
            s.spawn(move || {
                let _leaving = Leaving(writers);
                let accounts = db.keyspace("accounts").unwrap();
                let audit = db.keyspace("audit").unwrap();
                for t in 0..TRANSFERS {
                    // Each writer owns the accounts of its parity, so its read-modify-write
                    // races nobody.
                    let from = (t * 7) % (ACCOUNTS / 2) * 2 + w;
                    let to = from ^ 2;
                    let balance = |a: u64| -> i64 {
                        let v = accounts.get(format!("acct{a:02}")).unwrap().unwrap();
                        std::str::from_utf8(&v).unwrap().parse().unwrap()
                    };
                    let (f, g) = (balance(from), balance(to));
                    let mut batch = WriteBatch::new();
                    batch.put_in(accounts.id(), format!("acct{from:02}"), (f - 5).to_string());
                    batch.put_in(accounts.id(), format!("acct{to:02}"), (g + 5).to_string());
                    batch.put_in(audit.id(), format!("w{w}-{t:05}"), format!("{from}->{to}"));
                    let sync = WriteOptions::new().sync(t % 2 == 0);
                    db.write_opt(batch, sync).unwrap();
                    if t % 50 == 0 {
                        tx.send(db.snapshot().unwrap()).unwrap();
                    }
                    if t % 97 == 0 {
                        accounts.flush().unwrap();
                    }
                }
            });
        }
        drop(tx);
        // A reader on its own thread, checking snapshots taken on the writers' threads.
        let db = db.clone();
        s.spawn(move || {
            let accounts = db.keyspace("accounts").unwrap();
            let audit = db.keyspace("audit").unwrap();
            let mut checked = 0;
            for snapshot in rx {
                let total: i64 = crate::dump(snapshot.range_in::<&[u8], _>(&accounts, ..).unwrap())
                    .iter()
                    .map(|(_, v)| v.parse::<i64>().unwrap())
                    .sum();
                let records = crate::dump(snapshot.range_in::<&[u8], _>(&audit, ..).unwrap());
                assert_eq!(total, 100 * ACCOUNTS as i64, "{} records", records.len());
                // Each writer's transfers are sequential: the snapshot sees a prefix of
                // each writer's audit log, and the balances that prefix leaves.
                for w in 0..2u64 {
                    let seen: Vec<u64> = (records.iter())
                        .filter_map(|(k, _)| k.strip_prefix(&format!("w{w}-")))
                        .map(|t| t.parse().unwrap())
                        .collect();
                    assert!(
                        seen.iter().copied().eq(0..seen.len() as u64),
                        "writer {w}: {seen:?}"
                    );
                }
                checked += 1;
            }
            assert!(checked >= 2, "{checked} snapshots checked");
        });
    });
    assert_eq!(writers.load(Ordering::Acquire), 0);
    let audit = db.keyspace("audit").unwrap();
    assert_eq!(audit.iter().unwrap().count() as u64, 2 * TRANSFERS);
}

/// The database stays open while any handle (a `Db` clone, a keyspace, a snapshot) lives,
/// and closes when the last is dropped: then it can be opened again.
#[test]
fn the_last_handle_closes_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let keyspace = db.keyspace("k").unwrap();
    let snapshot = db.snapshot().unwrap();
    let clone = db.clone();
    drop(db);
    keyspace.put("a", "1").unwrap();
    assert!(matches!(
        Db::open(dir.path(), Options::default()),
        Err(Error::Locked { .. })
    ));
    drop(clone);
    drop(keyspace);
    assert_eq!(snapshot.get("a").unwrap(), None);
    drop(snapshot);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(
        db.keyspace("k").unwrap().get("a").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    // close() on any clone closes them all.
    let clone = db.clone();
    db.close().unwrap();
    assert!(matches!(clone.get("a"), Err(Error::Closed)));
}

/// `WriteOptions::sync` chooses per write whether it is fsync'd, whatever the database's
/// default.
#[test]
fn each_write_chooses_its_durability() {
    let sim = SimFs::new(6);
    let mut options = stable_options(&sim);
    options.sync_writes = false;
    let db = Db::open(DIR, options).unwrap();
    let syncs = || db.stats().wal_syncs;
    let start = syncs();
    db.put("lazy", "1").unwrap();
    db.put_opt("lazy2", "1", WriteOptions::new()).unwrap();
    assert_eq!(syncs(), start, "the default is the database's: no fsync");
    db.put_opt("durable", "1", WriteOptions::new().sync(true))
        .unwrap();
    assert_eq!(syncs(), start + 1);
    let keyspace = db.keyspace("k").unwrap();
    keyspace
        .delete_opt("x", WriteOptions::new().sync(true))
        .unwrap();
    assert_eq!(syncs(), start + 2);
    // A power cut now keeps the durable writes, and the lazy ones written before them.
    sim.cut_power_after(0);
    drop(db);
    sim.restart();
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    assert_eq!(db.get("durable").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get("lazy").unwrap().as_deref(), Some(&b"1"[..]));
}
