//! `crates/ferris-log/src/lib.rs`, exercises 1, 2, 3 and 4.

use std::path::Path;

use ferris_fs::{FileSystem, SimFs};
use ferris_log::format::{
    BLOCK_SIZE, FRAGMENT_HEADER_LEN, SEGMENT_HEADER_LEN, encode_segment_header, frame_record,
    frame_seal,
};
use ferris_log::{RecoveryMode, SegmentReader};

/// The example's three records, framed.
fn example() -> Vec<u8> {
    let mut bytes = encode_segment_header(1, 2).to_vec();
    let mut block_offset = SEGMENT_HEADER_LEN;
    for record in [&b"alpha"[..], &[7; 40_000], b"omega"] {
        frame_record(&mut bytes, &mut block_offset, record);
    }
    bytes
}

/// What a reader in `mode` makes of `bytes`: the records' lengths, the number of events,
/// and whether it ended in an error.
fn read(bytes: &[u8], mode: RecoveryMode) -> (Vec<usize>, usize, bool) {
    let fs = SimFs::new(1);
    let path = Path::new("/000001.log");
    let mut file = fs.create(path).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    let mut reader = SegmentReader::open(&fs, path, 1, mode).unwrap();
    let mut lens = Vec::new();
    let failed = loop {
        match reader.next_record() {
            Ok(Some(r)) => lens.push(r.data.len()),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (lens, reader.events().len(), failed)
}

#[test]
fn ex1_cuts() {
    let bytes = example();
    let mut quiet = Vec::new();
    let mut lose_big = Vec::new();
    for cut in SEGMENT_HEADER_LEN..=bytes.len() {
        let (lens, events, failed) = read(&bytes[..cut], RecoveryMode::TolerateTornTail);
        assert!(!failed);
        if events == 0 {
            quiet.push(cut);
        }
        if !lens.contains(&40_000) {
            lose_big.push(cut);
        }
    }
    // No event only where a cut falls between records: after the header, after "alpha"
    // (32 + 7 + 5), after the big record, and at the end.
    assert_eq!(bytes.len(), 40_070);
    assert_eq!(quiet, [32, 44, 40_058, 40_070]);
    // Any cut inside the big record's fragments (a First in block 0, a Last in block 1)
    // loses it, and "omega" with it.
    assert_eq!(lose_big, (32..=40_057).collect::<Vec<_>>());
}

#[test]
fn ex2_a_flipped_bit_before_the_tail() {
    let mut bytes = example();
    bytes[SEGMENT_HEADER_LEN + FRAGMENT_HEADER_LEN + 2] ^= 1;
    // Intact fragments follow the damage, so it is no torn tail: an error.
    assert_eq!(
        read(&bytes, RecoveryMode::TolerateTornTail),
        (vec![], 0, true)
    );
    // Point in time stops at the damage (an event): nothing before it, so nothing.
    assert_eq!(read(&bytes, RecoveryMode::PointInTime), (vec![], 1, false));
    // Skipping loses "alpha" and keeps the two records after it: a hole in the history.
    assert_eq!(
        read(&bytes, RecoveryMode::SkipCorrupted),
        (vec![40_000, 5], 1, false)
    );
}

#[test]
fn ex3_what_lies_between_two_records() {
    for shorter in [0, 1, 3] {
        let mut bytes = encode_segment_header(1, 2).to_vec();
        let mut block_offset = SEGMENT_HEADER_LEN;
        let first = vec![1; BLOCK_SIZE - SEGMENT_HEADER_LEN - FRAGMENT_HEADER_LEN - shorter];
        frame_record(&mut bytes, &mut block_offset, &first);
        let end_of_first = bytes.len();
        frame_record(&mut bytes, &mut block_offset, b"second");
        // The first record ends `shorter` bytes before the block's end; too few for a
        // fragment header, they are zeros (a trailer), and the second starts block 1.
        assert_eq!(end_of_first, BLOCK_SIZE - shorter);
        assert_eq!(&bytes[end_of_first..BLOCK_SIZE], &vec![0; shorter][..]);
        assert_eq!(&bytes[BLOCK_SIZE + FRAGMENT_HEADER_LEN..], b"second");
    }
}

#[test]
fn ex4_damage_in_a_sealed_segment() {
    let mut bytes = example();
    let mut block_offset = bytes.len() % BLOCK_SIZE;
    frame_seal(&mut bytes, &mut block_offset, 3);
    let omega_at = bytes.iter().rposition(|&b| b == b'a').unwrap();
    let mut damaged = bytes.clone();
    damaged[omega_at] ^= 1;
    // The seal follows the damage: the segment was closed, so it is corruption.
    assert_eq!(
        read(&damaged, RecoveryMode::TolerateTornTail),
        (vec![5, 40_000], 0, true)
    );
    // The same damage with nothing after it may be a torn append: an event.
    let mut unsealed = example();
    let last = unsealed.len() - 1;
    unsealed[last] ^= 1;
    assert_eq!(
        read(&unsealed, RecoveryMode::TolerateTornTail),
        (vec![5, 40_000], 1, false)
    );
}
