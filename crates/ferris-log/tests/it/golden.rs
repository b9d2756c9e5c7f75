//! The framing's bytes have not changed: the golden files of its two users, WAL segments
//! and a manifest, are what this crate's functions frame from their records today, byte
//! for byte. (Each user's own golden test also checks what its writer writes.) Files of
//! record format 1 are framed with a version 1 header, as before version 2 existed; the
//! WAL's record format 2 segment has a version 2 header.

use std::path::{Path, PathBuf};

use ferris_log::{RecoveryMode, SegmentReader};

use crate::{PATH, framed_as, fs_with};

/// The record format of files framed before headers named one.
const FIRST: u32 = ferris_log::format::FIRST_RECORD_FORMAT;

/// The WAL's record format since framing version 2 (`ferris_wal::format::RECORD_FORMAT`,
/// which this crate, below the WAL, cannot name).
const WAL_RECORD_FORMAT_2: u32 = 2;

fn golden(crate_dir: &str, name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("tests/golden")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads every record of `bytes` as segment `id`, strictly: golden files are whole.
/// Also returns whether the segment is sealed, and the record format its header gives.
fn records_of(bytes: &[u8], id: u64) -> (Vec<Vec<u8>>, bool, Option<u32>) {
    let fs = fs_with(bytes);
    let mut reader = SegmentReader::open(&fs, Path::new(PATH), id, RecoveryMode::Strict).unwrap();
    let records = std::iter::from_fn(|| reader.next_record().unwrap().map(|r| r.data)).collect();
    (records, reader.is_sealed(), reader.record_format())
}

/// Each WAL golden segment with the record format its header declares: the first, in a
/// version 1 header, and the WAL's record format 2, in a version 2 one.
#[test]
fn the_wal_golden_segments_are_what_the_framing_writes() {
    for (name, record_format) in [
        ("v1-000001.wal", FIRST),
        ("v2-000001.wal", WAL_RECORD_FORMAT_2),
    ] {
        let bytes = golden("ferris-wal", name);
        let (records, sealed, format) = records_of(&bytes, 1);
        assert_eq!(
            (records.len(), sealed, format),
            (4, true, Some(record_format)),
            "{name}"
        );
        assert!(
            framed_as(1, record_format, &records, true) == bytes,
            "{name}: the framing's bytes changed"
        );
    }
}

#[test]
fn the_manifest_golden_file_is_what_the_framing_writes() {
    let bytes = golden("ferris-manifest", "v1-MANIFEST-000002");
    let (records, sealed, format) = records_of(&bytes, 2);
    assert_eq!((records.len(), format), (2, Some(FIRST)));
    assert!(!sealed, "a manifest is never sealed");
    assert!(
        framed_as(2, FIRST, &records, false) == bytes,
        "the framing's bytes changed"
    );
}
