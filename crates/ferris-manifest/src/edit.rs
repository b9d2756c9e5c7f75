//! Version edits: the records of the manifest, and the state they add up to.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::coding::{Decoder, put_varint64};
pub use ferris_core::level::{FileMeta, NUM_LEVELS};
use ferris_core::{DecodeError, InternalKey, SeqNo};

/// The manifest format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

// Field tags. A tag this build does not know is corruption, never skipped: a newer format
// bumps FORMAT_VERSION instead, so an old build refuses it with a clear error.
const TAG_FORMAT_VERSION: u64 = 1;
const TAG_LOG_NUMBER: u64 = 2;
const TAG_NEXT_FILE_NUMBER: u64 = 3;
const TAG_LAST_SEQUENCE: u64 = 4;
const TAG_DELETED_FILE: u64 = 5;
const TAG_NEW_FILE: u64 = 6;

/// One change to the set of live files, plus the counters that go with it.
///
/// The engine writes one edit per flush (and, later, per compaction): a table added to L0,
/// the WAL segments it made obsolete, the file number and sequence number it used up. An
/// edit is applied whole or not at all: it is one record in the manifest log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// Set in the first edit of every manifest: the format it was written in.
    pub format_version: Option<u32>,
    /// WAL segments older than this are no longer needed: their writes are in tables.
    pub log_number: Option<u64>,
    /// The next number to give a table or manifest file.
    pub next_file_number: Option<u64>,
    /// Every sequence number up to this one has been used.
    pub last_sequence: Option<SeqNo>,
    /// Files removed: `(level, number)`.
    pub deleted: Vec<(usize, u64)>,
    /// Files added: `(level, meta)`.
    pub added: Vec<(usize, FileMeta)>,
}

impl VersionEdit {
    /// Encodes the edit as tagged fields (see `docs/format/manifest.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(v) = self.format_version {
            put_varint64(&mut out, TAG_FORMAT_VERSION);
            put_varint64(&mut out, u64::from(v));
        }
        for (tag, value) in [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE_NUMBER, self.next_file_number),
            (TAG_LAST_SEQUENCE, self.last_sequence),
        ] {
            if let Some(v) = value {
                put_varint64(&mut out, tag);
                put_varint64(&mut out, v);
            }
        }
        for &(level, number) in &self.deleted {
            put_varint64(&mut out, TAG_DELETED_FILE);
            put_varint64(&mut out, level as u64);
            put_varint64(&mut out, number);
        }
        for (level, f) in &self.added {
            put_varint64(&mut out, TAG_NEW_FILE);
            put_varint64(&mut out, *level as u64);
            put_varint64(&mut out, f.number);
            put_varint64(&mut out, f.size);
            for key in [&f.smallest, &f.largest] {
                put_varint64(&mut out, key.encoded_len() as u64);
                key.encode_into(&mut out);
            }
            for v in [f.min_seq, f.max_seq, f.entries, f.tombstones] {
                put_varint64(&mut out, v);
            }
        }
        out
    }

    /// Decodes an edit.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for truncated fields, an unknown tag, a level out of range or a
    /// key that is not an internal key.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, DecodeError> {
        let mut d = Decoder::new(bytes);
        let mut edit = VersionEdit::default();
        while !d.is_empty() {
            let at = d.position();
            match d.varint64()? {
                TAG_FORMAT_VERSION => {
                    edit.format_version = Some(d.varint32()?);
                }
                TAG_LOG_NUMBER => edit.log_number = Some(d.varint64()?),
                TAG_NEXT_FILE_NUMBER => edit.next_file_number = Some(d.varint64()?),
                TAG_LAST_SEQUENCE => edit.last_sequence = Some(d.varint64()?),
                TAG_DELETED_FILE => {
                    let level = level(&mut d)?;
                    edit.deleted.push((level, d.varint64()?));
                }
                TAG_NEW_FILE => {
                    let level = level(&mut d)?;
                    let number = d.varint64()?;
                    let size = d.varint64()?;
                    let smallest = internal_key(&mut d)?;
                    let largest = internal_key(&mut d)?;
                    let meta = FileMeta {
                        number,
                        size,
                        smallest,
                        largest,
                        min_seq: d.varint64()?,
                        max_seq: d.varint64()?,
                        entries: d.varint64()?,
                        tombstones: d.varint64()?,
                    };
                    edit.added.push((level, meta));
                }
                _ => return Err(DecodeError::new(at, "unknown version edit tag")),
            }
        }
        Ok(edit)
    }
}

