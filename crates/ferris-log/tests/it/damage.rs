//! Torn tails, flipped bits, a wrong header, a miscounting seal, newer versions and
//! arbitrary bytes: the reader detects or tolerates each as its mode says, and never
//! returns wrong data or panics.

use std::path::Path;

use ferris_log::format::{BLOCK_SIZE, SEGMENT_HEADER_LEN, frame_record, frame_seal};
use ferris_log::{Error, RecoveryEvent, RecoveryMode, SegmentReader};
use proptest::prelude::*;

use crate::{
    ALL_MODES, PATH, assert_prefix, framed, fs_with, read, read_fs, record_offsets, records,
};

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_cut_off_and_reported() {
    // The last record straddles the boundary between blocks 0 and 1.
    let written = vec![b"first".to_vec(), vec![1; 30_000], vec![2; 5_000]];
    let bytes = framed(&written, false);
    let last_start = *record_offsets(&bytes).last().unwrap() as usize;
    assert!(last_start < BLOCK_SIZE && bytes.len() > BLOCK_SIZE);

    for cut in last_start..bytes.len() {
        let fs = fs_with(&bytes[..cut]);
        let got = read_fs(&fs, RecoveryMode::TolerateTornTail)
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(got.records, written[..2], "cut at {cut}");
        if cut == last_start {
            assert!(
                got.events.is_empty(),
                "a cut between records leaves nothing torn"
            );
        } else {
            let dropped = (cut - last_start) as u64;
            assert_eq!(
                got.events,
                vec![RecoveryEvent::TornTail {
                    segment_id: 1,
                    offset: last_start as u64,
                    dropped_bytes: dropped
                }],
                "cut at {cut}"
            );
            let strict =
                read_fs(&fs, RecoveryMode::Strict).expect_err("strict rejects a torn tail");
            assert!(strict.is_corruption());
        }
    }
}

#[test]
fn torn_tail_of_zeros_or_garbage_is_cut_off() {
    let written = records(8, 3);
    let bytes = framed(&written, false);
    for filler in [0u8, 0xa5] {
        let mut torn = bytes.clone();
        torn.extend(std::iter::repeat_n(filler, 700));
        let got = read(&torn, RecoveryMode::TolerateTornTail).unwrap();
        assert_eq!(got.records, written);
        assert_eq!(got.events.len(), 1, "{:?}", got.events);
    }
}

/// Whole blocks of zeros after the last record are padding, in every mode: what a writer
/// that sets its file's length ahead of its appends (the WAL) leaves at the end.
#[test]
fn whole_zero_blocks_after_the_records_are_padding() {
    let written = records(25, 8);
    let mut bytes = framed(&written, false);
    let padded = bytes.len().next_multiple_of(BLOCK_SIZE) + 2 * BLOCK_SIZE;
    bytes.resize(padded, 0);
    for mode in ALL_MODES {
        let got = read(&bytes, mode).unwrap();
        assert_eq!(got.records, written, "{mode:?}");
        assert!(got.events.is_empty(), "{mode:?}: {:?}", got.events);
    }
}

#[test]
fn every_bit_flip_in_a_sealed_segment_is_detected() {
    let written: Vec<Vec<u8>> = (0..12u8)
        .map(|i| vec![i; 40 + usize::from(i) * 13])
        .collect();
    let bytes = framed(&written, true);
    let data_end = written.iter().map(|r| 7 + r.len()).sum::<usize>() + SEGMENT_HEADER_LEN;
    let seal_start = bytes.len() - 15;
    // Every bit of the header, the records and the seal; every bit of one byte in 61 of
    // the zero padding between them.
    let positions = (0..data_end)
        .chain((data_end..seal_start).step_by(61))
        .chain(seal_start..bytes.len());
    let mut n_flips = 0;
    for pos in positions {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            n_flips += 1;
            match read(&flipped, RecoveryMode::TolerateTornTail) {
                Err(e) => assert!(e.is_corruption(), "byte {pos} bit {bit}: {e}"),
                // The only harmless flips are in the seal: the segment then reads as
                // unsealed, every record intact, and the damaged seal is reported.
                Ok(got) => {
                    assert!(pos >= seal_start, "byte {pos} bit {bit} went unnoticed");
                    assert_eq!(got.records, written);
                    assert!(!got.sealed);
                    assert!(matches!(
                        got.events.as_slice(),
                        [RecoveryEvent::TornTail { .. }]
                    ));
                }
            }
        }
    }
    assert!(n_flips > 8 * 800, "{n_flips}");
}

