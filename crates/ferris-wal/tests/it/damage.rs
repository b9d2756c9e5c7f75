//! Torn tails, flipped bits, missing segments, newer versions and arbitrary bytes: recovery
//! detects or tolerates each as its mode says, and never returns wrong data or panics.

use std::path::Path;

use ferris_wal::format::BLOCK_SIZE;
use ferris_wal::{Error, RecoveryEvent, RecoveryMode, SegmentReader, SyncMode, Wal};
use proptest::prelude::*;

use crate::{
    DIR, assert_prefix, fs_with_segment, options, records, recover, reserved_segment_bytes,
    segment_bytes, sim,
};

const ALL_MODES: [RecoveryMode; 4] = [
    RecoveryMode::Strict,
    RecoveryMode::TolerateTornTail,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

/// Offsets of each record's first fragment in `bytes` (a valid segment 1).
fn record_offsets(bytes: &[u8]) -> Vec<u64> {
    let fs = fs_with_segment(bytes);
    let mut reader = SegmentReader::open(
        &*fs,
        &Path::new(DIR).join("000001.wal"),
        1,
        RecoveryMode::Strict,
    )
    .unwrap();
    std::iter::from_fn(|| reader.next_record().unwrap().map(|r| r.offset)).collect()
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record_is_cut_off_and_reported() {
    // The last record straddles the boundary between blocks 0 and 1.
    let written = vec![b"first".to_vec(), vec![1; 30_000], vec![2; 5_000]];
    let bytes = segment_bytes(&written, false);
    let last_start = *record_offsets(&bytes).last().unwrap() as usize;
    assert!(last_start < BLOCK_SIZE && bytes.len() > BLOCK_SIZE);

    for cut in last_start..bytes.len() {
        let fs = fs_with_segment(&bytes[..cut]);
        let got = recover(&fs, RecoveryMode::TolerateTornTail)
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
            let strict = recover(&fs, RecoveryMode::Strict)
                .err()
                .expect("strict rejects a torn tail");
            assert!(strict.is_corruption());
        }
    }
}

/// The active segment's file is longer than its records: the zeros of its reserved
/// length follow them, whole blocks of them. That is where the records end, in every
/// mode, and nothing to report.
#[test]
fn the_zeros_of_a_reserved_length_end_the_records_in_every_mode() {
    let written = records(25, 8);
    let (bytes, appended) = reserved_segment_bytes(&written);
    assert!(bytes.len() > appended, "the segment reserved room");
    assert_eq!(bytes.len() % BLOCK_SIZE, 0, "whole blocks");
    assert!(bytes[appended..].iter().all(|&b| b == 0));
    for mode in ALL_MODES {
        let got = recover(&fs_with_segment(&bytes), mode).unwrap();
        assert_eq!(got.records, written, "{mode:?}");
        assert!(got.events.is_empty(), "{mode:?}: {:?}", got.events);
    }
}

/// A power cut inside the reserved length: what survives of the last group is followed by
/// the reserved zeros rather than by the end of the file. The last record is torn and cut
/// off, wherever the cut fell, and every record before it comes back.
#[test]
fn a_torn_tail_inside_the_reserved_length_is_cut_off() {
    let written = vec![b"first".to_vec(), vec![1; 30_000], vec![2; 5_000]];
    let (bytes, appended) = reserved_segment_bytes(&written);
    let last_start = *record_offsets(&bytes[..appended]).last().unwrap() as usize;
    for cut in (last_start + 1..appended).step_by(97) {
        for garbage in [false, true] {
            let mut torn = bytes.clone();
            torn[cut..].fill(0);
            if garbage {
                torn[(cut - 200).max(last_start)..cut].fill(0xa5);
            }
            let got = recover(&fs_with_segment(&torn), RecoveryMode::TolerateTornTail)
                .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert!(got.records == written[..2], "cut at {cut}");
            assert!(
                matches!(got.events[..], [RecoveryEvent::TornTail { offset, .. }] if offset == last_start as u64),
                "cut at {cut}: {:?}",
                got.events
            );
        }
    }
}

/// A bit flipped in the reserved zeros is not padding any more: it is reported as a torn
/// tail (nothing intact follows it), every record is still replayed, and strict recovery
/// refuses the segment.
#[test]
fn a_flipped_bit_in_the_reserved_zeros_is_reported_and_loses_nothing() {
    let written = records(12, 9);
    let (bytes, appended) = reserved_segment_bytes(&written);
    let n_bits = (bytes.len() - appended) * 8;
    for bit in (0..n_bits).step_by(n_bits / 300) {
        let mut flipped = bytes.clone();
        flipped[appended + bit / 8] ^= 1 << (bit % 8);
        let fs = fs_with_segment(&flipped);
        let got = recover(&fs, RecoveryMode::TolerateTornTail).unwrap();
        assert_eq!(got.records, written, "bit {bit} of the zeros");
        assert_eq!(
            got.events.len(),
            1,
            "bit {bit} of the zeros: {:?}",
            got.events
        );
        let strict = recover(&fs, RecoveryMode::Strict).err();
        assert!(
            strict.is_some_and(|e| e.is_corruption()),
            "bit {bit} of the zeros"
        );
    }
}

#[test]
fn torn_tail_of_zeros_or_garbage_is_cut_off() {
    let written = records(8, 3);
    let bytes = segment_bytes(&written, false);
    for filler in [0u8, 0xa5] {
        let mut torn = bytes.clone();
        torn.extend(std::iter::repeat_n(filler, 700));
        let got = recover(&fs_with_segment(&torn), RecoveryMode::TolerateTornTail).unwrap();
        assert_eq!(got.records, written);
        assert_eq!(got.events.len(), 1, "{:?}", got.events);
    }
}

#[test]
fn every_bit_flip_in_a_sealed_segment_is_detected() {
    let written: Vec<Vec<u8>> = (0..12u8)
        .map(|i| vec![i; 40 + usize::from(i) * 13])
        .collect();
    let bytes = segment_bytes(&written, true);
    let data_end = written.iter().map(|r| 7 + r.len()).sum::<usize>() + 32;
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
            match recover(&fs_with_segment(&flipped), RecoveryMode::TolerateTornTail) {
                Err(e) => assert!(e.is_corruption(), "byte {pos} bit {bit}: {e}"),
                // The only harmless flips are in the seal: the segment then reads as
                // unsealed, every record intact, and the damaged seal is reported.
                Ok(got) => {
                    assert!(pos >= seal_start, "byte {pos} bit {bit} went unnoticed");
                    assert_eq!(got.records, written);
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
    let bytes = segment_bytes(&written, false);
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            match recover(&fs_with_segment(&flipped), RecoveryMode::TolerateTornTail) {
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
    let bytes = segment_bytes(&written, true);
    let offsets = record_offsets(&bytes);
    let mut damaged = bytes.clone();
    let victim = 7;
    damaged[offsets[victim] as usize + 9] ^= 0xff;
    let fs = fs_with_segment(&damaged);

    for mode in [RecoveryMode::Strict, RecoveryMode::TolerateTornTail] {
        let err = recover(&fs, mode)
            .err()
            .expect("corruption before intact records is an error");
        assert!(
            matches!(err, Error::Corruption { offset, .. } if offset == offsets[victim]),
            "{err}"
        );
    }
    let pit = recover(&fs, RecoveryMode::PointInTime).unwrap();
    assert_eq!(pit.records, written[..victim]);
    assert!(matches!(
        pit.events.as_slice(),
        [RecoveryEvent::StoppedAtCorruption { .. }]
    ));

    let skip = recover(&fs, RecoveryMode::SkipCorrupted).unwrap();
    let mut expected = written.clone();
    expected.remove(victim);
    assert_eq!(skip.records, expected);
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

#[test]
fn point_in_time_ignores_segments_after_the_damage() {
    let (_, fs) = sim(11);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    wal.append(b"one").unwrap();
    wal.append(b"two").unwrap();
    wal.rotate().unwrap();
    wal.append(b"three").unwrap();
    drop(wal);
    // Damage "two" in segment 1 by rewriting the file with one byte changed.
    let path = Path::new(DIR).join("000001.wal");
    let mut bytes = fs
        .open(&path)
        .unwrap()
        .read_vec(0, fs.open(&path).unwrap().len())
        .unwrap();
    let two = bytes.windows(3).position(|w| w == b"two").unwrap();
    bytes[two] ^= 1;
    fs.remove(&path).unwrap();
    fs.create(&path).unwrap().append(&bytes).unwrap();

    let got = recover(&fs, RecoveryMode::PointInTime).unwrap();
    assert_eq!(got.records, vec![b"one".to_vec()]);
    let got = recover(&fs, RecoveryMode::SkipCorrupted).unwrap();
    assert_eq!(got.records, vec![b"one".to_vec(), b"three".to_vec()]);
}

#[test]
fn a_missing_segment_in_the_middle_is_corruption() {
    let (_, fs) = sim(12);
    let wal = Wal::create(
        fs.clone(),
        Path::new(DIR),
        1,
        options(SyncMode::Always, u64::MAX),
    )
    .unwrap();
    for r in [b"a", b"b", b"c"] {
        wal.append(r).unwrap();
        wal.rotate().unwrap();
    }
    drop(wal);
    fs.remove(&Path::new(DIR).join("000002.wal")).unwrap();

    let err = recover(&fs, RecoveryMode::TolerateTornTail)
        .err()
        .expect("a hole in the log");
    assert!(err.to_string().contains("segment 2 is missing"), "{err}");
    let pit = recover(&fs, RecoveryMode::PointInTime).unwrap();
    assert_eq!(pit.records, vec![b"a".to_vec()]);
    assert_eq!(
        pit.events,
        vec![RecoveryEvent::MissingSegment { segment_id: 2 }]
    );
    let skip = recover(&fs, RecoveryMode::SkipCorrupted).unwrap();
    assert_eq!(skip.records, vec![b"a".to_vec(), b"c".to_vec()]);
}

#[test]
fn a_newer_format_version_is_a_typed_error_in_every_mode() {
    let mut bytes = segment_bytes(&records(3, 5), true);
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = ferris_core::checksum::masked_crc32c(&[&bytes[..28]]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    let fs = fs_with_segment(&bytes);
    for mode in ALL_MODES {
        let err = recover(&fs, mode)
            .err()
            .expect("version 2 is from the future");
        assert!(
            matches!(
                err,
                Error::UnsupportedVersion {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn an_empty_or_header_only_last_segment_is_a_crash_artifact() {
    let header_only = segment_bytes(&[], false);
    assert_eq!(header_only.len(), 32);
    for bytes in [&header_only[..0], &header_only[..10], &header_only[..]] {
        let got = recover(&fs_with_segment(bytes), RecoveryMode::TolerateTornTail).unwrap();
        assert!(got.records.is_empty());
        assert_eq!(
            got.events.len(),
            usize::from(bytes.len() < 32),
            "{} bytes",
            bytes.len()
        );
    }
}

#[test]
fn a_damaged_header_before_intact_records_is_corruption() {
    let mut bytes = segment_bytes(&records(5, 6), false);
    bytes[3] ^= 0x40;
    let err = recover(&fs_with_segment(&bytes), RecoveryMode::TolerateTornTail)
        .err()
        .expect("damaged header");
    assert!(matches!(err, Error::Corruption { offset: 0, .. }), "{err}");
    let skip = recover(&fs_with_segment(&bytes), RecoveryMode::SkipCorrupted).unwrap();
    assert_eq!(skip.records, records(5, 6));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3_000), header in any::<bool>()) {
        let mut file = if header { segment_bytes(&[], false) } else { Vec::new() };
        file.extend_from_slice(&bytes);
        let fs = fs_with_segment(&file);
        for mode in ALL_MODES {
            match recover(&fs, mode) {
                Ok(_) | Err(Error::Corruption { .. } | Error::UnsupportedVersion { .. }) => {}
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
        let mut bytes = segment_bytes(&written, seal);
        for (idx, value) in &damage {
            let i = idx.index(bytes.len());
            bytes[i] = *value;
        }
        let fs = fs_with_segment(&bytes);
        for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::PointInTime] {
            if let Ok(got) = recover(&fs, mode) {
                assert_prefix(&got.records, &written);
            }
        }
        // Skipping may leave holes, but every record it returns is one that was written,
        // in order.
        if let Ok(got) = recover(&fs, RecoveryMode::SkipCorrupted) {
            let mut rest = written.iter();
            for r in &got.records {
                prop_assert!(rest.any(|w| w == r), "a record that was never written, or out of order");
            }
        }
    }
}
