//! The framing: the bytes of one log file. `docs/format/wal.md` is the byte-level
//! specification; this module is its implementation.
//!
//! One framed file is a **segment**: the WAL is a sequence of them, a manifest is one.
//!
//! ```text
//! segment file
//! +--------------------+------------------------------------------------------------+
//! | header (32 bytes)  | fragments ... | trailer | fragments ... | ... | seal?         |
//! +--------------------+------------------------------------------------------------+
//! |<------------------- block 0 (32 KiB) ----------------->|<--- block 1 ---> ...
//!
//! fragment = crc32c: u32 LE | len: u16 LE | kind: u8 | payload (len bytes)
//!            crc covers len, kind and payload (bytes 4 .. 7 + len), masked
//! ```
//!
//! Fragments never cross a 32 KiB block boundary. A record that does not fit in what is left
//! of a block is split into a `First`, any number of `Middle`, and a `Last` fragment; one that
//! fits is a single `Full` fragment. When fewer than 7 bytes remain in a block they are
//! zero-filled (the *trailer*). The fixed block grid is what lets a reader resynchronise
//! after damage: the next block always begins with a fragment header.
//!
//! Writing is pure: [`encode_segment_header`], [`frame_record`] and [`frame_seal`] append
//! bytes to a buffer, and the caller decides when to append the buffer to its file and
//! when to sync. The same records framed from the same block offset are always the same
//! bytes, which is what lets golden files pin the format.

use ferris_core::checksum::masked_crc32c;

/// Every framed file begins with these 8 bytes. They say "WAL" because the WAL was the
/// first user of the framing; the manifest, framed the same way, carries them too.
pub const MAGIC: [u8; 8] = *b"FRSDBWAL";

/// The newest framing version this build writes and reads. It versions the framing only:
/// what the records hold is the header's *record format*, which the file's writer chooses
/// and the file's reader judges (the WAL's `ferris_wal::format::RECORD_FORMAT`, the
/// manifest's own format version).
///
/// Version 2 gave the header its record format (bytes 24..28, reserved and zero in version
/// 1). A writer whose records are still [`FIRST_RECORD_FORMAT`] writes a version 1 header
/// ([`framing_version_for`]), so that builds from before version 2 keep reading its file.
pub const FORMAT_VERSION: u32 = 2;

/// The record format of every file framed before the header could name one: what a version
/// 1 header reports.
pub const FIRST_RECORD_FORMAT: u32 = 1;

/// Size of the header at the start of every framed file.
pub const SEGMENT_HEADER_LEN: usize = 32;

/// Size of a block. Fragments never cross a block boundary.
pub const BLOCK_SIZE: usize = 32 * 1024;

/// Size of a fragment header: crc (4), length (2), kind (1).
pub const FRAGMENT_HEADER_LEN: usize = 7;

/// The largest record the framing carries (1 GiB). The reader treats a record that grows
/// past this while its fragments are assembled as corruption, so no input can make it
/// allocate more; a writer must refuse longer records before it frames them.
pub const MAX_RECORD_LEN: u64 = 1 << 30;

/// Length of the seal record's payload: the segment's record count, a u64.
pub const SEAL_PAYLOAD_LEN: usize = 8;

/// The kind byte of a fragment. The values are part of the on-disk format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FragmentKind {
    /// A whole record in one fragment.
    Full = 1,
    /// The first piece of a record split across blocks.
    First = 2,
    /// A middle piece of a split record.
    Middle = 3,
    /// The last piece of a split record.
    Last = 4,
    /// The seal: the file was closed cleanly, and holds this many records.
    Seal = 5,
}

impl FragmentKind {
    /// Decodes a kind byte. Zero is not a kind: it marks zero-filled padding.
    pub fn from_u8(tag: u8) -> Option<FragmentKind> {
        match tag {
            1 => Some(FragmentKind::Full),
            2 => Some(FragmentKind::First),
            3 => Some(FragmentKind::Middle),
            4 => Some(FragmentKind::Last),
            5 => Some(FragmentKind::Seal),
            _ => None,
        }
    }
}

