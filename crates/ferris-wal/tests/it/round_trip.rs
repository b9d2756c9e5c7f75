//! Records come back exactly as written, across blocks, segments, rotation and purging.

use std::path::Path;

use ferris_log::format::{BLOCK_SIZE, FRAGMENT_HEADER_LEN, SEGMENT_HEADER_LEN};
use ferris_wal::{
    Error, MAX_RECORD_LEN, RESERVE_STEP, RecoveryMode, SegmentReader, SyncMode, Wal, WalOptions,
    list_segments,
};
use rstest::rstest;

use crate::{DIR, assert_prefix, options, records, recover, sim};

#[rstest]
#[case::empty(vec![])]
#[case::one_empty_record(vec![vec![]])]
#[case::exactly_fills_block_0(vec![vec![1; BLOCK_SIZE - SEGMENT_HEADER_LEN - FRAGMENT_HEADER_LEN]])]
#[case::leaves_a_short_trailer(vec![vec![2; BLOCK_SIZE - SEGMENT_HEADER_LEN - FRAGMENT_HEADER_LEN - 3], b"next".to_vec()])]
#[case::spans_three_blocks(vec![vec![3; 2 * BLOCK_SIZE + 17]])]
#[case::mixed(records(40, 1))]
fn records_round_trip(#[case] written: Vec<Vec<u8>>, #[values(true, false)] close: bool) {
    let (_, fs) = sim(1);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    for r in &written {
        wal.append(r).unwrap();
    }
    if close {
        wal.close().unwrap();
    }
    drop(wal);
    let got = recover(&fs, RecoveryMode::Strict).unwrap();
    assert_eq!(got.records, written);
    assert!(got.events.is_empty(), "{:?}", got.events);
}

#[test]
fn size_rotation_seals_segments_and_recovery_spans_them() {
    let (_, fs) = sim(2);
    let written = records(60, 2);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, 64 << 10),
    )
    .unwrap();
    for r in &written {
        wal.append(r).unwrap();
    }
    let stats = wal.stats();
    let segments = wal.segment_ids().unwrap();
    assert!(
        segments.len() > 3,
        "60 records of up to 40 KB fill several 64 KiB segments"
    );
    assert_eq!(stats.rotations as usize, segments.len() - 1);
    assert_eq!(stats.records, 60);
    // Every segment but the active one is sealed, so even strict recovery accepts them all.
    assert_eq!(recover(&fs, RecoveryMode::Strict).unwrap().records, written);
}

#[test]
fn explicit_rotation_splits_records_between_segments() {
    let (_, fs) = sim(3);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 5, WalOptions::default()).unwrap();
    wal.append(b"old").unwrap();
    assert_eq!(wal.rotate().unwrap(), 6);
    wal.append(b"new").unwrap();
    assert_eq!(wal.active_segment_id().unwrap(), 6);

    let mut options = ferris_wal::RecoveryOptions::default();
    options.min_segment_id = 6;
    let mut recovery = ferris_wal::WalRecovery::open(fs.clone(), Path::new(DIR), options).unwrap();
    let record = recovery.next_record().unwrap().unwrap();
    assert_eq!(
        (record.segment_id, record.data.as_slice()),
        (6, &b"new"[..])
    );
    assert!(recovery.next_record().unwrap().is_none());
    let report = recovery.finish();
    assert_eq!(report.segment_ids, vec![6]);
    assert_eq!(report.next_segment_id, 7);
}

#[test]
fn purging_removes_only_older_segments_and_never_the_active_one() {
    let (_, fs) = sim(4);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    for _ in 0..3 {
        wal.append(b"x").unwrap();
        wal.rotate().unwrap();
    }
    assert_eq!(wal.segment_ids().unwrap(), vec![1, 2, 3, 4]);
    assert_eq!(wal.remove_segments_before(3).unwrap(), 2);
    assert_eq!(list_segments(&*fs, Path::new(DIR)).unwrap(), vec![3, 4]);
    assert_eq!(
        wal.remove_segments_before(u64::MAX).unwrap(),
        1,
        "segment 4 is active and stays"
    );
    assert_eq!(wal.segment_ids().unwrap(), vec![4]);
}

#[test]
fn next_segment_id_is_past_every_segment_even_ignored_ones() {
    let (_, fs) = sim(5);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 9, WalOptions::default()).unwrap();
    wal.append(b"r").unwrap();
    drop(wal);
    let mut options = ferris_wal::RecoveryOptions::default();
    options.min_segment_id = 20;
    let recovery = ferris_wal::WalRecovery::open(fs.clone(), Path::new(DIR), options).unwrap();
    assert_eq!(recovery.finish().next_segment_id, 20);
    let recovery = ferris_wal::WalRecovery::open(fs, Path::new(DIR), Default::default()).unwrap();
    assert_eq!(recovery.finish().next_segment_id, 10);
}

#[test]
fn creating_over_an_existing_segment_fails() {
    let (_, fs) = sim(6);
    let _wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    let err = Wal::create(fs, Path::new(DIR), 1, WalOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err}");
}

