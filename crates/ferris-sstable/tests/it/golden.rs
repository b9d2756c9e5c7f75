//! Format stability: tables of every released format version are kept in `tests/golden/`,
//! one raw and one zstd-compressed each. This build must read all of them back exactly,
//! and must still write the raw table of the current version (2) byte for byte (zstd's
//! output may differ between library versions, so only its reading is pinned). Version 1
//! tables can no longer be written by this build (it writes version 2 only), so they are
//! pinned by what they read back: the same entries and properties as a table written
//! today, in the default keyspace. Regenerate the current version's files deliberately
//! with `FERRIS_BLESS=1 cargo test -p ferris-sstable golden`, after bumping the format
//! version (keeping the previous version's files as ones that must still read), or, for
//! a change every earlier reader already reads (like the index's restart interval), after
//! keeping the old file as one more that must read back.

use std::path::{Path, PathBuf};

use ferris_core::DEFAULT_KEYSPACE;
use ferris_sstable::{Compression, Table, TableOptions};

use crate::{entries, path, scan, sim, write};

/// The keyspace the version 2 goldens are written for: not the default, so that the
/// field is seen to be recorded.
const GOLDEN_KEYSPACE: u32 = 7;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn write_today(compression: Compression, keyspace: u32) -> Vec<u8> {
    let (_, fs) = sim();
    let mut o = TableOptions::default();
    o.block_size = 256;
    o.compression = compression;
    o.keyspace = keyspace;
    write(&fs, "g.sst", &entries(30, 2), o);
    let file = fs.open(&path("g.sst")).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

#[rstest::rstest]
#[case::raw(Compression::None, "v2-raw.sst")]
#[case::zstd(Compression::Zstd, "v2-zstd.sst")]
fn the_v2_golden_tables_read_back(#[case] compression: Compression, #[case] name: &str) {
    let today = write_today(compression, GOLDEN_KEYSPACE);
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path(name), &today).unwrap();
    }
    let golden = std::fs::read(golden_path(name)).expect("golden file (bless with FERRIS_BLESS=1)");
    let table = open(&golden);
    assert_eq!(scan(&table).unwrap(), entries(30, 2));
    assert_eq!(table.properties().keyspace, GOLDEN_KEYSPACE);
    if compression == Compression::None {
        assert!(
            today == golden,
            "the writer's output changed: a format change needs a new version"
        );
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
        let today = open(&write_today(compression, DEFAULT_KEYSPACE));
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
    let today = write_today(Compression::None, DEFAULT_KEYSPACE);
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
