//! Format stability: a table of every released format version is kept in
//! `tests/golden/`. This build must read each back exactly, and must still write the
//! current version's (`v3.mtb`, with range tombstones) byte for byte. It writes version 3
//! only, so `v1.mtb` and `v2.mtb` are pinned by what they read back: the entries and
//! properties of the same table written today without range tombstones (in the default
//! keyspace for version 1). Regenerating the current file is a deliberate act, for
//! a new format version (keep the old file, which must still read back):
//! `FERRIS_BLESS=1 cargo test -p ferris-minitable golden`.

use std::path::PathBuf;

use ferris_core::range_del::Tombstones;
use ferris_core::{DEFAULT_KEYSPACE, Lookup};
use ferris_table::ReadOptions;

use crate::{
    entries, open, options, put_table, range_tombstones, scan, sim, table_bytes, write_with,
};

/// The keyspace the version 2 and 3 golden tables are written for: not the default, so
/// that the field is seen to be recorded.
const GOLDEN_KEYSPACE: u32 = 7;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// What this build writes for 30 keys of 2 versions in 256-byte blocks, in `keyspace`,
/// with `tombstones`.
fn write_today(keyspace: u32, tombstones: &Tombstones) -> Vec<u8> {
    let (_, fs) = sim();
    let mut options = options(256);
    options.keyspace = keyspace;
    write_with(&fs, &entries(30, 2), tombstones, &options).unwrap();
    table_bytes(&fs)
}

/// Opens `bytes` as a table, reads it whole, verifies it and checks it holds
/// `tombstones`.
fn read_back(bytes: &[u8], tombstones: &Tombstones) -> ferris_table::TableProperties {
    let fs = put_table(bytes);
    let table = open(&fs, &ReadOptions::default()).unwrap();
    assert_eq!(scan(&table).unwrap(), entries(30, 2));
    assert_eq!(*table.range_tombstones(), *tombstones);
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(check.bytes, bytes.len() as u64);
    table.properties().clone()
}

#[test]
fn the_v3_golden_table_reads_back_and_is_still_what_the_writer_writes() {
    let today = write_today(GOLDEN_KEYSPACE, &range_tombstones());
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path("v3.mtb"), &today).unwrap();
    }
    let golden =
        std::fs::read(golden_path("v3.mtb")).expect("golden file (bless with FERRIS_BLESS=1)");
    let properties = read_back(&golden, &range_tombstones());
    assert_eq!(properties.keyspace, GOLDEN_KEYSPACE);
    assert_eq!(properties.range_tombstones, 5);
    // key000004@401,402 lie under the tombstone at 450, seen from snapshot 450 on;
    // key000005@501,502 under the one at 1000 only.
    let table = open(&put_table(&golden), &ReadOptions::default()).unwrap();
    let get = |key: &str, snapshot| table.get(key.as_bytes(), snapshot).unwrap();
    assert_eq!(get("key000004", 450), Some(Lookup::Deleted));
    assert!(matches!(get("key000004", 449), Some(Lookup::Value(_))));
    assert!(matches!(get("key000005", 999), Some(Lookup::Value(_))));
    assert_eq!(get("key000005", 1000), Some(Lookup::Deleted));
    assert!(
        today == golden,
        "the writer's output changed: a format change needs a new version"
    );
}

/// A version 2 table predates range tombstones: it reads back whole, with none, and
/// with every property what this build records for the same entries (but the file size,
/// which the range-tombstone count grew by one byte).
#[test]
fn the_v2_golden_table_reads_back_without_range_tombstones() {
    let none = Tombstones::default();
    let golden = std::fs::read(golden_path("v2.mtb")).unwrap();
    let old = read_back(&golden, &none);
    assert_eq!(old.keyspace, GOLDEN_KEYSPACE);
    let mut today = read_back(&write_today(GOLDEN_KEYSPACE, &none), &none);
    assert_eq!(today.file_size, old.file_size + 1);
    today.file_size = old.file_size;
    assert_eq!(old, today);
}

/// A version 1 table predates keyspaces: it reads back whole, in the default keyspace,
/// with every other property what this build records for the same entries (but the file
/// size, which the keyspace field and the range-tombstone count grew by a byte each).
#[test]
fn the_v1_golden_table_reads_back_in_the_default_keyspace() {
    let none = Tombstones::default();
    let golden = std::fs::read(golden_path("v1.mtb")).unwrap();
    let old = read_back(&golden, &none);
    assert_eq!(old.keyspace, DEFAULT_KEYSPACE);
    let mut today = read_back(&write_today(DEFAULT_KEYSPACE, &none), &none);
    assert_eq!(today.file_size, old.file_size + 2);
    today.file_size = old.file_size;
    assert_eq!(old, today);
}
