//! Format stability: a WAL segment of each released version is kept in `tests/golden/`.
//! This build must read every one of them back exactly, and must still write the newest
//! byte for byte. A deliberate format change bumps the version and adds a new golden file
//! (regenerate the newest with `FERRIS_BLESS=1 cargo test -p ferris-wal golden`); the old
//! ones stay, so old logs keep recovering.
//!
//! - `v1-000001.wal`: framing version 1, whose header names no record format (record
//!   format 1). Its records are opaque bytes: the framing is what it pins.
//! - `v2-000001.wal`: framing version 2, record format 2: write batches whose entries name
//!   keyspaces.
//! - `v3-000001.wal`: framing version 2, record format 3: the same batches and one of range
//!   deletes, as this build's `Wal` writes them.

use std::path::{Path, PathBuf};

use ferris_core::{BatchOp, DEFAULT_KEYSPACE, KeyspaceId, SeqNo, WriteBatch};
use ferris_wal::format::RECORD_FORMAT;
use ferris_wal::{RecoveryMode, SegmentReader, SyncMode, Wal};

use crate::{DIR, fs_with_segment, options, recover, segment_bytes};

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The record format segment 1 of `bytes`'s header gives.
fn record_format_of(bytes: &[u8]) -> Option<u32> {
    let fs = fs_with_segment(bytes);
    let path = Path::new(DIR).join("000001.wal");
    SegmentReader::open(&*fs, &path, 1, RecoveryMode::Strict)
        .unwrap()
        .record_format()
}

/// The records of the v1 golden segment: small, empty, and one spanning two blocks.
fn v1_records() -> Vec<Vec<u8>> {
    vec![
        b"first".to_vec(),
        Vec::new(),
        (0..40_000u32).map(|i| (i % 251) as u8).collect(),
        b"last".to_vec(),
    ]
}

#[test]
fn the_v1_golden_segment_still_reads_back_exactly() {
    let golden = std::fs::read(golden_path("v1-000001.wal")).expect("golden file");
    assert_eq!(&golden[8..12], &1u32.to_le_bytes(), "framing version 1");
    assert_eq!(record_format_of(&golden), Some(1));
    let got = recover(&fs_with_segment(&golden), RecoveryMode::Strict).unwrap();
    assert_eq!(got.records, v1_records());
    assert!(got.events.is_empty());
}

/// One entry of the v2 golden batches: sequence number, keyspace, kind, key, value.
type Entry = (SeqNo, KeyspaceId, BatchOp, Vec<u8>, Vec<u8>);

