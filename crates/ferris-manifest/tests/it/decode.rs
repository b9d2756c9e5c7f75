//! Arbitrary bytes never panic the manifest's decoders: as CURRENT, as a whole manifest
//! file, and as edits inside valid framing (which gets past the log's checksums to the
//! edit decoder and to applying edits to a state). Every failure is a typed error about
//! the bytes. The fuzz target `manifest_decode` (see `fuzz/README.md`) runs the same
//! property for longer and with coverage guidance.

use std::path::Path;

use ferris_log::format::{SEGMENT_HEADER_LEN, encode_segment_header, frame_record};
use ferris_manifest::{
    Error, LevelState, ManifestWriter, VersionEdit, decode_current, encode_current,
    manifest_file_name, replay,
};
use proptest::prelude::*;

use crate::{DIR, flush_edit, sim};

/// Writes `bytes` as manifest 1 and replays it.
fn replay_bytes(bytes: &[u8]) -> Result<ferris_manifest::Replayed, Error> {
    let (_sim, fs) = sim(3);
    let dir = Path::new(DIR);
    let mut file = fs.create(&dir.join(manifest_file_name(1))).unwrap();
    file.append(bytes).unwrap();
    file.sync().unwrap();
    replay(&*fs, dir, 1)
}

/// A manifest holding `records`, each framed correctly, so every checksum passes.
fn framed(records: &[Vec<u8>]) -> Vec<u8> {
    framed_as(ferris_manifest::FORMAT_VERSION, records)
}

/// As [`framed`], with a header naming `record_format` as the format of the edits.
fn framed_as(record_format: u32, records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = encode_segment_header(1, record_format).to_vec();
    let mut block_offset = SEGMENT_HEADER_LEN;
    for record in records {
        frame_record(&mut out, &mut block_offset, record);
    }
    out
}

/// A valid manifest: a snapshot and a few flush edits.
fn valid_manifest() -> Vec<u8> {
    let (_sim, fs) = sim(4);
    let dir = Path::new(DIR);
    let mut manifest =
        ManifestWriter::create(&fs, dir, 1, &LevelState::default().snapshot()).unwrap();
    for n in 2..5 {
        manifest.append(&flush_edit(n)).unwrap();
    }
    drop(manifest);
    let file = fs.open(&dir.join(manifest_file_name(1))).unwrap();
    file.read_vec(0, file.len()).unwrap()
}

fn assert_typed(result: Result<ferris_manifest::Replayed, Error>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(
            e.is_corruption() || matches!(e, Error::UnsupportedVersion(_)),
            "not a typed error about the bytes: {e:?}"
        );
    }
    Ok(())
}

/// A manifest from a newer version is refused by name, and the name says which part is
/// new: the framing below the edits (`"log"`, shared with the WAL) or the edits themselves
/// (`"manifest"`, from the header's record format or the first edit's tag 1). A newer
/// format's first edit may hold a tag this build does not know: the header refuses it by
/// name before the edit is decoded, rather than calling the unknown tag corruption.
#[test]
fn a_newer_framing_or_edit_version_is_refused_by_name() {
    let framing = ferris_log::format::FORMAT_VERSION;
    let mut newer_framing = valid_manifest();
    newer_framing[8..12].copy_from_slice(&(framing + 1).to_le_bytes());
    let crc = ferris_core::checksum::masked_crc32c(&[&newer_framing[..28]]);
    newer_framing[28..32].copy_from_slice(&crc.to_le_bytes());

    let mut snapshot = LevelState::default().snapshot();
    let edits = ferris_manifest::FORMAT_VERSION;
    snapshot.format_version = Some(edits + 1);
    let newer_edits = framed(&[snapshot.encode()]);
    // Tag 1, the newer version, then a tag no version of this build knows.
    let unknown_tag = vec![1, (edits + 1) as u8, 99, 0];
    let newer_header = framed_as(edits + 1, std::slice::from_ref(&unknown_tag));
    let err = replay_bytes(&framed(&[unknown_tag])).unwrap_err();
    assert!(
        err.is_corruption(),
        "same edit, this version's header: {err}"
    );

    for (bytes, format, supported) in [
        (newer_framing, "log", framing),
        (newer_edits, "manifest", edits),
        (newer_header, "manifest", edits),
    ] {
        let err = replay_bytes(&bytes).unwrap_err();
        let Error::UnsupportedVersion(v) = &err else {
            panic!("{format}: {err}");
        };
        assert_eq!(
            (v.format, v.found, v.supported),
            (format, supported + 1, supported),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("has {format} format version {}", supported + 1)),
            "{err}"
        );
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_as_current_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_current(Path::new("CURRENT"), &bytes);
    }

    /// CURRENT with a few bytes changed: decodes to the original manifest or fails.
    #[test]
    fn damaged_current_never_names_another_manifest(
        number in 1u64..1_000_000,
        changes in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4),
    ) {
        let mut bytes = encode_current(number).into_bytes();
        for (at, xor) in changes {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if let Ok(decoded) = decode_current(Path::new("CURRENT"), &bytes) {
            prop_assert_eq!(decoded, number);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_manifest_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        assert_typed(replay_bytes(&bytes))?;
    }

    /// Arbitrary records in valid framing reach the edit decoder and `LevelState::apply`.
    #[test]
    fn arbitrary_edits_in_valid_framing_never_panic(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..6),
    ) {
        assert_typed(replay_bytes(&framed(&records)))?;
        for record in &records {
            let _ = VersionEdit::decode(record);
        }
    }

    /// Valid edits with bytes changed, then framed correctly: checksums cannot catch the
    /// change, so only the decoder and `apply` stand between it and a panic.
    #[test]
    fn damaged_edits_in_valid_framing_never_panic(
        changes in proptest::collection::vec((0usize..5, any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in proptest::option::of((0usize..5, any::<prop::sample::Index>())),
    ) {
        let mut records: Vec<Vec<u8>> = std::iter::once(LevelState::default().snapshot())
            .chain((2..6).map(flush_edit))
            .map(|edit| edit.encode())
            .collect();
        for (r, at, value) in changes {
            let i = at.index(records[r].len());
            records[r][i] = value;
        }
        if let Some((r, at)) = truncate {
            let len = at.index(records[r].len() + 1);
            records[r].truncate(len);
        }
        assert_typed(replay_bytes(&framed(&records)))?;
    }

    /// A valid manifest with bytes overwritten anywhere, framing included.
    #[test]
    fn a_damaged_manifest_never_panics(
        changes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = valid_manifest();
        for (at, value) in changes {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            let len = cut.index(bytes.len() + 1);
            bytes.truncate(len);
        }
        assert_typed(replay_bytes(&bytes))?;
    }
}
