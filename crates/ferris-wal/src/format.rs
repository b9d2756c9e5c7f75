//! The WAL's own part of its on-disk format: the names of its segment files.
//!
//! The bytes inside a segment are the framing of `ferris-log` ([`ferris_log::format`]):
//! a 32-byte header, then checksummed fragments on a grid of 32 KiB blocks, and a seal when
//! the segment was closed cleanly. `docs/format/wal.md` specifies both.

use std::path::{Path, PathBuf};

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