#[test]
fn every_bit_flip_in_an_unsealed_segment_is_detected_or_reported() {
    let written: Vec<Vec<u8>> = (0..10u8)
        .map(|i| vec![i; 30 + usize::from(i) * 11])
        .collect();
    let bytes = framed(&written, false);
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            match read(&flipped, RecoveryMode::TolerateTornTail) {
                Err(e) => assert!(e.is_corruption(), "byte {pos} bit {bit}: {e}"),
                Ok(got) => {
                    // Damage in the last record looks like a torn tail: reported, and
                    // never returning wrong data.
                    assert_prefix(&got.records, &written);
                    assert!(
                        got.records.len() < written.len(),
                        "byte {pos} bit {bit} went unnoticed"
                    );
                    assert!(!got.events.is_empty());
                }
            }
        }
    }
}

#[test]
fn each_mode_handles_mid_segment_corruption_as_documented() {
    let written = records(20, 4);
    let bytes = framed(&written, true);
    let offsets = record_offsets(&bytes);
    let mut damaged = bytes.clone();
    let victim = 7;
    damaged[offsets[victim] as usize + 9] ^= 0xff;
    let fs = fs_with(&damaged);

    for mode in [RecoveryMode::Strict, RecoveryMode::TolerateTornTail] {
        let err = read_fs(&fs, mode).expect_err("corruption before intact records is an error");
        assert!(
            matches!(&err, Error::Corruption(c) if c.offset == offsets[victim] && c.file == Path::new(PATH)),
            "{err}"
        );
    }
    let pit = read_fs(&fs, RecoveryMode::PointInTime).unwrap();
    assert_eq!(pit.records, written[..victim]);
    assert!(matches!(
        pit.events.as_slice(),
        [RecoveryEvent::StoppedAtCorruption { .. }]
    ));

    let skip = read_fs(&fs, RecoveryMode::SkipCorrupted).unwrap();
    let mut expected = written.clone();
    expected.remove(victim);
    assert_eq!(skip.records, expected);
    // The seal counts the skipped record too, so it disagrees with what was read: the
    // segment does not read as sealed, and the seal is reported as well.
    assert!(!skip.sealed);
    assert!(
        matches!(skip.events.last(), Some(RecoveryEvent::SkippedCorruption { reason, .. }) if reason.contains("seal")),
        "{:?}",
        skip.events
    );
    // The first event is the damaged record; a record that spanned blocks also leaves its
    // orphaned continuation fragments, each reported as skipped.
    assert!(
        matches!(skip.events.first(), Some(RecoveryEvent::SkippedCorruption { offset, .. }) if *offset == offsets[victim])
    );
    assert!(
        skip.events
            .iter()
            .all(|e| matches!(e, RecoveryEvent::SkippedCorruption { .. })),
        "{:?}",
        skip.events
    );
}

/// Point-in-time recovery tells a reader of many segments to stop; the other modes never
/// do, since they either fail or go on.
#[test]
fn only_point_in_time_stops_at_corruption() {
    let written = records(6, 2);
    let mut bytes = framed(&written, true);
    bytes[SEGMENT_HEADER_LEN + 9] ^= 1;
    let fs = fs_with(&bytes);
    for mode in [RecoveryMode::PointInTime, RecoveryMode::SkipCorrupted] {
        let mut reader = SegmentReader::open(&fs, Path::new(PATH), 1, mode).unwrap();
        while reader.next_record().unwrap().is_some() {}
        assert_eq!(
            reader.stopped_at_corruption(),
            mode == RecoveryMode::PointInTime,
            "{mode:?}"
        );
    }
}

