//! Version edits: the records of the manifest, and the state they add up to.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use ferris_core::coding::{Decoder, put_varint64};
use ferris_core::level::Levels;
pub use ferris_core::level::{FileMeta, NUM_LEVELS};
use ferris_core::{DEFAULT_KEYSPACE, DecodeError, InternalKey, KeyspaceId, SeqNo};

/// The manifest format this build writes, and the newest it reads. Version 2 added
/// keyspaces; a version 1 manifest reads as a database whose only keyspace is the default.
/// Version 3 added expiring keyspaces ([`KeyspaceDef::expiring`]); every keyspace of a
/// version 1 or 2 manifest reads as not expiring.
pub const FORMAT_VERSION: u32 = 3;

/// The default keyspace's name.
pub const DEFAULT_KEYSPACE_NAME: &str = "default";

/// The longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME_LEN: usize = 255;

// Field tags. A tag this build does not know is corruption, never skipped: a newer format
// bumps FORMAT_VERSION instead, so an old build refuses it with a clear error.
const TAG_FORMAT_VERSION: u64 = 1;
const TAG_LOG_NUMBER: u64 = 2;
const TAG_NEXT_FILE_NUMBER: u64 = 3;
const TAG_LAST_SEQUENCE: u64 = 4;
const TAG_DELETED_FILE: u64 = 5;
const TAG_NEW_FILE: u64 = 6;
// Version 2.
const TAG_KEYSPACE: u64 = 7;
const TAG_CREATE_KEYSPACE: u64 = 8;
const TAG_DROP_KEYSPACE: u64 = 9;
const TAG_NEXT_KEYSPACE_ID: u64 = 10;
// Version 3. A flag on a keyspace created in the same edit rather than a fourth string in
// tag 8: a keyspace that does not expire then encodes exactly as in version 2.
const TAG_EXPIRING_KEYSPACE: u64 = 11;

/// Checks a keyspace name: 1 to [`MAX_KEYSPACE_NAME_LEN`] bytes, no control characters
/// (names are printed by tools and logs, one per line).
///
/// # Errors
///
/// Why the name is refused, in a few words.
pub fn check_keyspace_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a keyspace name must not be empty");
    }
    if name.len() > MAX_KEYSPACE_NAME_LEN {
        return Err("a keyspace name must be at most 255 bytes");
    }
    if name.chars().any(char::is_control) {
        return Err("a keyspace name must not hold control characters");
    }
    Ok(())
}

/// What a keyspace is, fixed when it is created: its name, the names of the table format
/// its tables are written in and of the compaction strategy that shapes its levels, and
/// whether its values expire. Opening it again with another format or strategy would
/// misread its files or reshape them, and opening it as expiring when it was not would
/// read the end of every value as an expiry time, so the engine refuses these (see
/// [`KeyspaceDef::conform`]); tuning options (block size, bloom bits, compression,
/// buffer sizes) are not recorded and may change between opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceDef {
    /// Its id: never reused, even after a drop.
    pub id: KeyspaceId,
    /// Its name, unique among live keyspaces (see [`check_keyspace_name`]).
    pub name: String,
    /// `TableFormat::name` of its tables; empty when not recorded (a version 1 database's
    /// default keyspace, until it is next opened).
    pub table_format: String,
    /// `Strategy::name` of its compaction strategy; empty when not recorded.
    pub strategy: String,
    /// Whether its values expire: every value stored in it, in the WAL and in its tables,
    /// ends with an 8-byte little-endian expiry time (milliseconds since the UNIX epoch,
    /// 0 for never), which the components below the engine store as opaque bytes. Fixed
    /// when the keyspace is created, since it decides how every value is read; false for
    /// every keyspace of a version 1 or 2 manifest, which predate expiry.
    pub expiring: bool,
}

