//! What recovery of a WAL directory adds to the framing's own damage handling (whose tests,
//! torn tails, bit flips and arbitrary bytes, are ferris-log's): the zeros of an active
//! segment's reserved length, damage in one segment of several, a missing segment, and the
//! framing's errors handed on as the WAL's.

use std::path::Path;
use std::sync::Arc;

use ferris_fs::FileSystem;
use ferris_log::format::BLOCK_SIZE;
use ferris_wal::{Error, RecoveryEvent, RecoveryMode, SegmentEnd, SegmentReader, SyncMode, Wal};

use crate::{
    DIR, HookFs, fs_with_segment, options, records, recover, reserved_segment_bytes, segment_bytes,
    sim,
};

const ALL_MODES: [RecoveryMode; 4] = [
    RecoveryMode::Strict,
    RecoveryMode::TolerateTornTail,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

/// Makes a segment header's checksum match its bytes again, after a test changed them.
fn reseal_header(bytes: &mut [u8]) {
    let crc = ferris_core::checksum::masked_crc32c(&[&bytes[..28]]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
}

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

/// The framing below (`ferris-log`) reports in the shared vocabulary; recovery hands its
/// findings on as the WAL's own variants, naming the segment.
#[test]
fn the_framings_errors_reach_the_caller_as_the_wals() {
    let written = records(20, 4);
    let segment = Path::new(DIR).join("000001.wal");
    let mut damaged = segment_bytes(&written, true);
    let offsets = record_offsets(&damaged);
    damaged[offsets[7] as usize + 9] ^= 0xff;
    let err = recover(&fs_with_segment(&damaged), RecoveryMode::TolerateTornTail)
        .err()
        .expect("corruption before intact records");
    assert!(
        matches!(&err, Error::Corruption(c) if c.offset == offsets[7] && c.file == segment),
        "{err}"
    );

    let mut newer = segment_bytes(&written, true);
    newer[8..12].copy_from_slice(&3u32.to_le_bytes());
    reseal_header(&mut newer);
    for mode in ALL_MODES {
        let err = recover(&fs_with_segment(&newer), mode)
            .err()
            .expect("version 3 is from the future");
        assert!(
            matches!(&err, Error::UnsupportedVersion(v) if (v.format, v.found, v.supported) == ("log", 3, 2) && v.file == segment),
            "{mode:?}: {err}"
        );
    }
}

/// `check_segment` lists what it finds instead of failing on it: a record its caller
/// refuses, by offset, then damage the framing cannot go past; a torn tail is not damage;
/// and a segment that is gone is an I/O error, for the caller to tell apart.
#[test]
fn a_segment_check_lists_damage_and_refused_records_by_offset() {
    let written = records(20, 5);
    let segment = Path::new(DIR).join("000001.wal");
    let mut bytes = segment_bytes(&written, false);
    let offsets = record_offsets(&bytes);
    let fs = fs_with_segment(&bytes);
    let mut seen = 0;
    let check = ferris_wal::check_segment(&*fs, &segment, 1, SegmentEnd::Whole, |record| {
        seen += 1;
        (record == written[3].as_slice()).then(|| "record 3 is refused".to_string())
    })
    .unwrap();
    assert_eq!((check.records, seen), (20, 20));
    assert_eq!(check.bytes, bytes.len() as u64);
    assert_eq!(check.damage.len(), 1, "{:?}", check.damage);
    assert_eq!(
        (check.damage[0].offset, check.damage[0].file.as_path()),
        (offsets[3], segment.as_path())
    );
    assert_eq!(check.torn_tail, None);

    bytes[offsets[7] as usize + 9] ^= 0xff;
    let check = ferris_wal::check_segment(
        &*fs_with_segment(&bytes),
        &segment,
        1,
        SegmentEnd::Whole,
        |_| None,
    )
    .unwrap();
    assert_eq!(check.records, 7, "records up to the damage are read");
    assert_eq!(check.damage.len(), 1);
    assert_eq!(check.damage[0].offset, offsets[7]);

    let torn = &segment_bytes(&written, false)[..offsets[19] as usize + 3];
    let check = ferris_wal::check_segment(
        &*fs_with_segment(torn),
        &segment,
        1,
        SegmentEnd::Whole,
        |_| None,
    )
    .unwrap();
    assert_eq!((check.records, check.torn_tail), (19, Some(offsets[19])));
    assert!(check.damage.is_empty());

    let gone = Path::new(DIR).join("000002.wal");
    let err = ferris_wal::check_segment(&*fs, &gone, 2, SegmentEnd::Whole, |_| None).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
}

/// A segment whose header is intact but whose records are in a newer record format than
/// this build's batches is refused by name, in every mode and by `check_segment`: replaying
/// it until a batch fails to decode would report damage where there is none, and skipping
/// it would drop acknowledged writes.
#[test]
fn a_newer_record_format_is_refused_by_name_in_every_mode() {
    let segment = Path::new(DIR).join("000001.wal");
    let mut newer = segment_bytes(&records(5, 2), true);
    assert_eq!(
        &newer[24..28],
        &3u32.to_le_bytes(),
        "the WAL writes record format 3"
    );
    newer[24..28].copy_from_slice(&4u32.to_le_bytes());
    reseal_header(&mut newer);
    let is_refusal = |err: &Error| {
        matches!(err, Error::UnsupportedVersion(v)
            if (v.format, v.found, v.supported) == ("WAL record", 4, 3) && v.file == segment)
    };
    for mode in ALL_MODES {
        let err = recover(&fs_with_segment(&newer), mode)
            .err()
            .expect("record format 3 is from the future");
        assert!(is_refusal(&err), "{mode:?}: {err}");
    }
    let err = ferris_wal::check_segment(
        &*fs_with_segment(&newer),
        &segment,
        1,
        SegmentEnd::Whole,
        |_| None,
    )
    .unwrap_err();
    assert!(is_refusal(&err), "{err}");
}

/// A file system whose segment 1 holds `versions[n]` from its `n`-th open on, and the last
/// version once they run out: a segment that changes between two reads of it, as one a
/// writer is appending to does.
fn changing_segment(versions: Vec<Vec<u8>>) -> Arc<dyn FileSystem> {
    let (_, inner) = sim(0);
    let segment = Path::new(DIR).join("000001.wal");
    let fs = Arc::clone(&inner);
    let mut versions = versions.into_iter();
    Arc::new(HookFs::with_open_hook(inner, move |path| {
        let Some(bytes) = versions.next().filter(|_| path == segment) else {
            return;
        };
        if fs.exists(&segment).unwrap() {
            fs.remove(&segment).unwrap();
        }
        let mut file = fs.create(&segment).unwrap();
        file.append(&bytes).unwrap();
        file.sync().unwrap();
    }))
}

/// `bytes` (a valid segment 1) with the record at `offset` caught half-copied: its
/// first fragment's payload zeros from 100 bytes in to the end of its block, while its
/// next fragment, in the next block, is already there. A reader whose pages were read at
/// different moments of the copy sees that: damage followed by an intact fragment.
fn half_copied(bytes: &[u8], offset: u64) -> Vec<u8> {
    let (start, block) = (offset as usize, BLOCK_SIZE);
    let mut half = bytes.to_vec();
    half[start + 100..(start / block + 1) * block].fill(0);
    half
}

/// A segment a writer beside the reader may be appending to ([`SegmentEnd::Growing`]):
/// a record caught half-copied looks like damage followed by intact records in one read
/// and is whole in the next, so it is not reported; damage that stays put is, as it is
/// read [`SegmentEnd::Whole`]; damage that moves on every read is each time a write in
/// progress, and the last one is reported as a torn tail; and a segment cut short under
/// the reader (sealed, its reserved zeros cut off) is read again.
#[test]
fn a_growing_segment_reports_only_damage_that_stays_put() {
    // Records 2, 7, 12 and 17 are 40,004 bytes long: each a first fragment running to
    // the end of its block and a last one in the next.
    let written = records(18, 5);
    let bytes = segment_bytes(&written, false);
    let offsets = record_offsets(&bytes);
    let segment = Path::new(DIR).join("000001.wal");
    let check = |fs: &dyn FileSystem, end| {
        ferris_wal::check_segment(fs, &segment, 1, end, |_| None).unwrap()
    };
    let half = half_copied(&bytes, offsets[17]);

    let whole = check(&*fs_with_segment(&half), SegmentEnd::Whole);
    assert_eq!(whole.damage.len(), 1, "{:?}", whole.damage);
    assert_eq!(whole.damage[0].offset, offsets[17]);
    assert!(
        whole.damage[0]
            .reason
            .contains("followed by intact records"),
        "{}",
        whole.damage[0]
    );

    // The copy finishes before the second read.
    let finished = check(
        &*changing_segment(vec![half.clone(), bytes.clone()]),
        SegmentEnd::Growing,
    );
    assert!(finished.damage.is_empty(), "{:?}", finished.damage);
    assert_eq!((finished.records, finished.torn_tail), (18, None));

    // A flipped byte in record 7 is there on every read.
    let mut flipped = bytes.clone();
    flipped[offsets[7] as usize + 9] ^= 0xff;
    let stays = check(&*changing_segment(vec![flipped]), SegmentEnd::Growing);
    assert_eq!(stays.damage.len(), 1, "{:?}", stays.damage);
    assert_eq!((stays.damage[0].offset, stays.records), (offsets[7], 7));

    // A writer that keeps appending: each read catches a later record half-copied.
    let moving: Vec<Vec<u8>> = [2, 7, 12, 17]
        .into_iter()
        .map(|i| half_copied(&segment_bytes(&written[..=i], false), offsets[i]))
        .collect();
    assert_eq!(moving.len(), ferris_wal::GROWING_READS);
    let moved = check(&*changing_segment(moving), SegmentEnd::Growing);
    assert!(moved.damage.is_empty(), "{:?}", moved.damage);
    assert_eq!((moved.records, moved.torn_tail), (17, Some(offsets[17])));

    // Sealed under the reader: the reserved zeros it was about to read are gone.
    let sealed_while_read = |end| {
        let (_, fs) = sim(0);
        let mut writer = Some(fs.create(&segment).unwrap());
        let file = writer.as_mut().unwrap();
        file.append(&bytes).unwrap();
        file.reserve(bytes.len() as u64 + 4 * BLOCK_SIZE as u64)
            .unwrap();
        ferris_wal::check_segment(&*fs, &segment, 1, end, |_| {
            if let Some(mut file) = writer.take() {
                file.reserve(0).unwrap();
            }
            None
        })
    };
    let err = sealed_while_read(SegmentEnd::Whole).unwrap_err();
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
        "{err}"
    );
    let cut = sealed_while_read(SegmentEnd::Growing).unwrap();
    assert_eq!((cut.records, cut.bytes), (18, bytes.len() as u64));
    assert!(cut.damage.is_empty() && cut.torn_tail.is_none(), "{cut:?}");
}