#[test]
fn a_seal_that_miscounts_or_data_after_it_is_corruption() {
    let written = records(4, 1);
    let mut miscounted = framed(&written, false);
    let mut block_offset = miscounted.len() % BLOCK_SIZE;
    frame_seal(&mut miscounted, &mut block_offset, 5);

    let mut data_after = framed(&written, true);
    let mut block_offset = data_after.len() % BLOCK_SIZE;
    frame_record(&mut data_after, &mut block_offset, b"after the seal");

    for bytes in [miscounted, data_after] {
        let err = read(&bytes, RecoveryMode::TolerateTornTail)
            .expect_err("a bad seal is damage with an intact fragment after it");
        assert!(err.is_corruption(), "{err}");
        let skip = read(&bytes, RecoveryMode::SkipCorrupted).unwrap();
        assert_eq!(skip.records, written);
        assert_eq!(skip.events.len(), 1, "{:?}", skip.events);
    }
}

#[test]
fn a_newer_format_version_is_a_typed_error_in_every_mode() {
    let mut bytes = framed(&records(3, 5), true);
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = ferris_core::checksum::masked_crc32c(&[&bytes[..28]]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    for mode in ALL_MODES {
        let err = read(&bytes, mode).expect_err("version 3 is from the future");
        let Error::UnsupportedVersion(v) = &err else {
            panic!("{mode:?}: {err}");
        };
        assert_eq!((v.format, v.found, v.supported), ("log", 3, 2));
        assert_eq!(
            err.to_string(),
            "/log/000001.log has log format version 3; this build reads versions up to 2"
        );
    }
}

#[test]
fn a_header_naming_another_segment_is_corruption() {
    let fs = fs_with(&framed(&records(2, 7), true));
    for mode in ALL_MODES {
        let err = SegmentReader::open(&fs, Path::new(PATH), 2, mode).unwrap_err();
        assert!(
            matches!(&err, Error::Corruption(c) if c.offset == 16),
            "{mode:?}: {err}"
        );
    }
}

#[test]
fn an_empty_or_header_only_segment_is_a_crash_artifact() {
    let header_only = framed(&[], false);
    assert_eq!(header_only.len(), SEGMENT_HEADER_LEN);
    for bytes in [&header_only[..0], &header_only[..10], &header_only[..]] {
        let got = read(bytes, RecoveryMode::TolerateTornTail).unwrap();
        assert!(got.records.is_empty());
        assert_eq!(
            got.events.len(),
            usize::from(bytes.len() < SEGMENT_HEADER_LEN),
            "{} bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_damaged_header_before_intact_records_is_corruption() {
    let mut bytes = framed(&records(5, 6), false);
    bytes[3] ^= 0x40;
    let err = read(&bytes, RecoveryMode::TolerateTornTail).expect_err("damaged header");
    assert!(
        matches!(&err, Error::Corruption(c) if c.offset == 0),
        "{err}"
    );
    let skip = read(&bytes, RecoveryMode::SkipCorrupted).unwrap();
    assert_eq!(skip.records, records(5, 6));
    // Past a damaged header the records are read, but what format they are in is unknown.
    let fs = fs_with(&bytes);
    let reader = SegmentReader::open(&fs, Path::new(PATH), 1, RecoveryMode::SkipCorrupted).unwrap();
    assert_eq!(reader.record_format(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3_000), header in any::<bool>()) {
        let mut file = if header { framed(&[], false) } else { Vec::new() };
        file.extend_from_slice(&bytes);
        let fs = fs_with(&file);
        for mode in ALL_MODES {
            match read_fs(&fs, mode) {
                Ok(_) | Err(Error::Corruption(_) | Error::UnsupportedVersion(_)) => {}
                Err(e) => prop_assert!(false, "unexpected error kind: {e}"),
            }
        }
    }

    #[test]
    fn damaged_segments_never_yield_wrong_records(
        seed in any::<u64>(),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        seal in any::<bool>(),
    ) {
        let written = records(15, seed);
        let mut bytes = framed(&written, seal);
        for (idx, value) in &damage {
            let i = idx.index(bytes.len());
            bytes[i] = *value;
        }
        let fs = fs_with(&bytes);
        for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::PointInTime] {
            if let Ok(got) = read_fs(&fs, mode) {
                assert_prefix(&got.records, &written);
            }
        }
        // Skipping may leave holes, but every record it returns is one that was written,
        // in order.
        if let Ok(got) = read_fs(&fs, RecoveryMode::SkipCorrupted) {
            let mut rest = written.iter();
            for r in &got.records {
                prop_assert!(rest.any(|w| w == r), "a record that was never written, or out of order");
            }
        }
    }
}
