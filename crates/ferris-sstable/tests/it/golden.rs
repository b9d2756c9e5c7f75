//! Format stability: tables of every released format version are kept in `tests/golden/`,
//! one raw and one zstd-compressed each. This build must read all of them back exactly,
//! and must still write the raw table of the current version (3) byte for byte (zstd's
//! output may differ between library versions, so only its reading is pinned); version 3
//! goldens hold range tombstones. Version 1 and 2 tables can no longer be written by this
//! build (it writes version 3 only), so they are pinned by what they read back: the same
//! entries and properties as a table written today without range tombstones (version 1
//! in the default keyspace). Regenerate the current version's files deliberately
//! with `FERRIS_BLESS=1 cargo test -p ferris-sstable golden`, after bumping the format
//! version (keeping the previous version's files as ones that must still read), or, for
//! a change every earlier reader already reads (like the index's restart interval), after
//! keeping the old file as one more that must read back.

use std::path::{Path, PathBuf};

use ferris_core::DEFAULT_KEYSPACE;
use ferris_core::range_del::Tombstones;
use ferris_sstable::{Compression, SstableFormat, Table, TableOptions};
use ferris_table::{ReadOptions, TableFormat};

use crate::{entries, path, range_tombstones, scan, sim, write_with};

/// The keyspace the version 2 and 3 goldens are written for: not the default, so that
/// the field is seen to be recorded.
const GOLDEN_KEYSPACE: u32 = 7;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn write_today(compression: Compression, keyspace: u32, tombstones: &Tombstones) -> Vec<u8> {
    let (_, fs) = sim();
    let mut o = TableOptions::default();
    o.block_size = 256;
    o.compression = compression;
    o.keyspace = keyspace;
    write_with(&fs, "g.sst", &entries(30, 2), tombstones, o);
    let file = fs.open(&path("g.sst")).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

#[rstest::rstest]
#[case::raw(Compression::None, "v3-raw.sst")]
#[case::zstd(Compression::Zstd, "v3-zstd.sst")]
fn the_v3_golden_tables_read_back(#[case] compression: Compression, #[case] name: &str) {
    let today = write_today(compression, GOLDEN_KEYSPACE, &range_tombstones());
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path(name), &today).unwrap();
    }
    let golden = std::fs::read(golden_path(name)).expect("golden file (bless with FERRIS_BLESS=1)");
    let table = open(&golden);
    assert_eq!(scan(&table).unwrap(), entries(30, 2));
    assert_eq!(table.properties().keyspace, GOLDEN_KEYSPACE);
    assert_eq!(**table.range_tombstones(), range_tombstones());
    assert_eq!(table.properties().range_tombstones, 5);
    // Through the format: the tombstones answer lookups. key000004@401,402 lie under
    // the tombstone at 450, seen from snapshot 450 on; key000005@501,502 are newer than
    // it but not than the one at 1000; key000002 is under none.
    let (_, fs) = sim();
    fs.create(&path("000001.sst"))
        .unwrap()
        .append(&golden)
        .unwrap();
    let reader = SstableFormat
        .open(&fs, &path(""), 1, &ReadOptions::default())
        .unwrap();
    let get = |key: &str, snapshot| reader.get(key.as_bytes(), snapshot).unwrap();
    assert_eq!(get("key000004", 450), Some(ferris_core::Lookup::Deleted));
    assert!(matches!(
        get("key000004", 449),
        Some(ferris_core::Lookup::Value(_))
    ));
    assert!(matches!(
        get("key000005", 999),
        Some(ferris_core::Lookup::Value(_))
    ));
    assert_eq!(get("key000005", 1000), Some(ferris_core::Lookup::Deleted));
    assert!(matches!(
        get("key000002", 1000),
        Some(ferris_core::Lookup::Value(_))
    ));
    assert_eq!(reader.properties().range_tombstones, 5);
    if compression == Compression::None {
        assert!(
            today == golden,
            "the writer's output changed: a format change needs a new version"
        );
    }
}

/// Version 2 tables predate range tombstones: they read back whole, with none, and with
/// every property what this build records for the same entries.
#[rstest::rstest]
#[case::raw(Compression::None, "v2-raw.sst")]
#[case::zstd(Compression::Zstd, "v2-zstd.sst")]
fn the_v2_golden_tables_read_back_without_range_tombstones(
    #[case] compression: Compression,
    #[case] name: &str,
) {
    let golden = std::fs::read(golden_path(name)).unwrap();
    let old = open(&golden);
    assert_eq!(scan(&old).unwrap(), entries(30, 2));
    assert_eq!(old.properties().keyspace, GOLDEN_KEYSPACE);
    assert!(old.range_tombstones().is_empty());
    assert!(old.verify().unwrap().is_intact());
    if compression == Compression::None {
        let none = Tombstones::default();
        let today = open(&write_today(compression, GOLDEN_KEYSPACE, &none));
        assert_eq!(old.properties(), today.properties());
        // The same blocks: only the properties block and the footer grew.
        assert_eq!(old.index_entries().unwrap(), today.index_entries().unwrap());
    }
}

/// Version 1 tables predate keyspaces: they read back whole, as tables of the default
/// keyspace, with every other property what this build records for the same entries.
#[rstest::rstest]
#[case::raw(Compression::None, "v1-raw.sst")]
#[case::zstd(Compression::Zstd, "v1-zstd.sst")]
fn the_v1_golden_tables_read_back_in_the_default_keyspace(
    #[case] compression: Compression,
    #[case] name: &str,
) {
    let golden = std::fs::read(golden_path(name)).unwrap();
    let old = open(&golden);
    assert_eq!(scan(&old).unwrap(), entries(30, 2));
    assert_eq!(old.properties().keyspace, DEFAULT_KEYSPACE);
    assert!(old.verify().unwrap().is_intact());
    if compression == Compression::None {
        let none = Tombstones::default();
        let today = open(&write_today(compression, DEFAULT_KEYSPACE, &none));
        assert_eq!(old.properties(), today.properties());
        // The same blocks: only the properties block and the footer grew.
        assert_eq!(old.index_entries().unwrap(), today.index_entries().unwrap());
    }
}

/// Tables written before 2026-12-05 have a restart point at every index entry (now one
/// every 16): the same format version, and they read back the same.
#[test]
fn a_v1_table_with_a_restart_at_every_index_entry_reads_back() {
    let golden = std::fs::read(golden_path("v1-raw-index-restart-1.sst")).unwrap();
    let today = write_today(Compression::None, DEFAULT_KEYSPACE, &Tombstones::default());
    let (old, new) = (open(&golden), open(&today));
    assert_eq!(scan(&old).unwrap(), entries(30, 2));
    // The same blocks, found through the same separators and handles.
    assert_eq!(old.index_entries().unwrap(), new.index_entries().unwrap());
    assert_ne!(golden, today);
}

/// `bytes` as a table on a simulated file system.
fn open(bytes: &[u8]) -> Table {
    let (_, fs) = sim();
    fs.create(&path("golden.sst"))
        .unwrap()
        .append(bytes)
        .unwrap();
    Table::open(&*fs, &path("golden.sst")).unwrap()
}
