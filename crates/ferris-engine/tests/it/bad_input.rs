//! Bad input gets a typed error, never a panic.

use ferris_engine::{Db, Error, LimitError, MAX_KEY_LEN, MAX_VALUE_LEN};
use ferris_fs::FileSystem;

use crate::{DIR, open_sim, path, sim_options};

#[test]
fn keys_and_values_at_and_beyond_the_limits() {
    let (_sim, db) = open_sim(10);
    db.put(vec![1u8; MAX_KEY_LEN], "v").unwrap();
    assert!(matches!(
        db.put(vec![1u8; MAX_KEY_LEN + 1], "v"),
        Err(Error::Limit(LimitError::KeyTooLarge { .. }))
    ));
    db.put("big", vec![0u8; MAX_VALUE_LEN]).unwrap();
    assert!(matches!(
        db.put("big", vec![0u8; MAX_VALUE_LEN + 1]),
        Err(Error::Limit(LimitError::ValueTooLarge { .. }))
    ));
    assert!(matches!(
        db.put("", "v"),
        Err(Error::Limit(LimitError::EmptyKey))
    ));
    assert!(matches!(
        db.delete(""),
        Err(Error::Limit(LimitError::EmptyKey))
    ));
    assert_eq!(
        db.get(vec![1u8; MAX_KEY_LEN]).unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(db.get("big").unwrap().map(|v| v.len()), Some(MAX_VALUE_LEN));
}

#[test]
fn a_second_open_is_refused_while_the_first_holds_the_lock() {
    let (sim, db) = open_sim(11);
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    drop(db);
    Db::open(DIR, sim_options(&sim)).unwrap();
}

#[test]
fn a_second_process_is_refused_on_a_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), Default::default()).unwrap();
    let err = Db::open(dir.path(), Default::default()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("LOCK"), "{err}");
}

#[test]
fn a_directory_of_other_files_is_not_a_database() {
    let sim = ferris_fs::SimFs::new(12);
    sim.create_dir_all(std::path::Path::new(DIR)).unwrap();
    sim.create(&path("notes.txt")).unwrap();
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
}

#[test]
fn tables_without_current_are_not_guessed_at() {
    let (sim, db) = open_sim(13);
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    drop(db);
    sim.remove(&path("CURRENT")).unwrap();
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
}

#[test]
fn a_missing_directory_without_create_if_missing() {
    let sim = ferris_fs::SimFs::new(14);
    let mut options = sim_options(&sim);
    options.create_if_missing = false;
    let err = Db::open(DIR, options).unwrap_err();
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
}

/// A read-only mount (or a directory without write permission) cannot be opened, since
/// opening always writes; the error says so by name, and the database is unharmed for the
/// next open that can write. The refusal is simulated: a test running as root cannot make
/// a directory unwritable with permission bits.
#[test]
fn a_read_only_directory_is_refused_by_name_and_left_unharmed() {
    use ferris_fs::{Fault, FaultKind, Op};

    let (sim, db) = open_sim(21);
    db.put("k", "v").unwrap();
    drop(db);
    sim.inject(Fault::new(Op::Lock, FaultKind::ReadOnly).sticky(true));
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::ReadOnly { .. }), "{message}");
    assert!(
        message.contains("LOCK") && message.contains("not writable"),
        "{message}"
    );
    assert!(!err.is_corruption());

    sim.clear_faults();
    let db = Db::open(DIR, sim_options(&sim)).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// A new database under a parent that cannot be written: the same error, naming the
/// directory that could not be created.
#[test]
fn a_new_database_under_a_read_only_parent_is_refused_by_name() {
    use ferris_fs::{Fault, FaultKind, Op};

    let sim = ferris_fs::SimFs::new(22);
    sim.inject(Fault::new(Op::CreateDir, FaultKind::ReadOnly));
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(
        matches!(err, Error::ReadOnly { ref path, .. } if path == std::path::Path::new(DIR)),
        "{err}"
    );
}

#[test]
fn a_newer_format_is_refused_by_name() {
    let (sim, db) = open_sim(15);
    drop(db);
    let body = "FRSDBCUR 2 MANIFEST-000001";
    let crc = ferris_core::checksum::masked_crc32c(&[body.as_bytes()]);
    sim.remove(&path("CURRENT")).unwrap();
    let mut f = sim.create(&path("CURRENT")).unwrap();
    f.append(format!("{body} {crc:08x}\n").as_bytes()).unwrap();
    f.sync().unwrap();
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion(ferris_engine::UnsupportedVersion { found: 2, .. })
        ),
        "{message}"
    );
}