impl KeyspaceDef {
    /// Checks that a keyspace opened with table format `format`, compaction strategy
    /// `strategy` and, if `expiring`, a time to live, is the keyspace this defines, and
    /// records the format and strategy where nothing was recorded (a version 1 database's
    /// default keyspace).
    ///
    /// The recorded [`expiring`](KeyspaceDef::expiring) flag decides how values are read,
    /// whatever the opener declares. Declaring `expiring` for a keyspace created without
    /// it is refused: its values hold no expiry trailer, and the flag is never turned on
    /// after creation, not even where nothing else was recorded (a version 1 database's
    /// default keyspace holds values without trailers too). Declaring no expiry for an
    /// expiring keyspace is fine: its values keep their trailers and the flag stays set;
    /// new values simply get no default time to live.
    ///
    /// # Errors
    ///
    /// What contradicts the definition, in a sentence.
    pub fn conform(&mut self, format: &str, strategy: &str, expiring: bool) -> Result<(), String> {
        let differs = |recorded: &str, given: &str| !recorded.is_empty() && recorded != given;
        if differs(&self.table_format, format) {
            return Err(format!(
                "created with table format {:?}, opened with {format:?}",
                self.table_format
            ));
        }
        if differs(&self.strategy, strategy) {
            return Err(format!(
                "created with compaction strategy {:?}, opened with {strategy:?}",
                self.strategy
            ));
        }
        if expiring && !self.expiring {
            return Err("created without expiring values, opened with a time to live".into());
        }
        self.table_format = format.to_string();
        self.strategy = strategy.to_string();
        Ok(())
    }
}

/// One change to the live keyspaces and their files, plus the counters that go with it.
///
/// The engine writes one edit per flush and per compaction (a keyspace's tables added and
/// removed, the WAL segments its keyspaces no longer need, the file number and sequence
/// number used up), and one per keyspace created or dropped. An edit is applied whole or
/// not at all: it is one record in the manifest log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// Set in the first edit of every manifest: the format it was written in.
    pub format_version: Option<u32>,
    /// The next number to give a table or manifest file.
    pub next_file_number: Option<u64>,
    /// Every sequence number up to this one has been used.
    pub last_sequence: Option<SeqNo>,
    /// The next id to give a keyspace.
    pub next_keyspace_id: Option<KeyspaceId>,
    /// Keyspaces created (or, for the default keyspace, whose definition is recorded).
    pub created: Vec<KeyspaceDef>,
    /// Keyspaces dropped, with all their files.
    pub dropped: Vec<KeyspaceId>,
    /// Per keyspace: WAL segments older than this hold none of its writes that are not in
    /// its tables.
    pub log_numbers: Vec<(KeyspaceId, u64)>,
    /// Files removed: `(keyspace, level, number)`.
    pub deleted: Vec<(KeyspaceId, usize, u64)>,
    /// Files added: `(keyspace, level, meta)`.
    pub added: Vec<(KeyspaceId, usize, FileMeta)>,
}

