//! Format stability: a table written by format version 1 is kept in
//! `tests/golden/v1.mtb`. This build must read it back exactly, and must still write it
//! byte for byte. Regenerating it is a deliberate act, for a new format version (keep the
//! old file, which must still read back): `FERRIS_BLESS=1 cargo test -p ferris-minitable
//! golden`.

use std::path::PathBuf;

use ferris_table::ReadOptions;

use crate::{entries, open, options, put_table, scan, sim, table_bytes, write};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1.mtb")
}

/// What version 1 writes for 30 keys of 2 versions in 256-byte blocks.
fn write_today() -> Vec<u8> {
    let (_, fs) = sim();
    write(&fs, &entries(30, 2), &options(256)).unwrap();
    table_bytes(&fs)
}

#[test]
fn the_v1_golden_table_reads_back_and_is_still_what_the_writer_writes() {
    let today = write_today();
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path(), &today).unwrap();
    }
    let golden = std::fs::read(golden_path()).expect("golden file (bless with FERRIS_BLESS=1)");
    let fs = put_table(&golden);
    let table = open(&fs, &ReadOptions::default()).unwrap();
    assert_eq!(scan(&table).unwrap(), entries(30, 2));
    let check = table.verify().unwrap();
    assert!(check.is_intact(), "{:?}", check.damage);
    assert_eq!(check.bytes, golden.len() as u64);
    assert!(
        today == golden,
        "the writer's output changed: a format change needs a new version"
    );
}
