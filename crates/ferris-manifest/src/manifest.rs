//! The manifest log: version edits, one record each, in `ferris-log`'s framing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::{IoResultExt, UnsupportedVersion};
use ferris_fs::{FileSystem, WritableFile};
use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record};
use ferris_log::{RecoveryEvent, RecoveryMode, SegmentReader};

use crate::edit::{FORMAT_VERSION, LevelState, VersionEdit};
use crate::error::{Error, Result};

const PREFIX: &str = "MANIFEST-";

/// The file name of manifest `number`: `MANIFEST-000005`.
pub fn manifest_file_name(number: u64) -> String {
    format!("{PREFIX}{number:06}")
}

/// Parses a manifest file name back into its number; `None` for any other name.
pub fn parse_manifest_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Appends version edits to one manifest file.
///
/// Every [`append`](ManifestWriter::append) is synced before it returns: an edit is in
/// effect exactly when its record is durable. After a failed write or sync the writer is
/// poisoned, because whether the edit reached the disk is unknown.
#[derive(Debug)]
pub struct ManifestWriter {
    number: u64,
    path: PathBuf,
    file: Box<dyn WritableFile>,
    block_offset: usize,
    buf: Vec<u8>,
    poisoned: bool,
}

impl ManifestWriter {
    /// Creates manifest `number` in `dir` holding `snapshot` (which must carry the format
    /// version, as [`LevelState::snapshot`] does) and syncs it and the directory. CURRENT is
    /// not touched: point it here with [`write_current`](crate::write_current) afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file exists or any write or sync fails.
    pub fn create(
        fs: &Arc<dyn FileSystem>,
        dir: &Path,
        number: u64,
        snapshot: &VersionEdit,
    ) -> Result<ManifestWriter> {
        debug_assert!(snapshot.format_version.is_some());
        let path = dir.join(manifest_file_name(number));
        let mut file = fs.create(&path).at(&path)?;
        file.append(&encode_segment_header(number, FORMAT_VERSION))
            .at(&path)?;
        let mut writer = ManifestWriter {
            number,
            path,
            file,
            block_offset: SEGMENT_HEADER_LEN,
            buf: Vec::new(),
            poisoned: false,
        };
        writer.append(snapshot)?;
        fs.sync_dir(dir).at(dir)?;
        Ok(writer)
    }

    /// Appends `edit` and syncs it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the write or sync fails, or an earlier one did (the writer is then
    /// poisoned: start a new manifest from the state known to be durable).
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        if self.poisoned {
            return Err(Error::io(
                &self.path,
                std::io::Error::other("an earlier manifest write failed"),
            ));
        }
        self.buf.clear();
        frame_record(&mut self.buf, &mut self.block_offset, &edit.encode());
        let result = self
            .file
            .append(&self.buf)
            .and_then(|()| self.file.sync())
            .at(&self.path);
        self.poisoned = result.is_err();
        result
    }

    /// The manifest's number.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.file.len()
    }

    /// True when nothing has been written (never, once created).
    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }
}

/// What replaying a manifest found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replayed {
    /// The state the edits add up to.
    pub state: LevelState,
    /// How many edits were applied.
    pub edits: u64,
    /// The manifest's size in bytes.
    pub len: u64,
    /// Tolerated damage: a torn last record, from a crash during an append that was never
    /// acknowledged.
    pub events: Vec<RecoveryEvent>,
}

/// Replays manifest `number` in `dir` into the state it describes.
///
/// A torn last record is dropped (its edit never took effect: the writer had not returned);
/// any other damage is an error.
///
/// # Errors
///
/// [`Error::Io`] if it cannot be read; [`Error::Corruption`] for damage, an edit that does
/// not decode, edits that contradict each other, or a manifest that does not begin with a
/// snapshot; [`Error::UnsupportedVersion`] for a newer format: of the edits (format
/// `"manifest"`) or of the framing (format `"log"`).
pub fn replay(fs: &dyn FileSystem, dir: &Path, number: u64) -> Result<Replayed> {
    let path = dir.join(manifest_file_name(number));
    let mut reader = SegmentReader::open(fs, &path, number, RecoveryMode::TolerateTornTail)?;
    let newer = |found: u32| {
        Error::UnsupportedVersion(UnsupportedVersion {
            file: path.clone(),
            format: "manifest",
            found,
            supported: FORMAT_VERSION,
        })
    };
    // The header names the format of the edits before any is decoded: a newer format's
    // first edit may hold tags this build does not know, which decoding would call
    // corruption. (A damaged header names none; the first edit's tag 1 is checked below.)
    if let Some(found) = reader.record_format().filter(|&v| v > FORMAT_VERSION) {
        return Err(newer(found));
    }
    let mut state = LevelState::default();
    let mut edits = 0u64;
    while let Some(record) = reader.next_record()? {
        let corrupt = |reason: String| Error::corruption(&path, record.offset, reason);
        let edit =
            VersionEdit::decode(&record.data).map_err(|e| corrupt(format!("version edit: {e}")))?;
        if edits == 0 {
            match edit.format_version {
                None => return Err(corrupt("the first edit has no format version".into())),
                Some(v) if v > FORMAT_VERSION => return Err(newer(v)),
                Some(_) => {}
            }
        }
        state
            .apply(&edit)
            .map_err(|e| corrupt(format!("version edit {edits}: {e}")))?;
        edits += 1;
    }
    if edits == 0 {
        return Err(Error::corruption(&path, 0, "the manifest holds no edits"));
    }
    let len = fs.open(&path).at(&path)?.len();
    Ok(Replayed {
        state,
        edits,
        len,
        events: reader.events().to_vec(),
    })
}