/// The checksum of a fragment: over the length and kind bytes (`header[4..7]`) and the
/// payload, masked.
pub fn fragment_crc(len_and_kind: &[u8], payload: &[u8]) -> u32 {
    masked_crc32c(&[len_and_kind, payload])
}

/// The framing version a header for records of `record_format` is written with: 1 for
/// [`FIRST_RECORD_FORMAT`], whose files every build reads, [`FORMAT_VERSION`] for any other,
/// which only a build that can judge the record format may read.
///
/// A version 1 header cannot name a record format, and needs none for format 1. Writing it
/// keeps such a file byte for byte what it was before version 2, and readable by the builds
/// from before version 2, which understand its records: only a file an older build could
/// not understand gets the header that build refuses.
pub fn framing_version_for(record_format: u32) -> u32 {
    if record_format == FIRST_RECORD_FORMAT {
        1
    } else {
        FORMAT_VERSION
    }
}

/// Encodes the 32-byte segment header of a file whose records are in `record_format`, in
/// the framing version [`framing_version_for`] gives.
///
/// ```text
/// 0      8       12           16            24              28      32
/// | magic | version | block size | segment id | record format | crc  |
/// ```
///
/// In a version 1 header the record format's bytes are zero.
///
/// # Panics
///
/// If `record_format` is 0: no record format has that number, so the caller has a bug.
pub fn encode_segment_header(segment_id: u64, record_format: u32) -> [u8; SEGMENT_HEADER_LEN] {
    assert!(record_format != 0, "record format 0 does not exist");
    let version = framing_version_for(record_format);
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    h[12..16].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
    h[16..24].copy_from_slice(&segment_id.to_le_bytes());
    if version >= 2 {
        h[24..28].copy_from_slice(&record_format.to_le_bytes());
    }
    let crc = masked_crc32c(&[&h[..28]]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What a segment header says, once its checksum has been verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The format version that wrote the segment.
    pub version: u32,
    /// The segment's id: the WAL's segment id, the manifest's number. It must match the
    /// id the file's name gives.
    pub segment_id: u64,
    /// What the records hold, as the file's writer said: [`FIRST_RECORD_FORMAT`] for a
    /// version 1 header, at least 1 always. The framing does not judge it; the caller does.
    pub record_format: u32,
}

/// Why a segment header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The bytes are damaged: short, a bad checksum, the wrong magic or block size.
    Damaged(&'static str),
    /// The header is intact but from a newer format version.
    UnsupportedVersion(u32),
}

/// Decodes and verifies a segment header.
///
/// # Errors
///
/// [`HeaderError::Damaged`] for any checksum, magic or field mismatch (a version 1 header
/// whose reserved bytes are not zero, a version 2 header with record format 0), and
/// [`HeaderError::UnsupportedVersion`] for an intact header of a newer version. Any record
/// format of 1 or more is returned, not judged.
pub fn decode_segment_header(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
    let Some(h) = bytes.get(..SEGMENT_HEADER_LEN) else {
        return Err(HeaderError::Damaged("segment header is incomplete"));
    };
    let stored = u32::from_le_bytes(h[28..32].try_into().expect("4 bytes"));
    if stored != masked_crc32c(&[&h[..28]]) {
        return Err(HeaderError::Damaged("segment header checksum mismatch"));
    }
    if h[0..8] != MAGIC {
        return Err(HeaderError::Damaged("not a log segment (bad magic)"));
    }
    let version = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        return Err(HeaderError::UnsupportedVersion(version));
    }
    if version == 0 {
        return Err(HeaderError::Damaged(
            "segment format version 0 does not exist",
        ));
    }
    let block_size = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes"));
    if block_size as usize != BLOCK_SIZE {
        return Err(HeaderError::Damaged("segment block size is not 32 KiB"));
    }
    let record_format = u32::from_le_bytes(h[24..28].try_into().expect("4 bytes"));
    let record_format = match (version, record_format) {
        (1, 0) => FIRST_RECORD_FORMAT,
        (1, _) => return Err(HeaderError::Damaged("reserved header bytes are not zero")),
        (_, 0) => return Err(HeaderError::Damaged("record format 0 does not exist")),
        (_, format) => format,
    };
    Ok(SegmentHeader {
        version,
        segment_id: u64::from_le_bytes(h[16..24].try_into().expect("8 bytes")),
        record_format,
    })
}