fn level(d: &mut Decoder<'_>) -> Result<usize, DecodeError> {
    let at = d.position();
    let level = d.varint64()?;
    if level >= NUM_LEVELS as u64 {
        return Err(DecodeError::new(at, "level out of range"));
    }
    Ok(level as usize)
}

fn internal_key(d: &mut Decoder<'_>) -> Result<InternalKey, DecodeError> {
    let at = d.position();
    let bytes = d.length_prefixed()?;
    let key = ferris_core::InternalKeyRef::decode(bytes).map_err(|e| e.at(at))?;
    Ok(InternalKey::new(
        Bytes::copy_from_slice(key.user_key),
        key.seq,
        key.kind,
    ))
}

/// The state a sequence of edits adds up to: the live files of each level and the
/// counters. Recovery replays the manifest into one; the engine keeps one in step with
/// every edit it writes, and starts each new manifest with [`LevelState::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelState {
    /// The live files of each level, by file number.
    pub levels: Vec<BTreeMap<u64, Arc<FileMeta>>>,
    /// WAL segments older than this are obsolete.
    pub log_number: u64,
    /// The next file number to hand out.
    pub next_file_number: u64,
    /// The last sequence number used.
    pub last_sequence: SeqNo,
}

impl Default for LevelState {
    fn default() -> Self {
        LevelState {
            levels: vec![BTreeMap::new(); NUM_LEVELS],
            log_number: 0,
            next_file_number: 1,
            last_sequence: 0,
        }
    }
}

impl LevelState {
    /// Applies `edit`, checking that it is consistent with the state: a file is added only
    /// once and deleted only from the level that holds it, and counters never go back.
    ///
    /// # Errors
    ///
    /// A description of the inconsistency; the state is unchanged.
    pub fn apply(&mut self, edit: &VersionEdit) -> Result<(), String> {
        for &(level, number) in &edit.deleted {
            if !self.levels[level].contains_key(&number) {
                return Err(format!(
                    "deletes file {number} which is not in level {level}"
                ));
            }
        }
        for (level, meta) in &edit.added {
            if self.levels.iter().any(|l| l.contains_key(&meta.number)) {
                let deleted_here = edit.deleted.iter().any(|&(_, n)| n == meta.number);
                if !deleted_here {
                    return Err(format!(
                        "adds file {} to level {level}, but it is already live",
                        meta.number
                    ));
                }
            }
        }
        if let Some(next) = edit.next_file_number
            && next < self.next_file_number
        {
            return Err(format!(
                "next file number goes back from {} to {next}",
                self.next_file_number
            ));
        }
        for &(level, number) in &edit.deleted {
            self.levels[level].remove(&number);
        }
        for (level, meta) in &edit.added {
            self.levels[*level].insert(meta.number, Arc::new(meta.clone()));
            self.next_file_number = self.next_file_number.max(meta.number + 1);
        }
        if let Some(log) = edit.log_number {
            self.log_number = self.log_number.max(log);
        }
        if let Some(next) = edit.next_file_number {
            self.next_file_number = self.next_file_number.max(next);
        }
        if let Some(seq) = edit.last_sequence {
            self.last_sequence = self.last_sequence.max(seq);
        }
        Ok(())
    }

    /// Hands out the next file number (for a table or a manifest), never the same twice.
    pub fn take_file_number(&mut self) -> u64 {
        self.next_file_number += 1;
        self.next_file_number - 1
    }

