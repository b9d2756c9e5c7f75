//! Format stability: the manifests and CURRENT of each format version are kept in
//! `tests/golden/`. This build must read every one of them back exactly, and must write the
//! newest byte for byte: none holds a timestamp or anything random, so the same edits
//! always encode the same way.
//!
//! - `v1-MANIFEST-000002`, `v1-CURRENT`: format 1, before keyspaces. The manifest is the
//!   worked example of `docs/format/manifest.md` (a new database's snapshot, then a first
//!   flush's edit), and the test checks the spec's hex dump against it, so the document
//!   cannot drift either. It reads as a database whose only keyspace is the default.
//! - `v2-MANIFEST-000002`: format 2, with keyspaces: a snapshot holding the default
//!   keyspace and a keyspace `index`, then a flush into `index`, then `index` dropped.
//!   Its edits are still what this build encodes for them, byte for byte: version 3 left
//!   a keyspace that does not expire as it was.
//! - `v3-MANIFEST-000002`: format 3, with expiring keyspaces: a snapshot holding the
//!   default keyspace, `index` and the expiring `sessions`, a flush into `sessions`,
//!   `index` dropped, then the expiring `cache` created. This is what this build writes.
//!
//! A deliberate format change bumps the version and adds new golden files (regenerate the
//! newest with `FERRIS_BLESS=1 cargo test -p ferris-manifest golden`); the old ones stay,
//! so old databases keep opening.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::{InternalKey, ValueKind};
use ferris_fs::FileSystem;
use ferris_log::{RecoveryMode, SegmentReader};
use ferris_manifest::{
    CURRENT, FORMAT_VERSION, FileMeta, KeyspaceDef, LevelState, ManifestWriter, VersionEdit,
    decode_current, manifest_file_name, read_current, replay, write_current,
};

use crate::{DIR, sim};

const MANIFEST_NUMBER: u64 = 2;

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The table a first flush adds: number 3, keys `ant`..`bee`, sequences 1..9.
fn flushed_table() -> FileMeta {
    FileMeta {
        number: 3,
        size: 300,
        smallest: InternalKey::new(&b"ant"[..], 8, ValueKind::Put),
        largest: InternalKey::new(&b"bee"[..], 2, ValueKind::Delete),
        min_seq: 1,
        max_seq: 9,
        entries: 9,
        tombstones: 1,
    }
}

fn def(id: u32, name: &str, expiring: bool) -> KeyspaceDef {
    KeyspaceDef {
        id,
        name: name.into(),
        table_format: "sstable".into(),
        strategy: "leveled".into(),
        expiring,
    }
}

/// The edits of the version 2 golden manifest: the snapshot of a database holding the
/// default keyspace and `index`, a flush into `index`, and `index` dropped.
fn golden_edits_v2() -> [VersionEdit; 3] {
    let def = |id, name: &str| def(id, name, false);
    let snapshot = VersionEdit {
        format_version: Some(2),
        next_file_number: Some(3),
        last_sequence: Some(0),
        next_keyspace_id: Some(2),
        created: vec![def(0, "default"), def(1, "index")],
        log_numbers: vec![(0, 1), (1, 1)],
        ..VersionEdit::default()
    };
    let flush = VersionEdit {
        log_numbers: vec![(0, 2), (1, 2)],
        next_file_number: Some(4),
        last_sequence: Some(9),
        added: vec![(1, 0, flushed_table())],
        ..VersionEdit::default()
    };
    let drop = VersionEdit {
        dropped: vec![1],
        next_file_number: Some(4),
        ..VersionEdit::default()
    };
    [snapshot, flush, drop]
}

/// The edits of the version 3 golden manifest: the snapshot of a database holding the
/// default keyspace, `index` and the expiring `sessions`; a flush into `sessions`; `index`
/// dropped; and the expiring `cache` created, as the engine writes a creation.
fn golden_edits_v3() -> [VersionEdit; 4] {
    let snapshot = VersionEdit {
        format_version: Some(FORMAT_VERSION),
        next_file_number: Some(3),
        last_sequence: Some(0),
        next_keyspace_id: Some(3),
        created: vec![
            def(0, "default", false),
            def(1, "index", false),
            def(2, "sessions", true),
        ],
        log_numbers: vec![(0, 1), (1, 1), (2, 1)],
        ..VersionEdit::default()
    };
    let flush = VersionEdit {
        log_numbers: vec![(0, 2), (1, 2), (2, 2)],
        next_file_number: Some(4),
        last_sequence: Some(9),
        added: vec![(2, 0, flushed_table())],
        ..VersionEdit::default()
    };
    let drop = VersionEdit {
        dropped: vec![1],
        next_file_number: Some(4),
        ..VersionEdit::default()
    };
    let create = VersionEdit {
        created: vec![def(3, "cache", true)],
        next_keyspace_id: Some(4),
        log_numbers: vec![(3, 2)],
        next_file_number: Some(4),
        ..VersionEdit::default()
    };
    [snapshot, flush, drop, create]
}

