//! The database-level subcommands: put, get, delete, scan, stats and manifest dump, on an
//! intact and on a damaged database.

use std::path::Path;

use ferris_manifest::{KeyspaceDef, LevelState, ManifestWriter, VersionEdit, write_current};

use crate::{ferris, file_named, flip, json};

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
fn put_with_a_ttl_expires_and_needs_an_expiring_database() {
    let (_tmp, db) = db_dir();
    // A database this command creates expires values.
    let run = ferris(&["put", "--json", "--ttl", "1", &db, "session", "alice"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run.stdout)["ttl_secs"], 1);
    assert_eq!(ferris(&["put", &db, "user", "bob"]).code, 0);
    let run = ferris(&["get", &db, "session"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "alice\n"),
        "{}",
        run.stderr
    );
    let run = ferris(&["manifest", "dump", "--json", &db]);
    assert_eq!(
        json(&run.stdout)["current"]["keyspaces"][0]["expiring"],
        true
    );
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert_eq!(ferris(&["get", &db, "session"]).code, 1, "expired");
    assert_eq!(ferris(&["scan", &db]).stdout, "user\tbob\n");
    // One created without expiry refuses a time to live, and keeps its data.
    let (_tmp, plain) = db_dir();
    assert_eq!(ferris(&["put", &plain, "k", "v"]).code, 0);
    let run = ferris(&["put", "--ttl", "5", &plain, "k", "w"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("do not expire"), "{}", run.stderr);
    assert_eq!(ferris(&["get", &plain, "k"]).stdout, "v\n");
}

#[test]
fn delete_range_removes_a_prefix_or_a_range_with_one_write() {
    let (_tmp, db) = db_dir();
    for k in ["a1", "a2", "b1", "b2", "c1"] {
        assert_eq!(ferris(&["put", &db, k, "v"]).code, 0);
    }
    let run = ferris(&["delete-range", &db, "--prefix", "a"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = ferris(&["delete-range", "--json", &db, "--from", "b2", "--to", "c2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(
        (&v["op"], &v["from"], &v["seq"]),
        (&"delete_range".into(), &"b2".into(), &7.into())
    );
    assert_eq!(ferris(&["scan", &db]).stdout, "b1\tv\n");
    // No range at all is refused by the parser; an empty one by the database.
    assert_ne!(ferris(&["delete-range", &db]).code, 0);
    let run = ferris(&["delete-range", &db, "--from", "z", "--to", "a"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("at least one key"), "{}", run.stderr);
}

#[test]
fn get_put_and_delete_print_json_with_json() {
    let (_tmp, db) = db_dir();
    let run = ferris(&["put", "--json", &db, "apple", "red"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(
        (&v["ok"], &v["op"], &v["key"]),
        (&true.into(), &"put".into(), &"apple".into())
    );
    assert_eq!(v["seq"], 1, "the first write of a new database");
    let run = ferris(&["get", "--json", &db, "apple"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(
        (&v["key"], &v["found"], &v["value"]),
        (&"apple".into(), &true.into(), &"red".into())
    );
    let run = ferris(&["delete", "--json", &db, "apple"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(
        (&v["ok"], &v["op"], &v["seq"]),
        (&true.into(), &"delete".into(), &2.into())
    );
    // A missing key is still exit 1, and says so in the JSON.
    let run = ferris(&["get", "--json", &db, "apple"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!(
        (&v["found"], &v["value"]),
        (&false.into(), &serde_json::Value::Null)
    );
    // Without --json, put and delete print nothing on success.
    assert_eq!(ferris(&["put", &db, "pear", "green"]).stdout, "");
}

#[test]
fn json_escapes_bytes_that_are_not_printable_text_as_scan_does() {
    let (_tmp, db) = db_dir();
    assert_eq!(ferris(&["put", &db, "tab\tkey", "line\nbreak"]).code, 0);
    let key = "tab\tkey";
    let get = json(&ferris(&["get", "--json", &db, key]).stdout);
    let scan = json(&ferris(&["scan", "--json", &db]).stdout);
    assert_eq!(get["value"], r"line\nbreak", "escaped, as scan escapes it");
    assert_eq!(get["value"], scan[0]["value"]);
    assert_eq!(get["key"], scan[0]["key"]);
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
    assert_eq!(
        dump["edits"][0]["format_version"],
        ferris_manifest::FORMAT_VERSION
    );
    let default = &dump["current"]["keyspaces"][0];
    assert_eq!(default["name"], "default");
    assert_eq!(default["expiring"], false);
    assert!(!default["levels"][0].as_array().unwrap().is_empty());
}

/// A keyspace whose values carry an expiry time says so in the dump, in its creation and
/// in the current version; one whose values do not says nothing in text and `false` in
/// JSON. The engine does not create expiring keyspaces yet, so the manifest is written
/// directly.
#[test]
fn manifest_dump_shows_which_keyspaces_expire() {
    let (_tmp, db) = db_dir();
    let dir = Path::new(&db);
    let fs = crate::fs();
    fs.create_dir_all(dir).unwrap();
    let def = |id, name: &str, expiring| KeyspaceDef {
        id,
        name: name.into(),
        table_format: "sstable".into(),
        strategy: "leveled".into(),
        expiring,
    };
    let mut state = LevelState::default();
    let create = VersionEdit {
        created: vec![def(0, "default", false), def(1, "sessions", true)],
        ..VersionEdit::default()
    };
    state.apply(&create).unwrap();
    ManifestWriter::create(&fs, dir, 2, &state.snapshot()).unwrap();
    write_current(&*fs, dir, 2).unwrap();

    let run = ferris(&["manifest", "dump", &db]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for shown in [
        r#"+keyspace 0 "default" (sstable, leveled),"#,
        r#"+keyspace 1 "sessions" (sstable, leveled, expiring)"#,
        r#"keyspace 0 "default" (sstable, leveled), log number 0"#,
        r#"keyspace 1 "sessions" (sstable, leveled, expiring), log number 0"#,
    ] {
        assert!(run.stdout.contains(shown), "{shown}: {}", run.stdout);
    }
    let dump = json(&ferris(&["manifest", "dump", &db, "--json"]).stdout);
    let created = &dump["edits"][0]["created"];
    let current = &dump["current"]["keyspaces"];
    for (i, expiring) in [(0, false), (1, true)] {
        assert_eq!(created[i]["expiring"], expiring, "{dump}");
        assert_eq!(current[i]["expiring"], expiring, "{dump}");
    }
}

#[test]
fn stats_text_shows_levels_sizes_and_amplification() {
    let (_tmp, db) = db_dir();
    // Six opens, each starting a WAL segment: the open that finds four or more to replay
    // flushes them into a level-0 table.
    for i in 0..6 {
        assert_eq!(ferris(&["put", &db, &format!("k{i}"), "v"]).code, 0);
    }
    let v = json(&ferris(&["stats", "--json", &db]).stdout);
    let l0 = v["levels"][0]["files"].as_u64().unwrap();
    assert!(l0 >= 1, "{v}");
    assert_eq!(v["read_amplification"], l0, "only level 0 has tables: {v}");
    assert_eq!(v["space_amplification"], 1.0, "{v}");
    assert_eq!(v["write_amplification"], serde_json::Value::Null, "{v}");

    let run = ferris(&["stats", &db]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("level  files        bytes\n"),
        "{}",
        run.stdout
    );
    let table_bytes = v["table_bytes"].as_u64().unwrap();
    for expected in [
        format!("L0     {l0:>5} {table_bytes:>12}\n"),
        format!("tables: {table_bytes} bytes;"),
        "last sequence number: 6\n".to_string(),
        "space amplification: 1.00 (estimate: every table is in L0".to_string(),
        format!(
            "read amplification: {l0} (tables a point lookup may probe: {l0} in L0 + one in each of 0 deeper"
        ),
        "write amplification: unknown".to_string(),
    ] {
        assert!(
            run.stdout.contains(&expected),
            "{expected:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn stats_after_a_compaction_divides_by_the_deepest_level() {
    let (_tmp, db) = db_dir();
    {
        let dir = std::path::Path::new(&db);
        let mut options = ferris_engine::Options::default();
        options.idle_after = None;
        let db = ferris_engine::Db::open(dir, options).unwrap();
        for i in 0..100 {
            db.put(format!("key{i:03}"), "value").unwrap();
        }
        db.compact().unwrap();
        // A second table above the compacted one: copies of ten keys.
        for i in 0..10 {
            db.put(format!("key{i:03}"), "newer").unwrap();
        }
        db.flush().unwrap();
        db.close().unwrap();
    }
    let v = json(&ferris(&["stats", "--json", &db]).stdout);
    let levels = v["levels"].as_array().unwrap();
    let deepest = levels.iter().rposition(|l| l["files"] != 0).unwrap();
    assert!(deepest > 0, "the compaction moved the keys down: {v}");
    let bytes = |l: &serde_json::Value| l["bytes"].as_u64().unwrap() as f64;
    let total: f64 = levels.iter().map(bytes).sum();
    // Within a few ulps: serde_json (without its `float_roundtrip` feature) may parse
    // the printed figure back one ulp off, as it does for 2398 / 2051.
    let space = v["space_amplification"].as_f64().unwrap();
    let want = total / bytes(&levels[deepest]);
    assert!((space - want).abs() <= want * 4.0 * f64::EPSILON, "{v}");
    assert!(v["space_amplification"].as_f64().unwrap() > 1.0, "{v}");
    assert_eq!(
        v["read_amplification"], 2,
        "one table in L0, one level below: {v}"
    );
    let run = ferris(&["stats", &db]);
    let expected = format!("/ bytes of L{deepest}, the deepest non-empty level)");
    assert!(run.stdout.contains(&expected), "{}", run.stdout);
}

#[test]
fn stats_on_a_damaged_database_exits_2_naming_the_file() {
    let (_tmp, db) = db_dir();
    assert_eq!(ferris(&["put", &db, "k", "v"]).code, 0);
    let current = std::path::Path::new(&db).join("CURRENT");
    flip(&current, 3);
    for args in [vec!["stats", &db], vec!["stats", "--json", &db]] {
        let run = ferris(&args);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert_eq!(
            run.stderr.matches("corruption in").count(),
            1,
            "the cause is said once: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&current.display().to_string()),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_damaged_manifest_is_reported_with_exit_1() {
    let (_tmp, db) = db_dir();
    assert_eq!(ferris(&["put", &db, "k", "v"]).code, 0);
    let manifest = file_named(&db, "MANIFEST-");
    // Flip a bit inside the first edit's payload, past the 32-byte header and 7-byte
    // fragment header.
    flip(&manifest, 40);
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

/// A reader that stops early (`ferris scan DIR | head -1`) closes the pipe: the scan ends
/// quietly with exit 141 (a shell's status for a process `SIGPIPE` ended), not with a
/// panic about a failed print, and not with 0, since it did not finish.
#[test]
fn a_scan_whose_reader_stops_early_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let (_tmp, db) = db_dir();
    let d = ferris_engine::Db::open(&db, ferris_engine::Options::default()).unwrap();
    let mut batch = ferris_core::WriteBatch::new();
    for i in 0..20_000u32 {
        batch.put(
            format!("key{i:06}"),
            b"a value long enough to fill the pipe",
        );
    }
    d.write(batch).unwrap();
    d.close().unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ferris"))
        .args(["scan", &db])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "key000000\ta value long enough to fill the pipe\n");
    // The reader is dropped here: the rest of the scan meets a closed pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn checkpoint_writes_a_copy_that_the_other_commands_open() {
    let (tmp, db) = db_dir();
    for (k, v) in [("apple", "red"), ("pear", "green")] {
        assert_eq!(ferris(&["put", &db, k, v]).code, 0);
    }
    let target = tmp.path().join("backup").display().to_string();
    let run = ferris(&["checkpoint", "--json", &db, &target]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = json(&run.stdout);
    assert_eq!((&v["ok"], &v["seq"]), (&true.into(), &2.into()));
    assert_eq!(ferris(&["put", &db, "plum", "purple"]).code, 0);
    let run = ferris(&["scan", &target]);
    assert_eq!(run.stdout, "apple\tred\npear\tgreen\n");
    // A second checkpoint into the same, now full, directory is refused.
    let run = ferris(&["checkpoint", &db, &target]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not empty"), "{}", run.stderr);
}

/// The commands that only read open the database read-only: they work while another
/// process (here, this test) has it open for writing, see what it has written, and leave
/// every file as it was; the commands that write are refused by the lock.
#[test]
fn read_commands_work_on_a_database_held_open_for_writing() {
    let (_tmp, db) = db_dir();
    let mut options = ferris_engine::Options::default();
    // Small, so the writer has tables as well as WAL-only writes.
    options.write_buffer_size = 4 << 10;
    // The files must not change under the check below but by a command: no idle flush
    // (the commands may take longer than `idle_after` on a loaded machine), and no
    // compaction left to run.
    options.idle_after = None;
    let writer = ferris_engine::Db::open(&db, options).unwrap();
    for i in 0..200 {
        writer.put(format!("k{i:03}"), "x".repeat(50)).unwrap();
    }
    writer.compact().unwrap();
    writer.put("apple", "red").unwrap();
    let listing = |dir: &str| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        files.sort();
        files
    };
    let before = listing(&db);

    let run = ferris(&["get", &db, "apple"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "red\n"),
        "{}",
        run.stderr
    );
    let run = ferris(&["scan", &db, "--prefix", "k", "--limit", "3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 3);
    let run = ferris(&["stats", &db, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json(&run.stdout)["last_sequence"], 201);
    let run = ferris(&["verify", &db]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("intact"), "{}", run.stdout);
    let run = ferris(&["manifest", "dump", &db]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(listing(&db), before, "a read-only command changed a file");

    let run = ferris(&["put", &db, "k", "v"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("locked"), "{}", run.stderr);
    // What the writer does next, the next command sees.
    writer.put("apple", "green").unwrap();
    let run = ferris(&["get", &db, "apple"]);
    assert_eq!(run.stdout, "green\n");
}
