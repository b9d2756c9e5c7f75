//! Whatever records are framed, the reader gives back exactly those records, in order,
//! with nothing to report, in every mode.

use std::path::Path;

use ferris_log::format::{BLOCK_SIZE, FRAGMENT_HEADER_LEN, SEGMENT_HEADER_LEN};
use ferris_log::{RecoveryMode, SegmentReader};
use proptest::prelude::*;

use crate::{ALL_MODES, PATH, framed, framed_as, fs_with, read, record_offsets, records};

/// The reader hands the header's record format to its caller, whatever it is: judging it
/// is the caller's business. Record format 1 comes from a version 1 header, the others from
/// version 2 ones.
#[test]
fn the_record_format_reaches_the_caller_unjudged() {
    for format in [1, 2, 7, u32::MAX] {
        let bytes = framed_as(1, format, &records(2, 1), true);
        let version = if format == 1 { 1u32 } else { 2 };
        assert_eq!(&bytes[8..12], &version.to_le_bytes());
        let fs = fs_with(&bytes);
        let mut reader =
            SegmentReader::open(&fs, Path::new(PATH), 1, RecoveryMode::Strict).unwrap();
        assert_eq!(reader.record_format(), Some(format));
        assert_eq!(
            reader.next_record().unwrap().unwrap().data,
            records(2, 1)[0]
        );
    }
}

/// Records that end exactly at a block boundary, leave fewer than 7 bytes (a zero
/// trailer), exactly 7 (room for an empty fragment), or span whole blocks.
#[test]
fn records_at_every_kind_of_block_edge_read_back() {
    let first_block = BLOCK_SIZE - SEGMENT_HEADER_LEN - FRAGMENT_HEADER_LEN;
    for first_len in [
        first_block,
        first_block - 3,
        first_block - FRAGMENT_HEADER_LEN,
        first_block + 1,
        3 * BLOCK_SIZE,
    ] {
        let written = vec![vec![0xab; first_len], Vec::new(), b"next".to_vec()];
        for seal in [false, true] {
            let bytes = framed(&written, seal);
            for mode in ALL_MODES {
                let got = read(&bytes, mode).unwrap();
                assert_eq!(got.records, written, "{first_len} {seal} {mode:?}");
                assert!(got.events.is_empty(), "{:?}", got.events);
                assert_eq!(got.sealed, seal);
            }
        }
    }
}

#[test]
fn offsets_are_where_each_record_starts() {
    let written = vec![b"a".to_vec(), b"bc".to_vec(), vec![9; BLOCK_SIZE]];
    let offsets = record_offsets(&framed(&written, false));
    let first = SEGMENT_HEADER_LEN as u64;
    assert_eq!(
        offsets,
        [
            first,
            first + FRAGMENT_HEADER_LEN as u64 + 1,
            first + 2 * FRAGMENT_HEADER_LEN as u64 + 3
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn framed_records_read_back_exactly(
        written in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 30_000..70_000),
            ],
            0..8,
        ),
        seal in any::<bool>(),
    ) {
        let bytes = framed(&written, seal);
        for mode in ALL_MODES {
            let got = read(&bytes, mode).unwrap();
            prop_assert_eq!(&got.records, &written);
            prop_assert!(got.events.is_empty());
            prop_assert_eq!(got.sealed, seal);
        }
    }
}
