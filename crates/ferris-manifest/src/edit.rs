//! Version edits: the records of the manifest, and the state they add up to.

use std::sync::Arc;

use bytes::Bytes;
use ferris_core::coding::{Decoder, put_varint64};
use ferris_core::level::Levels;
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
    /// The live files of each level, in each level's order (level 0 newest first, deeper
    /// levels by smallest key): the layout every reader of the levels shares.
    pub levels: Levels<Arc<FileMeta>>,
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
            levels: Levels::default(),
            log_number: 0,
            next_file_number: 1,
            last_sequence: 0,
        }
    }
}

impl LevelState {
    /// Applies `edit`, checking that it is consistent with the state: a file is added only
    /// once and deleted only from the level that holds it (the checks of
    /// [`Levels::apply`], which applies the file changes), and the next file number never
    /// goes back.
    ///
    /// # Errors
    ///
    /// A description of the inconsistency; the state is unchanged.
    pub fn apply(&mut self, edit: &VersionEdit) -> Result<(), String> {
        if let Some(next) = edit.next_file_number
            && next < self.next_file_number
        {
            return Err(format!(
                "next file number goes back from {} to {next}",
                self.next_file_number
            ));
        }
        let added = edit
            .added
            .iter()
            .map(|(level, meta)| (*level, Arc::new(meta.clone())));
        self.levels = self.levels.apply(&edit.deleted, added)?;
        // A file number in use is never handed out again, whatever the edit's counter says.
        if let Some(largest) = edit.added.iter().map(|(_, meta)| meta.number).max() {
            self.next_file_number = self.next_file_number.max(largest.saturating_add(1));
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
    /// the first record of a new manifest. Its files are listed by level, then by file
    /// number, not in the levels' read order: the same state always encodes to the same
    /// bytes, however the edits that built it arrived.
    pub fn snapshot(&self) -> VersionEdit {
        let mut added: Vec<(usize, FileMeta)> = self
            .levels
            .files()
            .map(|(level, f)| (level, (**f).clone()))
            .collect();
        added.sort_by_key(|(level, f)| (*level, f.number));
        VersionEdit {
            format_version: Some(FORMAT_VERSION),
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            deleted: Vec::new(),
            added,
        }
    }

    /// Every live file number, across levels: level 0 first, each level in its order.
    pub fn live_files(&self) -> impl Iterator<Item = u64> + '_ {
        self.levels.files().map(|(_, f)| f.number)
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
        assert_eq!(state.levels.find(5).map(|(level, _)| level), Some(1));
        assert!(state.levels.level(0).is_empty());
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

    /// The levels are held in read order (level 0 newest first, deeper levels by smallest
    /// key), but a snapshot lists files by level and number, as it did when the levels were
    /// maps keyed by number: the same state always encodes to the same bytes.
    #[test]
    fn a_snapshot_lists_files_by_level_then_number() {
        let file = |number, key: &str, seq| FileMeta {
            smallest: InternalKey::new(key.as_bytes().to_vec(), seq, ValueKind::Put),
            largest: InternalKey::new(format!("{key}~").into_bytes(), seq, ValueKind::Put),
            min_seq: seq,
            max_seq: seq,
            ..meta(number)
        };
        let mut state = LevelState::default();
        state
            .apply(&VersionEdit {
                added: vec![
                    (0, file(7, "a", 10)),
                    (0, file(8, "a", 50)),
                    (1, file(4, "m", 1)),
                    (1, file(3, "z", 1)),
                ],
                ..VersionEdit::default()
            })
            .unwrap();
        let read_order: Vec<u64> = state.live_files().collect();
        assert_eq!(read_order, [8, 7, 4, 3]);
        let listed: Vec<(usize, u64)> = state
            .snapshot()
            .added
            .iter()
            .map(|(level, f)| (*level, f.number))
            .collect();
        assert_eq!(listed, [(0, 7), (0, 8), (1, 3), (1, 4)]);
    }

    #[test]
    fn counters_never_go_back() {
        let mut state = LevelState::default();
        let edit = |log, next, seq| VersionEdit {
            log_number: Some(log),
            next_file_number: Some(next),
            last_sequence: Some(seq),
            ..VersionEdit::default()
        };
        state.apply(&edit(5, 10, 100)).unwrap();
        // A smaller log number or last sequence is ignored...
        let mut next = edit(2, 10, 50);
        state.apply(&next).unwrap();
        assert_eq!(
            (
                state.log_number,
                state.next_file_number,
                state.last_sequence
            ),
            (5, 10, 100)
        );
        // ...a smaller next file number refused...
        next.next_file_number = Some(9);
        assert!(state.apply(&next).unwrap_err().contains("goes back"));
        // ...and an added file's number is never handed out again.
        state
            .apply(&VersionEdit {
                added: vec![(2, meta(30))],
                ..VersionEdit::default()
            })
            .unwrap();
        assert_eq!(state.take_file_number(), 31);
    }

    /// A manifest could name a file `u64::MAX`; raising the next file number past it used
    /// to overflow (a panic under debug assertions) instead of treating the bytes as data.
    #[test]
    fn a_file_numbered_u64_max_does_not_overflow_the_counter() {
        let mut state = LevelState::default();
        state
            .apply(&VersionEdit {
                added: vec![(
                    0,
                    FileMeta {
                        number: u64::MAX,
                        ..meta(1)
                    },
                )],
                ..VersionEdit::default()
            })
            .unwrap();
        assert_eq!(state.next_file_number, u64::MAX);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = VersionEdit::decode(&bytes);
        }
    }
}