fn read_all(fs: &Arc<dyn FileSystem>, path: &Path) -> Vec<u8> {
    let file = fs.open(path).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

/// What this build writes today for `edits` (a snapshot first): the manifest through
/// `ManifestWriter`, then CURRENT through `write_current`, as the engine does.
fn write_today(edits: &[VersionEdit]) -> (Vec<u8>, Vec<u8>) {
    let (_sim, fs) = sim(1);
    let dir = Path::new(DIR);
    let (snapshot, rest) = edits.split_first().expect("a snapshot");
    let mut writer = ManifestWriter::create(&fs, dir, MANIFEST_NUMBER, snapshot).unwrap();
    for edit in rest {
        writer.append(edit).unwrap();
    }
    write_current(&*fs, dir, MANIFEST_NUMBER).unwrap();
    (
        read_all(&fs, &dir.join(manifest_file_name(MANIFEST_NUMBER))),
        read_all(&fs, &dir.join(CURRENT)),
    )
}

/// The bytes of the spec's worked example: the hex in columns 8 to 39 of every line of the
/// dump that starts with a four-digit offset, checked to follow on from each other.
fn worked_example_in_the_spec() -> Vec<u8> {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/format/manifest.md");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    let example = spec
        .split("### Worked example")
        .nth(1)
        .expect("a worked example in the spec");
    let dump = example
        .split("```text")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a hex dump");
    let mut bytes = Vec::new();
    for line in dump.lines() {
        let Some(offset) = line
            .get(..4)
            .and_then(|o| usize::from_str_radix(o, 16).ok())
        else {
            continue;
        };
        assert_eq!(
            offset,
            bytes.len(),
            "the dump skips or repeats bytes: {line}"
        );
        let column = line.get(8..39.min(line.len())).unwrap_or_default();
        for byte in column.split_whitespace() {
            bytes.push(u8::from_str_radix(byte, 16).unwrap_or_else(|e| panic!("{byte}: {e}")));
        }
    }
    bytes
}

/// The record format a golden manifest's header names, and its records' bytes.
fn records_of(manifest: &[u8]) -> (Option<u32>, Vec<Vec<u8>>) {
    let (_sim, fs) = sim(3);
    let path = Path::new(DIR).join(manifest_file_name(MANIFEST_NUMBER));
    let mut file = fs.create(&path).unwrap();
    file.append(manifest).unwrap();
    let mut reader =
        SegmentReader::open(&*fs, &path, MANIFEST_NUMBER, RecoveryMode::Strict).unwrap();
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        records.push(record.data);
    }
    (reader.record_format(), records)
}

/// The state `edits` add up to.
fn state_of(edits: &[VersionEdit]) -> LevelState {
    let mut state = LevelState::default();
    for edit in edits {
        state.apply(edit).unwrap();
    }
    state
}

/// Puts `files` into a fresh simulated directory and replays its manifest.
fn replay_golden(files: &[(String, &Vec<u8>)]) -> ferris_manifest::Replayed {
    let (_sim, fs) = sim(2);
    let dir = Path::new(DIR);
    for (name, bytes) in files {
        let mut file = fs.create(&dir.join(name)).unwrap();
        file.append(bytes).unwrap();
        file.sync().unwrap();
    }
    assert_eq!(read_current(&*fs, dir).unwrap(), Some(MANIFEST_NUMBER));
    replay(&*fs, dir, MANIFEST_NUMBER).unwrap()
}