/// Appends the fragments of one record to `out`, starting at `*block_offset` within the
/// current block, and advances `*block_offset`.
///
/// A new segment's first record starts at `block_offset` [`SEGMENT_HEADER_LEN`], after
/// the header. Any length is framed, but a reader refuses a record longer than
/// [`MAX_RECORD_LEN`]: check the length first.
///
/// # Panics
///
/// If `*block_offset` is past the end of a block (more than [`BLOCK_SIZE`]): it can only
/// have come from somewhere other than this module's functions.
pub fn frame_record(out: &mut Vec<u8>, block_offset: &mut usize, record: &[u8]) {
    assert!(*block_offset <= BLOCK_SIZE, "block offset past the block");
    let mut left = record;
    let mut first = true;
    loop {
        let space = BLOCK_SIZE - *block_offset;
        if space < FRAGMENT_HEADER_LEN {
            // Too little room for a header: zero-fill the trailer and start a new block.
            out.resize(out.len() + space, 0);
            *block_offset = 0;
            continue;
        }
        let n = left.len().min(space - FRAGMENT_HEADER_LEN);
        let last = n == left.len();
        let kind = match (first, last) {
            (true, true) => FragmentKind::Full,
            (true, false) => FragmentKind::First,
            (false, true) => FragmentKind::Last,
            (false, false) => FragmentKind::Middle,
        };
        push_fragment(out, kind, &left[..n]);
        *block_offset += FRAGMENT_HEADER_LEN + n;
        left = &left[n..];
        first = false;
        if last {
            return;
        }
    }
}

/// Appends the seal to `out`: zero padding up to the next block boundary, then a `Seal`
/// fragment holding the segment's record count. Starting the seal on a fresh block means a
/// reader that finds damage anywhere before it will also find the seal intact at a block
/// boundary, and so know the damage is not a torn tail.
///
/// # Panics
///
/// As [`frame_record`].
pub fn frame_seal(out: &mut Vec<u8>, block_offset: &mut usize, n_records: u64) {
    assert!(*block_offset <= BLOCK_SIZE, "block offset past the block");
    if *block_offset != 0 {
        out.resize(out.len() + (BLOCK_SIZE - *block_offset), 0);
    }
    push_fragment(out, FragmentKind::Seal, &n_records.to_le_bytes());
    *block_offset = FRAGMENT_HEADER_LEN + SEAL_PAYLOAD_LEN;
}

