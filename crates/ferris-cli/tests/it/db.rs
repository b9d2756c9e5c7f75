//! The database-level subcommands: put, get, delete, scan, stats and manifest dump, on an
//! intact and on a damaged database.

use crate::ferris;

fn db_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db").display().to_string();
    (dir, db)
}

#[test]
fn put_get_delete_and_scan_round_trip() {
    let (_tmp, db) = db_dir();
    for (k, v) in [("apple", "red"), ("pear", "green"), ("plum", "purple")] {
        let run = ferris(&["put", &db, k, v]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(ferris(&["delete", &db, "pear"]).code, 0);
    let run = ferris(&["get", &db, "apple"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "red\n"));
    let run = ferris(&["get", &db, "pear"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not set"), "{}", run.stderr);
    let run = ferris(&["scan", &db, "--reverse"]);
    assert_eq!(run.stdout, "plum\tpurple\napple\tred\n");
    let run = ferris(&["scan", &db, "--prefix", "p", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["key"], "plum");
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let run = ferris(&["scan", &db, "--from", "b", "--to", "q", "--limit", "5"]);
    assert_eq!(run.stdout, "plum\tpurple\n");
}

#[test]
fn stats_and_manifest_dump_describe_the_database() {
    let (_tmp, db) = db_dir();
    // Enough opens that recovery flushes what piled up in the WAL into a table.
    for i in 0..6 {
        assert_eq!(ferris(&["put", &db, &format!("k{i}"), "v"]).code, 0);
    }
    let run = ferris(&["stats", &db, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let stats: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        stats["levels"][0]["files"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(stats["last_sequence"], 6);
    let run = ferris(&["manifest", "dump", &db]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("current version:"), "{}", run.stdout);
    assert!(run.stdout.contains("+L0"), "{}", run.stdout);
    let run = ferris(&["manifest", "dump", &db, "--json"]);
    let dump: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(dump["edits"][0]["format_version"], 1);
    assert!(!dump["current"]["levels"][0].as_array().unwrap().is_empty());
}

#[test]
fn a_damaged_manifest_is_reported_with_exit_1() {
    let (_tmp, db) = db_dir();
    assert_eq!(ferris(&["put", &db, "k", "v"]).code, 0);
    let manifest = std::fs::read_dir(&db)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("MANIFEST-")
        })
        .unwrap();
    // Flip a bit inside the first edit's payload, past the 32-byte header and 7-byte
    // fragment header.
    crate::flip(&manifest, 40);
    let run = ferris(&["manifest", "dump", &db]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("MANIFEST-"), "{}", run.stdout);
    // Opening the database says the same, and names the file.
    let run = ferris(&["get", &db, "k"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("MANIFEST-"), "{}", run.stderr);
}

#[test]
fn commands_on_a_missing_or_foreign_directory_exit_2() {
    let (tmp, db) = db_dir();
    let run = ferris(&["get", &db, "k"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not a FerrisDB database"),
        "{}",
        run.stderr
    );
    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let run = ferris(&["scan", &tmp.path().display().to_string()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("notes.txt"), "{}", run.stderr);
    let run = ferris(&["manifest", "dump", &tmp.path().display().to_string()]);
    assert_eq!(run.code, 2);
}
