//! Format stability: a manifest and a CURRENT written by format version 1 are kept in
//! `tests/golden/` (`v1-MANIFEST-000002`, `v1-CURRENT`). This build must read them back
//! exactly, and must still write both byte for byte: neither holds a timestamp or anything
//! random, so the same edits always encode the same way. The manifest is the worked example
//! of `docs/format/manifest.md` (a new database's snapshot, then a first flush's edit), and
//! the test checks the spec's hex dump against it, so the document cannot drift either.
//!
//! A deliberate format change bumps the version and adds new golden files (regenerate with
//! `FERRIS_BLESS=1 cargo test -p ferris-manifest golden`); the old ones stay, so old
//! databases keep opening.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferris_core::{InternalKey, ValueKind};
use ferris_fs::FileSystem;
use ferris_manifest::{
    CURRENT, FORMAT_VERSION, FileMeta, ManifestWriter, VersionEdit, decode_current,
    manifest_file_name, read_current, replay, write_current,
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

/// The edits of the golden manifest: the snapshot a new database starts with, and the
/// edit of its first flush.
fn golden_edits() -> [VersionEdit; 2] {
    let snapshot = VersionEdit {
        format_version: Some(FORMAT_VERSION),
        log_number: Some(1),
        next_file_number: Some(3),
        last_sequence: Some(0),
        ..VersionEdit::default()
    };
    let flush = VersionEdit {
        log_number: Some(2),
        next_file_number: Some(4),
        last_sequence: Some(9),
        added: vec![(0, flushed_table())],
        ..VersionEdit::default()
    };
    [snapshot, flush]
}

fn read_all(fs: &Arc<dyn FileSystem>, path: &Path) -> Vec<u8> {
    let file = fs.open(path).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

/// What this build writes today: the manifest through `ManifestWriter`, then CURRENT
/// through `write_current`, as the engine does.
fn write_today() -> (Vec<u8>, Vec<u8>) {
    let (_sim, fs) = sim(1);
    let dir = Path::new(DIR);
    let [snapshot, flush] = golden_edits();
    let mut writer = ManifestWriter::create(&fs, dir, MANIFEST_NUMBER, &snapshot).unwrap();
    writer.append(&flush).unwrap();
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

#[test]
fn the_v1_golden_manifest_and_current_read_back_and_are_what_we_still_write() {
    let (manifest_today, current_today) = write_today();
    if std::env::var_os("FERRIS_BLESS").is_some() {
        std::fs::write(golden_path("v1-MANIFEST-000002"), &manifest_today).unwrap();
        std::fs::write(golden_path("v1-CURRENT"), &current_today).unwrap();
    }
    let manifest = std::fs::read(golden_path("v1-MANIFEST-000002"))
        .expect("golden manifest (bless with FERRIS_BLESS=1)");
    let current = std::fs::read(golden_path("v1-CURRENT"))
        .expect("golden CURRENT (bless with FERRIS_BLESS=1)");

    // Read back, through the same functions the engine's open uses.
    let (_sim, fs) = sim(2);
    let dir = Path::new(DIR);
    for (name, bytes) in [
        (manifest_file_name(MANIFEST_NUMBER), &manifest),
        (CURRENT.to_string(), &current),
    ] {
        let mut file = fs.create(&dir.join(name)).unwrap();
        file.append(bytes).unwrap();
        file.sync().unwrap();
    }
    assert_eq!(read_current(&*fs, dir).unwrap(), Some(MANIFEST_NUMBER));
    assert_eq!(
        decode_current(Path::new(CURRENT), &current).unwrap(),
        MANIFEST_NUMBER
    );
    let replayed = replay(&*fs, dir, MANIFEST_NUMBER).unwrap();
    assert_eq!(replayed.edits, 2);
    assert_eq!(replayed.len, manifest.len() as u64);
    assert!(replayed.events.is_empty(), "{:?}", replayed.events);
    let state = replayed.state;
    assert_eq!(
        (
            state.log_number,
            state.next_file_number,
            state.last_sequence
        ),
        (2, 4, 9)
    );
    let level0: Vec<FileMeta> = state
        .levels
        .level(0)
        .iter()
        .map(|f| (**f).clone())
        .collect();
    assert_eq!(level0, [flushed_table()]);
    assert_eq!(state.levels.len(), 1, "nothing below level 0");

    // Written today, byte for byte.
    assert!(
        manifest_today == manifest,
        "the manifest writer's output changed: a format change needs a new version"
    );
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