fn push_fragment(out: &mut Vec<u8>, kind: FragmentKind, payload: &[u8]) {
    let len = u16::try_from(payload.len()).expect("a fragment fits in a 32 KiB block");
    let mut len_and_kind = [0u8; 3];
    len_and_kind[..2].copy_from_slice(&len.to_le_bytes());
    len_and_kind[2] = kind as u8;
    out.extend_from_slice(&fragment_crc(&len_and_kind, payload).to_le_bytes());
    out.extend_from_slice(&len_and_kind);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// `h` with its checksum made to match its other bytes again.
    fn resealed(mut h: [u8; SEGMENT_HEADER_LEN]) -> [u8; SEGMENT_HEADER_LEN] {
        let crc = masked_crc32c(&[&h[..28]]);
        h[28..32].copy_from_slice(&crc.to_le_bytes());
        h
    }

    #[test]
    fn header_round_trips_and_rejects_each_damage() {
        for (record_format, version) in [(1, 1), (2, 2), (u32::MAX, 2)] {
            let h = encode_segment_header(42, record_format);
            assert_eq!(
                decode_segment_header(&h),
                Ok(SegmentHeader {
                    version,
                    segment_id: 42,
                    record_format,
                })
            );
            assert!(matches!(
                decode_segment_header(&h[..31]),
                Err(HeaderError::Damaged(_))
            ));
            for byte in 0..SEGMENT_HEADER_LEN {
                let mut bad = h;
                bad[byte] ^= 0x10;
                assert!(
                    matches!(decode_segment_header(&bad), Err(HeaderError::Damaged(_))),
                    "record format {record_format}, byte {byte}"
                );
            }
        }
    }

    /// The bytes a version 1 build wrote: a header for record format 1 has not changed.
    #[test]
    fn record_format_1_is_written_as_a_version_1_header() {
        let h = encode_segment_header(7, FIRST_RECORD_FORMAT);
        let mut v1 = [0u8; SEGMENT_HEADER_LEN];
        v1[0..8].copy_from_slice(b"FRSDBWAL");
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        v1[12..16].copy_from_slice(&32768u32.to_le_bytes());
        v1[16..24].copy_from_slice(&7u64.to_le_bytes());
        assert_eq!(h, resealed(v1));
        assert_eq!(framing_version_for(1), 1);
        assert_eq!(framing_version_for(2), FORMAT_VERSION);
    }

    #[test]
    fn a_version_2_header_may_name_record_format_1_but_not_0() {
        let mut h = encode_segment_header(3, 5);
        h[24..28].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(
            decode_segment_header(&resealed(h)).unwrap().record_format,
            1
        );
        h[24..28].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            decode_segment_header(&resealed(h)),
            Err(HeaderError::Damaged("record format 0 does not exist"))
        );
    }

    #[test]
    fn a_version_1_header_must_keep_its_reserved_bytes_zero() {
        let mut h = encode_segment_header(3, 1);
        h[24] = 2;
        assert_eq!(
            decode_segment_header(&resealed(h)),
            Err(HeaderError::Damaged("reserved header bytes are not zero"))
        );
    }

    #[test]
    #[should_panic(expected = "record format 0 does not exist")]
    fn record_format_0_is_a_bug() {
        encode_segment_header(1, 0);
    }

    #[test]
    fn newer_version_is_reported_as_such() {
        let mut h = encode_segment_header(1, 2);
        h[8..12].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            decode_segment_header(&resealed(h)),
            Err(HeaderError::UnsupportedVersion(3))
        );
    }

    proptest! {
        /// A header with a valid checksum but any other bytes at all: decoding never panics,
        /// and what it accepts is a header this build could have written.
        #[test]
        fn arbitrary_headers_never_panic(body in proptest::array::uniform28(any::<u8>())) {
            let mut h = [0u8; SEGMENT_HEADER_LEN];
            h[..28].copy_from_slice(&body);
            if let Ok(header) = decode_segment_header(&resealed(h)) {
                prop_assert!(header.record_format >= 1);
                prop_assert!((1..=FORMAT_VERSION).contains(&header.version));
                if header.version == 1 {
                    prop_assert_eq!(header.record_format, FIRST_RECORD_FORMAT);
                }
            }
        }
    }

    #[test]
    fn records_are_split_at_block_boundaries() {
        let mut out = Vec::new();
        let mut offset = SEGMENT_HEADER_LEN;
        frame_record(&mut out, &mut offset, &vec![7u8; BLOCK_SIZE * 2]);
        // First fills block 0, a Middle fills block 1, the Last lands in block 2.
        assert_eq!(out[6], FragmentKind::First as u8);
        let block1 = BLOCK_SIZE - SEGMENT_HEADER_LEN;
        assert_eq!(out[block1 + 6], FragmentKind::Middle as u8);
        assert_eq!(out[block1 + BLOCK_SIZE + 6], FragmentKind::Last as u8);
        assert_eq!((SEGMENT_HEADER_LEN + out.len()) % BLOCK_SIZE, offset);
    }

    #[test]
    fn short_block_tail_becomes_a_zero_trailer() {
        let mut out = Vec::new();
        let mut offset = BLOCK_SIZE - 3;
        frame_record(&mut out, &mut offset, b"abc");
        assert_eq!(&out[..3], &[0, 0, 0]);
        assert_eq!(out[3 + 6], FragmentKind::Full as u8);
        assert_eq!(offset, FRAGMENT_HEADER_LEN + 3);
    }

    #[test]
    fn seal_starts_a_fresh_block() {
        let mut out = Vec::new();
        let mut offset = 100;
        frame_seal(&mut out, &mut offset, 9);
        assert_eq!(
            out.len(),
            BLOCK_SIZE - 100 + FRAGMENT_HEADER_LEN + SEAL_PAYLOAD_LEN
        );
        assert_eq!(out[BLOCK_SIZE - 100 + 6], FragmentKind::Seal as u8);
    }
}
