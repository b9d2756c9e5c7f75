//! The `ferris` binary, run as a user would: each subcommand on intact and damaged files,
//! text and JSON output, and exit codes.

mod db;
mod verify;
mod walkthrough;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ferris_core::range_del::{RangeTombstone, Tombstones};
use ferris_core::{InternalKey, ValueKind, WriteBatch};
use ferris_fs::{FileSystem, StdFs};
use ferris_sstable::{TableOptions, TableWriter};
use ferris_wal::{Wal, WalOptions};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ferris(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_ferris"))
        .args(args)
        .output()
        .expect("run ferris");
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn fs() -> Arc<dyn FileSystem> {
    Arc::new(StdFs::default())
}

/// A sealed segment of three batches; returns its path.
fn write_wal(dir: &Path) -> PathBuf {
    let wal = Wal::create(fs(), dir, 1, WalOptions::default()).unwrap();
    for i in 0..3u64 {
        let mut batch = WriteBatch::new();
        batch.put(format!("key{i}"), b"value").delete(b"gone");
        batch.set_seq(1 + 2 * i);
        wal.append(batch.as_bytes()).unwrap();
    }
    wal.close().unwrap();
    dir.join("000001.wal")
}

fn write_table(dir: &Path) -> PathBuf {
    write_table_with(dir, &Tombstones::default())
}

/// [`write_table`], with range tombstones too.
fn write_table_with(dir: &Path, tombstones: &Tombstones) -> PathBuf {
    let path = dir.join("000007.sst");
    let mut options = TableOptions::default();
    options.block_size = 64;
    options.keyspace = 3;
    let mut w = TableWriter::create(fs(), &path, options).unwrap();
    w.add_range_tombstones(tombstones).unwrap();
    for i in 0..20u64 {
        w.add(
            &InternalKey::new(format!("key{i:02}"), 100 - i, ValueKind::Put),
            b"v",
        )
        .unwrap();
    }
    w.finish().unwrap();
    path
}

/// The file in `dir` whose name starts with `prefix` (`"MANIFEST-"`, `"CURRENT"`).
fn file_named(dir: impl AsRef<Path>, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .unwrap_or_else(|| panic!("no file named {prefix}*"))
}

/// Parses `stdout` as JSON, showing it when it does not parse.
fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn wal_dump_lists_every_record_with_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wal(dir.path());
    let run = ferris(&["wal", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("segment 1: 3 records, sealed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("batch: seq 5, 2 entries"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches(" ok ").count(), 3, "{}", run.stdout);
    assert!(
        run.stdout.contains("@5 put    key2 = value"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("@6 delete gone"), "{}", run.stdout);
}

/// Entries outside the default keyspace show their keyspace; entries in it show none, as
/// before keyspaces.
#[test]
fn wal_dump_names_the_keyspace_of_entries_outside_the_default_one() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::create(fs(), dir.path(), 1, WalOptions::default()).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"apple", b"red")
        .put_in(3, b"plum", vec![b'p'; 100])
        .delete_in(7, b"pear")
        .delete_range("b".."c");
    batch.set_seq(10);
    wal.append(batch.as_bytes()).unwrap();
    wal.close().unwrap();
    let path = dir.path().join("000001.wal");

    let run = ferris(&["wal", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "@10 put    apple = red",
        "@11 put    keyspace 3: plum = pppppppppppppppppppppppppppppppp... (100 bytes)",
        "@12 delete keyspace 7: pear",
        "@13 delete b .. c",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{}", run.stdout);
    }
    let v = json(&ferris(&["wal", "dump", "--json", path.to_str().unwrap()]).stdout);
    assert_eq!(v["record_format"], 3);
    assert_eq!(
        v["records"][0]["batch"]["keyspaces"],
        serde_json::json!([0, 3, 7])
    );
}

/// A segment whose records are newer than this build reads is refused by name, not shown
/// as records that are not write batches.
#[test]
fn wal_dump_refuses_a_newer_record_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wal(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[24..28].copy_from_slice(&4u32.to_le_bytes());
    let crc = ferris_core::checksum::masked_crc32c(&[&bytes[..28]]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let run = ferris(&["wal", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("WAL record format version 4"),
        "{}",
        run.stderr
    );
}

#[test]
fn wal_dump_json_parses_and_reports_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wal(dir.path());
    let run = ferris(&["wal", "dump", "--json", path.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 3);
    assert_eq!(
        v["records"][0]["offset"], 32,
        "the first record follows the 32-byte header"
    );
    assert_eq!(v["sealed"], true);
    assert_eq!(v["damaged"], false);
}

#[test]
fn wal_dump_of_a_damaged_segment_names_the_offset_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_wal(dir.path());
    let second = {
        let v: serde_json::Value = serde_json::from_str(
            &ferris(&["wal", "dump", "--json", path.to_str().unwrap()]).stdout,
        )
        .unwrap();
        v["records"][1]["offset"].as_u64().unwrap() as usize
    };
    flip(&path, second + 10);
    let run = ferris(&["wal", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("DAMAGED at offset {second}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 records"),
        "the intact records are still listed: {}",
        run.stdout
    );
}

#[test]
fn a_torn_wal_tail_is_shown_but_is_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::create(fs(), dir.path(), 1, WalOptions::default()).unwrap();
    wal.append(b"whole").unwrap();
    drop(wal); // not sealed, as after a crash
    let path = dir.path().join("000001.wal");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0xab; 5]); // half a fragment header
    std::fs::write(&path, bytes).unwrap();
    let run = ferris(&["wal", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("torn tail"), "{}", run.stdout);
}

#[test]
fn table_dump_shows_properties_index_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path());
    let run = ferris(&["table", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("entries:      20 (0 tombstones)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("key00@100:Put"), "{}", run.stdout);
    assert!(run.stdout.contains("keyspace:     3\n"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("block at"),
        "blocks only with --blocks"
    );
    let run = ferris(&["table", "dump", "--blocks", path.to_str().unwrap()]);
    assert_eq!(
        run.stdout.matches("(1 bytes)").count(),
        20,
        "{}",
        run.stdout
    );
}

#[test]
fn table_dump_json_parses() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path());
    let run = ferris(&[
        "table",
        "dump",
        "--blocks",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["properties"]["entries"], 20);
    assert_eq!(v["properties"]["keyspace"], 3);
    let n_entries: usize = v["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["entries"].as_array().unwrap().len())
        .sum();
    assert_eq!(n_entries, 20);
}

#[test]
fn table_dump_lists_range_tombstones_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let tombstones = Tombstones::new([
        RangeTombstone::new("key03", Some("key09".into()), 200),
        RangeTombstone::new("key05", Some("key12".into()), 300),
        RangeTombstone::new("zz", None, 7),
    ]);
    let path = write_table_with(dir.path(), &tombstones);
    let run = ferris(&["table", "dump", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = [
        "range tombstones (5):",
        "  [key03, key05) @200",
        "  [key05, key09) @300, 200",
        "  [key09, key12) @300",
        "  [zz, (no end)) @7",
    ]
    .join("\n");
    assert!(run.stdout.contains(&listed), "{}", run.stdout);
    let run = ferris(&["table", "dump", "--json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["properties"]["range_tombstones"], 5);
    let fragments = v["range_tombstones"].as_array().unwrap();
    assert_eq!(fragments.len(), 4);
    assert_eq!(
        fragments[1],
        serde_json::json!({"start": "key05", "end": "key09", "seqs": [300, 200]})
    );
    assert_eq!(fragments[3]["end"], serde_json::Value::Null);
    // A table without any lists none, and says so in JSON.
    let other = tempfile::tempdir().unwrap();
    let plain = write_table(other.path());
    let run = ferris(&["table", "dump", plain.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("range tombstones"), "{}", run.stdout);
    let run = ferris(&["table", "dump", "--json", plain.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["properties"]["range_tombstones"], 0);
    assert_eq!(v["range_tombstones"], serde_json::json!([]));
}

#[test]
fn table_dump_of_a_damaged_table_names_the_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path());
    flip(&path, 20); // inside the first data block
    let run = ferris(&["table", "dump", "--blocks", path.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("corruption in") && run.stdout.contains("000007.sst"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("at offset 0"), "{}", run.stdout);
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("000001.wal");
    let run = ferris(&["wal", "dump", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("ferris:"), "{}", run.stderr);
    let run = ferris(&["wal", "dump", "notes.txt"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not named like a WAL segment"),
        "{}",
        run.stderr
    );
    let run = ferris(&["nonsense"]);
    assert_eq!(run.code, 2, "clap's usage error");
}
