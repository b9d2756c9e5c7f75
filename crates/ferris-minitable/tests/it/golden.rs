//! Format stability: a table of every released format version is kept in
//! `tests/golden/`. This build must read each back exactly, and must still write the
//! current version's (`v2.mtb`) byte for byte. It writes version 2 only, so `v1.mtb` is
//! pinned by what it reads back: the entries and properties of the same table written
//! today, in the default keyspace. Regenerating the current file is a deliberate act, for
//! a new format version (keep the old file, which must still read back):
//! `FERRIS_BLESS=1 cargo test -p ferris-minitable golden`.

use std::path::PathBuf;

use ferris_core::DEFAULT_KEYSPACE;
use ferris_table::ReadOptions;

use crate::{entries, open, options, put_table, scan, sim, table_bytes, write};

/// The keyspace the version 2 golden table is written for: not the default, so that the
/// field is seen to be recorded.
const GOLDEN_KEYSPACE: u32 = 7;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// What this build writes for 30 keys of 2 versions in 256-byte blocks, in `keyspace`.
fn write_today(keyspace: u32) -> Vec<u8> {
    let (_, fs) = sim();
    let mut options = options(256);
    options.keyspace = keyspace;
    write(&fs, &entries(30, 2), &options).unwrap();
    table_bytes(&fs)
}

/// Opens `bytes` as a table, reads it whole and verifies it.
fn read_back(bytes: &[u8]) -> ferris_table::TableProperties {
    let fs = put_table(bytes);
    let table = open(&fs, &ReadOptions::default()).unwrap();
    assert_eq!(scan(&table).unwrap(), entries(30, 2));
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(check.bytes, bytes.len() as u64);
    table.properties().clone()
}

#[test]
fn the_v2_golden_table_reads_back_and_is_still_what_the_writer_writes() {
    let today = write_today(GOLDEN_KEYSPACE);
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path("v2.mtb"), &today).unwrap();
    }
    let golden =
        std::fs::read(golden_path("v2.mtb")).expect("golden file (bless with FERRIS_BLESS=1)");
    assert_eq!(read_back(&golden).keyspace, GOLDEN_KEYSPACE);
    assert!(
        today == golden,
        "the writer's output changed: a format change needs a new version"
    );
}

/// A version 1 table predates keyspaces: it reads back whole, in the default keyspace,
/// with every other property what this build records for the same entries (but the file
/// size, which the keyspace field grew by one byte).
#[test]
fn the_v1_golden_table_reads_back_in_the_default_keyspace() {
    let golden = std::fs::read(golden_path("v1.mtb")).unwrap();
    let old = read_back(&golden);
    assert_eq!(old.keyspace, DEFAULT_KEYSPACE);
    let mut today = read_back(&write_today(DEFAULT_KEYSPACE));
    assert_eq!(today.file_size, old.file_size + 1);
    today.file_size = old.file_size;
    assert_eq!(old, today);
}