#[test]
fn a_damaged_current_is_corruption() {
    let (sim, db) = open_sim(16);
    drop(db);
    sim.remove(&path("CURRENT")).unwrap();
    let mut f = sim.create(&path("CURRENT")).unwrap();
    f.append(b"FRSDBCUR 1 MANIFEST-000009 00000000\n").unwrap();
    f.sync().unwrap();
    let err = Db::open(DIR, sim_options(&sim)).unwrap_err();
    assert!(err.is_corruption(), "{err}");
}

#[test]
fn a_failed_wal_sync_poisons_writes_until_reopen() {
    let (sim, db) = open_sim(17);
    db.put("before", "1").unwrap();
    sim.inject(
        ferris_fs::Fault::new(ferris_fs::Op::Sync, ferris_fs::FaultKind::Eio).path_contains(".wal"),
    );
    assert!(db.put("k", "v").is_err());
    let err = db.put("k2", "v").unwrap_err();
    assert!(
        matches!(err, Error::Poisoned { .. } | Error::Io(_)),
        "{err}"
    );
    sim.clear_faults();
    let db = crate::reopen(&sim, db);
    assert_eq!(db.get("before").unwrap().as_deref(), Some(&b"1"[..]));
    db.put("after", "ok").unwrap();
}

/// A flush whose manifest fsync fails must not lose the memtable's writes: the table is
/// not live, the WAL segments stay, and the reopened database has everything.
#[test]
fn a_failed_manifest_sync_during_flush_loses_nothing() {
    let (sim, db) = open_sim(18);
    for i in 0..100 {
        db.put(format!("k{i:03}"), format!("v{i}")).unwrap();
    }
    sim.inject(
        ferris_fs::Fault::new(ferris_fs::Op::Sync, ferris_fs::FaultKind::Eio)
            .path_contains("MANIFEST"),
    );
    let err = db.flush().unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    assert!(matches!(db.put("x", "y"), Err(Error::Poisoned { .. })));
    // Reads still work from what is in memory.
    assert_eq!(db.get("k050").unwrap().as_deref(), Some(&b"v50"[..]));
    sim.clear_faults();
    let db = crate::reopen(&sim, db);
    for i in 0..100 {
        assert_eq!(
            db.get(format!("k{i:03}")).unwrap().as_deref(),
            Some(format!("v{i}").as_bytes()),
        );
    }
    assert_eq!(db.get("x").unwrap(), None);
}

/// A full disk while writing a table poisons the database the same way; nothing is lost.
#[test]
fn a_full_disk_during_flush_loses_nothing() {
    let (sim, db) = open_sim(19);
    for i in 0..100 {
        db.put(format!("k{i:03}"), format!("v{i}")).unwrap();
    }
    sim.inject(
        ferris_fs::Fault::new(ferris_fs::Op::Append, ferris_fs::FaultKind::Enospc)
            .path_contains(".sst"),
    );
    assert!(db.flush().is_err());
    sim.clear_faults();
    let db = crate::reopen(&sim, db);
    assert_eq!(db.iter().unwrap().count(), 100);
}

/// Regression: a crash after a new manifest (or a table) was created under a number the
/// manifest had not yet recorded as used made every later open fail with "already
/// exists", because open handed that number out again before removing the leftover.
/// Found while writing `docs/format/manifest.md`.
#[test]
fn a_leftover_manifest_or_table_under_the_next_number_does_not_block_reopen() {
    let (sim, db) = open_sim(20);
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    drop(db);
    let dir = std::path::Path::new(DIR);
    let current = ferris_manifest::read_current(&sim, dir).unwrap().unwrap();
    let next = ferris_manifest::replay(&sim, dir, current)
        .unwrap()
        .state
        .next_file_number;
    // What crashes leave: manifests created but never made current, and tables half
    // written or written but never recorded, under the numbers open hands out next.
    let names = (next..next + 4).flat_map(|n| {
        [
            ferris_manifest::manifest_file_name(n),
            format!("{n:06}.sst.tmp"),
            format!("{n:06}.sst"),
        ]
    });
    for name in names {
        let mut f = sim.create(&path(&name)).unwrap();
        f.append(b"half written").unwrap();
        f.sync().unwrap();
    }
    sim.sync_dir(dir).unwrap();
    for _ in 0..3 {
        let db = Db::open(DIR, sim_options(&sim)).unwrap();
        assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
        db.put("more", "x").unwrap();
        db.flush().unwrap();
    }
}