    /// One edit that rebuilds this whole state from nothing, carrying the format version:
    /// the first record of a new manifest.
    pub fn snapshot(&self) -> VersionEdit {
        VersionEdit {
            format_version: Some(FORMAT_VERSION),
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            deleted: Vec::new(),
            added: self
                .levels
                .iter()
                .enumerate()
                .flat_map(|(level, files)| files.values().map(move |f| (level, (**f).clone())))
                .collect(),
        }
    }

    /// Every live file number, across levels.
    pub fn live_files(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.iter().flat_map(|l| l.keys().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferris_core::ValueKind;
    use proptest::prelude::*;

    fn meta(number: u64) -> FileMeta {
        FileMeta {
            number,
            size: 1000 + number,
            smallest: InternalKey::new(&b"a"[..], 5, ValueKind::Put),
            largest: InternalKey::new(&b"z"[..], 1, ValueKind::Delete),
            min_seq: 1,
            max_seq: 5,
            entries: 10,
            tombstones: 2,
        }
    }

    #[test]
    fn an_edit_round_trips() {
        let edit = VersionEdit {
            format_version: Some(1),
            log_number: Some(7),
            next_file_number: Some(12),
            last_sequence: Some(99),
            deleted: vec![(0, 3), (1, 4)],
            added: vec![(0, meta(10)), (6, meta(11))],
        };
        assert_eq!(VersionEdit::decode(&edit.encode()).unwrap(), edit);
        assert_eq!(
            VersionEdit::decode(&VersionEdit::default().encode()).unwrap(),
            VersionEdit::default()
        );
    }

    #[test]
    fn unknown_tags_and_bad_levels_are_errors() {
        let mut bytes = Vec::new();
        put_varint64(&mut bytes, 99);
        assert_eq!(
            VersionEdit::decode(&bytes).unwrap_err().reason,
            "unknown version edit tag"
        );
        let mut bytes = Vec::new();
        put_varint64(&mut bytes, TAG_DELETED_FILE);
        put_varint64(&mut bytes, NUM_LEVELS as u64);
        put_varint64(&mut bytes, 1);
        assert_eq!(
            VersionEdit::decode(&bytes).unwrap_err().reason,
            "level out of range"
        );
    }

    #[test]
    fn apply_refuses_inconsistent_edits() {
        let mut state = LevelState::default();
        let add = VersionEdit {
            added: vec![(0, meta(5))],
            ..VersionEdit::default()
        };
        state.apply(&add).unwrap();
        assert_eq!(state.next_file_number, 6);
        let before = state.clone();
        assert!(state.apply(&add).unwrap_err().contains("already live"));
        let bad_delete = VersionEdit {
            deleted: vec![(1, 5)],
            ..VersionEdit::default()
        };
        assert!(
            state
                .apply(&bad_delete)
                .unwrap_err()
                .contains("not in level 1")
        );
        assert_eq!(state, before);
        // Moving a file between levels is a delete and an add in one edit.
        let mv = VersionEdit {
            deleted: vec![(0, 5)],
            added: vec![(1, meta(5))],
            ..VersionEdit::default()
        };
        state.apply(&mv).unwrap();
        assert!(state.levels[1].contains_key(&5) && state.levels[0].is_empty());
    }

    #[test]
    fn a_snapshot_rebuilds_the_state() {
        let mut state = LevelState::default();
        for n in [3, 4, 9] {
            state
                .apply(&VersionEdit {
                    added: vec![((n % 3) as usize, meta(n))],
                    log_number: Some(n),
                    last_sequence: Some(n * 10),
                    ..VersionEdit::default()
                })
                .unwrap();
        }
        let mut rebuilt = LevelState::default();
        rebuilt.apply(&state.snapshot()).unwrap();
        assert_eq!(rebuilt, state);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = VersionEdit::decode(&bytes);
        }
    }
}
