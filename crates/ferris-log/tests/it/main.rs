//! Integration tests of ferris-log: one binary, one module per concern. Shared helpers live
//! here: segments are framed in memory with the crate's own functions, written to a
//! simulated file system, and read back with `SegmentReader`.

mod conformance;
mod damage;
mod golden;
mod round_trip;

use std::path::Path;

use ferris_fs::{FileSystem, SimFs};
use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record, frame_seal};
use ferris_log::{Error, RecoveryEvent, RecoveryMode, SegmentReader};

/// Where every test's segment lives. The id the name gives does not matter to the reader:
/// it is passed to `SegmentReader::open` with the path.
pub(crate) const PATH: &str = "/log/000001.log";

pub(crate) const ALL_MODES: [RecoveryMode; 4] = [
    RecoveryMode::Strict,
    RecoveryMode::TolerateTornTail,
    RecoveryMode::PointInTime,
    RecoveryMode::SkipCorrupted,
];

/// `n` records of varied sizes, some crossing block boundaries; record `i` is tagged with `i`.
pub(crate) fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let len = match (i as u64 * 7 + seed) % 5 {
                0 => 0,
                1 => 10,
                2 => 300,
                3 => 5_000,
                _ => 40_000,
            };
            let mut r = (i as u32).to_le_bytes().to_vec();
            r.extend((0..len).map(|j| (j as u64 ^ seed ^ i as u64) as u8));
            r
        })
        .collect()
}

/// The record format the tests' segments declare: not the first, so that their headers are
/// of the newest framing version. The framing does not judge it.
pub(crate) const RECORD_FORMAT: u32 = 2;

/// Segment 1 holding `records`, framed from the header on, and sealed if `seal`.
pub(crate) fn framed(records: &[Vec<u8>], seal: bool) -> Vec<u8> {
    framed_as(1, RECORD_FORMAT, records, seal)
}

/// Segment `id` whose header declares `record_format`, holding `records`, framed from the
/// header on, and sealed if `seal`.
pub(crate) fn framed_as(id: u64, record_format: u32, records: &[Vec<u8>], seal: bool) -> Vec<u8> {
    let mut out = encode_segment_header(id, record_format).to_vec();
    let mut block_offset = SEGMENT_HEADER_LEN;
    for record in records {
        frame_record(&mut out, &mut block_offset, record);
    }
    if seal {
        frame_seal(&mut out, &mut block_offset, records.len() as u64);
    }
    out
}

/// A simulated file system holding exactly `bytes` at [`PATH`].
pub(crate) fn fs_with(bytes: &[u8]) -> SimFs {
    let fs = SimFs::new(0);
    fs.create_dir_all(Path::new(PATH).parent().unwrap())
        .unwrap();
    let mut file = fs.create(Path::new(PATH)).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    fs
}

/// What a reader returned: the records, the events, and whether the segment was sealed.
#[derive(Debug)]
pub(crate) struct Read {
    pub records: Vec<Vec<u8>>,
    pub events: Vec<RecoveryEvent>,
    pub sealed: bool,
}

/// Reads segment 1 from `fs` to its end.
pub(crate) fn read_fs(fs: &SimFs, mode: RecoveryMode) -> Result<Read, Error> {
    let mut reader = SegmentReader::open(fs, Path::new(PATH), 1, mode)?;
    let mut records = Vec::new();
    while let Some(record) = reader.next_record()? {
        assert_eq!(record.segment_id, 1);
        records.push(record.data);
    }
    Ok(Read {
        records,
        events: reader.events().to_vec(),
        sealed: reader.is_sealed(),
    })
}

/// Reads `bytes` as segment 1.
pub(crate) fn read(bytes: &[u8], mode: RecoveryMode) -> Result<Read, Error> {
    read_fs(&fs_with(bytes), mode)
}

/// Offsets of each record's first fragment in `bytes` (a valid segment 1).
pub(crate) fn record_offsets(bytes: &[u8]) -> Vec<u64> {
    let fs = fs_with(bytes);
    let mut reader = SegmentReader::open(&fs, Path::new(PATH), 1, RecoveryMode::Strict).unwrap();
    std::iter::from_fn(|| reader.next_record().unwrap().map(|r| r.offset)).collect()
}

/// Asserts that `got` is a prefix of `want`.
#[track_caller]
pub(crate) fn assert_prefix(got: &[Vec<u8>], want: &[Vec<u8>]) {
    assert!(
        got.len() <= want.len(),
        "read {} records, only {} were written",
        got.len(),
        want.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "record {i} differs: read {} bytes, wrote {} bytes",
            g.len(),
            w.len()
        );
    }
}