impl VersionEdit {
    /// Encodes the edit as tagged fields (see `docs/format/manifest.md`). The log numbers
    /// and files are written grouped by keyspace, each group after a keyspace tag unless
    /// it is the default keyspace's and comes first.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(v) = self.format_version {
            put_varint64(&mut out, TAG_FORMAT_VERSION);
            put_varint64(&mut out, u64::from(v));
        }
        for (tag, value) in [
            (TAG_NEXT_FILE_NUMBER, self.next_file_number),
            (TAG_LAST_SEQUENCE, self.last_sequence),
            (TAG_NEXT_KEYSPACE_ID, self.next_keyspace_id.map(u64::from)),
        ] {
            if let Some(v) = value {
                put_varint64(&mut out, tag);
                put_varint64(&mut out, v);
            }
        }
        for def in &self.created {
            put_varint64(&mut out, TAG_CREATE_KEYSPACE);
            put_varint64(&mut out, u64::from(def.id));
            for text in [&def.name, &def.table_format, &def.strategy] {
                put_varint64(&mut out, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
            if def.expiring {
                put_varint64(&mut out, TAG_EXPIRING_KEYSPACE);
                put_varint64(&mut out, u64::from(def.id));
            }
        }
        for &id in &self.dropped {
            put_varint64(&mut out, TAG_DROP_KEYSPACE);
            put_varint64(&mut out, u64::from(id));
        }
        let mut context = DEFAULT_KEYSPACE;
        for keyspace in self.keyspaces_touched() {
            if keyspace != context {
                put_varint64(&mut out, TAG_KEYSPACE);
                put_varint64(&mut out, u64::from(keyspace));
                context = keyspace;
            }
            for &(_, log) in self.log_numbers.iter().filter(|(k, _)| *k == keyspace) {
                put_varint64(&mut out, TAG_LOG_NUMBER);
                put_varint64(&mut out, log);
            }
            for &(_, level, number) in self.deleted.iter().filter(|(k, ..)| *k == keyspace) {
                put_varint64(&mut out, TAG_DELETED_FILE);
                put_varint64(&mut out, level as u64);
                put_varint64(&mut out, number);
            }
            for (_, level, f) in self.added.iter().filter(|(k, ..)| *k == keyspace) {
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
        }
        out
    }

    /// The keyspaces whose log numbers or files the edit changes, ascending.
    fn keyspaces_touched(&self) -> Vec<KeyspaceId> {
        let mut ids: Vec<KeyspaceId> = (self.log_numbers.iter().map(|(k, _)| *k))
            .chain(self.deleted.iter().map(|(k, ..)| *k))
            .chain(self.added.iter().map(|(k, ..)| *k))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Decodes an edit.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] for truncated fields, an unknown tag, a level out of range, a
    /// keyspace id or name out of range, a key that is not an internal key, or an expiring
    /// keyspace tag naming no keyspace the edit created before it.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, DecodeError> {
        let mut d = Decoder::new(bytes);
        let mut edit = VersionEdit::default();
        // Log numbers and files belong to the keyspace the last keyspace tag named.
        let mut keyspace = DEFAULT_KEYSPACE;
        while !d.is_empty() {
            let at = d.position();
            match d.varint64()? {
                TAG_FORMAT_VERSION => {
                    edit.format_version = Some(d.varint32()?);
                }
                TAG_LOG_NUMBER => edit.log_numbers.push((keyspace, d.varint64()?)),
                TAG_NEXT_FILE_NUMBER => edit.next_file_number = Some(d.varint64()?),
                TAG_LAST_SEQUENCE => edit.last_sequence = Some(d.varint64()?),
                TAG_DELETED_FILE => {
                    let level = level(&mut d)?;
                    edit.deleted.push((keyspace, level, d.varint64()?));
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
                    edit.added.push((keyspace, level, meta));
                }
                TAG_KEYSPACE => keyspace = d.varint32()?,
                TAG_CREATE_KEYSPACE => {
                    let id = d.varint32()?;
                    let at = d.position();
                    let name = text(&mut d)?;
                    check_keyspace_name(&name).map_err(|reason| DecodeError::new(at, reason))?;
                    edit.created.push(KeyspaceDef {
                        id,
                        name,
                        table_format: text(&mut d)?,
                        strategy: text(&mut d)?,
                        expiring: false,
                    });
                }
                TAG_EXPIRING_KEYSPACE => {
                    let id = d.varint32()?;
                    // The flag belongs to the definition, so it may only follow the tag
                    // that creates the keyspace: a flag with nothing to attach to is damage.
                    let def = edit.created.iter_mut().rev().find(|def| def.id == id);
                    let def = def.ok_or_else(|| {
                        DecodeError::new(at, "expiring keyspace not created in this edit")
                    })?;
                    def.expiring = true;
                }
                TAG_DROP_KEYSPACE => edit.dropped.push(d.varint32()?),
                TAG_NEXT_KEYSPACE_ID => edit.next_keyspace_id = Some(d.varint32()?),
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

fn text(d: &mut Decoder<'_>) -> Result<String, DecodeError> {
    let at = d.position();
    let bytes = d.length_prefixed()?;
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::new(at, "a name is not UTF-8"))
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

/// One live keyspace in a [`LevelState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceState {
    /// What it is: name, table format, strategy, whether its values expire.
    pub def: KeyspaceDef,
    /// Its live files, in each level's order (level 0 newest first, deeper levels by
    /// smallest key): the layout every reader of the levels shares.
    pub levels: Levels<Arc<FileMeta>>,
    /// WAL segments older than this hold none of its writes that are not in its tables.
    pub log_number: u64,
}

impl KeyspaceState {
    fn new(def: KeyspaceDef) -> KeyspaceState {
        KeyspaceState {
            def,
            levels: Levels::default(),
            log_number: 0,
        }
    }
}

/// The state a sequence of edits adds up to: the live keyspaces, the files of each, and
/// the counters. Recovery replays the manifest into one; the engine keeps one in step with
/// every edit it writes, and starts each new manifest with [`LevelState::snapshot`].
///
/// Every state holds the default keyspace: it cannot be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelState {
    /// The live keyspaces by id.
    pub keyspaces: BTreeMap<KeyspaceId, KeyspaceState>,
    /// The next file number to hand out.
    pub next_file_number: u64,
    /// The last sequence number used.
    pub last_sequence: SeqNo,
    /// The next keyspace id to hand out.
    pub next_keyspace_id: KeyspaceId,
}

impl Default for LevelState {
    fn default() -> Self {
        let default = KeyspaceDef {
            id: DEFAULT_KEYSPACE,
            name: DEFAULT_KEYSPACE_NAME.into(),
            table_format: String::new(),
            strategy: String::new(),
            expiring: false,
        };
        LevelState {
            keyspaces: BTreeMap::from([(DEFAULT_KEYSPACE, KeyspaceState::new(default))]),
            next_file_number: 1,
            last_sequence: 0,
            next_keyspace_id: DEFAULT_KEYSPACE + 1,
        }
    }
}

impl LevelState {
    /// Applies `edit`, checking that it is consistent with the state: keyspaces are created
    /// under new ids and unique names and dropped only while live (never the default), files
    /// change only in live keyspaces, a file is added only once and deleted only from the
    /// level that holds it (the checks of [`Levels::apply`]), and the next file number never
    /// goes back. Within an edit, creations come first and drops last.
    ///
    /// # Errors
    ///
    /// A description of the inconsistency; the state is unchanged.
    pub fn apply(&mut self, edit: &VersionEdit) -> Result<(), String> {
        let mut next = self.clone();
        next.apply_in_place(edit)?;
        *self = next;
        Ok(())
    }

    fn apply_in_place(&mut self, edit: &VersionEdit) -> Result<(), String> {
        if let Some(n) = edit.next_file_number
            && n < self.next_file_number
        {
            return Err(format!(
                "next file number goes back from {} to {n}",
                self.next_file_number
            ));
        }
        for def in &edit.created {
            self.create(def)?;
        }
        for keyspace in edit.keyspaces_touched() {
            let state = self
                .keyspaces
                .get_mut(&keyspace)
                .ok_or_else(|| format!("keyspace {keyspace} is not live"))?;
            let deleted: Vec<(usize, u64)> = (edit.deleted.iter())
                .filter(|(k, ..)| *k == keyspace)
                .map(|&(_, level, number)| (level, number))
                .collect();
            let added = (edit.added.iter())
                .filter(|(k, ..)| *k == keyspace)
                .map(|(_, level, meta)| (*level, Arc::new(meta.clone())));
            state.levels = state
                .levels
                .apply(&deleted, added)
                .map_err(|e| format!("keyspace {keyspace}: {e}"))?;
            for &(_, log) in edit.log_numbers.iter().filter(|(k, _)| *k == keyspace) {
                state.log_number = state.log_number.max(log);
            }
        }
        // A file number is unique across keyspaces: tables share one directory.
        let mut seen = std::collections::HashSet::new();
        if let Some(number) = self.live_files().find(|&n| !seen.insert(n)) {
            return Err(format!("file {number} is live in two places"));
        }
        for &id in &edit.dropped {
            if id == DEFAULT_KEYSPACE {
                return Err("the default keyspace cannot be dropped".into());
            }
            self.keyspaces
                .remove(&id)
                .ok_or_else(|| format!("dropped keyspace {id} is not live"))?;
        }
        // A file number in use is never handed out again, whatever the edit's counter says.
        if let Some(largest) = edit.added.iter().map(|(_, _, meta)| meta.number).max() {
            self.next_file_number = self.next_file_number.max(largest.saturating_add(1));
        }
        if let Some(n) = edit.next_file_number {
            self.next_file_number = self.next_file_number.max(n);
        }
        if let Some(seq) = edit.last_sequence {
            self.last_sequence = self.last_sequence.max(seq);
        }
        if let Some(id) = edit.next_keyspace_id {
            self.next_keyspace_id = self.next_keyspace_id.max(id);
        }
        Ok(())
    }

    /// Adds keyspace `def`, or records the default keyspace's definition.
    fn create(&mut self, def: &KeyspaceDef) -> Result<(), String> {
        check_keyspace_name(&def.name)?;
        if let Some(live) = self.keyspaces.get_mut(&def.id) {
            // Only the default keyspace is "created" while live: a snapshot names it, and
            // an open records the format and strategy a version 1 database did not.
            let unrecorded = live.def.table_format.is_empty() && live.def.strategy.is_empty();
            if def.id != DEFAULT_KEYSPACE || def.name != live.def.name {
                return Err(format!("keyspace {} is already live", def.id));
            }
            if !unrecorded && *def != live.def {
                return Err("the default keyspace's definition changes".into());
            }
            live.def = def.clone();
            return Ok(());
        }
        if def.id < self.next_keyspace_id {
            return Err(format!("keyspace id {} was already used", def.id));
        }
        if self.keyspace_named(&def.name).is_some() {
            return Err(format!("a keyspace named {:?} is already live", def.name));
        }
        self.keyspaces
            .insert(def.id, KeyspaceState::new(def.clone()));
        self.next_keyspace_id = self.next_keyspace_id.max(def.id.saturating_add(1));
        Ok(())
    }

    /// The live keyspace named `name`.
    pub fn keyspace_named(&self, name: &str) -> Option<&KeyspaceState> {
        self.keyspaces.values().find(|k| k.def.name == name)
    }

    /// The default keyspace, which every state holds.
    pub fn default_keyspace(&self) -> &KeyspaceState {
        &self.keyspaces[&DEFAULT_KEYSPACE]
    }

    /// The first WAL segment some keyspace still needs: older ones can go.
    pub fn log_number(&self) -> u64 {
        let logs = self.keyspaces.values().map(|k| k.log_number);
        logs.min().unwrap_or(0)
    }

    /// Hands out the next file number (for a table or a manifest), never the same twice.
    pub fn take_file_number(&mut self) -> u64 {
        self.next_file_number += 1;
        self.next_file_number - 1
    }

    /// One edit that rebuilds this whole state from nothing, carrying the format version:
    /// the first record of a new manifest. Its keyspaces are listed by id, their files by
    /// keyspace, level, then file number, not in the levels' read order: the same state
    /// always encodes to the same bytes, however the edits that built it arrived.
    pub fn snapshot(&self) -> VersionEdit {
        let mut added: Vec<(KeyspaceId, usize, FileMeta)> = Vec::new();
        for (&id, keyspace) in &self.keyspaces {
            let files = keyspace.levels.files();
            added.extend(files.map(|(level, f)| (id, level, (**f).clone())));
        }
        added.sort_by_key(|(id, level, f)| (*id, *level, f.number));
        VersionEdit {
            format_version: Some(FORMAT_VERSION),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            next_keyspace_id: Some(self.next_keyspace_id),
            created: self.keyspaces.values().map(|k| k.def.clone()).collect(),
            dropped: Vec::new(),
            log_numbers: self
                .keyspaces
                .iter()
                .map(|(&id, k)| (id, k.log_number))
                .collect(),
            deleted: Vec::new(),
            added,
        }
    }

    /// Every live file number, across keyspaces (by id): in each, level 0 first, each
    /// level in its order.
    pub fn live_files(&self) -> impl Iterator<Item = u64> + '_ {
        (self.keyspaces.values()).flat_map(|k| k.levels.files().map(|(_, f)| f.number))
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
            format_version: Some(2),
            next_file_number: Some(12),
            last_sequence: Some(99),
            next_keyspace_id: Some(4),
            created: vec![KeyspaceDef {
                id: 3,
                name: "index".into(),
                table_format: "sstable".into(),
                strategy: "leveled".into(),
                expiring: false,
            }],
            dropped: vec![2],
            log_numbers: vec![(0, 7), (3, 9)],
            deleted: vec![(0, 0, 3), (0, 1, 4), (3, 2, 8)],
            added: vec![(0, 0, meta(10)), (0, 6, meta(11)), (3, 1, meta(12))],
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
            added: vec![(0, 0, meta(5))],
            ..VersionEdit::default()
        };
        state.apply(&add).unwrap();
        assert_eq!(state.next_file_number, 6);
        let before = state.clone();
        assert!(state.apply(&add).unwrap_err().contains("already live"));
        let bad_delete = VersionEdit {
            deleted: vec![(0, 1, 5)],
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
            deleted: vec![(0, 0, 5)],
            added: vec![(0, 1, meta(5))],
            ..VersionEdit::default()
        };
        state.apply(&mv).unwrap();
        assert_eq!(
            state
                .default_keyspace()
                .levels
                .find(5)
                .map(|(level, _)| level),
            Some(1)
        );
        assert!(state.default_keyspace().levels.level(0).is_empty());
    }

    #[test]
    fn a_snapshot_rebuilds_the_state() {
        let mut state = LevelState::default();
        for n in [3, 4, 9] {
            state
                .apply(&VersionEdit {
                    added: vec![(0, (n % 3) as usize, meta(n))],
                    log_numbers: vec![(0, n)],
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
                    (0, 0, file(7, "a", 10)),
                    (0, 0, file(8, "a", 50)),
                    (0, 1, file(4, "m", 1)),
                    (0, 1, file(3, "z", 1)),
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
            .map(|(_, level, f)| (*level, f.number))
            .collect();
        assert_eq!(listed, [(0, 7), (0, 8), (1, 3), (1, 4)]);
    }

    #[test]
    fn counters_never_go_back() {
        let mut state = LevelState::default();
        let edit = |log, next, seq| VersionEdit {
            log_numbers: vec![(0, log)],
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
                state.log_number(),
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
                added: vec![(0, 2, meta(30))],
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

    fn def(id: KeyspaceId, name: &str) -> KeyspaceDef {
        KeyspaceDef {
            id,
            name: name.into(),
            table_format: "sstable".into(),
            strategy: "leveled".into(),
            expiring: false,
        }
    }

    /// The bytes of a create keyspace field (tag 8) for `def`, written out by hand as the
    /// spec lays them out: a version 2 reader must find a keyspace that does not expire
    /// encoded exactly as it was.
    fn tag_8(def: &KeyspaceDef) -> Vec<u8> {
        let mut bytes = vec![8, def.id as u8];
        for text in [&def.name, &def.table_format, &def.strategy] {
            bytes.push(text.len() as u8);
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes
    }

    /// An expiring keyspace is its create field followed by tag 11 naming it; one that does
    /// not expire encodes byte for byte as in version 2. Both round-trip.
    #[test]
    fn the_expiring_flag_follows_its_create_field_and_round_trips() {
        let plain = def(1, "index");
        let expiring = KeyspaceDef {
            expiring: true,
            ..def(2, "sessions")
        };
        let only_plain = VersionEdit {
            created: vec![plain.clone()],
            ..VersionEdit::default()
        };
        assert_eq!(only_plain.encode(), tag_8(&plain), "as in version 2");
        let both = VersionEdit {
            created: vec![expiring.clone(), plain.clone()],
            ..VersionEdit::default()
        };
        let mut bytes = tag_8(&expiring);
        bytes.extend([11, 2]);
        bytes.extend(tag_8(&plain));
        assert_eq!(both.encode(), bytes);
        let decoded = VersionEdit::decode(&bytes).unwrap();
        assert_eq!(decoded, both);
        assert!(decoded.created[0].expiring && !decoded.created[1].expiring);
        // A repeated flag changes nothing.
        bytes.extend([11, 2]);
        assert_eq!(VersionEdit::decode(&bytes).unwrap(), both);
    }

    /// Tag 11 sets a flag on a keyspace the same edit created earlier; naming any other
    /// keyspace (never created, created only later in the edit, or created by an earlier
    /// edit) is damage, not a flag to drop or to apply to a live keyspace.
    #[test]
    fn an_expiring_tag_for_a_keyspace_not_created_before_it_is_corruption() {
        let created = tag_8(&def(1, "index"));
        let mut flag_first = vec![11, 1];
        flag_first.extend(&created);
        let mut other_id = created.clone();
        other_id.extend([11, 2]);
        for bytes in [vec![11, 1], flag_first, other_id] {
            let err = VersionEdit::decode(&bytes).unwrap_err();
            assert_eq!(
                err.reason, "expiring keyspace not created in this edit",
                "{bytes:?}"
            );
        }
        let err = VersionEdit::decode(&[11]).unwrap_err();
        assert_ne!(err.reason, "unknown version edit tag", "tag 11 is known");
    }

    /// The flag lives in the state's definition, and a snapshot (the first edit of every
    /// new manifest) writes it again, so rotating the manifest never forgets it.
    #[test]
    fn a_snapshot_keeps_the_expiring_flag() {
        let mut state = LevelState::default();
        let sessions = KeyspaceDef {
            expiring: true,
            ..def(1, "sessions")
        };
        state
            .apply(&VersionEdit {
                created: vec![sessions, def(2, "index")],
                ..VersionEdit::default()
            })
            .unwrap();
        let snapshot = VersionEdit::decode(&state.snapshot().encode()).unwrap();
        let mut rebuilt = LevelState::default();
        rebuilt.apply(&snapshot).unwrap();
        assert_eq!(rebuilt, state);
        assert!(rebuilt.keyspace_named("sessions").unwrap().def.expiring);
        assert!(!rebuilt.keyspace_named("index").unwrap().def.expiring);
        assert!(!rebuilt.default_keyspace().def.expiring);
    }

    /// Once the default keyspace's definition is recorded, a snapshot must repeat it, the
    /// flag included: a definition that turns expiry on or off is refused.
    #[test]
    fn the_default_keyspace_cannot_change_its_expiring_flag() {
        let mut state = LevelState::default();
        let record = |d: KeyspaceDef| VersionEdit {
            created: vec![d],
            ..VersionEdit::default()
        };
        state.apply(&record(def(0, "default"))).unwrap();
        let expiring = KeyspaceDef {
            expiring: true,
            ..def(0, "default")
        };
        let err = state.apply(&record(expiring)).unwrap_err();
        assert!(err.contains("definition changes"), "{err}");
        state.apply(&record(def(0, "default"))).unwrap();
    }

    /// The recorded flag is what counts: declaring a time to live for a keyspace created
    /// without one is refused (even where nothing else was recorded), and declaring none
    /// for an expiring keyspace is accepted and keeps the flag.
    #[test]
    fn conform_keeps_the_recorded_expiring_flag() {
        let mut plain = def(1, "index");
        let err = plain.conform("sstable", "leveled", true).unwrap_err();
        assert_eq!(
            err,
            "created without expiring values, opened with a time to live"
        );
        assert!(!plain.expiring);
        plain.conform("sstable", "leveled", false).unwrap();

        let mut unrecorded = LevelState::default().default_keyspace().def.clone();
        assert!(unrecorded.conform("sstable", "leveled", true).is_err());
        assert!(
            unrecorded.table_format.is_empty(),
            "nothing recorded on error"
        );
        unrecorded.conform("sstable", "leveled", false).unwrap();
        assert_eq!(unrecorded, def(0, "default"));

        let mut expiring = KeyspaceDef {
            expiring: true,
            ..def(2, "sessions")
        };
        expiring.conform("sstable", "leveled", false).unwrap();
        assert!(expiring.expiring, "not cleared by an opener without a ttl");
        expiring.conform("sstable", "leveled", true).unwrap();
        assert!(expiring.expiring);
        // Format and strategy are still checked first, as before.
        let err = expiring.conform("minitable", "leveled", true).unwrap_err();
        assert!(err.contains("table format"), "{err}");
        let err = expiring.conform("sstable", "tiered", false).unwrap_err();
        assert!(err.contains("compaction strategy"), "{err}");
    }

    /// Keyspaces are created under new ids and unique names, hold their own files and log
    /// numbers, and once dropped take their files with them; their ids are never reused,
    /// even after a snapshot forgets the dropped keyspace.
    #[test]
    fn keyspaces_come_and_go_and_their_ids_are_never_reused() {
        let mut state = LevelState::default();
        let create = |d: KeyspaceDef| VersionEdit {
            log_numbers: vec![(d.id, 4)],
            created: vec![d],
            ..VersionEdit::default()
        };
        state.apply(&create(def(1, "index"))).unwrap();
        state
            .apply(&VersionEdit {
                added: vec![(1, 0, meta(7))],
                log_numbers: vec![(1, 6), (0, 5)],
                ..VersionEdit::default()
            })
            .unwrap();
        assert_eq!(state.keyspace_named("index").unwrap().levels.len(), 1);
        assert_eq!(state.log_number(), 5);
        let before = state.clone();
        for (bad, why) in [
            (create(def(1, "other")), "already live"),
            (create(def(2, "index")), "already live"),
            (create(def(2, "")), "empty"),
            (
                VersionEdit {
                    dropped: vec![0],
                    ..VersionEdit::default()
                },
                "cannot be dropped",
            ),
            (
                VersionEdit {
                    added: vec![(5, 0, meta(9))],
                    ..VersionEdit::default()
                },
                "not live",
            ),
            (
                VersionEdit {
                    added: vec![(0, 0, meta(7))],
                    ..VersionEdit::default()
                },
                "two places",
            ),
        ] {
            let err = state.apply(&bad).unwrap_err();
            assert!(err.contains(why), "{err}");
            assert_eq!(state, before);
        }
        state
            .apply(&VersionEdit {
                dropped: vec![1],
                ..VersionEdit::default()
            })
            .unwrap();
        assert!(state.keyspace_named("index").is_none());
        assert_eq!(state.live_files().count(), 0);
        assert_eq!(state.log_number(), 5);
        let mut rebuilt = LevelState::default();
        rebuilt.apply(&state.snapshot()).unwrap();
        assert_eq!(rebuilt, state);
        let err = rebuilt.apply(&create(def(1, "again"))).unwrap_err();
        assert!(err.contains("already used"), "{err}");
        rebuilt.apply(&create(def(2, "index"))).unwrap();
    }

    /// A version 1 edit (no keyspace tags) decodes into the default keyspace, and an edit
    /// of several keyspaces round-trips through the keyspace tags.
    #[test]
    fn files_belong_to_the_keyspace_last_named() {
        let mut bytes = Vec::new();
        for v in [TAG_LOG_NUMBER, 3, TAG_KEYSPACE, 5, TAG_LOG_NUMBER, 8] {
            put_varint64(&mut bytes, v);
        }
        let edit = VersionEdit::decode(&bytes).unwrap();
        assert_eq!(edit.log_numbers, [(0, 3), (5, 8)]);
        assert_eq!(VersionEdit::decode(&edit.encode()).unwrap(), edit);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = VersionEdit::decode(&bytes);
        }
    }
}
