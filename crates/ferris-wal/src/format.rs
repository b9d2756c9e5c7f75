//! The WAL's own part of its on-disk format: the names of its segment files, and the
//! record format its segments' headers declare.
//!
//! The bytes inside a segment are the framing of `ferris-log` ([`ferris_log::format`]):
//! a 32-byte header, then checksummed fragments on a grid of 32 KiB blocks, and a seal when
//! the segment was closed cleanly. `docs/format/wal.md` specifies both.
//!
//! The header carries a *record format*: what the records hold. The framing does not judge
//! it; the WAL does, here. Its records are write batches (`ferris_core::WriteBatch`), and
//! record format [`RECORD_FORMAT`] (3) is the batch encoding whose entries may name a
//! keyspace and may be range deletes (`ferris_core::BatchOp::DeleteRange`). Record format 2
//! is the same encoding without range deletes, and record format 1 the same from before
//! keyspaces, every entry in the default keyspace; the same decoder reads all three: a batch
//! of puts and deletes that names no keyspace is encoded identically in each. A newer record format is refused by name
//! ([`check_record_format`]), rather than read until a batch fails to decode and reported
//! as damage.

use std::path::{Path, PathBuf};

use ferris_core::UnsupportedVersion;

/// The record format the WAL writes, and the newest it reads: write batches whose entries
/// may name keyspaces and may delete ranges.
pub const RECORD_FORMAT: u32 = 3;

/// The oldest record format the WAL reads: write batches from before keyspaces, which
/// every segment of framing version 1 holds.
pub const OLDEST_RECORD_FORMAT: u32 = ferris_log::format::FIRST_RECORD_FORMAT;

/// The name an [`UnsupportedVersion`] gives the WAL's records: a segment whose framing is
/// too new is format `"log"`, one whose records are too new is this.
pub const RECORD_FORMAT_NAME: &str = "WAL record";

/// Checks that this build reads the records of the segment at `path`, whose header gave
/// `record_format` ([`ferris_log::SegmentReader::record_format`]). `None`, a header damaged
/// beyond reading that the recovery mode went past, passes: the records are then judged by
/// whether they decode.
///
/// # Errors
///
/// [`UnsupportedVersion`] (format [`RECORD_FORMAT_NAME`], naming `path`) for a record format
/// newer than [`RECORD_FORMAT`].
pub fn check_record_format(
    path: &Path,
    record_format: Option<u32>,
) -> Result<(), UnsupportedVersion> {
    match record_format {
        Some(found) if !(OLDEST_RECORD_FORMAT..=RECORD_FORMAT).contains(&found) => {
            Err(UnsupportedVersion {
                file: path.to_path_buf(),
                format: RECORD_FORMAT_NAME,
                found,
                supported: RECORD_FORMAT,
            })
        }
        _ => Ok(()),
    }
}

/// File-name extension of WAL segments.
pub const SEGMENT_EXTENSION: &str = "wal";

/// The file name of segment `id`: at least six digits, then `.wal` (`000042.wal`).
pub fn segment_file_name(id: u64) -> String {
    format!("{id:06}.{SEGMENT_EXTENSION}")
}

/// The path of segment `id` in `dir`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment_file_name(id))
}

/// Parses a segment file name back into its id; `None` for any other name.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SEGMENT_EXTENSION)?.strip_suffix('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_formats_1_to_3_are_read_and_a_newer_one_is_refused_by_name() {
        let path = Path::new("/wal/000003.wal");
        for format in [None, Some(1), Some(2), Some(3)] {
            assert_eq!(check_record_format(path, format), Ok(()), "{format:?}");
        }
        let err = check_record_format(path, Some(4)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/wal/000003.wal has WAL record format version 4; this build reads versions up to 3"
        );
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_file_name(42), "000042.wal");
        assert_eq!(parse_segment_file_name("000042.wal"), Some(42));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        for bad in ["42.log", ".wal", "4a.wal", "000042.wal.tmp", "LOCK"] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }
}