/// The batches of the v2 golden segment: one in three keyspaces (one of them the default,
/// one an id that takes a five-byte varint), one in a single keyspace other than the
/// default and long enough to span two blocks, one in the default keyspace alone (encoded
/// as in record format 1), and an empty one.
fn v2_batches() -> Vec<WriteBatch> {
    let mut mixed = WriteBatch::new();
    mixed
        .put(b"apple", b"red")
        .put_in(1, b"apple", b"green")
        .delete_in(u32::MAX, b"pear");
    mixed.set_seq(1);
    let mut one_keyspace = WriteBatch::new();
    one_keyspace
        .put_in(
            7,
            b"plum",
            (0..40_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
        )
        .delete_in(7, b"quince");
    one_keyspace.set_seq(4);
    let mut default_only = WriteBatch::new();
    default_only.delete(b"apple");
    default_only.set_seq(6);
    vec![mixed, one_keyspace, default_only, WriteBatch::new()]
}

/// What the v2 batches hold, entry by entry, written out by hand.
fn v2_entries() -> Vec<Vec<Entry>> {
    let e = |seq, keyspace, kind, key: &[u8], value: &[u8]| {
        (seq, keyspace, kind, key.to_vec(), value.to_vec())
    };
    let plum: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    vec![
        vec![
            e(1, DEFAULT_KEYSPACE, BatchOp::Put, b"apple", b"red"),
            e(2, 1, BatchOp::Put, b"apple", b"green"),
            e(3, u32::MAX, BatchOp::Delete, b"pear", b""),
        ],
        vec![
            e(4, 7, BatchOp::Put, b"plum", &plum),
            e(5, 7, BatchOp::Delete, b"quince", b""),
        ],
        vec![e(6, DEFAULT_KEYSPACE, BatchOp::Delete, b"apple", b"")],
        vec![],
    ]
}

/// The batches of the v3 golden segment: the v2 ones, then one of range deletes (a bounded
/// range, a prefix in keyspace 7, and a range with no end).
fn v3_batches() -> Vec<WriteBatch> {
    let mut batches = v2_batches();
    let mut ranges = WriteBatch::new();
    ranges
        .delete_range("b".."d")
        .delete_prefix_in(7, b"pl")
        .delete_range("x"..);
    ranges.set_seq(7);
    batches.push(ranges);
    batches
}

/// What the v3 batches hold, entry by entry.
fn v3_entries() -> Vec<Vec<Entry>> {
    let mut entries = v2_entries();
    entries.push(vec![
        (
            7,
            DEFAULT_KEYSPACE,
            BatchOp::DeleteRange,
            b"b".to_vec(),
            b"d".to_vec(),
        ),
        (8, 7, BatchOp::DeleteRange, b"pl".to_vec(), b"pm".to_vec()),
        (
            9,
            DEFAULT_KEYSPACE,
            BatchOp::DeleteRange,
            b"x".to_vec(),
            Vec::new(),
        ),
    ]);
    entries
}

/// The batches of a golden segment, entry by entry.
fn entries_of(golden: &[u8]) -> Vec<Vec<Entry>> {
    let got = recover(&fs_with_segment(golden), RecoveryMode::Strict).unwrap();
    assert!(got.events.is_empty());
    got.records
        .iter()
        .map(|r| {
            let batch = WriteBatch::decode(r).expect("a write batch");
            batch
                .iter()
                .map(|e| (e.seq, e.keyspace, e.kind, e.key.to_vec(), e.value.to_vec()))
                .collect()
        })
        .collect()
}

#[test]
fn the_v2_golden_segment_still_reads_back_as_batches() {
    let golden = std::fs::read(golden_path("v2-000001.wal")).expect("golden file");
    assert_eq!(&golden[8..12], &2u32.to_le_bytes(), "framing version 2");
    assert_eq!(record_format_of(&golden), Some(2));
    assert_eq!(entries_of(&golden), v2_entries());
}

#[test]
fn the_v3_golden_segment_reads_back_as_batches_and_is_what_we_still_write() {
    let records: Vec<Vec<u8>> = v3_batches().iter().map(|b| b.as_bytes().to_vec()).collect();
    let today = segment_bytes(&records, true);
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path("v3-000001.wal"), &today).unwrap();
    }
    let golden = std::fs::read(golden_path("v3-000001.wal"))
        .expect("golden file (bless with FERRIS_BLESS=1)");
    assert_eq!(&golden[8..12], &2u32.to_le_bytes(), "framing version 2");
    assert_eq!(record_format_of(&golden), Some(RECORD_FORMAT));
    assert_eq!(entries_of(&golden), v3_entries());
    assert!(
        today == golden,
        "the writer's output changed: a format change needs a new version"
    );
}

/// A WAL directory a build of this version takes over from an older one holds segments of
/// both record formats: the old ones are replayed, then the new, in order.
#[test]
fn an_upgraded_directory_replays_old_and_new_segments_in_order() {
    let golden = std::fs::read(golden_path("v1-000001.wal")).expect("golden file");
    let fs = fs_with_segment(&golden);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        2,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    let batch = &v2_batches()[0];
    wal.append(batch.as_bytes()).unwrap();
    wal.close().unwrap();
    let got = recover(&fs, RecoveryMode::Strict).unwrap();
    let mut want = v1_records();
    want.push(batch.as_bytes().to_vec());
    assert_eq!(got.records, want);
}