#[test]
fn calls_after_close_fail_with_closed() {
    let (_, fs) = sim(7);
    let wal = Wal::create(fs, Path::new(DIR), 1, WalOptions::default()).unwrap();
    wal.close().unwrap();
    assert!(matches!(wal.append(b"late"), Err(Error::Closed)));
    assert!(matches!(wal.sync(), Err(Error::Closed)));
    assert!(matches!(wal.rotate(), Err(Error::Closed)));
    assert!(matches!(wal.close(), Err(Error::Closed)));
}

#[test]
fn oversized_record_is_rejected_before_any_io() {
    let (_, fs) = sim(8);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    let huge = vec![0u8; MAX_RECORD_LEN as usize + 1];
    let err = wal.append(&huge).unwrap_err();
    assert!(
        matches!(err, Error::RecordTooLarge { len, max } if len == MAX_RECORD_LEN + 1 && max == MAX_RECORD_LEN)
    );
    wal.append(b"still usable").unwrap();
    assert_eq!(
        recover(&fs, RecoveryMode::Strict).unwrap().records,
        vec![b"still usable".to_vec()]
    );
}

#[test]
fn manual_sync_mode_writes_without_fsync_until_asked() {
    let (_, fs) = sim(9);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Manual, u64::MAX),
    )
    .unwrap();
    let before = wal.stats().syncs;
    let written = records(10, 9);
    for r in &written {
        wal.append(r).unwrap();
    }
    assert_eq!(wal.stats().syncs, before, "no fsync in manual mode");
    wal.sync().unwrap();
    assert_eq!(wal.stats().syncs, before + 1);
    assert_prefix(
        &recover(&fs, RecoveryMode::Strict).unwrap().records,
        &written,
    );
}

#[test]
fn a_file_that_is_not_a_segment_is_ignored_but_a_misnamed_segment_is_not() {
    let (_, fs) = sim(10);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    wal.append(b"a").unwrap();
    wal.close().unwrap();
    fs.create(&Path::new(DIR).join("notes.txt"))
        .unwrap()
        .append(b"hello")
        .unwrap();
    assert_eq!(
        recover(&fs, RecoveryMode::Strict).unwrap().records,
        vec![b"a".to_vec()]
    );

    fs.rename(
        &Path::new(DIR).join("000001.wal"),
        &Path::new(DIR).join("000002.wal"),
    )
    .unwrap();
    let err = recover(&fs, RecoveryMode::SkipCorrupted)
        .err()
        .expect("header names segment 1");
    assert!(err.is_corruption(), "{err}");
}

/// A reader of the live segment, bounded by the length `active_segment_len` reported, sees
/// exactly the groups written before it asked, and ends cleanly there: no torn tail, no
/// event, even in strict mode and whatever the file holds past that length.
#[test]
fn a_reader_bounded_by_the_active_length_sees_the_groups_written_before() {
    let (_, fs) = sim(9);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    let written = records(30, 9);
    for r in &written[..20] {
        wal.append(r).unwrap();
    }
    let (id, len) = wal.active_segment_len().unwrap();
    assert_eq!(id, 1);
    for r in &written[20..] {
        wal.append(r).unwrap();
    }
    let path = Path::new(DIR).join("000001.wal");
    let mut reader = SegmentReader::open_to(&*fs, &path, 1, RecoveryMode::Strict, len).unwrap();
    assert_eq!(reader.file_len(), len);
    let mut got = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        got.push(record.data);
    }
    assert_eq!(got, &written[..20]);
    assert!(reader.events().is_empty(), "{:?}", reader.events());
    wal.close().unwrap();
    assert!(matches!(wal.active_segment_len(), Err(Error::Closed)));
}

/// The active segment's file runs ahead of its records by up to `RESERVE_STEP` (or the
/// segment size, if smaller) of reserved zeros, growing a step at a time; sealing cuts it
/// back to the seal.
#[test]
fn the_active_segment_reserves_room_ahead_and_sealing_cuts_it_back() {
    let (_, fs) = sim(10);
    let wal = Wal::create(fs.clone(), Path::new(DIR), 1, WalOptions::default()).unwrap();
    let file_len = |id: u64| {
        let path = Path::new(DIR).join(format!("{id:06}.wal"));
        fs.open(&path).unwrap().len()
    };
    assert_eq!(file_len(1), RESERVE_STEP);
    let record = vec![7u8; 100_000];
    for _ in 0..15 {
        wal.append(&record).unwrap();
        let (_, appended) = wal.active_segment_len().unwrap();
        assert_eq!(file_len(1), appended.next_multiple_of(RESERVE_STEP));
    }
    let (_, appended) = wal.active_segment_len().unwrap();
    assert!(appended > RESERVE_STEP, "it grew past the first step");
    wal.rotate().unwrap();
    let sealed = file_len(1);
    assert!(sealed > appended && sealed < appended + 2 * BLOCK_SIZE as u64);
    assert_eq!(file_len(2), RESERVE_STEP);
    wal.close().unwrap();
    assert!(
        file_len(2) < BLOCK_SIZE as u64 * 2,
        "closing seals and cuts back too"
    );
}
