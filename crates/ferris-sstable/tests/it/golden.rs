//! Format stability: tables written by format version 1 are kept in `tests/golden/`, one
//! raw and one zstd-compressed. This build must read both back exactly, and must still write
//! the raw one byte for byte (zstd's output may differ between library versions, so only its
//! reading is pinned). Regenerate deliberately with `FERRIS_BLESS=1 cargo test -p
//! ferris-sstable golden`, after bumping the format version, or, for a change every
//! earlier reader already reads (like the index's restart interval), after keeping the old
//! file as one more that must read back.

use std::path::{Path, PathBuf};

use ferris_sstable::{Compression, Table, TableOptions};

use crate::{entries, path, scan, sim, write};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn write_today(compression: Compression) -> Vec<u8> {
    let (_, fs) = sim();
    let mut o = TableOptions::default();
    o.block_size = 256;
    o.compression = compression;
    write(&fs, "g.sst", &entries(30, 2), o);
    let file = fs.open(&path("g.sst")).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

#[rstest::rstest]
#[case::raw(Compression::None, "v1-raw.sst")]
#[case::zstd(Compression::Zstd, "v1-zstd.sst")]
fn the_v1_golden_tables_read_back(#[case] compression: Compression, #[case] name: &str) {
    let today = write_today(compression);
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path(name), &today).unwrap();
    }
    let golden = std::fs::read(golden_path(name)).expect("golden file (bless with FERRIS_BLESS=1)");
    assert_eq!(scan(&open(&golden)).unwrap(), entries(30, 2));
    if compression == Compression::None {
        assert!(
            today == golden,
            "the writer's output changed: a format change needs a new version"
        );
    }
}

/// Tables written before 2026-12-05 have a restart point at every index entry (now one
/// every 16): the same format version, and they read back the same.
#[test]
fn a_v1_table_with_a_restart_at_every_index_entry_reads_back() {
    let golden = std::fs::read(golden_path("v1-raw-index-restart-1.sst")).unwrap();
    let (old, today) = (open(&golden), open(&write_today(Compression::None)));
    assert_eq!(scan(&old).unwrap(), entries(30, 2));
    // The same blocks, found through the same separators and handles.
    assert_eq!(old.index_entries().unwrap(), today.index_entries().unwrap());
    assert_ne!(golden, write_today(Compression::None));
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