#[test]
fn the_v1_golden_manifest_and_current_read_back_as_the_default_keyspace() {
    let manifest = std::fs::read(golden_path("v1-MANIFEST-000002")).unwrap();
    let current = std::fs::read(golden_path("v1-CURRENT")).unwrap();
    assert_eq!(
        decode_current(Path::new(CURRENT), &current).unwrap(),
        MANIFEST_NUMBER
    );
    let replayed = replay_golden(&[
        (manifest_file_name(MANIFEST_NUMBER), &manifest),
        (CURRENT.to_string(), &current),
    ]);
    assert_eq!(replayed.edits, 2);
    assert_eq!(replayed.len, manifest.len() as u64);
    assert!(replayed.events.is_empty(), "{:?}", replayed.events);
    let state = replayed.state;
    assert_eq!(
        (
            state.log_number(),
            state.next_file_number,
            state.last_sequence
        ),
        (2, 4, 9)
    );
    assert_eq!(state.keyspaces.len(), 1, "only the default keyspace");
    let default = state.default_keyspace();
    assert_eq!(default.def.name, "default");
    assert!(
        default.def.table_format.is_empty(),
        "not recorded in version 1"
    );
    let level0: Vec<FileMeta> = (default.levels.level(0).iter())
        .map(|f| (**f).clone())
        .collect();
    assert_eq!(level0, [flushed_table()]);
    assert_eq!(default.levels.len(), 1, "nothing below level 0");

    // CURRENT's format did not change: it is still written byte for byte.
    let (_, current_today) = write_today(&golden_edits_v3());
    assert!(
        current_today == current,
        "CURRENT's encoding changed: a format change needs a new version"
    );
    // And the spec shows exactly these bytes.
    assert_eq!(
        worked_example_in_the_spec(),
        manifest,
        "docs/format/manifest.md's worked example is not the golden manifest"
    );
    let line = std::str::from_utf8(&current).unwrap();
    assert!(
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/format/manifest.md")
        )
        .unwrap()
        .contains(&format!("```text\n{}", line.trim_end())),
        "the spec's CURRENT example is not the golden CURRENT: {line:?}"
    );
}

/// A version 2 manifest replays as it always did, every keyspace not expiring, and each of
/// its edits is still what this build encodes for it: version 3 changed the encoding of
/// no keyspace that does not expire. Only the version (in the header and in tag 1) is
/// written differently today, so the whole file is no longer compared.
#[test]
fn the_v2_golden_manifest_reads_back_and_its_edits_encode_as_before() {
    let manifest = std::fs::read(golden_path("v2-MANIFEST-000002")).unwrap();
    let current = std::fs::read(golden_path("v1-CURRENT")).unwrap();
    let replayed = replay_golden(&[
        (manifest_file_name(MANIFEST_NUMBER), &manifest),
        (CURRENT.to_string(), &current),
    ]);
    assert_eq!(replayed.edits, 3);
    assert_eq!(replayed.state, state_of(&golden_edits_v2()));
    assert_eq!(replayed.state.keyspaces.len(), 1, "index was dropped");
    assert_eq!(replayed.state.next_keyspace_id, 2, "its id is not reused");
    assert_eq!(replayed.state.live_files().count(), 0);
    assert!(!replayed.state.default_keyspace().def.expiring);

    let (record_format, records) = records_of(&manifest);
    assert_eq!(record_format, Some(2));
    let encoded: Vec<Vec<u8>> = golden_edits_v2().iter().map(VersionEdit::encode).collect();
    assert!(
        records == encoded,
        "a version 2 edit no longer encodes as it did: a format change needs a new version"
    );
}

#[test]
fn the_v3_golden_manifest_reads_back_and_is_what_we_still_write() {
    let (manifest_today, _) = write_today(&golden_edits_v3());
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path("v3-MANIFEST-000002"), &manifest_today).unwrap();
    }
    let manifest = std::fs::read(golden_path("v3-MANIFEST-000002"))
        .expect("golden manifest (bless with FERRIS_BLESS=1)");
    let current = std::fs::read(golden_path("v1-CURRENT")).unwrap();
    let replayed = replay_golden(&[
        (manifest_file_name(MANIFEST_NUMBER), &manifest),
        (CURRENT.to_string(), &current),
    ]);
    assert_eq!(replayed.edits, 4);
    let state = replayed.state;
    assert_eq!(state, state_of(&golden_edits_v3()));
    let expiring: Vec<(&str, bool)> = (state.keyspaces.values())
        .map(|k| (k.def.name.as_str(), k.def.expiring))
        .collect();
    assert_eq!(
        expiring,
        [("default", false), ("sessions", true), ("cache", true)]
    );
    let sessions = state.keyspace_named("sessions").unwrap();
    assert_eq!(sessions.levels.level(0).len(), 1);
    assert_eq!(state.next_keyspace_id, 4);
    // The flag is tag 11 right after the create field of `sessions` in the snapshot.
    let (record_format, records) = records_of(&manifest);
    assert_eq!(record_format, Some(FORMAT_VERSION));
    let sessions_field = [
        &[8, 2, 8][..],
        b"sessions",
        &[7],
        b"sstable",
        &[7],
        b"leveled",
    ];
    let flagged = [&sessions_field[..], &[&[11, 2][..]]].concat().concat();
    assert!(
        records[0].windows(flagged.len()).any(|w| w == flagged),
        "the snapshot does not flag sessions with tag 11 after its create field"
    );
    assert!(
        manifest_today == manifest,
        "the manifest writer's output changed: a format change needs a new version"
    );
}
