//! Format stability: a WAL segment written by format version 1 is kept in
//! `tests/golden/v1-000001.wal`. This build must read it back exactly, and must still
//! write the same bytes. A deliberate format change bumps the version and adds a new golden
//! file (regenerate with `FERRIS_BLESS=1 cargo test -p ferris-wal golden`); the old one stays,
//! so old logs keep recovering.

use std::path::{Path, PathBuf};

use ferris_wal::RecoveryMode;

use crate::{fs_with_segment, recover, segment_bytes};

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1-000001.wal")
}

/// The records of the golden segment: small, empty, and one spanning two blocks.
fn golden_records() -> Vec<Vec<u8>> {
    vec![
        b"first".to_vec(),
        Vec::new(),
        (0..40_000u32).map(|i| (i % 251) as u8).collect(),
        b"last".to_vec(),
    ]
}

#[test]
fn the_v1_golden_segment_reads_back_and_is_what_we_still_write() {
    let today = segment_bytes(&golden_records(), true);
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path(), &today).unwrap();
    }
    let golden = std::fs::read(golden_path()).expect("golden file (bless with FERRIS_BLESS=1)");
    let got = recover(&fs_with_segment(&golden), RecoveryMode::Strict).unwrap();
    assert_eq!(got.records, golden_records());
    assert!(got.events.is_empty());
    assert!(
        today == golden,
        "the writer's output changed: a format change needs a new version"
    );
}
