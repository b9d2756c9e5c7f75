//! The framing's bytes have not changed: the golden files of its two users, a WAL segment
//! and a manifest, are what this crate's functions frame from their records today, byte
//! for byte. (Each user's own golden test also checks what its writer writes.)

use std::path::{Path, PathBuf};

use ferris_log::{RecoveryMode, SegmentReader};

use crate::{PATH, framed_as, fs_with};

fn golden(crate_dir: &str, name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("tests/golden")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads every record of `bytes` as segment `id`, strictly: golden files are whole.
fn records_of(bytes: &[u8], id: u64) -> (Vec<Vec<u8>>, bool) {
    let fs = fs_with(bytes);
    let mut reader = SegmentReader::open(&fs, Path::new(PATH), id, RecoveryMode::Strict).unwrap();
    let records = std::iter::from_fn(|| reader.next_record().unwrap().map(|r| r.data)).collect();
    (records, reader.is_sealed())
}

#[test]
fn the_wal_golden_segment_is_what_the_framing_writes() {
    let bytes = golden("ferris-wal", "v1-000001.wal");
    let (records, sealed) = records_of(&bytes, 1);
    assert_eq!(records.len(), 4);
    assert!(sealed);
    assert!(
        framed_as(1, &records, true) == bytes,
        "the framing's bytes changed"
    );
}

#[test]
fn the_manifest_golden_file_is_what_the_framing_writes() {
    let bytes = golden("ferris-manifest", "v1-MANIFEST-000002");
    let (records, sealed) = records_of(&bytes, 2);
    assert_eq!(records.len(), 2);
    assert!(!sealed, "a manifest is never sealed");
    assert!(
        framed_as(2, &records, false) == bytes,
        "the framing's bytes changed"
    );
}
