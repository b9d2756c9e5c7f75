//! Compaction filters: what they change (the newest version no snapshot reads), what they
//! never change (what a snapshot reads), and a filter that panics.

use std::sync::Arc;

use ferris_engine::{Bytes, CompactionFilter, Db, Decision, Error, KeyspaceOptions, Options};
use ferris_fs::SimFs;

use crate::{DIR, stable_options};

/// Removes `tmp/` keys and upper-cases the values of `up/` keys.
#[derive(Debug)]
struct Tidy;

impl CompactionFilter for Tidy {
    fn name(&self) -> &str {
        "tidy"
    }

    fn filter(&self, _: usize, key: &[u8], value: &[u8]) -> Decision {
        if key.starts_with(b"tmp/") {
            Decision::Remove
        } else if key.starts_with(b"up/") {
            Decision::ChangeValue(Bytes::from(value.to_ascii_uppercase()))
        } else {
            Decision::Keep
        }
    }
}

#[derive(Debug)]
struct Panics;

impl CompactionFilter for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn filter(&self, _: usize, _: &[u8], _: &[u8]) -> Decision {
        panic!("a bug in the filter")
    }
}

fn get(db: &Db, key: &str) -> Option<Vec<u8>> {
    db.get(key).unwrap().map(|v| v.to_vec())
}

#[test]
fn a_filter_removes_and_rewrites_once_compaction_reaches_the_data_and_snapshots_keep_theirs() {
    let sim = SimFs::new(1);
    let mut options = stable_options(&sim);
    options.compaction_filter = Some(Arc::new(Tidy));
    let db = Db::open(DIR, options.clone()).unwrap();
    for i in 0..50 {
        db.put(format!("tmp/{i:02}"), "scratch").unwrap();
        db.put(format!("up/{i:02}"), "quiet").unwrap();
        db.put(format!("keep/{i:02}"), "as is").unwrap();
    }
    let snapshot = db.snapshot().unwrap();
    db.flush().unwrap();
    // A flush does not run the filter: only compactions do.
    assert_eq!(get(&db, "tmp/07").as_deref(), Some(&b"scratch"[..]));
    db.compact().unwrap();
    // The snapshot predates the compaction and reads every version it read before.
    assert_eq!(
        snapshot.get("tmp/07").unwrap().as_deref(),
        Some(&b"scratch"[..])
    );
    assert_eq!(
        snapshot.get("up/07").unwrap().as_deref(),
        Some(&b"quiet"[..])
    );
    // Those versions are what the snapshot reads, so the filter left them alone.
    assert_eq!(get(&db, "tmp/07").as_deref(), Some(&b"scratch"[..]));
    drop(snapshot);
    db.compact().unwrap();
    assert_eq!(get(&db, "tmp/07"), None);
    assert_eq!(get(&db, "up/07").as_deref(), Some(&b"QUIET"[..]));
    assert_eq!(get(&db, "keep/07").as_deref(), Some(&b"as is"[..]));
    assert_eq!(db.prefix("tmp/").unwrap().count(), 0);
    assert_eq!(db.iter().unwrap().rev().count(), 100);
    drop(db);
    let db = Db::open(DIR, options).unwrap();
    assert_eq!(get(&db, "tmp/30"), None);
    assert_eq!(get(&db, "up/30").as_deref(), Some(&b"QUIET"[..]));
}

#[test]
fn a_keyspace_runs_its_own_filter() {
    let sim = SimFs::new(2);
    let mut options = stable_options(&sim);
    let mut filtered = KeyspaceOptions::from(&options);
    filtered.compaction_filter = Some(Arc::new(Tidy));
    options.keyspaces.insert("scratch".into(), filtered.clone());
    let db = Db::open(DIR, options).unwrap();
    let scratch = db.keyspace_with("scratch", filtered).unwrap();
    db.put("tmp/a", "stays").unwrap();
    scratch.put("tmp/a", "goes").unwrap();
    db.compact().unwrap();
    assert_eq!(get(&db, "tmp/a").as_deref(), Some(&b"stays"[..]));
    assert_eq!(scratch.get("tmp/a").unwrap(), None);
    // Opening it with another filter contradicts its options.
    let other = db.keyspace_with("scratch", KeyspaceOptions::from(&Options::default()));
    assert!(
        matches!(other, Err(Error::KeyspaceOptions { .. })),
        "{other:?}"
    );
}

#[test]
fn a_panicking_filter_fails_the_compaction_and_the_data_stays() {
    let sim = SimFs::new(3);
    let mut options = stable_options(&sim);
    options.compaction_filter = Some(Arc::new(Panics));
    let db = Db::open(DIR, options).unwrap();
    for i in 0..100 {
        db.put(format!("k{i:03}"), "v").unwrap();
    }
    db.flush().unwrap();
    let e = db.compact().unwrap_err();
    assert!(
        e.root()
            .to_string()
            .contains("\"panics\" panicked: a bug in the filter"),
        "{e}: {}",
        e.root()
    );
    // Reads go on; writes are refused until the database is reopened.
    assert_eq!(get(&db, "k042").as_deref(), Some(&b"v"[..]));
    assert!(matches!(db.put("x", "y"), Err(Error::Poisoned { .. })));
    drop(db);
    let db = Db::open(DIR, stable_options(&sim)).unwrap();
    assert_eq!(db.iter().unwrap().count(), 100);
    db.compact().unwrap();
    assert_eq!(db.iter().unwrap().count(), 100);
}
