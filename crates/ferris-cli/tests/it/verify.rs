//! `ferris verify`: a clean database exits 0, a damaged one exits 1 naming the file and
//! offset (also when the damage stops the database from opening), and `--json` has a
//! stable shape.

use std::path::{Path, PathBuf};

use ferris_engine::{Db, Options};

use crate::{ferris, file_named, flip, json};

/// A database with one flushed table and a write still in the WAL; returns the table.
fn db_with_a_table(dir: &Path) -> PathBuf {
    let mut options = Options::default();
    options.idle_after = None;
    let db = Db::open(dir, options).unwrap();
    for i in 0..100 {
        db.put(format!("key{i:03}"), "value").unwrap();
    }
    db.flush().unwrap();
    db.put("unflushed", "value").unwrap();
    db.close().unwrap();
    let tables: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert_eq!(tables.len(), 1, "{tables:?}");
    tables.into_iter().next().unwrap()
}

#[test]
fn a_clean_database_exits_0_and_lists_what_was_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    db_with_a_table(&db);
    let run = ferris(&["verify", db.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for expected in ["CURRENT", "MANIFEST-", ".sst", ".wal", ": intact"] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("DAMAGED"), "{}", run.stdout);
}

#[test]
fn json_lists_files_totals_and_no_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let table = db_with_a_table(&db);
    let run = ferris(&["verify", "--json", db.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!((&v["opened"], &v["intact"]), (&true.into(), &true.into()));
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let files = v["files"].as_array().unwrap();
    assert_eq!(v["totals"]["files"], files.len());
    let kinds: Vec<_> = files.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for kind in ["current", "manifest", "table", "wal"] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    let t = files
        .iter()
        .find(|f| f["kind"] == "table")
        .expect("a table");
    assert_eq!(t["path"], table.display().to_string());
    assert_eq!(t["bytes"], std::fs::metadata(&table).unwrap().len());
    assert_eq!(t["records"], 100);
    assert!(t["blocks"].as_u64().unwrap() >= 4, "{t}");
    let bytes: u64 = files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert_eq!(v["totals"]["bytes"], bytes);
}

/// Runs `ferris verify` on `db` as text and as JSON, checks that both exit 1 and name
/// `file` as the first problem (at `offset`, where given), and returns the text output
/// and the JSON for the checks particular to each case.
fn verify_finds(db: &Path, file: &Path, offset: Option<u64>) -> (String, serde_json::Value) {
    let run = ferris(&["verify", db.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let line = match offset {
        Some(offset) => format!("DAMAGED {} at offset {offset}: ", file.display()),
        None => format!("DAMAGED {} at offset ", file.display()),
    };
    assert!(run.stdout.contains(&line), "{}", run.stdout);

    let json_run = ferris(&["verify", "--json", db.to_str().unwrap()]);
    assert_eq!(json_run.code, 1);
    let v = json(&json_run.stdout);
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["problems"][0]["file"], file.display().to_string());
    (run.stdout, v)
}

#[test]
fn a_flipped_byte_in_a_table_exits_1_naming_the_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let table = db_with_a_table(&db);
    flip(&table, 20); // inside the first data block, which starts at 0
    let (text, v) = verify_finds(&db, &table, Some(0));
    assert!(text.contains(": 1 problem"), "{text}");
    assert_eq!(v["opened"], true);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{v}");
    assert_eq!(problems[0]["offset"], 0);
    assert!(
        problems[0]["reason"].as_str().unwrap().contains("checksum"),
        "{v}"
    );
}

#[test]
fn damage_that_stops_the_open_still_exits_1_naming_the_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let table = db_with_a_table(&db);
    let len = std::fs::metadata(&table).unwrap().len();
    flip(&table, len as usize - 1); // the footer's magic: opening reads it
    let (text, v) = verify_finds(&db, &table, Some(len - 64));
    assert!(text.contains("cannot be opened"), "{text}");
    assert_eq!(v["opened"], false);
    assert_eq!(v["problems"][0]["offset"], len - 64);
}

#[test]
fn damage_in_the_wal_before_its_tail_exits_1_naming_the_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    db_with_a_table(&db);
    // The segment holding the unflushed write: sealed by the close, so damage in its
    // record has an intact seal after it and is corruption, not a torn tail.
    let segment = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a segment");
    flip(&segment, 32 + 7 + 2); // past the segment and fragment headers
    let run = ferris(&["verify", db.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let line = format!("DAMAGED {} at offset 32: ", segment.display());
    assert!(run.stdout.contains(&line), "{}", run.stdout);
}

#[test]
fn a_flipped_byte_in_current_exits_1_naming_current() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    db_with_a_table(&db);
    let current = db.join("CURRENT");
    flip(&current, 3); // inside the magic, which the line's checksum covers
    let (text, v) = verify_finds(&db, &current, Some(0));
    assert!(text.contains("cannot be opened"), "{text}");
    assert_eq!(v["opened"], false);
}

#[test]
fn a_flipped_byte_in_the_manifest_exits_1_naming_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    db_with_a_table(&db);
    let manifest = file_named(&db, "MANIFEST-");
    // Inside the first edit's payload, past the 32-byte header and 7-byte fragment
    // header: the snapshot edit every open writes, so the open cannot go on without it.
    flip(&manifest, 40);
    verify_finds(&db, &manifest, None);
}

#[test]
fn a_directory_that_is_not_a_database_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("db");
    let run = ferris(&["verify", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("not a FerrisDB database"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
